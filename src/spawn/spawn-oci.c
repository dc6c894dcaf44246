/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "capability-util.h"
#include "cgroup-setup.h"
#include "machine-name.h"
#include "spawn-cgroup.h"
#include "spawn-mount.h"
#include "fd-util.h"
#include "log.h"
#include "path-util.h"
#include "seccomp-oci.h"
#include "spawn-oci.h"
#include "string-util.h"

int oci_config_load(const char *bundle, OciConfig *ret) {
        _cleanup_free_ char *path = path_join(bundle, "config.json"), *text = NULL, *error = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;
        int r;

        if (!path)
                return log_oom();
        fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        r = read_full_fd(fd, 4 * 1024 * 1024, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        r = oci_config_parse(text, size, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Invalid %s: %s", path, error ?: "bad value");
        return 0;
}

static bool has_option(char * const *options, const char *o) {
        return strv_contains(options, o);
}

/* Options that are no file system's: propagation and bind flags. berth's mounts are slaves
 * of nothing in the machine (each mount namespace starts private), so these are moot. */
static bool is_propagation_option(const char *o) {
        static const char *const props[] = {
                "shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable",
                "bind", "rbind",
        };

        for (size_t i = 0; i < ELEMENTSOF(props); i++)
                if (streq(props[i], o))
                        return true;
        return false;
}

/* An API file system of berth-spawn's table (/proc, /dev, /dev/shm, ...): made with the
 * config's source and options, at its place in the config's order (spawn-mount.c). */
/* One more comma-separated option of m's mount data. */
static int mount_option_append(CustomMount *m, const char *o) {
        char *n = m->options ? strjoin(m->options, ",", o) : strdup(o);

        if (!n)
                return log_oom();
        free(m->options);
        m->options = n;
        return 0;
}

static int api_mount_from_oci(SpawnConfig *c, const OciMount *om, size_t index) {
        CustomMount *m = custom_mount_add(c, CUSTOM_MOUNT_API);
        int r;

        if (!m)
                return log_oom();
        m->destination = strdup(om->destination);
        m->source = strdup(isempty(om->source) ? om->type : om->source);
        if (!m->destination || !m->source)
                return log_oom();
        STRV_FOREACH(o, om->options) {
                if (is_propagation_option(*o))
                        continue;
                if (!string_is_safe(*o) || strchr(*o, ','))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: mounts[%zu].options: invalid '%s'.", index, *o);
                r = mount_option_append(m, *o);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int id_maps_copy(const IdMap *uid_map, const IdMap *gid_map, IdMap *ret_uid, IdMap *ret_gid) {
        if (id_map_copy(uid_map, ret_uid) < 0 || id_map_copy(gid_map, ret_gid) < 0)
                return log_oom();
        return 0;
}

/* An idmapped bind (runtime-spec mountExtensions, runc 1.2): the mount's own uidMappings
 * and gidMappings, or with idmap/ridmap alone the container's; ridmap maps every mount of
 * an rbind, idmap only its top. 1: idmapped, 0: not. */
static int idmap_check(const SpawnConfig *c, const OciMount *om, size_t index, bool bind) {
        bool own = om->uid_mappings.n > 0 || om->gid_mappings.n > 0;

        if (!own && !has_option(om->options, "ridmap") && !has_option(om->options, "idmap"))
                return 0;
        if (!bind)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: mounts[%zu]: id-mapped mounts are only supported for bind mounts.", index);
        if (own && (om->uid_mappings.n == 0 || om->gid_mappings.n == 0))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: mounts[%zu]: id-mapped mounts must have both uid and gid mappings specified.",
                                       index);
        if (!own && c->private_users != PRIVATE_USERS_MAPPED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: mounts[%zu]: idmap without uidMappings/gidMappings takes the container's, "
                                       "but it has no user namespace of its own.", index);
        return 1;
}

static int idmap_from_oci(const SpawnConfig *c, const OciMount *om, CustomMount *m) {
        bool own = om->uid_mappings.n > 0;

        m->idmap = BIND_IDMAP_MAPPED;
        m->idmap_recursive = has_option(om->options, "ridmap");
        return id_maps_copy(own ? &om->uid_mappings : &c->uid_map, own ? &om->gid_mappings : &c->gid_map,
                            &m->idmap_uid, &m->idmap_gid);
}

static int mount_from_oci(SpawnConfig *c, const OciMount *om, size_t index, const char *bundle) {
        bool bind = !om->type || streq(om->type, "bind") || has_option(om->options, "bind") ||
                    has_option(om->options, "rbind");
        const MountEntry *api = mount_api_entry(om->destination);
        CustomMount *m;
        int idmapped, r;

        idmapped = idmap_check(c, om, index, bind);
        if (idmapped < 0)
                return idmapped;

        /* An API file system of another type (cgroup for cgroup2, ...) is berth's own. */
        if (!bind && api && streq(api->fstype, om->type))
                return api_mount_from_oci(c, om, index);
        if (!bind && (api || streq(om->destination, "/sys/fs/cgroup")))
                return 0;
        if (!bind && !streq(om->type, "tmpfs"))
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "config.json: mounts[%zu]: type '%s' at %s is not supported by berth "
                                       "(bind mounts, tmpfs and the API file systems are).",
                                       index, om->type, om->destination);
        if (bind && isempty(om->source))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: mounts[%zu].source: missing for a bind mount.", index);

        m = custom_mount_add(c, bind ? CUSTOM_MOUNT_BIND : CUSTOM_MOUNT_TMPFS);
        if (!m)
                return log_oom();
        m->destination = strdup(om->destination);
        if (!m->destination)
                return log_oom();
        path_simplify(m->destination);
        m->read_only = has_option(om->options, "ro");
        if (bind) {
                m->recursive = has_option(om->options, "rbind");
                m->source = om->source[0] == '/' ? strdup(om->source) : path_join(bundle, om->source);
                if (!m->source)
                        return log_oom();
                return idmapped ? idmap_from_oci(c, om, m) : 0;
        }

        /* tmpfs: its own options (mode=, size=...) as data; the flags berth sets itself */
        STRV_FOREACH(o, om->options) {
                if (!strchr(*o, '='))
                        continue;
                if (!string_is_safe(*o) || strchr(*o, ':'))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: mounts[%zu].options: invalid '%s'.", index, *o);
                r = mount_option_append(m, *o);
                if (r < 0)
                        return r;
        }
        if (!m->options && !(m->options = strdup("mode=0755")))
                return log_oom();
        return 0;
}

/* linux.readonlyPaths, then linux.maskedPaths (runc's order), after every mount: a path
 * missing in the tree is skipped, as runc does. Without a mount namespace of the
 * container's own, refused as by runc: they would be the runtime's mounts, which a
 * process of the container could remove. */
static int paths_from_oci(SpawnConfig *c, char **paths, CustomMountType type, const char *field) {
        size_t i = 0;

        if (paths && paths[0] && (c->namespaces_shared & CLONE_NEWNS))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: %s: unable to restrict paths without a mount namespace of the "
                                       "container's own.", field);
        STRV_FOREACH(p, paths) {
                CustomMount *m;

                if ((*p)[0] != '/' || !string_is_safe(*p))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: %s[%zu]: not an absolute path: '%s'.",
                                               field, i, *p);
                m = custom_mount_add(c, type);
                if (!m || !(m->destination = strdup(*p)))
                        return log_oom();
                path_simplify(m->destination);
                m->optional = true;
                i++;
        }
        return 0;
}

