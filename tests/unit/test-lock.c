/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sriov-lock.h"

#define S SRIOV_LOCK_SHARED
#define X SRIOV_LOCK_EXCLUSIVE

static struct sriov_addr addr(const char *s) {
        struct sriov_addr a;
        assert_int_equal(sriov_addr_parse(s, &a), 0);
        return a;
}

/* What a test wants locked, in strings; NULL pf means hierarchy only. */
struct spec {
        const char *hier;
        enum sriov_lock_mode hmode;
        const char *pf;
        enum sriov_lock_mode pfmode;
        const char *vfs[4];
        enum sriov_lock_mode vfmode;
};

#define SPEC_H(h, hm) { .hier = (h), .hmode = (hm) }
#define SPEC_PF(h, hm, p, pm) { .hier = (h), .hmode = (hm), .pf = (p), .pfmode = (pm) }
#define SPEC_VF(h, hm, p, pm, vm, ...) \
        { .hier = (h), .hmode = (hm), .pf = (p), .pfmode = (pm), .vfs = { __VA_ARGS__ }, .vfmode = (vm) }

/* Callback log shared by the deterministic tests. */
static struct {
        sriov_lock_request *order[64];
        unsigned n;
        unsigned depth, max_depth;
} grants;

static void grants_reset(void) {
        grants = (typeof(grants)) {};
}

static void on_granted(sriov_lock_request *req, void *userdata) {
        (void) userdata;
        assert_true(grants.n < ELEMENTSOF(grants.order));
        /* The lock is already granted when we are told. */
        assert_int_equal(sriov_lock_request_state(req), SRIOV_LOCK_REQUEST_GRANTED);
        grants.order[grants.n++] = req;
}

static unsigned times_granted(const sriov_lock_request *req) {
        unsigned c = 0;
        for (unsigned i = 0; i < grants.n; i++)
                if (grants.order[i] == req)
                        c++;
        return c;
}

static sriov_lock_request *make(sriov_lock_manager *m, const struct spec *s) {
        sriov_lock_request *req = NULL;
        struct sriov_addr h = addr(s->hier), pf;

        if (s->pf)
                pf = addr(s->pf);
        assert_int_equal(sriov_lock_request_new(m, &h, s->hmode, s->pf ? &pf : NULL, s->pfmode, &req), 0);
        for (size_t i = 0; i < ELEMENTSOF(s->vfs) && s->vfs[i]; i++) {
                struct sriov_addr vf = addr(s->vfs[i]);
                assert_int_equal(sriov_lock_request_add_vf(req, &vf, s->vfmode), 0);
        }
        return req;
}

static sriov_lock_request *submit(sriov_lock_manager *m, const struct spec *s) {
        sriov_lock_request *req = make(m, s);
        assert_int_equal(sriov_lock_request_submit(req, on_granted, NULL), 0);
        return req;
}

static bool granted(const sriov_lock_request *req) {
        return sriov_lock_request_state(req) == SRIOV_LOCK_REQUEST_GRANTED;
}

static bool waiting(const sriov_lock_request *req) {
        return sriov_lock_request_state(req) == SRIOV_LOCK_REQUEST_WAITING;
}

#define H1 "0000:00:01.0"
#define H2 "0000:00:02.0"
#define PF_A "0000:01:00.0"
#define PF_B "0000:01:00.1"
#define PF_C "0000:02:00.0"
#define VF_A1 "0000:01:02.0"
#define VF_A2 "0000:01:02.1"

/* ---- builder ---- */

static void test_strings(void **state) {
        (void) state;
        assert_string_equal(sriov_lock_level_to_string(SRIOV_LOCK_PF), "pf");
        assert_int_equal(sriov_lock_level_from_string("hierarchy"), SRIOV_LOCK_HIERARCHY);
        assert_int_equal(sriov_lock_mode_from_string("exclusive"), SRIOV_LOCK_EXCLUSIVE);
        assert_int_equal(sriov_lock_mode_from_string("Exclusive"), -EINVAL);
        assert_int_equal(sriov_lock_mode_from_string(NULL), -EINVAL);
        assert_null(sriov_lock_mode_to_string(_SRIOV_LOCK_MODE_MAX));
        assert_null(sriov_lock_level_to_string(-1));
        assert_string_equal(sriov_lock_request_state_to_string(SRIOV_LOCK_REQUEST_WAITING), "waiting");
}

static void test_new_invalid(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        sriov_lock_request *req = (sriov_lock_request *) 0x1;   /* must stay untouched */
        struct sriov_addr h = addr(H1), pf = addr(PF_A);

        assert_int_equal(sriov_lock_manager_new(&m), 0);
        assert_int_equal(sriov_lock_request_new(m, NULL, S, &pf, S, &req), -EINVAL);
        assert_int_equal(sriov_lock_request_new(m, &h, 7, &pf, S, &req), -EINVAL);
        assert_int_equal(sriov_lock_request_new(m, &h, S, &pf, -1, &req), -EINVAL);
        assert_int_equal(sriov_lock_request_new(NULL, &h, S, &pf, S, &req), -EINVAL);
        assert_ptr_equal(req, (sriov_lock_request *) 0x1);
        /* pfmode is ignored without a PF. */
        assert_int_equal(sriov_lock_request_new(m, &h, S, NULL, 7, &req), 0);
        req = sriov_lock_request_free(req);
}

/* The skeleton (hierarchy, PF) is fixed by sriov_lock_request_new(); only VFs can be added,
 * so the remaining ways to get the order wrong are VF-specific. */
