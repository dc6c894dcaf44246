/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berthctl: machinectl's machine and image verbs over org.freedesktop.machine1, so it
 * works against berthd and systemd-machined alike.  This file: the command line, the verb
 * table, and the output (paged when it is long and goes to a terminal). */

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berthctl.h"
#include "log.h"
#include "parse-util.h"
#include "string-util.h"

char **arg_property = NULL;
bool arg_all = false;
bool arg_value = false;
bool arg_full = false;
bool arg_legend = true;
bool arg_read_only = false;
bool arg_quiet = false;
bool arg_force = false;
bool arg_mkdir = false;
const char *arg_kill_whom = NULL;
int arg_signal = SIGTERM;
unsigned arg_max_addresses = 1;
JsonFormat arg_json = JSON_FORMAT_OFF;
static bool arg_pager = true;
static bool arg_ask_password = true;
static const char *arg_host = NULL;       /* -H [USER@]HOST: the system bus there, over ssh */
bool arg_remote = false;                   /* -H or -M: the bus is another system's */
static const char *arg_machine = NULL;    /* -M NAME: the system bus of a local container */

FILE *out = NULL;
static char *out_buf = NULL;
static size_t out_size = 0;

typedef struct Verb {
        const char *name;
        int min_args, max_args;         /* counting the verb itself; -1: any */
        VerbFunction run;
} Verb;

static int verb_help(sd_bus *bus, int argc, char **argv);

/* The first entry is the default verb. */
static const Verb verbs[] = {
        { "list",         1,  1, verb_list },
        { "status",       2, -1, verb_status },
        { "show",         1, -1, verb_show },
        { "terminate",    2, -1, verb_terminate },
        { "kill",         2, -1, verb_kill },
        { "poweroff",     2, -1, verb_poweroff },
        { "stop",         2, -1, verb_poweroff },       /* machinectl's alias */
        { "reboot",       2, -1, verb_reboot },
        { "bind",         3,  4, verb_bind },
        { "copy-to",      3,  4, verb_copy },
        { "copy-from",    3,  4, verb_copy },
        { "restart",      2, -1, verb_reboot },         /* machinectl's alias */
        { "start",        2, -1, verb_start },
        { "enable",       2, -1, verb_enable },
        { "disable",      2, -1, verb_disable },
        { "edit",         2, -1, verb_edit },
        { "cat",          2, -1, verb_cat },
        { "login",        1,  2, verb_login },
        { "shell",        1, -1, verb_shell },
        { "list-images",  1,  1, verb_list_images },
        { "image-status", 1, -1, verb_image_status },
        { "show-image",   1, -1, verb_show_image },
        { "clone",        3,  3, verb_clone },
        { "rename",       3,  3, verb_rename },
        { "read-only",    2,  3, verb_read_only },
        { "remove",       2, -1, verb_remove },
        { "set-limit",    2,  3, verb_set_limit },
        { "clean",        1,  1, verb_clean },
        { "pull-tar",        2,  3, verb_pull },
        { "pull-raw",        2,  3, verb_pull },
        { "pull-oci",        2,  3, verb_pull_oci },
        { "import-tar",      2,  3, verb_import },
        { "import-raw",      2,  3, verb_import },
        { "import-fs",       2,  3, verb_import },
        { "import-oci",      2,  3, verb_import_oci },
        { "export-tar",      2,  3, verb_export },
        { "export-raw",      2,  3, verb_export },
        { "list-transfers",  1,  1, verb_list_transfers },
        { "cancel-transfer", 2, -1, verb_cancel_transfer },
        { "help",         1, -1, verb_help },
};

