/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-model: the device model (libsriov) against a hand-built sysfs tree with one PF
 * and N VFs, laid out as the kernel lays it out (tests/unit/fixture-tree.c: plain files
 * and relative symlinks in a temporary directory, no preload library).
 *
 * Phases, per N (default 1024 and 4096):
 *   scan           sriov_model_scan() of the whole tree (with pci.ids names, as sriovd)
 *   scan-nonames   the same without the name database
 *   refresh-vf     sriov_model_refresh() of every VF (a change/bind uevent)
 *   refresh-pf     sriov_model_refresh() of the PF (a PF change uevent that left the VF set:
 *                  two links checked)
 *   resync-pf      sriov_model_resync() of the PF (after lost uevents: the links listed)
 *   forget-vf      sriov_model_forget() of every VF in index order (remove uevents, as
 *                  the kernel's sriov_disable removes them)
 *   add-vf         sriov_model_refresh() of every VF again in index order (add uevents)
 *   json-build     sriov_device_to_json() of every function into one array (GET /v1/devices)
 *   json-string    json_object_to_json_string_ext() of that array
 *   json-pf        sriov_device_to_json() + string of the PF alone (GET /v1/devices/{pf})
 *
 * Time: CLOCK_MONOTONIC around each phase, repeated --reps times (median and min reported,
 * ns per operation). Under valgrind the phases run once and each is bracketed by
 * CALLGRIND_ZERO_STATS / CALLGRIND_DUMP_STATS_AT("<phase> n=<N> ops=<ops>") so that
 * bench/run-callgrind.sh can report instructions per operation.
 *
 * With $BENCH_SYSCALL_MARKERS set, phases are marked for strace (bench/run-syscalls.sh).
 *
 * Usage: bench-model [--sizes 1024,4096] [--reps R] [--quick] [--json FILE] */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_ZERO_STATS do {} while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void) (s); } while (0)
#endif

#include "fixture-tree.h"
#include "sriov-json.h"
#include "sriov-model.h"
#include "sriov-names.h"

#ifndef BENCH_SOURCE_ROOT
#define BENCH_SOURCE_ROOT "."
#endif

#define MAX_PHASES 16
#define MAX_REPS 64

#define RP_ADDR "0000:00:02.0"
#define PF_ADDR "0000:01:00.0"

struct phase {
        char name[32];
        size_t ops;
        size_t n_samples;
        double ns[MAX_REPS];
        size_t bytes;           /* json phases: output size */
};

struct run {
        unsigned n_vfs;
        size_t n_devices;
        double build_s;
        size_t n_phases;
        struct phase phases[MAX_PHASES];
};

