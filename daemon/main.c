/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "sriovd-log.h"
#include "sriovd-config.h"
#include "sriovd-manager.h"
#include "sriovd-options.h"

int main(int argc, char **argv) {
        _cleanup_(sriovd_manager_freep) struct sriovd_manager *m = NULL;
        struct sriovd_options options;
        int r;

        log_setup();
        r = sriovd_options_parse(&options, argc, argv);
        if (r < 0) {
                fprintf(stderr, "Try '%s --help'.\n", argv[0]);
                sriovd_options_done(&options);
                return 2;
        }
        if (options.show_help || options.show_version) {
                if (options.show_help)
                        sriovd_options_help(argv[0]);
                else
                        printf("sriovd %s\n", PACKAGE_VERSION);
                sriovd_options_done(&options);
                return 0;
        }
        /* The configuration fills what the command line left unset; a broken one stops
         * the start with every error named (file, line, key). */
        struct sriov_config *config = NULL;
        r = sriovd_config_load(options.config_file ?: SRIOVD_DEFAULT_CONFIG, &config);
        if (r < 0) {
                log_error("Refusing to start with a broken configuration");
                sriovd_options_done(&options);
                return 1;
        }
        sriovd_config_apply_daemon(config, &options);
        log_set_max_level(options.log_level);

        r = sriovd_manager_new(&options, config, &m);
        if (r >= 0)
                r = sriovd_manager_run(m);
        m = sriovd_manager_free(m);
        sriovd_options_done(&options);
        return r < 0 ? 1 : 0;
}
