/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "seccomp-util.h"

#define SECCOMP_CACHE_DIR "/run/berth/seccomp"
/* After storing an entry beyond this many, the oldest go, down to the second number. */
#define SECCOMP_CACHE_ENTRIES_MAX 64U
#define SECCOMP_CACHE_ENTRIES_KEEP 48U

/* The compiled filter for a bounding set and --system-call-filter='s additions and removals
 * (see seccomp_filter_rules()): read from the cache in 'cache_dir' if a valid entry exists,
 * else compiled with libseccomp and stored there. An entry is keyed by everything the
 * programs depend on: the capabilities, the additions and removals in order, the ABIs,
 * the libseccomp version and the build IDs of this program and every library it runs
 * with, so an upgrade never loads a stale program. A file that is not exactly what was
 * written (size, key, checksum), or not private to root, is never used: it is rebuilt.
 * Caching is best effort: without a usable cache directory the filter is just built. */
int seccomp_filter_get(const char *cache_dir, uint64_t capabilities, char * const *allow, char * const *deny,
                       SeccompFilter *ret);

/* The cache file's path for these inputs in 'cache_dir' (for tests). */
int seccomp_cache_path(const char *cache_dir, uint64_t capabilities, char * const *allow, char * const *deny,
                       char **ret);
