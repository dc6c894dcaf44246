/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* qcow2 to raw. berth does not read qcow2 itself: qemu-img is the reference
 * implementation of the format (every feature, both versions, zlib and zstd clusters,
 * extended L2 entries), while a reader of our own (as systemd-importd has) would be
 * another parser of hostile input to maintain and fuzz. The price is running a large
 * program on untrusted data, so it runs boxed in: its own mount, network, IPC and UTS
 * namespaces with every mount read-only, no capabilities (bounding set empty,
 * no_new_privs), only the two image fds open, bounded address space and output size, and
 * killed with us. It can write only to the output fd it was given. The header is checked
 * here first, because the dangerous qcow2 features are references to other files:
 * a backing file or an external data file would make qemu-img read any path the image
 * names (such as /etc/shadow) into the raw image. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capability-util.h"
#include "fd-util.h"
#include "import-common.h"
#include "import-qcow2.h"
#include "log.h"
#include "mount-util.h"
#include "process-util.h"

#define QCOW2_MAGIC "QFI\xfb"
#define QCOW2_V2_HEADER 72
#define QCOW2_V3_HEADER 104

/* Incompatible feature bits (qcow2 spec, docs/interop/qcow2.txt). */
#define QCOW2_INCOMPAT_DIRTY       (UINT64_C(1) << 0)
#define QCOW2_INCOMPAT_CORRUPT     (UINT64_C(1) << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (UINT64_C(1) << 2)
#define QCOW2_INCOMPAT_COMPRESSION (UINT64_C(1) << 3)
#define QCOW2_INCOMPAT_EXTL2       (UINT64_C(1) << 4)
#define QCOW2_INCOMPAT_KNOWN_SAFE  (QCOW2_INCOMPAT_DIRTY|QCOW2_INCOMPAT_COMPRESSION|QCOW2_INCOMPAT_EXTL2)

/* qemu-img's working set is small (a cluster cache and a few coroutines), but it maps
 * generously: 4 GiB of address space leaves room and still stops a runaway. */
#define QCOW2_CHILD_AS_MAX (UINT64_C(4) << 30)

static uint32_t be32_at(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return be32toh(v);
}

static uint64_t be64_at(const uint8_t *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return be64toh(v);
}

bool qcow2_detect(int fd) {
        char magic[4];

        return pread(fd, magic, sizeof(magic), 0) == (ssize_t) sizeof(magic) && memcmp(magic, QCOW2_MAGIC, 4) == 0;
}

int qcow2_check_header(int fd, uint64_t *ret_size) {
        uint8_t h[QCOW2_V3_HEADER] = {};
        uint32_t version, cluster_bits;
        uint64_t size, incompat = 0;
        ssize_t n;

        n = pread(fd, h, sizeof(h), 0);
        if (n < QCOW2_V2_HEADER || memcmp(h, QCOW2_MAGIC, 4) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The qcow2 image has a truncated header.");
        version = be32_at(h + 4);
        if (version != 2 && version != 3)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "qcow2 version %" PRIu32 " is not supported.", version);
        if (version == 3) {
                if (n < QCOW2_V3_HEADER)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The qcow2 image has a truncated header.");
                incompat = be64_at(h + 72);
        }
        if (be64_at(h + 8) != 0 || be32_at(h + 16) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "The qcow2 image refers to a backing file; refusing it (only self-contained images are imported).");
        if (incompat & QCOW2_INCOMPAT_DATA_FILE)
                return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                       "The qcow2 image keeps its data in an external file; refusing it.");
        if (be32_at(h + 32) != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "The qcow2 image is encrypted; not supported.");
        if (incompat & QCOW2_INCOMPAT_CORRUPT)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The qcow2 image is marked corrupt.");
        if (incompat & ~QCOW2_INCOMPAT_KNOWN_SAFE)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "The qcow2 image uses unknown incompatible features (0x%" PRIx64 ").", incompat);
        cluster_bits = be32_at(h + 20);
        if (cluster_bits < 9 || cluster_bits > 21)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The qcow2 image has an invalid cluster size.");
        size = be64_at(h + 24);
        if (size > IMPORT_QCOW2_SIZE_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG),
                                       "The qcow2 image claims %" PRIu64 " bytes; more than the %" PRIu64 " berth accepts.",
                                       size, IMPORT_QCOW2_SIZE_MAX);
        *ret_size = size;
        return 0;
}

