/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SR-IOV enable/disable operations: the one path through which sriovd changes a PF's VF
 * count.
 *
 * Each operation takes the ordering locks (hierarchy shared, PF exclusive; FIFO per PF),
 * then the same locks as files for other processes, and then:
 *   - when the count is neither 0 nor the target, writes 0 first and waits for the VFs
 *     to go (the kernel answers EBUSY otherwise);
 *   - writes the target on a worker thread with a deadline: past it, the operation is
 *     reported as hung in the kernel while the loop and the API stay responsive, and the
 *     PF stays locked until the write returns;
 *   - waits, driven by uevents, until no event concerning the PF or its VFs arrived for a
 *     quiet window (late probe failures unbind), or the settle deadline;
 *   - verifies from the virtfnN links and driver links, builds the report and, under the
 *     all-or-nothing policy, rolls a partial result back to the previous count. */

#include <event2/http.h>
#include <json-c/json.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-enable.h"

struct sriovd_manager;
struct sriovd_ops;
struct sriovd_op;

int sriovd_ops_new(struct sriovd_manager *m, struct sriovd_ops **ret);
struct sriovd_ops *sriovd_ops_free(struct sriovd_ops *ops);

/* Validates against the model and queues; 1 when queued, < 0 when refused. Replies to req: 4xx on refusal, 202 with the
 * operation when !wait, or the final report (200) once settled. */
int sriovd_ops_submit(struct sriovd_ops *ops, const struct sriov_addr *pf,
                      const struct sriov_enable_request *request, struct evhttp_request *req);

/* Model changed for addr (after the model applied the uevent). */
void sriovd_ops_on_uevent(struct sriovd_ops *ops, const char *action, const struct sriov_addr *addr,
                          bool error_event);

/* A PCIe error event (recorded as seq) below hierarchy: operations writing or settling
 * there note it, and their report says so. */
void sriovd_ops_note_error(struct sriovd_ops *ops, const struct sriov_addr *hierarchy, const struct sriov_addr *addr,
                           const char *kind, uint64_t seq);

/* A hierarchy the kernel is recovering must not be written to; called when that ends so
 * that queued operations proceed. */
void sriovd_ops_kick(struct sriovd_ops *ops);

/* JSON of all operations (running first), of one, and of those pending or running on a
 * PF (for GET /v1/devices/{pf}). */
json_object *sriovd_ops_list_json(struct sriovd_ops *ops);
void sriovd_ops_reply_one(struct sriovd_ops *ops, uint64_t id, bool wait, struct evhttp_request *req);
json_object *sriovd_ops_for_pf_json(struct sriovd_ops *ops, const struct sriov_addr *pf);
/* Binds every VF of pf that has no driver to vfio-pci (the park policy). */
void sriovd_ops_park_idle(struct sriovd_ops *ops, const struct sriov_addr *pf);

/* Whether an operation is queued or running on this PF (drift is not reported then). */
bool sriovd_ops_busy(struct sriovd_ops *ops, const struct sriov_addr *pf);
