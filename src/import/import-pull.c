/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-archive.h"
#include "import-cache.h"
#include "import-common.h"
#include "import-pull.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

static const char *const verify_table[_IMPORT_VERIFY_MAX] = {
        [IMPORT_VERIFY_NO] = "no",
        [IMPORT_VERIFY_CHECKSUM] = "checksum",
        [IMPORT_VERIFY_SIGNATURE] = "signature",
};

const char *import_verify_to_string(ImportVerify v) {
        return v >= 0 && v < _IMPORT_VERIFY_MAX ? verify_table[v] : NULL;
}

ImportVerify import_verify_from_string(const char *s) {
        for (ImportVerify v = 0; v < _IMPORT_VERIFY_MAX; v++)
                if (s && streq(verify_table[v], s))
                        return v;
        return _IMPORT_VERIFY_INVALID;
}

static const char *const suffixes[] = {
        ".xz", ".gz", ".bz2", ".zst", ".tar", ".raw", ".img", ".qcow2",
};

int pull_name_from_url(const char *url, char **ret) {
        _cleanup_free_ char *n = NULL;
        const char *q = strpbrk(url, "?#");
        bool again = true;

        n = strndup(url, q ? (size_t) (q - url) : strlen(url));
        if (!n)
                return -ENOMEM;
        char *b = path_basename(n);
        if (!b)
                return -EINVAL;
        free(n);
        n = b;
        while (again) {
                again = false;
                for (size_t k = 0; k < ELEMENTSOF(suffixes); k++)
                        if (endswith(n, suffixes[k]) && strlen(n) > strlen(suffixes[k])) {
                                n[strlen(n) - strlen(suffixes[k])] = 0;
                                again = true;
                        }
        }
        if (!image_name_is_valid(n))
                return -EINVAL;
        *ret = TAKE_PTR(n);
        return 0;
}

typedef struct Download {
        int fd;
        EVP_MD_CTX *md;
        uint64_t bytes;
        CURL *curl;
        const char *if_none_match;   /* the cached copy's ETag */
        char *etag;                  /* of the last response */
        bool unchanged;              /* 200 with the cached ETag: stopped before the body */
} Download;

/* Remember the ETag of the response (of the last one, after redirects). */
static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        Download *d = userdata;
        size_t l = size * n, b, e;

        if (l >= 5 && strneq(p, "HTTP/", 5))
                d->etag = mfree(d->etag);
        else if (l > 5 && strncasecmp(p, "ETag:", 5) == 0) {
                b = 5 + strspn(p + 5, " \t");
                for (e = l; e > b && strchr(" \t\r\n", p[e - 1]); e--)
                        ;
                free(d->etag);
                d->etag = e > b ? strndup(p + b, e - b) : NULL;
        }
        return l;
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        Download *d = userdata;
        size_t l = size * n;
        long code = 0;

        /* A server that ignores If-None-Match: its unchanged ETag ends the transfer here. */
        if (d->bytes == 0 && d->if_none_match && d->etag && streq(d->etag, d->if_none_match) &&
            curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200) {
                d->unchanged = true;
                return 0;
        }
        if (import_cancelled || loop_write(d->fd, p, l) < 0)
                return 0;
        if (d->md)
                EVP_DigestUpdate(d->md, p, l);
        d->bytes += l;
        return l;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        if (import_cancelled)
                return 1;
        if (userdata)
                import_report((uint64_t) dlnow, (uint64_t) dltotal);
        return 0;
}

/* GET url into fd; -ENOENT on 404 (optional files), the SHA-256 into hex when asked.
 * With if_none_match (an ETag), 1 and nothing written when the server says it is still
 * current (304, or 200 with that ETag); the response's ETag into *ret_etag if asked. */
static int download_etag(const char *url, int fd, bool report, char *hex, const char *if_none_match,
                         char **ret_etag) {
        _cleanup_free_ char *inm = if_none_match ? strjoin("If-None-Match: ", if_none_match) : NULL;
        struct curl_slist *headers = NULL;
        CURL *c = curl_easy_init();
        Download d = { .fd = fd, .curl = c, .if_none_match = if_none_match };
        long code = 0;
        CURLcode cr;
        int r = 0;

        if (!c)
                return log_oom();
        if (hex) {
                d.md = EVP_MD_CTX_new();
                if (!d.md || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1) {
                        curl_easy_cleanup(c);
                        EVP_MD_CTX_free(d.md);
                        return log_oom();
                }
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 8L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, report ? &d : NULL);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-import/" PROJECT_VERSION);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
        if (inm && (headers = curl_slist_append(NULL, inm)))
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

        cr = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (import_cancelled)
                r = -ECANCELED;
        else if (if_none_match && (d.unchanged || code == 304))
                r = 1;
        else if (cr != CURLE_OK && code < 400)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to download %s: %s", url, curl_easy_strerror(cr));
        else if (code == 404 || code == 410)
                r = -ENOENT;
        else if (code >= 300)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to download %s: HTTP %ld", url, code);
        if (r == 0 && hex) {
                unsigned char md[EVP_MAX_MD_SIZE];
                unsigned len = 0;

                EVP_DigestFinal_ex(d.md, md, &len);
                for (unsigned k = 0; k < len && k < 32; k++)
                        sprintf(hex + 2 * k, "%02x", md[k]);
        }
        if (r == 0 && ret_etag)
                *ret_etag = TAKE_PTR(d.etag);
        free(d.etag);
        EVP_MD_CTX_free(d.md);
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);
        return r;
}

