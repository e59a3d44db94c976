/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Lock files exist before anyone needs them: the folder is closed to everyone but root
 * and the admin group, and even the group may only open files, not create them. So
 * sriovd creates the files of every function it sees (at start, on "add"), and
 * `sriovctl lock` works for admins on any PF, VF or hierarchy. */

#include "sriov-address.h"

struct sriovd_manager;

/* addr NULL: every function in the model. */
void sriovd_lock_files_create(struct sriovd_manager *m, const struct sriov_addr *addr);
