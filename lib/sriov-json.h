/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* JSON encoding of the device model (json-c). The shape is documented in docs/api.md. */

#include <json-c/json.h>

#include "sriov-device.h"
#include "sriov-model.h"

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* New references; NULL only on allocation failure. */
/* m (may be NULL) fills in each VF's driver and IOMMU group in a PF's VF list. */
json_object *sriov_device_to_json(const struct sriov_model *m, const struct sriov_device *d);
json_object *sriov_aer_to_json(const struct sriov_aer *a);
json_object *sriov_addr_to_json(const struct sriov_addr *a);
