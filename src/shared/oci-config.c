/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "capability-util.h"
#include "oci-config.h"
#include "string-util.h"

/* A reader carries the error message: the first failure sets it, and every caller just
 * propagates -EINVAL. Field names are built as dotted paths ("process.user.uid"). */
typedef struct Reader {
        char *error;
} Reader;

_printf_(3, 4)
static int fail(Reader *r, const char *field, const char *fmt, ...) {
        char reason[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        if (!r->error && asprintf(&r->error, "%s: %s", field, reason) < 0)
                r->error = NULL;
        return -EINVAL;
}

static int expect_type(Reader *r, const char *field, json_object *o, json_type t) {
        if (json_object_is_type(o, t))
                return 0;
        return fail(r, field, "expected %s, got %s", json_type_to_name(t), json_type_to_name(json_object_get_type(o)));
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

static char *child(const char *parent, const char *key) {
        char *s = NULL;

        if (asprintf(&s, "%s%s%s", parent, isempty(parent) ? "" : ".", key) < 0)
                return NULL;
        return s;
}

static char *child_index(const char *parent, size_t i) {
        char *s = NULL;

        if (asprintf(&s, "%s[%zu]", parent, i) < 0)
                return NULL;
        return s;
}

static int get_string(Reader *r, const char *field, json_object *o, char **ret) {
        const char *s;

        if (expect_type(r, field, o, json_type_string) < 0)
                return -EINVAL;
        s = json_object_get_string(o);
        if (strlen(s) != (size_t) json_object_get_string_len(o))
                return fail(r, field, "contains a NUL byte");
        free(*ret);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_bool(Reader *r, const char *field, json_object *o, bool *ret) {
        if (expect_type(r, field, o, json_type_boolean) < 0)
                return -EINVAL;
        *ret = json_object_get_boolean(o);
        return 0;
}

/* Integers within [min, max]; json-c keeps what does not fit int64 as a double or
 * saturates, so doubles are refused and errno tells saturation. */
static int get_int(Reader *r, const char *field, json_object *o, int64_t min, int64_t max, int64_t *ret) {
        int64_t v;

        if (expect_type(r, field, o, json_type_int) < 0)
                return -EINVAL;
        errno = 0;
        v = json_object_get_int64(o);
        if (errno != 0 || v < min || v > max)
                return fail(r, field, "out of range");
        *ret = v;
        return 0;
}

static int get_uint64(Reader *r, const char *field, json_object *o, uint64_t *ret) {
        if (expect_type(r, field, o, json_type_int) < 0)
                return -EINVAL;
        errno = 0;
        *ret = json_object_get_uint64(o);
        if (errno != 0 || (json_object_get_int64(o) < 0 && *ret == 0))
                return fail(r, field, "out of range");
        return 0;
}

static int get_strv(Reader *r, const char *field, json_object *o, char ***ret) {
        char **l = NULL;
        size_t n;

        if (expect_type(r, field, o, json_type_array) < 0)
                return -EINVAL;
        n = json_object_array_length(o);
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *f = child_index(field, i);
                int k;

                if (!f) {
                        strv_free(l);
                        return -ENOMEM;
                }
                k = get_string(r, f, json_object_array_get_idx(o, i), &l[i]);
                if (k < 0) {
                        strv_free(l);
                        return k;
                }
        }
        strv_free(*ret);
        *ret = l;
        return 0;
}

/* An object of string values, as KEY=VALUE. */
static int get_string_map(Reader *r, const char *field, json_object *o, char ***ret) {
        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        json_object_object_foreach(o, key, val) {
                _cleanup_free_ char *f = child(field, key), *kv = NULL;

                if (!f)
                        return -ENOMEM;
                if (expect_type(r, f, val, json_type_string) < 0)
                        return -EINVAL;
                if (isempty(key) || strchr(key, '='))
                        return fail(r, f, "invalid key");
                kv = strjoin(key, "=", json_object_get_string(val));
                if (!kv || strv_push(ret, TAKE_PTR(kv)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int get_absolute_path(Reader *r, const char *field, json_object *o, char **ret) {
        int k = get_string(r, field, o, ret);

        if (k < 0)
                return k;
        if ((*ret)[0] != '/')
                return fail(r, field, "'%s' is not an absolute path", *ret);
        return 0;
}

/* The object 'o' may only hold the keys listed; anything else is a field berth would
 * otherwise ignore while the caller relies on it. */
static int check_known(Reader *r, const char *field, json_object *o, const char *const *known) {
        json_object_object_foreach(o, key, val) {
                bool found = false;

                (void) val;
                for (const char *const *k = known; *k; k++)
                        if (streq(*k, key))
                                found = true;
                if (!found) {
                        _cleanup_free_ char *f = child(field, key);
                        return fail(r, f ?: key, "not supported by berth");
                }
        }
        return 0;
}

static int parse_root(Reader *r, json_object *o, OciConfig *c) {
        json_object *v;
        int k;

        if (!o)
                return fail(r, "root", "missing");
        if (expect_type(r, "root", o, json_type_object) < 0)
                return -EINVAL;
        v = member(o, "path");
        if (!v)
                return fail(r, "root.path", "missing");
        k = get_string(r, "root.path", v, &c->root_path);
        if (k < 0)
                return k;
        if (isempty(c->root_path))
                return fail(r, "root.path", "empty");
        if ((v = member(o, "readonly")))
                return get_bool(r, "root.readonly", v, &c->root_readonly);
        return 0;
}

static int parse_user(Reader *r, json_object *o, OciConfig *c) {
        json_object *v;
        int64_t n;
        int k;

        if (expect_type(r, "process.user", o, json_type_object) < 0)
                return -EINVAL;
        if ((v = member(o, "uid"))) {
                k = get_int(r, "process.user.uid", v, 0, UINT32_MAX - 1, &n);
                if (k < 0)
                        return k;
                c->uid = (uid_t) n;
        }
        if ((v = member(o, "gid"))) {
                k = get_int(r, "process.user.gid", v, 0, UINT32_MAX - 1, &n);
                if (k < 0)
                        return k;
                c->gid = (gid_t) n;
        }
        if ((v = member(o, "umask"))) {
                k = get_int(r, "process.user.umask", v, 0, 0777, &n);
                if (k < 0)
                        return k;
                c->umask = (int) n;
        }
        if (member(o, "username"))
                return fail(r, "process.user.username", "not supported on Linux");
        if ((v = member(o, "additionalGids"))) {
                if (expect_type(r, "process.user.additionalGids", v, json_type_array) < 0)
                        return -EINVAL;
                c->n_additional_gids = json_object_array_length(v);
                c->additional_gids = calloc(c->n_additional_gids + 1, sizeof(gid_t));
                if (!c->additional_gids)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_additional_gids; i++) {
                        _cleanup_free_ char *f = child_index("process.user.additionalGids", i);

                        if (!f)
                                return -ENOMEM;
                        k = get_int(r, f, json_object_array_get_idx(v, i), 0, UINT32_MAX - 1, &n);
                        if (k < 0)
                                return k;
                        c->additional_gids[i] = (gid_t) n;
                }
        }
        return 0;
}

static int parse_capability_set(Reader *r, const char *field, json_object *o, uint64_t *ret) {
        uint64_t set = 0;

        if (expect_type(r, field, o, json_type_array) < 0)
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                _cleanup_free_ char *f = child_index(field, i);
                json_object *e = json_object_array_get_idx(o, i);
                int cap;

                if (!f)
                        return -ENOMEM;
                if (expect_type(r, f, e, json_type_string) < 0)
                        return -EINVAL;
                /* the spec's names only: "CAP_" and upper case */
                if (!startswith(json_object_get_string(e), "CAP_"))
                        return fail(r, f, "unknown capability '%s'", json_object_get_string(e));
                cap = capability_from_name(json_object_get_string(e));
                if (cap < 0)
                        return fail(r, f, "unknown capability '%s'", json_object_get_string(e));
                set |= UINT64_C(1) << cap;
        }
        *ret = set;
        return 0;
}

static int parse_capabilities(Reader *r, json_object *o, OciConfig *c) {
        static const struct {
                const char *key;
                size_t offset;
        } sets[] = {
                { "bounding",    offsetof(OciConfig, cap_bounding) },
                { "effective",   offsetof(OciConfig, cap_effective) },
                { "permitted",   offsetof(OciConfig, cap_permitted) },
                { "inheritable", offsetof(OciConfig, cap_inheritable) },
                { "ambient",     offsetof(OciConfig, cap_ambient) },
        };

        if (expect_type(r, "process.capabilities", o, json_type_object) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                _cleanup_free_ char *f = child("process.capabilities", sets[i].key);
                json_object *v = member(o, sets[i].key);
                int k;

                if (!f)
                        return -ENOMEM;
                if (!v)
                        continue;
                k = parse_capability_set(r, f, v, (uint64_t *) ((uint8_t *) c + sets[i].offset));
                if (k < 0)
                        return k;
        }
        return 0;
}

static const struct {
        const char *name;
        int resource;
} rlimit_table[] = {
        { "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_NICE", RLIMIT_NICE },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimit(Reader *r, const char *field, json_object *o, OciRlimit *ret) {
        _cleanup_free_ char *type = NULL;
        json_object *v;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        v = member(o, "type");
        if (!v)
                return fail(r, field, "missing 'type'");
        k = get_string(r, field, v, &type);
        if (k < 0)
                return k;
        ret->resource = -1;
        for (size_t i = 0; i < ELEMENTSOF(rlimit_table); i++)
                if (streq(rlimit_table[i].name, type))
                        ret->resource = rlimit_table[i].resource;
        if (ret->resource < 0)
                return fail(r, field, "unknown rlimit type '%s'", type);
        if (!(v = member(o, "soft")))
                return fail(r, field, "missing 'soft'");
        k = get_uint64(r, field, v, &ret->soft);
        if (k < 0)
                return k;
        if (!(v = member(o, "hard")))
                return fail(r, field, "missing 'hard'");
        k = get_uint64(r, field, v, &ret->hard);
        if (k < 0)
                return k;
        if (ret->soft > ret->hard)
                return fail(r, field, "soft limit above the hard limit");
        return 0;
}

static int parse_process(Reader *r, json_object *o, OciConfig *c) {
        json_object *v;
        int64_t n;
        int k;

        if (!o)
                return fail(r, "process", "missing");
        if (expect_type(r, "process", o, json_type_object) < 0)
                return -EINVAL;
        if ((v = member(o, "terminal")) && (k = get_bool(r, "process.terminal", v, &c->terminal)) < 0)
                return k;
        if (!(v = member(o, "args")))
                return fail(r, "process.args", "missing");
        if ((k = get_strv(r, "process.args", v, &c->args)) < 0)
                return k;
        if (!c->args[0])
                return fail(r, "process.args", "empty");
        if ((v = member(o, "env")) && (k = get_strv(r, "process.env", v, &c->env)) < 0)
                return k;
        STRV_FOREACH(e, c->env)
                if (!strchr(*e, '=') || (*e)[0] == '=')
                        return fail(r, "process.env", "'%s' is not NAME=VALUE", *e);
        if (!(v = member(o, "cwd")))
                return fail(r, "process.cwd", "missing");
        if ((k = get_absolute_path(r, "process.cwd", v, &c->cwd)) < 0)
                return k;
        if ((v = member(o, "user")) && (k = parse_user(r, v, c)) < 0)
                return k;
        if ((v = member(o, "capabilities")) && (k = parse_capabilities(r, v, c)) < 0)
                return k;
        if ((v = member(o, "noNewPrivileges")) && (k = get_bool(r, "process.noNewPrivileges", v, &c->no_new_privileges)) < 0)
                return k;
        if ((v = member(o, "oomScoreAdj"))) {
                if ((k = get_int(r, "process.oomScoreAdj", v, -1000, 1000, &n)) < 0)
                        return k;
                c->oom_score_adj = (int) n;
                c->oom_score_adj_set = true;
        }
        if ((v = member(o, "rlimits"))) {
                if (expect_type(r, "process.rlimits", v, json_type_array) < 0)
                        return -EINVAL;
                c->n_rlimits = json_object_array_length(v);
                c->rlimits = calloc(c->n_rlimits + 1, sizeof(OciRlimit));
                if (!c->rlimits)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_rlimits; i++) {
                        _cleanup_free_ char *f = child_index("process.rlimits", i);

                        if (!f)
                                return -ENOMEM;
                        if ((k = parse_rlimit(r, f, json_object_array_get_idx(v, i), &c->rlimits[i])) < 0)
                                return k;
                }
        }
        /* accepted and not acted on: process labels of LSMs this host does not run */
        return check_known(r, "process", o, (const char *const[]) {
                "terminal", "consoleSize", "args", "env", "cwd", "user", "capabilities",
                "noNewPrivileges", "oomScoreAdj", "rlimits", "apparmorProfile", "selinuxLabel", NULL });
}

/* linux.uidMappings and a mount's uidMappings: [{containerID, hostID, size}], checked as
 * far as the kernel would refuse them anyway (count, size 0, wrapping past 2^32-1). */
static int parse_id_mapping(Reader *r, const char *field, json_object *o, IdMapping *ret) {
        static const char *const keys[] = { "containerID", "hostID", "size", NULL };
        int64_t n[3];
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *f = child(field, keys[i]);
                json_object *v = member(o, keys[i]);

                if (!f)
                        return -ENOMEM;
                if (!v)
                        return fail(r, field, "missing '%s'", keys[i]);
                if ((k = get_int(r, f, v, 0, UINT32_MAX, &n[i])) < 0)
                        return k;
        }
        if (n[2] == 0)
                return fail(r, field, "size 0");
        if (n[0] + n[2] > UINT32_MAX || n[1] + n[2] > UINT32_MAX)
                return fail(r, field, "the range goes past ID %u", UINT32_MAX - 1);
        *ret = (IdMapping) { .inside = (uint32_t) n[0], .outside = (uint32_t) n[1], .count = (uint32_t) n[2] };
        return check_known(r, field, o, keys);
}

static int parse_id_mappings(Reader *r, const char *field, json_object *o, IdMap *ret) {
        size_t n;

        if (expect_type(r, field, o, json_type_array) < 0)
                return -EINVAL;
        n = json_object_array_length(o);
        if (n > ID_MAP_LINES_MAX)
                return fail(r, field, "more than %u entries", ID_MAP_LINES_MAX);
        id_map_done(ret);
        ret->items = calloc(n + 1, sizeof(IdMapping));
        if (!ret->items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *f = child_index(field, i);
                int k;

                if (!f)
                        return -ENOMEM;
                if ((k = parse_id_mapping(r, f, json_object_array_get_idx(o, i), &ret->items[i])) < 0)
                        return k;
                ret->n = i + 1;
        }
        return 0;
}

/* mounts[N].uidMappings, mounts[N].gidMappings (mountExtensions): absent is empty */
static int parse_mount_id_mappings(Reader *r, const char *field, json_object *o, const char *key, IdMap *ret) {
        _cleanup_free_ char *f = NULL;
        json_object *v = member(o, key);

        if (!v)
                return 0;
        f = child(field, key);
        if (!f)
                return -ENOMEM;
        return parse_id_mappings(r, f, v, ret);
}

static int parse_mount(Reader *r, const char *field, json_object *o, OciMount *m) {
        json_object *v;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "destination")))
                return fail(r, field, "missing 'destination'");
        {
                _cleanup_free_ char *f = child(field, "destination");
                if (!f)
                        return -ENOMEM;
                if ((k = get_absolute_path(r, f, v, &m->destination)) < 0)
                        return k;
        }
        if ((v = member(o, "type")) && (k = get_string(r, field, v, &m->type)) < 0)
                return k;
        if ((v = member(o, "source")) && (k = get_string(r, field, v, &m->source)) < 0)
                return k;
        if ((v = member(o, "options"))) {
                _cleanup_free_ char *f = child(field, "options");
                if (!f)
                        return -ENOMEM;
                if ((k = get_strv(r, f, v, &m->options)) < 0)
                        return k;
        }
        if ((k = parse_mount_id_mappings(r, field, o, "uidMappings", &m->uid_mappings)) < 0)
                return k;
        return parse_mount_id_mappings(r, field, o, "gidMappings", &m->gid_mappings);
}