static void test_add_vf_table(void **state) {
        static const struct {
                const char *name;
                const char *pf;                 /* NULL: hierarchy-only request */
                const char *vfs[3];             /* added in this order; all but the last succeed */
                int mode;
                int expect;                     /* result of adding the last VF */
        } cases[] = {
                { "vf under pf",             PF_A, { VF_A1 },                  S, 0 },
                { "vf without pf",           NULL, { VF_A1 },                  S, -EINVAL },
                { "vf equal to pf",          PF_A, { PF_A },                   X, -EINVAL },
                { "vf below pf rid",         PF_B, { PF_A },                   X, -EINVAL },
                { "vf in other domain",      PF_A, { "0001:01:02.0" },         X, -EINVAL },
                { "duplicate vf",            PF_A, { VF_A1, VF_A2, VF_A1 },    X, -EEXIST },
                { "invalid mode",            PF_A, { VF_A1 },                  2, -EINVAL },
                { "negative mode",           PF_A, { VF_A1 },                  -1, -EINVAL },
        };
        (void) state;

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
                _cleanup_(sriov_lock_request_freep) sriov_lock_request *req = NULL;
                struct sriov_addr h = addr(H1), pf;
                size_t n = 0;

                print_message("case: %s\n", cases[c].name);
                if (cases[c].pf)
                        pf = addr(cases[c].pf);
                assert_int_equal(sriov_lock_manager_new(&m), 0);
                assert_int_equal(sriov_lock_request_new(m, &h, S, cases[c].pf ? &pf : NULL, X, &req), 0);
                while (n < ELEMENTSOF(cases[c].vfs) && cases[c].vfs[n])
                        n++;
                for (size_t i = 0; i < n; i++) {
                        struct sriov_addr vf = addr(cases[c].vfs[i]);
                        int r = sriov_lock_request_add_vf(req, &vf, i + 1 == n ? cases[c].mode : S);
                        assert_int_equal(r, i + 1 == n ? cases[c].expect : 0);
                }
                /* A refused VF leaves the request as it was. */
                size_t expect_locks = (cases[c].pf ? 2 : 1) + n - (cases[c].expect < 0);
                assert_int_equal(sriov_lock_request_n_locks(req), expect_locks);
        }
}

static void test_lock_order(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *req = NULL;
        static const struct spec s = SPEC_VF(H1, S, PF_A, X, X, "0000:01:03.1", VF_A2, VF_A1);
        static const struct {
                enum sriov_lock_level level;
                const char *addr;
                enum sriov_lock_mode mode;
        } expect[] = {
                { SRIOV_LOCK_HIERARCHY, H1, S },
                { SRIOV_LOCK_PF, PF_A, X },
                { SRIOV_LOCK_VF, VF_A1, X },
                { SRIOV_LOCK_VF, VF_A2, X },
                { SRIOV_LOCK_VF, "0000:01:03.1", X },
        };

        assert_int_equal(sriov_lock_manager_new(&m), 0);
        req = make(m, &s);
        assert_int_equal(sriov_lock_request_n_locks(req), ELEMENTSOF(expect));
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                enum sriov_lock_level l;
                enum sriov_lock_mode mo;
                struct sriov_addr a, e = addr(expect[i].addr);

                assert_int_equal(sriov_lock_request_get_lock(req, i, &l, &a, &mo), 0);
                assert_int_equal(l, expect[i].level);
                assert_true(sriov_addr_equal(&a, &e));
                assert_int_equal(mo, expect[i].mode);
        }
        assert_int_equal(sriov_lock_request_get_lock(req, ELEMENTSOF(expect), NULL, NULL, NULL), -ERANGE);
}

static void test_submit_state_machine(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *req = NULL;
        struct sriov_addr vf = addr(VF_A1);

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        req = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        assert_int_equal(sriov_lock_request_state(req), SRIOV_LOCK_REQUEST_NEW);
        assert_int_equal(sriov_lock_request_id(req), 0);
        assert_int_equal(sriov_lock_request_submit(req, on_granted, NULL), 0);
        assert_true(granted(req));
        assert_int_equal(sriov_lock_request_id(req), 1);
        assert_int_equal(times_granted(req), 1);
        /* Submitted requests are sealed. */
        assert_int_equal(sriov_lock_request_add_vf(req, &vf, S), -EBUSY);
        assert_int_equal(sriov_lock_request_submit(req, on_granted, NULL), -EBUSY);

        sriov_lock_request_release(req);
        assert_int_equal(sriov_lock_request_state(req), SRIOV_LOCK_REQUEST_RELEASED);
        sriov_lock_request_release(req);        /* idempotent */
        assert_int_equal(sriov_lock_request_submit(req, on_granted, NULL), -EBUSY);
        assert_int_equal(sriov_lock_manager_n_granted(m), 0);
        assert_null(sriov_lock_manager_first(m));
        assert_int_equal(times_granted(req), 1);
}

/* ---- conflicts: the first request is granted, does the second wait? ---- */

