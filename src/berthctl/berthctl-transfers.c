/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berthctl's transfer verbs, against org.freedesktop.import1 (berth-importd, or
 * systemd-importd: the API is the same): import-*, export-*, pull-*, list-transfers,
 * cancel-transfer; pull-oci and import-oci call berth-importd's own io.berth.Import1. A verb that starts a transfer follows it until TransferRemoved: a
 * progress bar on a terminal, the worker's log lines otherwise; Ctrl-C asks whether to
 * cancel the transfer or leave it running. */

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berthctl.h"
#include "import1-bus.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

const char *arg_verify = NULL;
const char *arg_format = NULL;

typedef struct Watch {
        uint32_t id;
        const char *path;
        char *result;          /* from TransferRemoved */
        uint64_t total;        /* bytes of the input file, 0 if unknown */
        bool bar;              /* a progress bar on stderr is shown */
        uint64_t start_usec;
} Watch;

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig) {
        interrupted = 1;
}

static int on_log_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *line;
        uint32_t prio;

        const char *p = sd_bus_message_get_path(m);

        if (!w->path || !p || !streq(p, w->path))
                return 0;
        if (sd_bus_message_read(m, "us", &prio, &line) < 0)
                return 0;
        if (w->bar)
                fputs("\r\033[K", stderr);
        if (!arg_quiet || prio <= LOG_WARNING)
                fprintf(stderr, "%s\n", line);
        return 0;
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *path, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uos", &id, &path, &result) < 0 || id != w->id)
                return 0;
        w->result = strdup(result);
        return 0;
}

static void format_bytes(char *buf, size_t n, double b) {
        static const char units[] = "BKMGT";
        size_t u = 0;

        while (b >= 1024 && u < sizeof(units) - 2) {
                b /= 1024;
                u++;
        }
        snprintf(buf, n, u == 0 ? "%.0f%c" : "%.1f%c", b, units[u]);
}

/* "[=====>     ]  42%  120.3M/286.0M  31.2M/s  ETA 5s". bytes: what berth-importd says
 * was read so far (0 from systemd-importd, which does not say). Without the input's size
 * (a pull), the total is estimated from bytes and percentage. */
static void draw_bar(Watch *w, double progress, uint64_t bytes_done) {
        double secs = (double) (now_usec(CLOCK_MONOTONIC) - w->start_usec) / 1e6;
        char done[16], total[16], rate[16], eta[32] = "";
        int width = 30, filled = (int) (progress * width);
        double size = w->total > 0 ? (double) w->total :
                      bytes_done > 0 && progress >= 0.01 ? (double) bytes_done / progress : 0;

        fputs("\r\033[K[", stderr);
        for (int k = 0; k < width; k++)
                fputc(k < filled ? '=' : k == filled ? '>' : ' ', stderr);
        fprintf(stderr, "] %3.0f%%", progress * 100);
        if (size > 0 && secs > 0.2) {
                double bytes = bytes_done > 0 ? (double) bytes_done : progress * size, r = bytes / secs;

                format_bytes(done, sizeof(done), bytes);
                format_bytes(total, sizeof(total), size);
                format_bytes(rate, sizeof(rate), r);
                if (r > 0 && progress > 0 && progress < 1)
                        snprintf(eta, sizeof(eta), "  ETA %.0fs", MAX(size - bytes, 0.0) / r);
                fprintf(stderr, "  %s/%s  %s/s%s", done, total, rate, eta);
        } else if (progress > 0 && progress < 1 && secs > 1)
                fprintf(stderr, "  ETA %.0fs", secs / progress - secs);
        fflush(stderr);
}

