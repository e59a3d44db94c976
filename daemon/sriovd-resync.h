/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Re-reading the whole device model from sysfs when uevents were lost.
 *
 * The kernel drops uevents when a listener's socket buffer is full and tells it with
 * ENOBUFS on the next receive (netlink_overrun()). From then on the incremental model
 * may be wrong in any way: VFs that came or went, drivers bound or unbound. A resync
 * lists the bus again and applies the difference as if the missed events had arrived:
 * a "remove" for every function gone, an "add" for every new one (so recovery, pending
 * operations and the configuration hear of them), and a re-read of all others.
 *
 * Requests are coalesced: an overflow during a storm comes with more of them, and one
 * rescan after the burst is what is needed, so it runs from a short timer, never from
 * the receive path, and once for any number of requests made before it runs. */

#include "sriov-macros.h"

struct sriovd_manager;
struct sriovd_resync;

int sriovd_resync_new(struct sriovd_manager *m, struct sriovd_resync **ret);
struct sriovd_resync *sriovd_resync_free(struct sriovd_resync *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriovd_resync *, sriovd_resync_free);

/* Schedules a rescan (coalesced, see above); why is logged. */
void sriovd_resync_request(struct sriovd_resync *r, const char *why);

/* Rescans asked for, and carried out, since the start. */
unsigned sriovd_resync_requested(const struct sriovd_resync *r);
unsigned sriovd_resync_done(const struct sriovd_resync *r);
