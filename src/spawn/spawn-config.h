/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cgroup-setup.h"
#include "id-map.h"
#include "macro.h"
#include "oci-hooks.h"
#include "parse-util.h"
#include "seccomp-util.h"
#include "spawn-creds.h"
#include "spawn-process.h"

typedef enum ConsoleMode {
        CONSOLE_INTERACTIVE,
        CONSOLE_READ_ONLY,
        CONSOLE_PASSIVE,
        CONSOLE_PIPE,
        CONSOLE_AUTOPIPE,
        _CONSOLE_MODE_MAX,
        _CONSOLE_MODE_INVALID = -EINVAL,
} ConsoleMode;

typedef enum ResolvConfMode {
        RESOLV_CONF_OFF,
        RESOLV_CONF_COPY_HOST,
        RESOLV_CONF_COPY_STATIC,
        RESOLV_CONF_COPY_UPLINK,
        RESOLV_CONF_COPY_STUB,
        RESOLV_CONF_REPLACE_HOST,
        RESOLV_CONF_REPLACE_STATIC,
        RESOLV_CONF_REPLACE_UPLINK,
        RESOLV_CONF_REPLACE_STUB,
        RESOLV_CONF_BIND_HOST,
        RESOLV_CONF_BIND_STATIC,
        RESOLV_CONF_BIND_UPLINK,
        RESOLV_CONF_BIND_STUB,
        RESOLV_CONF_DELETE,
        RESOLV_CONF_AUTO,
        _RESOLV_CONF_MODE_MAX,
        _RESOLV_CONF_MODE_INVALID = -EINVAL,
} ResolvConfMode;

typedef enum TimezoneMode {
        TIMEZONE_OFF,
        TIMEZONE_COPY,
        TIMEZONE_BIND,
        TIMEZONE_SYMLINK,
        TIMEZONE_DELETE,
        TIMEZONE_AUTO,
        _TIMEZONE_MODE_MAX,
        _TIMEZONE_MODE_INVALID = -EINVAL,
} TimezoneMode;

typedef enum VolatileMode {
        VOLATILE_NO,
        VOLATILE_YES,            /* tmpfs root, the tree's /usr read-only */
        VOLATILE_STATE,          /* the tree read-only, tmpfs /var */
        VOLATILE_OVERLAY,        /* overlayfs root with a tmpfs upper layer */
        _VOLATILE_MODE_MAX,
        _VOLATILE_MODE_INVALID = -EINVAL,
} VolatileMode;

typedef enum PrivateUsers {
        PRIVATE_USERS_NO,
        PRIVATE_USERS_YES,       /* the range starts at the tree's owner */
        PRIVATE_USERS_PICK,      /* a free 64K range, locked under /run/berth */
        PRIVATE_USERS_IDENTITY,  /* 0..65535 mapped onto itself */
        PRIVATE_USERS_FIXED,     /* BASE[:RANGE] */
        PRIVATE_USERS_MAPPED,    /* OCI linux.uidMappings/gidMappings as given (uid_map, gid_map) */
        _PRIVATE_USERS_MAX,
        _PRIVATE_USERS_INVALID = -EINVAL,
} PrivateUsers;

typedef enum UsersOwnership {
        USERS_OWNERSHIP_OFF,
        USERS_OWNERSHIP_CHOWN,
        USERS_OWNERSHIP_MAP,
        USERS_OWNERSHIP_AUTO,
        _USERS_OWNERSHIP_MAX,
        _USERS_OWNERSHIP_INVALID = -EINVAL,
} UsersOwnership;

typedef enum LinkJournal {
        LINK_JOURNAL_NO,
        LINK_JOURNAL_HOST,
        LINK_JOURNAL_TRY_HOST,
        LINK_JOURNAL_GUEST,
        LINK_JOURNAL_TRY_GUEST,
        LINK_JOURNAL_AUTO,
        _LINK_JOURNAL_MAX,
        _LINK_JOURNAL_INVALID = -EINVAL,
} LinkJournal;

