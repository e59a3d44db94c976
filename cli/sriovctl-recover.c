/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-address.h"
#include "sriovctl.h"

/* sriovd answers a recovery once it is over: steps with deadlines of their own (a
 * rescan, a reset that may take the kernel 60 s, VFs settling), and possibly several
 * attempts. Ten minutes, plus the margin, before the client gives up by default. */
#define RECOVER_WAIT_MS (10u * 60u * 1000u)

static int parse_address(const char *cmd, const char *arg, struct sriov_addr *ret) {
        if (sriov_addr_parse(arg, ret) < 0) {
                fprintf(stderr, "sriovctl %s: '%s' is not a PCI address (expected DDDD:BB:SS.F)\n", cmd, arg);
                return -EINVAL;
        }
        return 0;
}

int ctl_recover(struct ctl_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        struct sriov_addr addr;
        json_object *steps, *v;
        bool json = false, ok;
        char path[96];
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        printf("Usage: sriovctl recover ADDRESS [--json]\n\n"
                               "Runs sriovd's recovery of the PF now, as after a failed kernel recovery: under the\n"
                               "hierarchy lock, disable VFs, remove the PF, rescan, restore the desired VF count and\n"
                               "the bindings sriovd knows of, verify. Exit 0 when restored, 1 otherwise.\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1) {
                fprintf(stderr, "sriovctl recover: exactly one ADDRESS expected\n");
                return CTL_EXIT_USAGE;
        }
        if (parse_address("recover", argv[optind], &addr) < 0)
                return CTL_EXIT_USAGE;
        snprintf(path, sizeof(path), "/v1/devices/%s/recover", SRIOV_ADDR_STR(&addr));
        if (ctl_call_wait(ctx, "POST", path, "{}", RECOVER_WAIT_MS, &resp) < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200)
                return ctl_print_api_error(&resp);
        if (json)
                fputs(resp.body, stdout);
        ok = resp.json && json_object_object_get_ex(resp.json, "succeeded", &v) && json_object_get_boolean(v);
        if (!json) {
                printf("%s: recovery %s\n", SRIOV_ADDR_STR(&addr), ok ? "succeeded" : "FAILED");
                if (resp.json && json_object_object_get_ex(resp.json, "steps", &steps))
                        for (size_t i = 0; i < json_object_array_length(steps); i++) {
                                json_object *s = json_object_array_get_idx(steps, i), *x;
                                printf("  attempt %d  %-17s %-4s %6" PRId64 " ms",
                                       json_object_object_get_ex(s, "attempt", &x) ? json_object_get_int(x) : 0,
                                       json_object_object_get_ex(s, "step", &x) ? json_object_get_string(x) : "?",
                                       json_object_object_get_ex(s, "ok", &x) && json_object_get_boolean(x) ? "ok" : "FAIL",
                                       json_object_object_get_ex(s, "duration_ms", &x) ? json_object_get_int64(x) : 0);
                                if (json_object_object_get_ex(s, "error", &x))
                                        printf("  %s", json_object_get_string(x));
                                printf("\n");
                        }
        }
        return ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

int ctl_policy(struct ctl_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "recovery", required_argument, NULL, 'r' },
                { "attempts", required_argument, NULL, 'a' },
                { "park-idle-vfs", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        _cleanup_json_ json_object *body = json_object_new_object();
        struct sriov_addr addr;
        char path[96], *end;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        json_object_object_add(body, "recovery", json_object_new_string(optarg));
                        break;
                case 'a': {
                        long n = strtol(optarg, &end, 10);
                        if (*end || n < 1 || n > 16) {
                                fprintf(stderr, "sriovctl policy: --attempts needs 1 to 16\n");
                                return CTL_EXIT_USAGE;
                        }
                        json_object_object_add(body, "max_attempts", json_object_new_int((int) n));
                        break;
                }
                case 'p':
                        if (!streq(optarg, "yes") && !streq(optarg, "no")) {
                                fprintf(stderr, "sriovctl policy: --park-idle-vfs needs yes or no\n");
                                return CTL_EXIT_USAGE;
                        }
                        json_object_object_add(body, "park_idle_vfs", json_object_new_boolean(streq(optarg, "yes")));
                        break;
                case 'h':
                        printf("Usage: sriovctl policy ADDRESS [--recovery none|notify|remove-rescan|reset]\n"
                               "                       [--attempts N] [--park-idle-vfs yes|no]\n\n"
                               "Sets the PF's recovery policy. --park-idle-vfs binds VFs without a driver to\n"
                               "vfio-pci, whose error handlers let the kernel's recovery succeed.\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1) {
                fprintf(stderr, "sriovctl policy: exactly one ADDRESS expected\n");
                return CTL_EXIT_USAGE;
        }
        if (parse_address("policy", argv[optind], &addr) < 0)
                return CTL_EXIT_USAGE;
        snprintf(path, sizeof(path), "/v1/devices/%s/policy", SRIOV_ADDR_STR(&addr));
        if (ctl_call(ctx, "POST", path, json_object_to_json_string(body), &resp) < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200)
                return ctl_print_api_error(&resp);
        fputs(resp.body, stdout);
        return CTL_EXIT_OK;
}
