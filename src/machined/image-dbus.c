/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "image-dbus.h"
#include "image-info.h"
#include "log.h"
#include "machine-dbus.h"
#include "manager.h"
#include "operation.h"
#include "string-util.h"

#define PRIVILEGED_WHAT "change images"

void manager_flush_image_cache(Manager *m) {
        image_list_free(m->image_cache, m->n_image_cache);
        m->image_cache = NULL;
        m->n_image_cache = 0;
}

static int on_image_cache_flush(sd_event_source *s, void *userdata) {
        manager_flush_image_cache(userdata);
        return 0;
}

/* Keep an image for the rest of this event loop iteration: sd-bus uses the object
 * find result after image_object_find() returns. */
static int image_cache_add(Manager *m, Image *i) {
        Image **l = reallocarray(m->image_cache, m->n_image_cache + 1, sizeof(Image *));
        int r;

        if (!l) {
                image_free(i);
                return -ENOMEM;
        }
        l[m->n_image_cache++] = i;
        m->image_cache = l;

        if (!m->image_cache_flush) {
                r = sd_event_add_defer(m->event, &m->image_cache_flush, on_image_cache_flush, m);
                if (r < 0)
                        return r;
        }
        return sd_event_source_set_enabled(m->image_cache_flush, SD_EVENT_ONESHOT);
}

int image_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                      void **found, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Manager *m = userdata;
        Image *i;
        int r;

        r = sd_bus_path_decode(path, IMAGE_OBJECT_PREFIX, &name);
        if (r <= 0 || !image_name_is_valid(name))
                return 0;
        r = image_find(&m->pool, name, &i);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = image_cache_add(m, i);
        if (r < 0)
                return r;
        *found = i;
        return 1;
}

int image_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;
        int r;

        r = image_listing_update(&m->image_listing, &m->pool);
        if (r < 0)
                return r;
        l = strv_copy(m->image_listing.bus_paths);
        if (!l)
                return -ENOMEM;
        *nodes = l;
        return 1;
}

/* Read an image name argument and find it, or fail the call. *ret must be freed. */
static int read_image(sd_bus_message *message, Manager *m, Image **ret, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!image_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid image name (a machine name, optionally with one leading '.').");
        r = image_find(&m->pool, name, ret);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known.", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image '%s': %m", name);
        return 0;
}

static int read_new_name(sd_bus_message *message, Manager *m, const char **ret, sd_bus_error *error) {
        _cleanup_(image_freep) Image *other = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!image_name_is_valid(name) || streq(name, ".host"))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid new image name (a machine name, optionally with one leading '.', "
                                        "not .host).");
        r = image_find(&m->pool, name, &other);
        if (r >= 0)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_EXISTS, "Image '%s' already exists.", name);
        if (r != -ENOENT)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image '%s': %m", name);
        *ret = name;
        return 0;
}

/* The rules for anything that changes an image. */
static int check_writable(const Image *i, const char *verb, sd_bus_error *error) {
        if (image_is_host(i))
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_READ_ONLY, "The host image cannot be %s.", verb);
        if (!i->in_pool)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_READ_ONLY,
                                         "Image '%s' is in a read-only search path (%s), not in the pool.",
                                         i->name, i->path);
        return 0;
}

static int check_not_read_only(const Image *i, const char *verb, sd_bus_error *error) {
        if (i->read_only)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_READ_ONLY,
                                         "Image '%s' is read-only and cannot be %s; mark it writable first.",
                                         i->name, verb);
        return 0;
}

/* A registered machine running from this image (its root directory is the image's tree). */
static Machine *image_registered_user(Manager *m, const Image *i) {
        struct stat a, b;

        if (i->type == IMAGE_RAW || stat(i->path, &a) < 0)
                return NULL;
        for (Machine *machine = m->machines; machine; machine = machine->next) {
                const char *root = machine->info.root_directory;

                if (machine_is_host(machine) || isempty(root))
                        continue;
                if (streq(root, i->path) ||
                    (stat(root, &b) >= 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
                        return machine;
        }
        return NULL;
}

/* Take the image's exclusive lock (image_path_lock()). Every running machine holds it shared
 * for as long as it runs from the image: berth-spawn and systemd-nspawn, registered or not,
 * from a tree or a raw image, and for --ephemeral and --template the original. The registry
 * is asked too, for machines that registered a RootDirectory= without taking the lock.
 * Holding the lock keeps new machines off the image until the change is done. error may be
 * NULL. */
static int image_lock_unused(Manager *m, const Image *i, const char *verb, LockFile *ret, sd_bus_error *error) {
        Machine *machine;
        int r;

        r = image_path_lock(i->path, LOCK_EX|LOCK_NB, ret);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_IN_USE,
                                         "Image '%s' is being used by a running machine and cannot be %s.",
                                         i->name, verb);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to lock image '%s': %m", i->name);
        machine = image_registered_user(m, i);
        if (machine) {
                lock_file_release(ret);
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_IN_USE,
                                         "Image '%s' is being used by machine '%s' and cannot be %s.",
                                         i->name, machine->info.name, verb);
        }
        return 0;
}

