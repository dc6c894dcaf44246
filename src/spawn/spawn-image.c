/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cryptsetup-util.h"
#include "dissect-mount.h"
#include "fd-util.h"
#include "log.h"
#include "loop-util.h"
#include "mount-util.h"
#include "parse-util.h"
#include "path-util.h"
#include "spawn-image.h"
#include "spawn-mount.h"
#include "string-util.h"

/* IMAGE.raw → IMAGE.SUFFIX next to it, as systemd-nspawn looks for IMAGE.roothash. */
static char *sidecar_path(const char *image, const char *suffix) {
        size_t l = strlen(image);
        char *p;

        if (endswith(image, ".raw"))
                l -= STRLEN(".raw");
        p = malloc(l + strlen(suffix) + 1);
        if (p) {
                memcpy(p, image, l);
                strcpy(p + l, suffix);
        }
        return p;
}

/* A sidecar hash file: hex, surrounding whitespace allowed. ENOENT if there is none. */
static int read_hash_file(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *s = NULL;
        size_t n;
        char *b;
        int r;

        fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, 4096, &s, &n);
        if (r < 0)
                return r;
        for (b = s; *b && strchr(" \t\n", *b); b++)
                ;
        while (n > 0 && strchr(" \t\n", s[n - 1]) && s[n - 1])
                s[--n] = 0;
        return unhex_memory(b, ret, ret_size);
}

/* IMAGE.SUFFIX next to the image, if there is one: into *data, *size. */
static int read_sidecar_hash(const SpawnConfig *c, const char *suffix, uint8_t **data, size_t *size) {
        _cleanup_free_ char *p = sidecar_path(c->image, suffix);
        int r;

        if (!p)
                return log_oom();
        r = read_hash_file(p, data, size);
        if (r == -ENOENT)
                return 0;
        if (r < 0 || *size < 32)
                return log_error_errno(r < 0 ? r : SYNTHETIC_ERRNO(EINVAL),
                                       "Failed to read the hash in '%s': expected at least 256 bits in hex.", p);
        return 0;
}

/* --root-hash-sig=, else IMAGE.roothash.p7s next to the image (as systemd-nspawn finds it) */
static int image_root_hash_sig(const SpawnConfig *c, MountedImage *img) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *buf = NULL;
        int r;

        if (c->root_hash_sig) {
                img->root_hash_sig = malloc(c->root_hash_sig_size);
                if (!img->root_hash_sig)
                        return log_oom();
                memcpy(img->root_hash_sig, c->root_hash_sig, c->root_hash_sig_size);
                img->root_hash_sig_size = c->root_hash_sig_size;
                return 0;
        }
        p = sidecar_path(c->image, ".roothash.p7s");
        if (!p)
                return log_oom();
        fd = open(p, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0)
                return log_error_errno(errno, "Failed to open '%s': %m", p);
        r = read_full_fd(fd, ROOT_HASH_SIG_MAX, &buf, &img->root_hash_sig_size);
        img->root_hash_sig = buf;
        if (r < 0)
                return log_error_errno(r, "Failed to read the root hash signature '%s': %m", p);
        return 0;
}

static int image_hashes(const SpawnConfig *c, MountedImage *img) {
        int r;

        r = image_root_hash_sig(c, img);
        if (r < 0)
                return r;

        if (c->root_hash) {
                r = unhex_memory(c->root_hash, &img->root_hash, &img->root_hash_size);
                if (r < 0 || img->root_hash_size < 32)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --root-hash= '%s': expected at least 256 bits in hex.", c->root_hash);
        } else {
                r = read_sidecar_hash(c, ".roothash", &img->root_hash, &img->root_hash_size);
                if (r < 0)
                        return r;
        }
        return read_sidecar_hash(c, ".usrhash", &img->usr_hash, &img->usr_hash_size);
}