typedef enum ApiVfsMode {
        API_VFS_READ_ONLY,       /* the default: /sys and /proc/sys read-only */
        API_VFS_WRITABLE,        /* $SYSTEMD_NSPAWN_API_VFS_WRITABLE=yes */
        API_VFS_NETWORK,         /* =network: /sys writable with a network namespace of its own */
} ApiVfsMode;

typedef enum RegisterMode {
        REGISTER_NO,
        REGISTER_YES,
        REGISTER_AUTO,
} RegisterMode;

typedef enum CustomMountType {
        CUSTOM_MOUNT_BIND,
        CUSTOM_MOUNT_TMPFS,
        CUSTOM_MOUNT_OVERLAY,
        CUSTOM_MOUNT_INACCESSIBLE,
        CUSTOM_MOUNT_API,        /* OCI: an API file system (/proc, /dev, ...) with the config's source and options */
        CUSTOM_MOUNT_READ_ONLY,  /* OCI linux.readonlyPaths: the path re-bound read-only */
        _CUSTOM_MOUNT_TYPE_MAX,
} CustomMountType;

/* OCI linux.devices: a node made in the machine after its mounts */
typedef struct DeviceNode {
        char *path;
        mode_t mode;             /* S_IFCHR/S_IFBLK/S_IFIFO | permissions */
        dev_t dev;
        uid_t uid;
        gid_t gid;
} DeviceNode;

/* OCI linux.namespaces[].path: an existing namespace the machine joins */
typedef struct NamespaceJoin {
        int type;                /* CLONE_NEW* */
        char *path;
} NamespaceJoin;

#define NAMESPACE_JOIN_MAX 8

typedef enum BindIdmap {
        BIND_IDMAP_NO,           /* noidmap: files keep their host owners */
        BIND_IDMAP_YES,          /* idmap: UID N on disk is N inside */
        BIND_IDMAP_ROOT,         /* rootidmap: the source's owner is root inside */
        BIND_IDMAP_MAPPED,       /* OCI idmap/ridmap: the mount's own idmap_uid/idmap_gid */
} BindIdmap;

typedef struct CustomMount {
        CustomMountType type;
        BindIdmap idmap;         /* bind: idmap, noidmap, rootidmap */
        bool read_only;
        bool recursive;          /* bind: rbind (default) or norbind */
        bool optional;           /* inaccessible, read-only: skipped if the path does not exist */
        char *source;            /* bind: host path, or tree-relative when source_in_tree; API: the file system's source */
        bool source_in_tree;     /* source was given as "+PATH" */
        char *destination;       /* absolute path inside the machine */
        char *options;           /* tmpfs, API: mount options */
        char **lower;            /* overlay: lower directories, lowest first ("+" means tree-relative) */
        char *upper;             /* overlay: writable upper directory, NULL for --overlay-ro */
        IdMap idmap_uid, idmap_gid; /* BIND_IDMAP_MAPPED: on disk (inside) -> seen (outside) */
        bool idmap_recursive;    /* BIND_IDMAP_MAPPED: ridmap, every mount of an rbind */
} CustomMount;

typedef struct ResourceLimits {
        uint64_t memory_max;       /* UINT64_MAX: infinity */
        uint64_t memory_high;
        uint64_t tasks_max;
        uint64_t cpu_quota_per_sec_usec;
        uint64_t cpu_weight;       /* 0: unset */
        uint64_t io_weight;        /* 0: unset */
        /* OCI linux.resources only: the v1 values as given, cpuset and device rules */
        uint64_t cpu_period_usec;  /* the CFS period CPUQuota is applied with; 0: 100 ms */
        uint64_t cpu_shares;       /* v1 cpu.shares exactly; 0: from cpu_weight */
        uint64_t cpu_rt_period_usec;
        int64_t cpu_rt_runtime_usec;
        char cpuset_cpus[CGROUP_CPUSET_MAX], cpuset_mems[CGROUP_CPUSET_MAX]; /* "": unset */
        CgroupDeviceRule devices[CGROUP_DEVICE_RULES_MAX];
        size_t n_devices;
        bool memory_max_set, memory_high_set, tasks_max_set, cpu_quota_set;
        bool cpu_rt_period_set, cpu_rt_runtime_set;
} ResourceLimits;