static void test_conflict_table(void **state) {
        static const struct {
                const char *name;
                struct spec first, second;
                bool second_waits;
        } cases[] = {
                { "pf S/S",                     SPEC_PF(H1, S, PF_A, S), SPEC_PF(H1, S, PF_A, S), false },
                { "pf S/X",                     SPEC_PF(H1, S, PF_A, S), SPEC_PF(H1, S, PF_A, X), true },
                { "pf X/S",                     SPEC_PF(H1, S, PF_A, X), SPEC_PF(H1, S, PF_A, S), true },
                { "pf X/X",                     SPEC_PF(H1, S, PF_A, X), SPEC_PF(H1, S, PF_A, X), true },
                { "different pfs X/X",          SPEC_PF(H1, S, PF_A, X), SPEC_PF(H1, S, PF_B, X), false },
                { "different vfs X/X",          SPEC_VF(H1, S, PF_A, S, X, VF_A1), SPEC_VF(H1, S, PF_A, S, X, VF_A2), false },
                { "same vf X/X",                SPEC_VF(H1, S, PF_A, S, X, VF_A1), SPEC_VF(H1, S, PF_A, S, X, VF_A2, VF_A1), true },
                { "same vf S/S",                SPEC_VF(H1, S, PF_A, S, S, VF_A1), SPEC_VF(H1, S, PF_A, S, S, VF_A1), false },
                { "vf X under pf X",            SPEC_PF(H1, S, PF_A, X), SPEC_VF(H1, S, PF_A, S, X, VF_A1), true },
                { "hierarchy X, then pf below", SPEC_H(H1, X), SPEC_PF(H1, S, PF_A, S), true },
                { "pf below, then hierarchy X", SPEC_PF(H1, S, PF_A, S), SPEC_H(H1, X), true },
                { "vf below, then hierarchy X", SPEC_VF(H1, S, PF_A, S, S, VF_A1), SPEC_H(H1, X), true },
                { "hierarchy X, other one's pf",SPEC_H(H1, X), SPEC_PF(H2, S, PF_C, X), false },
                { "hierarchy X/X different",    SPEC_H(H1, X), SPEC_H(H2, X), false },
                { "hierarchy X/X same",         SPEC_H(H1, X), SPEC_H(H1, X), true },
                { "hierarchy S/S",              SPEC_H(H1, S), SPEC_PF(H1, S, PF_A, X), false },
                { "levels do not mix",          SPEC_PF(H1, S, PF_A, X), SPEC_H(PF_A, X), false },
        };
        (void) state;

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
                _cleanup_(sriov_lock_request_freep) sriov_lock_request *a = NULL, *b = NULL;

                print_message("case: %s\n", cases[c].name);
                grants_reset();
                assert_int_equal(sriov_lock_manager_new(&m), 0);
                a = submit(m, &cases[c].first);
                assert_true(granted(a));
                b = submit(m, &cases[c].second);
                assert_int_equal(waiting(b), cases[c].second_waits);
                assert_int_equal(times_granted(b), !cases[c].second_waits);

                if (cases[c].second_waits) {
                        sriov_lock_request *blocker = NULL;
                        assert_int_equal(sriov_lock_request_get_blocker(b, &blocker, NULL, NULL), 1);
                        assert_ptr_equal(blocker, a);
                }

                a = sriov_lock_request_free(a);
                assert_true(granted(b));
                assert_int_equal(times_granted(b), 1);
        }
}

/* ---- fairness and parallelism ---- */

static void test_fifo_fairness(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        sriov_lock_request *s1, *x, *s2, *blocker;
        enum sriov_lock_level level;
        struct sriov_addr where, pf = addr(PF_A);

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        s1 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        x = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        s2 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));

        /* s2 is compatible with what is held, yet waits behind the exclusive request. */
        assert_true(granted(s1));
        assert_true(waiting(x));
        assert_true(waiting(s2));
        assert_int_equal(sriov_lock_request_get_blocker(s2, &blocker, &level, &where), 1);
        assert_ptr_equal(blocker, x);
        assert_int_equal(level, SRIOV_LOCK_PF);
        assert_true(sriov_addr_equal(&where, &pf));

        s1 = sriov_lock_request_free(s1);
        assert_true(granted(x));
        assert_true(waiting(s2));
        x = sriov_lock_request_free(x);
        assert_true(granted(s2));
        s2 = sriov_lock_request_free(s2);
        assert_int_equal(grants.n, 3);
}

static void test_nonconflicting_pass(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *a = NULL, *wa = NULL, *b = NULL, *vb = NULL;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        a = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        wa = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        /* Same hierarchy (shared), other PF: passes the waiting request on PF A. */
        b = submit(m, &(struct spec) SPEC_PF(H1, S, PF_B, X));
        vb = submit(m, &(struct spec) SPEC_VF(H1, S, PF_B, S, X, "0000:01:04.0"));
        assert_true(granted(a));
        assert_true(waiting(wa));
        assert_true(granted(b));
        assert_true(waiting(vb));
        b = sriov_lock_request_free(b);
        assert_true(granted(vb));
        assert_true(waiting(wa));
}

static void test_hierarchies_parallel(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *a = NULL, *c = NULL, *ha = NULL, *hc = NULL;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        a = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        c = submit(m, &(struct spec) SPEC_PF(H2, S, PF_C, X));
        ha = submit(m, &(struct spec) SPEC_H(H1, X));
        hc = submit(m, &(struct spec) SPEC_H(H2, X));
        assert_true(granted(a));
        assert_true(granted(c));
        assert_true(waiting(ha));
        assert_true(waiting(hc));

        /* Recovery of one root port does not wait for the other. */
        c = sriov_lock_request_free(c);
        assert_true(granted(hc));
        assert_true(waiting(ha));
}

static void test_hierarchy_exclusive(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *p1 = NULL, *p2 = NULL, *v = NULL,
                *rec = NULL, *late = NULL, *other = NULL;
        sriov_lock_request *blocker;
        enum sriov_lock_level level;
        struct sriov_addr where, h1 = addr(H1);
        struct sriov_lock_counts counts;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        p1 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        p2 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_B, S));
        v = submit(m, &(struct spec) SPEC_VF(H1, S, PF_B, S, X, "0000:01:04.0"));
        rec = submit(m, &(struct spec) SPEC_H(H1, X));
        late = submit(m, &(struct spec) SPEC_PF("0000:00:01.0", S, "0000:01:00.2", S));
        other = submit(m, &(struct spec) SPEC_PF(H2, S, PF_C, X));

        assert_true(granted(p1) && granted(p2) && granted(v));
        assert_true(waiting(rec));
        /* A later request below the root port waits behind recovery, even for a free PF. */
        assert_true(waiting(late));
        assert_true(granted(other));
        assert_int_equal(sriov_lock_request_get_blocker(late, &blocker, &level, &where), 1);
        assert_ptr_equal(blocker, rec);
        assert_int_equal(level, SRIOV_LOCK_HIERARCHY);
        assert_true(sriov_addr_equal(&where, &h1));

        sriov_lock_manager_get_counts(m, SRIOV_LOCK_HIERARCHY, &h1, &counts);
        assert_int_equal(counts.held_shared, 3);
        assert_int_equal(counts.held_exclusive, 0);
        assert_int_equal(counts.waiting_exclusive, 1);
        assert_int_equal(counts.waiting_shared, 1);

        p1 = sriov_lock_request_free(p1);
        v = sriov_lock_request_free(v);
        assert_true(waiting(rec));
        p2 = sriov_lock_request_free(p2);
        assert_true(granted(rec));
        assert_true(waiting(late));
        rec = sriov_lock_request_free(rec);
        assert_true(granted(late));
}

