/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A stand-in for libFuzzer's main() in ordinary builds: runs the target once on each
 * file named on the command line (a crash artifact, a corpus file), so a finding can be
 * replayed and debugged with gcc, gdb or valgrind without the clang fuzzing build. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "re");
        uint8_t *buf = NULL;
        size_t size = 0, allocated = 0, n;
        int r = 0;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (;;) {
                if (size == allocated) {
                        uint8_t *b = realloc(buf, allocated ? allocated * 2 : 65536);

                        if (!b) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = b;
                        allocated = allocated ? allocated * 2 : 65536;
                }
                n = fread(buf + size, 1, allocated - size, f);
                size += n;
                if (n == 0)
                        break;
        }
        if (r == 0 && ferror(f))
                r = -EIO;
        fclose(f);
        if (r == 0) {
                (void) LLVMFuzzerTestOneInput(buf, size);
                printf("%s: %zu bytes, ok\n", path, size);
        } else
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
        free(buf);
        return r;
}

int main(int argc, char *argv[]) {
        int status = EXIT_SUCCESS;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE...\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 1; i < argc; i++)
                if (run_file(argv[i]) < 0)
                        status = EXIT_FAILURE;
        return status;
}
