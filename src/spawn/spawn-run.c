/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "notify-util.h"
#include "process-util.h"
#include "pty-forward.h"
#include "seccomp-cache.h"
#include "spawn-cgroup.h"
#include "spawn-ephemeral.h"
#include "spawn-image.h"
#include "spawn-image-lock.h"
#include "spawn-inner.h"
#include "spawn-journal.h"
#include "spawn-mount.h"
#include "spawn-network.h"
#include "spawn-register.h"
#include "spawn-run.h"
#include "spawn-state.h"
#include "spawn-sync.h"
#include "spawn-template.h"
#include "spawn-userns.h"
#include "string-util.h"

/* The cgroup namespace is unshared by the child itself, once it joined its v1 cgroups. */
#define NAMESPACE_FLAGS (CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC)

typedef struct Supervisor {
        const SpawnConfig *config;
        SpawnState *state;
        int pidfd;
        int sock;
        int sigfd;
        int notify_fd;           /* the machine's /run/host/notify */
        PtyForward console;
        bool setup_failed;       /* the child reported an error before exec */
        bool stub_reported;
        bool ready_sent;
        bool announced;          /* "Spawning container" was printed (kept across reboots) */
        bool started;            /* this PID 1 reported SYNC_STARTED */
        pid_t pid;
        HostNetwork *net;        /* &state->net */
        Registration reg;
        siginfo_t status;        /* how the payload ended */
        unsigned stop_requests;
        unsigned stop_resends;    /* --boot: the kill signal sent again while the guest ignores it */
} Supervisor;

static int block_signals(int *ret_sigfd, sigset_t *ret_old) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGWINCH);
        if (sigprocmask(SIG_BLOCK, &mask, ret_old) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        fd = signalfd(-1, &mask, SFD_CLOEXEC|SFD_NONBLOCK);
        if (fd < 0)
                return log_error_errno(errno, "Failed to allocate a signalfd: %m");
        *ret_sigfd = fd;
        return 0;
}

/* Register the machine and let the payload go; on failure the machine is killed. */
static int supervisor_register(Supervisor *s, pid_t pid, int pidfd, int sock) {
        int r;

        r = spawn_register_machine(s->config, s->state->directory, pid, s->net->host_ifindex, &s->reg);
        if (r >= 0)
                r = sync_send(sock, SYNC_GO, 0, 0, NULL, -EBADF);
        if (r < 0)
                (void) pidfd_signal(pidfd, SIGKILL);
        return r;
}

/* The machine's console pty: forwarded to our terminal as --console= says. The slave is
 * held open by us too, so that the guest closing and reopening /dev/console (a booting
 * init does) is no hang-up. */
static int supervisor_attach_console(Supervisor *s, int master) {
        PtyForwardMode mode = s->config->console == CONSOLE_INTERACTIVE ? PTY_FORWARD_INTERACTIVE :
                              s->config->console == CONSOLE_PASSIVE ? PTY_FORWARD_PASSIVE : PTY_FORWARD_READ_ONLY;
        int r;

        r = pty_forward_attach(&s->console, master, mode, true);
        if (r < 0)
                return log_error_errno(r, "Failed to make the console pty non-blocking: %m");
        if (s->console.peer < 0)
                log_debug("Failed to open the console pty's peer, ignoring.");
        return 0;
}

