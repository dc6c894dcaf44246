/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-enter.h"
#include "machine-name.h"
#include "machine-pty.h"
#include "machine-query.h"
#include "manager.h"
#include "process-util.h"
#include "string-util.h"

#define SESSIONS_MAX 4096U

/* systemd-machined's polkit actions */
#define POLKIT_ACTION_OPEN_PTY "org.freedesktop.machine1.open-pty"
#define POLKIT_ACTION_LOGIN "org.freedesktop.machine1.login"
#define POLKIT_ACTION_SHELL "org.freedesktop.machine1.shell"
#define POLKIT_ACTION_HOST_OPEN_PTY "org.freedesktop.machine1.host-open-pty"
#define POLKIT_ACTION_HOST_LOGIN "org.freedesktop.machine1.host-login"
#define POLKIT_ACTION_HOST_SHELL "org.freedesktop.machine1.host-shell"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static unsigned n_sessions;

MachineSession *machine_session_free(MachineSession *s) {
        if (!s)
                return NULL;
        if (s->manager) {
                if (s->prev)
                        s->prev->next = s->next;
                else
                        s->manager->sessions = s->next;
                if (s->next)
                        s->next->prev = s->prev;
                n_sessions--;
        }
        sd_event_source_disable_unref(s->source);
        safe_close(s->pidfd);
        safe_close(s->status_fd);
        free(s->machine);
        free(s);
        return NULL;
}

void machine_sessions_free(Manager *m) {
        while (m->sessions)
                machine_session_free(m->sessions);
}

static int on_session_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        MachineSession *s = userdata;
        siginfo_t si = {};
        int status = -1;

        /* as in operation.c: off the event loop before the pidfd is closed */
        s->source = sd_event_source_disable_unref(s->source);
        if (pidfd_wait(s->pidfd, &si) >= 0)
                status = exit_status_from_siginfo(&si);
        log_debug("A session in machine '%s' ended with status %i.", s->machine, status);
        if (s->status_fd >= 0 && status >= 0) {
                char line[16];
                int n = snprintf(line, sizeof(line), "%i\n", status);

                /* the client may be gone: never a SIGPIPE for berthd */
                (void) send(s->status_fd, line, n, MSG_NOSIGNAL|MSG_DONTWAIT);
        }
        machine_session_free(s);
        return 0;
}

static int session_add(Manager *m, const char *machine, int pidfd, int status_fd) {
        _cleanup_close_ int p = pidfd, sfd = status_fd;
        MachineSession *s;
        int r;

        s = calloc(1, sizeof(MachineSession));
        if (!s)
                return -ENOMEM;
        *s = (MachineSession) { .pidfd = TAKE_FD(p), .status_fd = TAKE_FD(sfd) };
        s->machine = strdup(machine);
        if (!s->machine) {
                machine_session_free(s);
                return -ENOMEM;
        }
        r = sd_event_add_io(m->event, &s->source, s->pidfd, EPOLLIN, on_session_exit, s);
        if (r < 0) {
                machine_session_free(s);
                return r;
        }
        (void) sd_event_source_set_description(s->source, "machine-session");
        s->manager = m;
        s->next = m->sessions;
        if (m->sessions)
                m->sessions->prev = s;
        m->sessions = s;
        n_sessions++;
        return 0;
}

