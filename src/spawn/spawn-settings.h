/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "spawn-config.h"

/* Settings files: systemd.nspawn(5)'s NAME.nspawn, read from /etc/berth, /run/berth,
 * /etc/systemd/nspawn, /run/systemd/nspawn (trusted) or next to the image (untrusted).
 * Each key is the value of a command-line option and goes through the same parser
 * (spawn_config_parse_one()). The keys are grouped as systemd-nspawn's SettingsMask: an
 * option given on the command line masks every key of its group, unless --settings=override. */
#define SETTING_START_MODE        (UINT64_C(1) << 0)   /* Boot=, ProcessTwo=, Parameters=, the command */
#define SETTING_EPHEMERAL         (UINT64_C(1) << 1)
#define SETTING_ENVIRONMENT       (UINT64_C(1) << 2)
#define SETTING_USER              (UINT64_C(1) << 3)
#define SETTING_WORKING_DIRECTORY (UINT64_C(1) << 4)
#define SETTING_PIVOT_ROOT        (UINT64_C(1) << 5)
#define SETTING_CAPABILITY        (UINT64_C(1) << 6)   /* Capability=, DropCapability=, AmbientCapability= */
#define SETTING_KILL_SIGNAL       (UINT64_C(1) << 7)
#define SETTING_PERSONALITY       (UINT64_C(1) << 8)
#define SETTING_MACHINE_ID        (UINT64_C(1) << 9)
#define SETTING_NO_NEW_PRIVILEGES (UINT64_C(1) << 10)
#define SETTING_NOTIFY_READY      (UINT64_C(1) << 11)
#define SETTING_SYSCALL_FILTER    (UINT64_C(1) << 12)
#define SETTING_OOM_SCORE_ADJUST  (UINT64_C(1) << 13)
#define SETTING_CPU_AFFINITY      (UINT64_C(1) << 14)
#define SETTING_HOSTNAME          (UINT64_C(1) << 15)
#define SETTING_RESOLV_CONF       (UINT64_C(1) << 16)
#define SETTING_LINK_JOURNAL      (UINT64_C(1) << 17)
#define SETTING_TIMEZONE          (UINT64_C(1) << 18)
#define SETTING_SUPPRESS_SYNC     (UINT64_C(1) << 19)
#define SETTING_USERNS            (UINT64_C(1) << 20)  /* PrivateUsers=, PrivateUsersOwnership= */
#define SETTING_READ_ONLY         (UINT64_C(1) << 21)
#define SETTING_VOLATILE_MODE     (UINT64_C(1) << 22)
#define SETTING_CUSTOM_MOUNTS     (UINT64_C(1) << 23)  /* Bind=, TemporaryFileSystem=, Overlay=, ... */
#define SETTING_BIND_USER         (UINT64_C(1) << 24)
#define SETTING_NETWORK           (UINT64_C(1) << 25)  /* every [Network] key but Port= */
#define SETTING_EXPOSE_PORTS      (UINT64_C(1) << 26)
#define SETTING_RLIMIT_FIRST      (UINT64_C(1) << 32)  /* one bit per LimitXXX= key, in the key table's order */

typedef struct SettingsKey SettingsKey;

typedef struct SettingsEntry {
        const SettingsKey *key;
        unsigned line;
        char *value;
} SettingsEntry;

/* One parsed file: its assignments in order, each value already checked by its parser. */
typedef struct SpawnSettings {
        char *path;
        bool trusted;
        SettingsEntry *entries;
        size_t n_entries;
} SpawnSettings;

void spawn_settings_done(SpawnSettings *s);

/* The SETTING_* group a command-line option (and its value, for --rlimit=) masks, or 0. */
uint64_t spawn_settings_option_mask(int opt, const char *arg);

/* Parse a settings file. Unknown sections and keys, and keys whose option this build
 * lacks, are warnings with path:line; a malformed value is an error with path:line. */
int spawn_settings_parse(FILE *f, const char *path, SpawnSettings *ret);

/* Merge a parsed file into *c with systemd-nspawn's precedence and trust rules; the
 * override mode rebuilds *c from argv without the file's groups. */
int spawn_settings_apply(SpawnConfig *c, const SpawnSettings *s, int argc, char *argv[]);

/* Find NAME.nspawn for the machine (after spawn_config_determine_names()), parse and
 * apply it. Returns 0 also when there is none or --settings=no. */
int spawn_settings_load(SpawnConfig *c, int argc, char *argv[]);
