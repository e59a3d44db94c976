/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-address.h"
#include "sriov-enable.h"
#include "sriovctl.h"

static void print_report(json_object *report) {
        json_object *vfs;
        size_t n;

        printf("%s: %s\n", strna(ctl_jstr(report, "pf")), strna(ctl_jstr(report, "message")));
        if (json_object_object_get_ex(report, "vfs", &vfs) && (n = json_object_array_length(vfs)) > 0) {
                printf("  %-4s %-14s %-8s %s\n", "VF", "ADDRESS", "STATE", "DRIVER");
                for (size_t i = 0; i < n; i++) {
                        json_object *vf = json_object_array_get_idx(vfs, i);
                        printf("  %-4" PRId64 " %-14s %-8s %s\n", ctl_jint(vf, "index", -1), strna(ctl_jstr(vf, "address")),
                               strna(ctl_jstr(vf, "state")), ctl_jstr(vf, "driver") ?: "-");
                }
        }
        printf("  requested %" PRId64 ", enumerated %" PRId64 ", bound %" PRId64 ", usable %" PRId64
               " (was %" PRId64 "), %" PRId64 " ms\n",
               ctl_jint(report, "requested", 0), ctl_jint(report, "enumerated", 0), ctl_jint(report, "bound", 0),
               ctl_jint(report, "usable", 0), ctl_jint(report, "previous", 0), ctl_jint(report, "elapsed_ms", 0));
        /* Why it took that long: for these VFs no uevent told the outcome. */
        const char *settled = ctl_jstr(report, "settled_by");
        int64_t untold = ctl_jint(report, "unsignalled_vfs", 0);
        if (settled && streq(settled, "quiet-window") && untold > 0)
                printf("  settled after a %" PRId64 " ms quiet window: the kernel signals no outcome for %" PRId64
                       " VF(s) without a driver or missing\n", ctl_jint(report, "quiet_window_ms", 0), untold);
        else if (settled && streq(settled, "deadline"))
                printf("  settled at the deadline: VFs were still changing\n");
}

static int exit_status_of(json_object *report) {
        const char *outcome = ctl_jstr(report, "outcome");

        if (ctl_jbool(report, "hung"))
                return CTL_EXIT_HUNG;
        if (outcome && streq(outcome, "complete"))
                return CTL_EXIT_OK;
        if (outcome && streq(outcome, "partial"))
                return CTL_EXIT_PARTIAL;
        return CTL_EXIT_FAILED;
}

/* How long sriovd may take before it answers a waiting enable or disable, by its own
 * deadlines (daemon/sriovd-operation.c): the wait for a held lock file (the request's
 * timeout, else 60 s), then per value written to sriov_numvfs a write deadline and a
 * settle deadline (the request's timeout, else 10 s + 1.5 s per VF): 0 and then N
 * (a change between two non-zero counts goes through 0), and the same again back to the
 * previous count for --all-or-nothing; one more for sriov_drivers_autoprobe. Time spent
 * queued behind other operations is not counted: the margin added is for that. */
static uint64_t server_wait_ms(unsigned long vfs, unsigned long timeout_ms, bool all_or_nothing) {
        uint64_t lock_ms = timeout_ms ?: 60000u;
        uint64_t step_ms = timeout_ms ?: sriov_settle_timeout_ms((unsigned) vfs);
        unsigned values = all_or_nothing ? 4 : 2;

        return lock_ms + (2 * values + 1) * step_ms;
}

