/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <getopt.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capability-util.h"
#include "fd-util.h"
#include "image-pool.h"
#include "log.h"
#include "machine-name.h"
#include "path-util.h"
#include "seccomp-util.h"
#include "spawn-cgroup.h"
#include "spawn-config.h"
#include "spawn-device-policy.h"
#include "spawn-oci.h"
#include "spawn-network.h"
#include "spawn-settings.h"
#include "netlink-util.h"
#include "string-util.h"

static const char *const console_mode_table[_CONSOLE_MODE_MAX] = {
        [CONSOLE_INTERACTIVE] = "interactive",
        [CONSOLE_READ_ONLY] = "read-only",
        [CONSOLE_PASSIVE] = "passive",
        [CONSOLE_PIPE] = "pipe",
        [CONSOLE_AUTOPIPE] = "autopipe",
};

static const char *const resolv_conf_mode_table[_RESOLV_CONF_MODE_MAX] = {
        [RESOLV_CONF_OFF] = "off",
        [RESOLV_CONF_COPY_HOST] = "copy-host",
        [RESOLV_CONF_COPY_STATIC] = "copy-static",
        [RESOLV_CONF_COPY_UPLINK] = "copy-uplink",
        [RESOLV_CONF_COPY_STUB] = "copy-stub",
        [RESOLV_CONF_REPLACE_HOST] = "replace-host",
        [RESOLV_CONF_REPLACE_STATIC] = "replace-static",
        [RESOLV_CONF_REPLACE_UPLINK] = "replace-uplink",
        [RESOLV_CONF_REPLACE_STUB] = "replace-stub",
        [RESOLV_CONF_BIND_HOST] = "bind-host",
        [RESOLV_CONF_BIND_STATIC] = "bind-static",
        [RESOLV_CONF_BIND_UPLINK] = "bind-uplink",
        [RESOLV_CONF_BIND_STUB] = "bind-stub",
        [RESOLV_CONF_DELETE] = "delete",
        [RESOLV_CONF_AUTO] = "auto",
};

static const char *const timezone_mode_table[_TIMEZONE_MODE_MAX] = {
        [TIMEZONE_OFF] = "off",
        [TIMEZONE_COPY] = "copy",
        [TIMEZONE_BIND] = "bind",
        [TIMEZONE_SYMLINK] = "symlink",
        [TIMEZONE_DELETE] = "delete",
        [TIMEZONE_AUTO] = "auto",
};

static const char *const volatile_mode_table[_VOLATILE_MODE_MAX] = {
        [VOLATILE_NO] = "no",
        [VOLATILE_YES] = "yes",
        [VOLATILE_STATE] = "state",
        [VOLATILE_OVERLAY] = "overlay",
};

static const char *const settings_mode_table[_SETTINGS_MODE_MAX] = {
        [SETTINGS_YES] = "yes",
        [SETTINGS_NO] = "no",
        [SETTINGS_TRUSTED] = "trusted",
        [SETTINGS_OVERRIDE] = "override",
};

static const char *const private_users_table[_PRIVATE_USERS_MAX] = {
        [PRIVATE_USERS_NO] = "no",
        [PRIVATE_USERS_YES] = "yes",
        [PRIVATE_USERS_PICK] = "pick",
        [PRIVATE_USERS_IDENTITY] = "identity",
        [PRIVATE_USERS_FIXED] = "fixed",
        [PRIVATE_USERS_MAPPED] = "mapped",
};

static const char *const users_ownership_table[_USERS_OWNERSHIP_MAX] = {
        [USERS_OWNERSHIP_OFF] = "off",
        [USERS_OWNERSHIP_CHOWN] = "chown",
        [USERS_OWNERSHIP_MAP] = "map",
        [USERS_OWNERSHIP_AUTO] = "auto",
};

static const char *const link_journal_table[_LINK_JOURNAL_MAX] = {
        [LINK_JOURNAL_NO] = "no",
        [LINK_JOURNAL_HOST] = "host",
        [LINK_JOURNAL_TRY_HOST] = "try-host",
        [LINK_JOURNAL_GUEST] = "guest",
        [LINK_JOURNAL_TRY_GUEST] = "try-guest",
        [LINK_JOURNAL_AUTO] = "auto",
};

static int table_lookup(const char *const *table, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

#define DEFINE_STRING_TABLE(name, type, table, max)                                 \
        const char *name##_to_string(type m) {                                      \
                return m >= 0 && m < max ? table[m] : NULL;                         \
        }                                                                           \
        type name##_from_string(const char *s) {                                    \
                return (type) table_lookup(table, max, s);                          \
        }

DEFINE_STRING_TABLE(console_mode, ConsoleMode, console_mode_table, _CONSOLE_MODE_MAX)
DEFINE_STRING_TABLE(resolv_conf_mode, ResolvConfMode, resolv_conf_mode_table, _RESOLV_CONF_MODE_MAX)
DEFINE_STRING_TABLE(private_users, PrivateUsers, private_users_table, _PRIVATE_USERS_MAX)
DEFINE_STRING_TABLE(users_ownership, UsersOwnership, users_ownership_table, _USERS_OWNERSHIP_MAX)
DEFINE_STRING_TABLE(link_journal, LinkJournal, link_journal_table, _LINK_JOURNAL_MAX)
DEFINE_STRING_TABLE(volatile_mode, VolatileMode, volatile_mode_table, _VOLATILE_MODE_MAX)
DEFINE_STRING_TABLE(timezone_mode, TimezoneMode, timezone_mode_table, _TIMEZONE_MODE_MAX)
DEFINE_STRING_TABLE(settings_mode, SettingsMode, settings_mode_table, _SETTINGS_MODE_MAX)

static void custom_mount_done(CustomMount *m) {
        free(m->source);
        free(m->destination);
        free(m->options);
        strv_free(m->lower);
        free(m->upper);
        id_map_done(&m->idmap_uid);
        id_map_done(&m->idmap_gid);
}

void spawn_config_done(SpawnConfig *c) {
        oci_hooks_done(&c->oci_hooks);
        free(c->directory);
        free(c->image);
        free(c->root_hash);
        free(c->verity_data);
        free(c->key_file);
        free(c->root_hash_sig);
        free(c->machine);
        id_map_done(&c->uid_map);
        id_map_done(&c->gid_map);
        free(c->hostname);
        free(c->user);
        free(c->chdir);
        free(c->pivot_root_new);
        free(c->pivot_root_old);
        free(c->slice);
        free(c->template);
        free(c->network_zone);
        free(c->network_bridge);
        strv_free(c->network_interfaces);
        strv_free(c->legacy_cgroup_hierarchies);
        strv_free(c->network_macvlan);
        strv_free(c->network_ipvlan);
        strv_free(c->network_veth_extra);
        free(c->network_namespace_path);
        credential_set_done(&c->credentials);
        free(c->ports);
        strv_free(c->setenv);
        strv_free(c->bind_users);
        free(c->selinux_context);
        free(c->selinux_apifs_context);
        for (size_t i = 0; i < c->n_mounts; i++)
                custom_mount_done(&c->mounts[i]);
        free(c->mounts);
        strv_free(c->syscall_allow);
        strv_free(c->syscall_deny);
        seccomp_filter_done(&c->oci_seccomp);
        strv_free(c->command);
        free(c->groups);
        free(c->cgroup_path);
        device_allow_clear(c);
        free(c->oci_bundle);
        free(c->settings_file);
        for (size_t i = 0; i < c->n_namespace_joins; i++)
                free(c->namespace_joins[i].path);
        strv_free(c->sysctl);
        for (size_t i = 0; i < c->n_devices; i++)
                free(c->devices[i].path);
        free(c->devices);
        *c = (SpawnConfig) {};
}

CustomMount *custom_mount_add(SpawnConfig *c, CustomMountType t) {
        CustomMount *m = realloc(c->mounts, sizeof(CustomMount) * (c->n_mounts + 1));

        if (!m)
                return NULL;
        c->mounts = m;
        m = &c->mounts[c->n_mounts++];
        *m = (CustomMount) { .type = t, .recursive = true };
        return m;
}

