/* SPDX-License-Identifier: LGPL-2.1-or-later */

#define _GNU_SOURCE 1
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capability-util.h"
#include "copy-util.h"
#include "fd-util.h"
#include "machine-dbus.h"
#include "machine-files.h"
#include "machine-idmap.h"
#include "machine-query.h"
#include "manager.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"

typedef struct FileJob {
        pid_t leader;
        int leader_pidfd;
        const char *host_path;
        const char *machine_path;
        bool to_machine;
        bool replace;
        bool read_only;
        bool mkdir;
        IdMap uid_map, gid_map;
} FileJob;

/* Absolute, normalized, not "/" itself, and short enough for the kernel. */
static int check_path(const char *p, const char *what, sd_bus_error *error) {
        if (isempty(p) || !path_is_absolute(p) || !path_is_normalized(p))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "%s path must be absolute and normalized (no \"..\").", what);
        if (strlen(p) >= PATH_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s path is too long.", what);
        if (streq(p, "/") || strspn(p, "/") == strlen(p))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s path must not be the root directory.", what);
        return 0;
}

/* The directory part of an absolute path ("/" for "/a"), and its last component. */
static int path_split(const char *p, char **ret_dir, char **ret_base) {
        _cleanup_free_ char *dir = NULL, *base = NULL;
        size_t n = strlen(p);

        while (n > 1 && p[n - 1] == '/')
                n--;
        base = path_basename(p);
        if (!base)
                return -EINVAL;
        while (n > 0 && p[n - 1] != '/')
                n--;
        dir = n <= 1 ? strdup("/") : strndup(p, n - 1);
        if (!dir)
                return -ENOMEM;
        *ret_dir = TAKE_PTR(dir);
        *ret_base = TAKE_PTR(base);
        return 0;
}

/* The leader's root, opened before we join its namespace: the root every machine path is
 * resolved in, also where the mount namespace's own root is elsewhere (a chroot). */
