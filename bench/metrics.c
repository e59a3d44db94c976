/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-metrics: rendering GET /metrics (daemon/sriovd-metrics.c) for a big host, from a
 * model scanned from a hand-built sysfs tree (tests/unit/fixture-tree.c): P root ports
 * with AER counters, one PF below each with V VFs bound to a driver (default 64 x 256,
 * the 16k-VF host), and a counted operation per PF.
 *
 * Phases, each repeated --reps times (median and min in ms, and the size of the text):
 *   render            the default exposition (per-PF aggregates)
 *   render-per-vf     with metrics-per-vf = yes
 *
 * The rendering reads no sysfs (it reads the model); the tree only feeds the scan.
 * Usage: bench-metrics [--pfs P] [--vfs V] [--reps R] [--json FILE] */
#include <event2/buffer.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture-tree.h"
#include "sriov-model.h"
#include "sriovd-manager.h"
#include "sriovd-metrics.h"

#define CHECK(x)                                                                          \
        do {                                                                              \
                int _r = (x);                                                             \
                if (_r < 0) {                                                             \
                        fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, strerror(-_r)); \
                        exit(1);                                                          \
                }                                                                         \
        } while (0)

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void build_tree(struct fixture_tree *t, unsigned pfs, unsigned vfs) {
        const char *aer = "RxErr 0\nBadTLP 0\nTOTAL_ERR_COR 0\n";
        const char *aer_nf = "Undefined 0\nDLP 0\nTOTAL_ERR_NONFATAL 0\n";
        const char *aer_f = "Undefined 0\nDLP 0\nTOTAL_ERR_FATAL 0\n";

        for (unsigned i = 0; i < pfs; i++) {
                char rp[SRIOV_ADDR_STRLEN], pf[SRIOV_ADDR_STRLEN];
                struct sriov_addr pfa = { .domain = 0, .bus = (uint8_t) (2 * i + 1) };

                snprintf(rp, sizeof(rp), "0000:00:%02x.%x", 2 + i / 8, i % 8);
                sriov_addr_format(&pfa, pf);
                CHECK(fixture_add_function(t, NULL, rp, 0x1b36, 0x000c, 0x060400));
                CHECK(fixture_set_driver(t, rp, "pcieport"));
                CHECK(fixture_set_attr(t, rp, "aer_dev_correctable", aer));
                CHECK(fixture_set_attr(t, rp, "aer_dev_nonfatal", aer_nf));
                CHECK(fixture_set_attr(t, rp, "aer_dev_fatal", aer_f));
                CHECK(fixture_set_attr(t, rp, "aer_rootport_total_err_cor", "0\n"));
                CHECK(fixture_set_attr(t, rp, "aer_rootport_total_err_nonfatal", "0\n"));
                CHECK(fixture_set_attr(t, rp, "aer_rootport_total_err_fatal", "0\n"));
                CHECK(fixture_add_function(t, rp, pf, 0x8086, 0x1572, 0x020000));
                CHECK(fixture_set_driver(t, pf, "i40e"));
                CHECK(fixture_make_pf(t, pf, vfs, 1, 1, 0x154c));
                for (unsigned k = 0; k < vfs; k++) {
                        struct sriov_addr va;
                        char vf[SRIOV_ADDR_STRLEN];
                        CHECK(sriov_addr_vf(&pfa, 1, 1, k, &va));
                        sriov_addr_format(&va, vf);
                        CHECK(fixture_add_vf(t, pf, k, vf, true));
                        CHECK(fixture_set_driver(t, vf, "iavf"));
                }
        }
}

static void phase(struct sriovd_metrics *x, const char *name, unsigned reps, FILE *json, bool *first) {
        double *t = calloc(reps, sizeof(double));
        size_t bytes = 0;

        for (unsigned r = 0; r < reps; r++) {
                struct evbuffer *b = evbuffer_new();
                double t0 = now_ms();
                CHECK(sriovd_metrics_render(x, b));
                t[r] = now_ms() - t0;
                bytes = evbuffer_get_length(b);
                evbuffer_free(b);
        }
        qsort(t, reps, sizeof(double), cmp_double);
        printf("%-16s median %8.2f ms   min %8.2f ms   %9zu bytes\n", name, t[reps / 2], t[0], bytes);
        if (json)
                fprintf(json, "%s\n    {\"phase\": \"%s\", \"median_ms\": %.3f, \"min_ms\": %.3f, \"bytes\": %zu}",
                        *first ? "" : ",", name, t[reps / 2], t[0], bytes);
        *first = false;
        free(t);
}

int main(int argc, char **argv) {
        unsigned pfs = 64, vfs = 256, reps = 11;
        const char *json_path = NULL;
        static const struct option opts[] = {
                { "pfs", required_argument, NULL, 'p' },
                { "vfs", required_argument, NULL, 'v' },
                { "reps", required_argument, NULL, 'r' },
                { "json", required_argument, NULL, 'j' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'p': pfs = (unsigned) atoi(optarg); break;
                case 'v': vfs = (unsigned) atoi(optarg); break;
                case 'r': reps = (unsigned) atoi(optarg); break;
                case 'j': json_path = optarg; break;
                default: return 2;
                }
        if (pfs < 1 || pfs > 120 || vfs > 500 || reps < 1)
                return fprintf(stderr, "--pfs 1..120, --vfs 0..500, --reps >= 1\n"), 2;

        struct fixture_tree *t = NULL;
        struct sriov_sysfs *sysfs = NULL;
        struct sriovd_manager m = {};
        struct sriovd_metrics *x = NULL;

        CHECK(fixture_tree_new(&t));
        double t0 = now_ms();
        build_tree(t, pfs, vfs);
        printf("tree: %u PFs x %u VFs in %.0f ms\n", pfs, vfs, now_ms() - t0);
        CHECK(sriov_sysfs_new(fixture_tree_sysfs(t), &sysfs));
        CHECK(sriov_model_new(sysfs, NULL, &m.model));
        t0 = now_ms();
        CHECK(sriov_model_scan(m.model));
        printf("scan: %zu functions in %.0f ms\n", sriov_model_size(m.model), now_ms() - t0);

        /* A daemon's worth of counters: one finished enable per PF. */
        CHECK(sriovd_metrics_new(&m, &x));
        for (size_t i = 0; i < sriov_model_size(m.model); i++) {
                const struct sriov_device *d = sriov_model_at(m.model, i);
                if (d->role == SRIOV_ROLE_PF)
                        sriovd_metrics_operation_done(x, &d->addr, SRIOVD_OP_KIND_ENABLE, SRIOVD_OP_RESULT_COMPLETE,
                                                      1500000);
        }

        FILE *json = json_path ? fopen(json_path, "w") : NULL;
        bool first = true;
        if (json)
                fprintf(json, "{\"benchmark\": \"metrics\", \"pfs\": %u, \"vfs_per_pf\": %u, \"reps\": %u, \"phases\": [",
                        pfs, vfs, reps);
        phase(x, "render", reps, json, &first);
        struct sriov_daemon_config per_vf = { .metrics_per_vf = true };
        CHECK(sriovd_metrics_configure(x, &per_vf));
        phase(x, "render-per-vf", reps, json, &first);
        if (json) {
                fprintf(json, "\n]}\n");
                fclose(json);
        }

        sriovd_metrics_free(x);
        sriov_model_free(m.model);
        sriov_sysfs_free(sysfs);
        fixture_tree_free(t);
        return 0;
}