/* An absolute, normalized path, or "+/path" (relative to the tree) when allowed. */
static int check_path(const char *p, bool allow_plus) {
        if (allow_plus && p[0] == '+')
                p++;
        if (!path_is_normalized(p) || !string_is_safe(p) || !utf8_is_valid(p) || strlen(p) >= 4096)
                return -EINVAL;
        return 0;
}

static int simplified(const char *p, char **ret) {
        char *s = strdup(p);
        if (!s)
                return log_oom();
        *ret = path_simplify(s);
        return 0;
}

int custom_mount_parse_bind(SpawnConfig *c, const char *spec, bool read_only) {
        const char *opt = read_only ? "--bind-ro" : "--bind";
        _cleanup_strv_free_ char **parts = NULL;
        bool recursive = true;
        BindIdmap idmap = BIND_IDMAP_NO;
        CustomMount *m;
        size_t n;
        int r;

        r = strv_split_full(spec, ":", true, &parts);
        if (r == -ENOMEM)
                return log_oom();
        n = r < 0 ? 0 : strv_length(parts);
        if (n < 1 || n > 3 || isempty(parts[0]))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid %s= specification '%s': expected SOURCE[:DESTINATION[:OPTIONS]].", opt, spec);

        if (check_path(parts[0], true) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid %s= source path '%s': must be absolute and normalized.", opt, parts[0]);
        if (n >= 2 && !isempty(parts[1]) && check_path(parts[1], false) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid %s= destination path '%s': must be absolute and normalized.", opt, parts[1]);
        if (n == 3) {
                _cleanup_strv_free_ char **opts = NULL;

                if (strv_split_full(parts[2], ",", false, &opts) < 0)
                        return log_oom();
                STRV_FOREACH(o, opts) {
                        if (streq(*o, "rbind"))
                                recursive = true;
                        else if (streq(*o, "norbind"))
                                recursive = false;
                        else if (streq(*o, "idmap"))
                                idmap = BIND_IDMAP_YES;
                        else if (streq(*o, "noidmap"))
                                idmap = BIND_IDMAP_NO;
                        else if (streq(*o, "rootidmap"))
                                idmap = BIND_IDMAP_ROOT;
                        else
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "Invalid %s= mount option '%s' in '%s': supported are rbind, norbind, "
                                                       "idmap, noidmap and rootidmap.", opt, *o, spec);
                }
        }
        if (idmap != BIND_IDMAP_NO && parts[0][0] == '+')
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Invalid %s=%s: idmap and rootidmap are supported for host paths only.", opt, spec);

        m = custom_mount_add(c, CUSTOM_MOUNT_BIND);
        if (!m)
                return log_oom();
        m->read_only = read_only;
        m->recursive = recursive;
        m->idmap = idmap;
        m->source_in_tree = parts[0][0] == '+';
        r = simplified(parts[0] + m->source_in_tree, &m->source);
        if (r < 0)
                return r;
        return simplified(n >= 2 && !isempty(parts[1]) ? parts[1] : parts[0] + m->source_in_tree, &m->destination);
}

int custom_mount_parse_tmpfs(SpawnConfig *c, const char *spec) {
        _cleanup_strv_free_ char **parts = NULL;
        CustomMount *m;
        size_t n;
        int r;

        /* PATH[:OPTIONS] */
        r = strv_split_full(spec, ":", true, &parts);
        if (r == -ENOMEM)
                return log_oom();
        n = r < 0 ? 0 : strv_length(parts);
        if (n < 1 || n > 2)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --tmpfs= specification '%s': expected PATH[:OPTIONS].", spec);
        if (check_path(parts[0], false) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --tmpfs= path '%s': must be absolute and normalized.", parts[0]);
        if (n == 2 && !string_is_safe(parts[1]))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --tmpfs= options '%s'.", parts[1]);

        m = custom_mount_add(c, CUSTOM_MOUNT_TMPFS);
        if (!m)
                return log_oom();
        m->options = strdup(n == 2 && !isempty(parts[1]) ? parts[1] : "mode=0755");
        if (!m->options)
                return log_oom();
        return simplified(parts[0], &m->destination);
}

int custom_mount_parse_overlay(SpawnConfig *c, const char *spec, bool read_only) {
        const char *opt = read_only ? "--overlay-ro" : "--overlay";
        _cleanup_strv_free_ char **parts = NULL;
        CustomMount *m;
        size_t n;
        int r;

        r = strv_split_full(spec, ":", true, &parts);
        if (r == -ENOMEM)
                return log_oom();
        n = r < 0 ? 0 : strv_length(parts);
        if (n < 2)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid %s= specification '%s': expected at least two paths.", opt, spec);
        STRV_FOREACH(p, parts)
                if (check_path(*p, true) < 0 || (p == parts + n - 1 && (*p)[0] == '+'))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid %s= path '%s' in '%s': must be absolute and normalized.", opt, *p, spec);

        m = custom_mount_add(c, CUSTOM_MOUNT_OVERLAY);
        if (!m)
                return log_oom();
        m->read_only = read_only;
        r = simplified(parts[n - 1], &m->destination);
        if (r < 0)
                return r;

        if (!read_only) {
                /* The second-to-last path is the upper directory. With only one source
                 * path, the lower is the destination's content in the tree. */
                if (parts[n - 2][0] == '+')
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid %s= upper directory '%s': must be a host path.", opt, parts[n - 2]);
                r = simplified(parts[n - 2], &m->upper);
                if (r < 0)
                        return r;
                free(parts[n - 2]);
                parts[n - 2] = NULL;
                if (n == 2) {
                        parts[0] = strjoin("+", m->destination);
                        if (!parts[0])
                                return log_oom();
                }
        }
        free(parts[n - 1]);
        parts[n - 1] = NULL;
        m->lower = TAKE_PTR(parts);
        return 0;
}

int custom_mount_parse_inaccessible(SpawnConfig *c, const char *spec) {
        CustomMount *m;

        if (check_path(spec, false) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --inaccessible= path '%s': must be absolute and normalized.", spec);
        m = custom_mount_add(c, CUSTOM_MOUNT_INACCESSIBLE);
        if (!m)
                return log_oom();
        return simplified(spec, &m->destination);
}

static void help(void) {
        printf("%s [OPTIONS...] {-D DIRECTORY|-i IMAGE} [--] [COMMAND [ARGUMENTS...]]\n\n"
               "Spawn a command or OS in a light-weight container.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Print version\n"
               "  -q --quiet                Do not show status information\n"
               "     --no-pager             Accepted; berth-spawn never starts a pager\n"
               "\nImage:\n"
               "  -D --directory=PATH       Root directory of the machine\n"
               "  -i --image=PATH           Raw disk image or block device of the machine\n"
               "     --root-hash=HEX        Root hash for dm-verity (default: IMAGE.roothash)\n"
               "     --root-hash-sig=SIG    PKCS#7 signature of the root hash: a path or base64:DATA\n"
               "                            (default: IMAGE.roothash.p7s)\n"
               "     --verity-data=PATH     Verity hash tree of a bare image (default: IMAGE.verity)\n"
               "     --key-file=PATH        Passphrase for encrypted (LUKS) partitions of the image\n"
               "     --oci-bundle=PATH      Run an OCI runtime bundle (its config.json; options\n"
               "                            given here take precedence)\n"
               "     --read-only            Mount the root directory read-only\n"
               "  -x --ephemeral            Run on a throwaway snapshot or overlay of the tree\n"
               "     --pivot-root=NEW[:OLD] Make the tree's directory NEW the root, the old root OLD\n"
               "     --template=PATH        Create a missing root directory from this tree\n"
               "     --settings=MODE        yes, no, trusted or override: how to use NAME.nspawn\n"
               "     --volatile[=MODE]      yes, state, overlay or no: run with a volatile root\n"
               "\nExecution:\n"
               "  -b --boot                 Boot the tree's init; arguments go to init\n"
               "     --notify-ready=BOOL    Report readiness only when the guest sends READY=1\n"
               "  -u --user=USER            Run the command as this user of the machine\n"
               "     --chdir=PATH           Working directory inside the machine\n"
               "  -E --setenv=NAME[=VALUE]  Pass an environment variable to the payload\n"
               "     --set-credential=ID:VALUE\n"
               "                            Pass a credential with this value to the payload\n"
               "     --load-credential=ID:PATH\n"
               "                            Pass a credential read from a file or AF_UNIX socket\n"
               "  -a --as-pid2              Run a stub init as PID 1, the command as PID 2\n"
               "     --suppress-sync=BOOL   Make sync(), fsync() and the like do nothing\n"
               "     --kill-signal=SIGNAL   Signal PID 1 gets when berth-spawn is asked to stop\n"
               "\nIdentity:\n"
               "  -M --machine=NAME         Machine name (default: directory name)\n"
               "     --hostname=NAME        Hostname inside (default: machine name)\n"
               "     --uuid=UUID            Machine UUID (default: random)\n"
               "\nUser namespacing:\n"
               "  -U                        Same as --private-users=pick --private-users-ownership=auto\n"
               "     --private-users=MODE   no, yes, pick, identity or BASE[:RANGE]\n"
               "     --private-users-ownership=MODE\n"
               "                            off, chown, map or auto: how the tree's files match the range\n"
               "\nSecurity:\n"
               "     --capability=CAP,...   Add capabilities to the bounding set (or 'all')\n"
               "     --drop-capability=CAP,...\n"
               "                            Remove capabilities from the bounding set\n"
               "     --no-new-privileges=BOOL\n"
               "                            Set PR_SET_NO_NEW_PRIVS for the payload\n"
               "     --system-call-filter=LIST\n"
               "                            Allow (or with '~' deny) system calls and @groups\n"
               "     --ambient-capability=CAP,...\n"
               "                            Keep these capabilities across execve() (also for -u)\n"
               "  -Z --selinux-context=SECLABEL\n"
               "                            SELinux context of the payload (needs SELinux)\n"
               "  -L --selinux-apifs-context=SECLABEL\n"
               "                            SELinux context of the API file systems (needs SELinux)\n"
               "\nMounts:\n"
               "     --bind=SRC[:DST[:OPTS]]     Bind-mount a host path (OPTS: rbind, norbind,\n"
               "                                 idmap, noidmap, rootidmap)\n"
               "     --bind-ro=SRC[:DST[:OPTS]]  Same, read-only\n"
               "     --tmpfs=PATH[:OPTIONS] Mount a tmpfs\n"
               "     --overlay=PATH[:PATH...]:UPPER:DEST\n"
               "                            Mount an overlay file system\n"
               "     --overlay-ro=PATH[:PATH...]:DEST\n"
               "                            Mount a read-only overlay file system\n"
               "     --inaccessible=PATH    Make a path inside the machine inaccessible\n"
               "     --bind-user=NAME       Bind a host user's home to /run/host/home/NAME and add\n"
               "                            the user to the machine (needs -U)\n"
               "\nResources:\n"
               "     --property=NAME=VALUE  MemoryMax, MemoryHigh, TasksMax, CPUQuota, CPUWeight,\n"
               "                            IOWeight, DevicePolicy, DeviceAllow for the machine's\n"
               "                            cgroup\n"
               "  -S --slice=SLICE          Place the machine's cgroup in this slice\n"
               "     --rlimit=NAME=SOFT[:HARD]\n"
               "                            Set a resource limit for the payload\n"
               "     --oom-score-adjust=N   OOM score adjustment of the payload (-1000..1000)\n"
               "     --cpu-affinity=CPUS    CPUs the machine runs on (e.g. 0-3,6)\n"
               "     --personality=ARCH     Execution domain: x86 or x86-64 on an x86-64 host\n"
               "\nNetworking:\n"
               "     --private-network      Own network namespace with only loopback\n"
               "  -n --network-veth         A veth link to the host (ve-NAME / host0)\n"
               "     --network-zone=NAME    Join the zone bridge vz-NAME with a veth link\n"
               "     --network-bridge=BRIDGE\n"
               "                            A veth link whose host end joins BRIDGE\n"
               "     --network-interface=IF Move a host interface into the machine\n"
               "     --network-macvlan=IF   A macvlan link mv-IF on host interface IF\n"
               "     --network-ipvlan=IF    An ipvlan link iv-IF on host interface IF\n"
               "     --network-veth-extra=HOSTIF[:MACHINEIF]\n"
               "                            An additional veth pair\n"
               "     --network-namespace-path=PATH\n"
               "                            Join an existing network namespace\n"
               "  -p --port=[PROTO:]HOSTPORT[:MACHINEPORT]\n"
               "                            Forward a tcp/udp port of the host's addresses\n"
               "\nRegistration:\n"
               "     --register=BOOL|auto   Register with org.freedesktop.machine1 (default: auto,\n"
               "                            when a system bus is there)\n"
               "     --keep-unit            Keep the machine's cgroup below berth-spawn's own\n"
               "\nIntegration:\n"
               "     --resolv-conf=MODE     off, copy-host, copy-static, copy-uplink, copy-stub,\n"
               "                            replace-*, bind-*, delete, auto\n"
               "     --timezone=MODE        off, copy, bind, symlink, delete, auto\n"
               "     --link-journal=MODE    no, host, try-host, guest, try-guest, auto\n"
               "  -j                        Same as --link-journal=try-guest\n"
               "     --console=MODE         interactive, read-only, passive, pipe, autopipe\n"
               "  -P --pipe                 Same as --console=pipe\n"
               "\nOptions with a fixed set of values list them with OPTION=help.\n"
               "See the berth-spawn(1) man page for details.\n",
               program_invocation_short_name);
}

enum {
        ARG_VERSION = 0x100,
        ARG_HOSTNAME,
        ARG_UUID,
        ARG_CHDIR,
        ARG_AS_PID2,
        ARG_READ_ONLY,
        ARG_BIND,
        ARG_BIND_RO,
        ARG_TMPFS,
        ARG_OVERLAY,
        ARG_OVERLAY_RO,
        ARG_INACCESSIBLE,
        ARG_CAPABILITY,
        ARG_DROP_CAPABILITY,
        ARG_NO_NEW_PRIVILEGES,
        ARG_SYSTEM_CALL_FILTER,
        ARG_KILL_SIGNAL,
        ARG_RESOLV_CONF,
        ARG_TIMEZONE,
        ARG_CONSOLE,
        ARG_NOTIFY_READY,
        ARG_VOLATILE,
        ARG_PROPERTY,
        ARG_SLICE,
        ARG_PRIVATE_USERS,
        ARG_PRIVATE_USERS_OWNERSHIP,
        ARG_LINK_JOURNAL,
        ARG_TEMPLATE,
        ARG_ROOT_HASH,
        ARG_VERITY_DATA,
        ARG_KEY_FILE,
        ARG_REGISTER,
        ARG_KEEP_UNIT,
        ARG_PRIVATE_NETWORK,
        ARG_NETWORK_ZONE,
        ARG_NETWORK_BRIDGE,
        ARG_NETWORK_INTERFACE,
        ARG_NETWORK_MACVLAN,
        ARG_NETWORK_IPVLAN,
        ARG_NETWORK_VETH_EXTRA,
        ARG_RLIMIT,
        ARG_OOM_SCORE_ADJUST,
        ARG_CPU_AFFINITY,
        ARG_PERSONALITY,
        ARG_AMBIENT_CAPABILITY,
        ARG_NO_PAGER,
        ARG_SET_CREDENTIAL,
        ARG_LOAD_CREDENTIAL,
        ARG_NETWORK_NAMESPACE_PATH,
        ARG_SUPPRESS_SYNC,
        ARG_PIVOT_ROOT,
        ARG_OCI_BUNDLE,
        ARG_SETTINGS,
        ARG_BIND_USER,
        ARG_ROOT_HASH_SIG,
};

static const struct option options[] = {
        { "help",               no_argument,       NULL, 'h'                    },
        { "version",            no_argument,       NULL, ARG_VERSION            },
        { "quiet",              no_argument,       NULL, 'q'                    },
        { "directory",          required_argument, NULL, 'D'                    },
        { "image",              required_argument, NULL, 'i'                    },
        { "root-hash",          required_argument, NULL, ARG_ROOT_HASH          },
        { "verity-data",        required_argument, NULL, ARG_VERITY_DATA        },
        { "key-file",           required_argument, NULL, ARG_KEY_FILE           },
        { "oci-bundle",         required_argument, NULL, ARG_OCI_BUNDLE         },
        { "machine",            required_argument, NULL, 'M'                    },
        { "hostname",           required_argument, NULL, ARG_HOSTNAME           },
        { "uuid",               required_argument, NULL, ARG_UUID               },
        { "user",               required_argument, NULL, 'u'                    },
        { "chdir",              required_argument, NULL, ARG_CHDIR              },
        { "setenv",             required_argument, NULL, 'E'                    },
        { "as-pid2",            no_argument,       NULL, ARG_AS_PID2            },
        { "read-only",          no_argument,       NULL, ARG_READ_ONLY          },
        { "bind",               required_argument, NULL, ARG_BIND               },
        { "bind-ro",            required_argument, NULL, ARG_BIND_RO            },
        { "tmpfs",              required_argument, NULL, ARG_TMPFS              },
        { "overlay",            required_argument, NULL, ARG_OVERLAY            },
        { "overlay-ro",         required_argument, NULL, ARG_OVERLAY_RO         },
        { "inaccessible",       required_argument, NULL, ARG_INACCESSIBLE       },
        { "capability",         required_argument, NULL, ARG_CAPABILITY         },
        { "drop-capability",    required_argument, NULL, ARG_DROP_CAPABILITY    },
        { "no-new-privileges",  required_argument, NULL, ARG_NO_NEW_PRIVILEGES  },
        { "system-call-filter", required_argument, NULL, ARG_SYSTEM_CALL_FILTER },
        { "kill-signal",        required_argument, NULL, ARG_KILL_SIGNAL        },
        { "resolv-conf",        required_argument, NULL, ARG_RESOLV_CONF        },
        { "timezone",           required_argument, NULL, ARG_TIMEZONE           },
        { "console",            required_argument, NULL, ARG_CONSOLE            },
        { "pipe",               no_argument,       NULL, 'P'                    },
        { "boot",               no_argument,       NULL, 'b'                    },
        { "ephemeral",          no_argument,       NULL, 'x'                    },
        { "property",           required_argument, NULL, ARG_PROPERTY           },
        { "link-journal",       required_argument, NULL, ARG_LINK_JOURNAL       },
        { "template",           required_argument, NULL, ARG_TEMPLATE           },
        { "register",           required_argument, NULL, ARG_REGISTER           },
        { "keep-unit",          no_argument,       NULL, ARG_KEEP_UNIT          },
        { "private-network",    no_argument,       NULL, ARG_PRIVATE_NETWORK    },
        { "network-veth",       no_argument,       NULL, 'n'                    },
        { "network-zone",       required_argument, NULL, ARG_NETWORK_ZONE       },
        { "network-bridge",     required_argument, NULL, ARG_NETWORK_BRIDGE     },
        { "network-interface",  required_argument, NULL, ARG_NETWORK_INTERFACE  },
        { "network-macvlan",    required_argument, NULL, ARG_NETWORK_MACVLAN    },
        { "network-ipvlan",     required_argument, NULL, ARG_NETWORK_IPVLAN     },
        { "network-veth-extra", required_argument, NULL, ARG_NETWORK_VETH_EXTRA },
        { "port",               required_argument, NULL, 'p'                    },
        { "private-users",      optional_argument, NULL, ARG_PRIVATE_USERS      },
        { "private-users-ownership", required_argument, NULL, ARG_PRIVATE_USERS_OWNERSHIP },
        { "slice",              required_argument, NULL, ARG_SLICE              },
        { "volatile",           optional_argument, NULL, ARG_VOLATILE           },
        { "notify-ready",       required_argument, NULL, ARG_NOTIFY_READY       },
        { "rlimit",             required_argument, NULL, ARG_RLIMIT             },
        { "oom-score-adjust",   required_argument, NULL, ARG_OOM_SCORE_ADJUST   },
        { "cpu-affinity",       required_argument, NULL, ARG_CPU_AFFINITY       },
        { "personality",        required_argument, NULL, ARG_PERSONALITY        },
        { "ambient-capability", required_argument, NULL, ARG_AMBIENT_CAPABILITY },
        { "no-pager",           no_argument,       NULL, ARG_NO_PAGER           },
        { "set-credential",     required_argument, NULL, ARG_SET_CREDENTIAL     },
        { "load-credential",    required_argument, NULL, ARG_LOAD_CREDENTIAL    },
        { "network-namespace-path", required_argument, NULL, ARG_NETWORK_NAMESPACE_PATH },
        { "suppress-sync",      required_argument, NULL, ARG_SUPPRESS_SYNC      },
        { "pivot-root",         required_argument, NULL, ARG_PIVOT_ROOT         },
        { "settings",           required_argument, NULL, ARG_SETTINGS           },
        { "bind-user",          required_argument, NULL, ARG_BIND_USER          },
        { "root-hash-sig",      required_argument, NULL, ARG_ROOT_HASH_SIG      },
        { "selinux-context",    required_argument, NULL, 'Z'                    },
        { "selinux-apifs-context", required_argument, NULL, 'L'                 },
        {}
};

static int set_string(char **s, const char *v) {
        char *d = strdup(v);
        if (!d)
                return log_oom();
        free(*s);
        *s = d;
        return 0;
}

static int parse_setenv(SpawnConfig *c, const char *v) {
        _cleanup_free_ char *a = NULL;
        const char *eq = strchr(v, '=');
        size_t l = eq ? (size_t) (eq - v) : strlen(v);
        int r;

        if (l == 0 || v[0] == '=' || (v[0] >= '0' && v[0] <= '9') || !string_is_safe(v) ||
            strcspn(v, "=") != strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")) {
                /* a newline in the value must not split the one error line */
                _cleanup_free_ char *e = string_escape_controls(v);
                if (!e)
                        return log_oom();
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid environment assignment '%s'.", e);
        }

        if (!eq) {
                const char *val = getenv(v);
                if (!val)
                        return 0;     /* like nspawn: unset in our environment, nothing to pass */
                a = strjoin(v, "=", val);
        } else
                a = strdup(v);
        if (!a)
                return log_oom();
        r = strv_env_set(&c->setenv, a);
        return r < 0 ? log_oom() : 0;
}

static int parse_caps(const char *opt, const char *v, uint64_t *set) {
        _cleanup_free_ char *bad = NULL;
        uint64_t s;
        int r;

        r = capability_set_from_string(v, &s, &bad);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown capability '%s' in %s=%s.",
                                       strempty(bad), opt, v);
        *set |= s;
        return 0;
}

static int parse_private_users(SpawnConfig *c, const char *arg) {
        _cleanup_free_ char *base = NULL;
        const char *colon;
        uint64_t b, n = 65536;
        int r;

        if (streq(strempty(arg), "pick")) {
                c->private_users = PRIVATE_USERS_PICK;
                return 0;
        }
        if (!arg) {
                c->private_users = PRIVATE_USERS_YES;
                return 0;
        }
        if (streq(arg, "identity")) {
                c->private_users = PRIVATE_USERS_IDENTITY;
                return 0;
        }
        r = parse_boolean(arg);
        if (r >= 0) {
                c->private_users = r ? PRIVATE_USERS_YES : PRIVATE_USERS_NO;
                return 0;
        }

        colon = strchr(arg, ':');
        base = colon ? strndup(arg, (size_t) (colon - arg)) : strdup(arg);
        if (!base)
                return log_oom();
        if (safe_atou64(base, &b) < 0 || (colon && safe_atou64(colon + 1, &n) < 0))
                goto bad;
        /* Host UID 0 is never mapped by a numeric range; UIDs must stay below 2^32-1. */
        if (b == 0 || n == 0 || n > 65536 || b > UINT32_MAX - n)
                goto bad;
        c->private_users = PRIVATE_USERS_FIXED;
        c->uid_shift = (uint32_t) b;
        c->uid_range = (uint32_t) n;
        return 0;
bad:
        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                               "Invalid --private-users= value '%s': expected yes, no, pick, identity or BASE[:RANGE] with BASE > 0.", arg);
}

/* NEW[:OLD], both absolute paths inside the tree; OLD inside the new root */
static int parse_pivot_root(SpawnConfig *c, const char *arg) {
        _cleanup_strv_free_ char **parts = NULL;
        int r;

        r = strv_split_full(arg, ":", true, &parts);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0 || strv_length(parts) < 1 || strv_length(parts) > 2 ||
            check_path(parts[0], false) < 0 || (parts[1] && check_path(parts[1], false) < 0))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --pivot-root= '%s': expected NEW[:OLD], absolute and normalized paths.", arg);
        free(c->pivot_root_new);
        free(c->pivot_root_old);
        c->pivot_root_old = NULL;
        r = simplified(parts[0], &c->pivot_root_new);
        if (r >= 0 && parts[1])
                r = simplified(parts[1], &c->pivot_root_old);
        return r;
}

