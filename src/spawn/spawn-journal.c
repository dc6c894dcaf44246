/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "path-util.h"
#include "spawn-journal.h"
#include "spawn-state.h"
#include "string-util.h"

#define HOST_JOURNAL "/var/log/journal"

/* The machine ID the guest will use: its /etc/machine-id, or the one systemd derives
 * from $container_uuid when that file is empty. */
static int machine_id_of(const SpawnConfig *c, const SpawnState *s, char ret[static 33]) {
        _cleanup_close_ int rootfd = -EBADF;
        _cleanup_free_ char *text = NULL;
        Id128 id;

        rootfd = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (rootfd >= 0 && read_regular_file_in_root(rootfd, "/etc/machine-id", 4096, &text, NULL) >= 0 &&
            strlen(text) >= 32) {
                text[32] = 0;
                if (id128_from_string(text, &id) >= 0 && !id128_is_null(&id)) {
                        memcpy(ret, text, 33);
                        return 0;
                }
        }

        for (unsigned i = 0; i < 16; i++)
                snprintf(ret + 2 * i, 3, "%02x", c->uuid.bytes[i]);
        return 0;
}

int link_journal_setup(const SpawnConfig *c, SpawnState *s) {
        _cleanup_free_ char *host = NULL, *guest_rel = NULL, *guest_abs = NULL;
        _cleanup_close_ int rootfd = -EBADF, gfd = -EBADF;
        LinkJournal m = c->link_journal;
        bool try = m == LINK_JOURNAL_TRY_HOST || m == LINK_JOURNAL_TRY_GUEST;
        char id[33], target[4096];
        struct stat st;
        ssize_t n;
        int r;

        if (m == LINK_JOURNAL_NO)
                return 0;

        r = machine_id_of(c, s, id);
        if (r < 0)
                return r;
        host = strjoin(HOST_JOURNAL "/", id);
        guest_rel = strjoin("/var/log/journal/", id);
        guest_abs = path_join(s->directory, guest_rel);
        if (!host || !guest_rel || !guest_abs)
                return log_oom();

        if (m == LINK_JOURNAL_AUTO) {
                if (lstat(host, &st) < 0 || !S_ISDIR(st.st_mode))
                        return 0;           /* not linked, or linked to the guest already */
                m = LINK_JOURNAL_HOST;
        }

        if (stat(HOST_JOURNAL, &st) < 0 || !S_ISDIR(st.st_mode)) {
                if (try)
                        return 0;
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
                                       "--link-journal=%s: the host keeps no persistent journal (%s is missing).",
                                       link_journal_to_string(c->link_journal), HOST_JOURNAL);
        }

        /* The directory inside the tree, created safely inside it. */
        rootfd = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(errno, "Failed to open '%s': %m", s->directory);

        if (m == LINK_JOURNAL_HOST || m == LINK_JOURNAL_TRY_HOST) {
                if (mkdir(host, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create %s: %m", host);
                if (lstat(host, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        if (try)
                                return 0;
                        return log_error_errno(SYNTHETIC_ERRNO(EEXIST), "%s exists and is not a directory.", host);
                }
                s->journal_bind_source = TAKE_PTR(host);
                s->journal_bind_target = TAKE_PTR(guest_rel);
                return 0;
        }

        /* guest: the files stay in the tree, the host gets a symlink */
        r = chase_in_root(rootfd, guest_rel, CHASE_MKDIR, &gfd);
        if (r < 0) {
                if (try)
                        return 0;
                return log_error_errno(r, "Failed to create %s in the machine: %m", guest_rel);
        }
        n = readlink(host, target, sizeof(target) - 1);
        if (n >= 0) {
                target[n] = 0;
                if (streq(target, guest_abs))
                        return 0;
        }
        if (n >= 0 || lstat(host, &st) >= 0) {
                if (try)
                        return 0;
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST), "%s exists already and does not point to the machine's journal.", host);
        }
        if (symlink(guest_abs, host) < 0)
                return log_error_errno(errno, "Failed to link %s to %s: %m", host, guest_abs);
        return 0;
}