static void test_cancel(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *s1 = NULL, *x = NULL, *s2 = NULL;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        s1 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        x = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        s2 = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        assert_true(waiting(s2));

        /* Cancelling the exclusive waiter lets the shared one behind it join s1. */
        sriov_lock_request_release(x);
        assert_int_equal(sriov_lock_request_state(x), SRIOV_LOCK_REQUEST_RELEASED);
        assert_true(granted(s2));
        assert_int_equal(times_granted(x), 0);
        assert_int_equal(sriov_lock_manager_n_waiting(m), 0);
        assert_int_equal(sriov_lock_manager_n_granted(m), 2);
}

static void test_callbacks_in_fifo_order(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *x = NULL, *a = NULL, *b = NULL, *c = NULL;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        x = submit(m, &(struct spec) SPEC_H(H1, X));
        a = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        b = submit(m, &(struct spec) SPEC_PF(H1, S, PF_B, S));
        c = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        x = sriov_lock_request_free(x);
        assert_int_equal(grants.n, 4);
        assert_ptr_equal(grants.order[1], a);
        assert_ptr_equal(grants.order[2], b);
        assert_ptr_equal(grants.order[3], c);
}

/* ---- reentrancy ---- */

struct reentry {
        sriov_lock_manager *m;
        sriov_lock_request *target;     /* to release from the callback */
        bool free_target;
        bool free_manager;
        bool stop_manager;
        const struct spec *submit;      /* to submit from the callback */
        sriov_lock_request *submitted;
        unsigned calls;
};

static void on_granted_reenter(sriov_lock_request *req, void *userdata) {
        struct reentry *e = userdata;

        grants.depth++;
        if (grants.depth > grants.max_depth)
                grants.max_depth = grants.depth;
        on_granted(req, NULL);
        e->calls++;

        if (e->target) {
                if (e->free_target)
                        e->target = sriov_lock_request_free(e->target);
                else
                        sriov_lock_request_release(e->target);
        }
        if (e->submit) {
                e->submitted = make(e->m, e->submit);
                assert_int_equal(sriov_lock_request_submit(e->submitted, on_granted_reenter, e), 0);
                e->submit = NULL;
        }
        if (e->free_manager)
                e->m = sriov_lock_manager_free(e->m);
        if (e->stop_manager)
                sriov_lock_manager_stop(e->m);
        grants.depth--;
}

static void test_callback_releases_itself_in_submit(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *req = NULL, *next = NULL;
        struct reentry e = {};
        struct sriov_addr pf = addr(PF_A);
        struct sriov_lock_counts counts;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        req = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        e.target = req;
        assert_int_equal(sriov_lock_request_submit(req, on_granted_reenter, &e), 0);
        assert_int_equal(e.calls, 1);
        assert_int_equal(sriov_lock_request_state(req), SRIOV_LOCK_REQUEST_RELEASED);
        sriov_lock_manager_get_counts(m, SRIOV_LOCK_PF, &pf, &counts);
        assert_int_equal(counts.held_exclusive, 0);

        next = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        assert_true(granted(next));
}

static void test_callback_frees_itself(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *holder = NULL, *after = NULL;
        struct reentry e = {};

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        holder = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        e.target = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        e.free_target = true;
        assert_int_equal(sriov_lock_request_submit(e.target, on_granted_reenter, &e), 0);
        after = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));

        /* The callback frees its own request while the release of holder is delivering;
         * what it held goes straight on to the next one. */
        holder = sriov_lock_request_free(holder);
        assert_int_equal(e.calls, 1);
        assert_null(e.target);
        assert_true(granted(after));
}

static void test_callbacks_do_not_nest(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *holder = NULL, *w1 = NULL, *w2 = NULL, *w3 = NULL;
        struct reentry e1 = {}, e2 = {}, e3 = {};

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        holder = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        w1 = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        w2 = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        w3 = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        /* Each one releases itself when granted, which grants the next. */
        e1.target = w1;
        e2.target = w2;
        assert_int_equal(sriov_lock_request_submit(w1, on_granted_reenter, &e1), 0);
        assert_int_equal(sriov_lock_request_submit(w2, on_granted_reenter, &e2), 0);
        assert_int_equal(sriov_lock_request_submit(w3, on_granted_reenter, &e3), 0);

        holder = sriov_lock_request_free(holder);
        assert_int_equal(e1.calls + e2.calls + e3.calls, 3);
        assert_int_equal(grants.max_depth, 1);
        assert_true(granted(w3));
        assert_ptr_equal(grants.order[1], w1);
        assert_ptr_equal(grants.order[2], w2);
        assert_ptr_equal(grants.order[3], w3);
}

static void test_callback_releases_other_before_told(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *x = NULL, *a = NULL, *b = NULL;
        struct reentry ea = {}, eb = {};

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        x = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        a = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        b = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        ea.target = b;
        assert_int_equal(sriov_lock_request_submit(a, on_granted_reenter, &ea), 0);
        assert_int_equal(sriov_lock_request_submit(b, on_granted_reenter, &eb), 0);

        /* Both are granted by one release; a's callback releases b before b is told. */
        x = sriov_lock_request_free(x);
        assert_int_equal(ea.calls, 1);
        assert_int_equal(eb.calls, 0);
        assert_int_equal(sriov_lock_request_state(b), SRIOV_LOCK_REQUEST_RELEASED);
        assert_int_equal(sriov_lock_manager_n_granted(m), 1);
}

