/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dissect-mount.h"
#include "fd-util.h"
#include "loop-util.h"
#include "mount-util.h"
#include "string-util.h"

const PartitionDesignator partition_mount_order[] = {
        PARTITION_ROOT, PARTITION_USR, PARTITION_HOME, PARTITION_SRV, PARTITION_VAR, PARTITION_TMP,
        PARTITION_XBOOTLDR, PARTITION_ESP,
};
const size_t partition_mount_order_n = ELEMENTSOF(partition_mount_order);

bool fstype_read_only(const char *fstype) {
        return streq(fstype, "squashfs") || streq(fstype, "erofs");
}

int image_fd_size(int fd, uint64_t *ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t) st.st_size;
                return 0;
        }
        if (S_ISBLK(st.st_mode))
                return RET_NERRNO(ioctl(fd, BLKGETSIZE64, ret));
        return -EINVAL;
}

int partition_probe_node(const char *node, char *fstype, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t bytes;

        fd = open(node, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
                return -errno;
        return dissect_probe_fstype(fd, 0, bytes, fstype, size);
}

const char *partition_where(const DissectedImage *m, PartitionDesignator d, int rootfd) {
        if (d == PARTITION_ESP && !m->p[PARTITION_XBOOTLDR].found &&
            faccessat(rootfd, "efi", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
            faccessat(rootfd, "boot", F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                return "/boot";
        return partition_designator_mount_point(d);
}

static int mount_partition_read_only(const DissectedImage *m, PartitionDesignator d, const LoopDevice *loop,
                                     const char *where, int rootfd) {
        const DissectedPartition *p = &m->p[d];
        _cleanup_close_ int part_fd = -EBADF, target = -EBADF, mfd = -EBADF;
        _cleanup_free_ char *node = NULL;
        int r;

        if (streq(p->fstype, "crypto_LUKS"))
                return -EOPNOTSUPP;
        if (!image_fstype_supported(p->fstype))
                return -EBADMSG;

        if (d == PARTITION_ROOT)
                r = RET_NERRNO(target = open(where, O_PATH|O_DIRECTORY|O_CLOEXEC));
        else
                r = chase_in_root(rootfd, partition_where(m, d, rootfd), 0, &target);
        if (r == -ENOENT && d != PARTITION_ROOT)
                return 0;   /* no directory for it in the image */
        if (r < 0)
                return r;

        if (p->partno > 0) {
                r = loop_device_open_partition(loop, p->partno, p->offset, p->size, true, &part_fd, &node);
                if (r == -EUCLEAN || r == -ENXIO)
                        return -EBADMSG;
                if (r < 0)
                        return r;
        }
        r = fs_create_detached(p->fstype, node ?: loop->node, "ro", MOUNT_ATTR_RDONLY, &mfd);
        if (r < 0)
                return r;
        return mount_attach(mfd, target);
}

int dissected_image_mount_read_only(int image_fd, const char *where, DissectMountFlags flags, int *ret_rootfd) {
        _cleanup_(loop_device_done) LoopDevice loop = LOOP_DEVICE_NULL;
        _cleanup_close_ int rootfd = -EBADF;
        _cleanup_free_ char *error = NULL;
        DissectedImage m;
        uint64_t size;
        int r;

        r = image_fd_size(image_fd, &size);
        if (r < 0)
                return r;
        r = dissect_image_fd(image_fd, size, &(DissectOptions) {}, &m, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        if (!m.p[PARTITION_ROOT].found)
                return -EBADMSG;

        r = loop_device_attach(image_fd, true, &loop);
        if (r < 0)
                return r;

        for (size_t i = 0; i < partition_mount_order_n; i++) {
                PartitionDesignator d = partition_mount_order[i];

                if (!m.p[d].found)
                        continue;
                if ((flags & DISSECT_MOUNT_ROOT_AND_USR) && d != PARTITION_ROOT && d != PARTITION_USR)
                        continue;
                r = mount_partition_read_only(&m, d, &loop, where, rootfd);
                if (r < 0)
                        return r;
                if (d == PARTITION_ROOT) {
                        rootfd = open(where, O_PATH|O_DIRECTORY|O_CLOEXEC);
                        if (rootfd < 0)
                                return -errno;
                }
        }

        /* the mounts hold the loop device now; autoclear lets it go with them */
        *ret_rootfd = TAKE_FD(rootfd);
        return 0;
}
