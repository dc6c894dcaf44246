/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "parse-util.h"
#include "spawn-cgroup.h"
#include "spawn-process.h"
#include "string-util.h"

/* Indexed by RLIMIT_*, in the order systemd lists them (--rlimit=help). */
static const char *const rlimit_names[RLIM_NLIMITS] = {
        [RLIMIT_CPU] = "CPU",
        [RLIMIT_FSIZE] = "FSIZE",
        [RLIMIT_DATA] = "DATA",
        [RLIMIT_STACK] = "STACK",
        [RLIMIT_CORE] = "CORE",
        [RLIMIT_RSS] = "RSS",
        [RLIMIT_NPROC] = "NPROC",
        [RLIMIT_NOFILE] = "NOFILE",
        [RLIMIT_MEMLOCK] = "MEMLOCK",
        [RLIMIT_AS] = "AS",
        [RLIMIT_LOCKS] = "LOCKS",
        [RLIMIT_SIGPENDING] = "SIGPENDING",
        [RLIMIT_MSGQUEUE] = "MSGQUEUE",
        [RLIMIT_NICE] = "NICE",
        [RLIMIT_RTPRIO] = "RTPRIO",
        [RLIMIT_RTTIME] = "RTTIME",
};

const char *rlimit_to_name(int r) {
        return r >= 0 && r < RLIM_NLIMITS ? rlimit_names[r] : NULL;
}

int rlimit_from_name(const char *s) {
        const char *n = startswith(s, "RLIMIT_") ?: startswith(s, "Limit") ?: s;

        for (int r = 0; r < RLIM_NLIMITS; r++)
                if (rlimit_names[r] && streq(rlimit_names[r], n))
                        return r;
        return -EINVAL;
}

/* Limits in bytes take K, M, G, T suffixes (base 1024) as LimitXXX= does; CPU is in
 * seconds, RTTIME in µs, NICE is either the raw limit (0..40) or a nice level with an
 * explicit sign ("-5" allows raising the priority up to nice -5). */
static int rlimit_parse_value(int resource, const char *s, rlim_t *ret) {
        uint64_t v;

        if (streq(s, "infinity")) {
                *ret = RLIM_INFINITY;
                return 0;
        }
        switch (resource) {
        case RLIMIT_FSIZE: case RLIMIT_DATA: case RLIMIT_STACK: case RLIMIT_CORE:
        case RLIMIT_RSS: case RLIMIT_MEMLOCK: case RLIMIT_AS: case RLIMIT_MSGQUEUE:
                if (strchr(s, '%') || resource_parse_bytes(s, &v) < 0)
                        return -EINVAL;
                break;
        case RLIMIT_NICE:
                if (s[0] == '+' || s[0] == '-') {
                        if (safe_atou64(s + 1, &v) < 0 || (s[0] == '-' ? v > 20 : v > 19))
                                return -EINVAL;
                        v = s[0] == '-' ? 20 + v : 20 - v;
                } else if (safe_atou64(s, &v) < 0 || v > 40)
                        return -EINVAL;
                break;
        default:
                if (safe_atou64(s, &v) < 0)
                        return -EINVAL;
        }
        *ret = v == UINT64_MAX ? RLIM_INFINITY : (rlim_t) v;
        return 0;
}

