/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* login and shell: a pty in the machine, forwarded to our terminal (pty-forward.c). Against
 * berthd, shell asks for berth's OpenMachineShellWithStatus, whose extra socket carries the
 * command's exit status, and exits with it; against systemd-machined, which has no such
 * method, it falls back to OpenMachineShell and, like machinectl, cannot. */

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berthctl.h"
#include "fd-util.h"
#include "log.h"
#include "machine1-bus.h"
#include "pty-forward.h"
#include "string-util.h"

char *arg_uid = NULL;
char **arg_setenv = NULL;
int verb_exit_status = 0;

/* -E NAME=VALUE, or -E NAME: the value from our own environment, as machinectl does. */
int setenv_argument_add(const char *s) {
        _cleanup_free_ char *a = NULL;
        const char *v;

        if (isempty(s) || s[0] == '=' )
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Environment assignment invalid: %s", strempty(s));
        if (!strchr(s, '=')) {
                v = getenv(s);
                if (!v)
                        return 0;
                a = strjoin(s, "=", v);
                if (!a)
                        return log_oom();
                s = a;
        }
        if (strv_env_set(&arg_setenv, s) < 0)
                return log_oom();
        return 0;
}

/* The status line berthd writes when the command ends: "N\n". */
static int read_exit_status(int fd, int *ret) {
        char buf[16] = {};
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        char *end;
        long v;

        /* the pty hung up when the command ended; berthd writes its status right after */
        if (poll(&p, 1, 10000) <= 0)
                return -ETIMEDOUT;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return n < 0 ? -errno : -ENODATA;
        v = strtol(buf, &end, 10);
        if (end == buf || *end != '\n' || v < 0 || v > 255)
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

/* hold_peer for a login: the guest's login calls vhangup(), which must not look like the
 * end of the session; it ends with ^]^]^] (as with machinectl, where a getty respawns). */
static int forward(const char *name, int master, int status_fd, bool hold_peer) {
        PtyForward f = PTY_FORWARD_NULL;
        int r;

        if (!arg_quiet)
                fprintf(stderr, "Connected to machine %s. Press ^] three times within 1s to exit session.\n", name);
        /* "echo cmd | berthctl shell M": the shell in the machine sees the end of input */
        f.eof_to_pty = true;
        r = pty_forward_attach(&f, master, PTY_FORWARD_INTERACTIVE, hold_peer);
        if (r < 0)
                return log_error_errno(r, "Failed to attach to the pty: %s", strerror(-r));
        r = pty_forward_run_until(&f, status_fd);
        pty_forward_done(&f);
        if (r < 0)
                return log_error_errno(r, "Failed to forward the pty: %s", strerror(-r));
        if (!arg_quiet)
                fprintf(stderr, "\nConnection to machine %s terminated.\n", name);
        return r;       /* 1: left with ^]^]^] */
}

int verb_login(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name = argc > 1 ? argv[1] : ".host";
        const char *path;
        int master, r;

        r = manager_call(bus, "Failed to get login PTY", 0, &reply, "OpenMachineLogin", "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "hs", &master, &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse reply: %s", strerror(-r));
        master = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return log_error_errno(errno, "Failed to duplicate the pty: %m");
        r = forward(name, master, -EBADF, true);
        return r < 0 ? r : 0;
}

/* [[USER@]NAME]: no name is the host, no user is root (or --uid). */
static int split_user_machine(const char *s, char **ret_user, char **ret_machine) {
        const char *at = s ? strchr(s, '@') : NULL;

        *ret_user = at ? strndup(s, at - s) : strdup(arg_uid ?: "");
        *ret_machine = strdup(at ? (at[1] ? at + 1 : ".host") : (s ?: ".host"));
        if (!*ret_user || !*ret_machine)
                return log_oom();
        if (arg_uid) {
                free(*ret_user);
                *ret_user = strdup(arg_uid);
                if (!*ret_user)
                        return log_oom();
        }
        return 0;
}

static int shell_call(sd_bus *bus, const char *member, const char *interface, const char *machine,
                      const char *user, const char *path, char **args, sd_bus_error *error,
                      sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, interface, member);
        if (r >= 0)
                r = sd_bus_message_append(m, "sss", machine, user, path);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, args);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, arg_setenv);
        if (r < 0)
                return r;
        return sd_bus_call(bus, m, 0, error, ret_reply);
}

int verb_shell(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *user = NULL, *machine = NULL;
        _cleanup_close_ int master = -EBADF, status_fd = -EBADF;
        const char *path = argc > 2 ? argv[2] : "", *pty_path;
        char **args = argc > 2 ? argv + 2 : NULL;
        int fd, sfd, r;

        r = split_user_machine(argc > 1 ? argv[1] : NULL, &user, &machine);
        if (r < 0)
                return r;
        /* our TERM, unless -E gave one: the shell draws on our terminal */
        if (!strv_env_get(arg_setenv, "TERM") && getenv("TERM")) {
                r = setenv_argument_add("TERM");
                if (r < 0)
                        return r;
        }

        r = shell_call(bus, "OpenMachineShellWithStatus", BERTH_MANAGER_INTERFACE, machine, user, path, args,
                       &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "hsh", &fd, &pty_path, &sfd);
        else if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_INTERFACE)) {
                /* systemd-machined: no exit status */
                sd_bus_error_free(&error);
                reply = sd_bus_message_unref(reply);
                sfd = -EBADF;
                r = shell_call(bus, "OpenMachineShell", MACHINE1_MANAGER_INTERFACE, machine, user, path, args,
                               &error, &reply);
                if (r >= 0)
                        r = sd_bus_message_read(reply, "hs", &fd, &pty_path);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to get shell PTY: %s", bus_error_text(&error, r));

        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return log_error_errno(errno, "Failed to duplicate the pty: %m");
        if (sfd >= 0) {
                status_fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
                if (status_fd < 0)
                        return log_error_errno(errno, "Failed to duplicate the status socket: %m");
        }
        reply = sd_bus_message_unref(reply);    /* our copies are all we need */

        r = forward(machine, TAKE_FD(master), status_fd, false);
        if (r != 0 || status_fd < 0)
                return r < 0 ? r : 0;
        r = read_exit_status(status_fd, &verb_exit_status);
        if (r < 0)
                return log_error_errno(r, "Could not learn the exit status of the command in machine %s: %s",
                                       machine, strerror(-r));
        return 0;
}
