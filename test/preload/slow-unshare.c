/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LD_PRELOAD shim for the integration tests: unshare(CLONE_NEWUSER) takes 300 ms longer.
 *
 * It stands in for a loaded machine, where the helper that creates a machine's user
 * namespace is scheduled late. berth-spawn must wait for the helper to have unshared
 * before writing its uid_map, however long that takes; a parent that gives up waiting
 * writes the map of the host's namespace and fails (EPERM). Built for the tests only,
 * never installed: the product has no knob for this. */

#include <dlfcn.h>
#include <sched.h>
#include <time.h>

int unshare(int flags) {
        static int (*real_unshare)(int);

        if (!real_unshare)
                real_unshare = (int (*)(int)) dlsym(RTLD_NEXT, "unshare");
        if (flags & CLONE_NEWUSER) {
                struct timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
                (void) nanosleep(&ts, NULL);
        }
        return real_unshare(flags);
}