/* linux.cgroupsPath, relative to the cgroup2 root: "/a/b" or "a/b" as a path, or with
 * --systemd-cgroup "SLICE:PREFIX:NAME" as SLICE's path/PREFIX-NAME.scope. Without one,
 * berth-runc-ID at the top, so that no parent of ours is left behind. */
static int cgroup_path_from_oci(const char *p, const char *name, bool systemd_cgroup, char **ret) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *slice = NULL;
        int r;

        if (isempty(p)) {
                *ret = strjoin("berth-runc-", name);
                return *ret ? 0 : log_oom();
        }
        if (!systemd_cgroup) {
                *ret = strdup(p + strspn(p, "/"));
                if (!*ret)
                        return log_oom();
                path_simplify(*ret);
                if (isempty(*ret) || strstr(*ret, "..") || !string_is_safe(*ret))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: linux.cgroupsPath: invalid '%s'.", p);
                return 0;
        }
        r = strv_split_full(p, ":", false, &parts);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0 || strv_length(parts) != 3 || isempty(parts[2]) || strchr(parts[1], '/') || strchr(parts[2], '/'))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: linux.cgroupsPath: '%s' is not SLICE:PREFIX:NAME (--systemd-cgroup).", p);
        r = slice_to_path(isempty(parts[0]) ? "system.slice" : parts[0], &slice);
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "config.json: linux.cgroupsPath: invalid slice '%s'.", parts[0]);
        *ret = strjoin(slice, "/", isempty(parts[1]) ? "" : parts[1], isempty(parts[1]) ? "" : "-", parts[2], ".scope");
        return *ret ? 0 : log_oom();
}