static int parse_mounts(Reader *r, json_object *o, OciConfig *c) {
        if (expect_type(r, "mounts", o, json_type_array) < 0)
                return -EINVAL;
        c->n_mounts = json_object_array_length(o);
        c->mounts = calloc(c->n_mounts + 1, sizeof(OciMount));
        if (!c->mounts)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_mounts; i++) {
                _cleanup_free_ char *f = child_index("mounts", i);
                int k;

                if (!f)
                        return -ENOMEM;
                k = parse_mount(r, f, json_object_array_get_idx(o, i), &c->mounts[i]);
                if (k < 0)
                        return k;
        }
        return 0;
}

static const char *const namespace_names[_OCI_NS_MAX] = {
        [OCI_NS_PID] = "pid",
        [OCI_NS_NETWORK] = "network",
        [OCI_NS_MOUNT] = "mount",
        [OCI_NS_IPC] = "ipc",
        [OCI_NS_UTS] = "uts",
        [OCI_NS_USER] = "user",
        [OCI_NS_CGROUP] = "cgroup",
        [OCI_NS_TIME] = "time",
};

const char *oci_namespace_type_to_string(OciNamespaceType t) {
        return t >= 0 && t < _OCI_NS_MAX ? namespace_names[t] : NULL;
}

static int parse_namespaces(Reader *r, json_object *o, OciConfig *c) {
        if (expect_type(r, "linux.namespaces", o, json_type_array) < 0)
                return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                _cleanup_free_ char *f = child_index("linux.namespaces", i), *type = NULL;
                json_object *e = json_object_array_get_idx(o, i), *v;
                OciNamespace *ns = NULL;
                int k;

                if (!f)
                        return -ENOMEM;
                if (expect_type(r, f, e, json_type_object) < 0)
                        return -EINVAL;
                if (!(v = member(e, "type")))
                        return fail(r, f, "missing 'type'");
                if ((k = get_string(r, f, v, &type)) < 0)
                        return k;
                for (size_t t = 0; t < _OCI_NS_MAX; t++)
                        if (streq(namespace_names[t], type))
                                ns = &c->namespaces[t];
                if (!ns)
                        return fail(r, f, "unknown namespace type '%s'", type);
                if (ns->wanted)
                        return fail(r, f, "namespace '%s' listed twice", type);
                ns->wanted = true;
                if ((v = member(e, "path")) && (k = get_absolute_path(r, f, v, &ns->path)) < 0)
                        return k;
        }
        return 0;
}

