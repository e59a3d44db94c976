/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sriov-address.h"
#include "sriovctl.h"

static void print_name(json_object *d) {
        const char *vn = ctl_jstr(d, "vendor_name"), *dn = ctl_jstr(d, "device_name");

        printf("%s:%s", strna(ctl_jstr(d, "vendor_id")), strna(ctl_jstr(d, "device_id")));
        if (dn)
                printf("  %s", dn);
        else if (vn)
                printf("  %s", vn);
}

static void print_group(int64_t g) {
        if (g >= 0)
                printf("%-6" PRId64, g);
        else
                printf("%-6s", "-");
}

static void print_pf(json_object *d) {
        json_object *sriov = ctl_jget(d, "sriov"), *vfs = ctl_jget(sriov, "vfs"), *up = ctl_jget(d, "upstream"), *ap;
        size_t n_up = up ? json_object_array_length(up) : 0;
        size_t n_vfs = vfs ? json_object_array_length(vfs) : 0;

        printf("PF %s  ", strna(ctl_jstr(d, "address")));
        print_name(d);
        printf("\n   driver %s", ctl_jstr(d, "driver") ?: "(none)");
        if (n_up > 0)
                printf(", root port %s", json_object_get_string(json_object_array_get_idx(up, 0)));
        if (ctl_jint(d, "iommu_group", -1) >= 0)
                printf(", IOMMU group %" PRId64, ctl_jint(d, "iommu_group", -1));
        json_object *net = ctl_jget(d, "network");
        if (net) {
                printf("\n   interface %s", strna(ctl_jstr(net, "ifname")));
                const char *mac = ctl_jstr(net, "mac"), *oper = ctl_jstr(net, "operstate");
                if (mac)
                        printf(", MAC %s", mac);
                if (oper)
                        printf(", %s", oper);
                if (ctl_jint(net, "speed_mbps", -1) >= 0)
                        printf(", %" PRId64 " Mbit/s", ctl_jint(net, "speed_mbps", -1));
        }
        printf("\n   VFs: %zu of %" PRId64 " enabled", n_vfs, ctl_jint(sriov, "total_vfs", 0));
        ap = ctl_jget(sriov, "drivers_autoprobe");
        if (ap)
                printf(", drivers autoprobe %s", json_object_get_boolean(ap) ? "on" : "off");
        printf("\n");

        json_object *rec = ctl_jget(d, "recovery"), *last = ctl_jget(rec, "last");
        if (rec)
                printf("   recovery policy %s%s", strna(ctl_jstr(rec, "policy")),
                       ctl_jget(rec, "park_idle_vfs") && json_object_get_boolean(ctl_jget(rec, "park_idle_vfs")) ? ", idle VFs parked on vfio-pci" : "");
        if (last)
                printf("; last recovery: %s (%s)", json_object_get_boolean(ctl_jget(last, "finished")) ?
                       (json_object_get_boolean(ctl_jget(last, "succeeded")) ? "succeeded" : "failed") : strna(ctl_jstr(last, "state")),
                       strna(ctl_jstr(last, "reason")));
        if (rec)
                printf("\n");
        json_object *ops = ctl_jget(d, "operations");
        for (size_t i = 0; ops && i < json_object_array_length(ops); i++) {
                json_object *op = json_object_array_get_idx(ops, i);
                printf("   operation %" PRId64 ": %" PRId64 " VFs, %s%s%s\n", ctl_jint(op, "id", 0), ctl_jint(op, "num_vfs", 0),
                       strna(ctl_jstr(op, "state")), ctl_jstr(op, "waiting_for") ? ", waiting for " : "", ctl_jstr(op, "waiting_for") ?: "");
        }
        if (n_vfs == 0)
                return;
        size_t bound = 0;
        printf("   %-4s %-14s %-12s %-6s\n", "VF", "ADDRESS", "DRIVER", "IOMMU");
        for (size_t i = 0; i < n_vfs; i++) {
                json_object *vf = json_object_array_get_idx(vfs, i);
                const char *drv = ctl_jstr(vf, "driver");
                bound += drv != NULL;
                printf("   %-4" PRId64 " %-14s %-12s ", ctl_jint(vf, "index", -1), strna(ctl_jstr(vf, "address")), drv ?: "-");
                print_group(ctl_jint(vf, "iommu_group", -1));
                const char *vfio = ctl_jstr(vf, "vfio_device");
                if (vfio)
                        printf(" %s", vfio);
                const char *vif = ctl_jstr(vf, "netdev");
                if (vif)
                        printf(" %s", vif);
                json_object *nvfs = ctl_jget(net, "vfs");
                json_object *vnet = nvfs && i < json_object_array_length(nvfs) ? json_object_array_get_idx(nvfs, i) : NULL;
                json_object *drifted = ctl_jget(vnet, "drifted"), *refused = ctl_jget(vnet, "refused");
                for (size_t k = 0; drifted && k < json_object_array_length(drifted); k++)
                        printf("%s%s", k == 0 ? "  drift: " : ", ", json_object_get_string(json_object_array_get_idx(drifted, k)));
                for (size_t k = 0; refused && k < json_object_array_length(refused); k++) {
                        json_object *r = json_object_array_get_idx(refused, k);
                        printf("%s%s (%s)", k == 0 ? "  refused: " : ", ", strna(ctl_jstr(r, "attribute")), strna(ctl_jstr(r, "error")));
                }
                printf("\n");
        }
        if (bound < n_vfs)
                printf("   %zu of %zu VFs have no driver bound\n", n_vfs - bound, n_vfs);
}