static int open_image(const SpawnConfig *c, MountedImage *img, uint64_t *ret_size) {
        int fd, r;

        /* Never write to the image when the machine only sees an overlay of it. */
        img->read_only = c->read_only || c->ephemeral || c->volatile_mode != VOLATILE_NO;
        fd = open(c->image, (img->read_only ? O_RDONLY : O_RDWR)|O_CLOEXEC|O_NOCTTY);
        if (fd < 0 && !img->read_only && (errno == EROFS || errno == EACCES || errno == EPERM)) {
                log_debug("Image '%s' is not writable, using it read-only.", c->image);
                img->read_only = true;
                fd = open(c->image, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        }
        if (fd < 0)
                return log_error_errno(errno, "Failed to open image '%s': %m", c->image);
        img->fd = fd;

        r = image_fd_size(fd, ret_size);
        if (r == -EINVAL)
                return log_error_errno(r, "Image '%s' is neither a regular file nor a block device.", c->image);
        if (r < 0)
                return log_error_errno(r, "Failed to get the size of image '%s': %m", c->image);
        return 0;
}

/* The passphrase for an encrypted partition: the key file's whole contents (as with
 * cryptsetup --key-file), or asked on the terminal. */
static int get_passphrase(const SpawnConfig *c, const char *what, unsigned attempt, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct termios old, quiet;
        char buf[1024];
        ssize_t n;
        int r;

        if (c->key_file) {
                if (attempt > 0)
                        return -EPERM;
                fd = open(c->key_file, O_RDONLY|O_CLOEXEC|O_NOCTTY);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to open key file '%s': %m", c->key_file);
                r = read_full_fd(fd, 8192, ret, ret_size);
                if (r < 0)
                        return log_error_errno(r, "Failed to read key file '%s': %m", c->key_file);
                return 0;
        }
        if (attempt >= 3)
                return -EPERM;

        fd = open("/dev/tty", O_RDWR|O_CLOEXEC|O_NOCTTY);
        if (fd < 0 || !isatty(STDIN_FILENO))
                return log_error_errno(SYNTHETIC_ERRNO(ENOKEY),
                                       "Image '%s': %s is encrypted; give --key-file=PATH (no terminal to ask on).",
                                       c->image, what);
        if (tcgetattr(fd, &old) < 0)
                return log_error_errno(errno, "Failed to read the terminal settings: %m");
        dprintf(fd, "%sPassphrase for %s of %s: ", attempt > 0 ? "Wrong passphrase. " : "", what, c->image);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        (void) tcsetattr(fd, TCSANOW, &quiet);
        n = read(fd, buf, sizeof(buf) - 1);
        r = n < 0 ? -errno : 0;
        (void) tcsetattr(fd, TCSANOW, &old);
        dprintf(fd, "\n");
        if (r < 0)
                return log_error_errno(r, "Failed to read the passphrase: %m");
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        *ret = strndup(buf, (size_t) n);
        explicit_bzero(buf, sizeof(buf));
        if (!*ret)
                return log_oom();
        *ret_size = (size_t) n;
        return 0;
}

/* Unique per activation: a stale device of a killed run (deferred removal normally takes
 * it away) never blocks the next start. */
static int dm_name(const SpawnConfig *c, PartitionDesignator d, const char *kind, char **ret) {
        uint32_t id;

        if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id))
                return log_error_errno(errno, "Failed to get random bytes: %m");
        if (asprintf(ret, "berth-%s-%s-%s-%08x", c->machine, partition_designator_to_string(d), kind, (unsigned) id) < 0)
                return log_oom();
        return 0;
}

/* Before our first device-mapper device: devices of an earlier run that was killed
 * between activating a device and marking it for deferred removal would stay forever, so
 * mark every berth device now. Devices of running machines carry the mark already and are
 * unaffected; unused ones go at once. A start that is between those two steps holds the
 * lock shared, and the sweep only runs when it can take it exclusively. */