static int download(const char *url, int fd, bool report, char *hex) {
        return download_etag(url, fd, report, hex, NULL, NULL);
}

static int download_to_string(const char *url, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = memfd_create("berth-pull", MFD_CLOEXEC);
        size_t n;
        int r;

        if (fd < 0)
                return -errno;
        r = download(url, fd, false, NULL);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, max, ret, &n);
        if (r >= 0 && ret_size)
                *ret_size = n;
        return r;
}

static char *url_sibling(const char *url, const char *name) {
        const char *slash = strrchr(url, '/');
        _cleanup_free_ char *dir = slash ? strndup(url, (size_t) (slash - url + 1)) : NULL;

        return dir ? strjoin(dir, name) : NULL;
}

/* "HEX  NAME" or "HEX *NAME" lines (sha256sum's), or a lone HEX for a .sha256 file. */
static int find_checksum(const char *sums, const char *file, bool single, char ret[static 65]) {
        for (const char *l = sums; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                size_t hl = strspn(l, "0123456789abcdefABCDEF"), nl;
                const char *f = l + hl;

                if (hl != 64)
                        continue;
                while (*f == ' ' || *f == '*')
                        f++;
                nl = strcspn(f, "\r\n");
                if ((single && nl == 0) || (nl == strlen(file) && strneq(f, file, nl))) {
                        for (size_t k = 0; k < 64; k++)
                                ret[k] = (char) (l[k] | 0x20);
                        ret[64] = 0;
                        return 0;
                }
        }
        return -ENOENT;
}

static int run_gpgv(const char *keyring, const char *sig, const char *data) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR|O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO), (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                execlp("gpgv", "gpgv", "--quiet", "--keyring", keyring, sig, data, NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOEXEC : -EBADMSG;
}

static int write_new_file(const char *path, const char *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);

        return fd < 0 ? -errno : loop_write(fd, data, size);
}

static int verify_signature(const char *url, const char *sums, const char *keyring) {
        static const char *const keyrings[] = { IMPORT_KEYRINGS };
        _cleanup_free_ char *sig_url = url_sibling(url, "SHA256SUMS.gpg"), *sig = NULL;
        char dir[] = "/tmp/berth-pull-XXXXXX", sig_path[64], data_path[64];
        size_t sig_size = 0;
        int r;

        if (!sig_url)
                return log_oom();
        if (!keyring)
                for (size_t k = 0; k < ELEMENTSOF(keyrings) && !keyring; k++)
                        if (access(keyrings[k], R_OK) >= 0)
                                keyring = keyrings[k];
        if (!keyring)
                return log_error_errno(SYNTHETIC_ERRNO(ENOKEY), "No keyring to check signatures with (%s).",
                                       keyrings[0]);
        r = download_to_string(sig_url, 1 << 20, &sig, &sig_size);
        if (r == -ENOENT)
                return log_error_errno(r, "No signature at %s.", sig_url);
        if (r < 0)
                return log_error_errno(r, "Failed to download %s: %m", sig_url);
        if (!mkdtemp(dir))
                return log_error_errno(errno, "Failed to make a temporary directory: %m");
        snprintf(sig_path, sizeof(sig_path), "%s/SHA256SUMS.gpg", dir);
        snprintf(data_path, sizeof(data_path), "%s/SHA256SUMS", dir);
        r = write_new_file(data_path, sums, strlen(sums));
        if (r >= 0)
                r = write_new_file(sig_path, sig, sig_size);   /* armored or binary: NULs count */
        if (r < 0) {
                (void) unlink(data_path);
                (void) rmdir(dir);
                return log_error_errno(r, "Failed to write the files for gpgv in %s: %m", dir);
        }
        r = run_gpgv(keyring, sig_path, data_path);
        (void) unlink(sig_path);
        (void) unlink(data_path);
        (void) rmdir(dir);
        if (r == -ENOEXEC)
                return log_error_errno(r, "gpgv is not installed; cannot check signatures.");
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Signature of %s does not verify against %s.",
                                       sig_url, keyring);
        log_info("Signature of SHA256SUMS verified against %s.", keyring);
        return 0;
}

