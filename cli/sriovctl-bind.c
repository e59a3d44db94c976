/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sriov-address.h"
#include "sriovctl.h"

/* sriovd answers a bind once the driver took the function or its 30 s deadline passed
 * (BIND_TIMEOUT_SEC in daemon/sriovd-bind.c). */
#define BIND_WAIT_MS 30000u

static int run(struct ctl_context *ctx, int argc, char **argv, bool unbind) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *cmd = unbind ? "unbind" : "bind";
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        bool force = false, json = false;
        struct sriov_addr addr;
        char path[96], body[160];
        json_object *v;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        if (unbind)
                                printf("Usage: sriovctl unbind ADDRESS [--json]\n\n"
                                       "Unbinds the function's driver and clears driver_override.\n");
                        else
                                printf("Usage: sriovctl bind ADDRESS DRIVER [--force] [--json]\n\n"
                                       "Binds the function to DRIVER (driver_override, unbind, drivers_probe), loading\n"
                                       "the module if needed. For vfio-pci the IOMMU group must not hold functions on\n"
                                       "host drivers unless --force.\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind != (unbind ? 1 : 2)) {
                fprintf(stderr, "sriovctl %s: %s expected\n", cmd, unbind ? "ADDRESS" : "ADDRESS and DRIVER");
                return CTL_EXIT_USAGE;
        }
        if (sriov_addr_parse(argv[optind], &addr) < 0) {
                fprintf(stderr, "sriovctl %s: '%s' is not a PCI address (expected DDDD:BB:SS.F)\n", cmd, argv[optind]);
                return CTL_EXIT_USAGE;
        }
        snprintf(path, sizeof(path), "/v1/devices/%s/%s", SRIOV_ADDR_STR(&addr), cmd);
        if (unbind)
                snprintf(body, sizeof(body), "{}");
        else {
                _cleanup_json_ json_object *b = json_object_new_object();
                json_object_object_add(b, "driver", json_object_new_string(argv[optind + 1]));
                json_object_object_add(b, "force", json_object_new_boolean(force));
                snprintf(body, sizeof(body), "%s", json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
        }
        if (ctl_call_wait(ctx, "POST", path, body, BIND_WAIT_MS, &resp) < 0)
                return ctl_transport_exit(ctx);
        if (json && resp.body)
                fputs(resp.body, stdout);
        if (resp.status != 200) {
                if (resp.json && json_object_object_get_ex(resp.json, "failed_step", &v))
                        fprintf(stderr, "sriovctl: %s %s failed at %s: %s\n", cmd, SRIOV_ADDR_STR(&addr), json_object_get_string(v),
                                json_object_object_get_ex(resp.json, "error", &v) ? json_object_get_string(v) : "?");
                else if (resp.status == 504)
                        fprintf(stderr, "sriovctl: %s %s: the kernel has not returned (hung); sriovd keeps the function locked\n",
                                cmd, SRIOV_ADDR_STR(&addr));
                else
                        return ctl_print_api_error(&resp);
                return resp.status == 504 ? CTL_EXIT_HUNG : CTL_EXIT_FAILED;
        }
        if (!json) {
                const char *drv = resp.json && json_object_object_get_ex(resp.json, "driver", &v) && v ? json_object_get_string(v) : NULL;
                const char *node = resp.json && json_object_object_get_ex(resp.json, "vfio_device", &v) && v ? json_object_get_string(v) : NULL;
                if (drv)
                        printf("%s bound to %s%s%s\n", SRIOV_ADDR_STR(&addr), drv, node ? ", " : "", node ?: "");
                else
                        printf("%s has no driver\n", SRIOV_ADDR_STR(&addr));
        }
        return CTL_EXIT_OK;
}

int ctl_bind(struct ctl_context *ctx, int argc, char **argv) {
        return run(ctx, argc, argv, false);
}

int ctl_unbind(struct ctl_context *ctx, int argc, char **argv) {
        return run(ctx, argc, argv, true);
}
