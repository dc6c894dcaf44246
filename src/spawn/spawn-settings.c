/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "path-util.h"
#include "spawn-config.h"
#include "settings-path.h"
#include "spawn-settings.h"
#include "string-util.h"

typedef enum KeyKind {
        KEY_VALUE,          /* the value is the option's argument */
        KEY_FLAG,           /* a boolean; "yes" gives the option (which takes no argument) */
        KEY_WORDS,          /* a space-separated (quotable) list; one option per word */
        KEY_CHOWN,          /* PrivateUsersChown=BOOL: --private-users-ownership=chown|off */
        KEY_RLIMIT,         /* LimitXXX=VALUE: --rlimit=RLIMIT_XXX=VALUE */
} KeyKind;

typedef enum KeyTrust {
        TRUST_ANY,          /* applies from a file next to the image too */
        TRUST_NEEDED,       /* could raise privileges: only from a trusted file */
        TRUST_ALLOW_LIST,   /* SystemCallFilter=: a deny list (~...) is safe, an allow list is not */
} KeyTrust;

struct SettingsKey {
        const char *section;
        const char *name;
        const char *option;      /* long option; NULL for Parameters= (the command) */
        uint64_t group;
        KeyKind kind;
        KeyTrust trust;
};

#define RLIMIT_KEY(n, i) { "Exec", "Limit" #n, "rlimit", SETTING_RLIMIT_FIRST << (i), KEY_RLIMIT, TRUST_NEEDED }

/* Every key of systemd.nspawn(5) (systemd 252), the option it stands for, its SettingsMask
 * group and whether systemd-nspawn applies it from an untrusted file (merge_settings()). */
