/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A PF's network interface name, for the labels of metrics and NFD features.
 *
 * Until the device model carries the PF's netdev name, this is a small cache kept by the
 * loop: filled when a PF is scanned or gets a uevent (a readdir of its net/ folder, which
 * takes no device lock), so that rendering /metrics or the NFD file reads no sysfs. When
 * the model has the name, sriovd_ifname_get() reads it from there and the cache goes.
 * Known gap: a rename (udev's eth0 -> ens1f0) is a "net" uevent, which the pci monitor
 * does not see; the new name shows after the PF's next uevent or a restart. */

#include "sriov-address.h"
#include "sriov-sysfs.h"

struct sriovd_ifnames;

int sriovd_ifnames_new(struct sriov_sysfs *sysfs, struct sriovd_ifnames **ret);
struct sriovd_ifnames *sriovd_ifnames_free(struct sriovd_ifnames *c);

/* Re-reads the name of pf (forgets it when the PF has none, or is gone). */
void sriovd_ifnames_refresh(struct sriovd_ifnames *c, const struct sriov_addr *pf);
void sriovd_ifnames_forget(struct sriovd_ifnames *c, const struct sriov_addr *pf);

/* The name, or NULL: no interface, or not known. c may be NULL. */
const char *sriovd_ifname_get(const struct sriovd_ifnames *c, const struct sriov_addr *pf);