/* Under the image's name lock, look it up again (it may have changed since the call's
 * lookup), check that it may be changed now, and take its exclusive lock. */
static int image_relookup_changeable(Manager *m, const Image *i, const char *verb, Image **ret, LockFile *ret_lock,
                                     sd_bus_error *error) {
        _cleanup_(image_freep) Image *locked = NULL;
        int r;

        r = image_find(&m->pool, i->name, &locked);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known.", i->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image '%s': %m", i->name);
        r = check_writable(locked, verb, error);
        if (r < 0)
                return r;
        r = check_not_read_only(locked, verb, error);
        if (r < 0)
                return r;
        r = image_lock_unused(m, locked, verb, ret_lock, error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(locked);
        return 0;
}

static int lock_image(Manager *m, const char *name, int operation, LockFile *ret, sd_bus_error *error) {
        int r;

        r = image_name_lock(&m->pool, name, operation, ret);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY,
                                         "Image '%s' is busy: another clone, rename or removal of it is in "
                                         "progress. Try again later.", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to lock image '%s': %m", name);
        return 0;
}

/* The start of every method that changes one image: the caller may (polkit), the image
 * can be changed, and we hold its lock. 0: polkit is being asked, the method runs again
 * with its answer; 1: go ahead. */
static int image_begin_change(Manager *m, sd_bus_message *message, const Image *i, const char *verb,
                              LockFile *ret_lock, sd_bus_error *error) {
        int r;

        r = bus_check_privileged_for(m, message, POLKIT_ACTION_MANAGE_IMAGES, PRIVILEGED_WHAT, error);
        if (r <= 0)
                return r;
        r = check_writable(i, verb, error);
        if (r < 0)
                return r;
        r = lock_image(m, i->name, LOCK_EX, ret_lock, error);
        return r < 0 ? r : 1;
}