void resource_limits_from_oci(ResourceLimits *l, const OciResources *r) {
        *l = (ResourceLimits) RESOURCE_LIMITS_NULL;
        /* -1 is "unlimited" */
        if (r->memory_limit_set && r->memory_limit != 0) {
                l->memory_max = r->memory_limit < 0 ? UINT64_MAX : (uint64_t) r->memory_limit;
                l->memory_max_set = true;
        }
        if (r->memory_reservation_set && r->memory_reservation > 0) {
                l->memory_high = (uint64_t) r->memory_reservation;
                l->memory_high_set = true;
        }
        if (r->pids_limit_set && r->pids_limit != 0) {
                l->tasks_max = r->pids_limit < 0 ? UINT64_MAX : (uint64_t) r->pids_limit;
                l->tasks_max_set = true;
        }
        if (r->cpu_quota_set && r->cpu_quota > 0) {
                uint64_t period = r->cpu_period_set && r->cpu_period > 0 ? r->cpu_period : 100000;

                l->cpu_quota_per_sec_usec = (uint64_t) r->cpu_quota * 1000000 / period;
                l->cpu_quota_set = true;
        }
        /* the conversions runc and crun use between v1 shares/weight and v2 weights */
        if (r->cpu_shares_set && r->cpu_shares >= 2)
                l->cpu_weight = 1 + ((MIN(r->cpu_shares, UINT64_C(262144)) - 2) * 9999) / 262142;
        if (r->blkio_weight_set && r->blkio_weight >= 10)
                l->io_weight = 1 + ((uint64_t) (r->blkio_weight - 10) * 9999) / 990;
        /* v1 gets the config's own numbers, as runc writes them */
        if (r->cpu_period_set && r->cpu_period > 0)
                l->cpu_period_usec = r->cpu_period;
        if (r->cpu_shares_set && r->cpu_shares >= 2)
                l->cpu_shares = r->cpu_shares;
        l->cpu_rt_period_usec = r->cpu_realtime_period;
        l->cpu_rt_period_set = r->cpu_realtime_period_set && r->cpu_realtime_period > 0;
        l->cpu_rt_runtime_usec = r->cpu_realtime_runtime;
        l->cpu_rt_runtime_set = r->cpu_realtime_runtime_set && r->cpu_realtime_runtime != 0;
        memcpy(l->cpuset_cpus, r->cpus, sizeof(l->cpuset_cpus));
        memcpy(l->cpuset_mems, r->mems, sizeof(l->cpuset_mems));
        memcpy(l->devices, r->devices, sizeof(l->devices));
        l->n_devices = r->n_devices;
}