static void print_other(json_object *d) {
        printf("%-14s %-7s ", strna(ctl_jstr(d, "address")), strna(ctl_jstr(d, "role")));
        printf("%-12s ", ctl_jstr(d, "driver") ?: "-");
        print_group(ctl_jint(d, "iommu_group", -1));
        print_name(d);
        printf("\n");
}

static void print_hierarchy(json_object *d) {
        json_object *h = ctl_jget(d, "hierarchy"), *b = ctl_jget(h, "blocking_functions");

        if (!h)
                return;
        printf("   hierarchy %s: %s", strna(ctl_jstr(d, "address")), strna(ctl_jstr(h, "state")));
        if (b && json_object_array_length(b) > 0) {
                printf("; the kernel cannot recover it, functions without a driver:");
                for (size_t i = 0; i < json_object_array_length(b); i++)
                        printf(" %s", strna(ctl_jstr(json_object_array_get_idx(b, i), "address")));
        } else
                printf("; every function below has a driver");
        printf("\n");
}

static void print_aer(json_object *d) {
        json_object *aer = ctl_jget(d, "aer");
        static const char *const kinds[] = { "correctable", "nonfatal", "fatal" };

        if (!aer)
                return;
        printf("   AER %s:", strna(ctl_jstr(d, "address")));
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                json_object *k = ctl_jget(aer, kinds[i]);
                if (k)
                        printf(" %s %" PRId64, kinds[i], ctl_jint(k, "total", 0));
        }
        printf("\n");
}

static void print_device_detail(json_object *d) {
        const char *role = ctl_jstr(d, "role");

        if (role && streq(role, "pf"))
                print_pf(d);
        else {
                printf("%-14s %-7s %-12s %-6s NAME\n", "ADDRESS", "ROLE", "DRIVER", "IOMMU");
                print_other(d);
                json_object *vf = ctl_jget(d, "vf");
                if (vf)
                        printf("   VF %" PRId64 " of PF %s\n", ctl_jint(vf, "index", -1), strna(ctl_jstr(vf, "pf")));
        }
        print_aer(d);
        print_hierarchy(d);
}

/* sriovd answers at once after a restart, while it still applies its configuration:
 * the counts shown are those of that moment, and the operations below say what runs. */
static void print_daemon_state(json_object *body) {
        json_object *daemon = ctl_jget(body, "daemon"), *ready = ctl_jget(daemon, "ready");

        if (!ready || !json_object_is_type(ready, json_type_boolean) || json_object_get_boolean(ready))
                return;
        int64_t n = ctl_jint(daemon, "applying_configuration", 0);
        if (n < 0 || n > 1000000)
                n = 0;  /* not the daemon's to make us print nonsense */
        printf("sriovd is starting: applying its configuration to %" PRId64 " PF(s); their operations are listed below\n\n", n);
}

