/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* pull-oci: the OCI distribution API over libcurl. GET /v2/REPO/manifests/REF (an index
 * is resolved to this host's platform), the config and the layers from
 * /v2/REPO/blobs/DIGEST; every body is hashed on the way in and refused unless it matches
 * the digest it was asked by. A 401 with "WWW-Authenticate: Bearer realm=...,service=...,
 * scope=..." is answered as public registries expect: an anonymous token from the realm,
 * then the request again with it. Loopback registries are spoken to over plain HTTP (as
 * docker treats them as insecure registries by default), every other one over HTTPS. */

#include <curl/curl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-common.h"
#include "import-oci.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

/* A reference without a registry uses the one named here (one line), if any: berth has no
 * built-in default registry. */
#define OCI_DEFAULT_REGISTRY_FILE "/etc/berth/oci-registry"

#define MANIFEST_ACCEPT "Accept: " OCI_MEDIA_INDEX ", " OCI_MEDIA_MANIFEST ", " DOCKER_MEDIA_LIST ", " DOCKER_MEDIA_MANIFEST

typedef struct Registry {
        char *host;            /* host[:port] */
        char *repo;
        char *reference;       /* tag or digest */
        char *base;            /* scheme://host */
        char *token;           /* bearer token, once asked for */
        const ImagePool *pool;
} Registry;

typedef struct Fetch {
        CURL *curl;
        int fd;
        EVP_MD_CTX *md;
        uint64_t bytes, max;
        uint64_t reported;     /* of the bytes, counted in the image's progress */
        bool report;
        bool too_big;
        char *authenticate;    /* WWW-Authenticate of the response */
        char *content_type;
} Fetch;

static void registry_done(Registry *reg) {
        free(reg->host);
        free(reg->repo);
        free(reg->reference);
        free(reg->base);
        free(reg->token);
}

static bool host_is_loopback(const char *host) {
        return startswith(host, "localhost") || startswith(host, "127.") || startswith(host, "[::1]");
}

static bool valid_chars(const char *s, const char *allowed, size_t max) {
        return s && *s && strlen(s) <= max && strspn(s, allowed) == strlen(s);
}

#define LOWER_ALNUM "abcdefghijklmnopqrstuvwxyz0123456789"
#define TAG_CHARS LOWER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-"

static int default_registry(char **ret) {
        _cleanup_close_ int fd = open(OCI_DEFAULT_REGISTRY_FILE, O_RDONLY|O_CLOEXEC);
        _cleanup_free_ char *s = NULL;
        int r;

        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, 256, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, " \t\r\n")] = 0;
        if (!*s)
                return -ENOENT;
        *ret = TAKE_PTR(s);
        return 0;
}

/* [REGISTRY/]REPO[:TAG|@DIGEST]: REGISTRY is the first component when it has a '.' or a
 * ':' or is "localhost" (docker's rule). Non-logging but for the missing registry. */
static int registry_parse(Registry *reg, const char *ref) {
        _cleanup_free_ char *s = strdup(ref);
        char *at, *slash, *colon, *rest;

        if (!s)
                return -ENOMEM;
        at = strchr(s, '@');
        if (at) {
                *at = 0;
                if (!oci_digest_hex(at + 1))
                        return -EINVAL;
                reg->reference = strdup(at + 1);
        }
        slash = strchr(s, '/');
        if (slash && (memchr(s, '.', (size_t) (slash - s)) || memchr(s, ':', (size_t) (slash - s)) ||
                      strneq(s, "localhost", (size_t) (slash - s)))) {
                reg->host = strndup(s, (size_t) (slash - s));
                rest = slash + 1;
        } else {
                if (default_registry(&reg->host) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "%s names no registry, and %s names no default; give REGISTRY/REPO.",
                                               ref, OCI_DEFAULT_REGISTRY_FILE);
                rest = s;
        }
        colon = strrchr(rest, ':');
        if (colon && !strchr(colon, '/')) {
                *colon = 0;
                if (!at)
                        reg->reference = strdup(colon + 1);
        }
        if (!reg->reference)
                reg->reference = strdup("latest");
        reg->repo = strdup(rest);
        if (!reg->host || !reg->repo || !reg->reference)
                return -ENOMEM;
        if (!valid_chars(reg->repo, LOWER_ALNUM "._/-", 255) || !valid_chars(reg->host, TAG_CHARS ":[]", 255) ||
            (!at && !valid_chars(reg->reference, TAG_CHARS, 128)))
                return -EINVAL;
        reg->base = strjoin(host_is_loopback(reg->host) ? "http://" : "https://", reg->host);
        return reg->base ? 0 : -ENOMEM;
}

