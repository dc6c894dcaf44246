/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for src/machined/machine-info.c's state file parser: berthd reads
 * /run/berth/machines/NAME at start-up, after a crash or a torn write. Whatever it
 * accepts must be a consistent machine (a valid name and class, a leader) and serialize
 * to a file that parses back to the same serialization. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "machine-info.h"
#include "machine-name.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(machine_info_done) MachineInfo i = { .class = _MACHINE_CLASS_INVALID },
                                                 j = { .class = _MACHINE_CLASS_INVALID };
        _cleanup_free_ char *text = NULL, *s1 = NULL, *s2 = NULL;

        if (size > MACHINE_STATE_SIZE_MAX + 1)
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                return 0;
        if (machine_info_parse(text, &i) < 0)
                return 0;

        if (!machine_name_is_valid(i.name) || !machine_class_to_string(i.class) || i.leader <= 1)
                abort();
        if (i.systemd_scope && !i.unit)
                abort();
        if (machine_info_serialize(&i, &s1) < 0)
                abort();
        if (machine_info_parse(s1, &j) < 0)
                abort();
        if (machine_info_serialize(&j, &s2) < 0 || !streq(s1, s2))
                abort();
        return 0;
}
