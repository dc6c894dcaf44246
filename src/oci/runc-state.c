/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "path-util.h"
#include "runc-state.h"
#include "string-util.h"

void container_done(Container *c) {
        free(c->id);
        free(c->dir);
        free(c->bundle);
        free(c->rootfs);
        free(c->created);
        free(c->owner);
        strv_free(c->annotations);
        free(c->cgroup);
        strv_free(c->cgroup_v1);
        *c = (Container) {};
}

bool container_id_is_valid(const char *id) {
        size_t n = strlen(id);

        return n > 0 && n <= 1024 && id[0] != '.' &&
               strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

char *container_dir(const char *root, const char *id) {
        return path_join(root, id);
}

uint64_t process_start_time(pid_t pid, bool *ret_zombie) {
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -EBADF;
        unsigned long long start = 0;
        char state;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
        fd = open(path, O_RDONLY|O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        /* the command name may hold anything, the fields start after its last ')' */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                         &state, &start) != 2)
                return 0;
        if (ret_zombie)
                *ret_zombie = state == 'Z' || state == 'X';
        return start;
}

char *timestamp_now(void) {
        struct timespec ts;
        struct tm tm;
        char buf[64], *s = NULL;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        if (asprintf(&s, "%s.%09ldZ", buf, ts.tv_nsec) < 0)
                return NULL;
        return s;
}

static const char *const status_names[] = {
        [STATUS_CREATING] = "creating",
        [STATUS_CREATED] = "created",
        [STATUS_RUNNING] = "running",
        [STATUS_PAUSED] = "paused",
        [STATUS_STOPPED] = "stopped",
};

const char *container_status_to_string(ContainerStatus s) {
        return status_names[s];
}

static bool cgroup_frozen(const char *cgroup) {
        _cleanup_free_ char *p = path_join(cgroup, "cgroup.freeze"), *v = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!p || (fd = open(p, O_RDONLY|O_CLOEXEC)) < 0 || read_full_fd(fd, 16, &v, NULL) < 0)
                return false;
        return v[0] == '1';
}

ContainerStatus container_status(const Container *c) {
        _cleanup_free_ char *fifo = NULL;
        bool zombie = false;

        if (c->pid <= 0)
                return STATUS_CREATING;
        if (process_start_time(c->pid, &zombie) != c->pid_start || zombie)
                return STATUS_STOPPED;
        fifo = path_join(c->dir, "exec.fifo");
        if (fifo && access(fifo, F_OK) >= 0)
                return STATUS_CREATED;
        if (c->cgroup && cgroup_frozen(c->cgroup))
                return STATUS_PAUSED;
        return STATUS_RUNNING;
}

static json_object *strv_to_json_map(char * const *l) {
        json_object *o = json_object_new_object();

        STRV_FOREACH(kv, l) {
                const char *eq = strchr(*kv, '=');
                _cleanup_free_ char *k = strndup(*kv, eq - *kv);

                if (k)
                        json_object_object_add(o, k, json_object_new_string(eq + 1));
        }
        return o;
}

static json_object *strv_to_json_array(char * const *l) {
        json_object *a = json_object_new_array();

        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

static json_object *state_object(const Container *c, ContainerStatus s) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "ociVersion", json_object_new_string("1.0.2"));
        json_object_object_add(o, "id", json_object_new_string(c->id));
        json_object_object_add(o, "pid", json_object_new_int(s == STATUS_STOPPED ? 0 : c->pid));
        json_object_object_add(o, "status", json_object_new_string(container_status_to_string(s)));
        json_object_object_add(o, "bundle", json_object_new_string(c->bundle));
        json_object_object_add(o, "rootfs", json_object_new_string(c->rootfs));
        json_object_object_add(o, "created", json_object_new_string(c->created));
        json_object_object_add(o, "owner", json_object_new_string(strempty(c->owner)));
        if (c->annotations)
                json_object_object_add(o, "annotations", strv_to_json_map(c->annotations));
        return o;
}