static void test_callback_submits(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *a = NULL, *blocked = NULL;
        static const struct spec free_pf = SPEC_PF(H1, S, PF_B, X), busy_pf = SPEC_PF(H1, S, PF_A, X);
        struct reentry e = { .submit = &free_pf };

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        e.m = m;
        a = make(m, &busy_pf);
        assert_int_equal(sriov_lock_request_submit(a, on_granted_reenter, &e), 0);
        /* The nested submit's grant is delivered after the outer callback, before submit()
         * returns. */
        assert_int_equal(e.calls, 2);
        assert_int_equal(grants.max_depth, 1);
        assert_true(granted(e.submitted));
        e.submitted = sriov_lock_request_free(e.submitted);

        /* A callback's submit that has to wait just queues. */
        blocked = make(m, &(struct spec) SPEC_PF(H1, S, PF_B, S));
        e.submit = &busy_pf;
        e.calls = 0;
        assert_int_equal(sriov_lock_request_submit(blocked, on_granted_reenter, &e), 0);
        assert_int_equal(e.calls, 1);
        assert_true(waiting(e.submitted));
        a = sriov_lock_request_free(a);
        assert_int_equal(e.calls, 2);
        assert_true(granted(e.submitted));
        e.submitted = sriov_lock_request_free(e.submitted);
}

static void test_callback_frees_manager(void **state) {
        (void) state;
        sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *x = NULL, *a = NULL, *b = NULL;
        struct reentry ea = {}, eb = {};

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        x = submit(m, &(struct spec) SPEC_H(H1, X));
        a = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        b = make(m, &(struct spec) SPEC_PF(H1, S, PF_B, S));
        ea.m = m;
        ea.free_manager = true;
        assert_int_equal(sriov_lock_request_submit(a, on_granted_reenter, &ea), 0);
        assert_int_equal(sriov_lock_request_submit(b, on_granted_reenter, &eb), 0);

        sriov_lock_request_release(x);
        assert_int_equal(ea.calls, 1);
        assert_int_equal(eb.calls, 0);  /* the manager went away before b was told */
        assert_int_equal(sriov_lock_request_state(a), SRIOV_LOCK_REQUEST_RELEASED);
        assert_int_equal(sriov_lock_request_state(b), SRIOV_LOCK_REQUEST_RELEASED);
        assert_int_equal(sriov_lock_request_submit(x, on_granted, NULL), -EBUSY);
}

static void test_manager_free_detaches(void **state) {
        (void) state;
        sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *g = NULL, *w = NULL, *n = NULL;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        g = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        w = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        n = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        m = sriov_lock_manager_free(m);

        assert_int_equal(sriov_lock_request_state(g), SRIOV_LOCK_REQUEST_RELEASED);
        assert_int_equal(sriov_lock_request_state(w), SRIOV_LOCK_REQUEST_RELEASED);
        assert_int_equal(sriov_lock_request_submit(n, on_granted, NULL), -ESTALE);
        assert_null(sriov_lock_request_next(g));
        assert_int_equal(times_granted(w), 0);
}

/* ---- stop (teardown) ---- */