static int open_machine_root(const FileJob *j, int *ret) {
        char fn[64];
        int fd;

        snprintf(fn, sizeof(fn), "/proc/%i/root", (int) j->leader);
        fd = open(fn, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (!pidfd_is_alive(j->leader_pidfd)) {
                safe_close(fd);
                return -ESRCH;
        }
        *ret = fd;
        return 0;
}

/* An existing directory inside the machine, as an fd we can create entries in. */
static int open_machine_dir(int rootfd, const char *path, int *ret) {
        _cleanup_close_ int pathfd = -EBADF;
        int r, fd;

        r = chase_in_root(rootfd, path, 0, &pathfd);
        if (r < 0)
                return r;
        fd = openat(pathfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

static void map_owner(void *userdata, uid_t *uid, gid_t *gid) {
        const FileJob *j = userdata;
        uint32_t u = *uid, g = *gid;

        if (j->to_machine) {
                /* The IDs as the machine sees them; what it cannot see belongs to its root. */
                if (id_map_to_outside(&j->uid_map, u, &u) < 0 && id_map_to_outside(&j->uid_map, 0, &u) < 0)
                        u = *uid;
                if (id_map_to_outside(&j->gid_map, g, &g) < 0 && id_map_to_outside(&j->gid_map, 0, &g) < 0)
                        g = *gid;
        } else {
                /* Back to the IDs the machine showed; unmapped ones showed as the overflow ID. */
                if (id_map_to_inside(&j->uid_map, u, &u) < 0)
                        u = ID_OVERFLOW;
                if (id_map_to_inside(&j->gid_map, g, &g) < 0)
                        g = ID_OVERFLOW;
        }
        *uid = u;
        *gid = g;
}

static int read_id_maps(FileJob *j, char *msg, size_t msg_size) {
        int r;

        r = machine_read_id_map(j->leader, j->leader_pidfd, "uid_map", &j->uid_map);
        if (r >= 0)
                r = machine_read_id_map(j->leader, j->leader_pidfd, "gid_map", &j->gid_map);
        if (r < 0)
                snprintf(msg, msg_size, "Failed to read the ID maps of the machine: %s", strerror(-r));
        return r;
}

/* Under -U the machine's root is often an ID-mapped mount, where a file can only be
 * created by someone the mount maps: as the host's root (not mapped in the machine)
 * mkdir() and open(O_CREAT) fail with EOVERFLOW. So create as the machine's root. Going
 * from file system UID 0 to another clears the file capabilities from the effective set
 * (capabilities(7)): raise them again, the permitted set still has them. */
static int become_machine_root_fs(const FileJob *j) {
        uint32_t u, g;

        if (id_map_is_identity(&j->uid_map))
                return 0;
        if (id_map_to_outside(&j->uid_map, 0, &u) < 0 || id_map_to_outside(&j->gid_map, 0, &g) < 0)
                return -ENXIO;
        (void) setfsgid(g);
        (void) setfsuid(u);
        if ((uint32_t) setfsuid(UINT32_MAX) != u || (uint32_t) setfsgid(UINT32_MAX) != g)
                return -EPERM;
        return capability_set_final(capability_all());
}

static int join_machine(const FileJob *j, int *ret_rootfd) {
        int r;

        r = open_machine_root(j, ret_rootfd);
        if (r < 0)
                return r;
        if (setns(j->leader_pidfd, CLONE_NEWNS) < 0)
                return -errno;
        return 0;
}

static int copy_work(void *userdata, char *msg, size_t msg_size) {
        FileJob *j = userdata;
        _cleanup_free_ char *host_dir = NULL, *host_base = NULL, *machine_dir = NULL, *machine_base = NULL;
        _cleanup_close_ int rootfd = -EBADF, hostfd = -EBADF, machinefd = -EBADF;
        const CopyOptions options = { .map_owner = map_owner, .userdata = j, .replace = j->replace };
        int r;

        r = read_id_maps(j, msg, msg_size);
        if (r < 0)
                return r;
        r = path_split(j->host_path, &host_dir, &host_base);
        if (r >= 0)
                r = path_split(j->machine_path, &machine_dir, &machine_base);
        if (r < 0)
                return r;

        /* The host side first, while we still see the host's mounts. */
        hostfd = open(host_dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (hostfd < 0) {
                r = -errno;
                snprintf(msg, msg_size, "Failed to open host directory '%s': %s", host_dir, strerror(-r));
                return r;
        }
        r = join_machine(j, &rootfd);
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to enter the machine: %s", strerror(-r));
                return r;
        }
        r = open_machine_dir(rootfd, machine_dir, &machinefd);
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to open directory '%s' in the machine: %s", machine_dir, strerror(-r));
                return r;
        }

        if (j->to_machine) {
                r = become_machine_root_fs(j);
                if (r < 0) {
                        snprintf(msg, msg_size, "Failed to act as the machine's root: %s", strerror(-r));
                        return r;
                }
                r = copy_tree_at(hostfd, host_base, machinefd, machine_base, &options);
        } else
                r = copy_tree_at(machinefd, machine_base, hostfd, host_base, &options);
        if (r < 0)
                snprintf(msg, msg_size, "Failed to copy %s: %s", j->to_machine ? "to the machine" : "from the machine",
                         strerror(-r));
        return r;
}

static int machine_check_files_supported(Machine *machine, const char *what, sd_bus_error *error) {
        if (machine->info.class != MACHINE_CONTAINER)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "%s is only supported on container machines.", what);
        if (machine->manager->n_operations >= OPERATIONS_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many ongoing operations (%u).",
                                         OPERATIONS_MAX);
        return 0;
}

static int start_file_job(sd_bus_message *message, Machine *machine, const char *desc, OperationWork work,
                          FileJob *job, sd_bus_error *error) {
        LockFile locks[2] = { LOCK_FILE_NULL, LOCK_FILE_NULL };
        _cleanup_free_ char *description = NULL;
        int r;

        if (asprintf(&description, "%s of machine '%s'", desc, machine->info.name) < 0)
                return -ENOMEM;
        job->leader = machine->info.leader;
        job->leader_pidfd = machine->leader_pidfd;
        r = operation_start(machine->manager, message, description, NULL, locks, work, job);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start the %s: %m", description);
        return 1;
}

/* Copy and bind: the destination defaults to the source; both paths checked, the machine
 * able to take it, and the caller root or authorized by polkit. Returns > 0 to go on, 0
 * while polkit is asked, or < 0. */
static int check_source_dest(sd_bus_message *message, Machine *machine, const char *action, const char *src,
                             const char **dest, sd_bus_error *error) {
        int r;

        if (isempty(*dest))
                *dest = src;
        r = check_path(src, "Source", error);
        if (r >= 0)
                r = check_path(*dest, "Destination", error);
        if (r >= 0)
                r = machine_check_files_supported(machine, action, error);
        if (r < 0)
                return r;
        return bus_check_privileged(machine->manager, message, error);
}

static int method_copy(sd_bus_message *message, Machine *machine, bool to_machine, bool with_flags,
                       sd_bus_error *error) {
        const char *src, *dest;
        uint64_t flags = 0;
        FileJob job = {};
        int r;

        r = sd_bus_message_read(message, "ss", &src, &dest);
        if (r < 0)
                return r;
        if (with_flags) {
                r = sd_bus_message_read(message, "t", &flags);
                if (r < 0)
                        return r;
                if (flags & ~MACHINE_COPY_REPLACE)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Invalid 'flags' parameter '%" PRIu64 "'.", flags);
        }
        r = check_source_dest(message, machine, "Copying files", src, &dest, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        job = (FileJob) {
                .host_path = to_machine ? src : dest,
                .machine_path = to_machine ? dest : src,
                .to_machine = to_machine,
                .replace = flags & MACHINE_COPY_REPLACE,
        };
        return start_file_job(message, machine, to_machine ? "copy to" : "copy from", copy_work, &job, error);
}

int bus_machine_method_copy_to(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_copy(message, userdata, true, false, error);
}

int bus_machine_method_copy_from(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_copy(message, userdata, false, false, error);
}

int bus_machine_method_copy_to_with_flags(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_copy(message, userdata, true, true, error);
}

int bus_machine_method_copy_from_with_flags(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_copy(message, userdata, false, true, error);
}

/* Under a user namespace, show the host's files with the IDs they have on the host
 * (host UID 1000 as the machine's 1000), as the copy does, instead of as "nobody". */
static int bind_idmap(const FileJob *j, int mount_fd) {
        _cleanup_close_ int userns = -EBADF;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP };
        char fn[64];

        if (id_map_is_identity(&j->uid_map))
                return 0;
        snprintf(fn, sizeof(fn), "/proc/%i/ns/user", (int) j->leader);
        userns = open(fn, O_RDONLY|O_CLOEXEC);
        if (userns < 0)
                return -errno;
        a.userns_fd = (uint64_t) userns;
        return RET_NERRNO(mount_setattr(mount_fd, "", AT_EMPTY_PATH, &a, sizeof(a)));
}

static int bind_work(void *userdata, char *msg, size_t msg_size) {
        FileJob *j = userdata;
        _cleanup_close_ int mount_fd = -EBADF, rootfd = -EBADF, target = -EBADF;
        struct stat st, tst;
        int r;

        r = read_id_maps(j, msg, msg_size);
        if (r < 0)
                return r;
        /* A detached copy of the host's mount, made while we still see the host's mounts. */
        r = mount_clone_detached(AT_FDCWD, j->host_path, false, j->read_only, &mount_fd);
        if (r >= 0 && fstat(mount_fd, &st) < 0)
                r = -errno;
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to open '%s' for bind mounting: %s", j->host_path, strerror(-r));
                return r;
        }
        r = bind_idmap(j, mount_fd);
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to map '%s' into the machine's user namespace "
                         "(does its file system support ID-mapped mounts?): %s", j->host_path, strerror(-r));
                return r;
        }

        r = join_machine(j, &rootfd);
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to enter the machine: %s", strerror(-r));
                return r;
        }
        r = become_machine_root_fs(j);
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to act as the machine's root: %s", strerror(-r));
                return r;
        }
        r = chase_in_root(rootfd, j->machine_path,
                          !j->mkdir ? 0 : S_ISDIR(st.st_mode) ? CHASE_MKDIR : CHASE_MKFILE, &target);
        if (r >= 0 && fstat(target, &tst) < 0)
                r = -errno;
        if (r >= 0 && S_ISDIR(st.st_mode) != S_ISDIR(tst.st_mode))
                r = S_ISDIR(st.st_mode) ? -ENOTDIR : -EISDIR;
        if (r < 0) {
                snprintf(msg, msg_size, "Failed to open mount point '%s' in the machine: %s", j->machine_path,
                         strerror(-r));
                return r;
        }
        r = mount_attach(mount_fd, target);
        if (r < 0)
                snprintf(msg, msg_size, "Failed to mount '%s' on '%s' in the machine: %s", j->host_path,
                         j->machine_path, strerror(-r));
        return r;
}

