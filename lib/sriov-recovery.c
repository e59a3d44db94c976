/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-recovery.h"

#define _fallthrough_ __attribute__((fallthrough))

static const char *table_to_string(const char *const *table, size_t n, int v) {
        if (v < 0 || (size_t) v >= n)
                return NULL;
        return table[v];
}

static int table_from_string(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

static const char *const hierarchy_state_table[_SRIOV_HIERARCHY_STATE_MAX] = {
        [SRIOV_HIERARCHY_IDLE] = "idle",
        [SRIOV_HIERARCHY_RECOVERING] = "recovering",
        [SRIOV_HIERARCHY_SETTLING] = "settling",
};

static const char *const result_table[_SRIOV_RECOVERY_RESULT_MAX] = {
        [SRIOV_RECOVERY_SUCCEEDED] = "succeeded",
        [SRIOV_RECOVERY_FAILED] = "failed",
        [SRIOV_RECOVERY_TIMED_OUT] = "timed-out",
};

static const char *const outcome_table[_SRIOV_DEVICE_OUTCOME_MAX] = {
        [SRIOV_DEVICE_OUTCOME_NONE] = "none",
        [SRIOV_DEVICE_OUTCOME_SUCCEEDED] = "succeeded",
        [SRIOV_DEVICE_OUTCOME_FAILED] = "failed",
};

static const char *const policy_table[_SRIOV_RECOVERY_POLICY_MAX] = {
        [SRIOV_RECOVERY_POLICY_NONE] = "none",
        [SRIOV_RECOVERY_POLICY_NOTIFY] = "notify",
        [SRIOV_RECOVERY_POLICY_REMOVE_RESCAN] = "remove-rescan",
        [SRIOV_RECOVERY_POLICY_RESET] = "reset",
};

static const char *const action_table[_SRIOV_PF_ACTION_KIND_MAX] = {
        [SRIOV_PF_ACTION_NONE] = "none",
        [SRIOV_PF_ACTION_DISABLE_VFS] = "disable-vfs",
        [SRIOV_PF_ACTION_REMOVE_PF] = "remove-pf",
        [SRIOV_PF_ACTION_REMOVE_BRIDGE] = "remove-bridge",
        [SRIOV_PF_ACTION_RESCAN_PORT] = "rescan-port",
        [SRIOV_PF_ACTION_RESCAN_BUS] = "rescan-bus",
        [SRIOV_PF_ACTION_WAIT_PF] = "wait-pf",
        [SRIOV_PF_ACTION_RESET_PF] = "reset-pf",
        [SRIOV_PF_ACTION_RESTORE_VFS] = "restore-vfs",
        [SRIOV_PF_ACTION_RESTORE_BINDINGS] = "restore-bindings",
        [SRIOV_PF_ACTION_VERIFY] = "verify",
        [SRIOV_PF_ACTION_WAIT_RETRY] = "wait-retry",
        [SRIOV_PF_ACTION_DONE_OK] = "done-ok",
        [SRIOV_PF_ACTION_DONE_FAILED] = "done-failed",
        [SRIOV_PF_ACTION_NOTIFY_ONLY] = "notify-only",
};

const char *sriov_hierarchy_state_to_string(SriovHierarchyState s) {
        return table_to_string(hierarchy_state_table, ELEMENTSOF(hierarchy_state_table), s);
}

const char *sriov_recovery_result_to_string(SriovRecoveryResult r) {
        return table_to_string(result_table, ELEMENTSOF(result_table), r);
}

SriovRecoveryResult sriov_recovery_result_from_string(const char *s) {
        return table_from_string(result_table, ELEMENTSOF(result_table), s);
}

const char *sriov_device_outcome_to_string(SriovDeviceOutcome o) {
        return table_to_string(outcome_table, ELEMENTSOF(outcome_table), o);
}

const char *sriov_recovery_policy_to_string(SriovRecoveryPolicy p) {
        return table_to_string(policy_table, ELEMENTSOF(policy_table), p);
}

SriovRecoveryPolicy sriov_recovery_policy_from_string(const char *s) {
        return table_from_string(policy_table, ELEMENTSOF(policy_table), s);
}

const char *sriov_pf_action_kind_to_string(SriovPfActionKind k) {
        return table_to_string(action_table, ELEMENTSOF(action_table), k);
}

SriovPfActionKind sriov_pf_action_kind_from_string(const char *s) {
        return table_from_string(action_table, ELEMENTSOF(action_table), s);
}

static uint64_t usec_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* domain(32) | RID(16): one integer per function, ordered like sriov_addr_compare(). */
static uint64_t addr_key(const struct sriov_addr *a) {
        return (uint64_t) a->domain << 16 | sriov_addr_rid(a);
}

static struct sriov_addr key_addr(uint64_t key) {
        struct sriov_addr a;

        sriov_addr_from_rid((uint32_t) (key >> 16), (uint16_t) key, &a);
        return a;
}

/* ---------------------------------------------------------------------------------------
 * (a) Hierarchy tracker
 * ------------------------------------------------------------------------------------- */

/* Upstream bridges named by any device of a running recovery. An outcome on a device that
 * is not one of them (nor the root port) resolves only that device, so the common case -
 * an outcome per function - needs no scan of the device table. Past the bound every
 * outcome scans, which is slower but still right. */
#define BRIDGES_KNOWN_MAX 32

struct dev_entry {
        uint64_t key;
        uint32_t order;                 /* position of first sight, for the report */
        bool begun;
        bool own;
        uint8_t n_chain;
        SriovDeviceOutcome outcome;
        uint64_t chain[SRIOV_RECOVERY_CHAIN_MAX];
};

struct hierarchy {
        uint64_t key;
        SriovHierarchyState state;
        uint64_t deadline;

        /* The running recovery; reset when it ends. */
        uint64_t start_usec;
        uint64_t last_event_usec;
        uint64_t last_outcome_usec;
        bool have_outcome;
        bool begin_missed;
        bool any_failed;
        unsigned n_events;
        unsigned n_dropped;
        unsigned n_failed_dropped;
        size_t n_unresolved;            /* begun devices without an outcome */
        struct dev_entry *devs;         /* sorted by key */
        size_t n_devs, n_alloc;
        uint64_t bridges[BRIDGES_KNOWN_MAX];
        size_t n_bridges;
        bool bridges_overflow;

        struct sriov_recovery_counters counters;
};

struct sriov_recovery_tracker {
        struct sriov_recovery_tracker_config config;

        struct hierarchy *hs;           /* sorted by key */
        size_t n_hs, n_alloc_hs;

        struct sriov_recovery_report **reports; /* ring of config.max_reports */
        size_t reports_head, n_reports;

        uint64_t events_refused;
        uint64_t reports_dropped;
};

void sriov_recovery_tracker_config_init(struct sriov_recovery_tracker_config *c) {
        *c = (struct sriov_recovery_tracker_config) {
                .timeout_usec = SRIOV_RECOVERY_TIMEOUT_USEC_DEFAULT,
                .settle_usec = SRIOV_RECOVERY_SETTLE_USEC_DEFAULT,
                .max_devices = SRIOV_RECOVERY_MAX_DEVICES_DEFAULT,
                .max_hierarchies = SRIOV_RECOVERY_MAX_HIERARCHIES_DEFAULT,
                .max_reports = SRIOV_RECOVERY_MAX_REPORTS_DEFAULT,
        };
}

struct sriov_recovery_report *sriov_recovery_report_free(struct sriov_recovery_report *r) {
        free(r);
        return NULL;
}

int sriov_recovery_tracker_new(const struct sriov_recovery_tracker_config *config, sriov_recovery_tracker **ret) {
        _cleanup_(sriov_recovery_tracker_freep) sriov_recovery_tracker *t = NULL;
        struct sriov_recovery_tracker_config c;

        if (!ret)
                return -EINVAL;
        if (config)
                c = *config;
        else
                sriov_recovery_tracker_config_init(&c);
        if (c.max_devices == 0 || c.max_hierarchies == 0 || c.max_reports == 0)
                return -EINVAL;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->config = c;
        t->reports = calloc(c.max_reports, sizeof(*t->reports));
        if (!t->reports)
                return -ENOMEM;
        *ret = TAKE_PTR(t);
        return 0;
}

sriov_recovery_tracker *sriov_recovery_tracker_free(sriov_recovery_tracker *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_hs; i++)
                free(t->hs[i].devs);
        free(t->hs);
        for (size_t i = 0; i < t->n_reports; i++)
                free(t->reports[(t->reports_head + i) % t->config.max_reports]);
        free(t->reports);
        free(t);
        return NULL;
}

