/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every PCI function of the system, kept up to date one function at a time: a full
 * scan at start, then sriov_model_refresh()/sriov_model_forget() per kernel uevent.
 * Sorted by address; lookups are binary searches, so thousands of VFs cost little. */

#include <stdbool.h>
#include <stddef.h>

#include "sriov-device.h"
#include "sriov-names.h"
#include "sriov-sysfs.h"

struct sriov_model;

/* sysfs and names are borrowed and must outlive the model; names may be NULL. */
int sriov_model_new(struct sriov_sysfs *sysfs, struct sriov_names *names, struct sriov_model **ret);
struct sriov_model *sriov_model_free(struct sriov_model *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_model *, sriov_model_free);

/* Replaces the whole model with what sysfs shows now. A function that vanishes during
 * the scan is skipped, not an error. */
int sriov_model_scan(struct sriov_model *m);

size_t sriov_model_size(const struct sriov_model *m);
const struct sriov_device *sriov_model_at(const struct sriov_model *m, size_t i);
const struct sriov_device *sriov_model_get(const struct sriov_model *m, const struct sriov_addr *a);

/* Re-reads one function (after add/change/bind/unbind). Keeps the PF's VF list in step
 * when a VF comes or goes, and re-reads VFs a PF lists whose physfn link was not there
 * yet when their own add event was handled (the kernel adds the device before linking
 * it to its PF). A function that is gone is forgotten. Returns 1 when it exists, 0 when
 * it was forgotten.
 * A PF's VF set is checked with two links, not listed (sriov_device_load_known()): a
 * uevent's refresh trusts that every VF the kernel removes sends its own remove uevent. */
int sriov_model_refresh(struct sriov_model *m, const struct sriov_addr *a);
/* The same; *ret_vfs_changed says whether a PF's VF list may have changed (it was listed
 * again, or the function just became a PF). false for any other role. */
int sriov_model_refresh_vfs_changed(struct sriov_model *m, const struct sriov_addr *a, bool *ret_vfs_changed);
/* The same, for when sysfs must have the last word: after uevents may have been lost (a
 * resynchronisation), and to verify sriovd's own writes (an operation, a recovery). A
 * PF's virtfnN links are listed and read in every case, so a VF that left without a
 * remove uevent is seen. O(VFs): not for a uevent's refresh. */
int sriov_model_resync(struct sriov_model *m, const struct sriov_addr *a);
/* Re-reads only the AER counters of one function (cheap: for periodic polling of
 * correctable errors, which send no uevent). The previous counters are moved to
 * ret_previous (caller calls sriov_aer_done()). -ENOENT if the model has no such function. */
int sriov_model_refresh_aer(struct sriov_model *m, const struct sriov_addr *a, struct sriov_aer *ret_previous);

/* Re-reads only the network interface names of one function (after an rtnetlink link
 * event: a rename, a netdev registered or gone). 1 when they changed, 0 when not,
 * -ENOENT if the model has no such function. */
int sriov_model_refresh_netdevs(struct sriov_model *m, const struct sriov_addr *a);

/* After a remove event: drops the function and its entry in its PF's VF list. */
int sriov_model_forget(struct sriov_model *m, const struct sriov_addr *a);

/* The functions that make the kernel's AER recovery of their hierarchy fail: one without
 * a driver has no error_detected callback, and the kernel then fails the recovery of the
 * whole subtree ("can't recover (no error_detected callback)"). Bridges and the
 * hierarchy's own port are not counted. Built in one pass over the model and grouped by
 * hierarchy, so that every root port of a listing costs its own functions, not the whole
 * model each time. The pointers are the model's: valid until it next changes. */
struct sriov_blockers {
        const struct sriov_device **devices;    /* by hierarchy, then by address */
        size_t n;
};
int sriov_model_blockers(const struct sriov_model *m, struct sriov_blockers *ret);
/* The blockers of one hierarchy, in address order: *ret points into b, count returned. */
size_t sriov_blockers_of(const struct sriov_blockers *b, const struct sriov_addr *hierarchy,
                         const struct sriov_device *const **ret);
void sriov_blockers_done(struct sriov_blockers *b);