#define RESOURCE_LIMITS_NULL { .memory_max = UINT64_MAX, .memory_high = UINT64_MAX, .tasks_max = UINT64_MAX }

/* --property=DevicePolicy= (systemd's names) */
typedef enum DevicePolicyMode {
        DEVICE_POLICY_DEFAULT,   /* closed without -U, none with it (the kernel refuses nodes there) */
        DEVICE_POLICY_AUTO,      /* none */
        DEVICE_POLICY_CLOSED,    /* closed, with -U too */
        DEVICE_POLICY_STRICT,    /* as closed: berth's pseudo devices are explicit allows, as
                                  * in systemd-nspawn's scope */
} DevicePolicyMode;

/* --property=DeviceAllow=: a host node (/dev/...) or a class as /proc/devices names it
 * (char-NAME, block-NAME; NAME may be a glob), with its access, a subset of "rwm" */
typedef struct DeviceAllowSpec {
        char *spec;
        char access[4];
} DeviceAllowSpec;

typedef struct PortForward PortForward;

/* the kernel's limit for a dm-verity root hash signature is the page size; a PKCS#7
 * signature is a few KiB */
#define ROOT_HASH_SIG_MAX 65536U

/* --settings=: whether and how NAME.nspawn files are read (systemd-nspawn's modes) */
typedef enum SettingsMode {
        SETTINGS_YES,            /* read; the command line wins; trust by the file's location */
        SETTINGS_NO,             /* never look for a file */
        SETTINGS_TRUSTED,        /* read, and trust it wherever it is */
        SETTINGS_OVERRIDE,       /* read; the file wins over the command line */
        _SETTINGS_MODE_MAX,
        _SETTINGS_MODE_INVALID = -EINVAL,
} SettingsMode;

/* What the user asked for: argv (later settings files, an OCI config.json), parsed and
 * finalized once, then read-only for the launch pipeline (const SpawnConfig *). What the
 * pipeline picks and makes goes into SpawnState (spawn-state.h). */