static void test_stop_grants_nobody(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *g = NULL, *w = NULL, *other = NULL, *n = NULL;
        sriov_lock_request *blocker = (sriov_lock_request *) 1;
        struct sriov_addr pf = addr(PF_A);
        struct sriov_lock_counts counts;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        g = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        w = submit(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        assert_true(waiting(w));
        assert_false(sriov_lock_manager_stopped(m));

        sriov_lock_manager_stop(m);
        assert_true(sriov_lock_manager_stopped(m));
        /* Teardown frees the holder: its locks go back, the waiter is not granted. */
        g = sriov_lock_request_free(g);
        assert_int_equal(times_granted(w), 0);
        assert_true(waiting(w));
        assert_int_equal(sriov_lock_manager_n_granted(m), 0);
        assert_int_equal(sriov_lock_manager_n_waiting(m), 1);
        sriov_lock_manager_get_counts(m, SRIOV_LOCK_PF, &pf, &counts);
        assert_int_equal(counts.held_exclusive, 0);
        assert_int_equal(counts.waiting_exclusive, 1);
        /* Waiting for nothing now: status must not trip over it. */
        assert_int_equal(sriov_lock_request_get_blocker(w, &blocker, NULL, NULL), 0);
        assert_null(blocker);

        /* Nothing new is queued, not even what would be granted at once. */
        other = make(m, &(struct spec) SPEC_PF(H2, S, PF_C, X));
        assert_int_equal(sriov_lock_request_submit(other, on_granted, NULL), -ESHUTDOWN);
        assert_int_equal(sriov_lock_request_state(other), SRIOV_LOCK_REQUEST_NEW);
        assert_int_equal(grants.n, 1);          /* g, before the stop */

        sriov_lock_manager_stop(m);             /* idempotent */
        w = sriov_lock_request_free(w);
        assert_int_equal(sriov_lock_manager_n_waiting(m), 0);
        n = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        assert_int_equal(sriov_lock_request_submit(n, on_granted, NULL), -ESHUTDOWN);
}

static void test_stop_from_callback(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        _cleanup_(sriov_lock_request_freep) sriov_lock_request *x = NULL, *a = NULL, *b = NULL;
        struct reentry ea = {}, eb = {};

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        x = submit(m, &(struct spec) SPEC_H(H1, X));
        a = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        b = make(m, &(struct spec) SPEC_PF(H1, S, PF_B, S));
        ea.m = m;
        ea.stop_manager = true;
        assert_int_equal(sriov_lock_request_submit(a, on_granted_reenter, &ea), 0);
        assert_int_equal(sriov_lock_request_submit(b, on_granted_reenter, &eb), 0);

        /* One release grants both; a's callback stops the manager before b is told. */
        x = sriov_lock_request_free(x);
        assert_int_equal(ea.calls, 1);
        assert_int_equal(eb.calls, 0);
        assert_true(granted(b));                /* granted, never told; freed by its owner */
        a = sriov_lock_request_free(a);
        b = sriov_lock_request_free(b);
        assert_int_equal(sriov_lock_manager_n_granted(m), 0);
}

/* ---- introspection ---- */

static void test_introspection(void **state) {
        (void) state;
        _cleanup_(sriov_lock_manager_freep) sriov_lock_manager *m = NULL;
        sriov_lock_request *r[4] = {}, *blocker = (sriov_lock_request *) 0x1;
        struct sriov_addr pfa = addr(PF_A), vf = addr(VF_A1), none = addr("0000:09:00.0");
        struct sriov_lock_counts c;
        int tag[4];
        size_t i = 0;

        grants_reset();
        assert_int_equal(sriov_lock_manager_new(&m), 0);
        r[0] = make(m, &(struct spec) SPEC_VF(H1, S, PF_A, S, X, VF_A1));
        r[1] = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, S));
        r[2] = make(m, &(struct spec) SPEC_PF(H1, S, PF_A, X));
        r[3] = make(m, &(struct spec) SPEC_VF(H1, S, PF_A, S, S, VF_A1));
        /* Submission order, not creation order, is the queue order. */
        for (int k = 3; k >= 0; k--)
                assert_int_equal(sriov_lock_request_submit(r[k], on_granted, &tag[k]), 0);

        /* r[3] S + VF S, r[2] X waits, r[1] S waits behind r[2], r[0] waits */
        assert_true(granted(r[3]));
        assert_true(waiting(r[2]) && waiting(r[1]) && waiting(r[0]));
        assert_ptr_equal(sriov_lock_request_userdata(r[2]), &tag[2]);

        sriov_lock_manager_get_counts(m, SRIOV_LOCK_PF, &pfa, &c);
        assert_int_equal(c.held_shared, 1);
        assert_int_equal(c.held_exclusive, 0);
        assert_int_equal(c.waiting_shared, 2);
        assert_int_equal(c.waiting_exclusive, 1);
        sriov_lock_manager_get_counts(m, SRIOV_LOCK_VF, &vf, &c);
        assert_int_equal(c.held_shared, 1);
        assert_int_equal(c.waiting_exclusive, 1);
        sriov_lock_manager_get_counts(m, SRIOV_LOCK_PF, &none, &c);
        assert_int_equal(c.held_shared + c.held_exclusive + c.waiting_shared + c.waiting_exclusive, 0);
        assert_int_equal(sriov_lock_manager_n_waiting(m), 3);
        assert_int_equal(sriov_lock_manager_n_granted(m), 1);

        SRIOV_LOCK_MANAGER_FOREACH(q, m) {
                assert_true(i < 4);
                assert_ptr_equal(q, r[3 - i]);
                assert_int_equal(sriov_lock_request_id(q), i + 1);
                i++;
        }
        assert_int_equal(i, 4);

        assert_int_equal(sriov_lock_request_get_blocker(r[3], &blocker, NULL, NULL), 0);
        assert_null(blocker);
        assert_int_equal(sriov_lock_request_get_blocker(r[0], &blocker, NULL, NULL), 1);
        assert_ptr_equal(blocker, r[3]);        /* the earliest: the holder of the PF */

        for (int k = 0; k < 4; k++)
                r[k] = sriov_lock_request_free(r[k]);
        assert_null(sriov_lock_manager_first(m));
        sriov_lock_manager_get_counts(m, SRIOV_LOCK_PF, &pfa, &c);
        assert_int_equal(c.held_shared + c.waiting_shared + c.waiting_exclusive, 0);
}

/* ---- randomized: random submits, releases and cancels, also from callbacks ----
 *
 * The checker knows nothing of the implementation: it compares locks pairwise by their
 * public description and verifies, after every step, the three properties that together
 * define the grant rule:
 *   safety    no two granted requests conflict;
 *   FIFO      no granted request conflicts with a waiting request submitted before it;
 *   progress  every waiting request conflicts with a granted one or an earlier waiting one
 *             (otherwise it should have been granted);
 * plus that callbacks ran exactly once per grant, the counters and the blocker agree with a
 * recount, and, at the end, that releasing everything before a request gets it granted. */

#define R_CAP 256
#define R_LIVE_MAX 40

struct rnd {
        uint64_t state;
        sriov_lock_manager *m;
        sriov_lock_request *reqs[R_CAP];
        unsigned cb[R_CAP];
        size_t n;
        unsigned steps, grants, cancels, nested;
        uint64_t waiting_sum;
        bool in_callback;
};

static struct rnd *R;

static uint32_t rnd_next(struct rnd *r) {
        /* xorshift64*: reproducible from the seed alone. */
        r->state ^= r->state >> 12;
        r->state ^= r->state << 25;
        r->state ^= r->state >> 27;
        return (uint32_t) ((r->state * UINT64_C(2685821657736338717)) >> 32);
}

static bool rnd_chance(struct rnd *r, unsigned percent) {
        return rnd_next(r) % 100 < percent;
}

static bool live(const sriov_lock_request *q) {
        return waiting(q) || granted(q);
}

static bool model_conflict(const sriov_lock_request *a, const sriov_lock_request *b) {
        for (size_t i = 0; i < sriov_lock_request_n_locks(a); i++)
                for (size_t j = 0; j < sriov_lock_request_n_locks(b); j++) {
                        enum sriov_lock_level la, lb;
                        enum sriov_lock_mode ma, mb;
                        struct sriov_addr aa, ab;

                        assert_int_equal(sriov_lock_request_get_lock(a, i, &la, &aa, &ma), 0);
                        assert_int_equal(sriov_lock_request_get_lock(b, j, &lb, &ab, &mb), 0);
                        if (la == lb && sriov_addr_equal(&aa, &ab) && (ma == X || mb == X))
                                return true;
                }
        return false;
}

