/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "hash-util.h"
#include "log.h"
#include "seccomp-cache.h"
#include "string-util.h"

/* Compiling the allow list (~400 rules for each ABI) costs about 8 ms per start; loading
 * the programs from a file costs a few microseconds. The file:
 *
 *   header | key (text) | program 0 | program 1
 *
 * The header's checksum covers the key and the programs; its sizes must add up to the
 * file's size exactly, and the stored key must equal the one computed now. */
struct CacheEntry {
        struct timespec mtime;
        char name[64];
};

#define CACHE_MAGIC "BERTHSCF"
#define CACHE_FORMAT 1u
#define CACHE_FILE_MAX (64u * 1024u + SECCOMP_FILTER_PROGRAMS * SECCOMP_PROGRAM_MAX * sizeof(struct sock_filter))

typedef struct CacheHeader {
        char magic[8];
        uint32_t format;
        uint32_t key_size;
        uint32_t n_insns[SECCOMP_FILTER_PROGRAMS];
        uint64_t checksum;
} CacheHeader;

/* FNV-1a (hash-util.h), 64 bits, detects a damaged or truncated file; the cache directory
 * is root's alone, so this guards against accidents, not against root. */

static int append(char **s, const char *fmt, ...) _printf_(2, 3);
static int append(char **s, const char *fmt, ...) {
        _cleanup_free_ char *add = NULL;
        va_list ap;
        char *n;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&add, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        n = strjoin(*s ?: "", add);
        if (!n)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 0;
}

/* The GNU build ID of every object loaded: this program, libseccomp, libc. */
static int add_build_ids(struct dl_phdr_info *info, size_t size, void *userdata) {
        char **key = userdata;
        int r;

        (void) size;
        for (size_t i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                const char *p, *end;

                if (ph->p_type != PT_NOTE)
                        continue;
                p = (const char *) (info->dlpi_addr + ph->p_vaddr);
                end = p + ph->p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *) p;
                        const unsigned char *desc = (const unsigned char *) p + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);

                        if ((const char *) desc + nh->n_descsz > end)
                                break;
                        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                            memcmp(p + sizeof(*nh), "GNU", 4) == 0) {
                                char hex[2 * 64 + 1] = "";

                                for (size_t k = 0; k < nh->n_descsz && k < 64; k++)
                                        sprintf(hex + 2 * k, "%02x", desc[k]);
                                r = append(key, "object %s %s\n", info->dlpi_name[0] ? info->dlpi_name : "(main)", hex);
                                if (r < 0)
                                        return r;
                        }
                        p = (const char *) desc + ((nh->n_descsz + 3) & ~3u);
                }
        }
        return 0;
}

/* The inputs, not the rule list they expand to: the expansion (the default table, names
 * resolved by libseccomp) is fixed by the build IDs, and skipping it keeps a start with a
 * cached filter from touching libseccomp's tables at all (0.3 MiB of RSS, 0.3 ms). */
static int cache_key(uint64_t capabilities, char * const *allow, char * const *deny, char **ret) {
        _cleanup_free_ char *key = NULL;
        const struct scmp_version *v = seccomp_version();
        int r;

        r = append(&key, "berth seccomp cache %u\nlibseccomp %u.%u.%u\nabis %s\n", CACHE_FORMAT,
                   v->major, v->minor, v->micro, seccomp_filter_abis());
        if (r < 0)
                return r;
        r = dl_iterate_phdr(add_build_ids, &key);
        if (r < 0)
                return r;
        if (!strstr(key, "object (main) "))
                return -ENOPKG;   /* no build ID: nothing tells an upgraded binary apart */
        r = append(&key, "capabilities %016" PRIx64 "\nallow", capabilities);
        STRV_FOREACH(s, allow)
                if (r >= 0)
                        r = append(&key, " %s", *s);
        if (r >= 0)
                r = append(&key, "\ndeny");
        STRV_FOREACH(s, deny)
                if (r >= 0)
                        r = append(&key, " %s", *s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(key);
        return 0;
}

static int cache_path_for_key(const char *cache_dir, const char *key, char **ret) {
        return asprintf(ret, "%s/%016" PRIx64 ".bpf", cache_dir,
                        fnv1a64(FNV1A64_INIT, key, strlen(key))) < 0 ? -ENOMEM : 0;
}

int seccomp_cache_path(const char *cache_dir, uint64_t capabilities, char * const *allow, char * const *deny,
                       char **ret) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = cache_key(capabilities, allow, deny, &key);
        if (r < 0)
                return r;
        return cache_path_for_key(cache_dir, key, ret);
}

static uint64_t cache_checksum(const char *key, const SeccompFilter *f) {
        uint64_t h = fnv1a64(FNV1A64_INIT, key, strlen(key));

        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++)
                h = fnv1a64(h, f->insns[k], f->n_insns[k] * sizeof(struct sock_filter));
        return h;
}

/* Only a regular file of ours that nobody else can write or read. */
static int check_private(int fd, mode_t type) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_mode & S_IFMT) != type || st.st_uid != geteuid() || (st.st_mode & 0077) != 0)
                return -EPERM;
        return 0;
}