char *container_state_json(const Container *c, int flags) {
        return container_state_json_as(c, container_status(c), flags);
}

char *container_state_json_as(const Container *c, ContainerStatus status, int flags) {
        json_object *o = state_object(c, status);
        char *s = strdup(json_object_to_json_string_ext(o, flags));

        json_object_put(o);
        return s;
}

int container_save(const Container *c) {
        json_object *o = json_object_new_object(), *b = json_object_new_object();
        _cleanup_close_ int dfd = -EBADF;
        int r;

        json_object_object_add(o, "id", json_object_new_string(c->id));
        json_object_object_add(o, "pid", json_object_new_int(c->pid));
        json_object_object_add(o, "bundle", json_object_new_string(c->bundle));
        json_object_object_add(o, "rootfs", json_object_new_string(c->rootfs));
        json_object_object_add(o, "created", json_object_new_string(c->created));
        json_object_object_add(o, "owner", json_object_new_string(strempty(c->owner)));
        json_object_object_add(o, "annotations", strv_to_json_map(c->annotations));
        json_object_object_add(b, "pidStart", json_object_new_uint64(c->pid_start));
        if (c->cgroup)
                json_object_object_add(b, "cgroup", json_object_new_string(c->cgroup));
        json_object_object_add(b, "cgroupV1", strv_to_json_array(c->cgroup_v1));
        if (c->root_mount_id > 0)
                json_object_object_add(b, "rootMountId", json_object_new_uint64(c->root_mount_id));
        json_object_object_add(o, "berth", b);

        dfd = open(c->dir, O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                r = -errno;
        else
                r = write_file_atomic_at(dfd, "state.json", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), 0600);
        json_object_put(o);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/state.json: %m", c->dir);
        return 0;
}

static int get_string(json_object *o, const char *key, char **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int state_from_json(json_object *o, Container *c) {
        json_object *v, *b;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((r = get_string(o, "bundle", &c->bundle)) < 0 ||
            (r = get_string(o, "rootfs", &c->rootfs)) < 0 ||
            (r = get_string(o, "created", &c->created)) < 0 ||
            (r = get_string(o, "owner", &c->owner)) < 0)
                return r;
        if (!json_object_object_get_ex(o, "pid", &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        c->pid = json_object_get_int(v);
        if (json_object_object_get_ex(o, "annotations", &v) && json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, key, val) {
                        char *kv = strjoin(key, "=", json_object_get_string(val));
                        if (!kv || strv_push(&c->annotations, kv) < 0)
                                return -ENOMEM;
                }
        }
        if (!json_object_object_get_ex(o, "berth", &b) || !json_object_is_type(b, json_type_object))
                return -EBADMSG;
        if (json_object_object_get_ex(b, "pidStart", &v))
                c->pid_start = json_object_get_uint64(v);
        if (json_object_object_get_ex(b, "rootMountId", &v))
                c->root_mount_id = json_object_get_uint64(v);
        if (json_object_object_get_ex(b, "cgroup", &v) && !(c->cgroup = strdup(json_object_get_string(v))))
                return -ENOMEM;
        if (json_object_object_get_ex(b, "cgroupV1", &v) && json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (strv_extend(&c->cgroup_v1, json_object_get_string(json_object_array_get_idx(v, i))) < 0)
                                return -ENOMEM;
        return 0;
}

int container_load(const char *root, const char *id, Container *ret) {
        _cleanup_(container_done) Container c = {};
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        json_object *o;
        int r;

        if (!container_id_is_valid(id))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid container id '%s'", id);
        c.id = strdup(id);
        c.dir = container_dir(root, id);
        path = c.dir ? path_join(c.dir, "state.json") : NULL;
        if (!c.id || !path)
                return log_oom();
        fd = open(path, O_RDONLY|O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "container %s does not exist", id);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        r = read_full_fd(fd, 1024 * 1024, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        o = json_tokener_parse(text);
        r = state_from_json(o, &c);
        json_object_put(o);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Corrupt state file %s.", path);
        *ret = c;
        c = (Container) {};
        return 0;
}