static void supervisor_handle_message(Supervisor *s, SyncMessage *m) {
        /* Once the payload runs, the --as-pid2 stub's end of the socket is in the machine
         * with it: only a log line or the exit status may still come, never a set-up step. */
        if (s->started && m->type != SYNC_LOG && m->type != SYNC_EXIT_STATUS) {
                log_debug("Ignoring sync message %i sent after the machine started.", (int) m->type);
                safe_close(m->fd);
                return;
        }

        switch (m->type) {
        case SYNC_LOG:
                if (m->level <= LOG_ERR)
                        s->setup_failed = true;
                log_full(m->level, "%s", m->text);
                break;
        case SYNC_PTY_MASTER:
                if (m->fd >= 0 && supervisor_attach_console(s, TAKE_FD(m->fd)) < 0)
                        (void) pidfd_signal(s->pidfd, SIGKILL);
                break;
        case SYNC_NETNS: {
                char config[64];

                /* the child waits in its new network namespace for its link */
                if (host_network_setup(s->config, s->net, s->pid, config) < 0 ||
                    sync_send(s->sock, SYNC_NET_CONFIG, 0, 0, config, -EBADF) < 0) {
                        s->setup_failed = true;
                        (void) pidfd_signal(s->pidfd, SIGKILL);
                        break;
                }
                spawn_state_save(s->config, s->state);     /* the link and its index */
                if (s->state->wait_for_go && supervisor_register(s, s->pid, s->pidfd, s->sock) < 0)
                        s->setup_failed = true;
                break;
        }
        case SYNC_NOTIFY_SOCKET:
                safe_close(s->notify_fd);
                s->notify_fd = TAKE_FD(m->fd);
                break;
        case SYNC_STARTED:
                s->started = true;
                /* Announced only now, so that a machine that fails to start leaves
                 * exactly one line: the reason. */
                if (!s->announced) {
                        s->announced = true;
                        log_info("Spawning container %s on %s.", s->config->machine, s->config->image ?: s->state->directory);
                        if (s->config->console == CONSOLE_INTERACTIVE)
                                log_info("Press Ctrl-] three times within 1s to kill container.");
                }
                break;
        case SYNC_EXIT_STATUS:
                s->stub_reported = true;
                s->status.si_code = m->code;
                s->status.si_status = m->status;
                break;
        default:
                break;
        }
        safe_close(m->fd);
}

/* Returns false once the socket reached EOF. */
static bool supervisor_read_messages(Supervisor *s) {
        for (;;) {
                SyncMessage m;
                int r = sync_receive(s->sock, &m);

                if (r == -EAGAIN)
                        return true;
                if (r <= 0)
                        return false;
                supervisor_handle_message(s, &m);
        }
}

/* READY=1 and STATUS= from the guest's init. READY=1 is passed on to our own supervisor
 * when --notify-ready=yes, so Type=notify units wait for the guest. */
static void supervisor_handle_notify(Supervisor *s) {
        char buf[4096];
        ssize_t n;

        while ((n = recv(s->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
                char *saveptr = NULL;

                buf[n] = 0;
                for (char *l = strtok_r(buf, "\n", &saveptr); l; l = strtok_r(NULL, "\n", &saveptr)) {
                        if (streq(l, "READY=1") && s->config->notify_ready && !s->ready_sent) {
                                s->ready_sent = true;
                                (void) notify_send("READY=1");
                        } else if (startswith(l, "STATUS=")) {
                                _cleanup_free_ char *m = strjoin("STATUS=Container running: ", l + 7);
                                if (m)
                                        (void) notify_send(m);
                        }
                }
        }
}

static void supervisor_handle_signal(Supervisor *s) {
        struct signalfd_siginfo si;

        while (read(s->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGWINCH:
                        pty_forward_update_size(&s->console);
                        break;
                case SIGCHLD:
                        break;      /* the pidfd tells us */
                default: {
                        /* The first request is passed on as --kill-signal=; if the machine
                         * ignores it, a second one ends it for sure. */
                        int sig = s->stop_requests++ == 0 ? s->config->kill_signal : SIGKILL;
                        char name[16];

                        log_debug("Received %s, sending %s to the machine.",
                                  signal_to_string((int) si.ssi_signo, name), signal_to_string(sig, name));
                        (void) pidfd_signal(s->pidfd, sig);
                }
                }
        }
}

/* After a stop request to a booted machine, the kill signal is sent again every second
 * for a few seconds (see supervisor_loop); -1: no timeout. */
static int stop_resend_timeout(const Supervisor *s) {
        const SpawnConfig *c = s->config;

        return s->stop_requests == 1 && c->boot && c->kill_signal != SIGKILL && s->stop_resends < 10 ? 1000 : -1;
}

static int supervisor_loop(Supervisor *s) {
        bool sock_open = true;
        int r;

        for (;;) {
                struct pollfd p[7];
                size_t n = 0, nc;

                p[n++] = (struct pollfd) { .fd = s->sigfd, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = s->pidfd, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = sock_open ? s->sock : -1, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = s->notify_fd, .events = POLLIN };
                p[n++] = (struct pollfd) { .fd = host_network_poll_fd(s->net), .events = POLLIN };  /* DHCP */
                nc = pty_forward_poll_fill(&s->console, p + n);

                r = poll(p, n + nc, stop_resend_timeout(s));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "Failed to wait for events: %m");
                }
                if (r == 0) {
                        char name[16];

                        /* A PID 1 drops signals it has no handler for yet: systemd asked
                         * to power off in its first moments would boot on regardless. */
                        s->stop_resends++;
                        log_debug("Machine still running, sending %s again.",
                                  signal_to_string(s->config->kill_signal, name));
                        (void) pidfd_signal(s->pidfd, s->config->kill_signal);
                        continue;
                }

                if (p[0].revents)
                        supervisor_handle_signal(s);
                if (sock_open && p[2].revents)
                        sock_open = supervisor_read_messages(s);
                if (p[3].revents)
                        supervisor_handle_notify(s);
                if (p[4].revents)
                        host_network_dispatch(s->net);
                pty_forward_poll_dispatch(&s->console, p + n, nc);

                if (s->console.escaped) {
                        s->console.escaped = false;
                        log_info("Killing machine %s (escape sequence).", s->config->machine);
                        (void) pidfd_signal(s->pidfd, SIGKILL);
                }

                if (p[1].revents) {
                        siginfo_t si;
                        r = pidfd_wait(s->pidfd, &si);

                        if (r < 0)
                                return log_error_errno(r, "Failed to reap the machine's PID 1: %m");
                        /* Everything queued before the end still counts. */
                        if (sock_open)
                                (void) supervisor_read_messages(s);
                        pty_forward_drain(&s->console);
                        if (!s->stub_reported)
                                s->status = si;
                        return 0;
                }
        }
}