static double get_progress(sd_bus *bus, const char *path, uint64_t *ret_bytes) {
        double d = 0;

        *ret_bytes = 0;
        (void) sd_bus_get_property_trivial(bus, IMPORT1_BUS_NAME, path, IMPORT1_TRANSFER_INTERFACE, "Progress",
                                           NULL, 'd', &d);
        (void) sd_bus_get_property_trivial(bus, IMPORT1_BUS_NAME, path, IMPORT1_TRANSFER_INTERFACE,
                                           IMPORT1_BYTES_PROPERTY, NULL, 't', ret_bytes);
        return d;
}

/* Ctrl-C: on a terminal, ask; elsewhere leave the transfer running (as machinectl does). */
static int ask_cancel(sd_bus *bus, Watch *w) {
        char answer[16] = "";

        if (w->bar)
                fputs("\r\033[K", stderr);
        if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
                fprintf(stderr, "Cancel transfer %" PRIu32 "? [y/N] ", w->id);
                if (!fgets(answer, sizeof(answer), stdin))
                        answer[0] = 0;
        }
        if (answer[0] == 'y' || answer[0] == 'Y')
                return import1_call(bus, "Could not cancel transfer", NULL, "CancelTransfer", "u", w->id);
        log_info("Transfer %" PRIu32 " continues in the background (berthctl cancel-transfer %" PRIu32 " stops it).",
                 w->id, w->id);
        return 1;
}

/* Start the transfer with interface.member(types...) and follow it until it ends. */
static int transfer_runv(sd_bus *bus, uint64_t total, const char *interface, const char *member, const char *types,
                         va_list ap) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        struct sigaction sa = { .sa_handler = on_sigint }, old;
        Watch w = { .total = total, .bar = isatty(STDERR_FILENO) && !arg_quiet, .start_usec = now_usec(CLOCK_MONOTONIC) };
        uint64_t last_draw = 0;
        int r;

        /* The matches go in before the call: no signal of a short transfer is missed. */
        r = sd_bus_match_signal(bus, &s1, IMPORT1_BUS_NAME, NULL, IMPORT1_TRANSFER_INTERFACE, "LogMessage",
                                on_log_message, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, &s2, IMPORT1_BUS_NAME, IMPORT1_MANAGER_PATH, IMPORT1_MANAGER_INTERFACE,
                                        "TransferRemoved", on_removed, &w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch transfers: %s", strerror(-r));

        r = sd_bus_message_new_method_call(bus, &m, IMPORT1_BUS_NAME, IMPORT1_MANAGER_PATH, interface, member);
        if (r >= 0)
                r = sd_bus_message_appendv(m, types, ap);
        if (r < 0)
                return log_error_errno(r, "Failed to build %s() call: %s", member, strerror(-r));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return log_error_errno(r, "Could not start the transfer: %s", bus_error_text(&error, r));
        r = sd_bus_message_read(reply, "uo", &w.id, &w.path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse %s() reply: %s", member, strerror(-r));
        if (!arg_quiet)
                fprintf(stderr, "Transfer %" PRIu32 " started. Ctrl-C to cancel it or leave it running.\n", w.id);

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, &old);
        while (!w.result) {
                if (interrupted) {
                        interrupted = 0;
                        r = ask_cancel(bus, &w);
                        if (r != 0) {
                                (void) sigaction(SIGINT, &old, NULL);
                                return r < 0 ? r : 0;
                        }
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0 && r != -EINTR)
                        break;
                if (r > 0)
                        continue;
                if (w.bar && now_usec(CLOCK_MONOTONIC) - last_draw > 250000 && !w.result) {
                        uint64_t bytes;
                        double progress = get_progress(bus, w.path, &bytes);

                        draw_bar(&w, progress, bytes);
                        last_draw = now_usec(CLOCK_MONOTONIC);
                }
                r = sd_bus_wait(bus, 250000);
                if (r < 0 && r != -EINTR)
                        break;
        }
        (void) sigaction(SIGINT, &old, NULL);
        if (w.bar)
                fputs("\r\033[K", stderr);
        if (!w.result)
                return log_error_errno(r, "Lost the bus while following transfer %" PRIu32 ": %s", w.id, strerror(-r));
        r = streq(w.result, "done") ? 0 : streq(w.result, "canceled") ? -ECANCELED : -EIO;
        if (r < 0)
                log_error("Transfer %s.", w.result);
        else if (!arg_quiet)
                fprintf(stderr, "Transfer %" PRIu32 " done.\n", w.id);
        free(w.result);
        return r;
}