/* --root-hash-sig=: "base64:DATA" or the path of a file with the DER-encoded PKCS#7
 * signature, read here as systemd-nspawn does (so a settings file cannot name one). */
static int parse_root_hash_sig(SpawnConfig *c, const char *arg) {
        _cleanup_free_ void *data = NULL;
        const char *b64 = startswith(arg, "base64:");
        ssize_t n;

        if (b64) {
                n = base64_decode(b64, &data);
                if (n == -ENOMEM)
                        return log_oom();
                if (n <= 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid base64 in --root-hash-sig=.");
        } else {
                _cleanup_close_ int fd = -EBADF;
                char *buf = NULL;
                size_t size;
                int r;

                if (check_path(arg, false) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --root-hash-sig= '%s': expected base64:DATA or an absolute path.", arg);
                fd = open(arg, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to open root hash signature '%s': %m", arg);
                r = read_full_fd(fd, ROOT_HASH_SIG_MAX, &buf, &size);
                data = buf;
                if (r < 0)
                        return log_error_errno(r, "Failed to read root hash signature '%s': %m", arg);
                if (size == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Root hash signature '%s' is empty.", arg);
                n = (ssize_t) size;
        }
        if ((size_t) n > ROOT_HASH_SIG_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "--root-hash-sig= is larger than %u bytes.", ROOT_HASH_SIG_MAX);
        free(c->root_hash_sig);
        c->root_hash_sig = TAKE_PTR(data);
        c->root_hash_sig_size = (size_t) n;
        return 0;
}

/* --bind-user=NAME: a user name as systemd's strict rules allow it (the host user is looked
 * up at start, spawn-bind-user.c) */
static int parse_bind_user(SpawnConfig *c, const char *arg) {
        static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
        size_t l = strlen(arg);

        if (l == 0 || l > 31 || !strchr(first, arg[0]) ||
            strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") != l)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --bind-user= user name '%s'.", arg);
        if (strv_contains(c->bind_users, arg))
                return 0;
        return strv_extend(&c->bind_users, arg) < 0 ? log_oom() : 0;
}

static void dump_table(const char *const *table, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (table[i])
                        puts(table[i]);
}

static void dump_signals(void) {
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                char buf[16];
                const char *n = signal_to_string(sig, buf);

                puts(startswith(n, "SIG") ?: n);
        }
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
                printf("RTMIN+%i\n", sig - SIGRTMIN);
}

/* OPTION=help lists the choices one a line and exits 0, for the options systemd-nspawn
 * has it for (and --link-journal= and --personality=, where it has a fixed list too).
 * Returns 1 when it listed them, 0 when 'opt' has no such list. */
static int dump_choices(int opt) {
        switch (opt) {
        case ARG_CAPABILITY:
        case ARG_DROP_CAPABILITY:
        case ARG_AMBIENT_CAPABILITY:
                capability_dump_names();
                return 1;
        case ARG_RESOLV_CONF:
                dump_table(resolv_conf_mode_table, _RESOLV_CONF_MODE_MAX);
                return 1;
        case ARG_TIMEZONE:
                dump_table(timezone_mode_table, _TIMEZONE_MODE_MAX);
                return 1;
        case ARG_VOLATILE:
                dump_table(volatile_mode_table, _VOLATILE_MODE_MAX);
                return 1;
        case ARG_CONSOLE:
                dump_table(console_mode_table, _CONSOLE_MODE_MAX);
                return 1;
        case ARG_PRIVATE_USERS_OWNERSHIP:
                dump_table(users_ownership_table, _USERS_OWNERSHIP_MAX);
                return 1;
        case ARG_LINK_JOURNAL:
                dump_table(link_journal_table, _LINK_JOURNAL_MAX);
                return 1;
        case ARG_RLIMIT:
                for (int i = 0; i < RLIM_NLIMITS; i++)
                        puts(rlimit_to_name(i));
                return 1;
        case ARG_PERSONALITY:
                puts(strna(personality_to_name(PER_LINUX)));
                if (personality_to_name(PER_LINUX32))
                        puts(personality_to_name(PER_LINUX32));
                return 1;
        case ARG_KILL_SIGNAL:
                dump_signals();
                return 1;
        default:
                return 0;
        }
}

int spawn_config_option_from_name(const char *name, bool *ret_takes_arg) {
        for (const struct option *o = options; o->name; o++)
                if (streq(o->name, name)) {
                        if (ret_takes_arg)
                                *ret_takes_arg = o->has_arg != no_argument;
                        return o->val;
                }
        return -ENOENT;
}

const char *spawn_config_option_to_name(int opt) {
        for (const struct option *o = options; o->name; o++)
                if (o->val == opt)
                        return o->name;
        return NULL;
}

int spawn_config_parse_one(SpawnConfig *c, int opt, const char *arg) {
        int r;

        if (streq_ptr(arg, "help")) {
                r = dump_choices(opt);
                if (r != 0)
                        return r;
        }

        switch (opt) {
        case 'q':
                c->quiet = true;
                return 0;
        case 'D':
                return set_string(&c->directory, arg);
        case 'i':
                return set_string(&c->image, arg);
        case ARG_ROOT_HASH: {
                size_t l = strlen(arg);

                if (l < 64 || l % 2 != 0 || strspn(arg, "0123456789abcdefABCDEF") != l)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --root-hash= '%s': expected at least 256 bits in hex.", arg);
                return set_string(&c->root_hash, arg);
        }
        case ARG_ROOT_HASH_SIG:
                return parse_root_hash_sig(c, arg);
        case ARG_VERITY_DATA:
                return set_string(&c->verity_data, arg);
        case ARG_KEY_FILE:
                return set_string(&c->key_file, arg);
        case ARG_OCI_BUNDLE:
                return set_string(&c->oci_bundle, arg);
        case 'M':
                if (!machine_name_is_valid(arg))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name '%s'.", arg);
                return set_string(&c->machine, arg);
        case ARG_HOSTNAME:
                if (!hostname_is_valid(arg))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid hostname '%s'.", arg);
                return set_string(&c->hostname, arg);
        case ARG_UUID:
                if (id128_from_string(arg, &c->uuid) < 0 || id128_is_null(&c->uuid))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid UUID '%s'.", arg);
                return 0;
        case 'u':
                if (isempty(arg) || !string_is_safe(arg) || strchr(arg, ':') || strlen(arg) > 256)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid user name '%s'.", arg);
                return set_string(&c->user, arg);
        case ARG_CHDIR:
                if (check_path(arg, false) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --chdir= path '%s': must be absolute and normalized.", arg);
                return set_string(&c->chdir, arg);
        case 'E':
                return parse_setenv(c, arg);
        case 'a':
        case ARG_AS_PID2:
                c->as_pid2 = true;
                return 0;
        case ARG_READ_ONLY:
                c->read_only = true;
                return 0;
        case ARG_BIND:
        case ARG_BIND_RO:
                return custom_mount_parse_bind(c, arg, opt == ARG_BIND_RO);
        case ARG_TMPFS:
                return custom_mount_parse_tmpfs(c, arg);
        case ARG_OVERLAY:
        case ARG_OVERLAY_RO:
                return custom_mount_parse_overlay(c, arg, opt == ARG_OVERLAY_RO);
        case ARG_INACCESSIBLE:
                return custom_mount_parse_inaccessible(c, arg);
        case ARG_CAPABILITY:
                return parse_caps("--capability", arg, &c->capability_add);
        case ARG_DROP_CAPABILITY:
                return parse_caps("--drop-capability", arg, &c->capability_drop);
        case ARG_NO_NEW_PRIVILEGES:
                r = parse_boolean(arg);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --no-new-privileges= value '%s'.", arg);
                c->no_new_privileges = r;
                return 0;
        case ARG_SYSTEM_CALL_FILTER: {
                _cleanup_free_ char *bad = NULL;

                if (arg[strspn(arg, "~ \t")] == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "--system-call-filter='%s' names no system call or group.", arg);
                r = syscall_filter_parse(arg, &c->syscall_allow, &c->syscall_deny, &bad);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown system call or group '%s' in --system-call-filter=%s.",
                                               strempty(bad), arg);
                return 0;
        }
        case ARG_KILL_SIGNAL:
                r = signal_from_string(arg);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --kill-signal= value '%s'.", arg);
                c->kill_signal = r;
                return 0;
        case ARG_RESOLV_CONF:
                c->resolv_conf = resolv_conf_mode_from_string(arg);
                if (c->resolv_conf < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --resolv-conf= mode '%s'.", arg);
                return 0;
        case ARG_TIMEZONE:
                c->timezone = timezone_mode_from_string(arg);
                if (c->timezone < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --timezone= mode '%s'.", arg);
                return 0;
        case ARG_CONSOLE:
                c->console = console_mode_from_string(arg);
                if (c->console < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --console= mode '%s'.", arg);
                return 0;
        case 'P':
                c->console = CONSOLE_PIPE;
                return 0;
        case 'b':
                c->boot = true;
                return 0;
        case 'x':
                c->ephemeral = true;
                return 0;
        case ARG_PROPERTY:
                if (startswith(arg, "DevicePolicy=") || startswith(arg, "DeviceAllow="))
                        return device_property_parse(c, arg);
                return resource_limits_parse(&c->limits, arg);
        case ARG_REGISTER:
                if (streq(arg, "auto")) {
                        c->register_mode = REGISTER_AUTO;
                        return 0;
                }
                r = parse_boolean(arg);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --register= value '%s'.", arg);
                c->register_mode = r ? REGISTER_YES : REGISTER_NO;
                return 0;
        case ARG_KEEP_UNIT:
                c->keep_unit = true;
                return 0;
        case ARG_PRIVATE_NETWORK:
                c->private_network = true;
                return 0;
        case 'n':
                c->private_network = c->network_veth = true;
                return 0;
        case ARG_NETWORK_ZONE:
                /* the bridge is vz-NAME, which must fit IFNAMSIZ */
                if (!hostname_is_valid(arg) || strchr(arg, '.') || strlen(arg) > 12)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --network-zone= name '%s': up to 12 characters of [A-Za-z0-9-].", arg);
                c->private_network = true;
                return set_string(&c->network_zone, arg);
        case ARG_NETWORK_BRIDGE:
                if (!ifname_valid(arg))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --network-bridge= name '%s'.", arg);
                c->private_network = true;
                return set_string(&c->network_bridge, arg);
        case ARG_NETWORK_INTERFACE:
        case ARG_NETWORK_MACVLAN:
        case ARG_NETWORK_IPVLAN: {
                char ***l = opt == ARG_NETWORK_INTERFACE ? &c->network_interfaces :
                            opt == ARG_NETWORK_MACVLAN ? &c->network_macvlan : &c->network_ipvlan;

                /* mv-/iv- plus the name must fit IFNAMSIZ inside the machine */
                if (!ifname_valid(arg) || (opt != ARG_NETWORK_INTERFACE && strlen(arg) > IFNAMSIZ - 1 - 3))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid interface name '%s'.", arg);
                c->private_network = true;
                return strv_extend(l, arg) < 0 ? log_oom() : 0;
        }
        case ARG_NETWORK_VETH_EXTRA: {
                _cleanup_strv_free_ char **p = NULL;
                _cleanup_free_ char *pair = NULL;

                if (strv_split_full(arg, ":", false, &p) < 0)
                        return log_oom();
                if (strv_length(p) < 1 || strv_length(p) > 2 || !ifname_valid(p[0]) || (p[1] && !ifname_valid(p[1])))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --network-veth-extra= '%s': expected HOSTIF[:MACHINEIF].", arg);
                pair = strjoin(p[0], ":", p[1] ?: p[0]);
                c->private_network = true;
                return !pair || strv_extend(&c->network_veth_extra, pair) < 0 ? log_oom() : 0;
        }
        case 'p': {
                PortForward *p;

                p = realloc(c->ports, sizeof(PortForward) * (c->n_ports + 1));
                if (!p)
                        return log_oom();
                c->ports = p;
                r = port_forward_parse(arg, &c->ports[c->n_ports]);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --port= '%s': expected [tcp|udp:]HOSTPORT[:MACHINEPORT].", arg);
                c->n_ports++;
                return 0;
        }
        case ARG_TEMPLATE:
                if (check_path(arg, false) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --template= path '%s': must be absolute and normalized.", arg);
                return set_string(&c->template, arg);
        case 'j':
                c->link_journal = LINK_JOURNAL_TRY_GUEST;
                return 0;
        case ARG_LINK_JOURNAL:
                c->link_journal = link_journal_from_string(arg);
                if (c->link_journal < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --link-journal= mode '%s'.", arg);
                return 0;
        case 'U':
                c->private_users = PRIVATE_USERS_PICK;
                c->users_ownership = USERS_OWNERSHIP_AUTO;
                return 0;
        case ARG_PRIVATE_USERS:
                return parse_private_users(c, arg);
        case ARG_PRIVATE_USERS_OWNERSHIP:
                c->users_ownership = users_ownership_from_string(arg);
                if (c->users_ownership < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --private-users-ownership= mode '%s'.", arg);
                return 0;
        case 'S':
        case ARG_SLICE: {
                _cleanup_free_ char *p = NULL;

                if (slice_to_path(arg, &p) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --slice= name '%s': expected NAME.slice.", arg);
                return set_string(&c->slice, arg);
        }
        case ARG_VOLATILE:
                if (!arg) {
                        c->volatile_mode = VOLATILE_YES;
                        return 0;
                }
                r = parse_boolean(arg);
                c->volatile_mode = r >= 0 ? (r ? VOLATILE_YES : VOLATILE_NO) : volatile_mode_from_string(arg);
                if (c->volatile_mode < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --volatile= mode '%s'.", arg);
                return 0;
        case ARG_RLIMIT:
                return process_parse_rlimit(&c->process, arg);
        case ARG_OOM_SCORE_ADJUST:
                return process_parse_oom_score_adjust(&c->process, arg);
        case ARG_CPU_AFFINITY:
                return process_parse_cpu_affinity(&c->process, arg);
        case ARG_PERSONALITY:
                return process_parse_personality(&c->process, arg);
        case ARG_AMBIENT_CAPABILITY:
                return parse_caps("--ambient-capability", arg, &c->process.capability_ambient);
        case ARG_SET_CREDENTIAL:
                return credential_parse_set(&c->credentials, arg);
        case ARG_LOAD_CREDENTIAL:
                return credential_parse_load(&c->credentials, arg);
        case ARG_NETWORK_NAMESPACE_PATH:
                if (check_path(arg, false) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --network-namespace-path= '%s': must be absolute and normalized.", arg);
                return set_string(&c->network_namespace_path, arg);
        case ARG_PIVOT_ROOT:
                return parse_pivot_root(c, arg);
        case ARG_SUPPRESS_SYNC:
                r = parse_boolean(arg);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --suppress-sync= value '%s'.", arg);
                c->suppress_sync = r;
                return 0;
        case ARG_BIND_USER:
                return parse_bind_user(c, arg);
        case 'Z':
        case 'L':
                /* nspawn passes it quoted (context="..."), so a quote cannot be part of it */
                if (isempty(arg) || !string_is_safe(arg) || strchr(arg, '"') || strlen(arg) > 4096)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid SELinux context '%s'.", arg);
                return set_string(opt == 'Z' ? &c->selinux_context : &c->selinux_apifs_context, arg);
        case ARG_NO_PAGER:
                /* berth-spawn never starts a pager; accepted for systemd-nspawn command lines */
                return 0;
        case ARG_NOTIFY_READY:
                r = parse_boolean(arg);
                if (r < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --notify-ready= value '%s'.", arg);
                c->notify_ready = r;
                return 0;
        case ARG_SETTINGS:
                r = parse_boolean(arg);
                c->settings_mode = r >= 0 ? (r ? SETTINGS_YES : SETTINGS_NO) : settings_mode_from_string(arg);
                if (c->settings_mode < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --settings= mode '%s': expected yes, no, trusted or override.", arg);
                return 0;
        case SPAWN_OPTION_COMMAND_WORD:
                return strv_extend(&c->command, arg) < 0 ? log_oom() : 0;
        default:
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unhandled option %i.", opt);
        }
}

void spawn_config_init(SpawnConfig *c) {
        *c = (SpawnConfig) {
                .kill_signal = -1,
                .process = PROCESS_SETTINGS_NULL,
                .console = _CONSOLE_MODE_INVALID,
                .limits = RESOURCE_LIMITS_NULL,
                .users_ownership = _USERS_OWNERSHIP_INVALID,
                .link_journal = LINK_JOURNAL_AUTO,
                .register_mode = REGISTER_AUTO,
                .resolv_conf = RESOLV_CONF_AUTO,
                .timezone = TIMEZONE_AUTO,
        };
}

int spawn_config_parse_argv_masked(SpawnConfig *c, int argc, char *argv[], uint64_t skip_mask) {
        int opt, r;

        spawn_config_init(c);

        /* '+' : stop at the first non-option, which starts the payload's command line. */
        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+hqabxUjnD:i:M:u:E:S:Pp:Z:L:", options, NULL)) >= 0) {
                uint64_t m;

                switch (opt) {
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("berth-spawn %s\n", PROJECT_VERSION);
                        return 1;
                case '?':
                        if (optopt > 0 && optopt < 0x100)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown or incomplete option '-%c'.", optopt);
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown or incomplete option '%s'.", argv[optind - 1]);
                default:
                        /* which settings-file keys this option masks (systemd-nspawn's precedence) */
                        m = spawn_settings_option_mask(opt, optarg);
                        if (m & skip_mask)
                                continue;
                        c->settings_mask |= m;
                        r = spawn_config_parse_one(c, opt, optarg);
                        if (r != 0)
                                return r;      /* an error, or 1 after OPTION=help */
                }
        }

        if (optind < argc && !(skip_mask & SETTING_START_MODE)) {
                c->command = strv_copy(argv + optind);
                if (!c->command)
                        return log_oom();
                c->settings_mask |= SETTING_START_MODE;
        }
        return 0;
}

int spawn_config_parse_argv(SpawnConfig *c, int argc, char *argv[]) {
        return spawn_config_parse_argv_masked(c, argc, argv, 0);
}

/* Neither -D nor -i: as systemd-nspawn, look for a tree or raw image named like the machine
 * in the image search path (this is how berth-spawn@NAME.service finds NAME), the same
 * lookup berthd's GetImage does. */
static int find_machine_image(SpawnConfig *c) {
        _cleanup_(image_pool_done) ImagePool pool = {};
        _cleanup_(image_freep) Image *i = NULL;
        int r;

        r = image_pool_init(&pool, NULL, NULL);
        if (r < 0)
                return log_oom();
        r = image_find(&pool, c->machine, &i);
        if (r == -ENOENT) {
                _cleanup_free_ char *dirs = NULL;

                STRV_FOREACH(d, pool.search) {
                        char *n = dirs ? strjoin(dirs, ", ", *d) : strdup(*d);

                        if (!n)
                                return log_oom();
                        free(dirs);
                        dirs = n;
                }
                return log_error_errno(r, "No directory or raw image named '%s' in %s; use -D or -i.", c->machine, dirs);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to look for image '%s': %m", c->machine);
        if (i->type == IMAGE_RAW || i->type == IMAGE_BLOCK)
                c->image = TAKE_PTR(i->path);
        else
                c->directory = TAKE_PTR(i->path);
        return 0;
}

static int finalize_directory(SpawnConfig *c) {
        _cleanup_free_ char *usr = NULL;
        struct stat st;

        if (!c->directory)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "No root directory given; use -D/--directory=PATH or -i/--image=PATH.");
        if (c->root_hash || c->root_hash_sig || c->verity_data || c->key_file)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "--root-hash=, --root-hash-sig=, --verity-data= and --key-file= need -i/--image=.");

        if (c->template && c->ephemeral)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--template= and --ephemeral cannot be combined.");
        if (c->template && stat(c->directory, &st) < 0 && errno == ENOENT) {
                /* the tree to check is the template; the directory is made from it at start */
                c->from_template = true;
                if (stat(c->template, &st) < 0)
                        return log_error_errno(errno, "Failed to access template '%s': %m", c->template);
        } else if (stat(c->directory, &st) < 0)
                return log_error_errno(errno, "Failed to access root directory '%s': %m", c->directory);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR), "Root directory '%s' is not a directory.",
                                       c->from_template ? c->template : c->directory);
        if (path_is_normalized(c->directory) && streq(path_simplify(c->directory), "/"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Refusing to use the host's root directory '/' as a machine.");

        usr = path_join(c->from_template ? c->template : c->directory, "usr");
        if (!usr)
                return log_oom();
        if (stat(usr, &st) < 0 || !S_ISDIR(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Directory '%s' has no /usr directory; it does not look like an OS tree.",
                                       c->from_template ? c->template : c->directory);

        if (!c->machine) {
                _cleanup_free_ char *real = realpath(c->directory, NULL), *base = NULL;

                base = path_basename(real ?: c->directory);
                c->machine = base ? machine_name_from_string(base) : NULL;
                if (!c->machine)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Cannot derive a machine name from directory '%s'; use -M/--machine=NAME.",
                                               c->directory);
        }
        return 0;
}

/* -i/--image=: what can be checked without touching the image; it is dissected at start. */
static int finalize_image(SpawnConfig *c) {
        struct stat st;

        if (c->directory)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "-D/--directory= and -i/--image= cannot be combined.");
        if (c->template)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--template= is for directories; it cannot be combined with -i/--image=.");
        if (stat(c->image, &st) < 0)
                return log_error_errno(errno, "Failed to access image '%s': %m", c->image);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Image '%s' is neither a regular file nor a block device.", c->image);
        if (c->verity_data && stat(c->verity_data, &st) < 0)
                return log_error_errno(errno, "Failed to access verity data '%s': %m", c->verity_data);
        if (c->key_file && stat(c->key_file, &st) < 0)
                return log_error_errno(errno, "Failed to access key file '%s': %m", c->key_file);

        if (!c->machine) {
                _cleanup_free_ char *real = realpath(c->image, NULL), *base = NULL;
                char *dot;

                /* as systemd-nspawn: the image's name without its .raw suffix */
                base = path_basename(real ?: c->image);
                if (base && (dot = strrchr(base, '.')) && streq(dot, ".raw"))
                        *dot = 0;
                c->machine = base ? machine_name_from_string(base) : NULL;
                if (!c->machine)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Cannot derive a machine name from image '%s'; use -M/--machine=NAME.", c->image);
        }
        return 0;
}

static int check_network_namespace(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        int t;

        if (fd < 0)
                return log_error_errno(errno, "Failed to open network namespace '%s': %m", path);
        t = ioctl(fd, NS_GET_NSTYPE);
        if (t < 0 && errno == ENOTTY)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "'%s' is not a namespace file.", path);
        if (t < 0)
                return log_error_errno(errno, "Failed to check namespace '%s': %m", path);
        if (t != CLONE_NEWNET)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "'%s' is not a network namespace.", path);
        return 0;
}

/* An environment variable as a boolean; 'def' when unset, -EINVAL (logged) when invalid. */
static int getenv_bool(const char *name, int def) {
        const char *v = getenv(name);
        int r;

        if (!v)
                return def;
        r = parse_boolean(v);
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid $%s value '%s': expected a boolean.", name, v);
        return r;
}

/* $SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 mounts the host's v1 hierarchies in the machine, as
 * systemd-nspawn does: there is nothing to mount on a host that has none. */
static int check_legacy_cgroup(SpawnConfig *c) {
        int r;

        if (c->no_cgns)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "$SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 with $SYSTEMD_NSPAWN_USE_CGNS=0 is not supported: the legacy cgroup layout is mounted in the machine's cgroup namespace.");
        r = cgroup_v1_hierarchies(&c->legacy_cgroup_hierarchies, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read the cgroup hierarchies from /proc/self/cgroup: %m");
        if (!c->legacy_cgroup_hierarchies || !c->legacy_cgroup_hierarchies[0])
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "$SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 needs cgroup v1 hierarchies on the host, and this host has only cgroup2.");
        return 0;
}

/* The debugging variables of systemd-nspawn that change the machine's set-up, with its
 * meaning and the combinations it refuses. */
static int read_nspawn_environment(SpawnConfig *c) {
        const char *v = getenv("SYSTEMD_NSPAWN_API_VFS_WRITABLE");
        int r;

        if (streq_ptr(v, "network"))
                c->api_vfs = API_VFS_NETWORK;
        else {
                r = getenv_bool("SYSTEMD_NSPAWN_API_VFS_WRITABLE", false);
                if (r < 0)
                        return r;
                c->api_vfs = r ? API_VFS_WRITABLE : API_VFS_READ_ONLY;
        }
        if (c->api_vfs == API_VFS_WRITABLE && c->private_users != PRIVATE_USERS_NO)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Cannot combine --private-users with read-write mounts ($SYSTEMD_NSPAWN_API_VFS_WRITABLE).");
        if (c->api_vfs == API_VFS_NETWORK && c->private_users != PRIVATE_USERS_NO && !c->private_network)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid namespacing settings. Mounting sysfs with --private-users requires --private-network.");

        r = getenv_bool("SYSTEMD_NSPAWN_TMPFS_TMP", true);
        if (r < 0)
                return r;
        c->no_tmpfs_tmp = !r;
        r = getenv_bool("SYSTEMD_NSPAWN_LOCK", true);
        if (r < 0)
                return r;
        c->no_image_lock = !r;

        r = getenv_bool("SYSTEMD_NSPAWN_USE_CGNS", true);
        if (r < 0)
                return r;
        c->no_cgns = !r;
        r = getenv_bool("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", true);
        if (r < 0)
                return r;
        c->legacy_cgroup = !r;
        return c->legacy_cgroup ? check_legacy_cgroup(c) : 0;
        return 0;
}

int spawn_config_determine_names(SpawnConfig *c) {
        int r;

        if (c->oci_bundle) {
                r = spawn_config_apply_oci_bundle(c);
                if (r < 0)
                        return r;
        }
        if (!c->directory && !c->image && c->machine) {
                r = find_machine_image(c);
                if (r < 0)
                        return r;
        }
        return c->image ? finalize_image(c) : finalize_directory(c);
}

int spawn_config_finalize(SpawnConfig *c) {
        struct stat st;
        int r;

        r = spawn_config_determine_names(c);
        if (r < 0)
                return r;
        if (!c->hostname) {
                c->hostname = strdup(c->machine);
                if (!c->hostname)
                        return log_oom();
        }
        if (id128_is_null(&c->uuid)) {
                r = id128_randomize(&c->uuid);
                if (r < 0)
                        return log_error_errno(r, "Failed to generate a machine UUID: %m");
        }
        r = read_nspawn_environment(c);
        if (r < 0)
                return r;

        /* as systemd-nspawn: ownership adapts by default only for picked ranges */
        if (c->users_ownership < 0)
                c->users_ownership = c->private_users == PRIVATE_USERS_PICK ? USERS_OWNERSHIP_AUTO : USERS_OWNERSHIP_OFF;

        /* as systemd-nspawn: the users' UIDs are holes in the machine's range */
        if (c->bind_users && c->private_users == PRIVATE_USERS_NO)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--bind-user= requires --private-users (-U).");

        if (c->n_ports > 0 && !c->network_veth && !c->network_zone)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--port= needs -n/--network-veth or --network-zone=.");
        /* as systemd-nspawn 252: the joined namespace is configured by whoever made it */
        if (c->network_namespace_path &&
            (c->private_network || c->network_veth || c->network_zone || c->network_bridge || c->network_interfaces ||
             c->network_macvlan || c->network_ipvlan || c->network_veth_extra))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--network-namespace-path= cannot be combined with other network options.");
        if (c->network_namespace_path) {
                r = check_network_namespace(c->network_namespace_path);
                if (r < 0)
                        return r;
        }
        if (!!c->network_veth + !!c->network_zone + !!c->network_bridge > 1)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Only one of --network-veth, --network-zone= and --network-bridge= can be given.");

        if (c->ephemeral && c->volatile_mode != VOLATILE_NO)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--ephemeral and --volatile= cannot be combined.");
        /* the root is a fresh tmpfs that must be written to before the machine starts */
        if (c->read_only && c->volatile_mode == VOLATILE_YES)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--read-only and --volatile=yes cannot be combined.");
        if (c->keep_unit && c->slice)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "--keep-unit and --slice=%s cannot be combined: the machine stays in the caller's unit.",
                                       c->slice);
        if (c->volatile_mode == VOLATILE_STATE)
                c->read_only = true;
        if (c->boot && c->as_pid2)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--boot and --as-pid2 cannot be combined: the init is PID 1.");
        if (c->boot && c->user)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--boot and --user cannot be combined: the init runs as root.");

        if (c->process.capability_ambient != 0) {
                if (c->process.capability_ambient == capability_all())
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--ambient-capability= does not support the value all.");
                if ((c->process.capability_ambient & spawn_config_bounding_set(c)) != c->process.capability_ambient)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "--ambient-capability= is not fully covered by the bounding set (see --capability=).");
                if (c->boot)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--ambient-capability= is not useful with --boot.");
        }

        /* A booted systemd powers off cleanly on SIGRTMIN+3. */
        if (c->kill_signal <= 0)
                c->kill_signal = c->boot ? SIGRTMIN + 3 : SIGKILL;

        if (c->console < 0)
                c->console = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) ? CONSOLE_INTERACTIVE : CONSOLE_READ_ONLY;
        else if (c->console == CONSOLE_AUTOPIPE)
                c->console = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) ? CONSOLE_INTERACTIVE : CONSOLE_PIPE;
        if (c->console == CONSOLE_INTERACTIVE && !isatty(STDIN_FILENO))
                c->console = CONSOLE_READ_ONLY;

        for (size_t i = 0; i < c->n_mounts; i++) {
                CustomMount *m = &c->mounts[i];

                if (m->type == CUSTOM_MOUNT_BIND && !m->source_in_tree && stat(m->source, &st) < 0)
                        return log_error_errno(errno, "Failed to access bind mount source '%s': %m", m->source);
                if (m->type == CUSTOM_MOUNT_OVERLAY && m->upper &&
                    (stat(m->upper, &st) < 0 || !S_ISDIR(st.st_mode)))
                        return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR),
                                               "Overlay upper directory '%s' is not an existing directory.", m->upper);
        }

        if (c->quiet)
                log_set_max_level(LOG_WARNING);
        return 0;
}

int spawn_config_namespaces_kept(const SpawnConfig *c) {
        int flags = c->namespaces_shared;

        for (size_t i = 0; i < c->n_namespace_joins; i++)
                flags |= c->namespace_joins[i].type;
        return flags;
}

uint64_t spawn_config_bounding_set(const SpawnConfig *c) {
        uint64_t s = capability_default_set() | c->capability_add;

        /* a network of its own is the machine's to configure, as with systemd-nspawn */
        if (c->private_network)
                s |= UINT64_C(1) << CAP_NET_ADMIN;
        return s & ~c->capability_drop & capability_all();
}
