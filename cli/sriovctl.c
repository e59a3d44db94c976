/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sriovctl.h"

static const struct ctl_command commands[] = {
        { "status", ctl_status, "[ADDRESS] [--json] [--all]", "Show PFs, their VFs, drivers and IOMMU groups" },
        { "enable", ctl_enable, "ADDRESS --vfs N [--all-or-nothing] ...", "Set the PF's VF count and report what came up" },
        { "disable", ctl_disable, "ADDRESS", "Remove all VFs of the PF" },
        { "events", ctl_events, "[ADDRESS] [--follow] [--json]", "PCIe error events and AER counter changes" },
        { "recover", ctl_recover, "ADDRESS", "Recover a PF now (disable, remove, rescan, restore)" },
        { "policy", ctl_policy, "ADDRESS [--recovery P] [--park-idle-vfs yes|no]", "Set a PF's recovery policy" },
        { "reload", ctl_reload, "", "Re-read the configuration (keeps the old one on errors)" },
        { "config", ctl_config, "[--json]", "Show the effective configuration" },
        { "bind", ctl_bind, "ADDRESS DRIVER [--force]", "Bind a function to a driver (e.g. vfio-pci)" },
        { "unbind", ctl_unbind, "ADDRESS", "Unbind a function's driver" },
        { "lock", ctl_lock, "ADDRESS [--shared] -- COMMAND...", "Run COMMAND holding sriovd's locks for ADDRESS" },
};

static void help(void) {
        printf("Usage: sriovctl [--socket PATH] COMMAND [ARGS...]\n\n"
               "Talks to sriovd, the SR-IOV management daemon.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-8s %-40s %s\n", commands[i].name, commands[i].usage, commands[i].description);
        printf("\nOptions:\n"
               "  --socket PATH   sriovd's API socket (default %s, or $SRIOVD_SOCKET)\n"
               "  -h, --help      this help; 'sriovctl COMMAND --help' for a command\n"
               "  --version       show the version\n"
               "\nExit status: 0 done, 1 refused or failed, 2 usage error, 3 partial result,\n"
               "4 sriovd not reachable, 5 the kernel has not returned from a write.\n",
               SRIOVD_DEFAULT_SOCKET);
}

int ctl_call(struct ctl_context *ctx, const char *method, const char *path, const char *body,
             struct ctl_response *ret) {
        int r = ctl_request(ctx->socket_path, method, path, body, ret);
        if (r < 0)
                return ctl_report_connect_error(ctx->socket_path, r);
        return 0;
}

int ctl_print_api_error(const struct ctl_response *resp) {
        fprintf(stderr, "sriovctl: %s\n", ctl_response_error(resp));
        if (resp->status == 400 || resp->status == 404 || resp->status == 405 || resp->status == 409 ||
            resp->status == 422 || resp->status == 403)
                return CTL_EXIT_FAILED;
        return CTL_EXIT_FAILED;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        struct ctl_context ctx = { .socket_path = getenv("SRIOVD_SOCKET") ?: SRIOVD_DEFAULT_SOCKET };
        int c;

        /* "+": stop at the command name, its options are its own. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (!optarg[0]) {
                                fprintf(stderr, "sriovctl: --socket needs a path\n");
                                return CTL_EXIT_USAGE;
                        }
                        ctx.socket_path = optarg;
                        break;
                case 'h':
                        help();
                        return CTL_EXIT_OK;
                case 'V':
                        printf("sriovctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                default:
                        fprintf(stderr, "Try 'sriovctl --help'.\n");
                        return CTL_EXIT_USAGE;
                }

        if (optind >= argc) {
                help();
                return CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[optind], commands[i].name))
                        return commands[i].run(&ctx, argc - optind, argv + optind);

        fprintf(stderr, "sriovctl: unknown command '%s'. Try 'sriovctl --help'.\n", argv[optind]);
        return CTL_EXIT_USAGE;
}
