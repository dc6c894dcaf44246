/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berth-import: one transfer, as berth-importd's worker (like systemd-import, -pull and
 * -export are importd's). Input on stdin (import), output on stdout (export), log lines on
 * stderr (they become the Transfer's LogMessage signals), progress on $NOTIFY_SOCKET. It
 * can be run by hand too. */

#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "import-archive.h"
#include "import-common.h"
#include "import-export.h"
#include "import-oci.h"
#include "import-pull.h"
#include "log.h"
#include "string-util.h"

typedef struct Args {
        const char *pool;
        const char *name_lock_dir;
        const char *format;
        const char *keyring;
        ImportVerify verify;
        bool force;
        bool read_only;
} Args;

static void help(void) {
        printf("berth-import [OPTIONS...] VERB ARGS...\n\n"
               "One image transfer (berth-importd runs it for each).\n\n"
               "  tar NAME               Unpack a tar archive from stdin into image NAME\n"
               "  raw NAME               Decompress a raw disk image from stdin into NAME.raw\n"
               "  fs NAME                Copy the directory open on stdin into image NAME\n"
               "  export-tar NAME        Write image NAME to stdout as a tar archive\n"
               "  export-raw NAME        Write raw image NAME to stdout\n"
               "  pull-tar URL [NAME]    Download and unpack a tar archive\n"
               "  pull-raw URL [NAME]    Download and decompress a raw disk image\n"
               "  oci NAME               Import the OCI image layout or docker save archive (a\n"
               "                         directory or file) on stdin as image NAME\n"
               "  pull-oci REF [NAME]    Pull [REGISTRY/]REPO[:TAG|@DIGEST] from a registry\n\n"
               "  -h --help              Show this help\n"
               "     --pool=DIR          The image pool (default " IMAGE_POOL_DEFAULT ")\n"
               "     --name-lock-dir=DIR Image name locks shared with berthd\n"
               "     --force             Replace an existing image\n"
               "     --read-only         Mark the new image read-only\n"
               "     --format=FORMAT     Export compression: uncompressed, gzip, xz, bzip2, zstd\n"
               "     --verify=MODE       Pull verification: no, checksum, signature (default)\n"
               "     --keyring=FILE      Keyring for signatures (default: /etc/berth/import-pubring.gpg,\n"
               "                         then systemd's import keyrings)\n");
}

static int parse_argv(int argc, char *argv[], Args *args) {
        enum { ARG_POOL = 0x100, ARG_NAME_LOCK_DIR, ARG_FORCE, ARG_READ_ONLY, ARG_FORMAT, ARG_VERIFY, ARG_KEYRING };
        static const struct option options[] = {
                { "help",          no_argument,       NULL, 'h'               },
                { "pool",          required_argument, NULL, ARG_POOL          },
                { "name-lock-dir", required_argument, NULL, ARG_NAME_LOCK_DIR },
                { "force",         no_argument,       NULL, ARG_FORCE         },
                { "read-only",     no_argument,       NULL, ARG_READ_ONLY     },
                { "format",        required_argument, NULL, ARG_FORMAT        },
                { "verify",        required_argument, NULL, ARG_VERIFY        },
                { "keyring",       required_argument, NULL, ARG_KEYRING       },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_POOL:
                        args->pool = optarg;
                        break;
                case ARG_NAME_LOCK_DIR:
                        args->name_lock_dir = optarg;
                        break;
                case ARG_FORCE:
                        args->force = true;
                        break;
                case ARG_READ_ONLY:
                        args->read_only = true;
                        break;
                case ARG_FORMAT:
                        if (!export_format_is_valid(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown format '%s'.", optarg);
                        args->format = optarg;
                        break;
                case ARG_VERIFY:
                        args->verify = import_verify_from_string(optarg);
                        if (args->verify < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown verification mode '%s'.", optarg);
                        break;
                case ARG_KEYRING:
                        args->keyring = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }
        return 1;
}

static int run_verb(const Args *args, const ImagePool *pool, int argc, char **argv) {
        const char *verb = argv[0];

        if (argc == 2 && streq(verb, "tar"))
                return import_tar_fd(STDIN_FILENO, pool, argv[1], args->force, args->read_only);
        if (argc == 2 && streq(verb, "raw"))
                return import_raw_fd(STDIN_FILENO, pool, argv[1], args->force, args->read_only);
        if (argc == 2 && streq(verb, "fs"))
                return import_fs_fd(STDIN_FILENO, pool, argv[1], args->force, args->read_only);
        if (argc == 2 && streq(verb, "export-tar"))
                return export_tar_fd(pool, argv[1], args->format, STDOUT_FILENO);
        if (argc == 2 && streq(verb, "export-raw"))
                return export_raw_fd(pool, argv[1], args->format, STDOUT_FILENO);
        if ((argc == 2 || argc == 3) && (streq(verb, "pull-tar") || streq(verb, "pull-raw")))
                return pull_image(argv[1], streq(verb, "pull-raw"), pool, argc == 3 && *argv[2] ? argv[2] : NULL,
                                  args->verify, args->keyring, args->force, args->read_only);
        if (argc == 2 && streq(verb, "oci"))
                return import_oci_fd(STDIN_FILENO, pool, argv[1], args->force, args->read_only);
        if ((argc == 2 || argc == 3) && streq(verb, "pull-oci"))
                return pull_oci(argv[1], pool, argc == 3 && *argv[2] ? argv[2] : NULL, args->force, args->read_only);
        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown verb or wrong arguments: %s (see --help).", verb);
}

int main(int argc, char *argv[]) {
        _cleanup_(image_pool_done) ImagePool pool = {};
        Args args = { .pool = IMAGE_POOL_DEFAULT, .format = "", .verify = IMPORT_VERIFY_SIGNATURE };
        int r;

        log_setup(NULL);
        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        if (optind >= argc) {
                help();
                return 1;
        }
        /* Die with berth-importd: a transfer nobody can cancel or watch must not go on. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        import_install_cancel_handler();
        /* When berth-importd is gone, so is the reader of our stderr: the cleanup must not
         * die of SIGPIPE while it logs. A vanished export reader is an EPIPE error. */
        (void) signal(SIGPIPE, SIG_IGN);
        r = image_pool_init(&pool, args.pool, args.name_lock_dir);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the pool %s: %m", args.pool);
                return 1;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = run_verb(&args, &pool, argc - optind, argv + optind);
        curl_global_cleanup();
        if (r == -ECANCELED)
                log_info("Transfer cancelled; nothing was kept.");
        return r < 0 ? 1 : 0;
}
