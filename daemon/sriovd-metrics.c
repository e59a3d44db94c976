/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sriov-listen.h"
#include "sriov-recovery.h"
#include "sriovd-events.h"
#include "sriovd-ifname.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-metrics.h"
#include "sriovd-operation.h"
#include "sriovd-recovery.h"

/* One entry per function something was counted for (error uevents, a finished
 * operation, a recovery). Bounded: past this many functions new ones are not counted
 * (and that is counted), so a hostile or broken uevent source cannot grow the scrape. */
#define METRICS_FUNCTIONS_MAX 8192
#define METRICS_RELOAD_ERRORS_MAX 20
#define METRICS_HTTP_TIMEOUT_SEC 10

enum { SEV_CORRECTABLE, SEV_NONFATAL, SEV_FATAL, SEV_UNKNOWN, _SEV_MAX };
static const char *const severity_names[_SEV_MAX] = { "correctable", "nonfatal", "fatal", "unknown" };

static const char *const op_kind_names[_SRIOVD_OP_KIND_MAX] = { "enable", "disable", "bind", "unbind" };
static const char *const op_result_names[_SRIOVD_OP_RESULT_MAX] = { "complete", "partial", "failed", "hung" };
static const char *const recovery_result_names[_SRIOVD_RECOVERY_RESULT_MAX] = { "succeeded", "failed", "notified" };
static const char *const hung_kind_names[_SRIOVD_HUNG_KIND_MAX] = { "sriov_numvfs", "bind",
                                                                           "sriov_drivers_autoprobe",
                                                                           "remove-rescan-reset" };

/* Operation durations in seconds: a disable takes milliseconds, an enable of many VFs
 * with a settle window seconds to minutes. */
static const double duration_buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
#define N_BUCKETS ELEMENTSOF(duration_buckets)

struct fn_counters {
        struct sriov_addr addr;
        int last_result;                /* SriovdOpResult of the last enable/disable, -1: none */
        uint64_t error_uevents[_SEV_MAX];
        uint64_t recoveries[_SRIOVD_RECOVERY_RESULT_MAX];
};

struct histogram {
        uint64_t buckets[N_BUCKETS];    /* cumulative at render time, per bucket here */
        uint64_t count;
        double sum;
};

struct sriovd_metrics {
        struct sriovd_manager *manager;
        bool per_vf;

        uint64_t operations[_SRIOVD_OP_KIND_MAX][_SRIOVD_OP_RESULT_MAX];
        struct histogram durations[_SRIOVD_OP_KIND_MAX];
        uint64_t hung_writes[_SRIOVD_HUNG_KIND_MAX];
        uint64_t functions_not_counted;

        size_t n_fns;
        struct fn_counters *fns;        /* sorted by address */

        uint64_t reloads_ok, reloads_failed;
        bool have_reload, last_reload_ok;
        uint64_t last_reload_realtime_usec, last_ok_reload_realtime_usec;
        char **last_reload_errors;

        uint64_t start_realtime_usec;

        /* the TCP listener */
        char *listen_address;
        struct evhttp *http;
};

const char *sriovd_op_result_to_string(SriovdOpResult r) {
        return r >= 0 && r < _SRIOVD_OP_RESULT_MAX ? op_result_names[r] : NULL;
}

