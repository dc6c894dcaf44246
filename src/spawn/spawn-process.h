/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>

#include "macro.h"

#define PERSONALITY_INVALID 0xffffffffUL

/* Per-process settings of the payload (--rlimit=, --oom-score-adjust=, --cpu-affinity=,
 * --personality=, --ambient-capability=), applied in the machine's child process. */
typedef struct ProcessSettings {
        struct rlimit rlimits[RLIM_NLIMITS];
        uint32_t rlimits_set;            /* bit (1 << RLIMIT_*) per limit given */
        int oom_score_adjust;
        bool oom_score_adjust_set;
        cpu_set_t cpu_set;
        bool cpu_set_set;
        unsigned long personality;       /* PERSONALITY_INVALID: the host's */
        uint64_t capability_ambient;
} ProcessSettings;

#define PROCESS_SETTINGS_NULL { .personality = PERSONALITY_INVALID }

/* Parsers of one option value each; they log and return -EINVAL on a bad value. */
int process_parse_rlimit(ProcessSettings *p, const char *arg);
int process_parse_oom_score_adjust(ProcessSettings *p, const char *arg);
int process_parse_cpu_affinity(ProcessSettings *p, const char *arg);
int process_parse_personality(ProcessSettings *p, const char *arg);

/* "NOFILE", "RLIMIT_NOFILE" or "LimitNOFILE" -> RLIMIT_NOFILE, or -EINVAL. */
int rlimit_from_name(const char *s);
const char *rlimit_to_name(int r);
/* "x86", "x86-64": the names systemd uses; NULL for a personality without one. */
const char *personality_to_name(unsigned long p);

/* Resource limits, OOM score and CPU affinity, applied while the child is still in the
 * host's user namespace, where raising a hard limit or lowering the OOM score is allowed. */
int process_apply_limits(const ProcessSettings *p);
/* The execution domain; last, so that berth-spawn's own set-up never runs under it. */
int process_apply_personality(const ProcessSettings *p);