/* cpuset.cpus/mems lists: "0-3,5" */
static int get_cpuset(Reader *r, const char *field, json_object *o, char ret[static CGROUP_CPUSET_MAX]) {
        _cleanup_free_ char *s = NULL;
        int k;

        if ((k = get_string(r, field, o, &s)) < 0)
                return k;
        if (strlen(s) >= CGROUP_CPUSET_MAX)
                return fail(r, field, "too long");
        if (strspn(s, "0123456789,-") != strlen(s))
                return fail(r, field, "'%s' is not a list like 0-3,5", s);
        strcpy(ret, s);
        return 0;
}

static int parse_device_rule(Reader *r, const char *field, json_object *o, CgroupDeviceRule *d) {
        _cleanup_free_ char *type = NULL, *access = NULL;
        json_object *v;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "allow")))
                return fail(r, field, "missing 'allow'");
        if ((k = get_bool(r, field, v, &d->allow)) < 0)
                return k;
        if ((v = member(o, "type")) && (k = get_string(r, field, v, &type)) < 0)
                return k;
        if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
                return fail(r, field, "type '%s' is not a, c or b", type);
        d->type = type ? type[0] : 'a';
        d->major = d->minor = -1;
        if ((v = member(o, "major")) && (k = get_int(r, field, v, -1, UINT32_MAX, &d->major)) < 0)
                return k;
        if ((v = member(o, "minor")) && (k = get_int(r, field, v, -1, UINT32_MAX, &d->minor)) < 0)
                return k;
        if ((v = member(o, "access")) && (k = get_string(r, field, v, &access)) < 0)
                return k;
        if (access && (strlen(access) > 3 || strspn(access, "rwm") != strlen(access)))
                return fail(r, field, "access '%s' is not a subset of rwm", access);
        strcpy(d->access, access && *access ? access : "rwm");
        return 0;
}