static const int namespace_flags[_OCI_NS_MAX] = {
        [OCI_NS_PID] = CLONE_NEWPID,
        [OCI_NS_NETWORK] = CLONE_NEWNET,
        [OCI_NS_MOUNT] = CLONE_NEWNS,
        [OCI_NS_IPC] = CLONE_NEWIPC,
        [OCI_NS_UTS] = CLONE_NEWUTS,
        [OCI_NS_USER] = CLONE_NEWUSER,
        [OCI_NS_CGROUP] = CLONE_NEWCGROUP,
        [OCI_NS_TIME] = CLONE_NEWTIME,
};

/* linux.namespaces: a type not listed is the runtime's own (shared), one listed with a
 * path is joined, one listed without is made. The network namespace by path is
 * berth-spawn's --network-namespace-path=. */
static int namespaces_from_oci(SpawnConfig *c, const OciConfig *o) {
        for (OciNamespaceType t = 0; t < _OCI_NS_MAX; t++) {
                const OciNamespace *ns = &o->namespaces[t];

                if (t == OCI_NS_TIME && ns->wanted)
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "config.json: linux.namespaces: a %s namespace is not supported by berth-runc yet.",
                                               oci_namespace_type_to_string(t));
                if (t == OCI_NS_USER || t == OCI_NS_TIME)
                        continue;       /* user: userns_from_oci() */
                if (!ns->wanted) {
                        c->namespaces_shared |= namespace_flags[t];
                        continue;
                }
                if (!ns->path)
                        continue;
                if (t == OCI_NS_NETWORK) {
                        c->network_namespace_path = strdup(ns->path);
                        if (!c->network_namespace_path)
                                return log_oom();
                        continue;
                }
                /* at most one per type: fewer than NAMESPACE_JOIN_MAX */
                c->namespace_joins[c->n_namespace_joins] = (NamespaceJoin) {
                        .type = namespace_flags[t],
                        .path = strdup(ns->path),
                };
                if (!c->namespace_joins[c->n_namespace_joins++].path)
                        return log_oom();
        }
        /* the machine's own user namespace comes with mount namespaces owned by it */
        if (o->namespaces[OCI_NS_USER].wanted && !o->namespaces[OCI_NS_MOUNT].wanted)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "config.json: linux.namespaces: a user namespace without a mount namespace "
                                       "is not supported by berth-runc.");
        if (o->hostname && !o->namespaces[OCI_NS_UTS].wanted)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: hostname: unable to set hostname without a private UTS namespace.");
        return 0;
}

/* linux.uidMappings/gidMappings with a user namespace of the container's own, checked as
 * runc 1.1 does (its messages): maps need the namespace, the namespace needs maps with root
 * in them, a namespace joined by path has its maps already. */