int process_parse_rlimit(ProcessSettings *p, const char *arg) {
        _cleanup_free_ char *name = NULL, *soft = NULL;
        const char *eq = strchr(arg, '='), *colon;
        struct rlimit rl;
        int r;

        if (!eq)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --rlimit= '%s': expected NAME=SOFT[:HARD].", arg);
        name = strndup(arg, (size_t) (eq - arg));
        if (!name)
                return log_oom();
        r = rlimit_from_name(name);
        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown resource limit '%s' in --rlimit=%s.", name, arg);

        /* SOFT:HARD, or one value for both */
        colon = strchr(eq + 1, ':');
        soft = colon ? strndup(eq + 1, (size_t) (colon - eq - 1)) : strdup(eq + 1);
        if (!soft)
                return log_oom();
        if (rlimit_parse_value(r, soft, &rl.rlim_cur) < 0 ||
            rlimit_parse_value(r, colon ? colon + 1 : soft, &rl.rlim_max) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid value in --rlimit=%s.", arg);
        if (rl.rlim_cur > rl.rlim_max)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --rlimit=%s: the soft limit is above the hard limit.", arg);
        p->rlimits[r] = rl;
        p->rlimits_set |= UINT32_C(1) << r;
        return 0;
}

int process_parse_oom_score_adjust(ProcessSettings *p, const char *arg) {
        uint64_t v;

        if (safe_atou64(arg[0] == '-' || arg[0] == '+' ? arg + 1 : arg, &v) < 0 || v > 1000)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid --oom-score-adjust= '%s': expected an integer from -1000 to 1000.", arg);
        p->oom_score_adjust = arg[0] == '-' ? -(int) v : (int) v;
        p->oom_score_adjust_set = true;
        return 0;
}

/* "0-3,5 7": CPU numbers and ranges, separated by commas or blanks, as systemd's
 * CPUAffinity=. An empty value resets the mask to "unset". */
int process_parse_cpu_affinity(ProcessSettings *p, const char *arg) {
        _cleanup_strv_free_ char **words = NULL;
        cpu_set_t set;
        int r;

        CPU_ZERO(&set);
        r = strv_split_full(arg, ", \t", false, &words);
        if (r < 0)
                return log_oom();
        STRV_FOREACH(w, words) {
                _cleanup_free_ char *a = NULL;
                const char *dash = strchr(*w, '-');
                uint64_t lo, hi;

                if (isempty(*w))
                        continue;
                a = dash ? strndup(*w, (size_t) (dash - *w)) : strdup(*w);
                if (!a)
                        return log_oom();
                if (safe_atou64(a, &lo) < 0 || safe_atou64(dash ? dash + 1 : a, &hi) < 0 ||
                    lo > hi || hi >= CPU_SETSIZE)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid --cpu-affinity= '%s': expected CPU numbers or ranges below %u.",
                                               arg, (unsigned) CPU_SETSIZE);
                for (uint64_t c = lo; c <= hi; c++)
                        CPU_SET((int) c, &set);
        }
        p->cpu_set = set;
        p->cpu_set_set = CPU_COUNT(&set) > 0;
        return 0;
}

/* As systemd: the names of the host's native architecture and of the one it can run as a
 * secondary (32-bit) personality. */
static const struct {
        const char *machine;     /* uname -m of the host */
        const char *native, *secondary;
} personalities[] = {
        { "x86_64",  "x86-64",  "x86" },
        { "aarch64", "arm64",   "arm" },
        { "ppc64le", "ppc64-le", NULL },
        { "s390x",   "s390x",   "s390" },
        { "i686",    "x86",     NULL },
};

const char *personality_to_name(unsigned long p) {
        struct utsname u;

        if (uname(&u) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(personalities); i++)
                if (streq(u.machine, personalities[i].machine))
                        return p == PER_LINUX32 ? personalities[i].secondary :
                               p == PER_LINUX ? personalities[i].native : NULL;
        return NULL;
}

int process_parse_personality(ProcessSettings *p, const char *arg) {
        if (streq_ptr(arg, personality_to_name(PER_LINUX)))
                p->personality = PER_LINUX;
        else if (streq_ptr(arg, personality_to_name(PER_LINUX32)))
                p->personality = PER_LINUX32;
        else
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown or unsupported personality '%s'.", arg);
        return 0;
}

static int write_oom_score_adjust(int v) {
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY|O_CLOEXEC);
        char buf[16];
        int n;

        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%i\n", v);
        if (write(fd, buf, (size_t) n) != n)
                return -errno;
        return 0;
}

int process_apply_limits(const ProcessSettings *p) {
        int r;

        for (int i = 0; i < RLIM_NLIMITS; i++)
                if ((p->rlimits_set & (UINT32_C(1) << i)) && setrlimit(i, &p->rlimits[i]) < 0)
                        return log_error_errno(errno, "Failed to set resource limit %s: %m", rlimit_names[i]);
        if (p->oom_score_adjust_set) {
                r = write_oom_score_adjust(p->oom_score_adjust);
                if (r < 0)
                        return log_error_errno(r, "Failed to set the OOM score adjustment to %i: %m", p->oom_score_adjust);
        }
        if (p->cpu_set_set && sched_setaffinity(0, sizeof(p->cpu_set), &p->cpu_set) < 0)
                return log_error_errno(errno, "Failed to set the CPU affinity: %m");
        return 0;
}

int process_apply_personality(const ProcessSettings *p) {
        if (p->personality == PERSONALITY_INVALID)
                return 0;
        if (personality(p->personality) < 0)
                return log_error_errno(errno, "Failed to set personality %s: %m", strna(personality_to_name(p->personality)));
        return 0;
}