static const SettingsKey settings_keys[] = {
        { "Exec", "Boot",              "boot",              SETTING_START_MODE,        KEY_FLAG,   TRUST_ANY },
        { "Exec", "Ephemeral",         "ephemeral",         SETTING_EPHEMERAL,         KEY_FLAG,   TRUST_NEEDED },
        { "Exec", "ProcessTwo",        "as-pid2",           SETTING_START_MODE,        KEY_FLAG,   TRUST_ANY },
        { "Exec", "Parameters",        NULL,                SETTING_START_MODE,        KEY_WORDS,  TRUST_ANY },
        { "Exec", "Environment",       "setenv",            SETTING_ENVIRONMENT,       KEY_WORDS,  TRUST_ANY },
        { "Exec", "User",              "user",              SETTING_USER,              KEY_VALUE,  TRUST_ANY },
        { "Exec", "WorkingDirectory",  "chdir",             SETTING_WORKING_DIRECTORY, KEY_VALUE,  TRUST_ANY },
        { "Exec", "PivotRoot",         "pivot-root",        SETTING_PIVOT_ROOT,        KEY_VALUE,  TRUST_ANY },
        { "Exec", "Capability",        "capability",        SETTING_CAPABILITY,        KEY_WORDS,  TRUST_NEEDED },
        { "Exec", "DropCapability",    "drop-capability",   SETTING_CAPABILITY,        KEY_WORDS,  TRUST_ANY },
        { "Exec", "AmbientCapability", "ambient-capability", SETTING_CAPABILITY,       KEY_WORDS,  TRUST_NEEDED },
        { "Exec", "NoNewPrivileges",   "no-new-privileges", SETTING_NO_NEW_PRIVILEGES, KEY_VALUE,  TRUST_ANY },
        { "Exec", "KillSignal",        "kill-signal",       SETTING_KILL_SIGNAL,       KEY_VALUE,  TRUST_ANY },
        { "Exec", "Personality",       "personality",       SETTING_PERSONALITY,       KEY_VALUE,  TRUST_ANY },
        { "Exec", "MachineID",         "uuid",              SETTING_MACHINE_ID,        KEY_VALUE,  TRUST_NEEDED },
        { "Exec", "PrivateUsers",      "private-users",     SETTING_USERNS,            KEY_VALUE,  TRUST_NEEDED },
        { "Exec", "NotifyReady",       "notify-ready",      SETTING_NOTIFY_READY,      KEY_VALUE,  TRUST_ANY },
        { "Exec", "SystemCallFilter",  "system-call-filter", SETTING_SYSCALL_FILTER,   KEY_VALUE,  TRUST_ALLOW_LIST },
        RLIMIT_KEY(CPU, 0), RLIMIT_KEY(FSIZE, 1), RLIMIT_KEY(DATA, 2), RLIMIT_KEY(STACK, 3),
        RLIMIT_KEY(CORE, 4), RLIMIT_KEY(RSS, 5), RLIMIT_KEY(NOFILE, 6), RLIMIT_KEY(AS, 7),
        RLIMIT_KEY(NPROC, 8), RLIMIT_KEY(MEMLOCK, 9), RLIMIT_KEY(LOCKS, 10), RLIMIT_KEY(SIGPENDING, 11),
        RLIMIT_KEY(MSGQUEUE, 12), RLIMIT_KEY(NICE, 13), RLIMIT_KEY(RTPRIO, 14), RLIMIT_KEY(RTTIME, 15),
        { "Exec", "OOMScoreAdjust",    "oom-score-adjust",  SETTING_OOM_SCORE_ADJUST,  KEY_VALUE,  TRUST_NEEDED },
        { "Exec", "CPUAffinity",       "cpu-affinity",      SETTING_CPU_AFFINITY,      KEY_VALUE,  TRUST_NEEDED },
        { "Exec", "Hostname",          "hostname",          SETTING_HOSTNAME,          KEY_VALUE,  TRUST_ANY },
        { "Exec", "ResolvConf",        "resolv-conf",       SETTING_RESOLV_CONF,       KEY_VALUE,  TRUST_ANY },
        { "Exec", "LinkJournal",       "link-journal",      SETTING_LINK_JOURNAL,      KEY_VALUE,  TRUST_NEEDED },
        { "Exec", "Timezone",          "timezone",          SETTING_TIMEZONE,          KEY_VALUE,  TRUST_ANY },
        { "Exec", "SuppressSync",      "suppress-sync",     SETTING_SUPPRESS_SYNC,     KEY_VALUE,  TRUST_ANY },
        { "Files", "ReadOnly",         "read-only",         SETTING_READ_ONLY,         KEY_FLAG,   TRUST_ANY },
        { "Files", "Volatile",         "volatile",          SETTING_VOLATILE_MODE,     KEY_VALUE,  TRUST_ANY },
        { "Files", "Bind",             "bind",              SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "BindReadOnly",     "bind-ro",           SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "TemporaryFileSystem", "tmpfs",          SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "Inaccessible",     "inaccessible",      SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "Overlay",          "overlay",           SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "OverlayReadOnly",  "overlay-ro",        SETTING_CUSTOM_MOUNTS,     KEY_VALUE,  TRUST_NEEDED },
        { "Files", "PrivateUsersOwnership", "private-users-ownership", SETTING_USERNS,  KEY_VALUE,  TRUST_NEEDED },
        { "Files", "PrivateUsersChown", "private-users-ownership", SETTING_USERNS,     KEY_CHOWN,  TRUST_NEEDED },
        { "Files", "BindUser",         "bind-user",         SETTING_BIND_USER,         KEY_WORDS,  TRUST_NEEDED },
        { "Network", "Private",        "private-network",   SETTING_NETWORK,           KEY_FLAG,   TRUST_NEEDED },
        { "Network", "VirtualEthernet", "network-veth",     SETTING_NETWORK,           KEY_FLAG,   TRUST_NEEDED },
        { "Network", "VirtualEthernetExtra", "network-veth-extra", SETTING_NETWORK,    KEY_VALUE,  TRUST_NEEDED },
        { "Network", "Interface",      "network-interface", SETTING_NETWORK,           KEY_WORDS,  TRUST_NEEDED },
        { "Network", "MACVLAN",        "network-macvlan",   SETTING_NETWORK,           KEY_WORDS,  TRUST_NEEDED },
        { "Network", "IPVLAN",         "network-ipvlan",    SETTING_NETWORK,           KEY_WORDS,  TRUST_NEEDED },
        { "Network", "Bridge",         "network-bridge",    SETTING_NETWORK,           KEY_VALUE,  TRUST_NEEDED },
        { "Network", "Zone",           "network-zone",      SETTING_NETWORK,           KEY_VALUE,  TRUST_NEEDED },
        { "Network", "Port",           "port",              SETTING_EXPOSE_PORTS,      KEY_VALUE,  TRUST_NEEDED },
};