static void rnd_address(unsigned h, unsigned p, unsigned v, enum sriov_lock_level level, struct sriov_addr *ret) {
        /* Hierarchy h is 0000:00:0h.0, its PF p on bus h+1 function p, VF v at slot 2+p, fn v. */
        if (level == SRIOV_LOCK_HIERARCHY)
                *ret = (struct sriov_addr) { .domain = 0, .bus = 0, .slot = (uint8_t) (1 + h), .func = 0 };
        else if (level == SRIOV_LOCK_PF)
                *ret = (struct sriov_addr) { .domain = 0, .bus = (uint8_t) (1 + h), .slot = 0, .func = (uint8_t) p };
        else
                *ret = (struct sriov_addr) { .domain = 0, .bus = (uint8_t) (1 + h), .slot = (uint8_t) (2 + p), .func = (uint8_t) v };
}

#define R_HIER 3
#define R_PF 2
#define R_VF 4

static void rnd_callback(sriov_lock_request *req, void *userdata);

static void rnd_submit(struct rnd *r) {
        size_t live_n = 0;
        for (size_t i = 0; i < r->n; i++)
                live_n += live(r->reqs[i]);
        if (r->n >= R_CAP || live_n >= R_LIVE_MAX)
                return;

        unsigned h = rnd_next(r) % R_HIER, p = rnd_next(r) % R_PF;
        struct sriov_addr ha, pa;
        sriov_lock_request *req = NULL;
        bool with_pf = rnd_chance(r, 85);

        rnd_address(h, p, 0, SRIOV_LOCK_HIERARCHY, &ha);
        rnd_address(h, p, 0, SRIOV_LOCK_PF, &pa);
        assert_int_equal(sriov_lock_request_new(r->m, &ha, rnd_chance(r, with_pf ? 5 : 50) ? X : S,
                                                with_pf ? &pa : NULL, rnd_chance(r, 30) ? X : S, &req), 0);
        if (with_pf) {
                unsigned n_vf = rnd_next(r) % 3;
                for (unsigned k = 0; k < n_vf; k++) {
                        struct sriov_addr va;
                        rnd_address(h, p, rnd_next(r) % R_VF, SRIOV_LOCK_VF, &va);
                        int q = sriov_lock_request_add_vf(req, &va, rnd_chance(r, 50) ? X : S);
                        assert_true(q == 0 || q == -EEXIST);
                }
        }

        size_t slot = r->n++;
        r->reqs[slot] = req;
        r->cb[slot] = 0;
        assert_int_equal(sriov_lock_request_submit(req, rnd_callback, NULL), 0);
}

static void rnd_release_some(struct rnd *r) {
        size_t cand[R_CAP], n = 0;
        bool want_granted = rnd_chance(r, 75);

        for (size_t i = 0; i < r->n; i++)
                if (want_granted ? granted(r->reqs[i]) : waiting(r->reqs[i]))
                        cand[n++] = i;
        if (n == 0)
                return;

        size_t i = cand[rnd_next(r) % n];
        if (waiting(r->reqs[i]))
                r->cancels++;
        sriov_lock_request_release(r->reqs[i]);
}

static void rnd_callback(sriov_lock_request *req, void *userdata) {
        struct rnd *r = R;
        size_t slot = 0;

        (void) userdata;
        /* Slots move when the table is compacted, so look the request up. */
        while (slot < r->n && r->reqs[slot] != req)
                slot++;
        assert_true(slot < r->n);
        assert_false(r->in_callback);   /* callbacks never nest */
        assert_true(granted(req));
        r->cb[slot]++;
        r->grants++;

        r->in_callback = true;
        if (rnd_chance(r, 15)) {
                rnd_release_some(r);
                r->nested++;
        }
        if (rnd_chance(r, 10)) {
                rnd_submit(r);
                r->nested++;
        }
        r->in_callback = false;
}

static void rnd_check_counts(struct rnd *r, unsigned h, unsigned p, unsigned v, enum sriov_lock_level l) {
        struct sriov_lock_counts got, want = {};
        struct sriov_addr key;

        rnd_address(h, p, v, l, &key);
        for (size_t i = 0; i < r->n; i++) {
                if (!live(r->reqs[i]))
                        continue;
                for (size_t k = 0; k < sriov_lock_request_n_locks(r->reqs[i]); k++) {
                        enum sriov_lock_level ll;
                        enum sriov_lock_mode mm;
                        struct sriov_addr aa;

                        assert_int_equal(sriov_lock_request_get_lock(r->reqs[i], k, &ll, &aa, &mm), 0);
                        if (ll != l || !sriov_addr_equal(&aa, &key))
                                continue;
                        if (granted(r->reqs[i]))
                                (*(mm == X ? &want.held_exclusive : &want.held_shared))++;
                        else
                                (*(mm == X ? &want.waiting_exclusive : &want.waiting_shared))++;
                }
        }
        sriov_lock_manager_get_counts(r->m, l, &key, &got);
        assert_memory_equal(&got, &want, sizeof(got));
}