static int check_operation_slots(Manager *m, sd_bus_error *error) {
        if (m->n_operations >= OPERATIONS_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many image operations in progress (%u).", OPERATIONS_MAX);
        return 0;
}

/* --- Remove */

typedef struct RemoveJob {
        const ImagePool *pool;
        const Image *image;
} RemoveJob;

static int remove_work(void *userdata, char *msg, size_t msg_size) {
        RemoveJob *j = userdata;
        int r;

        r = image_remove(j->pool, j->image);
        if (r < 0)
                snprintf(msg, msg_size, "Failed to remove image '%s': %s", j->image->name, strerror(-r));
        return r;
}

static int image_method_remove(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_(image_freep) Image *locked = NULL;
        _cleanup_(lock_file_pair_release) LockFile locks[2] = { LOCK_FILE_NULL, LOCK_FILE_NULL };
        _cleanup_free_ char *desc = NULL;
        int r;

        r = image_begin_change(m, message, i, "removed", &locks[0], error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = check_operation_slots(m, error);
        if (r < 0)
                return r;
        /* Under the lock, look again: the image may have changed since the lookup. */
        r = image_relookup_changeable(m, i, "removed", &locked, &locks[1], error);
        if (r < 0)
                return r;

        if (asprintf(&desc, "removal of image '%s'", locked->name) < 0)
                return -ENOMEM;
        RemoveJob job = { &m->pool, locked };
        r = operation_start(m, message, desc, NULL, locks, remove_work, &job);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start removing image '%s': %m", locked->name);
        return 1;
}

/* --- Rename */

static int image_method_rename(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_(image_freep) Image *locked = NULL;
        _cleanup_(lock_file_release) LockFile old_name = LOCK_FILE_NULL, new_name_lock = LOCK_FILE_NULL,
                in_use = LOCK_FILE_NULL;
        const char *new_name;
        int r;

        r = read_new_name(message, m, &new_name, error);
        if (r < 0)
                return r;
        r = image_begin_change(m, message, i, "renamed", &old_name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = lock_image(m, new_name, LOCK_EX, &new_name_lock, error);
        if (r < 0)
                return r;
        r = image_relookup_changeable(m, i, "renamed", &locked, &in_use, error);
        if (r < 0)
                return r;

        r = image_rename(&m->pool, locked, new_name);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_EXISTS, "Image '%s' already exists.", new_name);
        if (r == -EPERM)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_READ_ONLY,
                                         "Image '%s' cannot be renamed: it is immutable.", locked->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to rename image '%s' to '%s': %m",
                                               locked->name, new_name);
        manager_images_changed(m);
        log_info("Renamed image '%s' to '%s'.", locked->name, new_name);
        return sd_bus_reply_method_return(message, NULL);
}

/* --- Clone */

typedef struct CloneJob {
        const ImagePool *pool;
        const Image *source;
        const char *dest;
        const char *tmp_name;
        bool read_only;
} CloneJob;

static int clone_work(void *userdata, char *msg, size_t msg_size) {
        CloneJob *j = userdata;

        return image_clone(j->pool, j->source, j->dest, j->tmp_name, j->read_only, msg, msg_size);
}

static int image_method_clone(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_(lock_file_pair_release) LockFile locks[2] = { LOCK_FILE_NULL, LOCK_FILE_NULL };
        _cleanup_free_ char *tmp = NULL, *desc = NULL;
        const char *new_name;
        int read_only, r;

        r = read_new_name(message, m, &new_name, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "b", &read_only);
        if (r < 0)
                return r;
        r = bus_check_privileged_for(m, message, POLKIT_ACTION_MANAGE_IMAGES, PRIVILEGED_WHAT, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */
        if (image_is_host(i))
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Cloning the host is not supported.");
        r = check_operation_slots(m, error);
        if (r < 0)
                return r;
        /* Concurrent clones of one source are fine; renaming or removing it meanwhile is not. */
        r = lock_image(m, i->name, LOCK_SH, &locks[0], error);
        if (r < 0)
                return r;
        r = lock_image(m, new_name, LOCK_EX, &locks[1], error);
        if (r < 0)
                return r;

        if (mkdir(m->pool.path, 0700) < 0 && errno != EEXIST)
                return sd_bus_error_set_errnof(error, errno, "Failed to create pool %s: %m", m->pool.path);
        r = image_tmp_name(new_name, &tmp);
        if (r < 0)
                return r;
        if (asprintf(&desc, "clone of image '%s' to '%s'", i->name, new_name) < 0)
                return -ENOMEM;

        CloneJob job = { &m->pool, i, new_name, tmp, read_only };
        r = operation_start(m, message, desc, tmp, locks, clone_work, &job);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start cloning image '%s': %m", i->name);
        return 1;
}

/* --- MarkReadOnly, GetOSRelease, SetLimit */

static int image_method_mark_read_only(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_(lock_file_release) LockFile lock = LOCK_FILE_NULL, in_use = LOCK_FILE_NULL;
        int b, r;

        r = sd_bus_message_read(message, "b", &b);
        if (r < 0)
                return r;
        r = image_begin_change(m, message, i, "changed", &lock, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* A machine's file system would change under it (and nspawn refuses too). */
        r = image_lock_unused(m, i, b ? "marked read-only" : "marked writable", &in_use, error);
        if (r < 0)
                return r;
        r = image_set_read_only(i, b);
        if (r == -EOPNOTSUPP || r == -ENOTTY)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' cannot be marked read-only on this file system.", i->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to mark image '%s' %s: %m", i->name,
                                               b ? "read-only" : "writable");
        manager_images_changed(m);
        log_info("Marked image '%s' %s.", i->name, b ? "read-only" : "writable");
        return sd_bus_reply_method_return(message, NULL);
}

static int image_os_release_worker(void *userdata, int out_fd) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = image_read_os_release(userdata, &l);
        if (r < 0)
                return r;
        return strv_write_nul(out_fd, l);
}

/* In a worker: the image may sit on a file system that never answers (bus-worker.h). */
static int image_method_get_os_release(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_free_ char *subject = NULL;

        if (i->type != IMAGE_RAW && i->type != IMAGE_DIRECTORY && i->type != IMAGE_SUBVOLUME)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Reading OS release information of %s images is not supported.",
                                         image_type_to_string(i->type));
        if (asprintf(&subject, "image '%s'", i->name) < 0)
                return -ENOMEM;
        return bus_worker_start_os_release(m, message, image_os_release_worker, i, NULL,
                                           &(BusWorkerSubject) { .subject = subject, .name = i->name }, error);
}