static int supervisor_result(Supervisor *s, bool *ret_reboot) {
        const SpawnConfig *c = s->config;
        char name[16];

        *ret_reboot = false;
        if (s->setup_failed)
                return -EINVAL;     /* already logged by the child */

        /* reboot(2) in a PID namespace ends its init with SIGINT (power off, halt) or
         * SIGHUP (reboot). */
        if (c->boot && s->status.si_code == CLD_KILLED && s->status.si_status == SIGINT) {
                log_info("Container %s has been shut down.", c->machine);
                return 0;
        }
        if (c->boot && s->status.si_code == CLD_KILLED && s->status.si_status == SIGHUP) {
                log_info("Container %s is being rebooted.", c->machine);
                *ret_reboot = true;
                return 0;
        }

        if (s->status.si_code == CLD_EXITED) {
                if (s->status.si_status == 0)
                        log_info("Container %s exited successfully.", c->machine);
                else
                        log_info("Container %s failed with error code %i.", c->machine, s->status.si_status);
                return s->status.si_status;
        }

        log_notice("Container %s terminated by signal %s.", c->machine,
                   signal_to_string(s->status.si_status, name));
        return 128 + s->status.si_status;
}

static int spawn_once(const SpawnConfig *c, SpawnState *st, int sigfd, bool announced, bool *ret_reboot) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        _cleanup_close_ int pidfd = -EBADF;
        Supervisor s = {
                .config = c,
                .state = st,
                .console = PTY_FORWARD_NULL,
                .notify_fd = -EBADF,
                .sigfd = sigfd,
                .announced = announced,
                .net = &st->net,
        };
        pid_t pid;
        int r;

        *ret_reboot = false;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "Failed to create the sync socket: %m");

        fflush(stdout);
        fflush(stderr);

        pid = clone_with_flags(NAMESPACE_FLAGS|CLONE_PIDFD, st->cgroup.v2_fd, &pidfd);
        if (pid < 0)
                return log_error_errno(pid, "Failed to start the machine in new namespaces: %m");
        if (pid == 0) {
                pair[0] = safe_close(pair[0]);
                (void) close(sigfd);
                spawn_inner(c, st, pair[1]);
        }
        pair[1] = safe_close(pair[1]);
        st->leader = pid;
        spawn_state_save(c, st);

        /* Register now, or, with a network link, once it exists (its ifindex is part of
         * the registration); the payload runs only after that. */
        if (st->wait_for_go && !network_has_links(c)) {
                r = supervisor_register(&s, pid, pidfd, pair[0]);
                if (r < 0) {
                        siginfo_t si;
                        (void) pidfd_wait(pidfd, &si);
                        spawn_unregister_machine(c, &s.reg);
                        st->leader = 0;
                        return r;
                }
        }

        s.pidfd = pidfd;
        s.pid = pid;
        s.sock = pair[0];
        if (!c->notify_ready) {
                s.ready_sent = true;
                (void) notify_send("READY=1");
        }

        r = supervisor_loop(&s);
        pty_forward_done(&s.console);
        safe_close(s.notify_fd);
        spawn_unregister_machine(c, &s.reg);
        st->leader = 0;
        if (r < 0)
                return r;
        return supervisor_result(&s, ret_reboot);
}