static int dm_prepare(MountedImage *img) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (img->dm_lock >= 0)
                return 0;
        img->dm_lock = open("/run/berth/dm.lock", O_RDWR|O_CREAT|O_CLOEXEC|O_NOCTTY, 0600);
        if (img->dm_lock < 0)
                return log_error_errno(errno, "Failed to open /run/berth/dm.lock: %m");
        if (flock(img->dm_lock, LOCK_EX|LOCK_NB) >= 0) {
                d = opendir("/dev/mapper");
                while (d && (de = readdir(d)))
                        if (startswith(de->d_name, "berth-") && dm_deactivate_deferred(de->d_name) >= 0)
                                log_debug("Marked device-mapper device %s for removal.", de->d_name);
        }
        if (flock(img->dm_lock, LOCK_SH) < 0)
                return log_error_errno(errno, "Failed to lock /run/berth/dm.lock: %m");
        return 0;
}

static int partition_decrypt(const SpawnConfig *c, MountedImage *img, PartitionDesignator d, const char *node,
                             char **ret_node, char **ret_name) {
        _cleanup_free_ char *name = NULL, *what = NULL, *dm = NULL;
        const DissectedPartition *p = &img->m.p[d];
        int r;

        if (asprintf(&what, "partition %u (%s)", p->partno, partition_designator_to_string(d)) < 0)
                return log_oom();
        r = dm_name(c, d, "crypt", &name);
        if (r < 0)
                return r;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *pass = NULL;
                size_t size = 0;

                r = get_passphrase(c, what, attempt, &pass, &size);
                if (r == -EPERM)
                        return log_error_errno(SYNTHETIC_ERRNO(EPERM), "Image '%s': wrong passphrase for %s.", c->image, what);
                if (r < 0)
                        return r;
                /* without device-mapper the passphrase can still be checked, so a wrong
                 * one is reported as such */
                r = luks_activate(dm_available() ? name : NULL, node, pass, size, img->read_only || p->read_only, &dm);
                if (pass)
                        explicit_bzero(pass, size);
                if (r == -EPERM)
                        continue;
                if (r == -ENOENT)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Image '%s': %s is not a valid LUKS volume.", c->image, what);
                if (r < 0)
                        return log_error_errno(r, "Image '%s': failed to unlock %s: %m", c->image, what);
                break;
        }
        if (!dm_available())
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Image '%s': %s is encrypted, but this kernel has no device-mapper (dm-crypt).",
                                       c->image, what);
        *ret_node = TAKE_PTR(dm);
        *ret_name = TAKE_PTR(name);
        return 0;
}

static int partition_verity(const SpawnConfig *c, MountedImage *img, PartitionDesignator d, const char *data_node,
                            const char *hash_node, char **ret_node, char **ret_name) {
        const uint8_t *hash = d == PARTITION_ROOT ? img->root_hash : img->usr_hash;
        size_t size = d == PARTITION_ROOT ? img->root_hash_size : img->usr_hash_size;
        _cleanup_free_ char *name = NULL, *dm = NULL;
        int r;

        if (!dm_available())
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Image '%s': the %s file system is verity-protected, but this kernel has no device-mapper (dm-verity).",
                                       c->image, partition_designator_to_string(d));
        r = dm_name(c, d, "verity", &name);
        if (r < 0)
                return r;
        r = verity_activate(name, data_node, hash_node, 0, hash, size,
                            d == PARTITION_ROOT ? img->root_hash_sig : NULL, img->root_hash_sig_size, &dm);
        if (r < 0 && d == PARTITION_ROOT && img->root_hash_sig)
                return log_error_errno(r, "Image '%s': the kernel refused dm-verity with the root hash signature "
                                       "(is the signer's certificate in its trusted keyrings?): %m", c->image);
        if (r < 0)
                return log_error_errno(r, "Image '%s': failed to set up dm-verity for the %s file system: %m",
                                       c->image, partition_designator_to_string(d));
        *ret_node = TAKE_PTR(dm);
        *ret_name = TAKE_PTR(name);
        return 0;
}

