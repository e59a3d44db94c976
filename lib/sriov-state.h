/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the daemon must not lose across restarts - the desired VF count per PF - kept in
 * the state directory as JSON, always replaced atomically: a temporary file in the same
 * directory, fsync, rename over the old one, fsync of the directory. A crash leaves the
 * old or the new file, never a torn one. */

#include <stddef.h>

#include "sriov-address.h"
#include "sriov-enable.h"

#define SRIOV_STATE_FILE "desired.json"

struct sriov_desired {
        struct sriov_addr pf;
        unsigned num_vfs;
        SriovPolicy policy;
        bool drift_reported;            /* runtime only */
        /* The last attempt ended short of it (partial, failed, rolled back or hung). Saved
         * (as "last_attempt_short"), so that a restart does not re-drive an enable the
         * kernel already refused: repair-drift skips it until a new request. */
        bool settled_short;
};

/* Writes content to dir/name atomically (creating dir 0755 if missing). */
int sriov_write_file_atomic(const char *dir, const char *name, const char *content);

/* Missing file: 0 entries. Unparsable file: -EBADMSG (the caller keeps it aside). */
int sriov_state_load(const char *dir, struct sriov_desired **ret, size_t *ret_n);
int sriov_state_save(const char *dir, const struct sriov_desired *list, size_t n);

/* Removes the ".NAME.PID.tmp" files sriov_write_file_atomic() leaves when the process dies
 * between create and rename (nothing else names files so). Returns how many, or -errno. */
int sriov_state_remove_stale_temp_files(const char *dir);
