/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Runs work that can block in the kernel (sriov_numvfs writes, flock waits) off the
 * event loop. Each job gets its own thread: a write that hangs in the kernel keeps its
 * thread, and must not hold up any other job, so a fixed pool would be the wrong tool.
 * The job's result comes back on the loop thread through an eventfd.
 *
 * A job's userdata belongs to the caller and must stay valid until done() ran. */

#include <event2/event.h>

#include "sriov-macros.h"

struct sriovd_workers;

typedef int (*sriovd_job_fn)(void *userdata);                     /* worker thread */
typedef void (*sriovd_job_done_fn)(int result, void *userdata);   /* loop thread */

int sriovd_workers_new(struct event_base *base, struct sriovd_workers **ret);
/* Jobs still running are abandoned: their threads are detached and their results
 * dropped (the process is exiting). */
struct sriovd_workers *sriovd_workers_free(struct sriovd_workers *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriovd_workers *, sriovd_workers_free);

/* From SIGTERM on: submit() refuses with -ESHUTDOWN. Jobs already running go on, and
 * their done() still runs while the loop does. */
void sriovd_workers_stop(struct sriovd_workers *w);
/* -ESHUTDOWN once stopped, -ENOMEM, or pthread_create()'s error. */
int sriovd_workers_submit(struct sriovd_workers *w, sriovd_job_fn fn, sriovd_job_done_fn done, void *userdata);
unsigned sriovd_workers_running(const struct sriovd_workers *w);
