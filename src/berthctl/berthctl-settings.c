/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cat and edit: a machine's settings file (NAME.nspawn, berth.nspawn(5)), found where
 * berth-spawn looks for it (src/shared/settings-path.h): the trusted directories, then
 * next to the machine's image in the pool. These are files of this host, so not with -H. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berthctl.h"
#include "fd-util.h"
#include "log.h"
#include "machine-name.h"
#include "machine1-bus.h"
#include "path-util.h"
#include "settings-path.h"
#include "string-util.h"

#define SETTINGS_FILE_MAX (1024U * 1024U)

/* The image's path as berthd knows it; NULL (no error) when there is no such image. */
static char *image_path_of(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *object;
        char *path = NULL;

        if (!bus ||
            sd_bus_call_method(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, MACHINE1_MANAGER_INTERFACE,
                               "GetImage", &error, &reply, "s", name) < 0 ||
            sd_bus_message_read(reply, "o", &object) < 0 ||
            sd_bus_get_property_string(bus, MACHINE1_BUS_NAME, object, MACHINE1_IMAGE_INTERFACE, "Path",
                                       &error, &path) < 0)
                return NULL;
        return path;
}

/* The settings file berth-spawn -M NAME would read: 1 and its path, or 0 if there is none. */
static int settings_find(sd_bus *bus, const char *name, char **ret) {
        _cleanup_free_ char *fn = strjoin(name, ".nspawn"), *image = NULL;

        if (!fn)
                return log_oom();
        for (size_t i = 0; i < settings_n_trusted_dirs; i++) {
                _cleanup_free_ char *p = path_join(settings_trusted_dirs[i], fn);

                if (!p)
                        return log_oom();
                if (access(p, F_OK) >= 0) {
                        *ret = TAKE_PTR(p);
                        return 1;
                }
        }
        image = image_path_of(bus, name);
        if (image) {
                _cleanup_free_ char *p = settings_file_next_to(image, fn);

                if (!p)
                        return log_oom();
                if (access(p, F_OK) >= 0) {
                        *ret = TAKE_PTR(p);
                        return 1;
                }
        }
        return 0;
}

static int read_settings(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return log_error_errno(SYNTHETIC_ERRNO(EBADF), "%s is not a regular file.", path);
        return read_full_fd(fd, SETTINGS_FILE_MAX, ret, ret_size);
}

static int check_local(const char *verb, const char *name) {
        if (arg_remote)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "%s works on this host's settings files, not with -H or -M.", verb);
        if (!machine_name_is_valid(name))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name %s.", name);
        return 0;
}

int verb_cat(sd_bus *bus, int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *path = NULL, *data = NULL;
                size_t size = 0;
                int r;

                r = check_local("cat", argv[i]);
                if (r < 0)
                        return r;
                r = settings_find(bus, argv[i], &path);
                if (r < 0)
                        return r;
                if (r == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "No settings file found for machine '%s'.",
                                               argv[i]);
                r = read_settings(path, &data, &size);
                if (r < 0)
                        return r;
                fprintf(out, "%s# %s\n", i > 1 ? "\n" : "", path);
                fwrite(data, 1, size, out);
                if (size > 0 && data[size - 1] != '\n')
                        fputc('\n', out);
        }
        return 0;
}

/* $SYSTEMD_EDITOR, $EDITOR, $VISUAL (words, as systemctl edit splits them), then the
 * usual editors. Returns the editor's exit status, or a negative errno. */
static int run_editor(const char *file) {
        static const char *const vars[] = { "SYSTEMD_EDITOR", "EDITOR", "VISUAL" };
        static const char *const fallbacks[] = { "editor", "nano", "vim", "vi" };
        pid_t pid;
        int status;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                        const char *e = getenv(vars[i]);
                        char *words[64];
                        size_t n = 0;
                        char *copy, *save = NULL;

                        if (isempty(e) || !(copy = strdup(e)))
                                continue;
                        for (char *w = strtok_r(copy, " \t", &save); w && n < ELEMENTSOF(words) - 2;
                             w = strtok_r(NULL, " \t", &save))
                                words[n++] = w;
                        words[n++] = (char *) file;
                        words[n] = NULL;
                        execvp(words[0], words);
                }
                for (size_t i = 0; i < ELEMENTSOF(fallbacks); i++)
                        execlp(fallbacks[i], fallbacks[i], file, (char *) NULL);
                log_error("Cannot edit %s: no editor found ($SYSTEMD_EDITOR, $EDITOR, $VISUAL, editor, nano, vim, vi).",
                          file);
                _exit(EXIT_FAILURE);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Edit a copy; only an editor that ends well replaces the file (atomically). A file found
 * elsewhere (in /run, next to the image) is copied to /etc/berth first, where it takes
 * precedence and survives; without any, the copy starts empty. */
int verb_edit(sd_bus *bus, int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *found = NULL, *target = NULL, *tmp = NULL, *data = NULL;
                _cleanup_close_ int fd = -EBADF;
                size_t size = 0;
                int r;

                r = check_local("edit", argv[i]);
                if (r < 0)
                        return r;
                r = settings_find(bus, argv[i], &found);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = read_settings(found, &data, &size);
                        if (r < 0)
                                return r;
                }
                target = strjoin(SETTINGS_EDIT_DIR "/", argv[i], ".nspawn");
                tmp = strjoin(SETTINGS_EDIT_DIR "/.#", argv[i], ".nspawnXXXXXX");
                if (!target || !tmp)
                        return log_oom();
                if (mkdir(SETTINGS_EDIT_DIR, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create " SETTINGS_EDIT_DIR ": %s", strerror(errno));
                fd = mkostemp(tmp, O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create a file in " SETTINGS_EDIT_DIR ": %s",
                                               strerror(errno));
                r = loop_write(fd, data ?: "", size);
                if (r >= 0 && fchmod(fd, 0644) < 0)
                        r = -errno;
                fd = safe_close(fd);
                if (r >= 0) {
                        r = run_editor(tmp);
                        if (r > 0)
                                r = log_error_errno(SYNTHETIC_ERRNO(ECANCELED),
                                                    "The editor failed (status %i); %s is unchanged.", r, target);
                        else if (r < 0)
                                log_error_errno(r, "Failed to run an editor: %s", strerror(-r));
                }
                if (r >= 0 && rename(tmp, target) < 0)
                        r = log_error_errno(errno, "Failed to replace %s: %s", target, strerror(errno));
                if (r < 0) {
                        (void) unlink(tmp);
                        return r;
                }
                if (found && !streq(found, target))
                        log_info("Copied %s to %s, which takes precedence.", found, target);
        }
        return 0;
}