static int die_r(int r, const char *what) {
        fprintf(stderr, "bench-model: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}
#define CHECK(expr) do { int _r = (expr); if (_r < 0) die_r(_r, #expr); } while (0)

static double now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n) {
        double s[MAX_REPS];
        memcpy(s, v, n * sizeof(*v));
        qsort(s, n, sizeof(*s), cmp_double);
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double minimum(const double *v, size_t n) {
        double m = v[0];
        for (size_t i = 1; i < n; i++)
                if (v[i] < m)
                        m = v[i];
        return m;
}

static void vf_addr(unsigned i, char buf[static 32]) {
        /* PF 01:00.0, First VF Offset 1, VF Stride 1 */
        unsigned rid = (0x01 << 8) + 1 + i;
        snprintf(buf, 32, "0000:%02x:%02x.%x", (rid >> 8) & 0xff, (rid >> 3) & 0x1f, rid & 7);
}

static struct sriov_addr parse(const char *s) {
        struct sriov_addr a;
        if (sriov_addr_parse(s, &a) < 0)
                die_r(EINVAL, s);
        return a;
}

static const char aer_cor[] =
        "RxErr 0\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\n"
        "TOTAL_ERR_COR 0\n";
static const char aer_unc[] =
        "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n"
        "MalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\n"
        "TLPBlockedErr 0\nPoisonTLPBlocked 0\n";

static void build_tree(struct fixture_tree *t, unsigned n) {
        char addr[32], buf[600];

        CHECK(fixture_add_function(t, NULL, RP_ADDR, 0x1b36, 0x000c, 0x060400));
        CHECK(fixture_set_driver(t, RP_ADDR, "pcieport"));
        CHECK(fixture_set_iommu_group(t, RP_ADDR, 0));
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_dev_correctable", aer_cor));
        snprintf(buf, sizeof(buf), "%sTOTAL_ERR_NONFATAL 0\n", aer_unc);
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_dev_nonfatal", buf));
        snprintf(buf, sizeof(buf), "%sTOTAL_ERR_FATAL 0\n", aer_unc);
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_dev_fatal", buf));
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_rootport_total_err_cor", "0\n"));
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_rootport_total_err_nonfatal", "0\n"));
        CHECK(fixture_set_attr(t, RP_ADDR, "aer_rootport_total_err_fatal", "0\n"));

        CHECK(fixture_add_function(t, RP_ADDR, PF_ADDR, 0x1b36, 0x0010, 0x010802));
        CHECK(fixture_set_driver(t, PF_ADDR, "nvme"));
        CHECK(fixture_set_iommu_group(t, PF_ADDR, 1));
        CHECK(fixture_make_pf(t, PF_ADDR, n, 1, 1, 0x0010));

        for (unsigned i = 0; i < n; i++) {
                vf_addr(i, addr);
                CHECK(fixture_add_vf(t, PF_ADDR, i, addr, true));
                CHECK(fixture_set_driver(t, addr, "nvme"));
                CHECK(fixture_set_iommu_group(t, addr, 2 + (int) i));
        }
}

static struct phase *phase_get(struct run *run, const char *name, size_t ops) {
        for (size_t i = 0; i < run->n_phases; i++)
                if (streq(run->phases[i].name, name))
                        return &run->phases[i];
        if (run->n_phases == MAX_PHASES)
                die_r(E2BIG, "phases");
        struct phase *p = &run->phases[run->n_phases++];
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->ops = ops;
        return p;
}

/* Brackets one phase: a time sample, and under callgrind a dump named after it. */
struct timer {
        struct run *run;
        const char *name;
        size_t ops;
        double t0;
};

/* With $BENCH_SYSCALL_MARKERS set, each phase is bracketed by access("/@bench/begin/<phase>")
 * and access("/@bench/end/<phase>"), which bench/run-syscalls.sh finds in strace's output. */
static bool syscall_markers;

static void marker(const char *what, const char *name) {
        char path[96];

        if (!syscall_markers)
                return;
        snprintf(path, sizeof(path), "/@bench/%s/%s", what, name);
        (void) access(path, F_OK);
}

static struct timer phase_begin(struct run *run, const char *name, size_t ops) {
        marker("begin", name);
        CALLGRIND_ZERO_STATS;
        return (struct timer) { .run = run, .name = name, .ops = ops, .t0 = now_ns() };
}

static struct phase *phase_end(struct timer *t) {
        double dt = now_ns() - t->t0;
        char label[96];

        marker("end", t->name);
        snprintf(label, sizeof(label), "%s n=%u ops=%zu", t->name, t->run->n_vfs, t->ops);
        CALLGRIND_DUMP_STATS_AT(label);
        (void) label;
        struct phase *p = phase_get(t->run, t->name, t->ops);
        if (p->n_samples < MAX_REPS)
                p->ns[p->n_samples++] = dt;
        return p;
}

static void run_one(unsigned n, unsigned reps, struct run *run) {
        struct fixture_tree *t = NULL;
        struct sriov_sysfs *sysfs = NULL;
        struct sriov_names *names = NULL;
        struct sriov_model *m = NULL, *m_nonames = NULL;
        struct sriov_addr pf = parse(PF_ADDR);
        struct sriov_addr *vfs;
        char addr[32];
        double t0;

        memset(run, 0, sizeof(*run));
        run->n_vfs = n;

        t0 = now_ns();
        CHECK(fixture_tree_new(&t));
        build_tree(t, n);
        run->build_s = (now_ns() - t0) / 1e9;

        vfs = calloc(n ? n : 1, sizeof(*vfs));
        if (!vfs)
                die_r(ENOMEM, "calloc");
        for (unsigned i = 0; i < n; i++) {
                vf_addr(i, addr);
                vfs[i] = parse(addr);
        }

        CHECK(sriov_sysfs_new(fixture_tree_sysfs(t), &sysfs));
        if (sriov_names_new(NULL, &names) < 0)
                names = NULL;
        CHECK(sriov_model_new(sysfs, names, &m));
        CHECK(sriov_model_new(sysfs, NULL, &m_nonames));
        /* Warm up: the first name lookup loads pci.ids; the first scan fills the dentry cache. */
        CHECK(sriov_model_scan(m));
        run->n_devices = sriov_model_size(m);
        if (run->n_devices != (size_t) n + 2)
                die_r(EBADMSG, "unexpected device count after scan");
        const struct sriov_device *pfd = sriov_model_get(m, &pf);
        if (!pfd || pfd->pf.n_vfs != n)
                die_r(EBADMSG, "PF does not list N VFs");

        for (unsigned rep = 0; rep < reps; rep++) {
                struct timer tm;

                tm = phase_begin(run, "scan", 1);
                CHECK(sriov_model_scan(m));
                phase_end(&tm);

                tm = phase_begin(run, "scan-nonames", 1);
                CHECK(sriov_model_scan(m_nonames));
                phase_end(&tm);

                tm = phase_begin(run, "refresh-vf", n);
                for (unsigned i = 0; i < n; i++)
                        CHECK(sriov_model_refresh(m, &vfs[i]));
                phase_end(&tm);

                tm = phase_begin(run, "refresh-pf", 1);
                CHECK(sriov_model_refresh(m, &pf));
                phase_end(&tm);

                tm = phase_begin(run, "resync-pf", 1);
                CHECK(sriov_model_resync(m, &pf));
                phase_end(&tm);
                pfd = sriov_model_get(m, &pf);
                if (!pfd || pfd->pf.n_vfs != n)
                        die_r(EBADMSG, "PF does not list N VFs after a refresh");

                tm = phase_begin(run, "forget-vf", n);
                for (unsigned i = 0; i < n; i++)
                        CHECK(sriov_model_forget(m, &vfs[i]));
                phase_end(&tm);
                pfd = sriov_model_get(m, &pf);
                if (sriov_model_size(m) != 2 || pfd->pf.n_vfs != 0)
                        die_r(EBADMSG, "forget left VFs behind");

                tm = phase_begin(run, "add-vf", n);
                for (unsigned i = 0; i < n; i++)
                        CHECK(sriov_model_refresh(m, &vfs[i]));
                phase_end(&tm);
                pfd = sriov_model_get(m, &pf);
                if (sriov_model_size(m) != (size_t) n + 2 || pfd->pf.n_vfs != n)
                        die_r(EBADMSG, "add did not bring the VFs back");

                json_object *arr;
                size_t len;

                tm = phase_begin(run, "json-build", sriov_model_size(m));
                arr = json_object_new_array_ext((int) sriov_model_size(m));
                for (size_t i = 0; i < sriov_model_size(m); i++)
                        json_object_array_add(arr, sriov_device_to_json(m, sriov_model_at(m, i)));
                phase_end(&tm);

                tm = phase_begin(run, "json-string", sriov_model_size(m));
                len = strlen(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
                phase_end(&tm)->bytes = len;
                json_object_put(arr);

                tm = phase_begin(run, "json-pf", 1);
                arr = sriov_device_to_json(m, sriov_model_get(m, &pf));
                len = strlen(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
                phase_end(&tm)->bytes = len;
                json_object_put(arr);
        }

        sriov_model_free(m_nonames);
        sriov_model_free(m);
        sriov_names_free(names);
        sriov_sysfs_free(sysfs);
        fixture_tree_free(t);
        free(vfs);
}

static void json_machine(FILE *f) {
        struct utsname u;
        double la[3] = {};
        char date[64], commit[128] = "";
        time_t now = time(NULL);
        FILE *p;

        (void) uname(&u);
        if (getloadavg(la, 3) < 0)
                la[0] = la[1] = la[2] = -1;
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S+00:00", gmtime(&now));
        p = popen("git -C '" BENCH_SOURCE_ROOT "' rev-parse HEAD 2>/dev/null", "r");
        if (p) {
                if (fgets(commit, sizeof(commit), p))
                        commit[strcspn(commit, "\n")] = '\0';
                pclose(p);
        }
        fprintf(f, "\"machine\": {\"nproc\": %ld, \"loadavg\": [%.2f, %.2f, %.2f], \"kernel\": \"%s\", "
                "\"date\": \"%s\", \"git_commit\": \"%s\", \"valgrind\": %s}",
                sysconf(_SC_NPROCESSORS_ONLN), la[0], la[1], la[2], u.release, date, commit,
                RUNNING_ON_VALGRIND ? "true" : "false");
}

static void write_json(const char *path, const struct run *runs, size_t n_runs, unsigned reps) {
        FILE *f = fopen(path, "we");

        if (!f) {
                fprintf(stderr, "bench-model: cannot write %s: %m\n", path);
                return;
        }
        fprintf(f, "{\"benchmark\": \"model\", ");
        json_machine(f);
        fprintf(f, ",\n \"params\": {\"reps\": %u, \"clock\": \"CLOCK_MONOTONIC\"},\n \"results\": [", reps);
        for (size_t r = 0; r < n_runs; r++) {
                const struct run *run = &runs[r];
                fprintf(f, "%s\n  {\"n_vfs\": %u, \"n_devices\": %zu, \"tree_build_s\": %.3f, \"phases\": [",
                        r ? "," : "", run->n_vfs, run->n_devices, run->build_s);
                for (size_t i = 0; i < run->n_phases; i++) {
                        const struct phase *p = &run->phases[i];
                        double med = median(p->ns, p->n_samples), mn = minimum(p->ns, p->n_samples);
                        fprintf(f, "%s\n   {\"phase\": \"%s\", \"ops\": %zu, \"samples\": %zu, "
                                "\"median_ns\": %.0f, \"min_ns\": %.0f, \"median_ns_per_op\": %.1f, "
                                "\"min_ns_per_op\": %.1f, \"bytes\": %zu}",
                                i ? "," : "", p->name, p->ops, p->n_samples, med, mn,
                                p->ops ? med / p->ops : 0, p->ops ? mn / p->ops : 0, p->bytes);
                }
                fprintf(f, "]}");
        }
        fprintf(f, "]}\n");
        fclose(f);
        printf("results: %s\n", path);
}

static void print_table(const struct run *runs, size_t n_runs, unsigned reps) {
        double la[3] = {};

        if (getloadavg(la, 3) < 0)
                la[0] = la[1] = la[2] = -1;
        printf("# bench-model: %u reps per phase; load average %.2f %.2f %.2f; %ld CPUs\n", reps, la[0], la[1],
               la[2], sysconf(_SC_NPROCESSORS_ONLN));
        printf("%6s  %-13s  %6s  %12s  %12s  %12s  %10s\n", "N VFs", "phase", "ops", "median us", "ns/op (med)",
               "ns/op (min)", "bytes");
        printf("%6s  %-13s  %6s  %12s  %12s  %12s  %10s\n", "------", "-------------", "------", "------------",
               "------------", "------------", "----------");
        for (size_t r = 0; r < n_runs; r++)
                for (size_t i = 0; i < runs[r].n_phases; i++) {
                        const struct phase *p = &runs[r].phases[i];
                        double med = median(p->ns, p->n_samples), mn = minimum(p->ns, p->n_samples);
                        char bytes[32] = "-";
                        if (p->bytes)
                                snprintf(bytes, sizeof(bytes), "%zu", p->bytes);
                        printf("%6u  %-13s  %6zu  %12.1f  %12.0f  %12.0f  %10s\n", runs[r].n_vfs, p->name, p->ops,
                               med / 1e3, med / p->ops, mn / p->ops, bytes);
                }
        fflush(stdout);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "sizes", required_argument, NULL, 's' },
                { "reps", required_argument, NULL, 'r' },
                { "quick", no_argument, NULL, 'q' },
                { "json", required_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned sizes[8] = { 1024, 4096 }, n_sizes = 2, reps = 7;
        const char *json_path = NULL;
        bool quick = false, reps_set = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 's': {
                        char *copy = strdup(optarg), *save = NULL;
                        n_sizes = 0;
                        for (char *tok = strtok_r(copy, ",", &save); tok && n_sizes < 8;
                             tok = strtok_r(NULL, ",", &save))
                                sizes[n_sizes++] = (unsigned) strtoul(tok, NULL, 10);
                        free(copy);
                        break;
                }
                case 'r':
                        reps = (unsigned) strtoul(optarg, NULL, 10);
                        reps_set = true;
                        break;
                case 'q':
                        quick = true;
                        break;
                case 'j':
                        json_path = optarg;
                        break;
                case 'h':
                        printf("Usage: %s [--sizes 1024,4096] [--reps R] [--quick] [--json FILE]\n", argv[0]);
                        return 0;
                default:
                        return 2;
                }
        syscall_markers = getenv("BENCH_SYSCALL_MARKERS") != NULL;
        if (quick && !reps_set)
                reps = 3;
        if (RUNNING_ON_VALGRIND && !reps_set)
                reps = 1;
        if (reps < 1)
                reps = 1;
        if (reps > MAX_REPS)
                reps = MAX_REPS;

        struct run *runs = calloc(n_sizes, sizeof(*runs));
        if (!runs)
                return 1;
        for (unsigned i = 0; i < n_sizes; i++) {
                fprintf(stderr, "bench-model: N=%u: building the tree...\n", sizes[i]);
                run_one(sizes[i], reps, &runs[i]);
        }
        print_table(runs, n_sizes, reps);
        if (json_path)
                write_json(json_path, runs, n_sizes, reps);
        free(runs);
        return 0;
}