/* Compiled here, once for every boot, and loaded by the child at the very end: compiling
 * the allow list for every ABI is the slowest part of a start, so the programs come from
 * the cache in SECCOMP_CACHE_DIR after the first start with the same filter. */
static int seccomp_prepare(const SpawnConfig *c, SpawnState *s) {
        int r;

        if (seccomp_filter_is_set(&c->oci_seccomp))
                /* compiled when the config was read */
                r = seccomp_filter_copy(&c->oci_seccomp, &s->seccomp_payload);
        else
                r = seccomp_filter_get(SECCOMP_CACHE_DIR, spawn_config_bounding_set(c), c->syscall_allow,
                                       c->syscall_deny, &s->seccomp_payload);
        /* the stub init keeps CAP_KILL only and ignores --system-call-filter= */
        if (r >= 0 && c->as_pid2)
                r = seccomp_filter_get(SECCOMP_CACHE_DIR, STUB_BOUNDING_SET, NULL, NULL, &s->seccomp_stub);
        /* small enough to compile for every start */
        if (r >= 0 && c->suppress_sync && !s->seccomp_sync)
                r = seccomp_sync_suppress_build(&s->seccomp_sync, &s->n_seccomp_sync);
        if (r < 0)
                return log_error_errno(r, "Failed to compile the system call filter: %m");
        return 0;
}

/* Which init a booted tree runs: berthd reads it from the state file to power the
 * machine off and reboot it with that init's signals. */
static int init_kind_prepare(const SpawnConfig *c, SpawnState *s) {
        _cleanup_close_ int fd = -EBADF;

        if (!c->boot) {
                s->init_kind = INIT_NONE;
                return 0;
        }
        fd = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", s->directory);
        s->init_kind = init_kind_detect(fd);
        log_debug("The machine's init is of kind '%s'.", init_kind_to_string(s->init_kind));
        return 0;
}

/* Everything the machine needs before its first start, in order; each step logs its
 * failure. What they pick and make goes into 's'. */
static int spawn_prepare(const SpawnConfig *c, SpawnState *s) {
        int r;

        spawn_reclaim_stale(c->machine);
        r = spawn_state_claim(c, s);
        if (r < 0)
                return r;
        r = image_hold_acquire(c, &s->image_hold);
        if (r < 0)
                return r;
        if (c->image)
                r = mounted_image_setup(c, &s->image, &s->directory);
        else
                r = (s->directory = strdup(c->directory)) ? 0 : log_oom();
        if (r < 0)
                return r;
        r = template_instantiate(c);
        if (r < 0)
                return r;
        r = image_hold_acquire_made(c, &s->image_hold);
        if (r < 0)
                return r;
        r = ephemeral_setup(c, s);
        if (r < 0)
                return r;
        if (c->private_users != PRIVATE_USERS_NO &&
            (s->root_overlay || c->volatile_mode == VOLATILE_YES || c->volatile_mode == VOLATILE_OVERLAY))
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "User namespaces are not supported with an overlay or tmpfs root yet "
                                       "(--ephemeral off btrfs, --volatile=yes|overlay).");
        r = userns_setup(c, s);
        if (r < 0)
                return r;
        r = userns_setup_bind_idmaps(c, s);
        if (r < 0)
                return r;
        r = link_journal_setup(c, s);
        if (r < 0)
                return r;
        r = host_network_prepare(c, &s->net);
        if (r < 0)
                return r;
        r = overlay_workdirs_create(c, s);
        if (r < 0)
                return r;
        r = seccomp_prepare(c, s);
        if (r < 0)
                return r;
        r = init_kind_prepare(c, s);
        if (r < 0)
                return r;
        s->wait_for_go = registration_wanted(c);
        spawn_state_save(c, s);
        return 0;
}