static int parse_device_rules(Reader *r, const char *field, json_object *o, OciResources *res) {
        if (expect_type(r, field, o, json_type_array) < 0)
                return -EINVAL;
        if (json_object_array_length(o) > CGROUP_DEVICE_RULES_MAX)
                return fail(r, field, "more than %u rules", CGROUP_DEVICE_RULES_MAX);
        res->n_devices = json_object_array_length(o);
        for (size_t i = 0; i < res->n_devices; i++) {
                _cleanup_free_ char *f = child_index(field, i);
                int k;

                if (!f)
                        return -ENOMEM;
                if ((k = parse_device_rule(r, f, json_object_array_get_idx(o, i), &res->devices[i])) < 0)
                        return k;
        }
        return 0;
}

static int get_device_number(Reader *r, const char *f, json_object *e, const char *key, bool required, uint32_t *ret) {
        json_object *v = member(e, key);
        int64_t n;
        int k;

        if (!v)
                return required ? fail(r, f, "missing '%s'", key) : 0;
        if ((k = get_int(r, f, v, 0, UINT32_MAX, &n)) < 0)
                return k;
        *ret = (uint32_t) n;
        return 0;
}

static int parse_device(Reader *r, const char *f, json_object *e, OciDevice *d) {
        _cleanup_free_ char *type = NULL;
        json_object *v;
        int64_t n;
        int k;

        if (expect_type(r, f, e, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(e, "path")))
                return fail(r, f, "missing 'path'");
        if ((k = get_absolute_path(r, f, v, &d->path)) < 0)
                return k;
        if (!(v = member(e, "type")))
                return fail(r, f, "missing 'type'");
        if ((k = get_string(r, f, v, &type)) < 0)
                return k;
        if (streq(type, "c") || streq(type, "u"))
                d->type = S_IFCHR;
        else if (streq(type, "b"))
                d->type = S_IFBLK;
        else if (streq(type, "p"))
                d->type = S_IFIFO;
        else
                return fail(r, f, "unknown device type '%s'", type);
        /* a FIFO has no device numbers */
        if ((k = get_device_number(r, f, e, "major", d->type != S_IFIFO, &d->major)) < 0 ||
            (k = get_device_number(r, f, e, "minor", d->type != S_IFIFO, &d->minor)) < 0)
                return k;
        d->mode = 0666;
        if ((v = member(e, "fileMode"))) {
                if ((k = get_int(r, f, v, 0, 07777, &n)) < 0)
                        return k;
                d->mode = (mode_t) n;
        }
        if ((v = member(e, "uid"))) {
                if ((k = get_int(r, f, v, 0, UINT32_MAX - 1, &n)) < 0)
                        return k;
                d->uid = (uid_t) n;
        }
        if ((v = member(e, "gid"))) {
                if ((k = get_int(r, f, v, 0, UINT32_MAX - 1, &n)) < 0)
                        return k;
                d->gid = (gid_t) n;
        }
        return check_known(r, f, e, (const char *const[]) { "path", "type", "major", "minor", "fileMode", "uid", "gid", NULL });
}