static int userns_from_oci(SpawnConfig *c, const OciConfig *o) {
        const OciNamespace *ns = &o->namespaces[OCI_NS_USER];
        bool maps = o->uid_mappings.n > 0 || o->gid_mappings.n > 0;

        if (!ns->wanted) {
                if (maps)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "config.json: linux.uidMappings: user namespace mappings specified, "
                                               "but USER namespace isn't enabled in the config.");
                return 0;
        }
        if (ns->path) {
                if (maps)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "config.json: linux.uidMappings: user namespace %s is joined by path, "
                                               "it has its maps already; only one of path and mappings may be given.",
                                               ns->path);
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "config.json: linux.namespaces: joining a user namespace by path is not "
                                       "supported by berth-runc yet.");
        }
        if (o->uid_mappings.n == 0 || o->gid_mappings.n == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: linux.%s: user namespaces enabled, but no %s mappings found.",
                                       o->uid_mappings.n == 0 ? "uidMappings" : "gidMappings",
                                       o->uid_mappings.n == 0 ? "user" : "gid");
        /* berth's init sets the container up as root inside, as runc's does */
        if (id_map_outside(&o->uid_mappings, 0) == ID_UNMAPPED || id_map_outside(&o->gid_mappings, 0) == ID_UNMAPPED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: linux.%s: user namespaces enabled, but no root %s mapping found.",
                                       id_map_outside(&o->uid_mappings, 0) == ID_UNMAPPED ? "uidMappings" : "gidMappings",
                                       id_map_outside(&o->uid_mappings, 0) == ID_UNMAPPED ? "user" : "group");
        /* else the init fails to become the process's user, later and less clearly */
        if (id_map_outside(&o->uid_mappings, o->uid) == ID_UNMAPPED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: process.user.uid: %u is not mapped by linux.uidMappings.", (unsigned) o->uid);
        if (id_map_outside(&o->gid_mappings, o->gid) == ID_UNMAPPED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "config.json: process.user.gid: %u is not mapped by linux.gidMappings.", (unsigned) o->gid);
        c->private_users = PRIVATE_USERS_MAPPED;
        return id_maps_copy(&o->uid_mappings, &o->gid_mappings, &c->uid_map, &c->gid_map);
}

/* linux.sysctl: what runc allows, each only in a namespace of the container's own (made
 * or joined): IPC keys with an IPC namespace, net.* with a network namespace,
 * kernel.hostname/domainname with a UTS namespace. Anything else is the host's. */
static int sysctl_from_oci(SpawnConfig *c, const OciConfig *o) {
        static const char *const ipc_keys[] = {
                "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
        };

        STRV_FOREACH(kv, o->sysctl) {
                _cleanup_free_ char *key = strndup(*kv, strcspn(*kv, "="));
                OciNamespaceType needs = _OCI_NS_MAX;

                if (!key)
                        return log_oom();
                for (size_t i = 0; i < ELEMENTSOF(ipc_keys); i++)
                        if (streq(key, ipc_keys[i]))
                                needs = OCI_NS_IPC;
                if (startswith(key, "fs.mqueue."))
                        needs = OCI_NS_IPC;
                else if (startswith(key, "net."))
                        needs = OCI_NS_NETWORK;
                else if (streq(key, "kernel.hostname") || streq(key, "kernel.domainname"))
                        needs = OCI_NS_UTS;
                if (needs == _OCI_NS_MAX || strstr(key, "..") || strchr(key, '/') || !string_is_safe(*kv))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "config.json: linux.sysctl: %s is not allowed in a container (it is the host's).", key);
                if (!o->namespaces[needs].wanted)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "config.json: linux.sysctl: %s is not allowed in the host's %s namespace.",
                                               key, oci_namespace_type_to_string(needs));
        }
        c->sysctl = strv_copy(o->sysctl);
        return !o->sysctl || c->sysctl ? 0 : log_oom();
}

static int devices_from_oci(SpawnConfig *c, const OciConfig *o) {
        if (o->n_devices == 0)
                return 0;
        c->devices = calloc(o->n_devices, sizeof(DeviceNode));
        if (!c->devices)
                return log_oom();
        for (size_t i = 0; i < o->n_devices; i++) {
                const OciDevice *d = &o->devices[i];

                c->devices[i] = (DeviceNode) {
                        .path = strdup(d->path),
                        .mode = d->type | (d->mode & 07777),
                        .dev = makedev(d->major, d->minor),
                        .uid = d->uid,
                        .gid = d->gid,
                };
                c->n_devices = i + 1;
                if (!c->devices[i].path)
                        return log_oom();
                path_simplify(c->devices[i].path);
        }
        return 0;
}

