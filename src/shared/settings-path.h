/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Where a machine's settings file (NAME.nspawn, systemd.nspawn(5)) is looked for, for
 * berth-spawn, which reads it, and for berthctl cat and edit. */

/* The trusted directories, searched in this order before the file next to the image; the
 * first NAME.nspawn found is used, as by systemd-nspawn. */
extern const char *const settings_trusted_dirs[];
extern const size_t settings_n_trusted_dirs;

/* Where berthctl edit writes a machine's settings: the first trusted directory. */
#define SETTINGS_EDIT_DIR "/etc/berth"

/* DIR/NAME for the directory PATH (an image or tree) is in, as given (systemd-nspawn's
 * file_in_same_dir()). */
char *settings_file_next_to(const char *path, const char *name);