static int verb_help(sd_bus *bus, int argc, char **argv) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Send control commands to or query the virtual machine and container\n"
               "registration manager (berthd or systemd-machined).\n"
               "\nMachine Commands:\n"
               "  list                        List running VMs and containers\n"
               "  status NAME...              Show VM/container details\n"
               "  show [NAME...]              Show properties of one or more VMs/containers\n"
               "  poweroff NAME...            Power off one or more containers\n"
               "  start NAME...               Start container as a service\n"
               "  enable NAME...              Enable automatic container start at boot\n"
               "  disable NAME...             Disable automatic container start at boot\n"
               "  edit NAME...                Edit the settings file of a container\n"
               "  cat NAME...                 Show the settings file of a container\n"
               "  reboot NAME...              Reboot one or more containers\n"
               "  terminate NAME...           Terminate one or more VMs/containers\n"
               "  kill NAME...                Send signal to processes of a VM/container\n"
               "  copy-to NAME PATH [PATH]    Copy files from the host to a container\n"
               "  copy-from NAME PATH [PATH]  Copy files from a container to the host\n"
               "  bind NAME PATH [PATH]       Bind mount a path from the host into a container\n"
               "  login [NAME]                Get a login prompt in a container or on the\n"
               "                              local host\n"
               "  shell [[USER@]NAME [COMMAND...]]\n"
               "                              Invoke a shell (or other command) in a container\n"
               "                              or on the local host; exits with its status\n"
               "\nImage Commands:\n"
               "  list-images                 Show available container and VM images\n"
               "  image-status [NAME...]      Show image details\n"
               "  show-image [NAME...]        Show properties of image\n"
               "  clone NAME NAME             Clone an image\n"
               "  rename NAME NAME            Rename an image\n"
               "  read-only NAME [BOOL]       Mark or unmark image read-only\n"
               "  remove NAME...              Remove an image\n"
               "  set-limit [NAME] BYTES      Set image or pool size limit (disk quota)\n"
               "  clean                       Remove hidden (or all) images\n"
               "\nImage Transfer Commands:\n"
               "  pull-tar URL [NAME]         Download a TAR container image\n"
               "  pull-raw URL [NAME]         Download a RAW container or VM image\n"
               "  pull-oci [REGISTRY/]REPO[:TAG|@DIGEST] [NAME]\n"
               "                              Download an OCI image from a registry\n"
               "  import-tar FILE [NAME]      Import a local TAR container image\n"
               "  import-raw FILE [NAME]      Import a local RAW container or VM image\n"
               "  import-fs DIRECTORY [NAME]  Import a local directory container image\n"
               "  import-oci PATH [NAME]      Import an OCI image layout (directory or archive)\n"
               "                              or a docker save archive\n"
               "  export-tar NAME [FILE]      Export a TAR container image locally\n"
               "  export-raw NAME [FILE]      Export a RAW container or VM image locally\n"
               "  list-transfers              Show list of downloads in progress\n"
               "  cancel-transfer ID...       Cancel a download\n"
               "\nOptions:\n"
               "  -h --help                   Show this help\n"
               "     --version                Show package version\n"
               "     --no-pager               Do not pipe output into a pager\n"
               "     --no-legend              Do not show the headers and footers\n"
               "     --no-ask-password        Do not ask for system passwords\n"
               "  -H --host=[USER@]HOST       Operate on remote host\n"
               "  -M --machine=CONTAINER      Operate on local container\n"
               "     --now                    Start or power off container after enabling or\n"
               "                              disabling it\n"
               "  -p --property=NAME          Show only properties by this name\n"
               "  -P NAME                     Equivalent to --value --property=NAME\n"
               "  -q --quiet                  Suppress output\n"
               "  -a --all                    Show all properties, including empty ones\n"
               "     --value                  When showing properties, only print the value\n"
               "  -l --full                   Do not ellipsize output\n"
               "     --kill-whom=WHOM         Whom to send signal to\n"
               "  -s --signal=SIGNAL          Which signal to send\n"
               "     --read-only              Create a read-only bind mount, clone or import\n"
               "     --mkdir                  Create directory before bind mounting, if missing\n"
               "     --force                  Replace target file when copying, or an existing\n"
               "                              image when downloading\n"
               "     --verify=MODE            Verification mode for downloaded images (no,\n"
               "                              checksum, signature)\n"
               "     --format=FORMAT          Compress exported image (uncompressed, xz, gzip,\n"
               "                              bzip2, zstd)\n"
               "     --uid=USER               Specify user ID to invoke shell as\n"
               "  -E --setenv=VAR[=VALUE]     Add an environment variable for shell\n"
               "     --max-addresses=INTEGER  Number of internet addresses to show at most\n"
               "  -o --output=STRING          Output format of list and list-images (json,\n"
               "                              json-pretty, json-short)\n"
               "\nSee the berthctl(1) man page for details.\n",
               program_invocation_short_name);
        return 0;
}