/* The device rules a new container gets. A config without linux.resources.devices is
 * no licence to open the host's devices: runc denies everything but its defaults then,
 * as if the config began with a rule denying all, and so do we (spawn-cgroup.c appends
 * the defaults). Such a rule list would deny the nodes of linux.devices (made with mknod,
 * then opened): runc allows each after the rules, and so do we. */
static int device_rules_for_create(ResourceLimits *l, const DeviceNode *nodes, size_t n) {
        if (l->n_devices == 0)
                l->devices[l->n_devices++] = (CgroupDeviceRule) {
                        .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm",
                };
        for (size_t i = 0; i < n; i++) {
                if (!S_ISCHR(nodes[i].mode) && !S_ISBLK(nodes[i].mode))
                        continue;
                if (l->n_devices >= CGROUP_DEVICE_RULES_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(E2BIG),
                                               "config.json: more than %u device rules with linux.devices.",
                                               CGROUP_DEVICE_RULES_MAX);
                l->devices[l->n_devices++] = (CgroupDeviceRule) {
                        .allow = true,
                        .type = S_ISCHR(nodes[i].mode) ? 'c' : 'b',
                        .major = major(nodes[i].dev),
                        .minor = minor(nodes[i].dev),
                        .access = "rwm",
                };
        }
        return 0;
}

static int process_from_oci(SpawnConfig *c, const OciConfig *o) {
        c->command = strv_copy(o->args);
        c->setenv = strv_copy(o->env ?: (char *[]) { NULL });
        c->chdir = strdup(o->cwd);
        if (!c->command || !c->setenv || !c->chdir)
                return log_oom();
        c->console = o->terminal ? CONSOLE_INTERACTIVE : CONSOLE_PIPE;
        c->uid_set = true;
        c->uid = o->uid;
        c->gid = o->gid;
        if (o->n_additional_gids > 0) {
                c->groups = calloc(o->n_additional_gids, sizeof(gid_t));
                if (!c->groups)
                        return log_oom();
                memcpy(c->groups, o->additional_gids, o->n_additional_gids * sizeof(gid_t));
                c->n_groups = o->n_additional_gids;
        }
        if (o->umask >= 0) {
                c->umask = (mode_t) o->umask;
                c->umask_set = true;
        }
        /* exactly the config's bounding set, whatever berth-spawn's default */
        c->capability_add = o->cap_bounding;
        c->capability_drop = capability_all() & ~o->cap_bounding;
        c->capability_effective = o->cap_effective;
        c->capability_permitted = o->cap_permitted;
        c->capability_inheritable = o->cap_inheritable;
        c->capability_ambient = o->cap_ambient;
        c->capability_effective_set = true;
        c->no_new_privileges = o->no_new_privileges;
        /* the same per-process settings as --rlimit= and --oom-score-adjust= */
        for (size_t i = 0; i < o->n_rlimits; i++) {
                int res = o->rlimits[i].resource;

                c->process.rlimits[res] = (struct rlimit) { .rlim_cur = o->rlimits[i].soft, .rlim_max = o->rlimits[i].hard };
                c->process.rlimits_set |= UINT32_C(1) << res;
        }
        c->process.oom_score_adjust = o->oom_score_adj;
        c->process.oom_score_adjust_set = o->oom_score_adj_set;
        return 0;
}