static int run(struct ctl_context *ctx, const char *cmd, int argc, char **argv, bool is_disable) {
        static const struct option options[] = {
                { "vfs", required_argument, NULL, 'n' },
                { "all-or-nothing", no_argument, NULL, 'A' },
                { "timeout", required_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                { "no-wait", no_argument, NULL, 'W' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        bool json = false, all_or_nothing = false, no_wait = false, have_vfs = false;
        unsigned long vfs = 0, timeout_ms = 0;
        struct sriov_addr addr;
        char path[96], body[192];
        json_object *op, *report;
        char *end;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        if (is_disable) {
                                fprintf(stderr, "sriovctl disable: --vfs makes no sense here (disable means 0 VFs)\n");
                                return CTL_EXIT_USAGE;
                        }
                        errno = 0;
                        vfs = strtoul(optarg, &end, 10);
                        if (errno != 0 || *end != '\0' || optarg[0] < '0' || optarg[0] > '9' || vfs > 65535) {
                                fprintf(stderr, "sriovctl %s: --vfs needs a whole number from 0 to 65535, not '%s'\n", cmd, optarg);
                                return CTL_EXIT_USAGE;
                        }
                        have_vfs = true;
                        break;
                case 'A':
                        all_or_nothing = true;
                        break;
                case 't': {
                        double s;
                        errno = 0;
                        s = strtod(optarg, &end);
                        if (errno != 0 || *end != '\0' || !(s >= 0.1 && s <= 3600)) {
                                fprintf(stderr, "sriovctl %s: --timeout needs seconds from 0.1 to 3600, not '%s'\n", cmd, optarg);
                                return CTL_EXIT_USAGE;
                        }
                        timeout_ms = (unsigned long) (s * 1000.0 + 0.5);
                        break;
                }
                case 'j':
                        json = true;
                        break;
                case 'W':
                        no_wait = true;
                        break;
                case 'h':
                        if (is_disable)
                                printf("Usage: sriovctl disable ADDRESS [--timeout SECONDS] [--json] [--no-wait]\n\n"
                                       "Removes all VFs of the PF (writes 0 to sriov_numvfs through sriovd).\n");
                        else
                                printf("Usage: sriovctl enable ADDRESS --vfs N [--all-or-nothing] [--timeout SECONDS]\n"
                                       "                       [--json] [--no-wait]\n\n"
                                       "Sets the PF's VF count to N through sriovd, which orders it with every other\n"
                                       "change on the same hierarchy and reports exactly what came up.\n"
                                       "  --all-or-nothing  roll back to the previous count if not all N are usable\n"
                                       "  --timeout S       deadline for the kernel write and for VFs to settle\n"
                                       "  --no-wait         return at once with the operation id\n"
                                       "  --json            the API's JSON\n"
                                       "Exit status: 0 complete, 3 partial, 1 refused or failed, 5 hung in the kernel.\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }

        if (argc - optind != 1) {
                fprintf(stderr, "sriovctl %s: exactly one ADDRESS expected\n", cmd);
                return CTL_EXIT_USAGE;
        }
        if (!is_disable && !have_vfs) {
                fprintf(stderr, "sriovctl enable: --vfs N is required\n");
                return CTL_EXIT_USAGE;
        }
        if (sriov_addr_parse(argv[optind], &addr) < 0) {
                fprintf(stderr, "sriovctl %s: '%s' is not a PCI address (expected DDDD:BB:SS.F, e.g. 0000:3b:00.0)\n", cmd,
                        argv[optind]);
                return CTL_EXIT_USAGE;
        }

        snprintf(path, sizeof(path), "/v1/devices/%s/sriov", SRIOV_ADDR_STR(&addr));
        r = snprintf(body, sizeof(body), "{\"num_vfs\":%lu,\"policy\":\"%s\",\"wait\":%s", vfs,
                     all_or_nothing ? "all-or-nothing" : "best-effort", no_wait ? "false" : "true");
        if (timeout_ms > 0)
                snprintf(body + r, sizeof(body) - (size_t) r, ",\"timeout_ms\":%lu}", timeout_ms);
        else
                snprintf(body + r, sizeof(body) - (size_t) r, "}");

        if (no_wait)
                r = ctl_call(ctx, "POST", path, body, &resp);
        else
                r = ctl_call_wait(ctx, "POST", path, body, server_wait_ms(vfs, timeout_ms, all_or_nothing), &resp);
        if (r < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200 && resp.status != 202) {
                if (json && resp.body)
                        fputs(resp.body, stdout);
                return ctl_print_api_error(&resp);
        }
        if (json) {
                fputs(resp.body, stdout);
        }
        op = resp.json;
        if (!op) {
                fprintf(stderr, "sriovctl: sriovd sent a reply that is not JSON\n");
                return CTL_EXIT_FAILED;
        }
        if (resp.status == 202) {
                if (!json)
                        printf("Operation %" PRId64 " queued on %s; follow it with: curl --unix-socket %s http://localhost/v1/operations/%" PRId64 "?wait=1\n",
                               ctl_jint(op, "id", 0), SRIOV_ADDR_STR(&addr), ctx->socket_path, ctl_jint(op, "id", 0));
                return CTL_EXIT_OK;
        }
        if (!json_object_object_get_ex(op, "report", &report)) {
                fprintf(stderr, "sriovctl: sriovd replied without a report\n");
                return CTL_EXIT_FAILED;
        }
        if (!json)
                print_report(report);
        return exit_status_of(report);
}

int ctl_enable(struct ctl_context *ctx, int argc, char **argv) {
        return run(ctx, "enable", argc, argv, false);
}

int ctl_disable(struct ctl_context *ctx, int argc, char **argv) {
        return run(ctx, "disable", argc, argv, true);
}
