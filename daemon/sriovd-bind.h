/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Binding functions to drivers (vfio-pci for VMs and DPDK, or back to their own driver),
 * through the same ordering locks and worker threads as VF count changes: a bind of a VF
 * holds its hierarchy and PF shared and the VF exclusive. */

#include <event2/http.h>
#include <stdbool.h>

#include "sriov-address.h"

struct sriovd_manager;
struct sriovd_binds;

int sriovd_binds_new(struct sriovd_manager *m, struct sriovd_binds **ret);
struct sriovd_binds *sriovd_binds_free(struct sriovd_binds *b);

/* driver NULL: unbind. Validates (the IOMMU isolation check for vfio-pci unless force),
 * queues, replies to req when done or at the deadline. */
void sriovd_binds_submit(struct sriovd_binds *b, const struct sriov_addr *addr, const char *driver, bool force,
                         struct evhttp_request *req);

/* The kernel finished recovering a hierarchy: deferred binds may go. */
void sriovd_binds_kick(struct sriovd_binds *b);