int spawn_config_from_oci(SpawnConfig *c, const OciConfig *o, const char *bundle, const char *name,
                          bool systemd_cgroup) {
        _cleanup_free_ char *root = NULL;
        char resolved[PATH_MAX];
        int r;

        r = namespaces_from_oci(c, o);
        if (r >= 0)
                r = userns_from_oci(c, o);
        if (r >= 0)
                r = sysctl_from_oci(c, o);
        if (r >= 0)
                r = devices_from_oci(c, o);
        if (r < 0)
                return r;

        root = o->root_path[0] == '/' ? strdup(o->root_path) : path_join(bundle, o->root_path);
        if (!root)
                return log_oom();
        if (!realpath(root, resolved))
                return log_error_errno(errno, "config.json: root.path: cannot use %s: %m", root);

        c->directory = strdup(resolved);
        c->machine = strdup(name);
        if (!c->directory || !c->machine || (o->hostname && !(c->hostname = strdup(o->hostname))))
                return log_oom();
        c->read_only = o->root_readonly;
        c->register_mode = REGISTER_NO;
        c->private_network = o->namespaces[OCI_NS_NETWORK].wanted && !o->namespaces[OCI_NS_NETWORK].path;
        c->kill_signal = SIGKILL;
        c->detached = true;
        r = id128_randomize(&c->uuid);
        if (r < 0)
                return log_error_errno(r, "Failed to generate a machine UUID: %m");

        r = process_from_oci(c, o);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_mounts; i++) {
                r = mount_from_oci(c, &o->mounts[i], i, bundle);
                if (r < 0)
                        return r;
        }
        r = paths_from_oci(c, o->readonly_paths, CUSTOM_MOUNT_READ_ONLY, "linux.readonlyPaths");
        if (r >= 0)
                r = paths_from_oci(c, o->masked_paths, CUSTOM_MOUNT_INACCESSIBLE, "linux.maskedPaths");
        if (r < 0)
                return r;
        r = oci_hooks_copy(&o->hooks, &c->oci_hooks);
        if (r < 0)
                return log_oom();
        resource_limits_from_oci(&c->limits, &o->resources);
        r = device_rules_for_create(&c->limits, c->devices, c->n_devices);
        if (r < 0)
                return r;
        r = cgroup_path_from_oci(o->cgroups_path, name, systemd_cgroup, &c->cgroup_path);
        if (r < 0)
                return r;
        /* runc's rule: the profile, or no filter at all; berth keeps its own allow list for a
         * config without one, as berth-spawn does */
        if (o->seccomp) {
                r = seccomp_oci_build(o->seccomp, &c->oci_seccomp);
                if (r < 0)
                        return log_error_errno(r, "config.json: linux.seccomp: cannot compile the profile: %m");
        }
        return 0;
}

