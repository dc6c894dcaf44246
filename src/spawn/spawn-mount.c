/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "path-util.h"
#include "selinux-util.h"
#include "spawn-mount.h"
#include "spawn-state.h"
#include "string-util.h"

#define A_NOSUID  MOUNT_ATTR_NOSUID
#define A_NODEV   MOUNT_ATTR_NODEV
#define A_NOEXEC  MOUNT_ATTR_NOEXEC
#define A_RO      MOUNT_ATTR_RDONLY
#define A_STRICT  MOUNT_ATTR_STRICTATIME

/* Order matters: /dev before the masks (its hidden empty nodes serve them), /proc before
 * the masks inside it. /proc comes first, as with systemd-nspawn and runc: a mount
 * namespace unshared later (the user namespace's, spawn-inner.c) lists its copies in tree
 * order, i.e. in the order they were attached, and runtime-spec wants the config's order
 * (/proc, /dev, /dev/pts...) there too. */
static const MountEntry api_table[] = {
        { MOUNT_FS,        "/proc",               "proc",   NULL,                             A_NOSUID|A_NODEV|A_NOEXEC },
        { MOUNT_FS,        "/dev",                "tmpfs",  "mode=0755,size=4m,nr_inodes=64k", A_NOSUID|A_STRICT },
        { MOUNT_READ_ONLY, "/proc/sys",           NULL,     NULL,                             0, true },
        { MOUNT_READ_ONLY, "/proc/sysrq-trigger", NULL,     NULL,                             0, true },
        { MOUNT_READ_ONLY, "/proc/bus",           NULL,     NULL,                             0, true },
        { MOUNT_READ_ONLY, "/proc/fs",            NULL,     NULL,                             0, true },
        { MOUNT_READ_ONLY, "/proc/irq",           NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/kcore",         NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/kallsyms",      NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/keys",          NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/timer_list",    NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/sched_debug",   NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/latency_stats", NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/acpi",          NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/scsi",          NULL,     NULL,                             0, true },
        { MOUNT_MASK,      "/proc/asound",        NULL,     NULL,                             0, true },
        { MOUNT_FS,        "/sys",                "sysfs",  NULL,                             A_RO|A_NOSUID|A_NODEV|A_NOEXEC },
        { MOUNT_FS,        "/dev/pts",            "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", A_NOSUID|A_NOEXEC },
        { MOUNT_FS,        "/dev/shm",            "tmpfs",  "mode=01777",                     A_NOSUID|A_NODEV|A_STRICT },
        { MOUNT_FS,        "/dev/mqueue",         "mqueue", NULL,                             A_NOSUID|A_NODEV|A_NOEXEC },
        { MOUNT_FS,        "/run",                "tmpfs",  "mode=0755",                      A_NOSUID|A_NODEV|A_STRICT },
        { MOUNT_FS,        "/tmp",                "tmpfs",  "mode=01777",                     A_NOSUID|A_NODEV|A_STRICT },
};

const MountEntry *mount_api_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(api_table);
        return api_table;
}

const MountEntry *mount_api_entry(const char *where) {
        for (size_t i = 0; i < ELEMENTSOF(api_table); i++)
                if (api_table[i].kind == MOUNT_FS && streq(api_table[i].where, where))
                        return &api_table[i];
        return NULL;
}

void mount_context_done(MountContext *m) {
        m->rootfd = safe_close(m->rootfd);
        m->hidden_fd = safe_close(m->hidden_fd);
        m->journal_fd = safe_close(m->journal_fd);
        for (size_t i = 0; i < m->n_custom; i++)
                safe_close(m->custom_fds[i]);
        free(m->custom_fds);
        m->custom_fds = NULL;
        m->n_custom = 0;
}

/* ---- before pivot_root ---- */

/* ',context="LABEL"' for -L/--selinux-apifs-context=, as systemd-nspawn adds it to its
 * tmpfs and devpts mounts (quoted: an MCS label has commas); "" without -L */
static char *apifs_context_option(const char *context) {
        return context ? strjoin(",context=\"", context, "\"") : strdup("");
}


static int prepare_overlay(const CustomMount *cm, const char *work_dir, int treefd, int *ret) {
        _cleanup_free_ char *options = NULL;
        int fds[64], n = 0, r = 0;
        char p[64];

        if (strv_length(cm->lower) + 2 > ELEMENTSOF(fds))
                return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "Too many overlay layers for '%s'.", cm->destination);

        /* Each layer is opened first (tree paths safely inside the tree) and named to the
         * kernel as /proc/self/fd/N, which needs no escaping of ':' or ','. The user lists
         * the lowest layer first; overlayfs wants the topmost first. */
        options = strdup("lowerdir=");
        if (!options)
                return log_oom();
        for (size_t i = strv_length(cm->lower); i-- > 0; ) {
                const char *l = cm->lower[i];
                char *o;

                if (l[0] == '+')
                        r = chase_in_root(treefd, l + 1, 0, &fds[n]);
                else
                        r = RET_NERRNO(fds[n] = open(l, O_PATH|O_DIRECTORY|O_CLOEXEC));
                if (r < 0) {
                        log_error_errno(r, "Failed to open overlay layer '%s': %m", l);
                        goto finish;
                }
                snprintf(p, sizeof(p), "%s/proc/self/fd/%i", n > 0 ? ":" : "", fds[n]);
                n++;
                o = strjoin(options, p);
                if (!o) {
                        r = log_oom();
                        goto finish;
                }
                free(options);
                options = o;
        }
        if (cm->upper) {
                char *o = strjoin(options, ",upperdir=", cm->upper, ",workdir=", work_dir);
                if (!o) {
                        r = log_oom();
                        goto finish;
                }
                free(options);
                options = o;
        }

        r = fs_create_detached("overlay", "overlay", options, cm->read_only ? MOUNT_ATTR_RDONLY : 0, ret);
        if (r < 0)
                log_error_errno(r, "Failed to create overlay file system for '%s': %m", cm->destination);