/* --- output ------------------------------------------------------------------------- */

bool out_is_terminal(void) {
        const char *term = getenv("TERM");

        return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq(strempty(term), "dumb");
}

static struct winsize terminal_size(void) {
        struct winsize ws = {};

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                ws = (struct winsize) {};
        return ws;
}

size_t out_columns(void) {
        const char *c = getenv("COLUMNS");
        unsigned long n;

        if (!isatty(STDOUT_FILENO))
                return 0;
        if (c && (n = strtoul(c, NULL, 10)) > 0)
                return n;
        return terminal_size().ws_col;
}

/* Output for a terminal is collected, to decide at the end whether it needs a pager. */
static int output_begin(void) {
        if (!arg_pager || !isatty(STDOUT_FILENO)) {
                out = stdout;
                return 0;
        }
        out = open_memstream(&out_buf, &out_size);
        return out ? 0 : log_oom();
}

static size_t count_lines(const char *s, size_t n) {
        size_t lines = 0;

        for (size_t i = 0; i < n; i++)
                lines += s[i] == '\n';
        return lines;
}

static bool run_pager(const char *text, size_t n) {
        const char *pager = getenv("BERTHCTL_PAGER") ?: getenv("SYSTEMD_PAGER") ?: getenv("PAGER") ?: "less";
        FILE *p;
        int status;

        if (isempty(pager) || streq(pager, "cat"))
                return false;
        /* less: quit if one screen, keep colours, no init, as systemd's pager does */
        setenv("LESS", getenv("LESS") ?: "FRXMK", 1);
        fflush(stdout);
        p = popen(pager, "w");
        if (!p)
                return false;
        signal(SIGPIPE, SIG_IGN);       /* the reader may quit early */
        fwrite(text, 1, n, p);
        status = pclose(p);
        /* 127: the shell found no such pager; show the text ourselves */
        return !(WIFEXITED(status) && WEXITSTATUS(status) == 127);
}

static void output_end(void) {
        struct winsize ws;

        if (!out || out == stdout) {
                fflush(stdout);
                return;
        }
        fclose(out);
        out = NULL;
        ws = terminal_size();
        if (ws.ws_row > 0 && count_lines(out_buf, out_size) >= ws.ws_row && run_pager(out_buf, out_size))
                return;
        fwrite(out_buf, 1, out_size, stdout);
        fflush(stdout);
}

/* --- command line ------------------------------------------------------------------- */

static int parse_output(const char *s) {
        if (streq(s, "json") || streq(s, "json-short"))
                arg_json = JSON_FORMAT_SHORT;
        else if (streq(s, "json-pretty"))
                arg_json = JSON_FORMAT_PRETTY;
        else if (streq(s, "short"))
                arg_json = JSON_FORMAT_OFF;
        else
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown output '%s'.", s);
        /* JSON is for programs: no header or footer around it */
        arg_legend = arg_json == JSON_FORMAT_OFF && arg_legend;
        return 0;
}