static int parse_devices(Reader *r, json_object *o, OciConfig *c) {
        size_t n;

        if (expect_type(r, "linux.devices", o, json_type_array) < 0)
                return -EINVAL;
        n = json_object_array_length(o);
        c->devices = calloc(n ?: 1, sizeof(OciDevice));
        if (!c->devices)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *f = child_index("linux.devices", i);
                int k;

                if (!f)
                        return -ENOMEM;
                c->n_devices = i + 1;
                k = parse_device(r, f, json_object_array_get_idx(o, i), &c->devices[i]);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* linux.resources.cpu's realtime and cpuset fields. */
static int parse_cpu_extra(Reader *r, const char *field, json_object *g, OciResources *res) {
        _cleanup_free_ char *f_rp = child(field, "realtimePeriod"), *f_rr = child(field, "realtimeRuntime"),
                            *f_cpus = child(field, "cpus"), *f_mems = child(field, "mems");
        json_object *v;
        int k;

        if (!f_rp || !f_rr || !f_cpus || !f_mems)
                return -ENOMEM;
        if ((v = member(g, "realtimePeriod"))) {
                if ((k = get_uint64(r, f_rp, v, &res->cpu_realtime_period)) < 0)
                        return k;
                res->cpu_realtime_period_set = true;
        }
        if ((v = member(g, "realtimeRuntime"))) {
                if ((k = get_int(r, f_rr, v, -1, INT64_MAX, &res->cpu_realtime_runtime)) < 0)
                        return k;
                res->cpu_realtime_runtime_set = true;
        }
        if ((v = member(g, "cpus")) && (k = get_cpuset(r, f_cpus, v, res->cpus)) < 0)
                return k;
        if ((v = member(g, "mems")) && (k = get_cpuset(r, f_mems, v, res->mems)) < 0)
                return k;
        return 0;
}

static int parse_resources(Reader *r, const char *field, json_object *o, OciResources *res) {
        json_object *g, *v;
        int64_t n;
        uint64_t u;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;

#define FIELD(group, key) ({                                                            \
                        _cleanup_free_ char *_g = child(field, group);                  \
                        _g ? child(_g, key) : NULL;                                      \
                })
        if ((g = member(o, "memory"))) {
                if (expect_type(r, "memory", g, json_type_object) < 0)
                        return -EINVAL;
                if ((v = member(g, "limit"))) {
                        _cleanup_free_ char *f = FIELD("memory", "limit");
                        if (!f)
                                return -ENOMEM;
                        if ((k = get_int(r, f, v, -1, INT64_MAX, &n)) < 0)
                                return k;
                        res->memory_limit = n;
                        res->memory_limit_set = true;
                }
                if ((v = member(g, "reservation"))) {
                        _cleanup_free_ char *f = FIELD("memory", "reservation");
                        if (!f)
                                return -ENOMEM;
                        if ((k = get_int(r, f, v, -1, INT64_MAX, &n)) < 0)
                                return k;
                        res->memory_reservation = n;
                        res->memory_reservation_set = true;
                }
        }
        if ((g = member(o, "pids")) && (v = member(g, "limit"))) {
                _cleanup_free_ char *f = FIELD("pids", "limit");
                if (!f)
                        return -ENOMEM;
                if ((k = get_int(r, f, v, INT64_MIN, INT64_MAX, &n)) < 0)
                        return k;
                res->pids_limit = n;
                res->pids_limit_set = true;
        }
        if ((g = member(o, "cpu"))) {
                if (expect_type(r, "cpu", g, json_type_object) < 0)
                        return -EINVAL;
                if ((v = member(g, "shares"))) {
                        _cleanup_free_ char *f = FIELD("cpu", "shares");
                        if (!f)
                                return -ENOMEM;
                        if ((k = get_uint64(r, f, v, &u)) < 0)
                                return k;
                        res->cpu_shares = u;
                        res->cpu_shares_set = true;
                }
                if ((v = member(g, "quota"))) {
                        _cleanup_free_ char *f = FIELD("cpu", "quota");
                        if (!f)
                                return -ENOMEM;
                        if ((k = get_int(r, f, v, -1, INT64_MAX, &n)) < 0)
                                return k;
                        res->cpu_quota = n;
                        res->cpu_quota_set = true;
                }
                if ((v = member(g, "period"))) {
                        _cleanup_free_ char *f = FIELD("cpu", "period");
                        if (!f)
                                return -ENOMEM;
                        if ((k = get_uint64(r, f, v, &u)) < 0)
                                return k;
                        res->cpu_period = u;
                        res->cpu_period_set = true;
                }
                {
                        _cleanup_free_ char *f = child(field, "cpu");
                        if (!f)
                                return -ENOMEM;
                        if ((k = parse_cpu_extra(r, f, g, res)) < 0)
                                return k;
                }
        }
        if ((g = member(o, "devices"))) {
                _cleanup_free_ char *f = child(field, "devices");
                if (!f)
                        return -ENOMEM;
                if ((k = parse_device_rules(r, f, g, res)) < 0)
                        return k;
        }
        if ((g = member(o, "blockIO")) && (v = member(g, "weight"))) {
                _cleanup_free_ char *f = FIELD("blockIO", "weight");
                if (!f)
                        return -ENOMEM;
                if ((k = get_int(r, f, v, 0, 1000, &n)) < 0)
                        return k;
                res->blkio_weight = (uint16_t) n;
                res->blkio_weight_set = true;
        }
#undef FIELD
        return 0;
}

/* linux.seccomp: the names of the runtime-spec, as runc reads them. */
static const struct {
        const char *name;
        uint32_t action;
        bool takes_value;        /* errnoRet: the errno, or for TRACE the tracer's message */
} seccomp_actions[] = {
        { "SCMP_ACT_KILL",         SCMP_ACT_KILL_THREAD,  false },
        { "SCMP_ACT_KILL_THREAD",  SCMP_ACT_KILL_THREAD,  false },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
        { "SCMP_ACT_TRAP",         SCMP_ACT_TRAP,         false },
        { "SCMP_ACT_ERRNO",        SCMP_ACT_ERRNO(0),     true },
        { "SCMP_ACT_TRACE",        SCMP_ACT_TRACE(0),     true },
        { "SCMP_ACT_ALLOW",        SCMP_ACT_ALLOW,        false },
        { "SCMP_ACT_LOG",          SCMP_ACT_LOG,          false },
};

