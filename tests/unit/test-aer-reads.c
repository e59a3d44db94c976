/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon/sriovd-aer-reads.c: an error uevent's AER files are read at once, unless the
 * function was read within the window; then once when the window ends. Scripts of
 * uevents and flushes on a fake clock (window 100 ms). */
#include "sriovd-aer-reads.h"
#include "unit-test.h"

#define W 100000        /* the window, us */

enum step_kind { END, UEVENT, FLUSH };

struct step {
        enum step_kind kind;
        uint64_t t;             /* us */
        unsigned dev;           /* UEVENT: device index */
        bool due;               /* UEVENT: read at once? */
        const char *flushed;    /* FLUSH: device indexes handed to the callback, e.g. "01" */
        uint64_t next;          /* FLUSH: when the next one is due (UINT64_MAX: none) */
        unsigned pending;       /* after the step */
};

struct script {
        const char *name;
        struct step steps[16];
};

#define N UINT64_MAX
static const struct script scripts[] = {
        { "lone-errors-read-at-once", {
                { UEVENT, 0, 0, true, .pending = 0 },
                { UEVENT, W, 0, true, .pending = 0 },
                { UEVENT, 5 * W, 0, true, .pending = 0 },
                { FLUSH, 6 * W, .flushed = "", .next = N },
        } },
        { "burst-one-read-then-one-flush", {
                { UEVENT, 0, 0, true },
                { UEVENT, 10, 0, false, .pending = 1 },
                { UEVENT, 20, 0, false, .pending = 1 },
                { UEVENT, 99999, 0, false, .pending = 1 },
                { FLUSH, 50000, .flushed = "", .next = W, .pending = 1 },
                { FLUSH, W, .flushed = "0", .next = N, .pending = 0 },
                /* the flush was a read: the next uevent within its window waits again */
                { UEVENT, W + 10, 0, false, .pending = 1 },
                { FLUSH, 2 * W, .flushed = "0", .next = N },
                { UEVENT, 3 * W + 1, 0, true },
        } },
        { "devices-are-independent", {
                { UEVENT, 0, 0, true },
                { UEVENT, 10, 1, true },
                { UEVENT, 20, 1, false, .pending = 1 },
                { UEVENT, 30000, 0, false, .pending = 2 },
                { UEVENT, 40000, 2, true, .pending = 2 },
                { FLUSH, W + 5, .flushed = "0", .next = W + 10, .pending = 1 },
                { FLUSH, W + 10, .flushed = "1", .next = N },
        } },
        { "flush-only-what-is-due", {
                { UEVENT, 0, 0, true },
                { UEVENT, 60000, 1, true },
                { UEVENT, 70000, 0, false, .pending = 1 },
                { UEVENT, 80000, 1, false, .pending = 2 },
                { FLUSH, W, .flushed = "0", .next = 60000 + W, .pending = 1 },
                { FLUSH, 60000 + W, .flushed = "1", .next = N },
        } },
        { "late-flush-still-one-read", {
                { UEVENT, 0, 3, true },
                { UEVENT, 1, 3, false, .pending = 1 },
                { FLUSH, 10 * W, .flushed = "3", .next = N },
                { UEVENT, 10 * W + 1, 3, false, .pending = 1 },
        } },
};

struct recorder {
        char flushed[64];
        size_t n;
};

static void on_flush(const struct sriov_addr *addr, void *userdata) {
        struct recorder *rec = userdata;

        assert_true(rec->n + 1 < sizeof(rec->flushed));
        rec->flushed[rec->n++] = (char) ('0' + addr->func);
        rec->flushed[rec->n] = '\0';
}

static void test_script(void **state) {
        const struct script *s = *state;
        struct sriovd_aer_reads *r = NULL;
        struct recorder rec = {};

        assert_int_equal(sriovd_aer_reads_new(NULL, W, on_flush, &rec, &r), 0);
        for (const struct step *st = s->steps; st->kind != END; st++) {
                if (st->kind == UEVENT) {
                        struct sriov_addr a = { .bus = 1, .func = (uint8_t) st->dev };
                        bool due = sriovd_aer_reads_due(r, &a, st->t);
                        if (due != st->due)
                                fail_msg("step %zu: uevent on %u at %" PRIu64 ": due %d, expected %d",
                                         (size_t) (st - s->steps), st->dev, st->t, due, st->due);
                } else {
                        rec.n = 0;
                        rec.flushed[0] = '\0';
                        uint64_t next = sriovd_aer_reads_flush(r, st->t);
                        assert_string_equal(rec.flushed, st->flushed);
                        assert_int_equal(next, st->next);
                }
                assert_int_equal(sriovd_aer_reads_pending(r), st->pending);
        }
        sriovd_aer_reads_free(r);
}

/* More functions than the table holds: the ones that do not fit are read every time. */
static void test_table_full(void **state) {
        struct sriovd_aer_reads *r = NULL;
        struct recorder rec = {};

        assert_int_equal(sriovd_aer_reads_new(NULL, W, on_flush, &rec, &r), 0);
        for (unsigned i = 0; i < SRIOVD_AER_READS_MAX; i++) {
                struct sriov_addr a = { .bus = (uint8_t) (i / 8), .slot = 0, .func = (uint8_t) (i % 8) };
                assert_true(sriovd_aer_reads_due(r, &a, 0));
        }
        struct sriov_addr extra = { .bus = 200 };
        assert_true(sriovd_aer_reads_due(r, &extra, 10));
        assert_true(sriovd_aer_reads_due(r, &extra, 20));
        assert_int_equal(sriovd_aer_reads_pending(r), 0);
        /* once a window ended, idle entries are reused */
        assert_true(sriovd_aer_reads_due(r, &extra, W + 30));
        assert_false(sriovd_aer_reads_due(r, &extra, W + 40));
        assert_int_equal(sriovd_aer_reads_pending(r), 1);
        sriovd_aer_reads_free(r);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(scripts); i++)
                unit_add(&t, test_script, (void *) &scripts[i], "script/%s", scripts[i].name);
        unit_add(&t, test_table_full, NULL, "table-full");
        return unit_run(&t, "aer-reads");
}