/* Move what 'c' lacks from 'b' (a config made from the bundle alone). */
static int merge_oci(SpawnConfig *c, SpawnConfig *b) {
        CustomMount *m;

        if (!c->directory && !c->image) {
                c->directory = TAKE_PTR(b->directory);
                c->read_only = c->read_only || b->read_only;
        }
        if (!c->command && !c->boot)
                c->command = TAKE_PTR(b->command);
        if (!c->hostname)
                c->hostname = TAKE_PTR(b->hostname);
        if (!c->chdir)
                c->chdir = TAKE_PTR(b->chdir);
        STRV_FOREACH(e, c->setenv)
                if (strv_env_set(&b->setenv, *e) < 0)
                        return log_oom();
        strv_free(c->setenv);
        c->setenv = TAKE_PTR(b->setenv);
        if (!c->user) {
                c->uid_set = true;
                c->uid = b->uid;
                c->gid = b->gid;
                c->groups = TAKE_PTR(b->groups);
                c->n_groups = b->n_groups;
                c->umask = b->umask;
                c->umask_set = b->umask_set;
        }
        if (c->capability_add == 0 && c->capability_drop == 0) {
                c->capability_add = b->capability_add;
                c->capability_drop = b->capability_drop;
                c->capability_effective = b->capability_effective;
                c->capability_permitted = b->capability_permitted;
                c->capability_inheritable = b->capability_inheritable;
                c->capability_ambient = b->capability_ambient;
                c->capability_effective_set = b->capability_effective_set;
        }
        c->no_new_privileges = c->no_new_privileges || b->no_new_privileges;
        if (!c->syscall_allow && !c->syscall_deny && !seccomp_filter_is_set(&c->oci_seccomp)) {
                c->oci_seccomp = b->oci_seccomp;
                b->oci_seccomp = SECCOMP_FILTER_NULL;
        }
        for (int res = 0; res < RLIM_NLIMITS; res++)
                if (!(c->process.rlimits_set & (UINT32_C(1) << res)) && (b->process.rlimits_set & (UINT32_C(1) << res))) {
                        c->process.rlimits[res] = b->process.rlimits[res];
                        c->process.rlimits_set |= UINT32_C(1) << res;
                }
        if (!c->process.oom_score_adjust_set) {
                c->process.oom_score_adjust = b->process.oom_score_adjust;
                c->process.oom_score_adjust_set = b->process.oom_score_adjust_set;
        }
        if (!resource_limits_any(&c->limits))
                c->limits = b->limits;
        c->private_network = c->private_network || b->private_network;
        if (!c->network_namespace_path && !c->private_network)
                c->network_namespace_path = TAKE_PTR(b->network_namespace_path);
        /* berth-spawn always makes its own pid, mount, ipc, uts and cgroup namespaces */
        if (b->n_namespace_joins > 0)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "config.json: linux.namespaces: joining the namespace %s is not supported by "
                                       "berth-spawn --oci-bundle (berth-runc does).", b->namespace_joins[0].path);
        if (!c->sysctl)
                c->sysctl = TAKE_PTR(b->sysctl);
        /* the bundle's own maps unless -U or --private-users= says otherwise */
        if (c->private_users == PRIVATE_USERS_NO && b->private_users == PRIVATE_USERS_MAPPED) {
                c->private_users = PRIVATE_USERS_MAPPED;
                c->uid_map = b->uid_map;
                c->gid_map = b->gid_map;
                b->uid_map = b->gid_map = (IdMap) {};
        }
        if (!c->devices) {
                c->devices = TAKE_PTR(b->devices);
                c->n_devices = b->n_devices;
                b->n_devices = 0;
        }
        if (c->console < 0 && b->console == CONSOLE_PIPE)
                c->console = CONSOLE_PIPE;

        /* the bundle's mounts first: the command line's may cover them */
        m = realloc(b->mounts, sizeof(CustomMount) * (b->n_mounts + c->n_mounts + 1));
        if (!m)
                return log_oom();
        if (c->n_mounts > 0)
                memcpy(m + b->n_mounts, c->mounts, sizeof(CustomMount) * c->n_mounts);
        free(c->mounts);
        c->mounts = m;
        c->n_mounts += b->n_mounts;
        b->mounts = NULL;
        b->n_mounts = 0;
        return 0;
}

int spawn_config_apply_oci_bundle(SpawnConfig *c) {
        _cleanup_(oci_config_done) OciConfig o = { .umask = -1 };
        _cleanup_(spawn_config_done) SpawnConfig b = {};
        char bundle[PATH_MAX];
        const char *name;
        int r;

        if (!realpath(c->oci_bundle, bundle))
                return log_error_errno(errno, "Failed to find the OCI bundle %s: %m", c->oci_bundle);
        r = oci_config_load(bundle, &o);
        if (r < 0)
                return r;
        /* the machine is named after the bundle unless -M says otherwise */
        name = c->machine ?: (strrchr(bundle, '/') ? strrchr(bundle, '/') + 1 : bundle);
        r = spawn_config_from_oci(&b, &o, bundle, isempty(name) ? "bundle" : name, false);
        if (r < 0)
                return r;
        /* berth-spawn supervises the machine itself, with no create/start/delete for the
         * hook points to stop at: berth-runc runs them */
        for (int p = 0; p < _OCI_HOOK_MAX; p++)
                if (oci_hooks_has(&b.oci_hooks, p))
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "config.json: hooks.%s: not supported by berth-spawn --oci-bundle (berth-runc runs hooks).",
                                               oci_hook_point_to_string(p));
        if (!c->machine && machine_name_is_valid(b.machine))
                c->machine = TAKE_PTR(b.machine);
        return merge_oci(c, &b);
}