finish:
        while (n > 0)
                safe_close(fds[--n]);
        return r;
}

/* The kernel checks the options here, before any mount point is made in the tree: a bad
 * --tmpfs= option must leave the tree as it was. */
static int prepare_tmpfs(const CustomMount *cm, const char *apifs_context, int *ret) {
        _cleanup_free_ char *fsopts = NULL, *ctx = NULL, *all = NULL;
        unsigned attr;
        int r;

        r = mount_options_split(cm->options, &fsopts, &attr);
        if (r >= 0) {
                ctx = apifs_context_option(apifs_context);
                /* without other options the leading comma goes */
                all = ctx ? strjoin(strempty(fsopts), isempty(fsopts) && *ctx ? ctx + 1 : ctx) : NULL;
                r = all ? 0 : -ENOMEM;
        }
        if (r >= 0)
                r = fs_create_detached("tmpfs", "tmpfs", all, attr|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to create the tmpfs for %s with options '%s': %m",
                                       cm->destination, strempty(all ?: cm->options));
        return 0;
}

static uint32_t host_id(const MountContext *m, const IdMap *map, uint32_t shift, uint32_t id) {
        uint32_t o;

        if (!m->userns)
                return id;
        if (!map || map->n == 0)
                return id + shift;
        o = id_map_outside(map, id);
        return o == ID_UNMAPPED ? shift : o;
}

uid_t mount_host_uid(const MountContext *m, uid_t id) {
        return host_id(m, m->uid_map, m->uid_shift, id);
}

gid_t mount_host_gid(const MountContext *m, gid_t id) {
        return host_id(m, m->gid_map, m->gid_shift, id);
}

/* idmap: the machine's own namespace, so that UID N on disk is N inside; rootidmap and OCI's
 * idmap/ridmap: the bind's own (userns_setup_bind_idmaps()). Without -U, idmap is the
 * identity anyway. OCI's idmap applies to the bind's top mount only, ridmap to all of an
 * rbind's (runc 1.2); berth-spawn's follow rbind. */
static int bind_idmap(const CustomMount *cm, const SpawnState *s, size_t i, int fd) {
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP };
        bool recursive = cm->idmap == BIND_IDMAP_MAPPED ? cm->idmap_recursive : cm->recursive;
        static const char *const names[] = {
                [BIND_IDMAP_YES] = "idmap", [BIND_IDMAP_ROOT] = "rootidmap", [BIND_IDMAP_MAPPED] = "OCI idmap",
        };

        if (cm->idmap == BIND_IDMAP_YES && s->userns_fd >= 0)
                a.userns_fd = (uint64_t) s->userns_fd;
        else if (cm->idmap == BIND_IDMAP_ROOT || cm->idmap == BIND_IDMAP_MAPPED)
                a.userns_fd = (uint64_t) s->bind_userns_fds[i];
        else
                return 0;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) >= 0)
                return 0;
        /* EINVAL: the file system (or one below an rbind) cannot be idmapped (tmpfs before
         * Linux 6.3, proc, sysfs, ...); say so rather than "Invalid argument" */
        if (errno == EINVAL)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Failed to create an idmapped mount of '%s' (%s): its file system does not "
                                       "support idmapped mounts.", cm->source, names[cm->idmap]);
        return log_error_errno(errno, "Failed to create an idmapped mount of '%s' (%s): %m", cm->source, names[cm->idmap]);
}

static int dev_create(const MountContext *m, const MountEntry *e, const char *source, int *ret_mfd);
static char *entry_options(const MountContext *m, const MountEntry *e);

/* OCI: an API file system made here, with the config's source and options, so that it
 * is allocated in the config's order among the other mounts: the kernel lists mounts
 * (mountinfo) in the order they were made, and runtime-spec wants the config's. It is
 * attached where berth-spawn's table mounts it (mount_api_filesystems()). The table's
 * nosuid/nodev/noexec/ro stay: the config may add to them, not take them away. */
static int prepare_api(const CustomMount *cm, const MountContext *m, int *ret) {
        static const unsigned floor = MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC|MOUNT_ATTR_RDONLY;
        const MountEntry *t = mount_api_entry(cm->destination);
        _cleanup_free_ char *fsopts = NULL, *shifted = NULL;
        MountEntry e;
        unsigned attr;
        int r;

        if (!t)
                return -EINVAL;
        r = mount_options_split(cm->options, &fsopts, &attr);
        if (r < 0)
                return log_oom();
        e = *t;
        e.attr = attr | (t->attr & floor);
        if (!isempty(fsopts))
                e.options = fsopts;
        if (m->userns || m->apifs_context) {
                shifted = entry_options(m, &e);
                if (!shifted && e.options)
                        return log_oom();
                e.options = shifted;
        }
        if (streq(e.where, "/dev"))
                r = dev_create(m, &e, cm->source, ret);
        else
                r = fs_create_detached(e.fstype, cm->source ?: e.fstype, e.options, e.attr, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to create the %s file system for %s with options '%s': %m",
                                       e.fstype, e.where, strempty(cm->options));
        return 0;
}