/* In the child, before exec: the box described at the top. Returns -errno; the caller
 * _exits. stdin/stdout go to /dev/null, stderr stays (it becomes the transfer's log). */
static int sandbox_enter(uint64_t out_size) {
        const struct rlimit as = { QCOW2_CHILD_AS_MAX, QCOW2_CHILD_AS_MAX },
                            fsize = { out_size, out_size }, none = { 0, 0 };
        int r;

        if (unshare(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) < 0)
                return -errno;
        _cleanup_close_ int root = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (root < 0)
                return -errno;
        /* The image fds keep the original namespace's (writable) mount of the pool. */
        r = mount_set_attr(root, MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID, 0, true);
        if (r < 0)
                return r;
        if (setrlimit(RLIMIT_AS, &as) < 0 || setrlimit(RLIMIT_FSIZE, &fsize) < 0 || setrlimit(RLIMIT_CORE, &none) < 0)
                return -errno;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        r = capability_bounding_restrict(0);
        if (r < 0)
                return r;
        return capability_set_final(0);
}

static void child_run(int in_fd, int out_fd, uint64_t size, pid_t parent) {
        int null = open("/dev/null", O_RDWR|O_CLOEXEC), r;
        const int keep[] = { 3, 4 };

        r = worker_child_setup(parent);
        /* Above 4 first, so that neither lands on the other's new number. */
        in_fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 10);
        out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 10);
        if (r >= 0 && (null < 0 || in_fd < 0 || out_fd < 0 || dup2(null, STDIN_FILENO) < 0 ||
                       dup2(null, STDOUT_FILENO) < 0 || dup2(in_fd, 3) < 0 || dup2(out_fd, 4) < 0))
                r = -errno;
        if (r >= 0)
                r = close_all_fds_except(keep, ELEMENTSOF(keep));
        if (r >= 0)
                r = sandbox_enter(size);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the sandbox for qemu-img: %m");
                _exit(126);
        }
        /* backing=null on top of the header check: qemu-img itself must not open one.
         * --target-is-zero: the output is a fresh sparse file, zero runs stay holes. */
        execlp("qemu-img", "qemu-img", "convert", "-n", "--target-is-zero", "-O", "raw",
               "json:{\"driver\":\"qcow2\",\"backing\":null,\"file\":{\"driver\":\"file\",\"filename\":\"/proc/self/fd/3\"}}",
               "/proc/self/fd/4", NULL);
        log_error_errno(errno, "Failed to run qemu-img (Debian package qemu-utils): %m");
        _exit(127);
}

/* Wait for the child; a cancellation (SIGTERM interrupts waitpid) kills it. */
static int child_wait(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR)
                        return -errno;
                if (import_cancelled)
                        (void) kill(pid, SIGKILL);
        }
        if (import_cancelled)
                return -ECANCELED;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) >= 126)
                return -ENOEXEC;  /* the child said why */
        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "qemu-img could not convert the qcow2 image (%s %d).",
                               WIFEXITED(status) ? "exit status" : "signal",
                               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int qcow2_convert_in_place(int dirfd, const char *name) {
        _cleanup_close_ int in_fd = -EBADF, out_fd = -EBADF;
        uint64_t size;
        pid_t parent = getpid(), pid;
        int r;

        in_fd = openat(dirfd, name, O_RDONLY|O_NOFOLLOW|O_CLOEXEC);
        if (in_fd < 0)
                return log_error_errno(errno, "Failed to open the qcow2 image %s: %m", name);
        r = qcow2_check_header(in_fd, &size);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, 0) < 0)
                return log_error_errno(errno, "Failed to unlink %s: %m", name);
        out_fd = openat(dirfd, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644);
        if (out_fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", name);
        if (ftruncate(out_fd, (off_t) size) < 0)
                return log_error_errno(errno, "Failed to size the raw image to %" PRIu64 " bytes: %m", size);
        log_info("Converting the qcow2 image (%" PRIu64 " bytes) to raw with qemu-img.", size);

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m");
        if (pid == 0)
                child_run(in_fd, out_fd, size, parent);
        r = child_wait(pid);
        if (r < 0)
                return r;
        if (fsync(out_fd) < 0)
                return log_error_errno(errno, "Failed to complete the raw image: %m");
        return 0;
}