int pull_oci_name_from_ref(const char *ref, char **ret) {
        _cleanup_free_ char *s = strndup(ref, strcspn(ref, "@"));
        char *last, *colon;

        if (!s)
                return -ENOMEM;
        last = strrchr(s, '/');
        last = last ? last + 1 : s;
        colon = strchr(last, ':');
        if (colon)
                *colon = 0;
        if (!image_name_is_valid(last) || last[0] == '.')
                return -EINVAL;
        *ret = strdup(last);
        return *ret ? 0 : -ENOMEM;
}

/* Only a 200's body is the document or blob; an error body or a redirect's is not. */
static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        Fetch *f = userdata;
        size_t l = size * n;
        long code = 0;

        curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200)
                return l;
        f->too_big = f->bytes + l > f->max;
        if (import_cancelled || f->too_big || loop_write(f->fd, p, l) < 0)
                return 0;
        EVP_DigestUpdate(f->md, p, l);
        f->bytes += l;
        return l;
}

static void keep_header(char **where, const char *value, size_t n) {
        while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == '\n' || value[n - 1] == ' '))
                n--;
        free(*where);
        *where = strndup(value, n);
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        Fetch *f = userdata;
        size_t l = size * n;

        if (l > 17 && strncasecmp(p, "www-authenticate:", 17) == 0)
                keep_header(&f->authenticate, p + 17 + strspn(p + 17, " "), l - 17 - strspn(p + 17, " "));
        else if (l > 13 && strncasecmp(p, "content-type:", 13) == 0)
                keep_header(&f->content_type, p + 13 + strspn(p + 13, " "), l - 13 - strspn(p + 13, " "));
        return l;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        Fetch *f = userdata;

        if (import_cancelled)
                return 1;
        if (f->report && (uint64_t) dlnow > f->reported) {
                oci_progress_add((uint64_t) dlnow - f->reported);
                f->reported = (uint64_t) dlnow;
        }
        return 0;
}