typedef struct SpawnConfig {
        char *directory;         /* -D; the tree the machine runs on is SpawnState.directory */
        char *image;             /* -i/--image=: a raw disk image or block device */
        char *root_hash;         /* --root-hash=, hex */
        char *verity_data;       /* --verity-data=: hash tree of a bare image, outside it */
        char *key_file;          /* --key-file=: passphrase for LUKS partitions of the image */
        void *root_hash_sig;     /* --root-hash-sig=: PKCS#7 signature of the root hash (DER) */
        size_t root_hash_sig_size;
        char *oci_bundle;        /* --oci-bundle=: read by finalize (spawn-oci.c) */
        char *machine;
        char *hostname;
        Id128 uuid;
        char *user;
        char *chdir;
        char *pivot_root_new;    /* --pivot-root=NEW[:OLD], paths inside the tree */
        char *pivot_root_old;
        char **setenv;           /* NAME=VALUE */
        char **bind_users;       /* --bind-user=: host users made users of the machine (spawn-bind-user.c) */
        char *selinux_context;   /* -Z: the payload's SELinux exec context */
        char *selinux_apifs_context; /* -L: context= of the API file systems (tmpfs, devpts) */
        CredentialSet credentials; /* --set-credential=, --load-credential= */
        bool as_pid2;
        bool boot;               /* run the tree's init; command holds its arguments */
        bool notify_ready;       /* wait for the guest's READY=1 before telling our supervisor */
        bool read_only;
        bool ephemeral;          /* -x: run on a throwaway copy */
        char *template;          /* --template=: populate a missing directory from this tree */
        bool from_template;      /* set by finalize: the directory is to be made from the template */
        VolatileMode volatile_mode;
        CustomMount *mounts;
        size_t n_mounts;
        uint64_t capability_add;
        uint64_t capability_drop;
        bool no_new_privileges;
        bool suppress_sync;      /* --suppress-sync: sync(), fsync()... do nothing */
        ProcessSettings process; /* --rlimit=, --oom-score-adjust=, --cpu-affinity=, --personality=,
                                  * --ambient-capability= */
        char **syscall_allow;
        char **syscall_deny;
        SeccompFilter oci_seccomp; /* an OCI linux.seccomp profile, compiled (seccomp-oci.h);
                                    * it replaces berth's own allow list */
        int kill_signal;
        bool quiet;
        ResolvConfMode resolv_conf;
        TimezoneMode timezone;
        ConsoleMode console;
        PrivateUsers private_users;
        UsersOwnership users_ownership;
        uint32_t uid_shift;      /* --private-users=BASE[:RANGE]; the range in use is SpawnState's */
        uint32_t uid_range;
        IdMap uid_map, gid_map;  /* PRIVATE_USERS_MAPPED */
        bool private_network;    /* own network namespace (implied by the options below) */
        bool network_veth;       /* -n: ve-NAME <-> host0 */
        char *network_zone;      /* vz-ZONE bridge */
        char *network_bridge;    /* an existing bridge the host end (vb-NAME) joins */
        char **network_interfaces; /* host links moved into the machine, given back at exit */
        char **network_macvlan;  /* host links to derive mv-LINK from */
        char **network_ipvlan;   /* host links to derive iv-LINK from */
        char **network_veth_extra; /* "HOST:MACHINE" extra veth pairs */
        char *network_namespace_path; /* join this existing network namespace */
        PortForward *ports;
        size_t n_ports;
        RegisterMode register_mode;
        bool keep_unit;          /* the machine's cgroup lives below berth-spawn's own, not in a slice */
        LinkJournal link_journal;
        ResourceLimits limits;   /* --property= */
        DevicePolicyMode device_policy; /* --property=DevicePolicy= */
        DeviceAllowSpec *device_allow;  /* --property=DeviceAllow=, in order */
        size_t n_device_allow;
        char *slice;             /* --slice=, default machine.slice */
        /* systemd-nspawn's environment variables (spawn_config_finalize() reads them) */
        ApiVfsMode api_vfs;      /* $SYSTEMD_NSPAWN_API_VFS_WRITABLE */
        bool no_tmpfs_tmp;       /* $SYSTEMD_NSPAWN_TMPFS_TMP=0: the tree's own /tmp */
        bool no_cgns;            /* $SYSTEMD_NSPAWN_USE_CGNS=0: no cgroup namespace */
        bool legacy_cgroup;      /* $SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0: cgroup v1 layout */
        char **legacy_cgroup_hierarchies; /* ... of the host's v1 hierarchies ("cpu,cpuacct") */
        bool no_image_lock;      /* $SYSTEMD_NSPAWN_LOCK=0: no lock on the image or tree */
        char **command;

        /* Set from an OCI config.json (spawn-oci.c), not from the command line: */
        bool detached;           /* berth-runc create: the payload outlives its launcher and
                                  * waits on SpawnState.start_fifo_fd before it executes */
        uint64_t capability_effective; /* process.capabilities.*, if set */
        uint64_t capability_permitted;
        uint64_t capability_inheritable;
        uint64_t capability_ambient;
        bool capability_effective_set;
        bool uid_set;            /* process.user: numeric IDs instead of 'user' */
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        mode_t umask;            /* process.user.umask */
        bool umask_set;
        unsigned preserve_fds;   /* fds 3..3+N-1 are passed to the payload (runc --preserve-fds) */
        char *cgroup_path;       /* relative to the cgroup2 root, instead of SLICE/machine-NAME.scope */
        SettingsMode settings_mode;
        uint64_t settings_mask;  /* SETTING_* groups the command line set (spawn-settings.h) */
        char *settings_file;     /* the NAME.nspawn file applied, if any */
        bool settings_trusted;

        /* OCI (berth-runc): namespaces the config does not list are the runtime's own
         * (CLONE_NEW* flags not to create); those listed with a path are joined. */
        int namespaces_shared;
        NamespaceJoin namespace_joins[NAMESPACE_JOIN_MAX];
        size_t n_namespace_joins;
        char **sysctl;           /* linux.sysctl, KEY=VALUE, written inside the machine */
        DeviceNode *devices;
        size_t n_devices;
        OciHooks oci_hooks;      /* config.json's hooks: the init stops for the create-time
                                  * ones and runs startContainer (spawn-hooks.h) */
} SpawnConfig;