/* One boot in a fresh cgroup: nothing of the last one carries over. */
static int spawn_boot(const SpawnConfig *c, SpawnState *s, bool in_scope, int sigfd, bool announced,
                      bool *ret_reboot) {
        int r;

        *ret_reboot = false;
        r = machine_cgroup_create(c, in_scope, &s->cgroup);
        /* Recorded at once, also after a partial failure: a berth-spawn killed before the
         * next save (after the clone) left cgroups that no state file named, and that the
         * next start's reclaim could not know of. */
        if (s->cgroup.v2_path || s->cgroup.v1_paths)
                spawn_state_save(c, s);
        if (r >= 0)
                r = userns_chown_cgroup(s, s->cgroup.v2_path);
        if (r >= 0)
                r = spawn_once(c, s, sigfd, announced, ret_reboot);
        machine_cgroup_destroy(&s->cgroup);
        return r;
}

/* The init stopped for the create-time OCI hooks: the caller runs them (berth-runc). */
static int detached_run_hooks(SpawnState *st, int sock, pid_t pid, int pidfd) {
        _cleanup_close_ int state_fd = -EBADF;
        int r;

        r = st->run_hooks ? st->run_hooks(st->run_hooks_userdata, pid, pidfd, &state_fd) : 0;
        if (r < 0)
                return r;
        r = sync_send(sock, SYNC_HOOKS_DONE, 0, 0, NULL, state_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to let the container's init go on after its hooks: %m");
        return 0;
}

/* Until the child says it is created: its log lines are ours, its pty goes on to the
 * console socket, its stop for the hooks is handled. */
static int detached_wait_created(SpawnState *st, int sock, int console_socket, pid_t pid, int pidfd) {
        bool failed = false;

        for (;;) {
                SyncMessage m;
                struct pollfd p = { .fd = sock, .events = POLLIN };
                int r;

                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "Failed to wait for the container's init: %m");
                }
                r = sync_receive(sock, &m);
                if (r == -EAGAIN)
                        continue;
                if (r <= 0)
                        return failed ? -EINVAL : log_error_errno(SYNTHETIC_ERRNO(EIO), "The container's init died during set-up.");
                if (m.type == SYNC_LOG) {
                        if (m.level <= LOG_ERR)
                                failed = true;
                        log_full(m.level, "%s", m.text);
                } else if (m.type == SYNC_PTY_MASTER && m.fd >= 0) {
                        r = console_socket >= 0 ? send_one_fd(console_socket, m.fd, "/dev/ptmx") : -ENOTCONN;
                        if (r < 0) {
                                safe_close(m.fd);
                                return log_error_errno(r, "Failed to send the console to the console socket: %m");
                        }
                } else if (m.type == SYNC_HOOKS && !failed) {
                        r = detached_run_hooks(st, sock, pid, pidfd);
                        if (r < 0)
                                return r;
                } else if (m.type == SYNC_CREATED) {
                        safe_close(m.fd);
                        return failed ? -EINVAL : 0;
                }
                safe_close(m.fd);
        }
}

/* OCI: a PID namespace joined by path is entered before the clone (setns() of a PID
 * namespace applies to the children made after it); *ret_own is ours, to return to. */
static int pid_namespace_join(const SpawnConfig *c, int *ret_own) {
        _cleanup_close_ int fd = -EBADF, own = -EBADF;

        for (size_t i = 0; i < c->n_namespace_joins; i++) {
                const char *path = c->namespace_joins[i].path;

                if (c->namespace_joins[i].type != CLONE_NEWPID)
                        continue;
                own = open("/proc/self/ns/pid_for_children", O_RDONLY|O_CLOEXEC);
                fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
                if (own < 0 || fd < 0)
                        return log_error_errno(errno, "Failed to open namespace '%s': %m", path);
                if (setns(fd, CLONE_NEWPID) < 0)
                        return log_error_errno(errno, "Failed to join namespace '%s': %m", path);
                *ret_own = TAKE_FD(own);
                return 0;
        }
        return 0;
}