static int transfer_run(sd_bus *bus, uint64_t total, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = transfer_runv(bus, total, IMPORT1_MANAGER_INTERFACE, member, types, ap);
        va_end(ap);
        return r;
}

/* berth's OCI methods, on its own interface of the same object. */
static int transfer_run_berth(sd_bus *bus, uint64_t total, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = transfer_runv(bus, total, BERTH_IMPORT1_INTERFACE, member, types, ap);
        va_end(ap);
        return r;
}

static uint64_t file_size(int fd) {
        struct stat st;

        return fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0;
}

/* The local name a file or URL suggests, as machinectl does: its basename without image
 * and compression suffixes. */
static char *name_from(const char *s) {
        static const char *const suffixes[] = { ".xz", ".gz", ".bz2", ".zst", ".tar", ".raw", ".img", ".qcow2" };
        const char *q = strpbrk(s, "?#");
        _cleanup_free_ char *t = strndup(s, q ? (size_t) (q - s) : strlen(s));
        char *n = t ? path_basename(t) : NULL;
        bool again = true;

        while (n && again) {
                again = false;
                for (size_t k = 0; k < ELEMENTSOF(suffixes); k++)
                        if (endswith(n, suffixes[k]) && strlen(n) > strlen(suffixes[k])) {
                                n[strlen(n) - strlen(suffixes[k])] = 0;
                                again = true;
                        }
        }
        return n;
}

int verb_import(sd_bus *bus, int argc, char **argv) {
        bool fs = streq(argv[0], "import-fs");
        const char *member = fs ? "ImportFileSystem" : streq(argv[0], "import-tar") ? "ImportTar" : "ImportRaw";
        _cleanup_free_ char *derived = NULL;
        const char *file = argc > 1 && !streq(argv[1], "-") ? argv[1] : NULL, *local = argc > 2 ? argv[2] : NULL;
        int fd = STDIN_FILENO, r;

        if (!local) {
                if (!file)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Reading from stdin needs a local name.");
                derived = name_from(file);
                if (!derived)
                        return log_oom();
                local = derived;
        }
        if (file) {
                fd = open(file, (fs ? O_DIRECTORY : 0)|O_RDONLY|O_CLOEXEC|O_NOCTTY);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to open %s: %s", file, strerror(errno));
        }
        r = transfer_run(bus, fs ? 0 : file_size(fd), member, "hsbb", fd, local, arg_force, arg_read_only);
        if (fd != STDIN_FILENO)
                close(fd);
        return r;
}

static const char *format_from(const char *file) {
        if (arg_format)
                return arg_format;
        if (!file)
                return "";
        if (endswith(file, ".xz"))
                return "xz";
        if (endswith(file, ".gz"))
                return "gzip";
        if (endswith(file, ".bz2"))
                return "bzip2";
        if (endswith(file, ".zst"))
                return "zstd";
        return "";
}

int verb_export(sd_bus *bus, int argc, char **argv) {
        const char *member = streq(argv[0], "export-tar") ? "ExportTar" : "ExportRaw";
        const char *file = argc > 2 && !streq(argv[2], "-") ? argv[2] : NULL;
        int fd = STDOUT_FILENO, r;

        if (file) {
                fd = open(file, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC|O_NOCTTY, 0644);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create %s: %s", file, strerror(errno));
        } else if (isatty(STDOUT_FILENO))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Refusing to write an image to a terminal; give a file.");
        r = transfer_run(bus, 0, member, "shs", argv[1], fd, format_from(file));
        if (fd != STDOUT_FILENO)
                close(fd);
        return r;
}

