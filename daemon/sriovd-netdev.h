/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Network identity and per-VF network settings of PFs that are NICs.
 *
 * A route socket subscribed to RTNLGRP_LINK sits on the event loop (non-blocking, read
 * until EAGAIN). A link message names its parent PCI function (IFLA_PARENT_DEV_NAME), so
 * each one re-lists that function's net/ names in the model (renames are followed at
 * once) and marks its PF dirty. Dirty PFs are refreshed together after a short quiet
 * time (coalescing a burst into one query per PF), on a worker thread: the PF's
 * address, operstate and speed from sysfs, and one RTM_GETLINK with the VF list for that
 * one interface (never a dump of all links). The result comes back to the loop, where
 * each VF's settings as the kernel reports them are compared with the configured ones:
 * a difference is drift, reported once per change as a VF_SETTINGS_DRIFT event and set
 * again when the PF's section says `reapply = yes`.
 *
 * The kernel notifies VF setting changes only while the PF is up (do_setlink() ends in
 * netdev_state_change(), which is silent for a down interface); a change made while it
 * is down is seen at the next link event, and by the slow periodic check below. */

#include <json-c/json.h>

#include "sriov-address.h"
#include "sriov-device.h"
#include "sriov-netlink.h"

struct sriovd_manager;
struct sriovd_netdev;

#define SRIOVD_NETDEV_COALESCE_MS 100
#define SRIOVD_NETDEV_PERIODIC_SEC 30

/* Without rtnetlink (a sandbox without AF_NETLINK) it still works from sysfs and PCI
 * uevents; that is logged, not an error. */
int sriovd_netdev_new(struct sriovd_manager *m, struct sriovd_netdev **ret);
struct sriovd_netdev *sriovd_netdev_free(struct sriovd_netdev *n);

/* A PCI uevent on addr (a PF or one of its VFs): its PF is refreshed soon. */
void sriovd_netdev_on_uevent(struct sriovd_netdev *n, const struct sriov_addr *addr);
/* Every PF is refreshed soon (start, reload). */
void sriovd_netdev_refresh_all(struct sriovd_netdev *n);

/* sriovd starts applying the configured settings of PF's VFs: until the answer, a
 * difference is work in progress, not drift. */
void sriovd_netdev_apply_started(struct sriovd_netdev *n, const struct sriov_addr *pf);
/* What the kernel answered when sriovd applied the configured settings of PF's VFs:
 * refused attributes are reported by name and not counted as drift. */
void sriovd_netdev_note_applied(struct sriovd_netdev *n, const struct sriov_addr *pf, const struct sriov_nl_result *res,
                                size_t n_res);

/* A PF's "network" member: its interface, and per VF (in the order of sriov.vfs) its
 * interface and its settings configured, as the kernel reports them, refused and
 * drifted. NULL (JSON null) for a PF without a network interface. */
json_object *sriovd_netdev_pf_json(struct sriovd_netdev *n, const struct sriov_device *d);

/* [pf "IFNAME"] sections that match no PF now: [{"match": "...", "message": "FILE:LINE: ..."}],
 * each also logged as a warning when log is true (start, reload). */
json_object *sriovd_netdev_unmatched_json(struct sriovd_netdev *n, bool log);