static const struct {
        const char *name;
        int op;
} seccomp_operators[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },             { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },             { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },             { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct {
        const char *name;
        unsigned flag;
} seccomp_flags[] = {
        { "SECCOMP_FILTER_FLAG_TSYNC",      SECCOMP_FILTER_FLAG_TSYNC },
        { "SECCOMP_FILTER_FLAG_LOG",        SECCOMP_FILTER_FLAG_LOG },
        { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
};

/* An action name and its errno (errnoRet, or EPERM as runc defaults) as one value. */
static int parse_seccomp_action(Reader *r, const char *field, json_object *o, json_object *errno_ret, uint32_t *ret) {
        _cleanup_free_ char *name = NULL;
        int64_t n = EPERM;
        int k;

        if ((k = get_string(r, field, o, &name)) < 0)
                return k;
        if (errno_ret && (k = get_int(r, field, errno_ret, 0, UINT16_MAX, &n)) < 0)
                return k;
        if (streq(name, "SCMP_ACT_NOTIFY"))
                return fail(r, field, "SCMP_ACT_NOTIFY (a seccomp listener) is not supported by berth-runc");
        for (size_t i = 0; i < ELEMENTSOF(seccomp_actions); i++)
                if (streq(seccomp_actions[i].name, name)) {
                        *ret = seccomp_actions[i].action | (seccomp_actions[i].takes_value ? (uint32_t) n : 0);
                        return 0;
                }
        return fail(r, field, "unknown action '%s'", name);
}

static int parse_seccomp_arg(Reader *r, const char *field, json_object *o, OciSeccompArg *a) {
        _cleanup_free_ char *op = NULL;
        json_object *v;
        int64_t n;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "index")))
                return fail(r, field, "missing 'index'");
        if ((k = get_int(r, field, v, 0, 5, &n)) < 0)
                return k;
        a->index = (unsigned) n;
        if (!(v = member(o, "value")))
                return fail(r, field, "missing 'value'");
        if ((k = get_uint64(r, field, v, &a->value)) < 0)
                return k;
        if ((v = member(o, "valueTwo")) && (k = get_uint64(r, field, v, &a->value_two)) < 0)
                return k;
        if (!(v = member(o, "op")))
                return fail(r, field, "missing 'op'");
        if ((k = get_string(r, field, v, &op)) < 0)
                return k;
        a->op = -1;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_operators); i++)
                if (streq(seccomp_operators[i].name, op))
                        a->op = seccomp_operators[i].op;
        if (a->op < 0)
                return fail(r, field, "unknown operator '%s'", op);
        return 0;
}

static int parse_seccomp_rule(Reader *r, const char *field, json_object *o, OciSeccompRule *rule) {
        json_object *v;
        int k;

        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "names")))
                return fail(r, field, "missing 'names'");
        if ((k = get_strv(r, field, v, &rule->names)) < 0)
                return k;
        if (!(v = member(o, "action")))
                return fail(r, field, "missing 'action'");
        if ((k = parse_seccomp_action(r, field, v, member(o, "errnoRet"), &rule->action)) < 0)
                return k;
        if ((v = member(o, "args"))) {
                if (expect_type(r, field, v, json_type_array) < 0)
                        return -EINVAL;
                rule->n_args = json_object_array_length(v);
                rule->args = calloc(rule->n_args + 1, sizeof(OciSeccompArg));
                if (!rule->args)
                        return -ENOMEM;
                for (size_t i = 0; i < rule->n_args; i++) {
                        _cleanup_free_ char *f = child_index(field, i);

                        if (!f)
                                return -ENOMEM;
                        if ((k = parse_seccomp_arg(r, f, json_object_array_get_idx(v, i), &rule->args[i])) < 0)
                                return k;
                }
        }
        /* "comment", "includes", "excludes": the engines' profile templates, resolved by them */
        return 0;
}

static int parse_seccomp_architectures(Reader *r, const char *field, json_object *o, OciSeccomp *s) {
        _cleanup_strv_free_ char **names = NULL;
        int k;

        if ((k = get_strv(r, field, o, &names)) < 0)
                return k;
        s->architectures = calloc(strv_length(names) + 1, sizeof(uint32_t));
        if (!s->architectures)
                return -ENOMEM;
        STRV_FOREACH(n, names) {
                /* SCMP_ARCH_X86_64 is libseccomp's "x86_64" */
                _cleanup_free_ char *lower = startswith(*n, "SCMP_ARCH_") ? strdup(*n + 10) : NULL;
                uint32_t arch;

                if (!startswith(*n, "SCMP_ARCH_"))
                        return fail(r, field, "unknown architecture '%s'", *n);
                if (!lower)
                        return -ENOMEM;
                for (char *p = lower; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                arch = seccomp_arch_resolve_name(lower);
                if (arch == 0)
                        return fail(r, field, "unknown architecture '%s'", *n);
                s->architectures[s->n_architectures++] = arch;
        }
        return 0;
}

static int parse_seccomp_flags(Reader *r, const char *field, json_object *o, OciSeccomp *s) {
        _cleanup_strv_free_ char **names = NULL;
        int k;

        if ((k = get_strv(r, field, o, &names)) < 0)
                return k;
        STRV_FOREACH(n, names) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(seccomp_flags); i++)
                        if (streq(seccomp_flags[i].name, *n)) {
                                s->flags |= seccomp_flags[i].flag;
                                found = true;
                        }
                if (!found)
                        return fail(r, field, "unknown flag '%s'", *n);
        }
        return 0;
}

