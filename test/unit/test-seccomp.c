/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compiled system call filter and its cache: the programs read from the cache are
 * byte for byte the ones libseccomp builds, a damaged entry is rebuilt, and (as root) the
 * kernel ends up with the same filters, with the same flags, as libseccomp's own
 * seccomp_load() gives it. */

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "seccomp-cache.h"
#include "string-util.h"
#include "tap.h"

#define CAPS ((UINT64_C(1) << CAP_SYS_ADMIN) | (UINT64_C(1) << CAP_KILL))

static char tmpdir[] = "/tmp/test-seccomp.XXXXXX";
static char cache_dir[sizeof(tmpdir) + 16];

static bool filter_equal(const SeccompFilter *a, const SeccompFilter *b) {
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++)
                if (a->n_insns[k] != b->n_insns[k] ||
                    memcmp(a->insns[k], b->insns[k], a->n_insns[k] * sizeof(struct sock_filter)) != 0)
                        return false;
        return true;
}

static int read_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return read_full_fd(fd, 1 << 20, ret, ret_size);
}

static void write_file(const char *path, const char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY|O_TRUNC|O_CLOEXEC);

        CHECK(fd >= 0 && loop_write(fd, buf, size) >= 0);
}

/* Damage the entry with 'damage', then ask again: the filter must still be the fresh one
 * and the file rewritten to what it was. */
static void check_rebuilt(const char *what, char * const *rules, const SeccompFilter *fresh, const char *path,
                          const char *good, size_t good_size, void (*damage)(const char *path, const char *buf, size_t size)) {
        SeccompFilter f = SECCOMP_FILTER_NULL;
        _cleanup_free_ char *now = NULL;
        size_t now_size = 0;
        struct stat st;

        damage(path, good, good_size);
        CHECK(seccomp_filter_get(cache_dir, CAPS, NULL, NULL, &f) == 0);
        printf("# %s\n", what);
        CHECK(filter_equal(&f, fresh));
        CHECK(read_file(path, &now, &now_size) == 0 && now_size == good_size && memcmp(now, good, good_size) == 0);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
        seccomp_filter_done(&f);
}

static void damage_byte(const char *path, const char *buf, size_t size) {
        _cleanup_free_ char *copy = malloc(size);

        memcpy(copy, buf, size);
        copy[size - 3] ^= 0x40;     /* inside the allow list program */
        write_file(path, copy, size);
}

static void damage_truncate(const char *path, const char *buf, size_t size) {
        write_file(path, buf, size - sizeof(struct sock_filter));
}

static void damage_key(const char *path, const char *buf, size_t size) {
        _cleanup_free_ char *copy = malloc(size);
        char *p;

        memcpy(copy, buf, size);
        p = memmem(copy, size, "capabilities ", 13);
        CHECK(p);
        if (p)
                p[13] = 'X';
        write_file(path, copy, size);
}

static void damage_mode(const char *path, const char *buf, size_t size) {
        (void) buf;
        (void) size;
        CHECK(chmod(path, 0644) == 0);
}

