/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The OCI parts of berth-import that need no registry: names from references, digests,
 * chain ids and the refusals of oci_image_load(), the platform choice of an index, the
 * .nspawn written from a config, and whiteouts applied by oci_layer_apply() to a tree in
 * a scratch directory (layers written with libarchive here). */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-oci.h"
#include "log.h"
#include "string-util.h"
#include "tap.h"

#define HEX_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_names(void) {
        static const char *const cases[][2] = {
                { "localhost:5000/test/multi:v1", "multi" },
                { "registry.example/a/b/c@sha256:0000000000000000000000000000000000000000000000000000000000000000", "c" },
                { "busybox", "busybox" },
                { "127.0.0.1:5000/x:latest", "x" },
        };
        char *n;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                n = NULL;
                CHECK(pull_oci_name_from_ref(cases[k][0], &n) == 0);
                CHECK_STREQ(n, cases[k][1]);
                free(n);
        }
        CHECK(pull_oci_name_from_ref("host:5000/repo/..:v1", &n) < 0);
        CHECK(oci_digest_hex(HEX_A) != NULL);
        CHECK(oci_digest_hex("sha256:AAAA") == NULL);
        CHECK(oci_digest_hex("sha512:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == NULL);
}

static json_object *manifest_of(const char *layer_type, size_t n) {
        char buf[1024];

        snprintf(buf, sizeof(buf), "{\"layers\": [{\"mediaType\": \"%s\", \"digest\": \"" HEX_A "\", \"size\": 3}%s]}",
                 layer_type, n > 1 ? ", {\"digest\": \"" HEX_B "\"}" : "");
        return json_tokener_parse(buf);
}

static void test_load(void) {
        static const char config[] = "{\"rootfs\": {\"type\": \"layers\", \"diff_ids\": [\"" HEX_A "\", \"" HEX_B "\"]}}";
        OciImage img = {};
        json_object *m;

        m = manifest_of("application/vnd.oci.image.layer.v1.tar+gzip", 2);
        CHECK(oci_image_load(&img, m, config, strlen(config)) == 0);
        CHECK(img.n_layers == 2);
        CHECK_STREQ(img.layers[0].chain, HEX_A + 7);
        /* sha256("sha256:a... sha256:b..."), by python's hashlib */
        CHECK_STREQ(img.layers[1].chain, "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
        oci_image_done(&img);
        json_object_put(m);

        m = manifest_of("application/vnd.oci.image.layer.v1.tar+gzip", 1);
        CHECK(oci_image_load(&img, m, config, strlen(config)) == -EBADMSG);   /* 1 layer, 2 diff_ids */
        oci_image_done(&img);
        json_object_put(m);

        m = manifest_of("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", 2);
        CHECK(oci_image_load(&img, m, config, strlen(config)) == -EPROTONOSUPPORT);
        oci_image_done(&img);
        json_object_put(m);

        /* docker save: no manifest, the diff_ids are the layers */
        CHECK(oci_image_load(&img, NULL, config, strlen(config)) == 0 && img.n_layers == 2 && !img.layers[0].digest);
        oci_image_done(&img);
        CHECK(oci_image_load(&img, NULL, "[]", 2) == -EBADMSG);
        oci_image_done(&img);
}

static const char *host_arch(void) {
        struct utsname u;

        uname(&u);
        return streq(u.machine, "x86_64") ? "amd64" : streq(u.machine, "aarch64") ? "arm64" : "none";
}

static void test_index(void) {
        char buf[1024];
        json_object *index, *d;
        const char *other = streq(host_arch(), "arm64") ? "amd64" : "arm64";

        snprintf(buf, sizeof(buf),
                 "{\"mediaType\": \"" OCI_MEDIA_INDEX "\", \"manifests\": ["
                 "{\"digest\": \"" HEX_A "\", \"platform\": {\"os\": \"linux\", \"architecture\": \"%s\"}},"
                 "{\"digest\": \"" HEX_B "\", \"platform\": {\"os\": \"unknown\", \"architecture\": \"unknown\"}},"
                 "{\"digest\": \"" HEX_B "\", \"platform\": {\"os\": \"linux\", \"architecture\": \"%s\"}}]}",
                 other, host_arch());
        index = json_tokener_parse(buf);
        CHECK(oci_json_is_index(index));
        d = oci_index_select(index);
        CHECK(d && streq(json_object_get_string(json_object_object_get(d, "digest")), HEX_B));
        json_object_put(index);

        snprintf(buf, sizeof(buf), "{\"manifests\": [{\"digest\": \"" HEX_A "\", \"platform\": {\"os\": \"linux\", "
                 "\"architecture\": \"%s\"}}]}", other);
        index = json_tokener_parse(buf);
        CHECK(oci_json_is_index(index));
        CHECK(oci_index_select(index) == NULL);       /* nothing for this host */
        json_object_put(index);
}

static void test_settings(void) {
        json_object *c = json_tokener_parse(
                "{\"config\": {\"Entrypoint\": [\"/bin/sh\", \"-c\"], \"Cmd\": [\"echo \\\"a\\\\b\\\" $X\"],"
                "\"Env\": [\"X=1 2\"], \"WorkingDir\": \"/srv\", \"User\": \"1000:100\","
                "\"ExposedPorts\": {\"80/tcp\": {}, \"53/udp\": {}}}}");
        char *s = NULL;

        CHECK(oci_settings_from_config(c, "r/x:v1", HEX_A, &s) == 0);
        CHECK(s && strstr(s, "\n[Exec]\nBoot=no\n"));
        CHECK(s && strstr(s, "\nParameters= \"/bin/sh\" \"-c\" \"echo \\\"a\\\\b\\\" $X\"\n"));
        CHECK(s && strstr(s, "\nEnvironment= \"X=1 2\"\n"));
        CHECK(s && strstr(s, "\nWorkingDirectory=/srv\n"));
        CHECK(s && strstr(s, "\nUser=1000\n"));
        CHECK(s && strstr(s, "80/tcp") && strstr(s, "53/udp"));
        free(s);
        json_object_put(c);

        c = json_tokener_parse("{\"config\": {\"Cmd\": [\"two\\nlines\"]}}");
        CHECK(oci_settings_from_config(c, NULL, NULL, &s) == -EINVAL);
        json_object_put(c);
        c = json_tokener_parse("{\"config\": {\"WorkingDir\": \"relative\"}}");
        CHECK(oci_settings_from_config(c, NULL, NULL, &s) == -EINVAL);
        json_object_put(c);
        c = json_tokener_parse("{}");
        CHECK(oci_settings_from_config(c, NULL, NULL, &s) == 0 && !strstr(s, "Parameters="));
        free(s);
        json_object_put(c);
}

/* A layer of the paths (a trailing '/' makes a directory, others hold "x") as a memfd,
 * with its diff_id (the tar is not compressed, so it is its digest too). */
static int make_layer(const char *const *paths, OciLayer *l) {
        struct archive *a = archive_write_new();
        int fd = memfd_create("layer", MFD_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        char hex[65];
        size_t n;

        archive_write_set_format_pax_restricted(a);
        archive_write_open_fd(a, fd);
        for (size_t k = 0; paths[k]; k++) {
                struct archive_entry *e = archive_entry_new();
                bool dir = endswith(paths[k], "/");

                archive_entry_set_pathname(e, paths[k]);
                archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
                archive_entry_set_perm(e, dir ? 0755 : 0644);
                archive_entry_set_size(e, dir ? 0 : 1);
                archive_write_header(a, e);
                if (!dir)
                        archive_write_data(a, "x", 1);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        lseek(fd, 0, SEEK_SET);
        read_full_fd(fd, 1 << 20, &data, &n);
        oci_sha256_hex(data, n, hex);
        *l = (OciLayer) { .fd = fd, .diff_id = strjoin("sha256:", hex), .digest = strjoin("sha256:", hex) };
        return 0;
}

static bool exists_at(int dfd, const char *p) {
        return faccessat(dfd, p, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

static void test_whiteouts(void) {
        static const char *const lower[] = { "a/", "a/x", "a/y", "d/", "d/old", "d/sub/", "d/sub/deep", NULL };
        /* d/keep comes before the opaque marker: a layer's own entries stay either way */
        static const char *const upper[] = { "a/.wh.x", "d/keep", "d/.wh..wh..opq", "d/new", NULL };
        static const char *const escape[] = { "../.wh.etc", NULL };
        char dir[] = "/tmp/test-import-oci.XXXXXX";
        OciLayer l1, l2, l3;
        int root;

        CHECK(mkdtemp(dir) != NULL);
        root = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        make_layer(lower, &l1);
        make_layer(upper, &l2);
        make_layer(escape, &l3);
        CHECK(oci_layer_apply(&l1, root, false) == 0);
        CHECK(oci_layer_apply(&l2, root, false) == 0);
        CHECK(!exists_at(root, "a/x") && exists_at(root, "a/y"));
        CHECK(!exists_at(root, "a/.wh.x"));
        CHECK(!exists_at(root, "d/old") && !exists_at(root, "d/sub"));
        CHECK(exists_at(root, "d/keep") && exists_at(root, "d/new"));
        CHECK(!exists_at(root, "d/.wh..wh..opq"));
        CHECK(oci_layer_apply(&l3, root, false) < 0);            /* '..' refused before the whiteout */

        /* a wrong diff_id is refused (the tree is the caller's to throw away) */
        free(l1.diff_id);
        l1.diff_id = strdup(HEX_B);
        l1.verified = true;
        CHECK(oci_layer_apply(&l1, root, false) == -EBADMSG);
        free(l1.diff_id);
        l1.diff_id = strdup(l1.digest);
        free(l1.digest);
        l1.digest = strdup(HEX_A);
        l1.verified = false;
        CHECK(oci_layer_apply(&l1, root, false) == -EBADMSG);    /* and a wrong blob digest */

        for (OciLayer *l = &l1; l; l = l == &l1 ? &l2 : l == &l2 ? &l3 : NULL) {
                safe_close(l->fd);
                free(l->diff_id);
                free(l->digest);
        }
        safe_close(root);
        CHECK(system(strjoin("rm -rf ", dir)) == 0);
}

int main(void) {
        log_setup(NULL);
        test_names();
        test_load();
        test_index();
        test_settings();
        test_whiteouts();
        return tap_done();
}