/* The defaults before any option is parsed. */
void spawn_config_init(SpawnConfig *c);
void spawn_config_done(SpawnConfig *c);

/* Parse the command line into *c. No side effects beyond memory. Returns 0 to go on,
 * 1 when --help/--version was handled, or a negative errno after logging. */
int spawn_config_parse_argv(SpawnConfig *c, int argc, char *argv[]);
/* The same, leaving out the options of the SETTING_* groups in skip_mask: the settings
 * file's override mode rebuilds the configuration with it. */
int spawn_config_parse_argv_masked(SpawnConfig *c, int argc, char *argv[], uint64_t skip_mask);
/* Apply one option, as if given on the command line: the one parser of every setting,
 * also used for the keys of settings files. Logs its own failure. */
int spawn_config_parse_one(SpawnConfig *c, int opt, const char *arg);
/* The option id of the long option NAME (or -ENOENT), whether it takes a value, and
 * back. SPAWN_OPTION_COMMAND_WORD appends a word to the command (Parameters=). */
#define SPAWN_OPTION_COMMAND_WORD 0x7fff
int spawn_config_option_from_name(const char *name, bool *ret_takes_arg);
const char *spawn_config_option_to_name(int opt);
/* Find the image when neither -D nor -i was given, and derive the machine name. */
int spawn_config_determine_names(SpawnConfig *c);
/* Fill in defaults that depend on the environment (console mode from isatty, machine name
 * from the directory) and check what can be checked without touching anything. */
int spawn_config_finalize(SpawnConfig *c);

uint64_t spawn_config_bounding_set(const SpawnConfig *c);
/* CLONE_NEW* flags of the namespaces the machine does not make: the runtime's own, and
 * those it joins by path (OCI linux.namespaces). */
int spawn_config_namespaces_kept(const SpawnConfig *c);

const char *console_mode_to_string(ConsoleMode m);
ConsoleMode console_mode_from_string(const char *s);
const char *resolv_conf_mode_to_string(ResolvConfMode m);
ResolvConfMode resolv_conf_mode_from_string(const char *s);
const char *private_users_to_string(PrivateUsers m);
PrivateUsers private_users_from_string(const char *s);
const char *users_ownership_to_string(UsersOwnership m);
UsersOwnership users_ownership_from_string(const char *s);
const char *link_journal_to_string(LinkJournal m);
LinkJournal link_journal_from_string(const char *s);
const char *volatile_mode_to_string(VolatileMode m);
VolatileMode volatile_mode_from_string(const char *s);
const char *settings_mode_to_string(SettingsMode m);
SettingsMode settings_mode_from_string(const char *s);
const char *timezone_mode_to_string(TimezoneMode m);
TimezoneMode timezone_mode_from_string(const char *s);

/* Parsers for one option value each, exported for the unit tests and the fuzzer. */
int custom_mount_parse_bind(SpawnConfig *c, const char *spec, bool read_only);
int custom_mount_parse_tmpfs(SpawnConfig *c, const char *spec);
int custom_mount_parse_overlay(SpawnConfig *c, const char *spec, bool read_only);
int custom_mount_parse_inaccessible(SpawnConfig *c, const char *spec);
CustomMount *custom_mount_add(SpawnConfig *c, CustomMountType t);