static void test_cache(char * const *rules) {
        SeccompFilter fresh = SECCOMP_FILTER_NULL, first = SECCOMP_FILTER_NULL, second = SECCOMP_FILTER_NULL;
        _cleanup_free_ char *path = NULL, *good = NULL;
        struct stat st, st2;
        size_t good_size = 0;

        CHECK(seccomp_filter_build(rules, &fresh) == 0);
        CHECK(fresh.n_insns[0] > 0 && fresh.n_insns[1] > 100);

        CHECK(seccomp_cache_path(cache_dir, CAPS, NULL, NULL, &path) == 0);
        CHECK(path && strncmp(path, cache_dir, strlen(cache_dir)) == 0 && endswith(path, ".bpf"));
        CHECK(stat(path, &st) < 0 && errno == ENOENT);

        CHECK(seccomp_filter_get(cache_dir, CAPS, NULL, NULL, &first) == 0);
        CHECK(filter_equal(&first, &fresh));
        CHECK(stat(cache_dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
        CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);

        /* the second time the file is read, not rewritten */
        CHECK(seccomp_filter_get(cache_dir, CAPS, NULL, NULL, &second) == 0);
        CHECK(filter_equal(&second, &fresh));
        CHECK(stat(path, &st2) == 0 && st2.st_ino == st.st_ino &&
              st2.st_mtim.tv_sec == st.st_mtim.tv_sec && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec);

        CHECK(read_file(path, &good, &good_size) == 0);
        check_rebuilt("a flipped bit in a program is not loaded", rules, &fresh, path, good, good_size, damage_byte);
        check_rebuilt("a truncated file is not loaded", rules, &fresh, path, good, good_size, damage_truncate);
        check_rebuilt("a file with another key is not loaded", rules, &fresh, path, good, good_size, damage_key);
        check_rebuilt("a file others can read is not loaded", rules, &fresh, path, good, good_size, damage_mode);

        seccomp_filter_done(&fresh);
        seccomp_filter_done(&first);
        seccomp_filter_done(&second);
}

static void test_keys(void) {
        char *fanotify[] = { (char *) "fanotify_init", NULL }, *getpid_[] = { (char *) "getpid", NULL };
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        /* other capabilities, --system-call-filter= additions or removals: another entry */
        CHECK(seccomp_cache_path(cache_dir, CAPS, NULL, NULL, &a) == 0);
        CHECK(seccomp_cache_path(cache_dir, CAPS, fanotify, NULL, &b) == 0);
        CHECK(seccomp_cache_path(cache_dir, CAPS, NULL, getpid_, &c) == 0);
        CHECK(seccomp_cache_path(cache_dir, CAPS | (UINT64_C(1) << CAP_SYS_TIME), NULL, NULL, &d) == 0);
        CHECK(a && b && c && d && !streq(a, b) && !streq(a, c) && !streq(b, c) && !streq(a, d));
}

/* The filters a process has, as the kernel reports them (PTRACE_SECCOMP_GET_FILTER). */
static int kernel_filters(pid_t pid, SeccompFilter *ret, uint64_t ret_flags[static SECCOMP_FILTER_PROGRAMS]) {
        SeccompFilter f = SECCOMP_FILTER_NULL;
        int status;

        if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0 || waitpid(pid, &status, 0) != pid)
                return -errno;
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                /* index 0 is the first one loaded */
                unsigned long index = k;
                struct __ptrace_seccomp_metadata md = { .filter_off = index };
                long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *) index, NULL);

                if (n <= 0)
                        return -errno;
                f.insns[k] = calloc((size_t) n, sizeof(struct sock_filter));
                f.n_insns[k] = (size_t) n;
                if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *) index, f.insns[k]) != n)
                        return -errno;
                if (ptrace(PTRACE_SECCOMP_GET_METADATA, pid, (void *) sizeof(md), &md) < 0)
                        return -errno;
                ret_flags[k] = md.flags;
        }
        /* a third filter would be an extra one */
        if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *) (unsigned long) SECCOMP_FILTER_PROGRAMS, NULL) >= 0)
                return -E2BIG;
        *ret = f;
        return 0;
}

static pid_t spawn_loaded(char * const *rules, const SeccompFilter *f) {
        pid_t pid = fork();

        if (pid == 0) {
                if ((f ? seccomp_filter_load(f) : seccomp_load_filter_libseccomp(rules)) < 0)
                        _exit(EXIT_FAILURE);
                for (;;)
                        pause();
        }
        return pid;
}

