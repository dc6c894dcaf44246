/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The hooks of an OCI config.json (runtime-spec 1.x, config.md "POSIX-platform Hooks"):
 * programs the runtime runs at six points of a container's life, each given the
 * container's state JSON on stdin. Read by oci-config.c; run here, by whichever process
 * is at that point (berth-runc create, the container's init, berth-runc start, delete). */

typedef enum OciHookPoint {
        OCI_HOOK_PRESTART,          /* deprecated: with createRuntime, runtime namespace */
        OCI_HOOK_CREATE_RUNTIME,    /* runtime namespace, the container's namespaces exist */
        OCI_HOOK_CREATE_CONTAINER,  /* the container's namespaces, path of the runtime's */
        OCI_HOOK_START_CONTAINER,   /* inside the container, at start, before the exec */
        OCI_HOOK_POSTSTART,         /* runtime namespace, once the user program runs */
        OCI_HOOK_POSTSTOP,          /* runtime namespace, at delete, the container gone */
        _OCI_HOOK_MAX,
} OciHookPoint;

typedef struct OciHook {
        char *path;              /* absolute */
        char **args;             /* argv, args[0] included; NULL: { path } */
        char **env;              /* NULL: the runtime's own environment (as runc's exec.Cmd) */
        unsigned timeout;        /* seconds; 0: none */
} OciHook;

typedef struct OciHooks {
        OciHook *list[_OCI_HOOK_MAX];
        size_t n[_OCI_HOOK_MAX];
} OciHooks;

const char *oci_hook_point_to_string(OciHookPoint p);
int oci_hook_point_from_string(const char *s);   /* -EINVAL if unknown */

void oci_hooks_done(OciHooks *h);
int oci_hooks_copy(const OciHooks *h, OciHooks *ret);
static inline bool oci_hooks_has(const OciHooks *h, OciHookPoint p) {
        return h && h->n[p] > 0;
}
/* Any hook run during create or at start inside the container: the points the
 * container's init stops at (see spawn-hooks.h). */
bool oci_hooks_has_creating(const OciHooks *h);

/* The points in 'mask' (bit 1 << OciHookPoint) as config.json's "hooks" object, for
 * oci_hooks_parse() in another process. NULL on OOM. */
char *oci_hooks_to_json(const OciHooks *h, unsigned mask);

/* A sealed memfd holding 'json': a hook's stdin, the same bytes for every hook of a point
 * (each gets it from offset 0, and none can change it). */
int oci_state_memfd(const char *json);

/* Run the hooks of point 'p' in order, each with the state on stdin (state_fd, from
 * oci_state_memfd()), its own args, env and timeout; the first that fails (exit status
 * not 0, killed, not executable, past its timeout) stops the rest. Does not log: on
 * failure *ret_error says which hook and why, with what it printed ("error running
 * createRuntime hook #1 (/usr/bin/x): exit status 2: ..."). Forks; the hooks inherit
 * our namespaces, root and working directory. */
int oci_hooks_run(const OciHooks *h, OciHookPoint p, int state_fd, char **ret_error);
/* Hook number i of point p alone (poststop goes on after a failure). */
int oci_hooks_run_one(const OciHooks *h, OciHookPoint p, size_t i, int state_fd, char **ret_error);