static void rnd_check(struct rnd *r) {
        uint64_t last_id = 0;
        size_t n_live = 0, n_waiting = 0, n_granted = 0;

        for (size_t i = 0; i < r->n; i++) {
                sriov_lock_request *a = r->reqs[i];

                /* Outside callbacks every grant has been delivered, exactly once. */
                if (granted(a))
                        assert_int_equal(r->cb[i], 1);
                else if (waiting(a))
                        assert_int_equal(r->cb[i], 0);
                else
                        assert_true(r->cb[i] <= 1);

                if (!live(a))
                        continue;
                n_live++;
                n_waiting += waiting(a);
                n_granted += granted(a);

                bool blocked = false;
                sriov_lock_request *first_blocker = NULL;
                for (size_t j = 0; j < r->n; j++) {
                        sriov_lock_request *b = r->reqs[j];

                        if (i == j || !live(b) || !model_conflict(a, b))
                                continue;
                        /* safety */
                        assert_false(granted(a) && granted(b));
                        /* FIFO */
                        if (granted(a) && waiting(b))
                                assert_true(sriov_lock_request_id(b) > sriov_lock_request_id(a));
                        if (waiting(a) && (granted(b) || sriov_lock_request_id(b) < sriov_lock_request_id(a))) {
                                blocked = true;
                                if (!first_blocker || sriov_lock_request_id(b) < sriov_lock_request_id(first_blocker))
                                        first_blocker = b;
                        }
                }
                /* progress */
                if (waiting(a)) {
                        sriov_lock_request *blocker = NULL;

                        assert_true(blocked);
                        assert_int_equal(sriov_lock_request_get_blocker(a, &blocker, NULL, NULL), 1);
                        assert_ptr_equal(blocker, first_blocker);
                }
        }

        assert_int_equal(sriov_lock_manager_n_waiting(r->m), n_waiting);
        r->waiting_sum += n_waiting;
        assert_int_equal(sriov_lock_manager_n_granted(r->m), n_granted);

        /* The queue lists exactly the live requests, in submission order. */
        size_t seen = 0;
        SRIOV_LOCK_MANAGER_FOREACH(q, r->m) {
                assert_true(live(q));
                assert_true(sriov_lock_request_id(q) > last_id);
                last_id = sriov_lock_request_id(q);
                seen++;
        }
        assert_int_equal(seen, n_live);

        /* Per-key counters against a recount, for every key the run can use. */
        for (unsigned h = 0; h < R_HIER; h++)
                for (unsigned p = 0; p < R_PF; p++)
                        for (unsigned v = 0; v < R_VF; v++)
                                for (enum sriov_lock_level l = 0; l < _SRIOV_LOCK_LEVEL_MAX; l++) {
                                        if ((l == SRIOV_LOCK_HIERARCHY && (p > 0 || v > 0)) || (l == SRIOV_LOCK_PF && v > 0))
                                                continue;       /* same key again */
                                        rnd_check_counts(r, h, p, v, l);
                                }
}

/* Frees released requests and compacts, so the table stays bounded over long runs. */
static void rnd_compact(struct rnd *r) {
        size_t j = 0;

        for (size_t i = 0; i < r->n; i++) {
                if (!live(r->reqs[i])) {
                        r->reqs[i] = sriov_lock_request_free(r->reqs[i]);
                        continue;
                }
                r->reqs[j] = r->reqs[i];
                r->cb[j] = r->cb[i];
                j++;
        }
        r->n = j;
}

/* submit_percent sets the pressure: above 50 the queue stays near R_LIVE_MAX, below it
 * requests mostly find their locks free. */
static void run_random(uint64_t seed, unsigned submit_percent, unsigned steps) {
        struct rnd r = { .state = seed };

        R = &r;
        assert_int_equal(sriov_lock_manager_new(&r.m), 0);

        for (r.steps = 0; r.steps < steps; r.steps++) {
                if (rnd_chance(&r, submit_percent))
                        rnd_submit(&r);
                else
                        rnd_release_some(&r);
                rnd_check(&r);
                rnd_compact(&r);
        }

        /* Drain: release strictly in submission order. Once everything before a request is
         * gone, it must be granted: no deadlock, no starvation. Callbacks may still submit
         * more; the loop takes those too. */
        for (;;) {
                sriov_lock_request *first = sriov_lock_manager_first(r.m);
                if (!first)
                        break;
                assert_true(granted(first));
                sriov_lock_request_release(first);
                rnd_check(&r);
        }

        print_message("seed %#llx, %u%% submits: %u steps, %u grants, %u cancels, %u actions from callbacks, %.1f waiting on average\n",
                      (unsigned long long) seed, submit_percent, r.steps, r.grants, r.cancels, r.nested, (double) r.waiting_sum / r.steps);
        assert_true(r.grants > steps / 4);

        for (size_t i = 0; i < r.n; i++)
                r.reqs[i] = sriov_lock_request_free(r.reqs[i]);
        r.m = sriov_lock_manager_free(r.m);
        R = NULL;
}

static void test_random(void **state) {
        static const struct {
                uint64_t seed;
                unsigned submit_percent;
        } runs[] = {
                { 0x5eed, 55 },
                { 0xdeadbeef, 60 },
                { 0x123456789abcdefULL, 50 },
                { 42, 45 },
                { 0xfeedface, 35 },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(runs); i++)
                run_random(runs[i].seed, runs[i].submit_percent, 4000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_new_invalid),
                cmocka_unit_test(test_add_vf_table),
                cmocka_unit_test(test_lock_order),
                cmocka_unit_test(test_submit_state_machine),
                cmocka_unit_test(test_conflict_table),
                cmocka_unit_test(test_fifo_fairness),
                cmocka_unit_test(test_nonconflicting_pass),
                cmocka_unit_test(test_hierarchies_parallel),
                cmocka_unit_test(test_hierarchy_exclusive),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_callbacks_in_fifo_order),
                cmocka_unit_test(test_callback_releases_itself_in_submit),
                cmocka_unit_test(test_callback_frees_itself),
                cmocka_unit_test(test_callbacks_do_not_nest),
                cmocka_unit_test(test_callback_releases_other_before_told),
                cmocka_unit_test(test_callback_submits),
                cmocka_unit_test(test_callback_frees_manager),
                cmocka_unit_test(test_manager_free_detaches),
                cmocka_unit_test(test_stop_grants_nobody),
                cmocka_unit_test(test_stop_from_callback),
                cmocka_unit_test(test_introspection),
                cmocka_unit_test(test_random),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
