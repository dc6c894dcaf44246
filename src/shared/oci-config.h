/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-setup.h"
#include "id-map.h"
#include "macro.h"
#include "oci-hooks.h"

/* An OCI runtime bundle's config.json (runtime-spec 1.x, Linux), read into typed fields.
 * The file is untrusted input: every field is type-checked, a bad one fails the whole
 * read with one message naming it ("process.args[2]: expected a string"). Only the parts
 * berth acts on are kept; fields berth cannot honour are rejected by name rather than
 * silently ignored (see oci_config_parse()). Shared by berth-runc and
 * berth-spawn --oci-bundle. */

typedef struct OciMount {
        char *destination;
        char *type;              /* NULL: a bind mount */
        char *source;
        char **options;
        IdMap uid_mappings;      /* idmapped mount (mountExtensions): on disk -> seen */
        IdMap gid_mappings;
} OciMount;

typedef struct OciRlimit {
        int resource;            /* RLIMIT_* */
        uint64_t soft, hard;
} OciRlimit;

typedef enum OciNamespaceType {
        OCI_NS_PID,
        OCI_NS_NETWORK,
        OCI_NS_MOUNT,
        OCI_NS_IPC,
        OCI_NS_UTS,
        OCI_NS_USER,
        OCI_NS_CGROUP,
        OCI_NS_TIME,
        _OCI_NS_MAX,
} OciNamespaceType;

typedef struct OciNamespace {
        bool wanted;
        char *path;              /* join this namespace instead of making one */
} OciNamespace;

/* linux.devices[]: a node made in the container */
typedef struct OciDevice {
        char *path;
        mode_t type;             /* S_IFCHR, S_IFBLK, S_IFIFO */
        uint32_t major, minor;
        mode_t mode;             /* permission bits; 0666 when absent, as runc */
        uid_t uid;
        gid_t gid;
} OciDevice;

/* linux.resources; a *_set flag tells whether the field was present. */
typedef struct OciResources {
        int64_t memory_limit;    /* bytes, -1: unlimited */
        int64_t memory_reservation;
        int64_t pids_limit;      /* <= 0: unlimited */
        uint64_t cpu_shares;
        int64_t cpu_quota;       /* -1: unlimited */
        uint64_t cpu_period;
        uint16_t blkio_weight;
        uint64_t cpu_realtime_period;
        int64_t cpu_realtime_runtime;
        char cpus[CGROUP_CPUSET_MAX], mems[CGROUP_CPUSET_MAX]; /* "": unset */
        CgroupDeviceRule devices[CGROUP_DEVICE_RULES_MAX];
        size_t n_devices;
        bool memory_limit_set, memory_reservation_set, pids_limit_set;
        bool cpu_shares_set, cpu_quota_set, cpu_period_set, blkio_weight_set;
        bool cpu_realtime_period_set, cpu_realtime_runtime_set;
} OciResources;

/* linux.seccomp, in libseccomp's terms: actions are SCMP_ACT_* values with their errno or
 * trace value folded in, comparisons enum scmp_compare, architectures SCMP_ARCH_*. */
typedef struct OciSeccompArg {
        unsigned index;          /* 0..5 */
        uint64_t value, value_two;
        int op;                  /* enum scmp_compare */
} OciSeccompArg;

typedef struct OciSeccompRule {
        char **names;
        uint32_t action;
        OciSeccompArg *args;
        size_t n_args;
} OciSeccompRule;

typedef struct OciSeccomp {
        uint32_t default_action;
        uint32_t *architectures;
        size_t n_architectures;
        unsigned flags;          /* SECCOMP_FILTER_FLAG_* */
        OciSeccompRule *rules;
        size_t n_rules;
} OciSeccomp;

typedef struct OciConfig {
        char *oci_version;
        char *root_path;         /* as written: relative to the bundle or absolute */
        bool root_readonly;

        bool terminal;
        char **args;
        char **env;
        char *cwd;
        uid_t uid;
        gid_t gid;
        gid_t *additional_gids;
        size_t n_additional_gids;
        int umask;               /* -1: unset */
        uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
        bool no_new_privileges;
        OciRlimit *rlimits;
        size_t n_rlimits;
        int oom_score_adj;
        bool oom_score_adj_set;

        char *hostname;
        char *domainname;
        OciMount *mounts;
        size_t n_mounts;

        OciNamespace namespaces[_OCI_NS_MAX];
        IdMap uid_mappings;      /* linux.uidMappings */
        IdMap gid_mappings;
        char *cgroups_path;
        OciResources resources;
        char **masked_paths;
        char **readonly_paths;
        char **sysctl;           /* KEY=VALUE */
        OciDevice *devices;
        size_t n_devices;
        char *rootfs_propagation;
        OciSeccomp *seccomp;     /* NULL: no linux.seccomp */
        char **annotations;      /* KEY=VALUE */
        OciHooks hooks;
} OciConfig;

void oci_config_done(OciConfig *c);
void oci_seccomp_free(OciSeccomp *s);

/* Parse config.json's text. On error *ret_error gets the message (field and reason) and
 * -EINVAL is returned; nothing is logged, so a fuzzer stays quiet and the caller decides
 * how to report. *ret is only filled on success. */
int oci_config_parse(const char *text, size_t size, OciConfig *ret, char **ret_error);
/* The same for a Process object alone ("exec --process"): fills the process fields. */
int oci_process_parse(const char *text, size_t size, OciConfig *ret, char **ret_error);
/* The same for a "hooks" object alone (what berth-runc keeps in its state directory). */
int oci_hooks_parse(const char *text, size_t size, OciHooks *ret, char **ret_error);
/* The same for a LinuxResources object alone ("update --resources"). */
int oci_resources_parse(const char *text, size_t size, OciResources *ret, char **ret_error);

const char *oci_namespace_type_to_string(OciNamespaceType t);
