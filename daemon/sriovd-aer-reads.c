/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sriovd-aer-reads.h"

struct entry {
        struct sriov_addr addr;
        uint64_t last_read_usec;
        bool used;
        bool pending;
};

struct sriovd_aer_reads {
        uint64_t window_usec;
        sriovd_aer_flush_fn fn;
        void *userdata;
        struct event *timer;            /* NULL without a base */
        uint64_t armed_usec;            /* when the timer fires; UINT64_MAX: not armed */
        unsigned n_pending;
        struct entry entries[SRIOVD_AER_READS_MAX];
};

uint64_t sriovd_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void arm(struct sriovd_aer_reads *r, uint64_t due_usec, uint64_t now_usec) {
        uint64_t d;

        /* Never later than a window already waiting: that one would be flushed late. */
        if (!r->timer || due_usec == UINT64_MAX || due_usec >= r->armed_usec)
                return;
        r->armed_usec = due_usec;
        d = due_usec > now_usec ? due_usec - now_usec : 0;
        event_add(r->timer, &(struct timeval) { .tv_sec = (time_t) (d / 1000000), .tv_usec = (suseconds_t) (d % 1000000) });
}

static void timer_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_aer_reads *r = userdata;
        uint64_t now = sriovd_now_usec();

        r->armed_usec = UINT64_MAX;
        arm(r, sriovd_aer_reads_flush(r, now), now);
}

int sriovd_aer_reads_new(struct event_base *base, uint64_t window_usec, sriovd_aer_flush_fn fn, void *userdata,
                         struct sriovd_aer_reads **ret) {
        struct sriovd_aer_reads *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->window_usec = window_usec;
        r->fn = fn;
        r->userdata = userdata;
        r->armed_usec = UINT64_MAX;
        if (base) {
                r->timer = evtimer_new(base, timer_cb, r);
                if (!r->timer) {
                        free(r);
                        return -ENOMEM;
                }
        }
        *ret = r;
        return 0;
}

struct sriovd_aer_reads *sriovd_aer_reads_free(struct sriovd_aer_reads *r) {
        if (!r)
                return NULL;
        if (r->timer)
                event_free(r->timer);
        free(r);
        return NULL;
}

bool sriovd_aer_reads_due(struct sriovd_aer_reads *r, const struct sriov_addr *addr, uint64_t now_usec) {
        struct entry *e = NULL, *free_slot = NULL;

        for (size_t i = 0; i < SRIOVD_AER_READS_MAX; i++) {
                struct entry *x = &r->entries[i];

                if (!x->used) {
                        if (!free_slot)
                                free_slot = x;
                        continue;
                }
                if (sriov_addr_equal(&x->addr, addr)) {
                        e = x;
                        break;
                }
                /* An entry whose window ended and that has nothing to flush is free again. */
                if (!x->pending && now_usec - x->last_read_usec >= r->window_usec && !free_slot)
                        free_slot = x;
        }
        if (e) {
                if (e->pending)
                        return false;
                if (now_usec - e->last_read_usec < r->window_usec) {
                        e->pending = true;
                        r->n_pending++;
                        arm(r, e->last_read_usec + r->window_usec, now_usec);
                        return false;
                }
                e->last_read_usec = now_usec;
                return true;
        }
        if (free_slot)
                *free_slot = (struct entry) { .addr = *addr, .last_read_usec = now_usec, .used = true };
        return true;
}

uint64_t sriovd_aer_reads_flush(struct sriovd_aer_reads *r, uint64_t now_usec) {
        uint64_t next = UINT64_MAX;

        for (size_t i = 0; i < SRIOVD_AER_READS_MAX && r->n_pending > 0; i++) {
                struct entry *e = &r->entries[i];
                uint64_t due;

                if (!e->used || !e->pending)
                        continue;
                due = e->last_read_usec + r->window_usec;
                if (due > now_usec) {
                        if (due < next)
                                next = due;
                        continue;
                }
                e->pending = false;
                r->n_pending--;
                e->last_read_usec = now_usec;
                r->fn(&e->addr, r->userdata);
        }
        return next;
}

unsigned sriovd_aer_reads_pending(const struct sriovd_aer_reads *r) {
        return r->n_pending;
}