/* Where the partition goes, resolved inside the image's root; *ret_fd stays -EBADF if it
 * is to be skipped. Called again after mounting, it returns the new mount's root. */
static int partition_target(const SpawnConfig *c, MountedImage *img, PartitionDesignator d, int rootfd, int *ret_fd) {
        bool writable = !img->read_only && !img->m.p[PARTITION_ROOT].read_only && !img->verity[PARTITION_ROOT];
        int r;

        *ret_fd = -EBADF;
        if (d == PARTITION_ROOT)
                return RET_NERRNO(*ret_fd = open(IMAGE_MOUNT_POINT, O_PATH|O_DIRECTORY|O_CLOEXEC));

        if (!img->where[d])
                img->where[d] = partition_where(&img->m, d, rootfd);
        r = chase_in_root(rootfd, img->where[d], writable || img->overlay ? CHASE_MKDIR : 0, ret_fd);
        if (r == -ENOENT) {
                log_warning("Image '%s': no %s directory in the image to mount the %s partition on, skipping it.",
                            c->image, img->where[d], partition_designator_to_string(d));
                return 0;
        }
        return r;
}

static int partition_mount(const SpawnConfig *c, MountedImage *img, PartitionDesignator d, int rootfd) {
        DissectedPartition *p = &img->m.p[d];
        _cleanup_free_ char *node = NULL, *crypt_node = NULL, *crypt_name = NULL, *verity_node = NULL, *verity_name = NULL;
        _cleanup_close_ int part_fd = -EBADF, hash_fd = -EBADF, target = -EBADF, mfd = -EBADF;
        _cleanup_free_ char *hash_node = NULL;
        PartitionDesignator vd = d == PARTITION_ROOT ? PARTITION_ROOT_VERITY : PARTITION_USR_VERITY;
        const char *name = partition_designator_to_string(d), *source;
        bool verity = (d == PARTITION_ROOT && img->root_hash) || (d == PARTITION_USR && img->usr_hash);
        bool read_only = img->read_only || p->read_only || verity;
        char fstype[sizeof(p->fstype)];
        int r;

        if (p->partno == 0)
                source = img->loop.node;
        else {
                r = loop_device_open_partition(&img->loop, p->partno, p->offset, p->size, read_only, &part_fd, &node);
                if (r == -EUCLEAN || r == -ENXIO)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                               "Image '%s': the kernel does not see partition %u (%s) where the partition table puts it.",
                                               c->image, p->partno, name);
                if (r < 0)
                        return log_error_errno(r, "Image '%s': failed to open partition %u (%s): %m", c->image, p->partno, name);
                source = node;
        }
        snprintf(fstype, sizeof(fstype), "%s", p->fstype);

        if (streq(fstype, "crypto_LUKS")) {
                r = dm_available() ? dm_prepare(img) : 0;
                if (r >= 0)
                        r = partition_decrypt(c, img, d, source, &crypt_node, &crypt_name);
                if (r < 0)
                        return r;
                img->dm_names[img->n_dm++] = TAKE_PTR(crypt_name);
                source = crypt_node;
                r = partition_probe_node(source, fstype, sizeof(fstype));
                if (r < 0)
                        return log_error_errno(r, "Image '%s': failed to probe the decrypted %s partition: %m", c->image, name);
        }

        if (verity) {
                const DissectedPartition *vp = &img->m.p[vd];
                const char *hash_source = img->verity_data;

                if (!hash_source && vp->found) {
                        r = loop_device_open_partition(&img->loop, vp->partno, vp->offset, vp->size, true, &hash_fd, &hash_node);
                        if (r < 0)
                                return log_error_errno(r, "Image '%s': failed to open the %s partition: %m",
                                                       c->image, partition_designator_to_string(vd));
                        hash_source = hash_node;
                }
                if (!hash_source)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                               "Image '%s': a root hash is given but there is no verity data (no %s partition, no --verity-data=).",
                                               c->image, partition_designator_to_string(vd));
                r = dm_available() ? dm_prepare(img) : 0;
                if (r >= 0)
                        r = partition_verity(c, img, d, source, hash_source, &verity_node, &verity_name);
                if (r < 0)
                        return r;
                img->dm_names[img->n_dm++] = TAKE_PTR(verity_name);
                img->verity[d] = true;
                source = verity_node;
        }

        if (isempty(fstype))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Image '%s': %s%u (%s) has no file system.",
                                       c->image, p->partno ? "partition " : "", p->partno, name);
        if (!image_fstype_supported(fstype))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                       "Image '%s': the %s file system is '%s', which berth-spawn does not mount from images.",
                                       c->image, name, fstype);
        if (fstype_read_only(fstype)) {
                /* the mount says so too (a "rw" mount of it only fails on every write),
                 * and partition_target() makes no directories in it */
                p->read_only = true;
                read_only = true;
        }

        r = partition_target(c, img, d, rootfd, &target);
        if (r < 0)
                return log_error_errno(r, "Image '%s': failed to find where the %s partition goes: %m", c->image, name);
        if (target < 0)
                return 0;

        r = fs_create_detached(fstype, source, read_only ? "ro" : NULL,
                               read_only ? MOUNT_ATTR_RDONLY : 0, &mfd);
        if (r == -EIO && verity)
                return log_error_errno(SYNTHETIC_ERRNO(EIO),
                                       "Image '%s': the %s file system fails verification (wrong root hash or corrupted data).",
                                       c->image, name);
        if (r < 0)
                return log_error_errno(r, "Image '%s': failed to mount the %s file system (%s): %m", c->image, name, fstype);
        r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Image '%s': failed to attach the %s file system: %m", c->image, name);

        /* --ephemeral, --volatile=overlay: every file system gets its own throwaway layer */
        if (img->overlay) {
                _cleanup_close_ int top = -EBADF;

                r = partition_target(c, img, d, rootfd, &top);
                if (r >= 0 && top < 0)
                        r = -ENOENT;
                if (r < 0)
                        return log_error_errno(r, "Image '%s': failed to reopen the %s mount: %m", c->image, name);
                r = mount_overlay_tmpfs(top);
                if (r < 0)
                        return log_error_errno(r, "Image '%s': failed to stack a throwaway layer on the %s file system: %m",
                                               c->image, name);
        }
        log_debug("Image '%s': mounted partition %u (%s, %s)%s%s.", c->image, p->partno, name, fstype,
                  img->verity[d] ? ", verity" : "", read_only ? ", read-only" : "");
        return 0;
}