/* The expected SHA-256 of url's file, or "" with verify=no. */
static int expected_checksum(const char *url, ImportVerify verify, const char *keyring, char **ret_sums,
                             char ret[static 65]) {
        _cleanup_free_ char *file = path_basename(url), *one_url = strjoin(url, ".sha256"),
                           *sums_url = url_sibling(url, "SHA256SUMS"), *sums = NULL;
        int r;

        ret[0] = 0;
        if (verify == IMPORT_VERIFY_NO)
                return 0;
        if (!file || !one_url || !sums_url)
                return log_oom();
        if (verify == IMPORT_VERIFY_CHECKSUM) {
                r = download_to_string(one_url, 4096, &sums, NULL);
                if (r >= 0 && find_checksum(sums, file, true, ret) >= 0)
                        return 0;
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "Failed to download %s: %m", one_url);
                sums = mfree(sums);
        }
        r = download_to_string(sums_url, 1 << 20, &sums, NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "No checksum for %s (neither %s nor %s exist).", url, one_url, sums_url);
        if (r < 0)
                return log_error_errno(r, "Failed to download %s: %m", sums_url);
        if (verify == IMPORT_VERIFY_SIGNATURE) {
                r = verify_signature(url, sums, keyring);
                if (r < 0)
                        return r;
        }
        if (find_checksum(sums, file, false, ret) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "%s has no line for %s.", sums_url, file);
        *ret_sums = TAKE_PTR(sums);
        return 0;
}

/* The files next to the image, fetched with it: the .nspawn settings (any image), and for
 * raw images the dm-verity root hash, its PKCS#7 signature and the hash tree, which
 * berth-spawn uses as IMAGE.roothash and IMAGE.verity. Fetched (and checked against the
 * same sums) before the image is unpacked, so a bad one fails the transfer with nothing
 * kept; each into an unnamed file in the pool (a hash tree can be large), linked next to
 * the image as NAME.SUFFIX once the image is in place. All came from the network: the
 * settings file is untrusted (berth-spawn treats it as systemd-nspawn treats files in
 * /var/lib/machines), the verity files are only data that the image must match. */
typedef struct Sidecar {
        const char *suffix;
        bool raw_only;
        bool keep_existing;   /* not replaced without --force (a local edit wins) */
        int fd;
} Sidecar;

#define SIDECARS_INIT {                                                                \
        { ".nspawn",        .keep_existing = true, .fd = -EBADF },                     \
        { ".roothash",      .raw_only = true,      .fd = -EBADF },                     \
        { ".roothash.p7s",  .raw_only = true,      .fd = -EBADF },                     \
        { ".verity",        .raw_only = true,      .fd = -EBADF },                     \
}

static void sidecars_done(Sidecar (*s)[4]) {
        for (size_t k = 0; k < ELEMENTSOF(*s); k++)
                (*s)[k].fd = safe_close((*s)[k].fd);
}

