/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "oci-config.h"
#include "seccomp-util.h"

/* An OCI linux.seccomp profile compiled with libseccomp, as runc does: the default action,
 * each rule's action for its names (names this libseccomp does not know are skipped, as
 * are rules whose action is the default), argument conditions (a rule comparing one
 * argument twice becomes one rule per condition: libseccomp cannot AND those), the listed
 * architectures besides the native one, and the flags the program is loaded with. The
 * filter's first program is berth's ioctl(TIOCSTI/TIOCLINUX) denial, which every payload
 * gets; the profile is the second and last. Does not log. */
int seccomp_oci_build(const OciSeccomp *s, SeccompFilter *ret);

/* The compiled filter in a file of a root-owned directory (berth-runc's container
 * directory), so that "exec" loads exactly what "create" did, whatever config.json says
 * by then. Reading returns -ENOENT when there is none. */
int seccomp_filter_save(int dir_fd, const char *name, const SeccompFilter *f);
int seccomp_filter_read(int dir_fd, const char *name, SeccompFilter *ret);
