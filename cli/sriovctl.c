/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
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
        printf("Usage: sriovctl [--socket PATH] [--timeout SECONDS] COMMAND [ARGS...]\n\n"
               "Talks to sriovd, the SR-IOV management daemon.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-8s %-40s %s\n", commands[i].name, commands[i].usage, commands[i].description);
        printf("\nOptions:\n"
               "  --socket PATH   sriovd's API socket (default %s, or $SRIOVD_SOCKET)\n"
               "  --timeout S     give up when sriovd has not answered within S seconds (default %u;\n"
               "                  enable/disable without --no-wait, bind and recover: as long as\n"
               "                  sriovd's own deadlines for them, plus %u)\n"
               "  -h, --help      this help; 'sriovctl COMMAND --help' for a command\n"
               "  --version       show the version\n"
               "\nExit status: 0 done, 1 refused or failed, 2 usage error, 3 partial result,\n"
               "4 sriovd not reachable, 5 the kernel has not returned from a write,\n"
               "6 sriovd did not answer within the timeout.\n",
               SRIOVD_DEFAULT_SOCKET, CTL_TIMEOUT_MS_DEFAULT / 1000, CTL_WAIT_MARGIN_MS / 1000);
}

uint64_t ctl_timeout_ms(const struct ctl_context *ctx, uint64_t server_ms) {
        if (ctx->timeout_ms)
                return ctx->timeout_ms;
        return server_ms ? server_ms + CTL_WAIT_MARGIN_MS : CTL_TIMEOUT_MS_DEFAULT;
}

int ctl_call_wait(struct ctl_context *ctx, const char *method, const char *path, const char *body,
                  uint64_t server_ms, struct ctl_response *ret) {
        uint64_t timeout_ms = ctl_timeout_ms(ctx, server_ms);
        int r = ctl_request(ctx->socket_path, method, path, body, timeout_ms, ret);

        ctx->last_error = r < 0 ? r : 0;
        if (r < 0)
                return ctl_report_connect_error(ctx->socket_path, timeout_ms, r);
        return 0;
}

int ctl_call(struct ctl_context *ctx, const char *method, const char *path, const char *body,
             struct ctl_response *ret) {
        return ctl_call_wait(ctx, method, path, body, 0, ret);
}

int ctl_transport_exit(const struct ctl_context *ctx) {
        return ctx->last_error == -ETIMEDOUT ? CTL_EXIT_TIMEOUT : CTL_EXIT_UNREACHABLE;
}

/* Seconds, fractions allowed: 0.001 to a day. 0 is refused rather than taken as "no
 * limit": a client that can wait for ever is what --timeout exists to prevent. */
static int parse_timeout(const char *s, uint64_t *ret) {
        double v;
        char *end;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !(v >= 0.001 && v <= CTL_TIMEOUT_MS_MAX / 1000)) {
                fprintf(stderr, "sriovctl: --timeout needs seconds from 0.001 to %u, not '%s'\n",
                        CTL_TIMEOUT_MS_MAX / 1000, s);
                return -EINVAL;
        }
        *ret = (uint64_t) (v * 1000.0 + 0.5) ?: 1;
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
                { "timeout", required_argument, NULL, 't' },
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
                case 't':
                        if (parse_timeout(optarg, &ctx.timeout_ms) < 0)
                                return CTL_EXIT_USAGE;
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
