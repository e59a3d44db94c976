/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration files (lib/sriov-config.c parses them) applied to the daemon: the
 * [daemon] section fills what the command line did not set, and each matching PF is
 * reconciled to its section - at start, when the PF appears (hotplug, rescan, recovery),
 * and after a reload - through the normal enable path and the ordering locks. */

#include <json-c/json.h>

#include "sriov-address.h"
#include "sriov-config.h"
#include "sriovd-options.h"

struct sriovd_manager;

/* Loads main_file and main_file.d/, prints every error and returns -EINVAL when the
 * configuration is broken (the daemon then refuses to start). */
int sriovd_config_load(const char *main_file, struct sriov_config **ret);
/* Fills the options the command line left unset from the [daemon] section. */
void sriovd_config_apply_daemon(const struct sriov_config *c, struct sriovd_options *o);

/* Re-reads the files. On error the running configuration stays, and ret_errors (caller
 * frees with strv_free) says why; on success matching PFs are reconciled. */
int sriovd_config_reload(struct sriovd_manager *m, char ***ret_errors);

/* The section for a PF, or NULL. */
const struct sriov_pf_config *sriovd_config_for(struct sriovd_manager *m, const struct sriov_addr *pf);

void sriovd_config_reconcile_pf(struct sriovd_manager *m, const struct sriov_addr *pf, const char *why);
void sriovd_config_reconcile_all(struct sriovd_manager *m, const char *why);

/* After an enable settled: bind VFs to the configured drivers and set per-VF network
 * attributes. */
void sriovd_config_apply_vfs(struct sriovd_manager *m, const struct sriov_addr *pf);

/* The network settings of one vf.N section as the netlink module takes them. */
void sriovd_config_vf_attrs(const struct sriov_vf_config *v, struct sriov_vf_attrs *ret);

/* For /dev/vfio/N of a VF just bound to vfio-pci: the configured owner and group. */
void sriovd_config_vfio_owner(struct sriovd_manager *m, const struct sriov_addr *vf, int iommu_group);

json_object *sriovd_config_json(struct sriovd_manager *m);