/* Index of the first element with key >= key in a sorted array of structs whose first
 * member is the uint64_t key. */
static size_t lower_bound(const void *base, size_t n, size_t size, uint64_t key) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                uint64_t k;
                memcpy(&k, (const char *) base + mid * size, sizeof(k));
                if (k < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static struct hierarchy *hierarchy_find(const sriov_recovery_tracker *t, uint64_t key) {
        size_t i = lower_bound(t->hs, t->n_hs, sizeof(*t->hs), key);
        return i < t->n_hs && t->hs[i].key == key ? &t->hs[i] : NULL;
}

static int hierarchy_get(sriov_recovery_tracker *t, uint64_t key, struct hierarchy **ret) {
        size_t i = lower_bound(t->hs, t->n_hs, sizeof(*t->hs), key);

        if (i < t->n_hs && t->hs[i].key == key) {
                *ret = &t->hs[i];
                return 0;
        }
        if (t->n_hs >= t->config.max_hierarchies) {
                t->events_refused++;
                return -ENOSPC;
        }
        if (t->n_hs == t->n_alloc_hs) {
                size_t n = t->n_alloc_hs ? t->n_alloc_hs * 2 : 8;
                if (n > t->config.max_hierarchies)
                        n = t->config.max_hierarchies;
                struct hierarchy *hs = reallocarray(t->hs, n, sizeof(*hs));
                if (!hs)
                        return -ENOMEM;
                t->hs = hs;
                t->n_alloc_hs = n;
        }
        memmove(&t->hs[i + 1], &t->hs[i], (t->n_hs - i) * sizeof(*t->hs));
        t->hs[i] = (struct hierarchy) { .key = key, .deadline = SRIOV_USEC_INFINITY };
        t->n_hs++;
        *ret = &t->hs[i];
        return 0;
}

static struct dev_entry *dev_find(struct hierarchy *h, uint64_t key) {
        size_t i = lower_bound(h->devs, h->n_devs, sizeof(*h->devs), key);
        return i < h->n_devs && h->devs[i].key == key ? &h->devs[i] : NULL;
}

/* A new entry, or NULL when the table is full (counted) or memory ran out. */
static struct dev_entry *dev_add(sriov_recovery_tracker *t, struct hierarchy *h, uint64_t key,
                                 const uint64_t *chain, size_t n_chain) {
        size_t i;

        if (h->n_devs >= t->config.max_devices) {
                h->n_dropped++;
                h->counters.devices_dropped++;
                return NULL;
        }
        if (h->n_devs == h->n_alloc) {
                size_t n = h->n_alloc ? h->n_alloc * 2 : 16;
                if (n > t->config.max_devices)
                        n = t->config.max_devices;
                struct dev_entry *d = reallocarray(h->devs, n, sizeof(*d));
                if (!d) {
                        /* Same as the cap: not listed, counted, not waited for. */
                        h->n_dropped++;
                        h->counters.devices_dropped++;
                        return NULL;
                }
                h->devs = d;
                h->n_alloc = n;
        }
        i = lower_bound(h->devs, h->n_devs, sizeof(*h->devs), key);
        memmove(&h->devs[i + 1], &h->devs[i], (h->n_devs - i) * sizeof(*h->devs));
        h->devs[i] = (struct dev_entry) { .key = key, .order = (uint32_t) h->n_devs, .n_chain = (uint8_t) n_chain };
        memcpy(h->devs[i].chain, chain, n_chain * sizeof(*chain));
        h->n_devs++;

        for (size_t c = 0; c < n_chain; c++) {
                bool known = false;
                for (size_t b = 0; b < h->n_bridges; b++)
                        if (h->bridges[b] == chain[c])
                                known = true;
                if (known)
                        continue;
                if (h->n_bridges < BRIDGES_KNOWN_MAX)
                        h->bridges[h->n_bridges++] = chain[c];
                else
                        h->bridges_overflow = true;
        }
        return &h->devs[i];
}

static bool is_known_bridge(const struct hierarchy *h, uint64_t key) {
        if (h->bridges_overflow)
                return true;
        for (size_t b = 0; b < h->n_bridges; b++)
                if (h->bridges[b] == key)
                        return true;
        return false;
}

static void report_push(sriov_recovery_tracker *t, struct sriov_recovery_report *r) {
        size_t cap = t->config.max_reports;

        if (t->n_reports == cap) {
                /* Nobody popped for a while: keep the newest, count what went. */
                free(t->reports[t->reports_head]);
                t->reports_head = (t->reports_head + 1) % cap;
                t->n_reports--;
                t->reports_dropped++;
        }
        t->reports[(t->reports_head + t->n_reports) % cap] = r;
        t->n_reports++;
}

static int cmp_order(const void *a, const void *b) {
        const struct dev_entry *x = *(struct dev_entry *const *) a, *y = *(struct dev_entry *const *) b;
        return x->order < y->order ? -1 : x->order > y->order;
}

static void hierarchy_reset(struct hierarchy *h) {
        free(h->devs);
        struct sriov_recovery_counters c = h->counters;
        uint64_t key = h->key;
        *h = (struct hierarchy) { .key = key, .counters = c, .deadline = SRIOV_USEC_INFINITY };
}

/* Ends the running recovery: report, counters, back to IDLE. */
static void hierarchy_finish(sriov_recovery_tracker *t, struct hierarchy *h, bool timed_out) {
        struct sriov_recovery_report *r;
        SriovRecoveryResult result;
        unsigned n_failed = h->n_failed_dropped;

        assert(h->state != SRIOV_HIERARCHY_IDLE);

        if (h->any_failed)
                result = SRIOV_RECOVERY_FAILED;
        else if (h->n_unresolved > 0)
                result = SRIOV_RECOVERY_TIMED_OUT;
        else
                result = SRIOV_RECOVERY_SUCCEEDED;

        switch (result) {
        case SRIOV_RECOVERY_SUCCEEDED:
                h->counters.succeeded++;
                break;
        case SRIOV_RECOVERY_FAILED:
                h->counters.failed++;
                break;
        default:
                h->counters.timed_out++;
        }

        r = malloc(sizeof(*r) + h->n_devs * sizeof(r->devices[0]));
        if (r) {
                _cleanup_free_ struct dev_entry **order = h->n_devs ? calloc(h->n_devs, sizeof(*order)) : NULL;

                *r = (struct sriov_recovery_report) {
                        .hierarchy = key_addr(h->key),
                        .result = result,
                        .start_usec = h->start_usec,
                        .end_usec = timed_out ? h->deadline
                                  : h->have_outcome ? h->last_outcome_usec : h->last_event_usec,
                        .begin_missed = h->begin_missed,
                        .n_events = h->n_events,
                        .n_dropped = h->n_dropped,
                        .n_devices = h->n_devs,
                };
                for (size_t i = 0; i < h->n_devs; i++) {
                        if (order)
                                order[i] = &h->devs[i];
                        if (h->devs[i].outcome == SRIOV_DEVICE_OUTCOME_FAILED)
                                n_failed++;
                }
                /* Without memory for sorting, address order is still a complete report. */
                if (order)
                        qsort(order, h->n_devs, sizeof(*order), cmp_order);
                for (size_t i = 0; i < h->n_devs; i++) {
                        const struct dev_entry *e = order ? order[i] : &h->devs[i];
                        r->devices[i] = (struct sriov_recovery_device) {
                                .addr = key_addr(e->key),
                                .begun = e->begun,
                                .own_outcome = e->own,
                                .outcome = e->outcome,
                        };
                }
                r->n_failed = n_failed;
                report_push(t, r);
        } else
                t->reports_dropped++;

        hierarchy_reset(h);
}

static void hierarchy_begin(struct hierarchy *h, uint64_t now, bool begin_missed) {
        assert(h->state == SRIOV_HIERARCHY_IDLE);
        h->state = SRIOV_HIERARCHY_RECOVERING;
        h->start_usec = now;
        h->begin_missed = begin_missed;
        h->counters.begun++;
        if (begin_missed)
                h->counters.begin_missed++;
}

static void resolve(struct hierarchy *h, struct dev_entry *e, SriovDeviceOutcome o) {
        if (e->outcome == SRIOV_DEVICE_OUTCOME_NONE && e->begun) {
                assert(h->n_unresolved > 0);
                h->n_unresolved--;
        }
        /* FAILED wins: a failure below a bridge is not undone by a success elsewhere. */
        if (o > e->outcome)
                e->outcome = o;
}

static bool chain_has(const struct dev_entry *e, uint64_t key) {
        for (size_t i = 0; i < e->n_chain; i++)
                if (e->chain[i] == key)
                        return true;
        return false;
}

int sriov_recovery_tracker_tick(sriov_recovery_tracker *t, uint64_t now_usec) {
        int n = 0;

        if (!t)
                return -EINVAL;
        for (size_t i = 0; i < t->n_hs; i++) {
                struct hierarchy *h = &t->hs[i];
                if (h->state == SRIOV_HIERARCHY_IDLE || h->deadline > now_usec)
                        continue;
                hierarchy_finish(t, h, h->state == SRIOV_HIERARCHY_RECOVERING);
                n++;
        }
        return n;
}

int sriov_recovery_tracker_event(sriov_recovery_tracker *t,
                                 const struct sriov_addr *device,
                                 const struct sriov_addr *hierarchy,
                                 const struct sriov_addr *bridges, size_t n_bridges,
                                 SriovErrorEventKind kind,
                                 uint64_t now_usec) {
        uint64_t chain[SRIOV_RECOVERY_CHAIN_MAX], dkey, hkey;
        size_t n_chain = 0;
        struct hierarchy *h;
        struct dev_entry *e;
        int r;

        if (!t || !device || !hierarchy || (n_bridges > 0 && !bridges))
                return -EINVAL;
        if (kind != SRIOV_ERROR_EVENT_BEGIN_RECOVERY && kind != SRIOV_ERROR_EVENT_SUCCESSFUL_RECOVERY &&
            kind != SRIOV_ERROR_EVENT_FAILED_RECOVERY)
                return -EINVAL;

        (void) sriov_recovery_tracker_tick(t, now_usec);

        dkey = addr_key(device);
        hkey = addr_key(hierarchy);
        r = hierarchy_get(t, hkey, &h);
        if (r < 0)
                return r;

        /* The root port is the hierarchy, known without the chain; the nearest bridges are
         * the ones an old kernel's FAILED can name below a switch. */
        for (size_t i = 0; i < n_bridges && n_chain < SRIOV_RECOVERY_CHAIN_MAX; i++) {
                uint64_t k = addr_key(&bridges[i]);
                if (k != hkey && k != dkey)
                        chain[n_chain++] = k;
        }

        if (kind == SRIOV_ERROR_EVENT_BEGIN_RECOVERY) {
                if (h->state == SRIOV_HIERARCHY_SETTLING)
                        /* All outcomes were in: the kernel finished and started anew. */
                        hierarchy_finish(t, h, false);
                else if (h->state == SRIOV_HIERARCHY_RECOVERING) {
                        e = dev_find(h, dkey);
                        if (e && e->outcome != SRIOV_DEVICE_OUTCOME_NONE)
                                /* This device's part of the old recovery was over; the kernel
                                 * runs one recovery per port at a time, so this is a new one
                                 * and the missing outcomes of the old one will not come. */
                                hierarchy_finish(t, h, false);
                }
                if (h->state == SRIOV_HIERARCHY_IDLE)
                        hierarchy_begin(h, now_usec, false);

                h->n_events++;
                h->last_event_usec = now_usec;
                e = dev_find(h, dkey);
                if (!e)
                        e = dev_add(t, h, dkey, chain, n_chain);
                if (e && !e->begun) {
                        e->begun = true;
                        h->n_unresolved++;
                }
                h->deadline = usec_add(now_usec, t->config.timeout_usec);
                return 0;
        }

        SriovDeviceOutcome o = kind == SRIOV_ERROR_EVENT_FAILED_RECOVERY ? SRIOV_DEVICE_OUTCOME_FAILED
                                                                        : SRIOV_DEVICE_OUTCOME_SUCCEEDED;
        if (h->state == SRIOV_HIERARCHY_IDLE)
                hierarchy_begin(h, now_usec, true);

        h->n_events++;
        h->last_event_usec = now_usec;
        h->last_outcome_usec = now_usec;
        h->have_outcome = true;
        if (o == SRIOV_DEVICE_OUTCOME_FAILED)
                h->any_failed = true;

        e = dev_find(h, dkey);
        if (!e) {
                e = dev_add(t, h, dkey, chain, n_chain);
                if (!e && o == SRIOV_DEVICE_OUTCOME_FAILED)
                        h->n_failed_dropped++;
        }
        if (e) {
                e->own = true;
                resolve(h, e, o);
        }

        /* An outcome on an upstream bridge counts for everything below it. */
        if (dkey == hkey || is_known_bridge(h, dkey))
                for (size_t i = 0; i < h->n_devs; i++) {
                        struct dev_entry *d = &h->devs[i];
                        if (d->key != dkey && (dkey == hkey || chain_has(d, dkey)))
                                resolve(h, d, o);
                }

        if (h->n_unresolved > 0) {
                h->state = SRIOV_HIERARCHY_RECOVERING;
                h->deadline = usec_add(now_usec, t->config.timeout_usec);
        } else if (t->config.settle_usec == 0)
                hierarchy_finish(t, h, false);
        else {
                h->state = SRIOV_HIERARCHY_SETTLING;
                h->deadline = usec_add(now_usec, t->config.settle_usec);
        }
        return 0;
}

uint64_t sriov_recovery_tracker_next_deadline(const sriov_recovery_tracker *t) {
        uint64_t d = SRIOV_USEC_INFINITY;

        if (!t)
                return d;
        for (size_t i = 0; i < t->n_hs; i++)
                if (t->hs[i].state != SRIOV_HIERARCHY_IDLE && t->hs[i].deadline < d)
                        d = t->hs[i].deadline;
        return d;
}

SriovHierarchyState sriov_recovery_tracker_get_state(const sriov_recovery_tracker *t,
                                                     const struct sriov_addr *hierarchy) {
        const struct hierarchy *h;

        if (!t || !hierarchy)
                return _SRIOV_HIERARCHY_STATE_INVALID;
        h = hierarchy_find(t, addr_key(hierarchy));
        return h ? h->state : SRIOV_HIERARCHY_IDLE;
}

bool sriov_recovery_tracker_is_recovering(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) {
        SriovHierarchyState s = sriov_recovery_tracker_get_state(t, hierarchy);
        return s == SRIOV_HIERARCHY_RECOVERING || s == SRIOV_HIERARCHY_SETTLING;
}

int sriov_recovery_tracker_pop_report(sriov_recovery_tracker *t, struct sriov_recovery_report **ret) {
        if (!t || !ret)
                return -EINVAL;
        if (t->n_reports == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = t->reports[t->reports_head];
        t->reports[t->reports_head] = NULL;
        t->reports_head = (t->reports_head + 1) % t->config.max_reports;
        t->n_reports--;
        return 1;
}

void sriov_recovery_tracker_get_counters(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy,
                                         struct sriov_recovery_counters *ret) {
        const struct hierarchy *h = t && hierarchy ? hierarchy_find(t, addr_key(hierarchy)) : NULL;

        *ret = h ? h->counters : (struct sriov_recovery_counters) {};
}

size_t sriov_recovery_tracker_n_devices(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) {
        const struct hierarchy *h = t && hierarchy ? hierarchy_find(t, addr_key(hierarchy)) : NULL;
        return h ? h->n_devs : 0;
}

size_t sriov_recovery_tracker_n_allocated(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) {
        const struct hierarchy *h = t && hierarchy ? hierarchy_find(t, addr_key(hierarchy)) : NULL;
        return h ? h->n_alloc : 0;
}

size_t sriov_recovery_tracker_n_hierarchies(const sriov_recovery_tracker *t) {
        return t ? t->n_hs : 0;
}

uint64_t sriov_recovery_tracker_events_refused(const sriov_recovery_tracker *t) {
        return t ? t->events_refused : 0;
}

uint64_t sriov_recovery_tracker_reports_dropped(const sriov_recovery_tracker *t) {
        return t ? t->reports_dropped : 0;
}

/* ---------------------------------------------------------------------------------------
 * (b) User-space recovery of one PF
 * ------------------------------------------------------------------------------------- */

enum removed {
        REMOVED_NOTHING,
        REMOVED_PF,
        REMOVED_BRIDGE,
};

struct sriov_pf_recovery {
        struct sriov_addr pf, bridge;
        struct sriov_pf_recovery_config config;

        bool started;
        struct sriov_pf_action action;
        uint64_t next_seq;
        unsigned attempt;

        /* What the last successful removal took away and has not come back yet: a retry
         * starts with the rescan instead of writing to a device that is gone. */
        enum removed removed;
        /* The PF's "add" arrived after the last removal completed. The uevent can overtake
         * the rescan worker's completion, so WAIT_PF may find it already there. */
        bool pf_seen;

        struct sriov_pf_step *steps;
        size_t n_steps, n_alloc;
};

void sriov_pf_recovery_config_init(struct sriov_pf_recovery_config *c) {
        *c = (struct sriov_pf_recovery_config) {
                .policy = SRIOV_RECOVERY_POLICY_DEFAULT,
                .max_attempts = 3,
                .backoff_base_usec = 5 * SRIOV_USEC_PER_SEC,
                .backoff_max_usec = 60 * SRIOV_USEC_PER_SEC,
                .disable_timeout_usec = 10 * SRIOV_USEC_PER_SEC,
                .wait_pf_timeout_usec = 30 * SRIOV_USEC_PER_SEC,
                .restore_timeout_usec = 300 * SRIOV_USEC_PER_SEC,
                .step_timeout_usec = 30 * SRIOV_USEC_PER_SEC,
        };
}

int sriov_pf_recovery_new(const struct sriov_addr *pf, const struct sriov_addr *bridge,
                          const struct sriov_pf_recovery_config *config, sriov_pf_recovery **ret) {
        struct sriov_pf_recovery_config c;
        sriov_pf_recovery *r;

        if (!pf || !bridge || !ret)
                return -EINVAL;
        if (config)
                c = *config;
        else
                sriov_pf_recovery_config_init(&c);
        if (c.policy < 0 || c.policy >= _SRIOV_RECOVERY_POLICY_MAX || c.max_attempts == 0 ||
            c.backoff_base_usec == 0 || c.backoff_max_usec < c.backoff_base_usec)
                return -EINVAL;
        if (c.max_attempts > SRIOV_PF_RECOVERY_ATTEMPTS_MAX)
                return -ERANGE;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->pf = *pf;
        r->bridge = *bridge;
        r->config = c;
        r->next_seq = 1;
        r->action = (struct sriov_pf_action) { .kind = SRIOV_PF_ACTION_NONE, .deadline_usec = SRIOV_USEC_INFINITY,
                                               .target = *pf };
        *ret = r;
        return 0;
}

sriov_pf_recovery *sriov_pf_recovery_free(sriov_pf_recovery *r) {
        if (!r)
                return NULL;
        free(r->steps);
        free(r);
        return NULL;
}

static bool action_is_final(SriovPfActionKind k) {
        return k == SRIOV_PF_ACTION_DONE_OK || k == SRIOV_PF_ACTION_DONE_FAILED || k == SRIOV_PF_ACTION_NOTIFY_ONLY;
}

/* Steps the daemon carries out and reports with step_done(). */
static bool action_is_performed(SriovPfActionKind k) {
        switch (k) {
        case SRIOV_PF_ACTION_DISABLE_VFS:
        case SRIOV_PF_ACTION_REMOVE_PF:
        case SRIOV_PF_ACTION_REMOVE_BRIDGE:
        case SRIOV_PF_ACTION_RESCAN_PORT:
        case SRIOV_PF_ACTION_RESCAN_BUS:
        case SRIOV_PF_ACTION_RESET_PF:
        case SRIOV_PF_ACTION_RESTORE_VFS:
        case SRIOV_PF_ACTION_RESTORE_BINDINGS:
        case SRIOV_PF_ACTION_VERIFY:
                return true;
        default:
                return false;
        }
}

static bool action_on_bridge(SriovPfActionKind k) {
        return k == SRIOV_PF_ACTION_REMOVE_BRIDGE || k == SRIOV_PF_ACTION_RESCAN_PORT || k == SRIOV_PF_ACTION_RESCAN_BUS;
}

static uint64_t step_timeout(const sriov_pf_recovery *r, SriovPfActionKind k) {
        switch (k) {
        case SRIOV_PF_ACTION_DISABLE_VFS:
                return r->config.disable_timeout_usec;
        case SRIOV_PF_ACTION_WAIT_PF:
                return r->config.wait_pf_timeout_usec;
        case SRIOV_PF_ACTION_RESTORE_VFS:
                return r->config.restore_timeout_usec;
        default:
                return r->config.step_timeout_usec;
        }
}

/* base * 2^(attempt-1), at most max, without overflowing on the way. */
static uint64_t backoff(const sriov_pf_recovery *r, unsigned attempt) {
        uint64_t d = r->config.backoff_base_usec;

        for (unsigned i = 1; i < attempt && d < r->config.backoff_max_usec; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        return d < r->config.backoff_max_usec ? d : r->config.backoff_max_usec;
}

static struct sriov_pf_step *current_step(sriov_pf_recovery *r) {
        if (r->n_steps == 0)
                return NULL;
        struct sriov_pf_step *s = &r->steps[r->n_steps - 1];
        return s->finished ? NULL : s;
}

static void step_finish(sriov_pf_recovery *r, int result, uint64_t now) {
        struct sriov_pf_step *s = current_step(r);

        if (!s)
                return;
        s->finished = true;
        s->result = result;
        s->end_usec = now;
}

/* Makes k the current action, logged as a new step. The log is bounded by max_attempts
 * times the longest attempt (ten steps), so it needs no cap of its own. */
static void set_action(sriov_pf_recovery *r, SriovPfActionKind k, uint64_t now, uint64_t deadline) {
        bool logged = !action_is_final(k) || k == SRIOV_PF_ACTION_NOTIFY_ONLY;

        r->action = (struct sriov_pf_action) {
                .kind = k,
                .seq = action_is_final(k) ? 0 : r->next_seq++,
                .deadline_usec = deadline,
                .attempt = r->attempt,
                .target = action_on_bridge(k) ? r->bridge : r->pf,
                .num_vfs = k == SRIOV_PF_ACTION_RESTORE_VFS ? r->config.num_vfs : 0,
        };

        if (!logged)
                return;
        if (r->n_steps == r->n_alloc) {
                size_t n = r->n_alloc ? r->n_alloc * 2 : 16;
                struct sriov_pf_step *s = reallocarray(r->steps, n, sizeof(*s));
                if (!s)
                        return;         /* the report loses a line; the recovery goes on */
                r->steps = s;
                r->n_alloc = n;
        }
        r->steps[r->n_steps++] = (struct sriov_pf_step) {
                .kind = k,
                .attempt = r->attempt,
                .seq = r->action.seq,
                .start_usec = now,
                .end_usec = now,
        };
        if (k == SRIOV_PF_ACTION_NOTIFY_ONLY)
                step_finish(r, 0, now);
}

static void go(sriov_pf_recovery *r, SriovPfActionKind k, uint64_t now) {
        if (k == SRIOV_PF_ACTION_REMOVE_PF || k == SRIOV_PF_ACTION_REMOVE_BRIDGE)
                r->pf_seen = false;
        set_action(r, k, now, action_is_final(k) ? SRIOV_USEC_INFINITY : usec_add(now, step_timeout(r, k)));

        if (k == SRIOV_PF_ACTION_WAIT_PF && r->pf_seen) {
                /* It came back before the rescan's worker reported. */
                step_finish(r, 0, now);
                r->removed = REMOVED_NOTHING;
                go(r, r->config.num_vfs > 0 ? SRIOV_PF_ACTION_RESTORE_VFS : SRIOV_PF_ACTION_RESTORE_BINDINGS, now);
        }
}

static void attempt_begin(sriov_pf_recovery *r, uint64_t now) {
        r->attempt++;
        switch (r->removed) {
        case REMOVED_BRIDGE:
                go(r, SRIOV_PF_ACTION_RESCAN_BUS, now);
                break;
        case REMOVED_PF:
                go(r, SRIOV_PF_ACTION_RESCAN_PORT, now);
                break;
        default:
                go(r, SRIOV_PF_ACTION_DISABLE_VFS, now);
        }
}

static void attempt_failed(sriov_pf_recovery *r, uint64_t now) {
        if (r->attempt >= r->config.max_attempts) {
                go(r, SRIOV_PF_ACTION_DONE_FAILED, now);
                return;
        }
        set_action(r, SRIOV_PF_ACTION_WAIT_RETRY, now, usec_add(now, backoff(r, r->attempt)));
}

/* The current step ended with result (0, -errno, -ETIMEDOUT). */
static void advance(sriov_pf_recovery *r, int result, uint64_t now) {
        SriovPfActionKind k = r->action.kind;

        step_finish(r, result, now);

        if (k == SRIOV_PF_ACTION_WAIT_RETRY) {
                attempt_begin(r, now);
                return;
        }
        if (result < 0) {
                if (k == SRIOV_PF_ACTION_DISABLE_VFS && r->config.policy == SRIOV_RECOVERY_POLICY_REMOVE_RESCAN)
                        /* The VFs cannot be taken away one level down; take the bridge,
                         * whose bus holds the PF and its VFs, as a whole. */
                        go(r, SRIOV_PF_ACTION_REMOVE_BRIDGE, now);
                else
                        attempt_failed(r, now);
                return;
        }

        switch (k) {
        case SRIOV_PF_ACTION_DISABLE_VFS:
                go(r, r->config.policy == SRIOV_RECOVERY_POLICY_RESET ? SRIOV_PF_ACTION_RESET_PF
                                                                     : SRIOV_PF_ACTION_REMOVE_PF, now);
                break;
        case SRIOV_PF_ACTION_REMOVE_PF:
                r->removed = REMOVED_PF;
                go(r, SRIOV_PF_ACTION_RESCAN_PORT, now);
                break;
        case SRIOV_PF_ACTION_REMOVE_BRIDGE:
                r->removed = REMOVED_BRIDGE;
                go(r, SRIOV_PF_ACTION_RESCAN_BUS, now);
                break;
        case SRIOV_PF_ACTION_RESCAN_PORT:
        case SRIOV_PF_ACTION_RESCAN_BUS:
                go(r, SRIOV_PF_ACTION_WAIT_PF, now);
                break;
        case SRIOV_PF_ACTION_WAIT_PF:
                r->removed = REMOVED_NOTHING;
                _fallthrough_;
        case SRIOV_PF_ACTION_RESET_PF:
                go(r, r->config.num_vfs > 0 ? SRIOV_PF_ACTION_RESTORE_VFS : SRIOV_PF_ACTION_RESTORE_BINDINGS, now);
                break;
        case SRIOV_PF_ACTION_RESTORE_VFS:
                go(r, SRIOV_PF_ACTION_RESTORE_BINDINGS, now);
                break;
        case SRIOV_PF_ACTION_RESTORE_BINDINGS:
                go(r, SRIOV_PF_ACTION_VERIFY, now);
                break;
        case SRIOV_PF_ACTION_VERIFY:
                go(r, SRIOV_PF_ACTION_DONE_OK, now);
                break;
        default:
                assert(!"unexpected action");
        }
}

static void return_action(const sriov_pf_recovery *r, struct sriov_pf_action *ret) {
        if (ret)
                *ret = r->action;
}

int sriov_pf_recovery_start(sriov_pf_recovery *r, uint64_t now_usec, struct sriov_pf_action *ret_action) {
        if (!r)
                return -EINVAL;
        if (r->started)
                return -EALREADY;
        r->started = true;

        switch (r->config.policy) {
        case SRIOV_RECOVERY_POLICY_NONE:
                go(r, SRIOV_PF_ACTION_DONE_FAILED, now_usec);
                break;
        case SRIOV_RECOVERY_POLICY_NOTIFY:
                go(r, SRIOV_PF_ACTION_NOTIFY_ONLY, now_usec);
                break;
        default:
                attempt_begin(r, now_usec);
        }
        return_action(r, ret_action);
        return 0;
}

int sriov_pf_recovery_step_done(sriov_pf_recovery *r, uint64_t seq, int result, uint64_t now_usec,
                                struct sriov_pf_action *ret_action) {
        if (!r || result > 0)
                return -EINVAL;
        if (!r->started)
                return -ENOTCONN;
        if (!action_is_performed(r->action.kind) || seq != r->action.seq) {
                for (size_t i = r->n_steps; i > 0; i--) {
                        struct sriov_pf_step *s = &r->steps[i - 1];
                        if (s->seq == seq && s->finished && s->result == -ETIMEDOUT && !s->late) {
                                s->late = true;
                                s->late_result = result;
                                s->late_usec = now_usec;
                                break;
                        }
                }
                return -ESTALE;
        }
        advance(r, result, now_usec);
        return_action(r, ret_action);
        return 0;
}

int sriov_pf_recovery_device_appeared(sriov_pf_recovery *r, const struct sriov_addr *addr, uint64_t now_usec,
                                      struct sriov_pf_action *ret_action) {
        if (!r || !addr)
                return -EINVAL;
        if (!r->started)
                return -ENOTCONN;
        if (sriov_addr_equal(addr, &r->pf)) {
                switch (r->action.kind) {
                /* Not while the removal runs: an add queued before it would look like the
                 * PF coming back. Once the removal completed, the PF is gone. */
                case SRIOV_PF_ACTION_RESCAN_PORT:
                case SRIOV_PF_ACTION_RESCAN_BUS:
                        r->pf_seen = true;
                        break;
                case SRIOV_PF_ACTION_WAIT_PF:
                        advance(r, 0, now_usec);
                        break;
                case SRIOV_PF_ACTION_WAIT_RETRY:
                        /* Back after WAIT_PF gave up: the next attempt finds it present. */
                        if (r->removed != REMOVED_NOTHING)
                                r->removed = REMOVED_NOTHING;
                        break;
                default:
                        break;
                }
        }
        return_action(r, ret_action);
        return 0;
}

int sriov_pf_recovery_timeout(sriov_pf_recovery *r, uint64_t now_usec, struct sriov_pf_action *ret_action) {
        if (!r)
                return -EINVAL;
        if (!r->started)
                return -ENOTCONN;
        if (!action_is_final(r->action.kind) && now_usec >= r->action.deadline_usec)
                advance(r, r->action.kind == SRIOV_PF_ACTION_WAIT_RETRY ? 0 : -ETIMEDOUT, now_usec);
        return_action(r, ret_action);
        return 0;
}

void sriov_pf_recovery_get_action(const sriov_pf_recovery *r, struct sriov_pf_action *ret) {
        *ret = r->action;
}

bool sriov_pf_recovery_is_final(const sriov_pf_recovery *r) {
        return action_is_final(r->action.kind);
}

unsigned sriov_pf_recovery_attempts(const sriov_pf_recovery *r) {
        return r->attempt;
}

SriovRecoveryPolicy sriov_pf_recovery_policy(const sriov_pf_recovery *r) {
        return r->config.policy;
}

size_t sriov_pf_recovery_n_steps(const sriov_pf_recovery *r) {
        return r->n_steps;
}

int sriov_pf_recovery_get_step(const sriov_pf_recovery *r, size_t i, struct sriov_pf_step *ret) {
        if (!r || !ret)
                return -EINVAL;
        if (i >= r->n_steps)
                return -ERANGE;
        *ret = r->steps[i];
        return 0;
}
