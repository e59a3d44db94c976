/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one module of the project that touches sysfs.
 *
 * Everything is relative to a root directory (default "/sys") opened once, and every
 * further access is openat()/readlinkat() on directory fds with O_CLOEXEC, so a test can
 * point the whole project at a fixture tree, and so a device that is removed while we
 * hold its directory fd gives ENOENT instead of reading another device's files.
 *
 * Errors are the kernel's errno, negated and untouched: for sriov_numvfs, EBUSY (VFs
 * already enabled), ERANGE (above sriov_totalvfs), ENOENT (no driver, or one without
 * sriov_configure) and ENOMEM/ENOSPC mean different things to the administrator. */

#include <stddef.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-macros.h"

struct sriov_sysfs;

int sriov_sysfs_new(const char *root, struct sriov_sysfs **ret);
struct sriov_sysfs *sriov_sysfs_free(struct sriov_sysfs *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_sysfs *, sriov_sysfs_free);

const char *sriov_sysfs_root(const struct sriov_sysfs *s);

/* All PCI functions the kernel lists in bus/pci/devices, sorted by address. Entries whose
 * name is not a PCI address are skipped (logged at debug level). */
int sriov_sysfs_list_devices(struct sriov_sysfs *s, struct sriov_addr **ret, size_t *ret_n);

/* A directory fd for bus/pci/devices/ADDR (follows the bus link to the device). */
int sriov_sysfs_open_device(struct sriov_sysfs *s, const struct sriov_addr *a);

/* The bus link's target, e.g. "../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0":
 * the device's real position in the hierarchy, without realpath(). */
int sriov_sysfs_device_path(struct sriov_sysfs *s, const struct sriov_addr *a, char **ret);

/* Reads an attribute, trailing newlines stripped. Refuses files over 64 KiB (-EFBIG). */
int sriov_sysfs_read(int dirfd, const char *attr, char **ret);
/* Reads an unsigned number in the given base (0: auto, accepts 0x), -EINVAL on junk. */
int sriov_sysfs_read_u64(int dirfd, const char *attr, unsigned base, uint64_t *ret);

/* Last path component of a symlink's target (driver, iommu_group, physfn, virtfnN). */
int sriov_sysfs_read_link_name(int dirfd, const char *link, char **ret);

/* Writes value with a single write() so the kernel sees one store; -errno as the kernel
 * returned it. May block for as long as the kernel holds the attribute's locks: never
 * call it on an event loop thread. */
int sriov_sysfs_write(int dirfd, const char *attr, const char *value);
/* The same relative to the sysfs root, e.g. "bus/pci/rescan". */
int sriov_sysfs_write_root(struct sriov_sysfs *s, const char *path, const char *value);

/* Whether the sysfs root has an entry at path (e.g. "bus/pci/drivers/vfio-pci"). */
int sriov_sysfs_root_has(struct sriov_sysfs *s, const char *path);

/* Members of IOMMU group N (kernel/iommu_groups/N/devices), sorted. */
int sriov_sysfs_list_iommu_group(struct sriov_sysfs *s, int group, struct sriov_addr **ret, size_t *ret_n);

/* The first network interface of a PCI function (its net/ directory), e.g. "ens1f0".
 * -ENOENT when it has none (not a NIC, or no driver). */
int sriov_sysfs_device_ifname(struct sriov_sysfs *s, const struct sriov_addr *a, char **ret);

/* The network interfaces of a PCI function: the names in its net/ directory, sorted
 * (NULL-terminated; *ret is NULL when it has none: not a NIC, or no driver bound). Reading
 * a directory takes no device lock. */
int sriov_sysfs_list_netdevs(int dev_dirfd, char ***ret);
/* An attribute of one of them, net/IFNAME/ATTR (address, operstate, speed, ifindex).
 * -EINVAL for a name that is no interface name. `speed` gives the kernel's -EINVAL while
 * the link is down. These take no PCI device lock (speed takes RTNL with trylock). */
int sriov_sysfs_netdev_read(struct sriov_sysfs *s, const struct sriov_addr *a, const char *ifname, const char *attr,
                            char **ret);

/* Whether dirfd has an entry of that name (attribute or link), without following links. */
int sriov_sysfs_has(int dirfd, const char *name);

/* The VF links of a PF directory: indices of all "virtfnN" entries, sorted ascending.
 * Reading links takes no device lock, unlike reading sriov_numvfs (since Linux 5.5). */
int sriov_sysfs_list_virtfn(int pf_dirfd, unsigned **ret, size_t *ret_n);