int verb_pull(sd_bus *bus, int argc, char **argv) {
        const char *member = streq(argv[0], "pull-tar") ? "PullTar" : "PullRaw";
        _cleanup_free_ char *derived = NULL;
        const char *local = argc > 2 ? argv[2] : NULL;

        if (!startswith(argv[1], "http://") && !startswith(argv[1], "https://"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "URL %s is not an http:// or https:// URL.", argv[1]);
        if (!local) {
                derived = name_from(argv[1]);
                if (!derived)
                        return log_oom();
                local = derived;
        }
        return transfer_run(bus, 0, member, "sssb", argv[1], local, arg_verify ?: "signature", arg_force);
}

/* The image name a reference suggests: REPO's last component, without tag or digest. */
static char *name_from_reference(const char *ref) {
        _cleanup_free_ char *s = strndup(ref, strcspn(ref, "@"));
        char *last = s ? strrchr(s, '/') : NULL;

        if (!s)
                return NULL;
        last = last ? last + 1 : s;
        last[strcspn(last, ":")] = 0;
        return strdup(last);
}

int verb_pull_oci(sd_bus *bus, int argc, char **argv) {
        _cleanup_free_ char *derived = NULL;
        const char *local = argc > 2 ? argv[2] : NULL;

        if (!local) {
                derived = name_from_reference(argv[1]);
                if (!derived)
                        return log_oom();
                local = derived;
        }
        return transfer_run_berth(bus, 0, "PullOci", "ssbb", argv[1], local, arg_force, arg_read_only);
}

/* A directory (an OCI image layout) or a file (its tar archive, or a docker save). */
int verb_import_oci(sd_bus *bus, int argc, char **argv) {
        _cleanup_free_ char *derived = NULL;
        const char *local = argc > 2 ? argv[2] : NULL;
        int fd, r;

        if (!local) {
                derived = name_from(argv[1]);
                if (!derived)
                        return log_oom();
                local = derived;
        }
        fd = open(argv[1], O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %s", argv[1], strerror(errno));
        r = transfer_run_berth(bus, file_size(fd), "ImportOci", "hsbb", fd, local, arg_force, arg_read_only);
        close(fd);
        return r;
}

int verb_list_transfers(sd_bus *bus, int argc, char **argv) {
        static const char * const columns[] = { "id", "progress", "type", "local", "remote" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t = table_new(columns, ELEMENTSOF(columns));
        const char *type, *remote, *local;
        char id_s[16], pct[16];
        uint32_t id;
        double progress;
        int r;

        if (!t)
                return log_oom();
        table_set_align_right(t, 0);
        table_set_align_right(t, 1);
        r = import1_call(bus, "Could not get transfers", &reply, "ListTransfers", NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(usssdo)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(usssdo)", &id, &type, &remote, &local, &progress, NULL)) > 0) {
                snprintf(id_s, sizeof(id_s), "%" PRIu32, id);
                snprintf(pct, sizeof(pct), "%.0f%%", progress * 100);
                r = table_add_string(t, id_s);
                r = r ?: table_add_string(t, pct);
                r = r ?: table_add_string(t, type);
                r = r ?: table_add_string(t, local);
                r = r ?: table_add_string(t, remote);
                if (r < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListTransfers() reply: %s", strerror(-r));
        return show_table(t, "transfers");
}

int verb_cancel_transfer(sd_bus *bus, int argc, char **argv) {
        for (int k = 1; k < argc; k++) {
                char *end;
                unsigned long id = strtoul(argv[k], &end, 10);
                int r;

                if (*end || id == 0 || id > UINT32_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid transfer id: %s", argv[k]);
                r = import1_call(bus, "Could not cancel transfer", NULL, "CancelTransfer", "u", (uint32_t) id);
                if (r < 0)
                        return r;
        }
        return 0;
}