static int parse_max_addresses(const char *s) {
        char *e;
        unsigned long n;

        if (streq(s, "all")) {
                arg_max_addresses = UINT_MAX;
                return 0;
        }
        errno = 0;
        n = strtoul(s, &e, 10);
        if (errno != 0 || *e || e == s || s[0] == '-' || n > UINT_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid number of addresses: %s", s);
        arg_max_addresses = (unsigned) n;
        return 0;
}

static int parse_argv(int argc, char **argv) {
        enum {
                ARG_VERSION = 0x100,
                ARG_NO_PAGER,
                ARG_NO_LEGEND,
                ARG_NO_ASK_PASSWORD,
                ARG_VALUE,
                ARG_KILL_WHOM,
                ARG_READ_ONLY,
                ARG_MAX_ADDRESSES,
                ARG_VERIFY,
                ARG_FORCE,
                ARG_FORMAT,
                ARG_MKDIR,
                ARG_NOW,
                ARG_UID,
        };
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "property",        required_argument, NULL, 'p'                 },
                { "all",             no_argument,       NULL, 'a'                 },
                { "value",           no_argument,       NULL, ARG_VALUE           },
                { "full",            no_argument,       NULL, 'l'                 },
                { "no-pager",        no_argument,       NULL, ARG_NO_PAGER        },
                { "no-legend",       no_argument,       NULL, ARG_NO_LEGEND       },
                { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
                { "kill-whom",       required_argument, NULL, ARG_KILL_WHOM       },
                { "signal",          required_argument, NULL, 's'                 },
                { "read-only",       no_argument,       NULL, ARG_READ_ONLY       },
                { "quiet",           no_argument,       NULL, 'q'                 },
                { "output",          required_argument, NULL, 'o'                 },
                { "max-addresses",   required_argument, NULL, ARG_MAX_ADDRESSES   },
                { "verify",          required_argument, NULL, ARG_VERIFY          },
                { "force",           no_argument,       NULL, ARG_FORCE           },
                { "format",          required_argument, NULL, ARG_FORMAT          },
                { "mkdir",           no_argument,       NULL, ARG_MKDIR           },
                { "host",            required_argument, NULL, 'H'                 },
                { "machine",         required_argument, NULL, 'M'                 },
                { "now",             no_argument,       NULL, ARG_NOW             },
                { "uid",             required_argument, NULL, ARG_UID             },
                { "setenv",          required_argument, NULL, 'E'                 },
                {}
        };
        /* Leading '-': non-options come back as 1, in order (see case 1). */
        static const char option_string[] = "-hp:P:als:qo:H:M:E:";
        bool reorder = false;
        int c, r, shell = -1;

        while ((c = getopt_long(argc, argv, option_string + reorder, options, NULL)) >= 0)
                switch (c) {
                case 1:
                        /* As machinectl: options after "shell NAME" belong to the command. The
                         * first non-option is the verb; for "shell" the next one is the
                         * machine, where parsing stops. For any other verb, options may come
                         * anywhere: reordering is turned on again. */
                        if (shell >= 0) {
                                optind--;
                                goto done;
                        }
                        if (streq(optarg, "shell"))
                                shell = optind - 1;
                        else {
                                int saved = optind;

                                /* getopt_long() only rereads the option string after a reset */
                                reorder = true;
                                optind = 0;
                                (void) getopt_long(argc, argv, option_string + reorder, options, NULL);
                                optind = saved - 1;
                        }
                        break;
                case ARG_UID:
                        arg_uid = optarg;
                        break;
                case 'E':
                        r = setenv_argument_add(optarg);
                        if (r < 0)
                                return r;
                        break;
                case 'h':
                        verb_help(NULL, 0, NULL);
                        return 0;
                case ARG_VERSION:
                        printf("berthctl %s\n", PROJECT_VERSION);
                        return 0;
                case 'P':
                        arg_value = true;
                        __attribute__((fallthrough));
                case 'p':
                        if (strv_extend(&arg_property, optarg) < 0)
                                return log_oom();
                        break;
                case 'a':
                        arg_all = true;
                        break;
                case ARG_VALUE:
                        arg_value = true;
                        break;
                case 'l':
                        arg_full = true;
                        break;
                case ARG_NO_PAGER:
                        arg_pager = false;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ARG_KILL_WHOM:
                        arg_kill_whom = optarg;
                        break;
                case 's':
                        arg_signal = signal_from_string(optarg);
                        if (arg_signal < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Failed to parse signal string \"%s\".", optarg);
                        break;
                case ARG_READ_ONLY:
                        arg_read_only = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_MKDIR:
                        arg_mkdir = true;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        break;
                case 'o':
                        r = parse_output(optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_MAX_ADDRESSES:
                        r = parse_max_addresses(optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_VERIFY:
                        if (!streq(optarg, "no") && !streq(optarg, "checksum") && !streq(optarg, "signature"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown verification mode: %s", optarg);
                        arg_verify = optarg;
                        break;
                case ARG_FORMAT:
                        if (!streq(optarg, "uncompressed") && !streq(optarg, "xz") && !streq(optarg, "gzip") &&
                            !streq(optarg, "bzip2") && !streq(optarg, "zstd"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown format: %s", optarg);
                        arg_format = optarg;
                        break;
                case 'H':
                        arg_host = optarg;
                        break;
                case 'M':
                        arg_machine = optarg;
                        break;
                case ARG_NOW:
                        arg_now = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unhandled option %c", c);
                }
done:
        if (shell >= 0) {
                /* the verb goes right before the machine name, where run() expects it */
                char *t = argv[shell];

                optind--;
                for (int i = shell; i < optind; i++)
                        argv[i] = argv[i + 1];
                argv[optind] = t;
        }
        return 1;
}

static int find_verb(int argc, char **argv, const Verb **ret) {
        const char *name = argc > 0 ? argv[0] : verbs[0].name;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const Verb *v = &verbs[i];
                int n = MAX(argc, 1);

                if (!streq(v->name, name))
                        continue;
                if (n < v->min_args)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Too few arguments.");
                if (v->max_args >= 0 && n > v->max_args)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Too many arguments.");
                *ret = v;
                return 0;
        }
        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown command verb %s.", name);
}

static int run(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char *default_argv[] = { (char *) verbs[0].name, NULL };
        const Verb *verb = NULL;
        int r;

        log_setup(NULL);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        if (arg_quiet)
                log_set_max_level(LOG_WARNING);

        argc -= optind;
        argv += optind;
        if (argc == 0) {
                argc = 1;
                argv = default_argv;
        }
        r = find_verb(argc, argv, &verb);
        if (r < 0)
                return r;
        if (verb->run == verb_help)
                return verb_help(NULL, argc, argv);

        /* the system bus, or the one $DBUS_SYSTEM_BUS_ADDRESS names; as machinectl, -H
         * reaches a host's over ssh and -M a container's */
        if (arg_host && arg_machine)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Cannot combine -H and -M.");
        arg_remote = arg_host || arg_machine;
        if (arg_host)
                r = sd_bus_open_system_remote(&bus, arg_host);
        else if (arg_machine)
                r = sd_bus_open_system_machine(&bus, arg_machine);
        else
                r = sd_bus_open_system(&bus);
        /* cat and edit find the settings files of this host without berthd too */
        if (r < 0 && !arg_remote && (verb->run == verb_cat || verb->run == verb_edit)) {
                bus = NULL;
                r = 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to connect to bus: %s", strerror(-r));
        (void) sd_bus_set_allow_interactive_authorization(bus, arg_ask_password);

        r = output_begin();
        if (r < 0)
                return r;
        r = verb->run(bus, argc, argv);
        output_end();
        return r;
}

int main(int argc, char **argv) {
        int r = run(argc, argv);

        strv_free(arg_property);
        strv_free(arg_setenv);
        return r < 0 ? EXIT_FAILURE : verb_exit_status;
}