int mounted_image_setup(const SpawnConfig *c, MountedImage *img, char **ret_directory) {
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        DissectOptions o = {};
        uint64_t size;
        int r;

        if (!c->image)
                return 0;

        r = image_hashes(c, img);
        if (r < 0)
                return r;
        r = open_image(c, img, &size);
        if (r < 0)
                return r;

        o.root_hash = img->root_hash;
        o.root_hash_size = img->root_hash_size;
        o.usr_hash = img->usr_hash;
        o.usr_hash_size = img->usr_hash_size;
        r = dissect_image_fd(img->fd, size, &o, &img->m, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Image '%s': %s.", c->image, error ?: "cannot be used");
        if (c->verity_data && !img->root_hash)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--verity-data= needs --root-hash= or IMAGE.roothash.");
        if (img->root_hash_sig && !img->root_hash)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--root-hash-sig= (or IMAGE.roothash.p7s) needs --root-hash= or IMAGE.roothash.");
        if (isempty(img->m.table) && img->root_hash) {
                /* a bare file system keeps its hash tree outside: --verity-data= or IMAGE.verity */
                if (c->verity_data)
                        img->verity_data = strdup(c->verity_data);
                else {
                        img->verity_data = sidecar_path(c->image, ".verity");
                        if (img->verity_data && access(img->verity_data, F_OK) < 0) {
                                free(img->verity_data);
                                img->verity_data = NULL;
                                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG),
                                                       "Image '%s': a root hash is given but there is no verity data "
                                                       "(a bare file system needs --verity-data= or IMAGE.verity).", c->image);
                        }
                }
                if (!img->verity_data)
                        return log_oom();
        }

        /* Everything from here on is mounted in a mount namespace of our own, a slave of the
         * host's: the host never sees the image's file systems, and they go away with the
         * last process in it, even if we are killed. */
        if (unshare(CLONE_NEWNS) < 0)
                return log_error_errno(errno, "Failed to create a mount namespace for the image: %m");
        if (mount(NULL, "/", NULL, MS_SLAVE|MS_REC, NULL) < 0)
                return log_error_errno(errno, "Failed to make the mount namespace a slave of the host's: %m");
        r = mkdir_parents_and_self(IMAGE_MOUNT_POINT, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create " IMAGE_MOUNT_POINT ": %m");

        r = loop_device_attach(img->fd, img->read_only, &img->loop);
        if (r < 0)
                return log_error_errno(r, "Image '%s': failed to attach a loop device: %m", c->image);
        log_debug("Image '%s' attached to %s (%s).", c->image, img->loop.name,
                  isempty(img->m.table) ? "bare file system" : img->m.table);

        img->overlay = c->ephemeral || c->volatile_mode == VOLATILE_OVERLAY;
        for (size_t i = 0; i < partition_mount_order_n; i++) {
                PartitionDesignator d = partition_mount_order[i];

                if (!img->m.p[d].found)
                        continue;
                r = partition_mount(c, img, d, rootfd);
                if (r < 0)
                        return r;
                if (d == PARTITION_ROOT) {
                        rootfd = open(IMAGE_MOUNT_POINT, O_PATH|O_DIRECTORY|O_CLOEXEC);
                        if (rootfd < 0)
                                return log_error_errno(errno, "Failed to open the image's root: %m");
                }
        }

        /* The mounts hold the devices now: let the loop and dm devices go with them. */
        mounted_image_release_devices(img);

        r = RET_NERRNO(faccessat(rootfd, "usr", F_OK, AT_SYMLINK_NOFOLLOW));
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Image '%s' has no /usr directory; it does not look like an OS tree.",
                                       c->image);

        *ret_directory = strdup(IMAGE_MOUNT_POINT);
        return *ret_directory ? 0 : log_oom();
}

