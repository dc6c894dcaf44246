/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* An OCI image config as a .nspawn file: what the image's author meant a container of it
 * to run, in the settings berth-spawn (and systemd-nspawn) read next to an image. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import-oci.h"
#include "string-util.h"

/* One word for Parameters= or Environment=: double-quoted, with \ before " and \ (the
 * settings parser's quoting). A control character cannot be written on one line. */
static int put_word(FILE *f, const char *w) {
        for (const char *c = w; *c; c++)
                if ((unsigned char) *c < ' ' && *c != '\t')
                        return -EINVAL;
        fputs(" \"", f);
        for (const char *c = w; *c; c++) {
                if (*c == '"' || *c == '\\')
                        fputc('\\', f);
                fputc(*c, f);
        }
        fputc('"', f);
        return 0;
}

static int put_words(FILE *f, json_object *a) {
        size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        int r;

        for (size_t k = 0; k < n; k++) {
                const char *w = json_object_get_string(json_object_array_get_idx(a, k));

                r = put_word(f, strempty(w));
                if (r < 0)
                        return r;
        }
        return 0;
}

static size_t array_length(json_object *a) {
        return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *string_of(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *member(json_object *o, const char *key) {
        json_object *v;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Exposed ports are not forwarded by themselves: a comment tells what to forward. */
static void put_ports(FILE *f, json_object *ports) {
        if (!ports || !json_object_is_type(ports, json_type_object) || json_object_object_length(ports) == 0)
                return;
        fputs("# The image exposes these ports; berth does not forward them by itself\n"
              "# (with a private network, add Port= lines to [Network]):\n#", f);
        json_object_object_foreach(ports, key, val) {
                (void) val;
                fprintf(f, " %s", key);
        }
        fputc('\n', f);
}

static int put_user(FILE *f, const char *user) {
        const char *colon;

        if (isempty(user))
                return 0;
        if (strpbrk(user, "\n\r"))
                return -EINVAL;
        /* User= takes a user; the image's group (after ':') is that user's in its passwd. */
        colon = strchr(user, ':');
        if (colon)
                fprintf(f, "# The image asks for user:group %s; the group comes from the user's entry.\n", user);
        fprintf(f, "User=%.*s\n", colon ? (int) (colon - user) : (int) strlen(user), user);
        return 0;
}

int oci_settings_from_config(json_object *config, const char *ref, const char *digest, char **ret) {
        _cleanup_free_ char *buf = NULL;
        json_object *c = member(config, "config"), *entrypoint = member(c, "Entrypoint"), *cmd = member(c, "Cmd"),
                    *env = member(c, "Env");
        const char *wd = string_of(c, "WorkingDir");
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# From the config of OCI image %s%s%s (berth-import).\n", strempty(ref), digest ? "@" : "",
                strempty(digest));
        fputs("# A process, not a booted system: the image's entrypoint and command run as PID 1\n"
              "# (ProcessTwo=yes would run them under a minimal init instead).\n", f);
        put_ports(f, member(c, "ExposedPorts"));
        fputs("\n[Exec]\nBoot=no\n", f);
        if (array_length(entrypoint) + array_length(cmd) > 0) {
                fputs("Parameters=", f);
                r = put_words(f, entrypoint);
                if (r >= 0)
                        r = put_words(f, cmd);
                fputc('\n', f);
        }
        if (r >= 0 && array_length(env) > 0) {
                fputs("Environment=", f);
                r = put_words(f, env);
                fputc('\n', f);
        }
        if (r >= 0 && !isempty(wd)) {
                if (strpbrk(wd, "\n\r") || wd[0] != '/')
                        r = -EINVAL;
                else
                        fprintf(f, "WorkingDirectory=%s\n", wd);
        }
        if (r >= 0)
                r = put_user(f, string_of(c, "User"));
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}
