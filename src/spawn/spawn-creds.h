/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "macro.h"

/* Credentials for the payload (--set-credential=, --load-credential=), as systemd-nspawn
 * passes them: files in a read-only ramfs at /run/host/credentials, named by $CREDENTIALS_DIRECTORY,
 * which a booted systemd imports as the system credentials of the machine. */
#define CREDENTIALS_DIRECTORY "/run/host/credentials"
#define CREDENTIAL_SIZE_MAX (1024U * 1024U)   /* systemd's limit for one credential */

typedef struct Credential {
        char *id;
        char *data;
        size_t size;
} Credential;

typedef struct CredentialSet {
        Credential *items;
        size_t n;
} CredentialSet;

void credential_set_done(CredentialSet *s);

/* "ID:VALUE" with C escapes in VALUE ("\n", "\x00"...). Logs. */
int credential_parse_set(CredentialSet *s, const char *arg);
/* "ID:PATH": the contents of a file, or what an AF_UNIX stream socket at PATH sends; a
 * relative PATH is looked up in berth-spawn's own $CREDENTIALS_DIRECTORY. Logs. */
int credential_parse_load(CredentialSet *s, const char *arg);

/* In the machine, in its user namespace: the ramfs with one 0400 file per credential,
 * mounted read-only on /run/host/credentials. Logs. */
int credentials_mount(const CredentialSet *s, int rootfd);