/* Options that mask a group without being the value of any key (as in nspawn's parse_argv()) */
static const struct {
        const char *option;
        uint64_t group;
} option_only_groups[] = {
        { "network-namespace-path", SETTING_NETWORK },
};

void spawn_settings_done(SpawnSettings *s) {
        for (size_t i = 0; i < s->n_entries; i++)
                free(s->entries[i].value);
        free(s->entries);
        free(s->path);
        *s = (SpawnSettings) {};
}

static const SettingsKey *settings_key_find(const char *section, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(settings_keys); i++)
                if (streq(settings_keys[i].section, section) && streq(settings_keys[i].name, name))
                        return &settings_keys[i];
        return NULL;
}

/* --rlimit=[RLIMIT_|Limit]NAME=...: the bit of LimitNAME= */
static uint64_t rlimit_mask(const char *arg) {
        const char *n = arg;
        size_t l;

        if (!n)
                return 0;
        if (strncasecmp(n, "RLIMIT_", 7) == 0)
                n += 7;
        else if (strncmp(n, "Limit", 5) == 0)
                n += 5;
        l = strcspn(n, "=");
        for (size_t i = 0; i < ELEMENTSOF(settings_keys); i++) {
                const char *k = settings_keys[i].name + strlen("Limit");

                if (settings_keys[i].kind == KEY_RLIMIT && strlen(k) == l && strncasecmp(k, n, l) == 0)
                        return settings_keys[i].group;
        }
        return 0;
}

uint64_t spawn_settings_option_mask(int opt, const char *arg) {
        const char *name;

        /* short-only spellings: --private-users=pick, --link-journal=try-guest, --as-pid2 */
        if (opt == 'a')
                return SETTING_START_MODE;
        if (opt == 'U')
                return SETTING_USERNS;
        if (opt == 'j')
                return SETTING_LINK_JOURNAL;

        name = spawn_config_option_to_name(opt);
        if (!name)
                return 0;
        if (streq(name, "rlimit"))
                return rlimit_mask(arg);
        for (size_t i = 0; i < ELEMENTSOF(settings_keys); i++)
                if (settings_keys[i].option && streq(settings_keys[i].option, name))
                        return settings_keys[i].group;
        for (size_t i = 0; i < ELEMENTSOF(option_only_groups); i++)
                if (streq(option_only_groups[i].option, name))
                        return option_only_groups[i].group;
        return 0;
}