static void test_kernel_equal(char * const *rules) {
        SeccompFilter cached = SECCOMP_FILTER_NULL, a = SECCOMP_FILTER_NULL, b = SECCOMP_FILTER_NULL;
        uint64_t flags_a[SECCOMP_FILTER_PROGRAMS] = {}, flags_b[SECCOMP_FILTER_PROGRAMS] = {};
        pid_t pa, pb;

        if (geteuid() != 0) {
                tap_skip("the kernel gets the same filters from the cache as from seccomp_load()", "not root");
                return;
        }
        CHECK(seccomp_filter_get(cache_dir, CAPS, NULL, NULL, &cached) == 0);
        pa = spawn_loaded(rules, NULL);
        pb = spawn_loaded(rules, &cached);
        CHECK(pa > 0 && pb > 0);
        usleep(200 * 1000);
        CHECK(kernel_filters(pa, &a, flags_a) == 0);
        CHECK(kernel_filters(pb, &b, flags_b) == 0);
        printf("# kernel: %zu + %zu instructions via libseccomp, %zu + %zu via the cache\n",
               a.n_insns[0], a.n_insns[1], b.n_insns[0], b.n_insns[1]);
        CHECK(a.n_insns[1] > 100 && filter_equal(&a, &b) && filter_equal(&b, &cached));
        CHECK(memcmp(flags_a, flags_b, sizeof(flags_a)) == 0);
        for (pid_t *p = (pid_t[]) { pa, pb, 0 }; *p > 0; p++) {
                (void) kill(*p, SIGKILL);
                (void) waitpid(*p, NULL, 0);
        }
        seccomp_filter_done(&cached);
        seccomp_filter_done(&a);
        seccomp_filter_done(&b);
}

static size_t count_suffix(const char *suffix) {
        _cleanup_closedir_ DIR *d = opendir(cache_dir);
        size_t n = 0;

        CHECK(d);
        FOREACH_DIRENT(de, d)
                if (endswith(de->d_name, suffix))
                        n++;
        return n;
}

static void make_file(const char *name, time_t mtime) {
        _cleanup_free_ char *p = strjoin(cache_dir, "/", name);
        struct timespec ts[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
        int fd;

        CHECK(p);
        fd = open(p, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        safe_close(fd);
        CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
}

/* The cache does not grow for ever: past SECCOMP_CACHE_ENTRIES_MAX entries, storing one
 * removes the oldest down to SECCOMP_CACHE_ENTRIES_KEEP, and a writer's stale temporary. */
static void test_prune(void) {
        SeccompFilter f = SECCOMP_FILTER_NULL;
        _cleanup_free_ char *path = NULL, *oldest = NULL;
        time_t now = time(NULL);
        struct stat st;

        for (unsigned i = 0; i < SECCOMP_CACHE_ENTRIES_MAX + 16; i++) {
                char name[32];

                snprintf(name, sizeof(name), "%016x.bpf", i);
                make_file(name, now - 10000 + i);
        }
        make_file("old.bpf.1.tmp", now - 3600);
        make_file("new.bpf.2.tmp", now);
        oldest = strjoin(cache_dir, "/0000000000000000.bpf");
        CHECK(oldest && stat(oldest, &st) == 0);

        /* a key not stored yet: it is written, then the cache is pruned */
        CHECK(seccomp_cache_path(cache_dir, CAPS | (UINT64_C(1) << CAP_SYS_MODULE), NULL, NULL, &path) == 0);
        CHECK(stat(path, &st) < 0);
        CHECK(seccomp_filter_get(cache_dir, CAPS | (UINT64_C(1) << CAP_SYS_MODULE), NULL, NULL, &f) == 0);
        /* pruned to SECCOMP_CACHE_ENTRIES_KEEP; the entry just stored stays, the oldest goes;
         * a stale temporary is removed, a fresh one kept */
        CHECK(count_suffix(".bpf") == SECCOMP_CACHE_ENTRIES_KEEP);
        CHECK(stat(path, &st) == 0);
        CHECK(stat(oldest, &st) < 0 && errno == ENOENT);
        CHECK(count_suffix(".tmp") == 1);
        seccomp_filter_done(&f);
}

int main(void) {
        _cleanup_strv_free_ char **rules = NULL;
        _cleanup_free_ char *cmd = NULL;

        CHECK(mkdtemp(tmpdir));
        snprintf(cache_dir, sizeof(cache_dir), "%s/seccomp", tmpdir);
        CHECK(seccomp_filter_rules(CAPS, NULL, NULL, &rules) == 0);

        test_cache(rules);
        test_keys();
        test_kernel_equal(rules);
        test_prune();

        cmd = strjoin("rm -rf ", tmpdir);
        CHECK(cmd && system(cmd) == 0);
        CHECK(access(tmpdir, F_OK) < 0);
        return tap_done();
}