static int sidecar_fetch(const char *url, const char *base, const char *sums, const ImagePool *pool, Sidecar *sc) {
        _cleanup_free_ char *file = strjoin(base, sc->suffix), *surl = NULL;
        _cleanup_close_ int fd = -EBADF;
        char want[65], got[65];
        int r;

        surl = file ? url_sibling(url, file) : NULL;
        if (!surl)
                return log_oom();
        fd = open(pool->path, O_TMPFILE|O_RDWR|O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a temporary file in %s: %m", pool->path);
        r = download(surl, fd, false, got);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (sums) {
                if (find_checksum(sums, file, false, want) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "Checksum list has no line for %s.", file);
                if (!streq(want, got))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Checksum of %s does not match.", file);
        }
        log_info("Fetched %s.", file);
        sc->fd = TAKE_FD(fd);
        return 0;
}

static int sidecars_fetch(const char *url, bool raw, const char *sums, const ImagePool *pool, Sidecar (*s)[4]) {
        _cleanup_free_ char *base = NULL;
        int r;

        if (pull_name_from_url(url, &base) < 0)
                return 0;
        for (size_t k = 0; k < ELEMENTSOF(*s); k++) {
                if ((*s)[k].raw_only && !raw)
                        continue;
                r = sidecar_fetch(url, base, sums, pool, &(*s)[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Link the unnamed file sc->fd as dfd/target, replacing what is there. */
static int sidecar_link(int dfd, const char *target, int fd) {
        _cleanup_free_ char *tmp = strjoin(".#", target);
        char proc[64];

        if (!tmp)
                return -ENOMEM;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (fchmod(fd, 0644) < 0)
                return -errno;
        (void) unlinkat(dfd, tmp, 0);
        if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) < 0)
                return -errno;
        if (renameat(dfd, tmp, dfd, target) < 0) {
                int e = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return e;
        }
        return 0;
}

/* The fetched files next to image NAME; a verity file the new image did not come with is
 * removed, since it could only describe the image this one replaced. */
static int sidecars_install(const ImagePool *pool, const char *name, bool raw, bool force, Sidecar (*s)[4]) {
        _cleanup_close_ int dfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        int r;

        if (dfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", pool->path);
        for (size_t k = 0; k < ELEMENTSOF(*s); k++) {
                Sidecar *sc = &(*s)[k];
                _cleanup_free_ char *target = strjoin(name, sc->suffix);

                if (!target)
                        return log_oom();
                if (sc->raw_only && !raw)
                        continue;
                if (sc->fd < 0) {
                        if (!sc->keep_existing && unlinkat(dfd, target, 0) >= 0)
                                log_info("Removed %s of the replaced image.", target);
                        continue;
                }
                if (sc->keep_existing && !force && faccessat(dfd, target, F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                        log_warning("%s already exists in the pool; not replaced (use --force).", target);
                        continue;
                }
                r = sidecar_link(dfd, target, sc->fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", target);
                log_info(sc->keep_existing ? "Saved settings file %s (untrusted)." : "Saved %s.", target);
        }
        return 0;
}

int import_settings_write(const ImagePool *pool, const char *name, const char *data, bool force) {
        _cleanup_free_ char *target = strjoin(name, ".nspawn");
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (!target)
                return log_oom();
        dfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", pool->path);
        if (!force && faccessat(dfd, target, F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                log_warning("%s already exists in the pool; not replaced (use --force).", target);
                return 0;
        }
        r = write_file_atomic_at(dfd, target, data, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", target);
        log_info("Saved settings file %s (untrusted).", target);
        return 0;
}

/* Download url into an unnamed file in the pool and make image NAME of it; 1 when the
 * cache's copy is still current (nothing downloaded). */
static int pull_download(const char *url, bool raw, const ImagePool *pool, const char *name, const char *want,
                         PullCache *cache, bool force, bool read_only) {
        _cleanup_free_ char *etag = NULL;
        _cleanup_close_ int fd = -EBADF;
        char got[65];
        int r;

        /* The download goes to an unnamed file in the pool's file system: nothing to clean
         * up after a failure or a kill, and its space counts where the image will be. */
        fd = open(pool->path, O_TMPFILE|O_RDWR|O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a temporary file in %s: %m", pool->path);
        log_info("Downloading %s.", url);
        r = download_etag(url, fd, true, got, cache->etag, &etag);
        if (r == -ENOENT)
                return log_error_errno(r, "%s does not exist (HTTP 404).", url);
        if (r != 0)
                return r;
        if (want[0]) {
                if (!streq(want, got))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Checksum of %s does not match: expected %s, got %s.",
                                               url, want, got);
                log_info("SHA-256 checksum of %s verified.", url);
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return log_error_errno(errno, "Failed to rewind the download: %m");
        r = raw ? import_raw_fd(fd, pool, name, force, read_only) : import_tar_fd(fd, pool, name, force, read_only);
        if (r < 0)
                return r;
        pull_cache_store(cache, name, etag, got);
        return 0;
}

int pull_image(const char *url, bool raw, const ImagePool *pool, const char *name, ImportVerify verify,
               const char *keyring, bool force, bool read_only) {
        _cleanup_free_ char *derived = NULL, *sums = NULL;
        _cleanup_(pull_cache_done) PullCache cache = { .pool_fd = -EBADF };
        _cleanup_(sidecars_done) Sidecar sidecars[4] = SIDECARS_INIT;
        char want[65];
        int r;

        if (!name) {
                r = pull_name_from_url(url, &derived);
                if (r < 0)
                        return log_error_errno(r, "Cannot derive an image name from %s; give one.", url);
                name = derived;
        }
        r = expected_checksum(url, verify, keyring, &sums, want);
        if (r < 0)
                return r;
        r = mkdir_parents_and_self(pool->path, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create the pool %s: %m", pool->path);
        r = sidecars_fetch(url, raw, sums, pool, &sidecars);
        if (r < 0)
                return r;
        r = pull_cache_open(&cache, pool, url, raw);
        if (r < 0)
                return log_error_errno(r, "Failed to look for a cached copy of %s: %m", url);

        r = pull_download(url, raw, pool, name, want, &cache, force, read_only);
        if (r == 1) {
                r = pull_cache_use(&cache, name, want, force, read_only);
                if (r == -ESTALE) {
                        /* Same ETag, other checksum: the copy is not what the sums vouch for. */
                        log_info("The cached copy does not match the checksum; downloading again.");
                        cache.etag = mfree(cache.etag);
                        r = pull_download(url, raw, pool, name, want, &cache, force, read_only);
                }
        }
        if (r < 0)
                return r;
        return sidecars_install(pool, name, raw, force, &sidecars);
}