const char *sriovd_op_kind_to_string(SriovdOpKind k) {
        return k >= 0 && k < _SRIOVD_OP_KIND_MAX ? op_kind_names[k] : NULL;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int sriovd_metrics_new(struct sriovd_manager *m, struct sriovd_metrics **ret) {
        struct sriovd_metrics *x = calloc(1, sizeof(*x));

        if (!x)
                return -ENOMEM;
        x->manager = m;
        x->start_realtime_usec = realtime_usec();
        *ret = x;
        return 0;
}

static void listener_close(struct sriovd_metrics *x) {
        if (x->http)
                evhttp_free(x->http);   /* closes the listening socket too */
        x->http = NULL;
        free(x->listen_address);
        x->listen_address = NULL;
}

struct sriovd_metrics *sriovd_metrics_free(struct sriovd_metrics *x) {
        if (!x)
                return NULL;
        listener_close(x);
        strv_free(x->last_reload_errors);
        free(x->fns);
        free(x);
        return NULL;
}

/* ---- counting ---------------------------------------------------------------------------- */

static struct fn_counters *fn_get(struct sriovd_metrics *x, const struct sriov_addr *a) {
        size_t lo = 0, hi = x->n_fns;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int k = sriov_addr_compare(&x->fns[mid].addr, a);
                if (k == 0)
                        return &x->fns[mid];
                if (k < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (x->n_fns >= METRICS_FUNCTIONS_MAX) {
                x->functions_not_counted++;
                return NULL;
        }
        struct fn_counters *nl = reallocarray(x->fns, x->n_fns + 1, sizeof(*nl));
        if (!nl)
                return NULL;
        x->fns = nl;
        memmove(&x->fns[lo + 1], &x->fns[lo], (x->n_fns - lo) * sizeof(*nl));
        x->fns[lo] = (struct fn_counters) { .addr = *a, .last_result = -1 };
        x->n_fns++;
        return &x->fns[lo];
}

static const struct fn_counters *fn_find(const struct sriovd_metrics *x, const struct sriov_addr *a) {
        size_t lo = 0, hi = x->n_fns;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int k = sriov_addr_compare(&x->fns[mid].addr, a);
                if (k == 0)
                        return &x->fns[mid];
                if (k < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

void sriovd_metrics_operation_done(struct sriovd_metrics *x, const struct sriov_addr *pf, SriovdOpKind kind,
                                   SriovdOpResult result, uint64_t duration_usec) {
        if (!x || kind < 0 || kind >= _SRIOVD_OP_KIND_MAX || result < 0 || result >= _SRIOVD_OP_RESULT_MAX)
                return;
        x->operations[kind][result]++;

        struct histogram *h = &x->durations[kind];
        double seconds = (double) duration_usec / 1e6;
        h->count++;
        h->sum += seconds;
        for (size_t i = 0; i < N_BUCKETS; i++)
                if (seconds <= duration_buckets[i]) {
                        h->buckets[i]++;
                        break;
                }

        if (kind == SRIOVD_OP_KIND_ENABLE || kind == SRIOVD_OP_KIND_DISABLE) {
                struct fn_counters *f = fn_get(x, pf);
                if (f)
                        f->last_result = result;
        }
}

void sriovd_metrics_hung_write(struct sriovd_metrics *x, SriovdHungKind kind) {
        if (x && kind >= 0 && kind < _SRIOVD_HUNG_KIND_MAX)
                x->hung_writes[kind]++;
}

void sriovd_metrics_error_uevent(struct sriovd_metrics *x, const struct sriov_addr *addr, const char *severity) {
        struct fn_counters *f;
        size_t sev = SEV_UNKNOWN;

        if (!x)
                return;
        for (size_t i = 0; i < SEV_UNKNOWN; i++)
                if (severity && streq(severity, severity_names[i]))
                        sev = i;
        f = fn_get(x, addr);
        if (f)
                f->error_uevents[sev]++;
}

void sriovd_metrics_recovery_done(struct sriovd_metrics *x, const struct sriov_addr *pf, SriovdRecoveryResult result) {
        struct fn_counters *f;

        if (!x || result < 0 || result >= _SRIOVD_RECOVERY_RESULT_MAX)
                return;
        f = fn_get(x, pf);
        if (f)
                f->recoveries[result]++;
}

void sriovd_metrics_config_reloaded(struct sriovd_metrics *x, bool ok, char *const *errors) {
        if (!x)
                return;
        if (ok)
                x->reloads_ok++;
        else
                x->reloads_failed++;
        x->have_reload = true;
        x->last_reload_ok = ok;
        x->last_reload_realtime_usec = realtime_usec();
        if (ok)
                x->last_ok_reload_realtime_usec = x->last_reload_realtime_usec;

        x->last_reload_errors = (strv_free(x->last_reload_errors), NULL);
        size_t n = 0;
        while (errors && errors[n] && n < METRICS_RELOAD_ERRORS_MAX)
                n++;
        if (n == 0)
                return;
        x->last_reload_errors = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; x->last_reload_errors && i < n; i++)
                x->last_reload_errors[i] = strdup(errors[i]);   /* a NULL ends the list early */
}

static void format_rfc3339(uint64_t usec, char buf[static 32]) {
        time_t t = (time_t) (usec / 1000000u);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

json_object *sriovd_metrics_last_reload_json(struct sriovd_metrics *x) {
        json_object *o, *errs;
        char when[32];

        if (!x || !x->have_reload)
                return NULL;
        o = json_object_new_object();
        errs = json_object_new_array();
        format_rfc3339(x->last_reload_realtime_usec, when);
        json_object_object_add(o, "ok", json_object_new_boolean(x->last_reload_ok));
        json_object_object_add(o, "time", json_object_new_string(when));
        for (char **e = x->last_reload_errors; e && *e; e++)
                json_object_array_add(errs, json_object_new_string(*e));
        json_object_object_add(o, "errors", errs);
        return o;
}

/* ---- rendering --------------------------------------------------------------------------- */

static void family(struct evbuffer *out, const char *name, const char *type, const char *help) {
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, double quote and newline escaped.
 * Addresses and driver names never need it; interface names might. */
static void add_escaped(struct evbuffer *out, const char *s) {
        const char *run = s;

        for (; *s; s++) {
                const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
                if (!esc)
                        continue;
                evbuffer_add(out, run, (size_t) (s - run));
                evbuffer_add(out, esc, 2);
                run = s + 1;
        }
        evbuffer_add(out, run, (size_t) (s - run));
}

/* pf="ADDR"[,ifname="NAME"] */
static void add_pf_labels(struct sriovd_metrics *x, struct evbuffer *out, const struct sriov_addr *pf) {
        const char *ifname = sriovd_ifname_get(x->manager->ifnames, pf);
        char a[SRIOV_ADDR_STRLEN];

        evbuffer_add_printf(out, "pf=\"%s\"", sriov_addr_format(pf, a));
        if (ifname) {
                evbuffer_add(out, ",ifname=\"", 9);
                add_escaped(out, ifname);
                evbuffer_add(out, "\"", 1);
        }
}

static void pf_gauge(struct sriovd_metrics *x, struct evbuffer *out, const char *name, const struct sriov_addr *pf,
                     uint64_t value) {
        evbuffer_add_printf(out, "%s{", name);
        add_pf_labels(x, out, pf);
        evbuffer_add_printf(out, "} %" PRIu64 "\n", value);
}

struct pf_numbers {
        const struct sriov_device *d;
        uint64_t bound, usable;
        bool have_desired, drift;
        unsigned desired;
};

static void pf_numbers(struct sriovd_metrics *x, const struct sriov_device *d, struct pf_numbers *ret) {
        struct sriovd_manager *m = x->manager;
        const struct sriov_desired *want = sriovd_manager_get_desired(m, &d->addr);
        struct pf_numbers n = { .d = d };

        for (size_t i = 0; i < d->pf.n_vfs; i++) {
                const struct sriov_device *vf = sriov_model_get(m->model, &d->pf.vfs[i].addr);
                bool bound = vf && vf->driver;
                n.bound += bound;
                /* As the enable report counts: with drivers autoprobe off a VF is usable
                 * without a driver (it is meant to be bound later). */
                n.usable += bound || (vf && d->pf.drivers_autoprobe == 0);
        }
        if (want) {
                n.have_desired = true;
                n.desired = want->num_vfs;
                n.drift = want->num_vfs != d->pf.n_vfs && !(m->ops && sriovd_ops_busy(m->ops, &d->addr));
        }
        *ret = n;
}

static void render_pfs(struct sriovd_metrics *x, struct evbuffer *out) {
        const struct sriov_model *model = x->manager->model;
        size_t n_pfs = 0;

        for (size_t i = 0; i < sriov_model_size(model); i++)
                n_pfs += sriov_model_at(model, i)->role == SRIOV_ROLE_PF;
        _cleanup_free_ struct pf_numbers *pfs = calloc(n_pfs ?: 1, sizeof(*pfs));
        if (!pfs)
                return;
        size_t k = 0;
        for (size_t i = 0; i < sriov_model_size(model) && k < n_pfs; i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if (d->role == SRIOV_ROLE_PF)
                        pf_numbers(x, d, &pfs[k++]);
        }

        family(out, "sriovd_pf_total_vfs", "gauge", "VFs the PF supports (sriov_totalvfs).");
        for (size_t i = 0; i < n_pfs; i++)
                pf_gauge(x, out, "sriovd_pf_total_vfs", &pfs[i].d->addr, pfs[i].d->pf.total_vfs);
        family(out, "sriovd_pf_requested_vfs", "gauge",
               "VFs asked for (the desired count sriovd keeps); PFs nobody asked anything of have no series.");
        for (size_t i = 0; i < n_pfs; i++)
                if (pfs[i].have_desired)
                        pf_gauge(x, out, "sriovd_pf_requested_vfs", &pfs[i].d->addr, pfs[i].desired);
        family(out, "sriovd_pf_enumerated_vfs", "gauge", "VFs the kernel has enumerated (virtfnN links).");
        for (size_t i = 0; i < n_pfs; i++)
                pf_gauge(x, out, "sriovd_pf_enumerated_vfs", &pfs[i].d->addr, pfs[i].d->pf.n_vfs);
        family(out, "sriovd_pf_bound_vfs", "gauge", "VFs bound to a driver.");
        for (size_t i = 0; i < n_pfs; i++)
                pf_gauge(x, out, "sriovd_pf_bound_vfs", &pfs[i].d->addr, pfs[i].bound);
        family(out, "sriovd_pf_usable_vfs", "gauge",
               "VFs usable: bound to a driver, or present when drivers autoprobe is off.");
        for (size_t i = 0; i < n_pfs; i++)
                pf_gauge(x, out, "sriovd_pf_usable_vfs", &pfs[i].d->addr, pfs[i].usable);
        family(out, "sriovd_pf_drift", "gauge",
               "1 when the kernel's VF count differs from the desired one and no operation is running.");
        for (size_t i = 0; i < n_pfs; i++)
                pf_gauge(x, out, "sriovd_pf_drift", &pfs[i].d->addr, pfs[i].drift);

        family(out, "sriovd_pf_enablement_result", "gauge",
               "The result of the PF's last enable or disable: 1 for the result it had, 0 for the others "
               "(none: no operation since sriovd started).");
        for (size_t i = 0; i < n_pfs; i++) {
                const struct fn_counters *f = fn_find(x, &pfs[i].d->addr);
                int last = f ? f->last_result : -1;
                for (int r = -1; r < _SRIOVD_OP_RESULT_MAX; r++) {
                        evbuffer_add(out, "sriovd_pf_enablement_result{", 28);
                        add_pf_labels(x, out, &pfs[i].d->addr);
                        evbuffer_add_printf(out, ",result=\"%s\"} %d\n", r < 0 ? "none" : op_result_names[r], last == r);
                }
        }
}

static void render_operations(struct sriovd_metrics *x, struct evbuffer *out) {
        family(out, "sriovd_operations_total", "counter", "Operations finished, by kind and result.");
        for (size_t k = 0; k < _SRIOVD_OP_KIND_MAX; k++)
                for (size_t r = 0; r < _SRIOVD_OP_RESULT_MAX; r++)
                        evbuffer_add_printf(out, "sriovd_operations_total{kind=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                                            op_kind_names[k], op_result_names[r], x->operations[k][r]);

        family(out, "sriovd_operation_duration_seconds", "histogram",
               "Time from an operation's request to its result (a hung write counts until it is reported).");
        for (size_t k = 0; k < _SRIOVD_OP_KIND_MAX; k++) {
                const struct histogram *h = &x->durations[k];
                uint64_t cumulative = 0;
                for (size_t i = 0; i < N_BUCKETS; i++) {
                        cumulative += h->buckets[i];
                        evbuffer_add_printf(out, "sriovd_operation_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                                            op_kind_names[k], duration_buckets[i], cumulative);
                }
                evbuffer_add_printf(out, "sriovd_operation_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                                    "sriovd_operation_duration_seconds_sum{kind=\"%s\"} %.6f\n"
                                    "sriovd_operation_duration_seconds_count{kind=\"%s\"} %" PRIu64 "\n",
                                    op_kind_names[k], h->count, op_kind_names[k], h->sum, op_kind_names[k], h->count);
        }

        family(out, "sriovd_sysfs_writes_hung_total", "counter",
               "Kernel writes that outlived their deadline (reported hung; the kernel still holds them).");
        for (size_t k = 0; k < _SRIOVD_HUNG_KIND_MAX; k++)
                evbuffer_add_printf(out, "sriovd_sysfs_writes_hung_total{attribute=\"%s\"} %" PRIu64 "\n",
                                    hung_kind_names[k], x->hung_writes[k]);
}

/* The kernel's own AER counters, from the model (read at each error uevent and at the
 * aer-poll-interval): TOTAL_ERR_* per class. */
static void render_aer(struct sriovd_metrics *x, struct evbuffer *out) {
        const struct sriov_model *model = x->manager->model;
        char a[SRIOV_ADDR_STRLEN];

        family(out, "sriovd_aer_errors_total", "counter",
               "PCIe AER errors the kernel counted for the function (aer_dev_*: TOTAL_ERR_*), by severity.");
        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if (!sriov_aer_present(&d->aer) || (d->role == SRIOV_ROLE_VF && !x->per_vf))
                        continue;
                sriov_addr_format(&d->addr, a);
                for (size_t k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                        if (d->aer.kinds[k].present && d->aer.kinds[k].has_total)
                                evbuffer_add_printf(out, "sriovd_aer_errors_total{pci=\"%s\",severity=\"%s\"} %" PRIu64 "\n",
                                                    a, sriov_aer_kind_to_string(k), d->aer.kinds[k].total);
        }
        family(out, "sriovd_aer_rootport_errors_total", "counter",
               "PCIe AER errors reported to a root port from below it (aer_rootport_total_err_*), by severity.");
        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if (!d->aer.has_rootport)
                        continue;
                sriov_addr_format(&d->addr, a);
                for (size_t k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                        evbuffer_add_printf(out, "sriovd_aer_rootport_errors_total{pci=\"%s\",severity=\"%s\"} %" PRIu64 "\n",
                                            a, sriov_aer_kind_to_string(k), d->aer.rootport_total[k]);
        }
        family(out, "sriovd_error_uevents_total", "counter",
               "ERROR_EVENT uevents received for the function, by the most severe AER class that grew "
               "(unknown: no counter grew).");
        for (size_t i = 0; i < x->n_fns; i++) {
                const struct fn_counters *f = &x->fns[i];
                sriov_addr_format(&f->addr, a);
                for (size_t s = 0; s < _SEV_MAX; s++)
                        if (f->error_uevents[s] > 0)
                                evbuffer_add_printf(out, "sriovd_error_uevents_total{pci=\"%s\",severity=\"%s\"} %" PRIu64 "\n",
                                                    a, severity_names[s], f->error_uevents[s]);
        }
}

struct hierarchy {
        struct sriov_addr addr;
        uint64_t blocking;              /* driverless functions below it */
};

static void render_hierarchies(struct sriovd_metrics *x, struct evbuffer *out) {
        struct sriovd_manager *m = x->manager;
        const struct sriov_model *model = m->model;
        size_t n = 0;
        char a[SRIOV_ADDR_STRLEN];

        /* The lock hierarchies that matter: root ports, and PFs straight on a root bus.
         * The model is sorted, so the list is too. */
        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                n += (d->role == SRIOV_ROLE_BRIDGE || d->role == SRIOV_ROLE_PF) &&
                     sriov_addr_equal(sriov_device_hierarchy(d), &d->addr);
        }
        _cleanup_free_ struct hierarchy *hs = calloc(n ?: 1, sizeof(*hs));
        if (!hs)
                return;
        size_t k = 0;
        for (size_t i = 0; i < sriov_model_size(model) && k < n; i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if ((d->role == SRIOV_ROLE_BRIDGE || d->role == SRIOV_ROLE_PF) &&
                    sriov_addr_equal(sriov_device_hierarchy(d), &d->addr))
                        hs[k++].addr = d->addr;
        }
        /* The same rule as the hierarchy's kernel_can_recover in the API
         * (sriov_model_blockers): one pass over the model for every hierarchy. */
        struct sriov_blockers blockers;
        if (sriov_model_blockers(model, &blockers) < 0)
                return;
        for (size_t i = 0; i < k; i++) {
                const struct sriov_device *const *unused;
                hs[i].blocking = sriov_blockers_of(&blockers, &hs[i].addr, &unused);
        }
        sriov_blockers_done(&blockers);

        family(out, "sriovd_hierarchy_kernel_can_recover", "gauge",
               "1 when every function below the root port has a driver, so the kernel's AER recovery can succeed.");
        for (size_t i = 0; i < k; i++)
                evbuffer_add_printf(out, "sriovd_hierarchy_kernel_can_recover{hierarchy=\"%s\"} %d\n",
                                    sriov_addr_format(&hs[i].addr, a), hs[i].blocking == 0);
        family(out, "sriovd_hierarchy_blocking_functions", "gauge",
               "Functions below the root port without a driver (each makes the kernel's recovery fail).");
        for (size_t i = 0; i < k; i++)
                evbuffer_add_printf(out, "sriovd_hierarchy_blocking_functions{hierarchy=\"%s\"} %" PRIu64 "\n",
                                    sriov_addr_format(&hs[i].addr, a), hs[i].blocking);
        family(out, "sriovd_hierarchy_recovering", "gauge",
               "1 while the kernel (or sriovd) recovers the hierarchy: no write starts there.");
        for (size_t i = 0; i < k; i++)
                evbuffer_add_printf(out, "sriovd_hierarchy_recovering{hierarchy=\"%s\"} %d\n",
                                    sriov_addr_format(&hs[i].addr, a),
                                    sriovd_manager_hierarchy_recovering(m, &hs[i].addr));

        family(out, "sriovd_kernel_recoveries_total", "counter",
               "The kernel's AER recoveries of the hierarchy by result, as its ERROR_EVENT uevents told them "
               "(begun counts every start).");
        for (size_t i = 0; i < k; i++) {
                struct sriov_recovery_counters c = {};
                sriov_addr_format(&hs[i].addr, a);
                if (m->recovery)
                        sriovd_recovery_kernel_counters(m->recovery, &hs[i].addr, &c);
                evbuffer_add_printf(out,
                                    "sriovd_kernel_recoveries_total{hierarchy=\"%s\",result=\"begun\"} %" PRIu64 "\n"
                                    "sriovd_kernel_recoveries_total{hierarchy=\"%s\",result=\"succeeded\"} %" PRIu64 "\n"
                                    "sriovd_kernel_recoveries_total{hierarchy=\"%s\",result=\"failed\"} %" PRIu64 "\n"
                                    "sriovd_kernel_recoveries_total{hierarchy=\"%s\",result=\"timed_out\"} %" PRIu64 "\n",
                                    a, (uint64_t) c.begun, a, (uint64_t) c.succeeded, a, (uint64_t) c.failed, a,
                                    (uint64_t) c.timed_out);
        }

        family(out, "sriovd_recoveries_total", "counter",
               "sriovd's own user-space recoveries of a PF (after the kernel's failed, or on request), by result.");
        for (size_t i = 0; i < x->n_fns; i++) {
                const struct fn_counters *f = &x->fns[i];
                bool any = false;
                for (size_t r = 0; r < _SRIOVD_RECOVERY_RESULT_MAX; r++)
                        any = any || f->recoveries[r] > 0;
                if (!any)
                        continue;
                for (size_t r = 0; r < _SRIOVD_RECOVERY_RESULT_MAX; r++) {
                        evbuffer_add(out, "sriovd_recoveries_total{", 24);
                        add_pf_labels(x, out, &f->addr);
                        evbuffer_add_printf(out, ",result=\"%s\"} %" PRIu64 "\n", recovery_result_names[r], f->recoveries[r]);
                }
        }
}

static void render_vfs(struct sriovd_metrics *x, struct evbuffer *out) {
        const struct sriov_model *model = x->manager->model;
        char pa[SRIOV_ADDR_STRLEN], va[SRIOV_ADDR_STRLEN];

        family(out, "sriovd_vf_bound", "gauge", "1 when the VF is bound to a driver (metrics-per-vf = yes).");
        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if (d->role != SRIOV_ROLE_VF)
                        continue;
                evbuffer_add_printf(out, "sriovd_vf_bound{pf=\"%s\",vf=\"%s\",index=\"%d\",driver=\"%s\"} %d\n",
                                    sriov_addr_format(&d->vf.pf, pa), sriov_addr_format(&d->addr, va), d->vf.index,
                                    d->driver ?: "", d->driver != NULL);
        }
}

int sriovd_metrics_render(struct sriovd_metrics *x, struct evbuffer *out) {
        struct sriovd_manager *m = x->manager;

        family(out, "sriovd_build_info", "gauge", "sriovd's version (always 1).");
        evbuffer_add_printf(out, "sriovd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
        family(out, "sriovd_start_time_seconds", "gauge", "When sriovd started, in seconds since the epoch.");
        evbuffer_add_printf(out, "sriovd_start_time_seconds %.3f\n", (double) x->start_realtime_usec / 1e6);
        family(out, "sriovd_ready", "gauge", "1 once sriovd applied its configuration at start (READY=1).");
        evbuffer_add_printf(out, "sriovd_ready %d\n", !m->starting);
        family(out, "sriovd_uevents_total", "counter", "Kernel uevents handled.");
        evbuffer_add_printf(out, "sriovd_uevents_total %" PRIu64 "\n", m->n_uevents);

        render_pfs(x, out);
        render_operations(x, out);
        render_aer(x, out);
        render_hierarchies(x, out);
        if (x->per_vf)
                render_vfs(x, out);

        family(out, "sriovd_events_recorded_total", "counter", "Events recorded in the PCIe error event history.");
        evbuffer_add_printf(out, "sriovd_events_recorded_total %" PRIu64 "\n",
                            m->events ? sriovd_events_recorded(m->events) : 0);
        family(out, "sriovd_events_dropped_total", "counter",
               "Events that fell off the bounded event history (history-size) before anyone read them.");
        evbuffer_add_printf(out, "sriovd_events_dropped_total %" PRIu64 "\n",
                            m->events ? sriovd_events_dropped(m->events) : 0);
        family(out, "sriovd_metrics_functions_not_counted_total", "counter",
               "Per-function counts not kept because the table of counted functions was full.");
        evbuffer_add_printf(out, "sriovd_metrics_functions_not_counted_total %" PRIu64 "\n", x->functions_not_counted);

        family(out, "sriovd_config_reloads_total", "counter",
               "Configuration reloads (SIGHUP, sriovctl reload, a changed file), by result.");
        evbuffer_add_printf(out, "sriovd_config_reloads_total{result=\"success\"} %" PRIu64 "\n"
                                 "sriovd_config_reloads_total{result=\"failure\"} %" PRIu64 "\n",
                            x->reloads_ok, x->reloads_failed);
        family(out, "sriovd_config_last_reload_successful", "gauge",
               "0 when the last reload was refused (the running configuration stayed); 1 otherwise.");
        evbuffer_add_printf(out, "sriovd_config_last_reload_successful %d\n", !x->have_reload || x->last_reload_ok);
        family(out, "sriovd_config_last_reload_success_timestamp_seconds", "gauge",
               "When the configuration was last loaded successfully (at start or by a reload).");
        evbuffer_add_printf(out, "sriovd_config_last_reload_success_timestamp_seconds %.3f\n",
                            (double) (x->last_ok_reload_realtime_usec ?: x->start_realtime_usec) / 1e6);
        return 0;
}

void sriovd_metrics_reply(struct sriovd_metrics *x, struct evhttp_request *req) {
        struct evbuffer *buf = evbuffer_new();

        if (!buf) {
                evhttp_send_error(req, 500, "Out of memory");
                return;
        }
        (void) sriovd_metrics_render(x, buf);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", SRIOVD_METRICS_CONTENT_TYPE);
        evhttp_send_reply(req, 200, "OK", buf);
        evbuffer_free(buf);
}

/* ---- the TCP listener: read-only, two paths ------------------------------------------------ */

static void reply_text(struct evhttp_request *req, int status, const char *reason, const char *text) {
        struct evbuffer *buf = evbuffer_new();

        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
        if (buf)
                evbuffer_add(buf, text, strlen(text));
        evhttp_send_reply(req, status, reason, buf);
        if (buf)
                evbuffer_free(buf);
}

static void tcp_dispatch(struct evhttp_request *req, void *userdata) {
        struct sriovd_metrics *x = userdata;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
        enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
        bool metrics = path && streq(path, "/metrics"), healthz = path && streq(path, "/healthz");

        /* Nothing else exists here: the API with its writes is only on the Unix socket,
         * where peer credentials tell who is asking. */
        if (!metrics && !healthz) {
                reply_text(req, 404, "Not Found", "Not found: this listener serves only GET /metrics and GET /healthz\n");
                return;
        }
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
                reply_text(req, 405, "Method Not Allowed", "Method not allowed: this listener is read-only (GET, HEAD)\n");
                return;
        }
        if (metrics) {
                sriovd_metrics_reply(x, req);
                return;
        }
        /* Live: the loop answers. Ready: the configuration applied at start (as READY=1);
         * the probes of a DaemonSet use both. */
        if (x->manager->starting)
                reply_text(req, 503, "Service Unavailable", "starting: applying the configuration\n");
        else
                reply_text(req, 200, "OK", "ok\n");
}

static int listener_open(struct sriovd_metrics *x, const char *address) {
        struct sockaddr_storage ss;
        socklen_t len;
        _cleanup_close_ int fd = -EBADF;
        struct evhttp *http;
        int one = 1;

        if (sriov_listen_address_parse(address, &ss, &len) < 0)
                return log_error_errno(EINVAL, "metrics-listen: '%s' is not ADDRESS:PORT", address);
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "metrics-listen %s: cannot create a socket", address);
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0)
                return log_error_errno(errno, "metrics-listen %s: cannot bind", address);
        if (listen(fd, 16) < 0)
                return log_error_errno(errno, "metrics-listen %s: cannot listen", address);

        http = evhttp_new(x->manager->base);
        if (!http)
                return -ENOMEM;
        /* No request here has a body; headers are small; a slow client is cut off. */
        evhttp_set_max_body_size(http, 0);
        evhttp_set_max_headers_size(http, 8192);
        evhttp_set_timeout(http, METRICS_HTTP_TIMEOUT_SEC);
        /* Every method reaches the dispatcher, which answers 405 (not evhttp's 501). */
        evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
        evhttp_set_gencb(http, tcp_dispatch, x);
        if (evhttp_accept_socket(http, fd) < 0) {
                evhttp_free(http);
                return log_error_errno(EIO, "metrics-listen %s: cannot accept connections", address);
        }
        TAKE_FD(fd);    /* evhttp's listener owns it now */

        listener_close(x);
        x->http = http;
        x->listen_address = strdup(address);
        log_info("Metrics on http://%s/metrics (read-only: GET /metrics, GET /healthz)", address);
        return 0;
}

int sriovd_metrics_configure(struct sriovd_metrics *x, const struct sriov_daemon_config *d) {
        const char *want = d ? d->metrics_listen : NULL;

        if (!x)
                return 0;
        x->per_vf = d && d->metrics_per_vf;
        if (!want) {
                if (x->http)
                        log_info("Metrics listener on %s closed (metrics-listen unset)", x->listen_address);
                listener_close(x);
                return 0;
        }
        if (x->listen_address && streq(x->listen_address, want))
                return 0;
        /* Closed first: the same port with another address would otherwise be taken. */
        if (x->http) {
                _cleanup_free_ char *old = strdup(x->listen_address);
                listener_close(x);
                int r = listener_open(x, want);
                if (r < 0 && old && listener_open(x, old) == 0)
                        log_warning("Keeping the metrics listener on %s", old);
                return r;
        }
        return listener_open(x, want);
}