static int parse_seccomp(Reader *r, json_object *o, OciSeccomp *s) {
        json_object *v;
        int k;

        if (expect_type(r, "linux.seccomp", o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "defaultAction")))
                return fail(r, "linux.seccomp.defaultAction", "missing");
        if ((k = parse_seccomp_action(r, "linux.seccomp.defaultAction", v, member(o, "defaultErrnoRet"),
                                      &s->default_action)) < 0)
                return k;
        if ((v = member(o, "architectures")) &&
            (k = parse_seccomp_architectures(r, "linux.seccomp.architectures", v, s)) < 0)
                return k;
        if ((v = member(o, "flags")) && (k = parse_seccomp_flags(r, "linux.seccomp.flags", v, s)) < 0)
                return k;
        if (member(o, "listenerPath"))
                return fail(r, "linux.seccomp.listenerPath", "a seccomp listener is not supported by berth-runc");
        if ((v = member(o, "syscalls"))) {
                if (expect_type(r, "linux.seccomp.syscalls", v, json_type_array) < 0)
                        return -EINVAL;
                s->n_rules = json_object_array_length(v);
                s->rules = calloc(s->n_rules + 1, sizeof(OciSeccompRule));
                if (!s->rules)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_rules; i++) {
                        _cleanup_free_ char *f = child_index("linux.seccomp.syscalls", i);

                        if (!f)
                                return -ENOMEM;
                        if ((k = parse_seccomp_rule(r, f, json_object_array_get_idx(v, i), &s->rules[i])) < 0)
                                return k;
                }
        }
        return check_known(r, "linux.seccomp", o, (const char *const[]) {
                "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerMetadata", "syscalls", NULL });
}

void oci_seccomp_free(OciSeccomp *s) {
        if (!s)
                return;
        free(s->architectures);
        for (size_t i = 0; i < s->n_rules; i++) {
                strv_free(s->rules[i].names);
                free(s->rules[i].args);
        }
        free(s->rules);
        free(s);
}

static int parse_linux(Reader *r, json_object *o, OciConfig *c) {
        json_object *v;
        int k;

        if (!o)
                return 0;
        if (expect_type(r, "linux", o, json_type_object) < 0)
                return -EINVAL;
        if ((v = member(o, "namespaces")) && (k = parse_namespaces(r, v, c)) < 0)
                return k;
        if ((v = member(o, "uidMappings")) && (k = parse_id_mappings(r, "linux.uidMappings", v, &c->uid_mappings)) < 0)
                return k;
        if ((v = member(o, "gidMappings")) && (k = parse_id_mappings(r, "linux.gidMappings", v, &c->gid_mappings)) < 0)
                return k;
        if ((v = member(o, "cgroupsPath")) && (k = get_string(r, "linux.cgroupsPath", v, &c->cgroups_path)) < 0)
                return k;
        if ((v = member(o, "resources")) && (k = parse_resources(r, "linux.resources", v, &c->resources)) < 0)
                return k;
        if ((v = member(o, "maskedPaths")) && (k = get_strv(r, "linux.maskedPaths", v, &c->masked_paths)) < 0)
                return k;
        if ((v = member(o, "readonlyPaths")) && (k = get_strv(r, "linux.readonlyPaths", v, &c->readonly_paths)) < 0)
                return k;
        STRV_FOREACH(p, c->masked_paths)
                if ((*p)[0] != '/')
                        return fail(r, "linux.maskedPaths", "'%s' is not an absolute path", *p);
        STRV_FOREACH(p, c->readonly_paths)
                if ((*p)[0] != '/')
                        return fail(r, "linux.readonlyPaths", "'%s' is not an absolute path", *p);
        if ((v = member(o, "sysctl")) && (k = get_string_map(r, "linux.sysctl", v, &c->sysctl)) < 0)
                return k;
        if ((v = member(o, "devices")) && (k = parse_devices(r, v, c)) < 0)
                return k;
        if ((v = member(o, "rootfsPropagation")) &&
            (k = get_string(r, "linux.rootfsPropagation", v, &c->rootfs_propagation)) < 0)
                return k;
        if ((v = member(o, "seccomp"))) {
                c->seccomp = calloc(1, sizeof(OciSeccomp));
                if (!c->seccomp)
                        return -ENOMEM;
                if ((k = parse_seccomp(r, v, c->seccomp)) < 0)
                        return k;
        }
        return check_known(r, "linux", o, (const char *const[]) {
                "namespaces", "uidMappings", "gidMappings", "cgroupsPath", "resources", "maskedPaths",
                "readonlyPaths", "sysctl", "rootfsPropagation", "seccomp", "devices", "mountLabel", NULL });
}

static int parse_document(Reader *r, const char *text, size_t size, json_object **ret) {
        json_tokener *tok;
        json_object *o;
        enum json_tokener_error e;

        if (size > INT_MAX)
                return fail(r, "config.json", "too large");
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) size);
        e = json_tokener_get_error(tok);
        if (!o || e != json_tokener_success || (size_t) json_tokener_get_parse_end(tok) < size) {
                size_t at = json_tokener_get_parse_end(tok);
                json_object_put(o);
                json_tokener_free(tok);
                /* trailing white space is fine */
                if (e == json_tokener_success && o && strspn(text + at, " \t\r\n") == size - at)
                        return parse_document(r, text, at, ret);
                return fail(r, "config.json", "not valid JSON at byte %zu: %s", at,
                            e == json_tokener_success ? "trailing data" : json_tokener_error_desc(e));
        }
        json_tokener_free(tok);
        *ret = o;
        return 0;
}

void oci_config_done(OciConfig *c) {
        free(c->oci_version);
        free(c->root_path);
        strv_free(c->args);
        strv_free(c->env);
        free(c->cwd);
        free(c->additional_gids);
        free(c->rlimits);
        for (size_t i = 0; i < c->n_devices; i++)
                free(c->devices[i].path);
        free(c->devices);
        free(c->hostname);
        free(c->domainname);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].destination);
                free(c->mounts[i].type);
                free(c->mounts[i].source);
                strv_free(c->mounts[i].options);
                id_map_done(&c->mounts[i].uid_mappings);
                id_map_done(&c->mounts[i].gid_mappings);
        }
        free(c->mounts);
        for (size_t i = 0; i < _OCI_NS_MAX; i++)
                free(c->namespaces[i].path);
        id_map_done(&c->uid_mappings);
        id_map_done(&c->gid_mappings);
        free(c->cgroups_path);
        strv_free(c->masked_paths);
        strv_free(c->readonly_paths);
        strv_free(c->sysctl);
        free(c->rootfs_propagation);
        strv_free(c->annotations);
        oci_seccomp_free(c->seccomp);
        oci_hooks_done(&c->hooks);
        *c = (OciConfig) { .umask = -1 };
}

