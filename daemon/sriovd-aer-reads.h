/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a function's AER counters at most once per window.
 *
 * Every error uevent used to re-read the AER files of the function and of its root port
 * (up to nine open/read/close each, 70% of the daemon's time per event: bench/README.md).
 * In a storm that is the same few files read thousands of times a second for counters
 * that either did not move or will be read again a millisecond later. So: the first
 * error uevent of a function reads its counters at once (a lone error is reported exactly
 * as before, deltas on its own event); one that comes within the window after a read does
 * not read, and marks the function; when the window ends, the marked functions are handed
 * to the flush callback, which reads them once and records what grew meanwhile. No growth
 * is lost or counted twice: every read diffs against the previous one. */

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-address.h"

/* The window: 10 reads per second per function at most during a storm. */
#define SRIOVD_AER_READ_WINDOW_USEC UINT64_C(100000)
/* Functions tracked at once; when full, reads are not coalesced (correct, only slower). */
#define SRIOVD_AER_READS_MAX 256

struct sriovd_aer_reads;

/* Called for every marked function once its window ended; reads and records. */
typedef void (*sriovd_aer_flush_fn)(const struct sriov_addr *addr, void *userdata);

/* base may be NULL (no timer: the owner calls sriovd_aer_reads_flush() itself, as tests do). */
int sriovd_aer_reads_new(struct event_base *base, uint64_t window_usec, sriovd_aer_flush_fn fn, void *userdata,
                         struct sriovd_aer_reads **ret);
struct sriovd_aer_reads *sriovd_aer_reads_free(struct sriovd_aer_reads *r);

/* True: read addr's counters now (the read is noted at now_usec). False: a read within
 * the window already happened; addr is marked and will be flushed when the window ends. */
bool sriovd_aer_reads_due(struct sriovd_aer_reads *r, const struct sriov_addr *addr, uint64_t now_usec);

/* Hands every marked function whose window ended by now_usec to the flush callback, and
 * returns when the next marked one is due (UINT64_MAX: none). */
uint64_t sriovd_aer_reads_flush(struct sriovd_aer_reads *r, uint64_t now_usec);

/* Marked functions, for tests and status. */
unsigned sriovd_aer_reads_pending(const struct sriovd_aer_reads *r);

uint64_t sriovd_now_usec(void);
