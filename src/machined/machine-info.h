/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "parse-util.h"

/* The persistent description of one machine, and the pure (no I/O) helpers around it:
 * validation of what D-Bus callers send, and the state file format of
 * /run/berth/machines/NAME. Kept free of sd-bus so it can be unit tested and fuzzed. */

#define MACHINE_STATE_VERSION 1
#define MACHINE_STATE_SIZE_MAX (64U * 1024U)
#define MACHINE_SERVICE_MAX 255U
#define MACHINE_NETIF_MAX 256U

typedef enum MachineClass {
        MACHINE_CONTAINER,
        MACHINE_VM,
        MACHINE_HOST,
        _MACHINE_CLASS_MAX,
        _MACHINE_CLASS_INVALID = -EINVAL,
} MachineClass;

typedef enum MachineState {
        MACHINE_OPENING,
        MACHINE_RUNNING,
        MACHINE_CLOSING,
        _MACHINE_STATE_MAX,
        _MACHINE_STATE_INVALID = -EINVAL,
} MachineState;

typedef struct MachineInfo {
        char *name;
        Id128 id;
        MachineClass class;
        char *service;
        char *unit;                   /* systemd unit, or the scope name berthd made, or NULL */
        char *root_directory;
        pid_t leader;
        uint64_t leader_starttime;    /* field 22 of /proc/PID/stat: identifies the leader */
        pid_t supervisor;             /* the leader's parent that registered it (berth-spawn,
                                       * systemd-nspawn): asked to stop the machine; 0: none */
        uint64_t supervisor_starttime;
        int *netif;
        size_t n_netif;
        uint64_t timestamp_realtime;
        uint64_t timestamp_monotonic;
        char *cgroup;                 /* scope cgroup berthd created ("machine.slice/…"), or NULL */
        bool systemd_scope;           /* the scope is a transient unit systemd made for us */
} MachineInfo;

void machine_info_done(MachineInfo *i);

const char *machine_class_to_string(MachineClass c) _pure_;
/* Only "container" and "vm" can be registered; "host" is the host's own entry. */
MachineClass machine_class_from_string(const char *s) _pure_;
const char *machine_state_to_string(MachineState s) _pure_;

/* Validation of caller-supplied fields; each returns true when acceptable. */
bool machine_service_is_valid(const char *s) _pure_;        /* empty is fine */
bool machine_root_directory_is_valid(const char *s) _pure_; /* empty is fine */
bool machine_unit_is_valid(const char *s) _pure_;


/* Serialize to the key=value state file format (first line "VERSION=1"). */
int machine_info_serialize(const MachineInfo *i, char **ret);
/* Parse a state file. -EPROTONOSUPPORT: unknown version; -EBADMSG: corrupt
 * (unknown keys are ignored, missing or invalid required ones are not). */
int machine_info_parse(const char *text, MachineInfo *ret);

/* A numeric field of /proc/PID/stat (counted from 1, as in proc(5); field 3 onwards) from
 * its contents: the parent PID is field 4, the start time field 22. */
int proc_stat_parse_field(const char *stat, unsigned field, uint64_t *ret);
static inline int proc_stat_parse_starttime(const char *stat, uint64_t *ret) {
        return proc_stat_parse_field(stat, 22, ret);
}