int mount_prepare_custom(const SpawnConfig *c, const SpawnState *s, MountContext *m) {
        _cleanup_close_ int treefd = -EBADF;
        int r;

        if (s->journal_bind_source) {
                r = mount_clone_detached(AT_FDCWD, s->journal_bind_source, false, false, &m->journal_fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to clone %s: %m", s->journal_bind_source);
        }

        m->custom_fds = calloc(c->n_mounts ?: 1, sizeof(int));
        if (!m->custom_fds)
                return log_oom();
        m->n_custom = c->n_mounts;
        for (size_t i = 0; i < c->n_mounts; i++)
                m->custom_fds[i] = -EBADF;

        treefd = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (treefd < 0)
                return log_error_errno(errno, "Failed to open root directory '%s': %m", s->directory);

        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *cm = &c->mounts[i];

                if (cm->type == CUSTOM_MOUNT_BIND && !cm->source_in_tree) {
                        r = mount_clone_detached(AT_FDCWD, cm->source, cm->recursive, cm->read_only, &m->custom_fds[i]);
                        if (r < 0)
                                return log_error_errno(r, "Failed to clone bind mount source '%s': %m", cm->source);
                        r = bind_idmap(cm, s, i, m->custom_fds[i]);
                        if (r < 0)
                                return r;
                } else if (cm->type == CUSTOM_MOUNT_OVERLAY) {
                        r = prepare_overlay(cm, s->overlay_work_dirs ? s->overlay_work_dirs[i] : NULL, treefd, &m->custom_fds[i]);
                        if (r < 0)
                                return r;
                } else if (cm->type == CUSTOM_MOUNT_TMPFS) {
                        r = prepare_tmpfs(cm, c->selinux_apifs_context, &m->custom_fds[i]);
                        if (r < 0)
                                return r;
                } else if (cm->type == CUSTOM_MOUNT_API) {
                        r = prepare_api(cm, m, &m->custom_fds[i]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Root variants. Each leaves a mount on s->directory (in our private namespace only)
 * that becomes the machine's root. */

static int root_bind(const SpawnConfig *c, const SpawnState *s) {
        _cleanup_close_ int mfd = -EBADF, target = -EBADF;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) s->userns_fd };
        int r;

        if (!s->idmap_root) {
                if (mount(s->directory, s->directory, NULL, MS_BIND|MS_REC, NULL) < 0)
                        return log_error_errno(errno, "Failed to bind-mount root directory '%s': %m", s->directory);
                return 0;
        }

        /* --private-users-ownership=map: the tree's UIDs 0..65535 appear shifted into the
         * machine's range, without touching a file on disk. */
        /* an image's tree is its own file systems, all of which are mapped */
        r = mount_clone_detached(AT_FDCWD, s->directory, !!c->image, false, &mfd);
        if (r >= 0)
                r = RET_NERRNO(mount_setattr(mfd, "", AT_EMPTY_PATH | (c->image ? AT_RECURSIVE : 0), &a, sizeof(a)));
        if (r < 0)
                return log_error_errno(r, "Failed to create an idmapped mount of '%s': %m", s->directory);
        target = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (target < 0)
                return log_error_errno(errno, "Failed to open root directory '%s': %m", s->directory);
        r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the idmapped root: %m");
        return 0;
}

/* A tmpfs covering dirfd in this namespace; returns an fd for populating it. */
static int cover_with_tmpfs(int dirfd, int *ret_fd) {
        _cleanup_close_ int tfd = -EBADF;
        int r;

        r = fs_create_detached("tmpfs", "tmpfs", "mode=0755", 0, &tfd);
        if (r < 0)
                return r;
        *ret_fd = openat(tfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (*ret_fd < 0)
                return -errno;
        return mount_attach(tfd, dirfd);
}

int mount_overlay_tmpfs(int dirfd) {
        _cleanup_close_ int lower = -EBADF, tmp = -EBADF, upper = -EBADF, work = -EBADF, ofd = -EBADF;
        char options[128];
        int r;

        /* the lower layer is what is mounted there now; the tmpfs then covers it */
        lower = openat(dirfd, ".", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (lower < 0)
                return -errno;
        r = cover_with_tmpfs(dirfd, &tmp);
        if (r < 0)
                return r;
        if (mkdirat(tmp, "upper", 0755) < 0 || mkdirat(tmp, "work", 0700) < 0)
                return -errno;
        upper = openat(tmp, "upper", O_PATH|O_DIRECTORY|O_CLOEXEC);
        work = openat(tmp, "work", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (upper < 0 || work < 0)
                return -errno;

        snprintf(options, sizeof(options), "lowerdir=/proc/self/fd/%i,upperdir=/proc/self/fd/%i,workdir=/proc/self/fd/%i",
                 lower, upper, work);
        r = fs_create_detached("overlay", "overlay", options, 0, &ofd);
        if (r < 0)
                return r;
        return mount_attach(ofd, dirfd);
}

/* --ephemeral on a plain directory, --volatile=overlay: the tree is the lower layer, every
 * change goes to a tmpfs that disappears with the mount namespace. */
static int root_overlay(const char *dir) {
        _cleanup_close_ int dfd = -EBADF;
        int r;

        dfd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open root directory '%s': %m", dir);
        r = mount_overlay_tmpfs(dfd);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the overlay root on '%s': %m", dir);
        return 0;
}

/* --volatile=yes: a tmpfs root with only the tree's /usr, read-only, plus the compat
 * symlinks a merged-/usr system expects at the top. /usr is resolved inside the tree: a
 * symlink "usr -> /" must not hand the host's root to the machine. */
static int root_volatile(const char *dir) {
        static const char *const links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
        _cleanup_close_ int ufd = -EBADF, tmp = -EBADF, target = -EBADF, usr = -EBADF;
        int r;

        target = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (target < 0)
                return log_error_errno(errno, "Failed to open root directory '%s': %m", dir);
        r = chase_in_root(target, "/usr", 0, &usr);
        if (r < 0)
                return log_error_errno(r, "Failed to resolve /usr inside '%s': %m", dir);
        r = mount_clone_detached(usr, "", true, true, &ufd);
        if (r < 0)
                return log_error_errno(r, "Failed to clone /usr of '%s': %m", dir);
        r = cover_with_tmpfs(target, &tmp);
        if (r < 0)
                return log_error_errno(r, "Failed to mount a tmpfs on '%s': %m", dir);
        target = safe_close(target);
        if (mkdirat(tmp, "usr", 0755) < 0)
                return log_error_errno(errno, "Failed to create /usr in the volatile root: %m");
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                _cleanup_free_ char *t = strjoin("usr/", links[i]);
                struct stat st;

                if (!t)
                        return log_oom();
                if (fstatat(ufd, links[i], &st, 0) >= 0 && S_ISDIR(st.st_mode) && symlinkat(t, tmp, links[i]) < 0)
                        return log_error_errno(errno, "Failed to create /%s in the volatile root: %m", links[i]);
        }

        target = openat(tmp, "usr", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (target < 0)
                return log_error_errno(errno, "Failed to open /usr in the volatile root: %m");
        r = mount_attach(ufd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to mount /usr in the volatile root: %m");
        return 0;
}

static int root_volatile_state(int rootfd) {
        _cleanup_close_ int target = -EBADF;
        int r;

        r = chase_in_root(rootfd, "/var", 0, &target);
        if (r >= 0)
                r = mount_fs_fd(target, "tmpfs", "tmpfs", "mode=0755", MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV);
        if (r < 0)
                return log_error_errno(r, "Failed to mount a tmpfs on /var for --volatile=state: %m");
        return 0;
}

/* --pivot-root=NEW[:OLD]: a directory of the tree becomes the root; the tree's root is
 * either gone or, with OLD, mounted at OLD below the new root (systemd-nspawn's meaning). */
static int root_pivot(const SpawnConfig *c, MountContext *m) {
        _cleanup_close_ int newfd = -EBADF, newmnt = -EBADF, oldmnt = -EBADF, target = -EBADF;
        int r;

        if (!c->pivot_root_new)
                return 0;
        r = chase_in_root(m->rootfd, c->pivot_root_new, 0, &newfd);
        if (r < 0)
                return log_error_errno(r, "Failed to resolve --pivot-root= directory '%s' in the machine: %m", c->pivot_root_new);
        if (c->pivot_root_old) {
                r = mount_clone_detached(m->rootfd, "", true, false, &oldmnt);
                if (r < 0)
                        return log_error_errno(r, "Failed to clone the machine's root: %m");
        }
        r = mount_clone_detached(newfd, "", true, false, &newmnt);
        if (r >= 0)
                r = mount_attach(newmnt, newfd);
        if (r < 0)
                return log_error_errno(r, "Failed to bind '%s' for --pivot-root=: %m", c->pivot_root_new);
        safe_close(newfd);
        r = chase_in_root(m->rootfd, c->pivot_root_new, 0, &newfd);   /* the mount now on top */
        if (r >= 0 && oldmnt >= 0) {
                r = chase_in_root(newfd, c->pivot_root_old, CHASE_MKDIR, &target);
                if (r >= 0)
                        r = mount_attach(oldmnt, target);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to mount the old root at '%s' for --pivot-root=: %m", c->pivot_root_old);

        if (fchdir(newfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                return log_error_errno(errno, "Failed to pivot into '%s': %m", c->pivot_root_new);
        safe_close(m->rootfd);
        m->rootfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (m->rootfd < 0)
                return log_error_errno(errno, "Failed to open the machine's root: %m");
        return 0;
}

/* A read-only root cannot get mount points later: the API file systems' top-level
 * directories and the custom mounts' missing targets are made while it is still writable
 * (as runc does for an OCI bundle, whose tree may lack /run or /tmp). */
static int mount_targets_create(const SpawnConfig *c, MountContext *m) {
        for (size_t i = 0; i < ELEMENTSOF(api_table); i++) {
                _cleanup_close_ int target = -EBADF;
                int r;

                if (api_table[i].kind != MOUNT_FS || strchr(api_table[i].where + 1, '/'))
                        continue;
                r = chase_in_root(m->rootfd, api_table[i].where, CHASE_MKDIR, &target);
                if (r < 0)
                        return log_error_errno(r, "Failed to create mount point '%s' inside the machine: %m", api_table[i].where);
        }
        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *cm = &c->mounts[i];
                _cleanup_close_ int target = -EBADF;
                ChaseFlags flags = CHASE_MKDIR;
                struct stat st;
                int r;

                if (cm->type == CUSTOM_MOUNT_INACCESSIBLE || cm->type == CUSTOM_MOUNT_API ||
                    cm->type == CUSTOM_MOUNT_READ_ONLY || (cm->type == CUSTOM_MOUNT_BIND && cm->source_in_tree))
                        continue;
                if (cm->type == CUSTOM_MOUNT_BIND && m->custom_fds[i] >= 0 &&
                    fstat(m->custom_fds[i], &st) >= 0 && !S_ISDIR(st.st_mode))
                        flags = CHASE_MKFILE;
                r = chase_in_root(m->rootfd, cm->destination, flags, &target);
                if (r < 0)
                        return log_error_errno(r, "Failed to create mount point '%s' inside the machine: %m", cm->destination);
        }
        return 0;
}

/* OCI without a mount namespace of the container's own (runc chroots then, as we do): the
 * root and everything mounted on it are in the runtime's mount namespace, so they are all
 * made on a private bind of the tree on itself, which berth-runc delete detaches at once
 * (runc leaves its mounts behind). Private once attached (attaching under a shared mount
 * makes the new tree shared), so that nothing mounted on it propagates to the peers of
 * the tree's mount, which get the bare bind only and lose it again with ours; the
 * runtime's own mounts keep their propagation (runc makes "/" a slave and the tree's
 * parent private, for the whole host). */
static int root_chroot(const SpawnState *s, MountContext *m) {
        _cleanup_close_ int mfd = -EBADF, target = -EBADF;
        int r;

        target = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (target < 0)
                return log_error_errno(errno, "Failed to open root directory '%s': %m", s->directory);
        r = mount_clone_detached(target, "", true, false, &mfd);
        if (r >= 0)
                r = mount_attach(mfd, target);
        if (r >= 0)
                r = mount_make_private(mfd, true);
        if (r < 0)
                return log_error_errno(r, "Failed to bind root directory '%s' on itself: %m", s->directory);
        if (fchdir(mfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return log_error_errno(errno, "Failed to change root to '%s': %m", s->directory);
        m->rootfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (m->rootfd < 0)
                return log_error_errno(errno, "Failed to open the machine's root: %m");
        return 0;
}

/* root.readonly: made on the machine's own mount of the tree only. */
static int root_make_read_only(const SpawnConfig *c, MountContext *m) {
        int r;

        if (!c->read_only)
                return 0;
        r = mount_targets_create(c, m);
        if (r < 0)
                return r;
        r = mount_set_attr(m->rootfd, MOUNT_ATTR_RDONLY, 0, true);
        if (r < 0)
                return log_error_errno(r, "Failed to make the root directory read-only: %m");
        return 0;
}

int mount_switch_root(const SpawnConfig *c, const SpawnState *s, MountContext *m) {
        int r;

        if (c->namespaces_shared & CLONE_NEWNS) {
                r = root_chroot(s, m);
                return r < 0 ? r : root_make_read_only(c, m);
        }

        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_SLAVE|MS_REC, NULL) < 0)
                return log_error_errno(errno, "Failed to make the mount tree a slave of the host's: %m");

        if (s->root_overlay || (c->volatile_mode == VOLATILE_OVERLAY && !c->image))
                r = root_overlay(s->directory);
        else if (c->volatile_mode == VOLATILE_YES)
                r = root_volatile(s->directory);
        else
                r = root_bind(c, s);
        if (r < 0)
                return r;

        if (chdir(s->directory) < 0)
                return log_error_errno(errno, "Failed to enter root directory '%s': %m", s->directory);

        /* pivot_root(".", ".") stacks the old root on top of the new one; detaching "."
         * then removes every host mount from this namespace at once. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return log_error_errno(errno, "Failed to pivot into '%s': %m", s->directory);
        if (umount2(".", MNT_DETACH) < 0)
                return log_error_errno(errno, "Failed to detach the host's root: %m");
        if (chdir("/") < 0)
                return log_error_errno(errno, "Failed to change to the new root: %m");

        m->rootfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (m->rootfd < 0)
                return log_error_errno(errno, "Failed to open the machine's root: %m");
        r = root_pivot(c, m);
        if (r < 0)
                return r;
        r = root_make_read_only(c, m);
        if (r < 0)
                return r;
        if (c->volatile_mode == VOLATILE_STATE)
                return root_volatile_state(m->rootfd);
        return 0;
}

/* ---- after pivot_root ---- */

static int dev_populate(int devfd, const MountContext *m) {
        static const struct {
                const char *name;
                unsigned major, minor;
        } nodes[] = {
                { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
        };
        static const struct {
                const char *name, *target;
        } links[] = {
                { "ptmx", "pts/ptmx" }, { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
        };
        static const char *const dirs[] = { "pts", "shm", "mqueue", ".berth" };

        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                if (mknodat(devfd, nodes[i].name, S_IFCHR|0666, makedev(nodes[i].major, nodes[i].minor)) < 0)
                        return log_error_errno(errno, "Failed to create /dev/%s: %m", nodes[i].name);
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i].target, devfd, links[i].name) < 0)
                        return log_error_errno(errno, "Failed to create /dev/%s: %m", links[i].name);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdirat(devfd, dirs[i], 0755) < 0)
                        return log_error_errno(errno, "Failed to create /dev/%s: %m", dirs[i]);

        /* /dev/console is bound to the console later; masks need an empty file and an
         * empty directory, made here and unlinked once every mask is in place. */
        if (mknodat(devfd, "console", S_IFREG|0600, 0) < 0 ||
            mknodat(devfd, ".berth/file", S_IFREG|0000, 0) < 0 ||
            mkdirat(devfd, ".berth/dir", 0000) < 0)
                return log_error_errno(errno, "Failed to create nodes in /dev: %m");

        if (m->userns) {
                for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                        if (fchownat(devfd, nodes[i].name, m->uid_shift, m->gid_shift, AT_SYMLINK_NOFOLLOW) < 0)
                                return log_error_errno(errno, "Failed to chown /dev/%s: %m", nodes[i].name);
                for (size_t i = 0; i < ELEMENTSOF(links); i++)
                        if (fchownat(devfd, links[i].name, m->uid_shift, m->gid_shift, AT_SYMLINK_NOFOLLOW) < 0)
                                return log_error_errno(errno, "Failed to chown /dev/%s: %m", links[i].name);
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        if (fchownat(devfd, dirs[i], m->uid_shift, m->gid_shift, AT_SYMLINK_NOFOLLOW) < 0)
                                return log_error_errno(errno, "Failed to chown /dev/%s: %m", dirs[i]);
                /* /dev/tty is group tty in the machine */
                (void) fchownat(devfd, "tty", m->uid_shift, mount_host_gid(m, 5), 0);
        }
        return 0;
}

/* A kernel without SELinux rejects context=: say so next to the error (systemd-nspawn fails
 * there too, and running without the label asked for would be worse). */
static const char *mount_hint(const MountContext *m) {
        return m->apifs_context && !selinux_enabled() ? " (SELinux is not enabled on this host)" : "";
}

/* A detached, populated /dev. */
static int dev_create(const MountContext *m, const MountEntry *e, const char *source, int *ret_mfd) {
        _cleanup_close_ int mfd = -EBADF, devfd = -EBADF;
        int r;

        r = fs_create_detached(e->fstype, source ?: e->fstype, e->options, e->attr, &mfd);
        if (r < 0)
                return log_error_errno(r, "Failed to create a tmpfs for %s with options '%s'%s: %m", e->where,
                                       strempty(e->options), mount_hint(m));

        devfd = openat(mfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (devfd < 0)
                return log_error_errno(errno, "Failed to open the new /dev: %m");
        r = dev_populate(devfd, m);
        if (r < 0)
                return r;
        *ret_mfd = TAKE_FD(mfd);
        return 0;
}

/* Attach /dev (made here, or prepared: *prepared) and keep its hidden nodes for the masks. */
static int mount_dev(MountContext *m, const MountEntry *e, int target, int *prepared) {
        _cleanup_close_ int mfd = -EBADF;
        int r;

        if (prepared)
                mfd = TAKE_FD(*prepared);
        else {
                r = dev_create(m, e, NULL, &mfd);
                if (r < 0)
                        return r;
        }
        m->hidden_fd = openat(mfd, ".berth", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (m->hidden_fd < 0)
                return log_error_errno(errno, "Failed to open /dev/.berth: %m");
        r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to mount %s: %m", e->where);
        return 0;
}

static int mount_mask(MountContext *m, const char *where, int target) {
        _cleanup_close_ int mfd = -EBADF;
        struct stat st;
        int r;

        if (fstat(target, &st) < 0)
                return log_error_errno(errno, "Failed to stat %s: %m", where);

        r = mount_clone_detached(m->hidden_fd, S_ISDIR(st.st_mode) ? "dir" : "file", false, true, &mfd);
        if (r < 0)
                return log_error_errno(r, "Failed to prepare the mask for %s: %m", where);
        r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to mask %s: %m", where);
        return 0;
}

/* With a user namespace, fresh file systems belong to the machine's root; with -L they
 * carry the SELinux label. Only tmpfs and devpts are changed, as with systemd-nspawn. */
static char *entry_options(const MountContext *m, const MountEntry *e) {
        _cleanup_free_ char *ctx = NULL;
        char buf[256];

        if (streq(e->fstype, "tmpfs") && m->userns)
                snprintf(buf, sizeof(buf), "%s,uid=%u,gid=%u", e->options, m->uid_shift, m->gid_shift);
        else if (streq(e->fstype, "devpts") && m->userns)
                snprintf(buf, sizeof(buf), "newinstance,ptmxmode=0666,mode=0620,uid=%u,gid=%u",
                         m->uid_shift, mount_host_gid(m, 5));
        else if (streq(e->fstype, "tmpfs") || streq(e->fstype, "devpts"))
                snprintf(buf, sizeof(buf), "%s", e->options);
        else
                return e->options ? strdup(e->options) : NULL;
        ctx = apifs_context_option(m->apifs_context);
        return ctx ? strjoin(buf, ctx) : NULL;
}

static int mount_entry_apply(MountContext *m, const MountEntry *e, int *prepared) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        _cleanup_free_ char *options = NULL;
        MountEntry shifted;
        int r;

        if (e->kind == MOUNT_FS && !prepared && (m->userns || m->apifs_context) &&
            (streq(e->fstype, "tmpfs") || streq(e->fstype, "devpts"))) {
                options = entry_options(m, e);
                if (!options)
                        return log_oom();
                shifted = *e;
                shifted.options = options;
                e = &shifted;
        }

        r = chase_in_root(m->rootfd, e->where, e->optional ? 0 : CHASE_MKDIR, &target);
        if (r == -ENOENT && e->optional)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to resolve %s inside the machine: %m", e->where);

        switch (e->kind) {
        case MOUNT_FS:
                log_debug("Mounting %s on %s with options '%s'.", e->fstype, e->where, strempty(e->options));
                if (streq(e->where, "/dev"))
                        return mount_dev(m, e, target, prepared);
                if (prepared) {
                        r = mount_attach(*prepared, target);
                        *prepared = safe_close(*prepared);
                } else
                        r = mount_fs_fd(target, e->fstype, e->fstype, e->options, e->attr);
                if (r < 0)
                        return log_error_errno(r, "Failed to mount %s on %s with options '%s'%s: %m", e->fstype, e->where,
                                               strempty(e->options), mount_hint(m));
                return 0;
        case MOUNT_READ_ONLY:
                r = mount_clone_detached(target, "", false, true, &mfd);
                if (r >= 0)
                        r = mount_attach(mfd, target);
                if (r < 0)
                        return log_error_errno(r, "Failed to make %s read-only: %m", e->where);
                return 0;
        case MOUNT_MASK:
                return mount_mask(m, e->where, target);
        default:
                return -EINVAL;
        }
}

/* With a network namespace of its own, the machine may tune its network: /proc/sys/net
 * is bound writable over the read-only /proc/sys (its values follow the reader's
 * network namespace, so binding it before the namespace exists is fine). */
static int mount_proc_sys_net(MountContext *m) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        int r;

        r = chase_in_root(m->rootfd, "/proc/sys/net", 0, &target);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = mount_clone_detached(target, "", false, false, &mfd);
        if (r >= 0)
                r = mount_set_attr(mfd, 0, MOUNT_ATTR_RDONLY, false);
        if (r >= 0)
                r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to make /proc/sys/net writable: %m");
        return 0;
}

/* $SYSTEMD_NSPAWN_API_VFS_WRITABLE: whether /sys (and /proc/sys, for "yes") is writable */
bool mount_sysfs_writable(const SpawnConfig *c) {
        return c->api_vfs == API_VFS_WRITABLE || (c->api_vfs == API_VFS_NETWORK && c->private_network);
}

/* The prepared mount of an OCI config's API file system at 'where', if any. */
static int *api_prepared(const SpawnConfig *c, MountContext *m, const char *where) {
        for (size_t i = 0; i < c->n_mounts && i < m->n_custom; i++)
                if (c->mounts[i].type == CUSTOM_MOUNT_API && streq(c->mounts[i].destination, where) &&
                    m->custom_fds[i] >= 0)
                        return &m->custom_fds[i];
        return NULL;
}

int mount_api_filesystems(const SpawnConfig *c, MountContext *m) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(api_table); i++) {
                MountEntry e = api_table[i];
                int *prepared = e.kind == MOUNT_FS ? api_prepared(c, m, e.where) : NULL;

                /* as systemd-nspawn's $SYSTEMD_NSPAWN_TMPFS_TMP=0 and _API_VFS_WRITABLE=yes */
                if (c->no_tmpfs_tmp && streq(e.where, "/tmp"))
                        continue;
                if (c->api_vfs == API_VFS_WRITABLE && e.kind == MOUNT_READ_ONLY)
                        continue;
                if (streq(e.where, "/sys") && mount_sysfs_writable(c))
                        e.attr &= ~A_RO;
                r = mount_entry_apply(m, &e, prepared);
                if (r < 0)
                        return r;
                if (c->private_network && streq(api_table[i].where, "/proc/sys")) {
                        r = mount_proc_sys_net(m);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Whether 'target' is one of berth's masks already: another mask or a read-only bind on
 * top would make the hidden node a mount point, which could then not be removed. */
static bool is_masked(const MountContext *m, int target) {
        struct stat st, h;

        if (fstat(target, &st) < 0)
                return false;
        return (fstatat(m->hidden_fd, "file", &h, 0) >= 0 && st.st_dev == h.st_dev && st.st_ino == h.st_ino) ||
               (fstatat(m->hidden_fd, "dir", &h, 0) >= 0 && st.st_dev == h.st_dev && st.st_ino == h.st_ino);
}

static int mount_custom_one(const CustomMount *cm, MountContext *m, int *prepared) {
        _cleanup_close_ int target = -EBADF, src = -EBADF;
        ChaseFlags flags = CHASE_MKDIR;
        int r;

        if (cm->type == CUSTOM_MOUNT_BIND) {
                struct stat st;

                if (cm->source_in_tree) {
                        r = chase_in_root(m->rootfd, cm->source, 0, &src);
                        if (r < 0)
                                return log_error_errno(r, "Failed to resolve bind mount source '+%s': %m", cm->source);
                        r = mount_clone_detached(src, "", cm->recursive, cm->read_only, prepared);
                        if (r < 0)
                                return log_error_errno(r, "Failed to clone bind mount source '+%s': %m", cm->source);
                }
                if (fstat(*prepared, &st) < 0)
                        return log_error_errno(errno, "Failed to stat bind mount source '%s': %m", cm->source);
                if (!S_ISDIR(st.st_mode))
                        flags = CHASE_MKFILE;
        }
        if (cm->type == CUSTOM_MOUNT_INACCESSIBLE || cm->type == CUSTOM_MOUNT_READ_ONLY)
                flags = 0;

        r = chase_in_root(m->rootfd, cm->destination, flags, &target);
        if (r == -ENOENT && cm->optional)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to resolve mount point '%s' inside the machine: %m", cm->destination);
        if ((cm->type == CUSTOM_MOUNT_INACCESSIBLE || cm->type == CUSTOM_MOUNT_READ_ONLY) && is_masked(m, target))
                return 0;

        switch (cm->type) {
        case CUSTOM_MOUNT_BIND:
        case CUSTOM_MOUNT_OVERLAY:
        case CUSTOM_MOUNT_TMPFS:
                r = mount_attach(*prepared, target);
                break;
        case CUSTOM_MOUNT_INACCESSIBLE:
                return mount_mask(m, cm->destination, target);
        case CUSTOM_MOUNT_READ_ONLY:
                r = mount_clone_detached(target, "", true, true, prepared);
                if (r >= 0)
                        r = mount_attach(*prepared, target);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to mount %s: %m", cm->destination);
        return 0;
}

/* OCI linux.devices, after every mount (as runc): the parent directory is made, a path
 * that exists already (a default device) is kept. */
static int mount_devices(const SpawnConfig *c, MountContext *m) {
        for (size_t i = 0; i < c->n_devices; i++) {
                const DeviceNode *d = &c->devices[i];
                _cleanup_free_ char *dir = NULL, *base = NULL;
                _cleanup_close_ int dfd = -EBADF;
                uid_t uid = mount_host_uid(m, d->uid);
                gid_t gid = mount_host_gid(m, d->gid);
                int r;

                dir = strndup(d->path, strrchr(d->path, '/') - d->path);
                base = path_basename(d->path);
                if (!dir || !base)
                        return log_oom();
                r = chase_in_root(m->rootfd, isempty(dir) ? "/" : dir, CHASE_MKDIR, &dfd);
                if (r < 0)
                        return log_error_errno(r, "Failed to make the directory of device %s: %m", d->path);
                if (mknodat(dfd, base, d->mode, d->dev) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return log_error_errno(errno, "Failed to create device %s: %m", d->path);
                }
                if (fchmodat(dfd, base, d->mode & 07777, 0) < 0 || fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(errno, "Failed to set the owner and mode of device %s: %m", d->path);
        }
        return 0;
}

int mount_custom(const SpawnConfig *c, const SpawnState *s, MountContext *m) {
        _cleanup_close_ int devfd = -EBADF;
        int r;

        if (m->journal_fd >= 0) {
                _cleanup_close_ int target = -EBADF;

                r = chase_in_root(m->rootfd, s->journal_bind_target, CHASE_MKDIR, &target);
                if (r >= 0)
                        r = mount_attach(m->journal_fd, target);
                if (r < 0)
                        return log_error_errno(r, "Failed to bind the host's journal directory to %s: %m", s->journal_bind_target);
                m->journal_fd = safe_close(m->journal_fd);
        }

        for (size_t i = 0; i < c->n_mounts; i++) {
                if (c->mounts[i].type == CUSTOM_MOUNT_API)
                        continue;       /* attached with the API file systems */
                r = mount_custom_one(&c->mounts[i], m, &m->custom_fds[i]);
                if (r < 0)
                        return r;
                m->custom_fds[i] = safe_close(m->custom_fds[i]);
        }

        r = mount_devices(c, m);
        if (r < 0)
                return r;

        /* The masks hold their own references; the nodes themselves can go. */
        devfd = openat(m->hidden_fd, "..", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (devfd < 0 || rm_rf_at(devfd, ".berth") < 0)
                return log_error_errno(errno, "Failed to remove /dev/.berth: %m");
        m->hidden_fd = safe_close(m->hidden_fd);
        return 0;
}

/* ---- in the parent ---- */

int mount_root_release(const char *directory, uint64_t *id) {
        int r;

        if (*id == 0)
                return 0;
        r = mount_detach_if_id(directory, *id);
        if (r < 0)
                return log_error_errno(r, "Failed to detach the container's root %s: %m", directory);
        if (r == 0)
                log_debug("The container's root %s is no longer its mount, left alone.", directory);
        *id = 0;
        return 0;
}

/* The work directory of overlay 'cm', next to its upper directory. */
static int overlay_workdir_make(const CustomMount *cm, char **ret) {
        _cleanup_free_ char *dir = NULL, *base = NULL, *t = NULL;
        const char *slash;

        slash = strrchr(cm->upper, '/');
        dir = strndup(cm->upper, slash == cm->upper ? 1 : (size_t) (slash - cm->upper));
        base = path_basename(cm->upper);
        if (!dir || !base)
                return log_oom();
        t = strjoin(dir, streq(dir, "/") ? "" : "/", ".#", base, ".berth-work-XXXXXX");
        if (!t)
                return log_oom();
        if (!mkdtemp(t))
                return log_error_errno(errno, "Failed to create overlay work directory next to '%s': %m", cm->upper);
        *ret = TAKE_PTR(t);
        return 0;
}

int overlay_workdirs_create(const SpawnConfig *c, SpawnState *s) {
        if (c->n_mounts == 0)
                return 0;
        s->overlay_work_dirs = calloc(c->n_mounts, sizeof(char *));
        if (!s->overlay_work_dirs)
                return log_oom();

        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *cm = &c->mounts[i];
                int r;

                if (cm->type != CUSTOM_MOUNT_OVERLAY || !cm->upper)
                        continue;
                r = overlay_workdir_make(cm, &s->overlay_work_dirs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void overlay_workdirs_remove(const SpawnConfig *c, SpawnState *s) {
        for (size_t i = 0; s->overlay_work_dirs && i < c->n_mounts; i++) {
                char *w = s->overlay_work_dirs[i];
                int r;

                if (!w)
                        continue;
                r = rm_rf_at(AT_FDCWD, w);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove overlay work directory '%s', ignoring: %m", w);
                s->overlay_work_dirs[i] = (free(w), NULL);
        }
}
