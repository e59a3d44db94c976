/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A hand-built sysfs tree in a mkdtemp() directory, laid out as the kernel lays it out:
 *
 *   <tmp>/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/{vendor,device,class,...}
 *   <tmp>/sys/bus/pci/devices/0000:01:00.0 -> ../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0
 *   .../0000:01:00.0/driver      -> ../../../../bus/pci/drivers/nvme
 *   .../0000:01:00.0/iommu_group -> ../../../../kernel/iommu_groups/12
 *   .../0000:01:00.0/virtfn0     -> ../0000:01:00.1
 *   .../0000:01:00.1/physfn      -> ../0000:01:00.0
 *
 * Point sriov_sysfs_new() at fixture_tree_sysfs(). Functions are named by their address
 * string; every call returns 0 or -errno. The tree is removed by fixture_tree_free(). */

#include <stdbool.h>
#include <stdint.h>

struct fixture_tree;

int fixture_tree_new(struct fixture_tree **ret);
struct fixture_tree *fixture_tree_free(struct fixture_tree *t);

/* "<tmp>/sys" and "<tmp>". */
const char *fixture_tree_sysfs(const struct fixture_tree *t);
const char *fixture_tree_dir(const struct fixture_tree *t);

/* Adds a function with vendor, device and class attributes ("0x1b36\n" as the kernel
 * writes them) and its bus/pci/devices link. parent NULL: directly on the root bus
 * ("pci<domain>:<bus>" of addr); otherwise the address of an existing function (a bridge,
 * or for VFs the PF's parent). */
int fixture_add_function(struct fixture_tree *t, const char *parent, const char *addr,
                         uint16_t vendor, uint16_t device, uint32_t class_code);
/* The same at an explicit directory below sys, e.g. a VMD domain's root bus
 * "devices/pci0000:00/0000:00:0e.0/pci10000:e0". */
int fixture_add_function_at(struct fixture_tree *t, const char *dir_below_sys, const char *addr,
                            uint16_t vendor, uint16_t device, uint32_t class_code);
/* Removes the function's directory and its bus link, like a hot-unplug. Does not touch
 * other functions' links to it (the caller decides what the kernel removes first). */
int fixture_remove_function(struct fixture_tree *t, const char *addr);

/* Writes value as-is (include the "\n" if the kernel would). */
int fixture_set_attr(struct fixture_tree *t, const char *addr, const char *name, const char *value);
int fixture_remove(struct fixture_tree *t, const char *addr, const char *name);
/* A FIFO in place of an attribute: opening it for reading blocks. */
int fixture_make_fifo(struct fixture_tree *t, const char *addr, const char *name);
/* A raw symlink in the function's directory. */
int fixture_set_link(struct fixture_tree *t, const char *addr, const char *name, const char *target);

/* driver -> <..>/bus/pci/drivers/<driver> (creates that directory); NULL unbinds. */
int fixture_set_driver(struct fixture_tree *t, const char *addr, const char *driver);
/* iommu_group -> <..>/kernel/iommu_groups/<group>, and the group's devices/<addr> link back;
 * group < 0 removes both (leaving the old group either way). */
int fixture_set_iommu_group(struct fixture_tree *t, const char *addr, int group);

/* Makes addr an SR-IOV PF: sriov_totalvfs, sriov_offset, sriov_stride, sriov_vf_device,
 * sriov_drivers_autoprobe ("1"), and sriov_numvfs as a FIFO so that any read of it hangs
 * (the project must never read it; the test's alarm() turns a hang into a failure). */
int fixture_make_pf(struct fixture_tree *t, const char *addr, unsigned total_vfs, unsigned offset,
                    unsigned stride, uint16_t vf_device);

/* Adds VF function vf (a sibling of the PF, as the kernel places VFs, even on another bus)
 * with the PF's vendor, vf_device and class. With link, also the PF's virtfn<index> link
 * and the VF's physfn link (fixture_link_vf). */
int fixture_add_vf(struct fixture_tree *t, const char *pf, unsigned index, const char *vf, bool link);
int fixture_link_vf(struct fixture_tree *t, const char *pf, unsigned index, const char *vf);
/* Only one side of the pair. */
int fixture_link_virtfn(struct fixture_tree *t, const char *pf, unsigned index, const char *vf);
int fixture_link_physfn(struct fixture_tree *t, const char *vf, const char *pf);
/* Removes the PF's virtfn<index> link. */
int fixture_unlink_virtfn(struct fixture_tree *t, const char *pf, unsigned index);

/* Absolute path of a function's directory (malloc'd). */
int fixture_device_path(struct fixture_tree *t, const char *addr, char **ret);
