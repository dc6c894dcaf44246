/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-util.h"
#include "log.h"
#include "mount-util.h"
#include "path-util.h"
#include "spawn-template.h"
#include "string-util.h"

int template_instantiate(const SpawnConfig *c) {
        _cleanup_free_ char *base = NULL, *parent = NULL, *tmp = NULL;
        const char *slash;
        uint32_t rnd = 0;
        char suffix[16];
        int r;

        if (!c->from_template)
                return 0;

        base = path_basename(c->directory);
        slash = strrchr(c->directory, '/');
        parent = !slash ? strdup(".") : slash == c->directory ? strdup("/") : strndup(c->directory, (size_t) (slash - c->directory));
        if (!base || !parent)
                return log_oom();
        (void) getrandom(&rnd, sizeof(rnd), 0);
        snprintf(suffix, sizeof(suffix), "%08x", rnd);
        tmp = strjoin(parent, "/.#", base, ".berth-template-", suffix);
        if (!tmp)
                return log_oom();

        r = btrfs_is_subvolume(c->template) ? btrfs_snapshot(c->template, tmp, false) : -ENOTTY;
        if (r < 0) {
                log_info("Copying template '%s' to '%s'...", c->template, c->directory);
                r = copy_tree(c->template, tmp);
        }
        if (r < 0) {
                (void) (btrfs_is_subvolume(tmp) ? btrfs_subvolume_remove(tmp) : rm_rf_at(AT_FDCWD, tmp));
                return log_error_errno(r, "Failed to create '%s' from template '%s': %m", c->directory, c->template);
        }
        if (rename(tmp, c->directory) < 0) {
                r = -errno;
                (void) (btrfs_is_subvolume(tmp) ? btrfs_subvolume_remove(tmp) : rm_rf_at(AT_FDCWD, tmp));
                return log_error_errno(r, "Failed to move the new tree into place at '%s': %m", c->directory);
        }
        return 0;
}