static int reply_limit_error(int r, const char *what, sd_bus_error *error) {
        if (r == -ENOTCONN)
                return sd_bus_error_setf(error, BUS_ERROR_QUOTAS_DISABLED,
                                         "btrfs quotas are not enabled on the file system of %s; berthd never "
                                         "enables them implicitly (see 'btrfs quota enable').", what);
        if (r == -ENOTTY || r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Size limits need a btrfs subvolume; %s is not one.", what);
        return sd_bus_error_set_errnof(error, r, "Failed to set the size limit of %s: %m", what);
}

static int image_method_set_limit(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        _cleanup_(lock_file_release) LockFile lock = LOCK_FILE_NULL;
        uint64_t limit;
        int r;

        r = sd_bus_message_read(message, "t", &limit);
        if (r < 0)
                return r;
        r = image_begin_change(m, message, i, "changed", &lock, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_set_limit(i, limit);
        if (r < 0) {
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "image '%s'", i->name) < 0)
                        return -ENOMEM;
                return reply_limit_error(r, what, error);
        }
        manager_images_changed(m);
        return sd_bus_reply_method_return(message, NULL);
}

/* --- the Image object */

static Manager *manager_of_message(sd_bus_message *message) {
        /* The Image object's userdata is the image; the manager is the bus's owner. */
        return sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(message)));
}

#define DEFINE_IMAGE_METHOD(name, func)                                                                 \
        static int name(sd_bus_message *message, void *userdata, sd_bus_error *error) {                 \
                return func(message, manager_of_message(message), userdata, error);                    \
        }                                                                                               \
        int bus_##name##_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error) {       \
                _cleanup_(image_freep) Image *i = NULL;                                                 \
                int r = read_image(message, userdata, &i, error);                                       \
                if (r < 0)                                                                              \
                        return r;                                                                       \
                return func(message, userdata, i, error);                                               \
        }

DEFINE_IMAGE_METHOD(method_remove, image_method_remove)
DEFINE_IMAGE_METHOD(method_rename, image_method_rename)
DEFINE_IMAGE_METHOD(method_clone, image_method_clone)
DEFINE_IMAGE_METHOD(method_mark_read_only, image_method_mark_read_only)
DEFINE_IMAGE_METHOD(method_get_os_release, image_method_get_os_release)
DEFINE_IMAGE_METHOD(method_set_limit, image_method_set_limit)
DEFINE_IMAGE_METHOD(method_get_hostname, image_method_get_hostname)
DEFINE_IMAGE_METHOD(method_get_machine_id, image_method_get_machine_id)
DEFINE_IMAGE_METHOD(method_get_machine_info, image_method_get_machine_info)

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Image *i = userdata;

        if (streq(property, "Name"))
                return sd_bus_message_append(reply, "s", i->name);
        if (streq(property, "Path"))
                return sd_bus_message_append(reply, "s", i->path);
        return sd_bus_message_append(reply, "s", image_type_to_string(i->type));
}

static int property_get_read_only(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Image *i = userdata;

        return sd_bus_message_append(reply, "b", i->read_only);
}

static int property_get_u64(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Image *i = userdata;
        uint64_t v;

        if (streq(property, "CreationTimestamp"))
                v = i->crtime;
        else if (streq(property, "ModificationTimestamp"))
                v = i->mtime;
        else if (streq(property, "Usage"))
                v = i->usage;
        else if (streq(property, "Limit"))
                v = i->limit;
        else
                v = UINT64_MAX;   /* the exclusive variants: not tracked */
        return sd_bus_message_append(reply, "t", v);
}

