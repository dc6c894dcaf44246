/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for src/spawn/spawn-settings.c: a NAME.nspawn file next to an image
 * comes with the image, so it is untrusted input. Checks that parsing either fails or
 * yields entries that each name a line of the input and hold a non-empty value, and that
 * merging what parsed succeeds in every --settings= mode, trusted or not: each value was
 * checked by its parser already, so applying it cannot fail. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spawn-config.h"
#include "spawn-settings.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_in_mode(const SpawnSettings *s, const char *mode, bool trusted) {
        char *argv[] = { (char *) "berth-spawn", (char *) mode, (char *) "--hostname=cmdline",
                         (char *) "-E", (char *) "FROM=argv", (char *) "/bin/true", NULL };
        SpawnSettings t = *s;
        SpawnConfig c;

        t.trusted = trusted;
        if (spawn_config_parse_argv(&c, 6, argv) != 0)
                abort();
        if (spawn_settings_apply(&c, &t, 6, argv) != 0)
                abort();
        /* the command line's hostname goes only where the file's wins */
        if (!streq(mode, "--settings=override") && !streq(c.hostname, "cmdline"))
                abort();
        if (!streq(strempty(c.settings_file), s->path))
                abort();
        spawn_config_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(spawn_settings_done) SpawnSettings s = {};
        unsigned lines = 1;
        FILE *f;
        int r;

        if (size > 64 * 1024)
                return 0;
        log_set_max_level(-1);
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';

        f = fmemopen((void *) data, size, "r");
        if (!f)
                return 0;
        r = spawn_settings_parse(f, "/fuzz/m.nspawn", &s);
        fclose(f);
        if (r < 0)
                return 0;

        for (size_t i = 0; i < s.n_entries; i++)
                if (isempty(s.entries[i].value) || s.entries[i].line < 1 || s.entries[i].line > lines)
                        abort();

        apply_in_mode(&s, "--settings=yes", false);
        apply_in_mode(&s, "--settings=yes", true);
        apply_in_mode(&s, "--settings=override", false);
        apply_in_mode(&s, "--settings=override", true);
        return 0;
}