static int cache_read(int dir_fd, const char *name, const char *key, SeccompFilter *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        SeccompFilter f = SECCOMP_FILTER_NULL;
        size_t size, want, key_size = strlen(key);
        const char *p;
        CacheHeader h;
        int r;

        fd = openat(dir_fd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = check_private(fd, S_IFREG);
        if (r < 0)
                return r;
        r = read_full_fd(fd, CACHE_FILE_MAX, &buf, &size);
        if (r < 0)
                return r;
        if (size < sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 || h.format != CACHE_FORMAT ||
            h.key_size != key_size)
                return -EBADMSG;
        want = sizeof(h) + key_size;
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                if (h.n_insns[k] == 0 || h.n_insns[k] > SECCOMP_PROGRAM_MAX)
                        return -EBADMSG;
                want += h.n_insns[k] * sizeof(struct sock_filter);
        }
        if (size != want || memcmp(buf + sizeof(h), key, key_size) != 0)
                return -EBADMSG;

        p = buf + sizeof(h) + key_size;
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                size_t n = h.n_insns[k] * sizeof(struct sock_filter);

                f.insns[k] = malloc(n);
                if (!f.insns[k]) {
                        seccomp_filter_done(&f);
                        return -ENOMEM;
                }
                memcpy(f.insns[k], p, n);
                f.n_insns[k] = h.n_insns[k];
                p += n;
        }
        if (cache_checksum(key, &f) != h.checksum) {
                seccomp_filter_done(&f);
                return -EBADMSG;
        }
        *ret = f;
        return 0;
}

static int cache_dir_open(const char *cache_dir) {
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *slash;
        int r;

        /* the parent (/run/berth) as the other parts of berth make it */
        parent = strdup(cache_dir);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = 0;
                if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }
        if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = open(cache_dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        r = check_private(fd, S_IFDIR);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* Written under a temporary name and renamed: a reader sees the old file or the whole
 * new one, never a part. */
static int cache_write(int dir_fd, const char *name, const char *key, const SeccompFilter *f) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *tmp = NULL;
        CacheHeader h = {
                .format = CACHE_FORMAT,
                .key_size = (uint32_t) strlen(key),
                .checksum = cache_checksum(key, f),
        };
        int r;

        memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++)
                h.n_insns[k] = (uint32_t) f->n_insns[k];

        /* a name nobody else uses; O_EXCL, mode 0600 */
        if (asprintf(&tmp, "%s.%d.tmp", name, (int) getpid()) < 0)
                return -ENOMEM;
        (void) unlinkat(dir_fd, tmp, 0);
        fd = openat(dir_fd, tmp, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, &h, sizeof(h));
        if (r >= 0)
                r = loop_write(fd, key, h.key_size);
        for (size_t k = 0; r >= 0 && k < SECCOMP_FILTER_PROGRAMS; k++)
                r = loop_write(fd, f->insns[k], f->n_insns[k] * sizeof(struct sock_filter));
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

static int entry_cmp(const void *a, const void *b) {
        const struct timespec *x = &((const struct CacheEntry *) a)->mtime, *y = &((const struct CacheEntry *) b)->mtime;

        if (x->tv_sec != y->tv_sec)
                return x->tv_sec < y->tv_sec ? -1 : 1;
        return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* Every new set of options adds an entry and nothing else removes one: past
 * SECCOMP_CACHE_ENTRIES_MAX, remove the oldest (by when they were written) down to
 * SECCOMP_CACHE_ENTRIES_KEEP, and temporaries a killed writer left behind. An entry
 * removed while still in use is rebuilt once at its next start. */
static void cache_prune(int dir_fd) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ struct CacheEntry *l = NULL;
        size_t n = 0, allocated = 0;
        int fd;

        fd = openat(dir_fd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                safe_close(fd);
                return;
        }
        FOREACH_DIRENT(de, d) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (endswith(de->d_name, ".tmp")) {
                        if (st.st_mtim.tv_sec + 60 < time(NULL))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                if (!endswith(de->d_name, ".bpf") || strlen(de->d_name) >= sizeof(l[0].name))
                        continue;
                if (n == allocated) {
                        struct CacheEntry *p = reallocarray(l, allocated * 2 + 16, sizeof(*l));
                        if (!p)
                                return;
                        l = p;
                        allocated = allocated * 2 + 16;
                }
                l[n].mtime = st.st_mtim;
                strcpy(l[n].name, de->d_name);
                n++;
        }
        if (n <= SECCOMP_CACHE_ENTRIES_MAX)
                return;
        qsort(l, n, sizeof(*l), entry_cmp);
        for (size_t i = 0; i < n - SECCOMP_CACHE_ENTRIES_KEEP; i++)
                (void) unlinkat(dirfd(d), l[i].name, 0);
}

static int filter_build(uint64_t capabilities, char * const *allow, char * const *deny, SeccompFilter *ret) {
        _cleanup_strv_free_ char **rules = NULL;
        int r;

        r = seccomp_filter_rules(capabilities, allow, deny, &rules);
        if (r < 0)
                return r;
        return seccomp_filter_build(rules, ret);
}

int seccomp_filter_get(const char *cache_dir, uint64_t capabilities, char * const *allow, char * const *deny,
                       SeccompFilter *ret) {
        _cleanup_free_ char *key = NULL, *path = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        const char *name;
        int r;

        r = cache_key(capabilities, allow, deny, &key);
        if (r >= 0)
                r = cache_path_for_key(cache_dir, key, &path);
        if (r >= 0)
                r = dir_fd = cache_dir_open(cache_dir);
        if (r < 0) {
                log_debug_errno(r, "Not caching the system call filter in %s: %m", cache_dir);
                return filter_build(capabilities, allow, deny, ret);
        }
        name = strrchr(path, '/') + 1;

        r = cache_read(dir_fd, name, key, ret);
        if (r >= 0)
                return 0;
        if (r != -ENOENT)
                log_debug_errno(r, "Ignoring the cached system call filter %s: %m", path);

        r = filter_build(capabilities, allow, deny, ret);
        if (r < 0)
                return r;
        r = cache_write(dir_fd, name, key, ret);
        if (r < 0)
                log_debug_errno(r, "Could not cache the system call filter in %s, ignoring: %m", path);
        else
                cache_prune(dir_fd);
        return 0;
}
