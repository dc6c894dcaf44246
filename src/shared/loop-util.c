/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "loop-util.h"
#include "string-util.h"

void loop_device_done(LoopDevice *d) {
        d->fd = safe_close(d->fd);
        d->nr = -1;
}

/* A sysfs attribute's contents */
static int read_attribute(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDONLY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, 64, ret, NULL);
}

static int read_u64_file(const char *path, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        char *end;
        int r;

        r = read_attribute(path, &s);
        if (r < 0)
                return r;
        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (errno != 0 || end == s || (*end != '\n' && *end != 0))
                return -EINVAL;
        return 0;
}

static int read_devnum(const char *sysdir, dev_t *ret) {
        _cleanup_free_ char *path = strjoin(sysdir, "/dev"), *s = NULL;
        unsigned major, minor;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_attribute(path, &s);
        if (r < 0)
                return r;
        if (sscanf(s, "%u:%u", &major, &minor) != 2)
                return -EINVAL;
        *ret = makedev(major, minor);
        return 0;
}

/* No devtmpfs node (a container's /dev is a tmpfs with the pseudo devices only, and no
 * udev fills it): make a private node, open it and unlink it at once. It is made in /dev,
 * not /run: /run is mounted nodev on most systems, and a node there cannot be opened.
 * Making it needs CAP_MKNOD and, under a device policy, "m" for the major
 * (berth-spawn@.service allows it for block-loop and block-blkext). */
static int open_private_node(dev_t devnum, bool read_only, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[] = "/dev/.berth-block-XXXXXX";
        int r;

        r = mkstemp(tmp);
        if (r < 0)
                return -errno;
        safe_close(r);
        (void) unlink(tmp);
        if (mknod(tmp, S_IFBLK|0600, devnum) < 0)
                return -errno;
        fd = open(tmp, (read_only ? O_RDONLY : O_RDWR)|O_CLOEXEC|O_NOCTTY);
        r = fd < 0 ? -errno : 0;
        (void) unlink(tmp);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Open loop device nr by its /dev node, or by a private node if /dev has none for it. */
static int open_loop_node(int nr, bool read_only, int *ret_fd, bool *ret_private) {
        char path[64];
        dev_t devnum;
        int fd, r;

        snprintf(path, sizeof(path), "/dev/loop%i", nr);
        fd = open(path, (read_only ? O_RDONLY : O_RDWR)|O_CLOEXEC|O_NOCTTY);
        if (fd >= 0) {
                *ret_fd = fd;
                *ret_private = false;
                return 0;
        }
        if (errno != ENOENT)
                return -errno;

        snprintf(path, sizeof(path), "/sys/block/loop%i", nr);
        r = read_devnum(path, &devnum);
        if (r < 0)
                return r == -ENOENT ? -ENXIO : r;   /* removed again before we got to it */
        r = open_private_node(devnum, read_only, ret_fd);
        if (r < 0)
                return r;
        *ret_private = true;
        return 0;
}

int loop_device_attach(int backing_fd, bool read_only, LoopDevice *ret) {
        _cleanup_close_ int control = -EBADF;
        struct loop_config config = {
                .fd = (uint32_t) backing_fd,
                .info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN | (read_only ? LO_FLAGS_READ_ONLY : 0),
        };

        control = open("/dev/loop-control", O_RDWR|O_CLOEXEC|O_NOCTTY);
        if (control < 0)
                return -errno;

        /* Another process may take the free device between GET_FREE and CONFIGURE: the
         * ioctl then fails with EBUSY and we ask again. */
        for (unsigned attempt = 0; attempt < 64; attempt++) {
                _cleanup_close_ int fd = -EBADF;
                bool private_node;
                struct stat st;
                int nr, r;

                nr = ioctl(control, LOOP_CTL_GET_FREE);
                if (nr < 0)
                        return -errno;
                r = open_loop_node(nr, read_only, &fd, &private_node);
                if (r == -ENXIO)
                        continue;
                if (r < 0)
                        return r;
                if (ioctl(fd, LOOP_CONFIGURE, &config) < 0) {
                        if (errno == EBUSY)
                                continue;
                        return -errno;
                }
                if (fstat(fd, &st) < 0)
                        return -errno;

                *ret = (LoopDevice) { .fd = TAKE_FD(fd), .nr = nr, .devnum = st.st_rdev };
                snprintf(ret->name, sizeof(ret->name), "/dev/loop%i", nr);
                if (private_node)
                        snprintf(ret->node, sizeof(ret->node), "/proc/self/fd/%i", ret->fd);
                else
                        memcpy(ret->node, ret->name, sizeof(ret->node));
                return 0;
        }
        return -EBUSY;
}

static int loop_device_add_partition(const LoopDevice *d, unsigned partno, uint64_t offset, uint64_t size) {
        struct blkpg_partition p = {
                .start = (long long) offset,
                .length = (long long) size,
                .pno = (int) partno,
        };
        struct blkpg_ioctl_arg a = {
                .op = BLKPG_ADD_PARTITION,
                .datalen = sizeof(p),
                .data = &p,
        };

        if (offset > INT64_MAX || size > INT64_MAX || partno > INT32_MAX)
                return -ERANGE;
        if (ioctl(d->fd, BLKPG, &a) < 0)
                return errno == EBUSY ? -EUCLEAN : -errno;   /* overlaps one the kernel has */
        return 0;
}

int loop_device_open_partition(const LoopDevice *d, unsigned partno, uint64_t offset, uint64_t size,
                               bool read_only, int *ret_fd, char **ret_node) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *node = NULL;
        char sysdir[96], path[128];
        uint64_t start, sectors;
        struct stat st;
        dev_t devnum = 0;
        int r;

        snprintf(sysdir, sizeof(sysdir), "/sys/block/loop%i/loop%ip%u", d->nr, d->nr, partno);
        snprintf(path, sizeof(path), "%s/start", sysdir);
        r = read_u64_file(path, &start);
        if (r == -ENOENT) {
                /* The kernel's partition scan found nothing here (a kernel built without
                 * the GPT or MBR parser, or a table it reads differently): tell it where
                 * the partition is, exactly as we dissected it. */
                r = loop_device_add_partition(d, partno, offset, size);
                if (r < 0)
                        return r;
                r = read_u64_file(path, &start);
        }
        if (r == -ENOENT)
                return -ENXIO;
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/size", sysdir);
        r = read_u64_file(path, &sectors);
        if (r < 0)
                return r;
        if (start * 512 != offset || sectors * 512 != size)
                return -EUCLEAN;   /* the kernel reads the table differently from libblkid */
        r = read_devnum(sysdir, &devnum);
        if (r < 0)
                return r;

        if (asprintf(&node, "/dev/loop%ip%u", d->nr, partno) < 0)
                return -ENOMEM;
        fd = open(node, (read_only ? O_RDONLY : O_RDWR)|O_CLOEXEC|O_NOCTTY);
        if (fd < 0 && errno != ENOENT)
                return -errno;
        if (fd < 0) {
                r = open_private_node(devnum, read_only, &fd);
                if (r < 0)
                        return r;
                free(node);
                node = NULL;
                if (asprintf(&node, "/proc/self/fd/%i", fd) < 0)
                        return -ENOMEM;
        }
        /* the node must be this partition of *our* device */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                return -ENODEV;

        *ret_fd = TAKE_FD(fd);
        *ret_node = TAKE_PTR(node);
        return 0;
}
