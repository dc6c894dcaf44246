/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "process-util.h"
#include "spawn-config.h"
#include "spawn-run.h"
#include "spawn-settings.h"

int main(int argc, char *argv[]) {
        SpawnConfig c = {};
        int r;

        log_setup("berth-spawn");
        process_save_argv(argc, argv);

        r = spawn_config_parse_argv(&c, argc, argv);
        if (r > 0) {
                spawn_config_done(&c);
                return EXIT_SUCCESS;
        }
        if (r >= 0 && geteuid() != 0)
                r = log_error_errno(SYNTHETIC_ERRNO(EPERM), "berth-spawn needs to run as root.");
        if (r >= 0)
                r = spawn_settings_load(&c, argc, argv);
        if (r >= 0)
                r = spawn_config_finalize(&c);
        if (r >= 0)
                r = spawn_run(&c);

        spawn_config_done(&c);
        return r < 0 ? EXIT_FAILURE : r;
}
