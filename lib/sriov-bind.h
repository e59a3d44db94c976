/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Handing a PCI function to a driver the way the kernel documents it
 * (Documentation/ABI/testing/sysfs-bus-pci): driver_override, unbind from the current
 * driver, drivers_probe, then the driver link says whether it worked.
 *
 * Every step is a sysfs write the kernel serves under the device lock, so these run on a
 * worker thread, never on the event loop. */

#include <stdbool.h>

#include "sriov-address.h"
#include "sriov-sysfs.h"

/* [A-Za-z0-9_-], 1..64 characters: anything else is not a driver and must never reach a
 * sysfs write or a modprobe command line. */
bool sriov_driver_name_valid(const char *name);

struct sriov_bind_result {
        int error;                      /* 0, or -errno of the failed step */
        const char *failed_step;        /* static: "load module", "driver_override", ... */
        bool module_loaded;             /* we ran modprobe */
        char driver_now[65];            /* the driver bound afterwards, "" for none */
};

/* Loads the driver's module when the kernel does not know the driver yet (modprobe), sets
 * driver_override, unbinds the current driver, probes, and verifies. */
int sriov_bind_driver(struct sriov_sysfs *s, const struct sriov_addr *a, const char *driver,
                      struct sriov_bind_result *ret);

/* Unbinds the current driver (if any) and clears driver_override, so the function stays
 * without a driver until someone binds one. */
int sriov_unbind_driver(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_bind_result *ret);