static int parse_hook(Reader *r, const char *field, json_object *o, OciHook *h) {
        _cleanup_free_ char *fpath = child(field, "path"), *fargs = child(field, "args"),
                            *fenv = child(field, "env"), *ftimeout = child(field, "timeout");
        json_object *v;
        int64_t t;
        int k;

        if (!fpath || !fargs || !fenv || !ftimeout)
                return -ENOMEM;
        if (expect_type(r, field, o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "path")))
                return fail(r, field, "missing 'path'");
        if ((k = get_absolute_path(r, fpath, v, &h->path)) < 0)
                return k;
        if ((v = member(o, "args")) && (k = get_strv(r, fargs, v, &h->args)) < 0)
                return k;
        if (h->args && !h->args[0])        /* no argv[0]: as if absent, runc passes the path */
                h->args = strv_free(h->args);
        if ((v = member(o, "env")) && (k = get_strv(r, fenv, v, &h->env)) < 0)
                return k;
        STRV_FOREACH(e, h->env)
                if (!strchr(*e, '='))
                        return fail(r, fenv, "'%s' is not NAME=VALUE", *e);
        if ((v = member(o, "timeout"))) {
                if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) <= 0)
                        return fail(r, ftimeout, "must be greater than zero");
                if ((k = get_int(r, ftimeout, v, 1, UINT_MAX, &t)) < 0)
                        return k;
                h->timeout = (unsigned) t;
        }
        return check_known(r, field, o, (const char *const[]) { "path", "args", "env", "timeout", NULL });
}

/* hooks: each point an array of hooks, kept in order; an unknown point is refused, as
 * any field berth would otherwise ignore. */
static int parse_hooks(Reader *r, json_object *o, OciConfig *c) {
        if (expect_type(r, "hooks", o, json_type_object) < 0)
                return -EINVAL;
        json_object_object_foreach(o, key, val) {
                _cleanup_free_ char *f = child("hooks", key);
                int p = oci_hook_point_from_string(key);
                size_t n;

                if (!f)
                        return -ENOMEM;
                if (p < 0)
                        return fail(r, f, "not supported by berth");
                if (json_object_is_type(val, json_type_null))
                        continue;
                if (expect_type(r, f, val, json_type_array) < 0)
                        return -EINVAL;
                n = json_object_array_length(val);
                if (n == 0)
                        continue;
                c->hooks.list[p] = calloc(n, sizeof(OciHook));
                if (!c->hooks.list[p])
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *fi = child_index(f, i);
                        int k;

                        if (!fi)
                                return -ENOMEM;
                        c->hooks.n[p] = i + 1;
                        k = parse_hook(r, fi, json_object_array_get_idx(val, i), &c->hooks.list[p][i]);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

static int parse_config(Reader *r, json_object *o, OciConfig *c) {
        json_object *v;
        int k;

        if (expect_type(r, "config.json", o, json_type_object) < 0)
                return -EINVAL;
        if (!(v = member(o, "ociVersion")))
                return fail(r, "ociVersion", "missing");
        if ((k = get_string(r, "ociVersion", v, &c->oci_version)) < 0)
                return k;
        if (!startswith(c->oci_version, "1."))
                return fail(r, "ociVersion", "version '%s' is not supported (1.x is)", c->oci_version);
        if ((k = parse_root(r, member(o, "root"), c)) < 0)
                return k;
        if ((k = parse_process(r, member(o, "process"), c)) < 0)
                return k;
        if ((v = member(o, "hostname")) && (k = get_string(r, "hostname", v, &c->hostname)) < 0)
                return k;
        if ((v = member(o, "domainname")) && (k = get_string(r, "domainname", v, &c->domainname)) < 0)
                return k;
        if ((v = member(o, "mounts")) && (k = parse_mounts(r, v, c)) < 0)
                return k;
        if ((k = parse_linux(r, member(o, "linux"), c)) < 0)
                return k;
        if ((v = member(o, "annotations")) && (k = get_string_map(r, "annotations", v, &c->annotations)) < 0)
                return k;
        if ((v = member(o, "hooks")) && (k = parse_hooks(r, v, c)) < 0)
                return k;
        return check_known(r, "", o, (const char *const[]) {
                "ociVersion", "root", "process", "hostname", "domainname", "mounts", "linux",
                "annotations", "hooks", NULL });
}

/* The whole document, or only its process object (exec --process), read by 'part'. */
static int parse_with(const char *text, size_t size, int (*part)(Reader *, json_object *, OciConfig *),
                      OciConfig *ret, char **ret_error) {
        OciConfig c = { .umask = -1 };
        Reader r = {};
        json_object *o = NULL;
        int k;

        k = parse_document(&r, text, size, &o);
        if (k >= 0)
                k = part(&r, o, &c);
        json_object_put(o);
        if (k < 0) {
                oci_config_done(&c);
                if (ret_error)
                        *ret_error = TAKE_PTR(r.error);
                free(r.error);
                return k;
        }
        *ret = c;
        return 0;
}

int oci_config_parse(const char *text, size_t size, OciConfig *ret, char **ret_error) {
        return parse_with(text, size, parse_config, ret, ret_error);
}

int oci_process_parse(const char *text, size_t size, OciConfig *ret, char **ret_error) {
        return parse_with(text, size, parse_process, ret, ret_error);
}

int oci_hooks_parse(const char *text, size_t size, OciHooks *ret, char **ret_error) {
        OciConfig c;
        int k;

        k = parse_with(text, size, parse_hooks, &c, ret_error);
        if (k < 0)
                return k;
        *ret = c.hooks;
        c.hooks = (OciHooks) {};
        oci_config_done(&c);
        return 0;
}

int oci_resources_parse(const char *text, size_t size, OciResources *ret, char **ret_error) {
        OciResources res = {};
        Reader r = {};
        json_object *o = NULL;
        int k;

        k = parse_document(&r, text, size, &o);
        if (k >= 0)
                k = parse_resources(&r, "resources", o, &res);
        json_object_put(o);
        if (k < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(r.error);
                free(r.error);
                return k;
        }
        *ret = res;
        return 0;
}