const sd_bus_vtable image_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_string, 0, 0),
        SD_BUS_PROPERTY("Path", "s", property_get_string, 0, 0),
        SD_BUS_PROPERTY("Type", "s", property_get_string, 0, 0),
        SD_BUS_PROPERTY("ReadOnly", "b", property_get_read_only, 0, 0),
        SD_BUS_PROPERTY("CreationTimestamp", "t", property_get_u64, 0, 0),
        SD_BUS_PROPERTY("ModificationTimestamp", "t", property_get_u64, 0, 0),
        SD_BUS_PROPERTY("Usage", "t", property_get_u64, 0, 0),
        SD_BUS_PROPERTY("Limit", "t", property_get_u64, 0, 0),
        SD_BUS_PROPERTY("UsageExclusive", "t", property_get_u64, 0, 0),
        SD_BUS_PROPERTY("LimitExclusive", "t", property_get_u64, 0, 0),
        SD_BUS_METHOD("Remove", NULL, NULL, method_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Rename",
                                SD_BUS_ARGS("s", new_name),
                                SD_BUS_NO_RESULT,
                                method_rename, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Clone",
                                SD_BUS_ARGS("s", new_name, "b", read_only),
                                SD_BUS_NO_RESULT,
                                method_clone, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkReadOnly",
                                SD_BUS_ARGS("b", read_only),
                                SD_BUS_NO_RESULT,
                                method_mark_read_only, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetOSRelease",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{ss}", fields),
                                method_get_os_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHostname",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", hostname),
                                method_get_hostname, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineID",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("ay", id),
                                method_get_machine_id, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineInfo",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{ss}", machine_info),
                                method_get_machine_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetLimit",
                                SD_BUS_ARGS("t", limit),
                                SD_BUS_NO_RESULT,
                                method_set_limit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* --- the Manager's image methods */

void manager_images_changed(Manager *m) {
        image_listing_invalidate(&m->image_listing);
}

static int reply_list_images(Manager *m, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        ImageListing *l = &m->image_listing;
        int r;

        r = image_listing_update(l, &m->pool);
        if (r < 0)
                return sd_bus_reply_method_errnof(message, r, "Failed to list images in %s: %m", m->pool.path);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssbttto)");
        for (size_t k = 0; r >= 0 && k < l->n; k++) {
                const Image *i = l->images[k];

                r = sd_bus_message_append(reply, "(ssbttto)", i->name, image_type_to_string(i->type),
                                          i->read_only, i->crtime, i->mtime, i->usage, l->bus_paths[k]);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef struct DeferredCall {
        Manager *manager;
        sd_bus_message *message;
        sd_event_source *timer;
        uid_t uid;
        struct DeferredCall *next, **prev;
} DeferredCall;

static DeferredCall *deferred_call_free(DeferredCall *d) {
        if (!d)
                return NULL;
        *d->prev = d->next;
        if (d->next)
                d->next->prev = d->prev;
        caller_limit_release(&d->manager->list_limit, d->uid);
        sd_event_source_disable_unref(d->timer);
        sd_bus_message_unref(d->message);
        free(d);
        return NULL;
}

void deferred_calls_free(Manager *m) {
        while (m->deferred_calls)
                deferred_call_free(m->deferred_calls);
}

static int on_deferred_call(sd_event_source *s, uint64_t usec, void *userdata) {
        DeferredCall *d = userdata;
        int r;

        r = reply_list_images(d->manager, d->message);
        if (r < 0)
                log_debug_errno(r, "Failed to answer a deferred ListImages call, ignoring: %m");
        deferred_call_free(d);
        return 0;
}

static int defer_call(Manager *m, sd_bus_message *message, uid_t uid, uint64_t delay_usec) {
        DeferredCall *d;
        uint64_t now;
        int r;

        d = calloc(1, sizeof(DeferredCall));
        if (!d) {
                caller_limit_release(&m->list_limit, uid);
                return -ENOMEM;
        }
        *d = (DeferredCall) { .manager = m, .message = sd_bus_message_ref(message), .uid = uid };
        d->next = m->deferred_calls;
        if (d->next)
                d->next->prev = &d->next;
        d->prev = &m->deferred_calls;
        m->deferred_calls = d;

        r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(m->event, &d->timer, CLOCK_MONOTONIC, now + delay_usec, 0,
                                      on_deferred_call, d);
        if (r < 0) {
                deferred_call_free(d);
                return r;
        }
        return 1;
}

/* The answer is the same for everyone; only how soon differs. Unprivileged callers are
 * limited per UID (see LIST_IMAGES_RATE), so a flood waits, not root. */
int bus_method_list_images(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        Manager *m = userdata;
        uint64_t now, delay;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid != 0) {
                r = sd_event_now(m->event, CLOCK_MONOTONIC, &now);
                if (r < 0)
                        return r;
                r = caller_limit_admit(&m->list_limit, uid, now, &delay);
                if (r == -EBUSY)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                 "Too many ListImages calls of UID %u waiting; try again later.",
                                                 (unsigned) uid);
                if (r < 0)
                        return r;
                if (r > 0)
                        return defer_call(m, message, uid, delay);
        }
        return reply_list_images(m, message);
}

