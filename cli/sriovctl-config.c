/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sriovctl.h"

static int no_args(const char *cmd, int argc, char **argv, bool *json, const char *help) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        *json = true;
                        break;
                case 'h':
                        fputs(help, stdout);
                        return 1;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "sriovctl %s: no arguments expected\n", cmd);
                return -EINVAL;
        }
        return 0;
}

int ctl_reload(struct ctl_context *ctx, int argc, char **argv) {
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        json_object *errors;
        bool json = false;
        int r = no_args("reload", argc, argv, &json,
                        "Usage: sriovctl reload [--json]\n\nRe-reads the configuration (as SIGHUP does). A broken file "
                        "keeps the running\nconfiguration; its errors are printed with file, line and key.\n");
        if (r != 0)
                return r > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        if (ctl_call(ctx, "POST", "/v1/reload", "{}", &resp) < 0)
                return ctl_transport_exit(ctx);
        if (json)
                fputs(resp.body, stdout);
        if (resp.status == 422 && resp.json && json_object_object_get_ex(resp.json, "errors", &errors)) {
                fprintf(stderr, "sriovctl: %s:\n", ctl_response_error(&resp));
                for (size_t i = 0; i < json_object_array_length(errors); i++)
                        fprintf(stderr, "  %s\n", json_object_get_string(json_object_array_get_idx(errors, i)));
                return CTL_EXIT_FAILED;
        }
        if (resp.status != 200)
                return ctl_print_api_error(&resp);
        if (!json)
                printf("Configuration reloaded\n");
        return CTL_EXIT_OK;
}

int ctl_config(struct ctl_context *ctx, int argc, char **argv) {
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        bool json = false;
        int r = no_args("config", argc, argv, &json,
                        "Usage: sriovctl config [--json]\n\nShows the effective configuration: the daemon's settings "
                        "and each PF section\nwith the file and line it comes from.\n");
        if (r != 0)
                return r > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        if (ctl_call(ctx, "GET", "/v1/config", NULL, &resp) < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200)
                return ctl_print_api_error(&resp);
        if (json || !resp.json) {
                fputs(resp.body, stdout);
                return CTL_EXIT_OK;
        }
        /* Readable: the JSON pretty-printed is the clearest complete view. */
        puts(json_object_to_json_string_ext(resp.json, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return CTL_EXIT_OK;
}
