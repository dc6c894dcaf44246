/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "machine-info.h"
#include "machine-name.h"
#include "parse-util.h"
#include "path-util.h"
#include "string-util.h"

static const char *const machine_class_table[_MACHINE_CLASS_MAX] = {
        [MACHINE_CONTAINER] = "container",
        [MACHINE_VM]        = "vm",
        [MACHINE_HOST]      = "host",
};

static const char *const machine_state_table[_MACHINE_STATE_MAX] = {
        [MACHINE_OPENING] = "opening",
        [MACHINE_RUNNING] = "running",
        [MACHINE_CLOSING] = "closing",
};

const char *machine_class_to_string(MachineClass c) {
        return c >= 0 && c < _MACHINE_CLASS_MAX ? machine_class_table[c] : NULL;
}

MachineClass machine_class_from_string(const char *s) {
        if (!s)
                return _MACHINE_CLASS_INVALID;
        if (streq(s, "container"))
                return MACHINE_CONTAINER;
        if (streq(s, "vm"))
                return MACHINE_VM;
        return _MACHINE_CLASS_INVALID;
}

const char *machine_state_to_string(MachineState s) {
        return s >= 0 && s < _MACHINE_STATE_MAX ? machine_state_table[s] : NULL;
}

void machine_info_done(MachineInfo *i) {
        free(i->name);
        free(i->service);
        free(i->unit);
        free(i->root_directory);
        free(i->netif);
        free(i->cgroup);
        *i = (MachineInfo) { .class = _MACHINE_CLASS_INVALID };
}

static bool field_is_safe(const char *s, size_t max) {
        /* Everything we store must fit on one line of the state file and be valid UTF-8 on
         * the bus (sd-bus refuses to send invalid UTF-8, which would break ListMachines). */
        return strlen(s) <= max && string_is_safe(s) && utf8_is_valid(s);
}

bool machine_service_is_valid(const char *s) {
        return s && field_is_safe(s, MACHINE_SERVICE_MAX);
}

bool machine_root_directory_is_valid(const char *s) {
        if (!s)
                return false;
        if (isempty(s))
                return true;
        return field_is_safe(s, PATH_MAX - 1) && path_is_normalized(s);
}

bool machine_unit_is_valid(const char *s) {
        return s && !isempty(s) && field_is_safe(s, 256) && !strchr(s, '/') &&
                (endswith(s, ".scope") || endswith(s, ".service"));
}