static bool env_assignment_is_valid(const char *e) {
        const char *eq = strchr(e, '=');

        if (!eq || eq == e || !utf8_is_valid(e))
                return false;
        for (const char *p = e; p < eq; p++)
                if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (p > e && *p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static int build_env(const UserRecord *u, char **client_env, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *home = NULL, *user = NULL, *logname = NULL, *shell = NULL;

        if (u) {
                home = strjoin("HOME=", isempty(u->home) ? "/" : u->home);
                user = strjoin("USER=", u->name);
                logname = strjoin("LOGNAME=", u->name);
                shell = strjoin("SHELL=", isempty(u->shell) ? "/bin/sh" : u->shell);
                if (!home || !user || !logname || !shell)
                        return -ENOMEM;
        }
        if (strv_env_set(&env, "PATH=" DEFAULT_PATH) < 0 || strv_env_set(&env, "TERM=vt220") < 0 ||
            strv_env_set(&env, "container=berth") < 0)
                return -ENOMEM;
        if (u && (strv_env_set(&env, home) < 0 || strv_env_set(&env, user) < 0 ||
                  strv_env_set(&env, logname) < 0 || strv_env_set(&env, shell) < 0))
                return -ENOMEM;
        STRV_FOREACH(e, client_env)
                if (strv_env_set(&env, *e) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

typedef struct OpenArgs {
        EnterMode mode;
        const char *user;
        const char *path;
        char **argv;
        char **env;
        bool with_status;
} OpenArgs;

static const char *polkit_action(EnterMode mode, bool host) {
        switch (mode) {
        case ENTER_PTY:
                return host ? POLKIT_ACTION_HOST_OPEN_PTY : POLKIT_ACTION_OPEN_PTY;
        case ENTER_LOGIN:
                return host ? POLKIT_ACTION_HOST_LOGIN : POLKIT_ACTION_LOGIN;
        default:
                return host ? POLKIT_ACTION_HOST_SHELL : POLKIT_ACTION_SHELL;
        }
}

static int leader_pidfd_of(Machine *machine, int *ret) {
        int fd;

        if (!machine_is_host(machine)) {
                fd = fcntl(machine->leader_pidfd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : (*ret = fd, 0);
        }
        fd = (int) syscall(SYS_pidfd_open, 1, 0);
        return fd < 0 ? -errno : (*ret = fd, 0);
}

/* Everything that can be refused is checked here, before anything runs in the machine. */
static int open_in_machine(sd_bus_message *message, Machine *machine, OpenArgs *a, sd_bus_error *error) {
        _cleanup_(machine_restrictions_done) MachineRestrictions res = {};
        _cleanup_(machine_entry_done) MachineEntry e = MACHINE_ENTRY_NULL;
        _cleanup_(user_record_done) UserRecord user = {};
        _cleanup_strv_free_ char **env = NULL, **argv = NULL;
        _cleanup_close_pair_ int status_pipe[2] = EBADF_PAIR;   /* [0] the client's */
        _cleanup_close_ int master = -EBADF, pidfd = -EBADF, leader_pidfd = -EBADF;
        _cleanup_free_ char *pty_path = NULL, *argv0 = NULL;
        Manager *m = machine->manager;
        const char *name = machine->info.name;
        bool host = machine_is_host(machine);
        pid_t leader = host ? 1 : machine->info.leader;
        EnterRequest req = { .mode = a->mode };
        int r;

        if (machine->info.class != MACHINE_CONTAINER && !host)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "Opening logins and shells is only supported on container machines.");
        if (a->mode == ENTER_SHELL) {
                if (!isempty(a->path) && a->path[0] != '/')
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Specified path '%s' is not absolute", a->path);
                if (isempty(a->path) && !(strv_length(a->argv) == 0))
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                "Arguments given without a path.");
                STRV_FOREACH(x, a->env)
                        if (!env_assignment_is_valid(*x))
                                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                        "Invalid environment assignments");
                if (!isempty(a->user) && (!string_is_safe(a->user) || strlen(a->user) > 256))
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid user name.");
        }

        r = bus_check_privileged_for(m, message, polkit_action(a->mode, host),
                                     a->mode == ENTER_PTY ? "open a pty in machines" :
                                     a->mode == ENTER_LOGIN ? "log into machines" : "open shells in machines",
                                     error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        if (n_sessions >= SESSIONS_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many sessions in machines.");

        if (!host) {
                r = machine_restrictions_load(SPAWN_STATE_DIR, name, machine->info.supervisor, &res);
                if (r < 0 && r != -ENOENT && r != -ESTALE)
                        log_warning_errno(r, "Failed to read berth-spawn's state of machine '%s', "
                                          "going by its leader: %m", name);
        }
        r = leader_pidfd_of(machine, &leader_pidfd);
        if (r >= 0)
                r = machine_entry_prepare(leader, leader_pidfd, &m->cgroups, &res, &e);
        if (r == -EPERM)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Machine '%s' runs with a system call filter that berthd does not know.",
                                         name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look at machine '%s': %m", name);

        if (a->mode == ENTER_SHELL) {
                /* The machine's own user database, read through its root; never the host's NSS. */
                r = user_record_lookup(e.rootfd, isempty(a->user) ? "root" : a->user, &user);
                if (r == -ESRCH)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "No user '%s' in machine '%s'.", a->user, name);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to look up user in machine '%s': %m", name);

                if (isempty(a->path)) {
                        /* the user's login shell, as a login shell ("-bash") */
                        const char *shell = isempty(user.shell) ? "/bin/sh" : user.shell;
                        const char *base = strrchr(shell, '/');

                        req.path = shell;
                        argv0 = strjoin("-", base ? base + 1 : shell);
                        if (!argv0 || strv_extend(&argv, argv0) < 0)
                                return -ENOMEM;
                } else {
                        req.path = a->path;
                        argv = (strv_length(a->argv) == 0) ? strv_copy((char *[]) { (char *) a->path, NULL })
                                                     : strv_copy(a->argv);
                        if (!argv)
                                return -ENOMEM;
                }
                req.argv = argv;
                req.user = &user;
                r = build_env(&user, a->env, &env);
        } else
                r = build_env(NULL, NULL, &env);
        if (r < 0)
                return r;
        req.env = env;

        /* a socket, not a pipe: berthd writes to it with MSG_NOSIGNAL */
        if (a->with_status && socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, status_pipe) < 0)
                return -errno;
        if (a->with_status && shutdown(status_pipe[0], SHUT_WR) < 0)
                return -errno;

        r = machine_entry_run(&e, &req, &master, &pty_path, &pidfd);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to open a %s in machine '%s': %m",
                                               a->mode == ENTER_PTY ? "pty" : a->mode == ENTER_LOGIN ? "login" : "shell",
                                               name);
        if (pidfd >= 0) {
                r = session_add(m, name, TAKE_FD(pidfd), TAKE_FD(status_pipe[1]));
                if (r < 0)
                        return r;
        }
        log_info("Opened a %s on %s in machine '%s'.",
                 a->mode == ENTER_PTY ? "pty" : a->mode == ENTER_LOGIN ? "login" : "shell", pty_path, name);
        if (a->with_status)
                return sd_bus_reply_method_return(message, "hsh", master, pty_path, status_pipe[0]);
        return sd_bus_reply_method_return(message, "hs", master, pty_path);
}

static int find_machine(sd_bus_message *message, Manager *m, Machine **ret, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        *ret = manager_get_machine(m, name);
        if (!*ret)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine '%s' known.",
                                         machine_name_is_valid(name) ? name : "(invalid name)");
        return 0;
}