/* OCI without a mount namespace: the init mounts the tree on itself in ours (see
 * root_chroot()); its ID, if the mount there is new, for whoever tears the machine down. */
static void root_mount_note(const SpawnConfig *c, SpawnState *st, uint64_t before) {
        uint64_t id;

        if ((c->namespaces_shared & CLONE_NEWNS) && path_mount_id(st->directory, &id) >= 0 && id != before)
                st->root_mount_id = id;
}

pid_t spawn_create_detached(const SpawnConfig *c, SpawnState *st, int console_socket, bool sibling) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        _cleanup_close_ int pidfd = -EBADF, own_pidns = -EBADF;
        uint64_t root_before = 0;
        pid_t pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "Failed to create the sync socket: %m");
        r = seccomp_prepare(c, st);
        if (r < 0)
                return r;
        /* the namespaces go with the child; ours are closed whatever happens */
        r = userns_setup(c, st);
        if (r >= 0)
                r = userns_setup_bind_idmaps(c, st);
        if (r < 0)
                goto fail;
        r = machine_cgroup_create(c, /* in_unit= */ false, &st->cgroup);
        if (r < 0)
                goto fail;

        r = pid_namespace_join(c, &own_pidns);
        if (r < 0)
                goto fail;

        (void) path_mount_id(st->directory, &root_before);
        fflush(stdout);
        fflush(stderr);
        pid = clone_with_flags((NAMESPACE_FLAGS & ~spawn_config_namespaces_kept(c))|CLONE_PIDFD|(sibling ? CLONE_PARENT : 0),
                               st->cgroup.v2_fd, &pidfd);
        if (own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0)
                log_debug_errno(errno, "Failed to return to our own PID namespace, ignoring: %m");
        if (pid < 0) {
                r = log_error_errno(pid, "Failed to start the container's init in new namespaces: %m");
                goto fail;
        }
        if (pid == 0) {
                pair[0] = safe_close(pair[0]);
                spawn_inner(c, st, pair[1]);
        }
        pair[1] = safe_close(pair[1]);

        r = detached_wait_created(st, pair[0], console_socket, pid, pidfd);
        root_mount_note(c, st, root_before);
        userns_bind_idmaps_done(c, st);
        userns_done(st);
        if (r >= 0)
                return pid;

        /* a sibling is not ours to reap: wait until it is a zombie, so that its cgroup
         * can go */
        (void) pidfd_signal(pidfd, SIGKILL);
        if (sibling)
                (void) poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 5000);
        else
                (void) pidfd_wait(pidfd, &(siginfo_t) {});
        (void) mount_root_release(st->directory, &st->root_mount_id);
fail:
        userns_bind_idmaps_done(c, st);
        userns_done(st);
        machine_cgroup_destroy(&st->cgroup);
        return r;
}

int spawn_run(const SpawnConfig *c) {
        _cleanup_close_ int sigfd = -EBADF;
        SpawnState s;
        bool reboot = true, announced = false, in_scope = false;
        sigset_t old;
        int r;

        spawn_state_init(&s);
        r = spawn_prepare(c, &s);
        if (r >= 0) {
                /* once: reboots stay in the same scope */
                r = spawn_systemd_scope(c);
                in_scope = r > 0;
        }
        if (r >= 0)
                r = block_signals(&sigfd, &old);
        while (r >= 0 && reboot) {
                r = spawn_boot(c, &s, in_scope, sigfd, announced, &reboot);
                announced = true;
        }

        host_network_teardown(c, &s.net);
        overlay_workdirs_remove(c, &s);
        userns_bind_idmaps_done(c, &s);
        userns_done(&s);
        ephemeral_cleanup(&s.ephemeral);
        mounted_image_done(&s.image);
        image_hold_release(&s.image_hold);
        spawn_state_remove(&s);
        spawn_state_done(&s);
        return r;
}