int machine_info_serialize(const MachineInfo *i, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        char uuid[37];
        FILE *f;

        if (!i->name || !machine_class_to_string(i->class))
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "VERSION=%u\n", MACHINE_STATE_VERSION);
        fprintf(f, "NAME=%s\n", i->name);
        if (!id128_is_null(&i->id))
                fprintf(f, "ID=%s\n", id128_to_uuid_string(&i->id, uuid));
        fprintf(f, "CLASS=%s\n", machine_class_to_string(i->class));
        if (!isempty(i->service))
                fprintf(f, "SERVICE=%s\n", i->service);
        if (!isempty(i->unit))
                fprintf(f, "UNIT=%s\n", i->unit);
        if (!isempty(i->root_directory))
                fprintf(f, "ROOT=%s\n", i->root_directory);
        fprintf(f, "LEADER=%i\n", (int) i->leader);
        fprintf(f, "LEADER_STARTTIME=%" PRIu64 "\n", i->leader_starttime);
        if (i->supervisor > 0)
                fprintf(f, "SUPERVISOR=%i\nSUPERVISOR_STARTTIME=%" PRIu64 "\n",
                        (int) i->supervisor, i->supervisor_starttime);
        fprintf(f, "TIMESTAMP=%" PRIu64 "\n", i->timestamp_realtime);
        fprintf(f, "TIMESTAMP_MONOTONIC=%" PRIu64 "\n", i->timestamp_monotonic);
        if (i->n_netif > 0) {
                fputs("NETIF=", f);
                for (size_t k = 0; k < i->n_netif; k++)
                        fprintf(f, "%s%i", k > 0 ? " " : "", i->netif[k]);
                fputc('\n', f);
        }
        if (i->cgroup)
                fprintf(f, "CGROUP=%s\n", i->cgroup);
        if (i->systemd_scope)
                fputs("SYSTEMD_SCOPE=1\n", f);

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_netif(const char *s, int **ret, size_t *ret_n) {
        _cleanup_free_ int *l = NULL;
        size_t n = 0;
        const char *p = s;

        while (*p) {
                char word[16];
                size_t len = strcspn(p, " ");
                uint64_t v;
                int *nl;

                if (len == 0 || len >= sizeof(word) || n >= MACHINE_NETIF_MAX)
                        return -EINVAL;
                memcpy(word, p, len);
                word[len] = 0;
                if (safe_atou64(word, &v) < 0 || v == 0 || v > INT_MAX)
                        return -EINVAL;
                nl = realloc(l, (n + 1) * sizeof(int));
                if (!nl)
                        return -ENOMEM;
                l = nl;
                l[n++] = (int) v;
                p += len;
                if (*p == ' ') {
                        p++;
                        if (!*p)
                                return -EINVAL;
                }
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int set_string(char **field, const char *value, bool (*valid)(const char *)) {
        char *c;

        if (*field)               /* duplicate key: a corrupt or tampered file */
                return -EBADMSG;
        if (valid && !valid(value))
                return -EBADMSG;
        c = strdup(value);
        if (!c)
                return -ENOMEM;
        *field = c;
        return 0;
}

/* "machine.slice/machine-ESCAPED.scope" (see machine_scope_name()): one level below
 * machine.slice, nothing that climbs out of it. */
static bool cgroup_path_is_ours(const char *s) {
        const char *p = startswith(s, "machine.slice/machine-");

        return p && endswith(p, ".scope") && strlen(p) > STRLEN(".scope") && !strchr(p, '/') &&
               field_is_safe(s, 512);
}

static int parse_line(MachineInfo *i, const char *key, const char *value, unsigned *seen) {
        uint64_t u;

        if (streq(key, "NAME"))
                return set_string(&i->name, value, machine_name_is_valid);
        if (streq(key, "ID"))
                return id128_from_string(value, &i->id) < 0 ? -EBADMSG : 0;
        if (streq(key, "CLASS")) {
                i->class = machine_class_from_string(value);
                return i->class < 0 ? -EBADMSG : 0;
        }
        if (streq(key, "SERVICE"))
                return set_string(&i->service, value, machine_service_is_valid);
        if (streq(key, "UNIT"))
                return set_string(&i->unit, value, machine_unit_is_valid);
        if (streq(key, "ROOT"))
                return set_string(&i->root_directory, value, machine_root_directory_is_valid);
        if (streq(key, "CGROUP"))
                return set_string(&i->cgroup, value, cgroup_path_is_ours);
        if (streq(key, "NETIF"))
                return i->netif ? -EBADMSG : (parse_netif(value, &i->netif, &i->n_netif) < 0 ? -EBADMSG : 0);
        if (streq(key, "SYSTEMD_SCOPE")) {
                int b = parse_boolean(value);
                if (b < 0)
                        return -EBADMSG;
                i->systemd_scope = b;
                return 0;
        }

        if (streq(key, "LEADER")) {
                if (safe_atou64(value, &u) < 0 || u <= 1 || u > INT_MAX)
                        return -EBADMSG;
                i->leader = (pid_t) u;
                *seen |= 1;
                return 0;
        }
        if (streq(key, "LEADER_STARTTIME")) {
                if (safe_atou64(value, &i->leader_starttime) < 0)
                        return -EBADMSG;
                *seen |= 2;
                return 0;
        }
        if (streq(key, "SUPERVISOR")) {
                if (safe_atou64(value, &u) < 0 || u <= 1 || u > INT_MAX)
                        return -EBADMSG;
                i->supervisor = (pid_t) u;
                return 0;
        }
        if (streq(key, "SUPERVISOR_STARTTIME"))
                return safe_atou64(value, &i->supervisor_starttime) < 0 ? -EBADMSG : 0;
        if (streq(key, "TIMESTAMP"))
                return safe_atou64(value, &i->timestamp_realtime) < 0 ? -EBADMSG : 0;
        if (streq(key, "TIMESTAMP_MONOTONIC"))
                return safe_atou64(value, &i->timestamp_monotonic) < 0 ? -EBADMSG : 0;

        return 0;   /* unknown keys of the same version are ignored (forward compatible) */
}

int machine_info_parse(const char *text, MachineInfo *ret) {
        _cleanup_(machine_info_done) MachineInfo i = { .class = _MACHINE_CLASS_INVALID };
        const char *p = text;
        unsigned seen = 0;
        bool first = true;
        int r;

        if (!text || strlen(text) > MACHINE_STATE_SIZE_MAX)
                return -EBADMSG;

        while (*p) {
                char line[PATH_MAX + 64];
                size_t len = strcspn(p, "\n");
                char *eq;

                if (p[len] != '\n')           /* truncated last line: a torn write */
                        return -EBADMSG;
                if (len >= sizeof(line))
                        return -EBADMSG;
                memcpy(line, p, len);
                line[len] = 0;
                p += len + 1;

                eq = strchr(line, '=');
                if (!eq || eq == line)
                        return -EBADMSG;
                *eq = 0;

                if (first) {
                        uint64_t v;

                        if (!streq(line, "VERSION") || safe_atou64(eq + 1, &v) < 0)
                                return -EBADMSG;
                        if (v != MACHINE_STATE_VERSION)
                                return -EPROTONOSUPPORT;
                        first = false;
                        continue;
                }

                r = parse_line(&i, line, eq + 1, &seen);
                if (r < 0)
                        return r;
        }

        if (first || !i.name || i.class < 0 || seen != 3)
                return -EBADMSG;
        if (i.systemd_scope && !i.unit)
                return -EBADMSG;

        *ret = i;
        i = (MachineInfo) { .class = _MACHINE_CLASS_INVALID };
        return 0;
}

int proc_stat_parse_field(const char *stat, unsigned wanted, uint64_t *ret) {
        const char *p;
        uint64_t v;

        if (wanted < 3)
                return -EINVAL;

        /* The command name (field 2) may contain spaces and ')' itself: start after the last ')'. */
        p = stat ? strrchr(stat, ')') : NULL;
        if (!p)
                return -EINVAL;
        p++;

        /* Now at " S ppid ...": field 3 is the first. */
        for (unsigned field = 3; field < wanted; field++) {
                p += strspn(p, " ");
                if (!*p)
                        return -EINVAL;
                p += strcspn(p, " ");
        }
        p += strspn(p, " ");
        if (*p < '0' || *p > '9')
                return -EINVAL;

        v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p && *p != ' ' && *p != '\n')
                return -EINVAL;
        *ret = v;
        return 0;
}