static int read_shell_args(sd_bus_message *message, OpenArgs *a) {
        int r;

        r = sd_bus_message_read(message, "ss", &a->user, &a->path);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(message, &a->argv);
        if (r < 0)
                return r;
        return sd_bus_message_read_strv(message, &a->env);
}

static void open_args_done(OpenArgs *a) {
        strv_free(a->argv);
        strv_free(a->env);
}

static int method_open_machine(sd_bus_message *message, void *userdata, sd_bus_error *error, EnterMode mode,
                               bool by_name, bool with_status) {
        _cleanup_(open_args_done) OpenArgs a = { .mode = mode, .with_status = with_status };
        Machine *machine = userdata;
        int r;

        if (by_name) {
                r = find_machine(message, userdata, &machine, error);
                if (r < 0)
                        return r;
        }
        if (mode == ENTER_SHELL) {
                r = read_shell_args(message, &a);
                if (r < 0)
                        return r;
        }
        return open_in_machine(message, machine, &a, error);
}

static int method_open_machine_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_PTY, true, false);
}
static int method_open_machine_login(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_LOGIN, true, false);
}
static int method_open_machine_shell(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_SHELL, true, false);
}
static int method_open_machine_shell_with_status(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_SHELL, true, true);
}
static int method_machine_open_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_PTY, false, false);
}
static int method_machine_open_login(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_LOGIN, false, false);
}
static int method_machine_open_shell(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_open_machine(message, userdata, error, ENTER_SHELL, false, false);
}

/* Added to machine1's Manager and Machine interfaces next to their other vtables: same
 * names and signatures as systemd-machined. */
static const sd_bus_vtable manager_pty_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("OpenMachinePTY",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_pty, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineLogin",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_login, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineShell",
                                SD_BUS_ARGS("s", name, "s", user, "s", path, "as", args, "as", environment),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_shell, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable machine_pty_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("OpenPTY",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_machine_open_pty, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenLogin",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_machine_open_login, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenShell",
                                SD_BUS_ARGS("s", user, "s", path, "as", args, "as", environment),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_machine_open_shell, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* berth's own: machine1's signatures stay untouched (see berthd(8)). */
static const sd_bus_vtable berth_manager_pty_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineShellWithStatus",
                                SD_BUS_ARGS("s", name, "s", user, "s", path, "as", args, "as", environment),
                                SD_BUS_RESULT("h", pty, "s", pty_path, "h", status),
                                method_open_machine_shell_with_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int machine_pty_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, MACHINE1_MANAGER_PATH, MACHINE1_MANAGER_INTERFACE,
                                     manager_pty_vtable, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, MACHINE_OBJECT_PREFIX, MACHINE1_MACHINE_INTERFACE,
                                               machine_pty_vtable, machine_object_find, m);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, NULL, MACHINE1_MANAGER_PATH, BERTH_MANAGER_INTERFACE,
                                             berth_manager_pty_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the pty, login and shell methods: %m");
        return 0;
}
