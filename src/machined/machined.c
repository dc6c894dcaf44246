/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "string-util.h"
#include "supervisor.h"

typedef struct Args {
        ManagerConfig config;
        SupervisorConfig supervisor;
        const char *bus_address;
} Args;

static void help(void) {
        printf("berthd [OPTIONS...]\n\n"
               "Registry of running machines and the image pool: serves org.freedesktop.machine1.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show package version\n"
               "     --bus-name=NAME      Own NAME instead of " MACHINED_DEFAULT_BUS_NAME "\n"
               "     --bus-address=ADDR   Connect to this bus instead of the system bus\n"
               "     --state-dir=PATH     Keep machine state in PATH instead of " MACHINED_DEFAULT_STATE_DIR "\n"
               "     --pool=DIR           Keep images in DIR instead of " MACHINED_POOL_PATH "\n"
               "                          (and ignore the read-only search paths)\n"
               "     --berth-spawn=PATH   Start machines with this berth-spawn\n"
               "     --enabled-dir=PATH   Enabled machines are in PATH instead of " SUPERVISOR_DEFAULT_ENABLED_DIR "\n"
               "     --log-dir=PATH       Console logs without journald in PATH instead of " SUPERVISOR_DEFAULT_LOG_DIR "\n");
}

static int parse_argv(int argc, char *argv[], Args *args) {
        enum {
                ARG_VERSION = 0x100,
                ARG_BUS_NAME,
                ARG_BUS_ADDRESS,
                ARG_STATE_DIR,
                ARG_POOL,
                ARG_BERTH_SPAWN,
                ARG_ENABLED_DIR,
                ARG_LOG_DIR,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "version",     no_argument,       NULL, ARG_VERSION     },
                { "bus-name",    required_argument, NULL, ARG_BUS_NAME    },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "state-dir",   required_argument, NULL, ARG_STATE_DIR   },
                { "pool",        required_argument, NULL, ARG_POOL        },
                { "berth-spawn", required_argument, NULL, ARG_BERTH_SPAWN },
                { "enabled-dir", required_argument, NULL, ARG_ENABLED_DIR },
                { "log-dir",     required_argument, NULL, ARG_LOG_DIR     },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("berthd %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_BUS_NAME:
                        if (!sd_bus_service_name_is_valid(optarg) || optarg[0] == ':')
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid bus name: %s", optarg);
                        args->config.bus_name = optarg;
                        break;
                case ARG_BUS_ADDRESS:
                        if (isempty(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Empty bus address.");
                        args->bus_address = optarg;
                        break;
                case ARG_STATE_DIR:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "State directory must be an absolute path: %s", optarg);
                        args->config.state_dir = optarg;
                        break;
                case ARG_POOL:
                        if (!path_is_absolute(optarg) || !path_is_normalized(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                                       "Pool must be an absolute, normalized path: %s", optarg);
                        args->config.pool = optarg;
                        break;
                case ARG_BERTH_SPAWN:
                case ARG_ENABLED_DIR:
                case ARG_LOG_DIR:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Not an absolute path: %s", optarg);
                        *(c == ARG_BERTH_SPAWN ? &args->supervisor.spawn_path :
                          c == ARG_ENABLED_DIR ? &args->supervisor.enabled_dir : &args->supervisor.log_dir) = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unhandled option");
                }

        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "berthd takes no positional arguments.");
        return 1;
}

/* Every machine's leader is held by a pidfd: the usual soft limit of 1024 descriptors
 * would cap the registry at about a thousand machines. Raise it to the hard limit (524288
 * for systemd services), as systemd's own daemons do; select() is never used. */
static void rlimit_nofile_bump(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(errno, "Failed to raise RLIMIT_NOFILE, ignoring: %m");
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Args args = {};
        int r;

        log_setup("berthd");
        rlimit_nofile_bump();

        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r;

        r = manager_new(&args.config, &m);
        if (r < 0)
                return r;
        args.supervisor.bus_address = args.bus_address;
        r = supervisor_new(m, &args.supervisor, &m->supervisor);
        if (r < 0)
                return r;
        r = manager_startup(m, args.bus_address);
        if (r < 0)
                return r;
        r = supervisor_startup(m->supervisor);
        if (r < 0)
                return r;
        return manager_run(m);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