/* GET url into f->fd; the HTTP status, or <0 for a transport failure (logged). */
static long fetch_once(Fetch *f, const char *url, const char *accept, const char *token) {
        struct curl_slist *headers = accept ? curl_slist_append(NULL, accept) : NULL;
        long code = 0;
        CURLcode cr;

        curl_easy_reset(f->curl);
        curl_easy_setopt(f->curl, CURLOPT_URL, url);
        curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(f->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        /* Blobs are often redirected to a storage host; curl sends the token only to the
         * registry's own host. */
        curl_easy_setopt(f->curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(f->curl, CURLOPT_MAXREDIRS, 8L);
        curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, headers);
        if (token) {
                curl_easy_setopt(f->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
                curl_easy_setopt(f->curl, CURLOPT_XOAUTH2_BEARER, token);
        }
        curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(f->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(f->curl, CURLOPT_HEADERDATA, f);
        curl_easy_setopt(f->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(f->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(f->curl, CURLOPT_XFERINFODATA, f);
        curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(f->curl, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(f->curl, CURLOPT_USERAGENT, "berth-import/" PROJECT_VERSION);
        cr = curl_easy_perform(f->curl);
        curl_slist_free_all(headers);
        curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
        if (import_cancelled)
                return -ECANCELED;
        if (cr == CURLE_WRITE_ERROR && f->too_big)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "%s is larger than announced (%" PRIu64 " bytes).",
                                       url, f->max);
        if (cr != CURLE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to fetch %s: %s", url, curl_easy_strerror(cr));
        return code;
}

/* The value of key="..." in a WWW-Authenticate challenge, URL-escaped. */
static char *challenge_param(CURL *c, const char *challenge, const char *key) {
        _cleanup_free_ char *pat = strjoin(key, "=\"");
        const char *p = pat ? strstr(challenge, pat) : NULL, *end;

        if (!p)
                return NULL;
        p += strlen(pat);
        end = strchr(p, '"');
        return end ? curl_easy_escape(c, p, (int) (end - p)) : NULL;
}

/* An anonymous token from the challenge's realm. */
static int registry_login(Registry *reg, CURL *c, const char *challenge) {
        const char *b = startswith(challenge, "Bearer ") ?: startswith(challenge, "bearer ");
        char *realm = NULL, *service = NULL, *scope = NULL, *unescaped = NULL;
        _cleanup_free_ char *url = NULL, *data = NULL;
        _cleanup_close_ int fd = memfd_create("berth-token", MFD_CLOEXEC);
        Fetch f = { .curl = c, .fd = fd, .md = EVP_MD_CTX_new(), .max = 1 << 20 };
        json_object *o = NULL, *tok = NULL;
        long code;
        int r = 0;

        if (!b || fd < 0 || !f.md || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1)
                r = !b ? log_error_errno(SYNTHETIC_ERRNO(EACCES), "The registry wants authentication '%s'; berth only does "
                                         "anonymous bearer tokens.", challenge) : log_oom();
        realm = r >= 0 ? challenge_param(c, b, "realm") : NULL;
        service = realm ? challenge_param(c, b, "service") : NULL;
        scope = realm ? challenge_param(c, b, "scope") : NULL;
        if (r >= 0 && realm) {
                unescaped = curl_easy_unescape(c, realm, 0, NULL);
                url = unescaped ? strjoin(unescaped, strchr(unescaped, '?') ? "&" : "?", "service=", strempty(service),
                                          "&scope=", strempty(scope)) : NULL;
        }
        if (r >= 0 && (!url || (!startswith(url, "https://") && !startswith(url, "http://"))))
                r = log_error_errno(SYNTHETIC_ERRNO(EACCES), "Cannot use the registry's challenge '%s'.", challenge);
        if (r >= 0 && (code = fetch_once(&f, url, NULL, NULL)) != 200)
                r = code < 0 ? (int) code : log_error_errno(SYNTHETIC_ERRNO(EACCES), "Token request failed: HTTP %ld.", code);
        if (r >= 0 && (lseek(fd, 0, SEEK_SET) < 0 || read_full_fd(fd, f.max, &data, NULL) < 0))
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read the token.");
        if (r >= 0 && (!(o = json_tokener_parse(data)) ||
                       !((json_object_object_get_ex(o, "token", &tok) || json_object_object_get_ex(o, "access_token", &tok)) &&
                         json_object_is_type(tok, json_type_string))))
                r = log_error_errno(SYNTHETIC_ERRNO(EACCES), "The token server's answer has no token.");
        if (r >= 0 && !(reg->token = strdup(json_object_get_string(tok))))
                r = log_oom();
        if (o)
                json_object_put(o);
        curl_free(realm);
        curl_free(service);
        curl_free(scope);
        curl_free(unescaped);
        free(f.authenticate);
        free(f.content_type);
        EVP_MD_CTX_free(f.md);
        return r;
}

/* GET /v2/REPO/KIND/REF into fd, checked against digest when one is given (the SHA-256
 * of the body otherwise in got_hex); at most max bytes. */
static int registry_get(Registry *reg, const char *kind, const char *ref, const char *accept, int fd, uint64_t max,
                        bool report, char got_hex[static 65], char **ret_content_type) {
        _cleanup_free_ char *url = strjoin(reg->base, "/v2/", reg->repo, "/", kind, "/", ref);
        Fetch f = { .curl = curl_easy_init(), .fd = fd, .md = EVP_MD_CTX_new(), .max = max, .report = report };
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        long code = 0;
        int r = 0;

        if (!url || !f.curl || !f.md)
                r = log_oom();
        for (unsigned attempt = 0; r >= 0 && attempt < 2; attempt++) {
                if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1) {
                        r = log_error_errno(errno, "Failed to reset the download: %m");
                        break;
                }
                f.bytes = 0;
                code = fetch_once(&f, url, accept, reg->token);
                if (code == 401 && !reg->token && f.authenticate)
                        r = registry_login(reg, f.curl, f.authenticate);
                else
                        break;
        }
        if (r >= 0 && code < 0)
                r = (int) code;
        else if (r >= 0 && code == 404)
                r = log_error_errno(SYNTHETIC_ERRNO(ENOENT), "%s does not exist in %s (HTTP 404).", ref, reg->host);
        else if (r >= 0 && code != 200)
                r = log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to fetch %s: HTTP %ld.", url, code);
        if (r >= 0) {
                EVP_DigestFinal_ex(f.md, md, &len);
                for (unsigned k = 0; k < 32; k++)
                        snprintf(got_hex + 2 * k, 3, "%02x", md[k]);
                if (ret_content_type)
                        *ret_content_type = TAKE_PTR(f.content_type);
        }
        free(f.authenticate);
        free(f.content_type);
        EVP_MD_CTX_free(f.md);
        if (f.curl)
                curl_easy_cleanup(f.curl);
        return r;
}

static int check_digest(const char *want, const char *got_hex, const char *what) {
        if (want && !streq_ptr(oci_digest_hex(want), got_hex))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The %s the registry sent does not match %s "
                                       "(got sha256:%s); refusing it.", what, want, got_hex);
        return 0;
}

/* A manifest, index or config, into memory, checked against digest when there is one. */
static int registry_get_small(Registry *reg, const char *kind, const char *ref, const char *digest, char **ret,
                              char ret_hex[static 65], char **ret_content_type) {
        _cleanup_close_ int fd = memfd_create("berth-oci", MFD_CLOEXEC);
        int r;

        if (fd < 0)
                return log_error_errno(errno, "Failed to create a memfd: %m");
        r = registry_get(reg, kind, ref, streq(kind, "manifests") ? MANIFEST_ACCEPT : NULL, fd, OCI_BLOB_MAX, false,
                         ret_hex, ret_content_type);
        if (r < 0)
                return r;
        r = check_digest(digest, ret_hex, streq(kind, "manifests") ? "manifest" : "blob");
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0 || read_full_fd(fd, OCI_BLOB_MAX, ret, NULL) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read back %s.", ref);
        return 0;
}

static int registry_fetch_layer(OciImage *img, OciLayer *l) {
        Registry *reg = img->userdata;
        _cleanup_close_ int fd = -EBADF;
        char hex[65];
        int r;

        /* An unnamed file of the pool's file system: nothing to clean up after a kill. */
        fd = open(reg->pool->path, O_TMPFILE|O_RDWR|O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a temporary file in %s: %m", reg->pool->path);
        log_info("Fetching layer %s (%" PRIu64 " bytes).", l->digest, l->size);
        r = registry_get(reg, "blobs", l->digest, NULL, fd, l->size > 0 ? l->size : UINT64_MAX, true, hex, NULL);
        if (r < 0)
                return r;
        r = check_digest(l->digest, hex, "layer");
        if (r < 0)
                return r;
        l->fd = TAKE_FD(fd);
        l->verified = true;
        return 0;
}

/* The manifest for this host: through an index if the reference names one. */
static int registry_resolve(Registry *reg, OciImage *img, json_object **ret_manifest) {
        _cleanup_free_ char *data = NULL, *ct = NULL;
        const char *ref = reg->reference;
        char hex[65];
        json_object *doc = NULL;
        int r;

        for (unsigned depth = 0; depth < 3; depth++) {
                r = registry_get_small(reg, "manifests", ref, oci_digest_hex(ref) ? ref : NULL, &data, hex, &ct);
                if (r < 0)
                        break;
                free(img->digest);
                img->digest = strjoin("sha256:", hex);
                doc = json_tokener_parse(data);
                if (!doc || !json_object_is_type(doc, json_type_object)) {
                        r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The manifest of %s is not a JSON object.", img->ref);
                        break;
                }
                if (!oci_json_is_index(doc) && !(ct && (startswith(ct, OCI_MEDIA_INDEX) || startswith(ct, DOCKER_MEDIA_LIST)))) {
                        *ret_manifest = TAKE_PTR(doc);
                        return 0;
                }
                json_object *d = oci_index_select(doc);
                if (!d) {
                        r = log_error_errno(SYNTHETIC_ERRNO(ENOENT), "%s has no image for this host's platform.", img->ref);
                        break;
                }
                /* The next request is by digest, checked: the index vouches for it. */
                free(reg->reference);
                reg->reference = strdup(json_object_get_string(json_object_object_get(d, "digest")));
                ref = reg->reference;
                json_object_put(doc);
                doc = NULL;
                data = mfree(data);
                ct = mfree(ct);
                if (!ref)
                        return log_oom();
        }
        if (doc)
                json_object_put(doc);
        return r < 0 ? r : log_error_errno(SYNTHETIC_ERRNO(ELOOP), "Indexes of %s nest too deep.", img->ref);
}

int pull_oci(const char *ref, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(registry_done) Registry reg = { .pool = pool };
        _cleanup_(oci_image_done) OciImage img = {};
        _cleanup_free_ char *derived = NULL, *config = NULL;
        json_object *manifest = NULL;
        const char *config_digest;
        char hex[65];
        int r;

        r = registry_parse(&reg, ref);
        if (r == -EINVAL || r == -ENOMEM)
                return r == -ENOMEM ? log_oom() : log_error_errno(r, "Invalid image reference '%s'.", ref);
        if (r < 0)
                return r;
        if (!name) {
                r = pull_oci_name_from_ref(ref, &derived);
                if (r < 0)
                        return log_error_errno(r, "Cannot derive an image name from %s; give one.", ref);
                name = derived;
        }
        r = mkdir_parents_and_self(pool->path, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create the pool %s: %m", pool->path);
        img = (OciImage) { .ref = strdup(ref), .fetch = registry_fetch_layer, .fetch_downloads = true, .userdata = &reg };
        if (!img.ref)
                return log_oom();
        log_info("Resolving %s at %s.", ref, reg.base);
        r = registry_resolve(&reg, &img, &manifest);
        if (r < 0)
                return r;
        config_digest = json_object_get_string(json_object_object_get(json_object_object_get(manifest, "config"), "digest"));
        if (!oci_digest_hex(config_digest))
                r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The manifest of %s has no valid config digest.", ref);
        if (r >= 0)
                r = registry_get_small(&reg, "blobs", config_digest, config_digest, &config, hex, NULL);
        if (r >= 0)
                r = oci_image_load(&img, manifest, config, strlen(config));
        json_object_put(manifest);
        if (r < 0)
                return r;
        log_info("Manifest %s: %zu layers.", img.digest, img.n_layers);
        return oci_image_install(&img, pool, name, force, read_only);
}
