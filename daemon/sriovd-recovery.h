/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCIe error recovery: what the kernel is doing (the tracker, fed by ERROR_EVENT uevents),
 * and what sriovd does after the kernel gave up (one state machine per failed PF, run
 * under the hierarchy lock taken exclusively, each step a worker-thread write with a
 * deadline). Both machines live in lib/sriov-recovery.c; this is their glue. */

#include <event2/http.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "sriov-address.h"
#include "sriov-model.h"
#include "sriov-recovery.h"
#include "sriov-uevent.h"

struct sriovd_manager;
struct sriovd_recovery;

int sriovd_recovery_new(struct sriovd_manager *m, struct sriovd_recovery **ret);
struct sriovd_recovery *sriovd_recovery_free(struct sriovd_recovery *r);

/* An ERROR_EVENT uevent (after the model applied it). */
void sriovd_recovery_on_error_event(struct sriovd_recovery *r, const struct sriov_addr *addr, SriovErrorEventKind kind);
/* Every uevent: PFs coming back, VFs appearing while restoring. */
void sriovd_recovery_on_uevent(struct sriovd_recovery *r, const char *action, const struct sriov_addr *addr);

/* The kernel is recovering the hierarchy, or sriovd's own recovery of a PF below it is
 * queued or running: no other write may start there. */
bool sriovd_recovery_busy(struct sriovd_recovery *r, const struct sriov_addr *hierarchy);

/* Starts (or joins) the user-space recovery of a PF; req (may be NULL) gets the final
 * report. reason is recorded in the event history. */
void sriovd_recovery_start_pf(struct sriovd_recovery *r, const struct sriov_addr *pf, const char *reason,
                              struct evhttp_request *req);

/* Per-PF settings until configuration files set them (and overriding them afterwards). */
int sriovd_recovery_set_policy(struct sriovd_recovery *r, const struct sriov_addr *pf, SriovRecoveryPolicy policy,
                               unsigned max_attempts, int park_idle_vfs);
SriovRecoveryPolicy sriovd_recovery_get_policy(struct sriovd_recovery *r, const struct sriov_addr *pf,
                                               unsigned *ret_attempts, bool *ret_park);

/* Remembers a driver bound through sriovd, to restore after recovery (driver NULL forgets). */
void sriovd_recovery_remember_binding(struct sriovd_recovery *r, const struct sriov_addr *addr, const char *driver);

json_object *sriovd_recovery_pf_json(struct sriovd_recovery *r, const struct sriov_addr *pf);
/* The kernel's recoveries of a hierarchy so far (for /metrics). */
void sriovd_recovery_kernel_counters(struct sriovd_recovery *r, const struct sriov_addr *hierarchy,
                                     struct sriov_recovery_counters *ret);

/* blockers: sriov_model_blockers() of the model now (built once for a whole listing). */
json_object *sriovd_recovery_hierarchy_json(struct sriovd_recovery *r, const struct sriov_addr *hierarchy,
                                            const struct sriov_blockers *blockers);