int bus_machine_method_bind_mount(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        const char *src, *dest;
        int read_only, make_dir;
        FileJob job;
        int r;

        r = sd_bus_message_read(message, "ssbb", &src, &dest, &read_only, &make_dir);
        if (r < 0)
                return r;
        r = check_source_dest(message, machine, "Bind mounting", src, &dest, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        job = (FileJob) {
                .host_path = src,
                .machine_path = dest,
                .read_only = read_only,
                .mkdir = make_dir,
        };
        return start_file_job(message, machine, "bind mount", bind_work, &job, error);
}

int bus_machine_method_open_root_directory(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        _cleanup_close_ int fd = -EBADF;
        char fn[64];
        int r;

        r = bus_check_privileged(machine->manager, message, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        if (machine_is_host(machine))
                snprintf(fn, sizeof(fn), "/");
        else if (machine->info.class != MACHINE_CONTAINER)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "Opening the root directory is only supported on container machines.");
        else
                snprintf(fn, sizeof(fn), "/proc/%i/root", (int) machine->info.leader);

        fd = open(fn, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0 || (!machine_is_host(machine) && !pidfd_is_alive(machine->leader_pidfd)))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "Machine '%s' is gone.", machine->info.name);
        return sd_bus_reply_method_return(message, "h", fd);
}
