/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A user-space recovery survives a crash of sriovd.
 *
 * Recovery removes the PF (or its bridge) from the bus and rescans it; a sriovd that
 * dies (kill -9, OOM, a bug) between the two leaves the PF off the bus, and nothing would
 * ever bring it back: the PF is gone from sysfs, so a restarted sriovd does not know it.
 * So every recovery writes <state-dir>/recovery-<PF>.json (atomically) before its first
 * step and removes it when it ends. At start, a journal left behind means the recovery
 * was cut short; sriovd then finishes it:
 *   - the PF is back with the VF count the recovery was restoring: nothing to do;
 *   - the PF is there otherwise: the recovery runs again;
 *   - the PF is not on the bus: its port is rescanned (the whole bus when the port
 *     itself is gone), off the loop, and the recovery runs again once the PF is back. */

#include <stdbool.h>

#include "sriov-address.h"

struct sriovd_manager;

/* Record that a recovery of pf (below bridge, restoring num_vfs) starts / ended.
 * Failures are logged: a recovery is not refused because its journal cannot be saved. */
void sriovd_recovery_journal_begin(struct sriovd_manager *m, const struct sriov_addr *pf,
                                   const struct sriov_addr *bridge, unsigned num_vfs);
void sriovd_recovery_journal_end(struct sriovd_manager *m, const struct sriov_addr *pf);

/* At start, after the first scan, with recovery and the workers set up. Returns the number of
 * interrupted recoveries found. */
unsigned sriovd_recovery_journal_resume(struct sriovd_manager *m);