static void print_devices(json_object *body, bool all) {
        json_object *devs = ctl_jget(body, "devices");
        size_t n = devs ? json_object_array_length(devs) : 0, pfs = 0;

        print_daemon_state(body);

        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                const char *role = ctl_jstr(d, "role");
                if (role && streq(role, "pf")) {
                        if (pfs++ > 0)
                                printf("\n");
                        print_pf(d);
                }
        }
        if (pfs == 0)
                printf("No SR-IOV physical functions among %zu PCI functions%s\n", n, all ? "" : " (--all lists them)");

        if (!all)
                return;
        printf("\n%-14s %-7s %-12s %-6s NAME\n", "ADDRESS", "ROLE", "DRIVER", "IOMMU");
        for (size_t i = 0; i < n; i++)
                print_other(json_object_array_get_idx(devs, i));
        for (size_t i = 0; i < n; i++)
                print_aer(json_object_array_get_idx(devs, i));
}

static void print_hierarchies(json_object *body) {
        json_object *devs = ctl_jget(body, "devices");
        for (size_t i = 0; devs && i < json_object_array_length(devs); i++)
                print_hierarchy(json_object_array_get_idx(devs, i));
}

/* An exit status, or -ENOENT when there is no PF (the caller lists all functions). */
static int status_pfs_and_hierarchies(struct ctl_context *ctx) {
        _cleanup_(ctl_response_done) struct ctl_response pfs = {}, bridges = {};
        json_object *devs;

        if (ctl_call(ctx, "GET", "/v1/devices?role=pf", NULL, &pfs) < 0)
                return ctl_transport_exit(ctx);
        if (pfs.status != 200)
                return ctl_print_api_error(&pfs);
        devs = ctl_jget(pfs.json, "devices");
        if (!devs || !json_object_is_type(devs, json_type_array)) {
                fprintf(stderr, "sriovctl: sriovd sent a reply that is not JSON\n");
                return CTL_EXIT_FAILED;
        }
        if (json_object_array_length(devs) == 0)
                return -ENOENT;
        if (ctl_call(ctx, "GET", "/v1/devices?role=bridge", NULL, &bridges) < 0)
                return ctl_transport_exit(ctx);
        if (bridges.status != 200)
                return ctl_print_api_error(&bridges);
        print_devices(pfs.json, false);
        print_hierarchies(bridges.json);
        return CTL_EXIT_OK;
}

int ctl_status(struct ctl_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "all", no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        bool json = false, all = false;
        char path[64];
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "jah", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'a':
                        all = true;
                        break;
                case 'h':
                        printf("Usage: sriovctl status [ADDRESS] [--json] [--all]\n\n"
                               "Shows SR-IOV physical functions with their VFs, drivers and IOMMU groups.\n"
                               "  ADDRESS   one PCI function (DDDD:BB:SS.F)\n"
                               "  --all     every PCI function, not only PFs\n"
                               "  --json    the API's JSON, unchanged\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind > 1) {
                fprintf(stderr, "sriovctl status: at most one ADDRESS\n");
                return CTL_EXIT_USAGE;
        }

        if (optind < argc) {
                struct sriov_addr a;
                if (sriov_addr_parse(argv[optind], &a) < 0) {
                        fprintf(stderr, "sriovctl status: '%s' is not a PCI address (expected DDDD:BB:SS.F, e.g. 0000:3b:00.0)\n",
                                argv[optind]);
                        return CTL_EXIT_USAGE;
                }
                snprintf(path, sizeof(path), "/v1/devices/%s", SRIOV_ADDR_STR(&a));
        } else if (!json && !all) {
                /* The PFs carry their VFs and the root ports their hierarchies: on a host
                 * with 16k functions that is a tenth of the whole list to read and parse. */
                r = status_pfs_and_hierarchies(ctx);
                if (r != -ENOENT)
                        return r;
                snprintf(path, sizeof(path), "/v1/devices");    /* no PF: say among how many functions */
        } else
                snprintf(path, sizeof(path), "/v1/devices");

        r = ctl_call(ctx, "GET", path, NULL, &resp);
        if (r < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200)
                return ctl_print_api_error(&resp);

        if (json) {
                fputs(resp.body, stdout);
                if (resp.body_len == 0 || resp.body[resp.body_len - 1] != '\n')
                        fputc('\n', stdout);
                return CTL_EXIT_OK;
        }
        if (!resp.json) {
                fprintf(stderr, "sriovctl: sriovd sent a reply that is not JSON\n");
                return CTL_EXIT_FAILED;
        }
        if (optind < argc)
                print_device_detail(ctl_jget(resp.json, "device"));
        else {
                print_devices(resp.json, all);
                print_hierarchies(resp.json);
        }
        return CTL_EXIT_OK;
}
