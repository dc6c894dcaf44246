/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "seccomp-util.h"

#define SECCOMP_CACHE_DIR "/run/berth/seccomp"

/* The compiled filter for 'rules' (seccomp_filter_rules()): read from the cache in
 * 'cache_dir' if a valid entry exists, else compiled with libseccomp and stored there.
 * An entry is keyed by everything the programs depend on: the rules in order, the ABIs,
 * the libseccomp version and the build IDs of this program and every library it runs
 * with, so an upgrade never loads a stale program. A file that is not exactly what was
 * written (size, key, checksum), or not private to root, is never used: it is rebuilt.
 * Caching is best effort: without a usable cache directory the filter is just built. */
int seccomp_filter_get(const char *cache_dir, char * const *rules, SeccompFilter *ret);

/* The cache file's path for 'rules' in 'cache_dir' (for tests). */
int seccomp_cache_path(const char *cache_dir, char * const *rules, char **ret);