/* Split a list value into words: blanks separate, '...' and "..." quote, \ escapes. */
static int split_words(const char *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *w = malloc(strlen(v) + 1);
        size_t n;

        if (!w)
                return -ENOMEM;
        for (const char *p = v;;) {
                char quote = 0;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                for (n = 0; *p && (quote || !strchr(" \t", *p)); p++) {
                        if (*p == '\\') {
                                if (!p[1])
                                        return -EINVAL;
                                w[n++] = *++p;
                        } else if (quote && *p == quote)
                                quote = 0;
                        else if (!quote && (*p == '"' || *p == '\''))
                                quote = *p;
                        else
                                w[n++] = *p;
                }
                if (quote)
                        return -EINVAL;
                w[n] = 0;
                if (strv_extend(&l, w) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The option's parser; its "print the choices" answer (1, for VALUE=help) is no value here */
static int parse_option(SpawnConfig *c, const SettingsKey *k, int opt, const char *arg) {
        int r = spawn_config_parse_one(c, opt, arg);

        if (r > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s=%s lists the choices on the command line only.",
                                       k->name, strempty(arg));
        return r;
}

/* Apply one assignment to *c through the option's parser. -EOPNOTSUPP (not logged) when
 * this build has no such option; other errors are logged. */
static int key_apply(SpawnConfig *c, const SettingsKey *k, const char *value) {
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ char *arg = NULL;
        bool takes_arg = true;
        int opt, r;

        opt = k->option ? spawn_config_option_from_name(k->option, &takes_arg) : SPAWN_OPTION_COMMAND_WORD;
        if (opt < 0)
                return -EOPNOTSUPP;

        switch (k->kind) {
        case KEY_FLAG:
        case KEY_CHOWN:
                r = parse_boolean(value);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid boolean '%s' for %s=.", value, k->name);
                if (k->kind == KEY_CHOWN)
                        return parse_option(c, k, opt, r ? "chown" : "off");
                /* "no" is the default, which the command line did not change for this group */
                return r && !takes_arg ? parse_option(c, k, opt, NULL) : 0;
        case KEY_RLIMIT:
                arg = strjoin("RLIMIT_", k->name + strlen("Limit"), "=", value);
                if (!arg)
                        return log_oom();
                return parse_option(c, k, opt, arg);
        case KEY_WORDS:
                r = split_words(value, &words);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unbalanced quotes or trailing \\ in %s=%s.",
                                               k->name, value);
                STRV_FOREACH(w, words) {
                        /* NAME alone would pass berth-spawn's own environment on, which is
                         * the command line's privilege, not a file's */
                        if (opt == spawn_config_option_from_name("setenv", NULL) && !strchr(*w, '='))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "Invalid Environment= assignment '%s': expected NAME=VALUE.", *w);
                        r = parse_option(c, k, opt, *w);
                        if (r < 0)
                                return r;
                }
                return 0;
        case KEY_VALUE:
        default:
                return parse_option(c, k, opt, value);
        }
}

typedef struct WhereSink {
        const char *path;
        unsigned line;
        log_sink_t next;         /* the sink in place before, NULL for stderr */
        void *next_userdata;
} WhereSink;

/* Passes each message on with "FILE:LINE: " in front, to the journal too */
static void where_sink(int level, int error, const char *msg, void *userdata) {
        WhereSink *w = userdata;

        log_set_sink(w->next, w->next_userdata);
        (void) log_internal(level, error, "%s:%u: %s", w->path, w->line, msg);
        log_set_sink(where_sink, w);
}

/* key_apply() with "FILE:LINE: " in front of whatever its parser logs */
static int entry_apply(SpawnConfig *c, const char *path, const SettingsKey *k, unsigned line, const char *value) {
        WhereSink w = { .path = path, .line = line };
        int r;

        log_get_sink(&w.next, &w.next_userdata);
        log_set_sink(where_sink, &w);
        r = key_apply(c, k, value);
        log_set_sink(w.next, w.next_userdata);
        return r;
}

static int entry_add(SpawnSettings *s, const SettingsKey *k, unsigned line, const char *value) {
        SettingsEntry *e;
        char *v;

        /* an empty value resets the key, as in systemd's unit files */
        if (isempty(value)) {
                size_t j = 0;

                for (size_t i = 0; i < s->n_entries; i++)
                        if (s->entries[i].key == k)
                                free(s->entries[i].value);
                        else
                                s->entries[j++] = s->entries[i];
                s->n_entries = j;
                return 0;
        }

        v = strdup(value);
        e = v ? realloc(s->entries, sizeof(SettingsEntry) * (s->n_entries + 1)) : NULL;
        if (!e) {
                free(v);
                return -ENOMEM;
        }
        s->entries = e;
        s->entries[s->n_entries++] = (SettingsEntry) { .key = k, .line = line, .value = v };
        return 0;
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t\r\n");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = 0;
        return s;
}

typedef struct ParseState {
        SpawnSettings *settings;
        SpawnConfig scratch;     /* each value is parsed into it once, to check it */
        char section[32];        /* "" before the first header; "?" in an unknown one */
} ParseState;

static int parse_assignment(ParseState *p, const char *path, unsigned line, char *text) {
        const SettingsKey *k;
        char *eq = strchr(text, '='), *key, *value;
        int r;

        if (!eq) {
                log_warning("%s:%u: Line is not KEY=VALUE, ignoring.", path, line);
                return 0;
        }
        *eq = 0;
        key = strip(text);
        value = strip(eq + 1);

        if (streq(p->section, "?"))
                return 0;   /* the unknown section was warned about */
        if (isempty(p->section)) {
                log_warning("%s:%u: Assignment %s= outside of a section, ignoring.", path, line, key);
                return 0;
        }
        k = settings_key_find(p->section, key);
        if (!k) {
                log_warning("%s:%u: Unknown key %s= in section [%s], ignoring.", path, line, key, p->section);
                return 0;
        }
        if (!isempty(value)) {
                r = entry_apply(&p->scratch, path, k, line, value);
                if (r == -EOPNOTSUPP) {
                        log_warning("%s:%u: %s= needs berth-spawn's --%s= option, which this version lacks; ignoring.",
                                    path, line, k->name, k->option);
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        r = entry_add(p->settings, k, line, value);
        return r < 0 ? log_oom() : 0;
}

static int parse_line(ParseState *p, const char *path, unsigned line, char *text) {
        char *l = strip(text);
        size_t n = strlen(l);

        if (n == 0 || l[0] == '#' || l[0] == ';')
                return 0;
        if (l[0] != '[')
                return parse_assignment(p, path, line, l);

        if (n < 3 || l[n - 1] != ']' || n - 2 >= sizeof(p->section))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s:%u: Invalid section header '%s'.", path, line, l);
        l[n - 1] = 0;
        if (streq(l + 1, "Exec") || streq(l + 1, "Files") || streq(l + 1, "Network"))
                strcpy(p->section, l + 1);
        else {
                log_warning("%s:%u: Unknown section [%s], ignoring its keys.", path, line, l + 1);
                strcpy(p->section, "?");
        }
        return 0;
}

static bool line_is_printable(const char *l) {
        for (const unsigned char *p = (const unsigned char *) l; *p; p++)
                if ((*p < ' ' && *p != '\t') || *p == 127)
                        return false;
        return utf8_is_valid(l);
}

#define SETTINGS_LINE_MAX (64U * 1024U)

typedef struct LineReader {
        FILE *f;
        const char *path;
        char *buf;
        size_t cap;
        unsigned line;           /* of the last physical line read */
} LineReader;

/* The next logical line (continuations joined) and the number of its first physical line.
 * Returns 1, 0 at the end of the file, or a negative errno after logging. */
static int read_logical_line(LineReader *l, char **ret, unsigned *ret_first) {
        _cleanup_free_ char *logical = NULL;
        unsigned first = 0;
        ssize_t n;

        while ((n = getline(&l->buf, &l->cap, l->f)) >= 0) {
                bool more;
                char *j, *t;

                l->line++;
                if ((size_t) n != strlen(l->buf))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s:%u: NUL byte in line.", l->path, l->line);
                if ((size_t) n > SETTINGS_LINE_MAX || (logical && strlen(logical) + n > SETTINGS_LINE_MAX))
                        return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "%s:%u: Line too long.", l->path, l->line);
                t = strip(l->buf);
                /* the file may come with the image: none of it reaches the terminal raw */
                if (!line_is_printable(t))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "%s:%u: Control character or invalid UTF-8 in line.", l->path, l->line);
                /* a trailing backslash continues the line, as in systemd's unit files */
                more = endswith(t, "\\");
                if (more)
                        t[strlen(t) - 1] = ' ';
                j = logical ? strjoin(logical, t) : strdup(t);
                if (!j)
                        return log_oom();
                free(logical);
                logical = j;
                if (!first)
                        first = l->line;
                if (!more)
                        break;
        }
        if (ferror(l->f))
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read %s.", l->path);
        if (!logical)
                return 0;
        *ret = TAKE_PTR(logical);
        *ret_first = first;
        return 1;
}

int spawn_settings_parse(FILE *f, const char *path, SpawnSettings *ret) {
        _cleanup_(spawn_settings_done) SpawnSettings s = {};
        LineReader l = { .f = f, .path = path };
        ParseState p = { .settings = &s };
        int r;

        s.path = strdup(path);
        if (!s.path)
                return log_oom();
        spawn_config_init(&p.scratch);

        for (;;) {
                _cleanup_free_ char *text = NULL;
                unsigned first = 0;

                r = read_logical_line(&l, &text, &first);
                if (r <= 0)
                        break;
                r = parse_line(&p, path, first, text);
                if (r < 0)
                        break;
        }
        free(l.buf);
        spawn_config_done(&p.scratch);
        if (r < 0)
                return r;

        *ret = s;
        s = (SpawnSettings) {};
        return 0;
}

static bool entry_needs_trust(const SettingsEntry *e, bool allow_list) {
        return e->key->trust == TRUST_NEEDED || (e->key->trust == TRUST_ALLOW_LIST && allow_list);
}

/* Which entries apply: not masked by the command line (unless override), and trusted where
 * they need it. Warns once per key that an untrusted file cannot set. Returns their groups. */
static uint64_t settings_select(const SpawnConfig *c, const SpawnSettings *s, bool *apply) {
        bool warned[ELEMENTSOF(settings_keys)] = {}, allow_list = false;
        uint64_t groups = 0;

        /* as systemd-nspawn: an untrusted allow list drops every SystemCallFilter= line */
        for (size_t i = 0; i < s->n_entries; i++)
                if (s->entries[i].key->trust == TRUST_ALLOW_LIST && s->entries[i].value[0] != '~')
                        allow_list = true;

        for (size_t i = 0; i < s->n_entries; i++) {
                const SettingsEntry *e = &s->entries[i];
                size_t k = (size_t) (e->key - settings_keys);

                apply[i] = false;
                if (c->settings_mode != SETTINGS_OVERRIDE && (e->key->group & c->settings_mask)) {
                        log_debug("%s:%u: %s= is overridden by the command line.", s->path, e->line, e->key->name);
                        continue;
                }
                if (!s->trusted && entry_needs_trust(e, allow_list)) {
                        if (!warned[k])
                                log_warning("Ignoring %s= setting, file %s is not trusted.", e->key->name, s->path);
                        warned[k] = true;
                        continue;
                }
                apply[i] = true;
                groups |= e->key->group;
        }
        return groups;
}

int spawn_settings_apply(SpawnConfig *c, const SpawnSettings *s, int argc, char *argv[]) {
        _cleanup_free_ bool *apply = calloc(s->n_entries + 1, sizeof(bool));
        uint64_t groups;
        int r;

        if (!apply)
                return log_oom();
        groups = settings_select(c, s, apply);

        /* --settings=override: the file's groups replace what the command line said for them,
         * lists included, so the configuration is made again from argv without those options */
        if (c->settings_mode == SETTINGS_OVERRIDE && (groups & c->settings_mask)) {
                SpawnConfig n;

                r = spawn_config_parse_argv_masked(&n, argc, argv, groups);
                if (r != 0) {
                        spawn_config_done(&n);
                        return r < 0 ? r : log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Command line changed.");
                }
                spawn_config_done(c);
                *c = n;
        }

        for (size_t i = 0; i < s->n_entries; i++) {
                if (!apply[i])
                        continue;
                r = entry_apply(c, s->path, s->entries[i].key, s->entries[i].line, s->entries[i].value);
                if (r < 0)
                        return r;
        }

        free(c->settings_file);
        c->settings_file = strdup(s->path);
        if (!c->settings_file)
                return log_oom();
        c->settings_trusted = s->trusted;
        return 0;
}

static bool in_trusted_dir(const char *file) {
        _cleanup_free_ char *real = realpath(file, NULL);
        char *slash;

        if (!real || !(slash = strrchr(real, '/')))
                return false;
        *slash = 0;
        for (size_t i = 0; i < settings_n_trusted_dirs; i++) {
                _cleanup_free_ char *d = realpath(settings_trusted_dirs[i], NULL);

                if (d && streq(d, real))
                        return true;
        }
        return false;
}

/* Open the first candidate that exists. Returns 1 with *ret_f and *ret_path, 0 if none. */
static int open_first(char **candidates, FILE **ret_f, char **ret_path) {
        STRV_FOREACH(p, candidates) {
                FILE *f = fopen(*p, "re");

                if (f) {
                        *ret_path = strdup(*p);
                        if (!*ret_path) {
                                fclose(f);
                                return log_oom();
                        }
                        *ret_f = f;
                        return 1;
                }
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to open settings file %s: %m", *p);
        }
        return 0;
}

static int push(char ***l, char *v) {
        return v ? strv_push(l, v) : -ENOMEM;
}

/* The candidates in order: NAME.nspawn in the trusted directories, then next to the image or
 * tree; with --ephemeral or --template= also the original tree's own NAME.nspawn beside it. */
static int settings_candidates(const SpawnConfig *c, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *fn = strjoin(c->machine, ".nspawn"), *orig = NULL;
        const char *tree = c->from_template ? c->template : c->directory;

        if (!fn)
                return -ENOMEM;
        for (size_t i = 0; i < settings_n_trusted_dirs; i++)
                if (push(&l, path_join(settings_trusted_dirs[i], fn)) < 0)
                        return -ENOMEM;
        if (c->image || c->directory)
                if (push(&l, settings_file_next_to(c->image ?: c->directory, fn)) < 0)
                        return -ENOMEM;
        if (tree && (c->ephemeral || c->from_template)) {
                _cleanup_free_ char *base = path_basename(tree);

                orig = base ? strjoin(base, ".nspawn") : NULL;
                if (!orig || push(&l, settings_file_next_to(tree, orig)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int spawn_settings_load(SpawnConfig *c, int argc, char *argv[]) {
        _cleanup_(spawn_settings_done) SpawnSettings s = {};
        _cleanup_strv_free_ char **candidates = NULL;
        _cleanup_free_ char *path = NULL;
        FILE *f = NULL;
        bool trusted;
        int r;

        if (c->settings_mode == SETTINGS_NO)
                return 0;
        r = spawn_config_determine_names(c);
        if (r < 0)
                return r;
        if (settings_candidates(c, &candidates) < 0)
                return log_oom();
        r = open_first(candidates, &f, &path);
        if (r <= 0)
                return r;

        trusted = c->settings_mode == SETTINGS_TRUSTED || in_trusted_dir(path);
        r = spawn_settings_parse(f, path, &s);
        fclose(f);
        if (r < 0)
                return r;
        s.trusted = trusted;
        if (!c->quiet)
                log_info("Using settings file %s (%s).", path, trusted ? "trusted" : "untrusted");
        return spawn_settings_apply(c, &s, argc, argv);
}
