/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One PCI function as sysfs shows it. Loading never reads sriov_numvfs: since Linux 5.5
 * that read takes the device lock and hangs behind a stuck sriov_numvfs write. The number
 * of enabled VFs is the number of virtfnN links, which the kernel creates and removes as
 * it adds and removes each VF. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-aer.h"
#include "sriov-macros.h"
#include "sriov-sysfs.h"

typedef enum sriov_role {
        SRIOV_ROLE_OTHER,
        SRIOV_ROLE_BRIDGE,
        SRIOV_ROLE_PF,
        SRIOV_ROLE_VF,
        _SRIOV_ROLE_MAX,
        _SRIOV_ROLE_INVALID = -EINVAL,
} SriovRole;

struct sriov_vf_ref {
        unsigned index;                 /* N of the PF's virtfnN link */
        struct sriov_addr addr;
};

struct sriov_pf_info {
        unsigned total_vfs;
        unsigned offset;
        unsigned stride;
        uint16_t vf_device_id;
        int drivers_autoprobe;          /* -1 when the attribute is missing (kernels < 4.12) */
        size_t n_vfs;
        struct sriov_vf_ref *vfs;       /* sorted by index */
        bool vfs_resolved;              /* the model's: every VF listed is in it as a VF */
};

struct sriov_vf_info {
        int index;                      /* -1 when it cannot be derived */
        struct sriov_addr pf;
};

struct sriov_device {
        struct sriov_addr addr;
        SriovRole role;
        uint16_t vendor_id;
        uint16_t device_id;
        uint32_t class_code;
        char *driver;                   /* NULL: no driver bound */
        int iommu_group;                /* -1: none */
        size_t n_upstream;
        struct sriov_addr *upstream;    /* bridges from the root port down to the parent */
        char *vendor_name;              /* from pci.ids, may be NULL */
        char *device_name;
        struct sriov_pf_info pf;        /* role == SRIOV_ROLE_PF */
        struct sriov_vf_info vf;        /* role == SRIOV_ROLE_VF */
        struct sriov_aer aer;
        char **netdevs;                 /* network interfaces (net/), sorted; NULL: none.
                                         * For a PF, netdevs[0] is the name [pf "IFNAME"]
                                         * sections and metrics use. */
};

const char *sriov_role_to_string(SriovRole r);
SriovRole sriov_role_from_string(const char *s);

/* -ENOENT when the function is not (or no longer) on the bus. */
int sriov_device_load(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_device **ret);

typedef enum sriov_load_flags {
        /* List and read every one of the PF's virtfnN links, whatever is known: for a
         * resynchronisation after uevents were lost, and for the checks after sriovd's
         * own writes, where sysfs has the last word. */
        SRIOV_LOAD_RELIST_VFS = 1 << 0,
} SriovLoadFlags;

/* The same, for a function already known (known may be NULL). For a PF whose First VF
 * Offset and VF Stride did not change:
 * - when the known VFs are 0..n-1, virtfn{n-1} still points at the same function and
 *   virtfn{n} does not exist, the VF set is the known one and the directory is not
 *   listed: two system calls whatever n is (one, virtfn0, with none known). The kernel
 *   makes and removes virtfn links in bulk (sriov_enable() links 0..N-1 before its
 *   "change" uevent, sriov_disable() removes them all), and a single VF taken away
 *   (pci_iov_remove_virtfn(), powerpc's EEH) sends its own remove uevent, which the
 *   model applies to the PF's list. The known list is
 *   then moved into the new device: known->pf.vfs becomes NULL, so known must be the
 *   device the result replaces. A PF "change" that did not change the VF set (udevadm
 *   trigger, a PF bind) costs O(1), not O(VFs).
 * - otherwise the links are listed, and those also known are not read again (the kernel
 *   derives their targets from offset, stride and N); with SRIOV_LOAD_RELIST_VFS every
 *   link is listed and read.
 * *ret_vfs_listed (may be NULL): whether a PF's links were listed (false: the known set kept). */
int sriov_device_load_known(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_device *known,
                            SriovLoadFlags flags, struct sriov_device **ret, bool *ret_vfs_listed);
struct sriov_device *sriov_device_free(struct sriov_device *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_device *, sriov_device_free);

/* Re-reads only the virtfnN links of a PF. */
int sriov_device_reload_vfs(struct sriov_sysfs *s, struct sriov_device *pf);

/* The lock hierarchy a function belongs to: its root port (the first upstream bridge),
 * or the function itself when it sits directly on a root bus. */
const struct sriov_addr *sriov_device_hierarchy(const struct sriov_device *d);

/* Inserts or replaces one VF reference in a PF's sorted list; removes by address. */
int sriov_pf_info_set_vf(struct sriov_pf_info *pf, unsigned index, const struct sriov_addr *addr);
bool sriov_pf_info_drop_vf(struct sriov_pf_info *pf, const struct sriov_addr *addr);

/* Splits a bus link target ("../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0")
 * into the upstream bridge addresses, excluding the device itself. */
int sriov_parse_upstream(const char *path, const struct sriov_addr *self,
                         struct sriov_addr **ret, size_t *ret_n);
