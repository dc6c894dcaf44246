/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for oci_config_parse() (src/shared/oci-config.c): a bundle's
 * config.json comes from whoever made the bundle. Any bytes must give either a config or
 * -EINVAL with a message, never a crash or a leak; the same for a LinuxResources object
 * ("berth-runc update --resources"). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "oci-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        OciConfig c = {};
        OciResources res;
        char *error = NULL;
        int r;

        if (size > 65536)
                return 0;
        r = oci_config_parse((const char *) data, size, &c, &error);
        if (r == 0) {
                if (error || !c.root_path || !c.args || !c.args[0] || !c.cwd || c.cwd[0] != '/')
                        abort();
                oci_config_done(&c);
        } else if (r != -EINVAL || !error)
                abort();
        free(error);
        error = NULL;

        r = oci_resources_parse((const char *) data, size, &res, &error);
        if (r != 0 && (r != -EINVAL || !error))
                abort();
        free(error);
        return 0;
}
