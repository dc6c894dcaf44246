/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for uid_map_parse_shift() (src/machined/machine-query.c): berthd reads
 * /proc/LEADER/uid_map of a registered machine to tell its UID shift, and the leader is
 * the machine's, so the text is not ours. The parser must take any bytes: accept only a
 * map whose first line maps the machine's root (0 -> a 32-bit host UID, range > 0), and
 * give the same answer for its own canonical form. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine-query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text, line[64];
        uint32_t shift = 0, again = 0;
        int r;

        if (size > 4096)        /* a uid_map holds at most 340 lines of 33 bytes */
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;         /* read_proc_file() terminates what it read */

        r = uid_map_parse_shift(text, &shift);
        if (r != 0 && r != -EBADMSG && r != -ENXIO)
                abort();
        if (r == 0) {
                /* the kernel's own format of what was understood reads the same */
                snprintf(line, sizeof(line), "%10u %10u %10u\n", 0u, shift, 1u);
                if (uid_map_parse_shift(line, &again) != 0 || again != shift)
                        abort();
        }
        free(text);
        return 0;
}
