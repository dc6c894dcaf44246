/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "berthctl-table.h"
#include "macro.h"

/* Command line state (parsed once in berthctl.c, read by the verbs). */
extern char **arg_property;
extern bool arg_all;
extern bool arg_value;
extern bool arg_full;
extern bool arg_legend;
extern bool arg_read_only;
extern bool arg_quiet;
extern bool arg_force;
extern bool arg_mkdir;
extern const char *arg_kill_whom;
extern int arg_signal;
extern unsigned arg_max_addresses;
extern JsonFormat arg_json;
extern bool arg_now;
extern bool arg_remote;

/* Where verbs write their normal output; paged or copied to stdout at exit (berthctl.c). */
extern FILE *out;
bool out_is_terminal(void);
size_t out_columns(void);       /* 0 when nothing needs to fit */

/* A verb: argv[0] is the verb itself. */
typedef int (*VerbFunction)(sd_bus *bus, int argc, char **argv);

/* berthctl-bus.c: a Manager method call; on failure logs "WHAT: <D-Bus error message>" */
int manager_call(sd_bus *bus, const char *what, uint64_t timeout_usec, sd_bus_message **ret_reply,
                 const char *member, const char *types, ...);
/* The same on org.freedesktop.import1's manager (the transfer verbs). */
int import1_call(sd_bus *bus, const char *what, sd_bus_message **ret_reply, const char *member,
                 const char *types, ...);
/* Object path of a machine or an image; logs "Could not get path to machine: ..." */
int get_object_path(sd_bus *bus, const char *method, const char *what, const char *name, char **ret);
/* Values of 'keys' in an a{ss} reply (GetMachineOSRelease...); values[i] NULL when absent */
int read_string_map(sd_bus_message *reply, const char * const *keys, char **values, size_t n);
/* The same for a Manager method taking a name; quietly fails (not every machine has os-release) */
int get_os_release(sd_bus *bus, const char *method, const char *name, const char * const *keys,
                   char **values, size_t n);
/* "192.0.2.2", "fe80::1%3" (scoped when ifindex > 0) from an a(iay) reply */
int read_addresses(sd_bus_message *reply, int ifindex, char ***ret);
void strv_array_free(char **values, size_t n);
/* The D-Bus error's own message if there is one, else errno's text */
const char *bus_error_text(const sd_bus_error *e, int r);
/* Properties.GetAll(IFACE, "" for all) of PATH: READER gets each name with the message at
 * its variant, and must read or skip that variant. Logs "Could not get properties: ...". */
typedef int (*PropertyReader)(sd_bus_message *m, const char *name, void *userdata);
int read_all_properties(sd_bus *bus, const char *path, const char *iface, PropertyReader reader, void *userdata);
/* 'show': every property of PATH as NAME=VALUE (-p, -P, --value, -a respected) */
int print_properties(sd_bus *bus, const char *path);
/* show, show-image: the properties of each named object (found with the Manager's method
 * getter), a blank line between them; without names, the Manager's own. */
int print_objects_properties(sd_bus *bus, int argc, char **argv, const char *getter, const char *what);
/* Table output for list and list-images: text or JSON, legend, "N WORD listed." */
int show_table(Table *t, const char *word);

/* berthctl-machines.c */
int verb_list(sd_bus *bus, int argc, char **argv);
int verb_status(sd_bus *bus, int argc, char **argv);
int verb_show(sd_bus *bus, int argc, char **argv);
int verb_terminate(sd_bus *bus, int argc, char **argv);
int verb_kill(sd_bus *bus, int argc, char **argv);
int verb_poweroff(sd_bus *bus, int argc, char **argv);
int verb_reboot(sd_bus *bus, int argc, char **argv);

/* berthctl-copy.c */
int verb_bind(sd_bus *bus, int argc, char **argv);
int verb_copy(sd_bus *bus, int argc, char **argv);   /* copy-to, copy-from */

/* berthctl-start.c */
int verb_start(sd_bus *bus, int argc, char **argv);
/* berthctl-settings.c */
int verb_cat(sd_bus *bus, int argc, char **argv);
int verb_edit(sd_bus *bus, int argc, char **argv);
int verb_enable(sd_bus *bus, int argc, char **argv);
int verb_disable(sd_bus *bus, int argc, char **argv);
void print_machine_log(sd_bus *bus, const char *name);
/* berthctl-shell.c */
extern char *arg_uid;             /* --uid= */
extern char **arg_setenv;         /* -E, --setenv= */
extern int verb_exit_status;      /* what berthctl exits with after a successful verb */
int setenv_argument_add(const char *s);
int verb_login(sd_bus *bus, int argc, char **argv);
int verb_shell(sd_bus *bus, int argc, char **argv);

/* berthctl-images.c */
int verb_list_images(sd_bus *bus, int argc, char **argv);
int verb_image_status(sd_bus *bus, int argc, char **argv);
int verb_show_image(sd_bus *bus, int argc, char **argv);
int verb_clone(sd_bus *bus, int argc, char **argv);
int verb_rename(sd_bus *bus, int argc, char **argv);
int verb_read_only(sd_bus *bus, int argc, char **argv);
int verb_remove(sd_bus *bus, int argc, char **argv);
int verb_set_limit(sd_bus *bus, int argc, char **argv);
int verb_clean(sd_bus *bus, int argc, char **argv);

/* berthctl-transfers.c (org.freedesktop.import1) */
extern const char *arg_verify;
extern const char *arg_format;
int verb_import(sd_bus *bus, int argc, char **argv);
int verb_export(sd_bus *bus, int argc, char **argv);
int verb_pull(sd_bus *bus, int argc, char **argv);
int verb_pull_oci(sd_bus *bus, int argc, char **argv);
int verb_import_oci(sd_bus *bus, int argc, char **argv);
int verb_list_transfers(sd_bus *bus, int argc, char **argv);
int verb_cancel_transfer(sd_bus *bus, int argc, char **argv);
