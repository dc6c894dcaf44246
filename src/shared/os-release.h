/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* os-release(5) of a machine or image: a tree that may be hostile, so the file is
 * resolved inside the tree, must be a small regular file, and is parsed defensively.
 * Non-logging. */

/* Parse os-release text into a strv of alternating keys and values, in the order of first
 * assignment; a later assignment of a key replaces the value. Lines that are not valid
 * KEY=VALUE assignments, or whose value is not UTF-8, are skipped (as by systemd). */
int os_release_parse(const char *text, char ***ret);
/* /etc/os-release, else /usr/lib/os-release, of the tree at rootfd, resolved inside it. */
int os_release_read_at(int rootfd, char ***ret);
