/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "settings-path.h"
#include "string-util.h"

const char *const settings_trusted_dirs[] = {
        SETTINGS_EDIT_DIR, "/run/berth", "/etc/systemd/nspawn", "/run/systemd/nspawn",
};
const size_t settings_n_trusted_dirs = ELEMENTSOF(settings_trusted_dirs);

char *settings_file_next_to(const char *path, const char *name) {
        _cleanup_free_ char *p = strdup(path);
        char *slash;

        if (!p)
                return NULL;
        while (strlen(p) > 1 && endswith(p, "/"))
                p[strlen(p) - 1] = 0;
        slash = strrchr(p, '/');
        if (!slash)
                return strdup(name);
        slash[1] = 0;
        return strjoin(p, name);
}