int bus_method_get_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *p = NULL;
        int r;

        r = read_image(message, userdata, &i, error);
        if (r < 0)
                return r;
        p = machine1_image_path(i->name);
        if (!p)
                return -ENOMEM;
        return sd_bus_reply_method_return(message, "o", p);
}

int bus_method_set_pool_limit(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_close_ int fd = -EBADF;
        uint64_t limit;
        int r;

        r = sd_bus_message_read(message, "t", &limit);
        if (r < 0)
                return r;
        r = bus_check_privileged_for(m, message, POLKIT_ACTION_MANAGE_IMAGES, PRIVILEGED_WHAT, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */
        fd = open(m->pool.path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return sd_bus_error_set_errnof(error, errno, "Failed to open pool %s: %m", m->pool.path);
        r = btrfs_qgroup_set_limit_fd(fd, limit);
        if (r < 0)
                return reply_limit_error(r, "the pool", error);
        log_info("Set the pool's size limit to %" PRIu64 " bytes.", limit);
        return sd_bus_reply_method_return(message, NULL);
}

int bus_method_clean_pool(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        const char *mode;
        Image **images;
        size_t n;
        int r;

        r = sd_bus_message_read(message, "s", &mode);
        if (r < 0)
                return r;
        if (!streq(mode, "all") && !streq(mode, "hidden"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid mode, expected \"all\" or \"hidden\".");
        r = bus_check_privileged_for(m, message, POLKIT_ACTION_MANAGE_IMAGES, PRIVILEGED_WHAT, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        r = image_pool_remove_stale_temporaries(&m->pool, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to remove some stale temporaries in %s, ignoring: %m", m->pool.path);

        r = image_discover(&m->pool, &images, &n);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to list images in %s: %m", m->pool.path);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(st)");
        /* Synchronous, unlike RemoveImage: cleaning is rare and the images are usually small. */
        for (size_t k = 0; r >= 0 && k < n; k++) {
                Image *i = images[k];
                _cleanup_(lock_file_release) LockFile lock = LOCK_FILE_NULL, in_use = LOCK_FILE_NULL;
                int q;

                if (!i->in_pool || image_is_host(i) || (streq(mode, "hidden") && !image_is_hidden(i)))
                        continue;
                /* Read-only images are kept, except hidden ones: those are what pulls leave
                 * behind (the ETag caches, OCI layer stacks), sealed only against change, and
                 * machined's clean removes its own caches the same way. */
                if (i->read_only && !image_is_hidden(i))
                        continue;
                /* Busy and used images are kept, as machined does. */
                if (image_name_lock(&m->pool, i->name, LOCK_EX, &lock) < 0 ||
                    image_lock_unused(m, i, "removed", &in_use, NULL) < 0) {
                        log_debug("Keeping image '%s' while cleaning the pool: it is busy or in use.", i->name);
                        continue;
                }
                q = image_remove(&m->pool, i);
                if (q < 0) {
                        log_warning_errno(q, "Failed to remove image '%s' while cleaning the pool: %m", i->name);
                        continue;
                }
                manager_images_changed(m);
                log_info("Removed image '%s' while cleaning the pool.", i->name);
                r = sd_bus_message_append(reply, "(st)", i->name, i->usage);
        }
        image_list_free(images, n);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int bus_property_get_pool_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->pool.path);
}

int bus_property_get_pool_quota(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_close_ int fd = -EBADF;
        uint64_t usage = UINT64_MAX, limit = UINT64_MAX;

        /* Known only where btrfs quotas already run on the pool (a subvolume). */
        fd = open(m->pool.path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd >= 0)
                (void) btrfs_qgroup_get_fd(fd, &usage, &limit);
        return sd_bus_message_append(reply, "t", streq(property, "PoolUsage") ? usage : limit);
}