/* The devices are the kernel's to remove once the mounts go; their names stay recorded
 * for the state file. */
static void image_record_devices(MountedImage *img) {
        if (img->devices || img->loop.nr < 0)
                return;
        (void) strv_extend(&img->devices, img->loop.name);
        for (size_t i = 0; i < img->n_dm; i++)
                if (img->dm_names[i])
                        (void) strv_extend(&img->devices, img->dm_names[i]);
}

void mounted_image_release_devices(MountedImage *img) {
        image_record_devices(img);
        for (size_t i = 0; i < img->n_dm; i++) {
                int r = dm_deactivate_deferred(img->dm_names[i]);
                if (r < 0 && r != -ENODEV && r != -ENXIO)
                        log_warning_errno(r, "Failed to schedule removal of device-mapper device %s: %m", img->dm_names[i]);
                free(img->dm_names[i]);
                img->dm_names[i] = NULL;
        }
        img->n_dm = 0;
        img->dm_lock = safe_close(img->dm_lock);
        loop_device_done(&img->loop);
        img->fd = safe_close(img->fd);
}

void mounted_image_done(MountedImage *img) {
        mounted_image_release_devices(img);
        free(img->root_hash);
        free(img->usr_hash);
        free(img->root_hash_sig);
        free(img->verity_data);
        strv_free(img->devices);
        *img = (MountedImage) MOUNTED_IMAGE_NULL;
}
