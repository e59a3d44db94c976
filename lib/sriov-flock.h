/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The lock order of sriov-lock.h across processes, as advisory flock() locks on files in a
 * runtime directory, so that scripts and the CLI can take part:
 *
 *     /run/sriovd/locks/hierarchy-0000:00:02.0.lock
 *     /run/sriovd/locks/pf-0000:01:00.0.lock
 *     /run/sriovd/locks/vf-0000:01:00.2.lock
 *
 * The protocol, which a script must follow too (e.g. with flock(1)):
 *   - take the hierarchy (the root port above the PF), then the PF, then its VFs in
 *     ascending address order; release in reverse. Anyone taking them in another order can
 *     deadlock against sriovd.
 *   - shared = flock(LOCK_SH), exclusive = flock(LOCK_EX); hold a lock below only while
 *     holding the ones above (at least shared).
 *   - files are created on demand (0644, directory 0755) and never deleted: unlinking a lock
 *     file while someone holds or waits on it would let the next taker lock a new inode.
 *
 * Unlike the in-process manager, locks are taken one at a time, so there is no FIFO
 * fairness: flock() itself has none.
 *
 * Timeouts, without sleep-polling and without signal handlers
 *   flock() can only be interrupted by a signal, and a library must not install handlers.
 *   A lock that is busy is therefore waited for in a short-lived helper thread (all signals
 *   blocked) which calls flock() on our fd with asynchronous cancellation enabled around that
 *   one syscall; glibc up to 2.40 implemented its own cancellation points exactly that way.
 *   The caller joins it with a deadline (pthread_clockjoin_np, CLOCK_MONOTONIC); on timeout
 *   it cancels the thread, which interrupts the flock(), joins it, and retries once with
 *   LOCK_NB. That retry settles the race where the helper got the lock just as it was
 *   cancelled: flock locks belong to the open file description, so then the retry succeeds.
 *   The fast path (lock free) and timeout_ms < 0 (plain blocking flock() in the caller's
 *   thread) spawn nothing. Deferred cancellation would not do: flock() is not a glibc
 *   cancellation point (checked on glibc 2.36).
 *
 * Blocking is allowed: the daemon calls this from a worker thread, the CLI from its main
 * thread. All fds are O_CLOEXEC. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sriov-address.h"
#include "sriov-lock.h"
#include "sriov-macros.h"

#define SRIOV_FLOCK_DIR "/run/sriovd/locks"
/* rwx for root, r-x for the admin group (set-group-ID: lock files get its group), nothing
 * for others: any process that can open a lock file can hold it for ever. */
#define SRIOV_FLOCK_DIR_MODE 02750
#define SRIOV_FLOCK_FILE_MODE 0640

struct sriov_flock_spec {
        struct sriov_addr hierarchy;
        enum sriov_lock_mode hierarchy_mode;
        const struct sriov_addr *pf;            /* NULL: the hierarchy only */
        enum sriov_lock_mode pf_mode;
        const struct sriov_addr *vfs;           /* VFs of pf, any order; locked in address order */
        size_t n_vfs;
        enum sriov_lock_mode vf_mode;
};

typedef struct sriov_flock sriov_flock;

/* Takes the locks of spec under dir (NULL: SRIOV_FLOCK_DIR, created 0755 with parents if
 * missing) strictly in order: hierarchy, PF, VFs by address. All or nothing: on failure
 * whatever was taken is released again, in reverse order.
 *   timeout_ms < 0   block until granted; a signal handler interrupting it gives -EINTR;
 *   timeout_ms == 0  do not wait: -EAGAIN if any lock is busy;
 *   timeout_ms > 0   wait at most that long for the whole set: -ETIMEDOUT.
 * -EINVAL for invalid modes, VFs without a PF, a VF that cannot belong to the PF (see
 * sriov_lock_vf_plausible()) or the same VF twice (it would wait for itself). */
int sriov_flock_acquire(const char *dir, const struct sriov_flock_spec *spec, int timeout_ms, sriov_flock **ret);

/* Releases in reverse order (LOCK_UN, then close) and frees. Accepts NULL, returns NULL. */
sriov_flock *sriov_flock_release(sriov_flock *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(sriov_flock *, sriov_flock_release);

/* Number of locks held by f (1 hierarchy + PF + VFs). */
size_t sriov_flock_n_locks(const sriov_flock *f) _pure_;

/* "<level>-<address>.lock": "hierarchy-" is the longest prefix, an address 12 bytes. */
#define SRIOV_FLOCK_NAME_MAX 32
int sriov_flock_name(enum sriov_lock_level level, const struct sriov_addr *addr, char buf[static SRIOV_FLOCK_NAME_MAX]);
/* "<dir>/<level>-<address>.lock", for scripts and messages. */
int sriov_flock_path(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr, char **ret);

enum sriov_flock_state {
        SRIOV_FLOCK_FREE,
        SRIOV_FLOCK_HELD_SHARED,
        SRIOV_FLOCK_HELD_EXCLUSIVE,
        _SRIOV_FLOCK_STATE_MAX,
        _SRIOV_FLOCK_STATE_INVALID = -EINVAL,
};

const char *sriov_flock_state_to_string(enum sriov_flock_state s) _pure_;

/* Non-blocking look at one lock, for status. It tries LOCK_EX|LOCK_NB, then LOCK_SH|LOCK_NB
 * on a fresh open file description and lets go at once: so it briefly holds the lock
 * itself (a concurrent non-blocking attempt elsewhere may fail in that instant), and any
 * holder counts, including this process through another fd. A missing file is FREE and is
 * not created. The answer is a snapshot. */
int sriov_flock_probe(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr,
                      enum sriov_flock_state *ret);

/* The lock directory as sriovd wants it: created if missing, SRIOV_FLOCK_DIR_MODE, group
 * gid ((gid_t) -1: root's), and lock files left by older versions (0644) closed to
 * others and given the group. */
int sriov_flock_dir_prepare(const char *dir, gid_t gid);
/* A lock file root just created gets the lock folder's group (where the folder is not
 * set-group-ID). */
void sriov_flock_file_adopt_group(int fd, const char *dir);

/* Who holds (or is first to hold) a lock of spec in dir, from /proc/locks: the pid, and
 * which file. -ENOENT when nobody holds one (or /proc/locks is hidden, as under
 * ProcSubset=pid), -ENOMEM. */
int sriov_flock_find_holder(const char *dir, const struct sriov_flock_spec *spec, pid_t *ret_pid, char **ret_path);

/* Creates the lock file of addr if missing (SRIOV_FLOCK_FILE_MODE): sriovd does so for
 * every function it sees, because the admin group may open lock files but not create
 * them in the closed folder. */
int sriov_flock_touch(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr);

/* The same for many files: the folder is opened and looked at once, and each file costs
 * two system calls relative to it (sriovd creates one per PCI function at start, 16k on
 * a large host), not a path walk and four. */
struct sriov_flock_dir {
        int fd;
        gid_t gid;              /* the folder's group */
        bool root;              /* geteuid() == 0 */
        bool fix_group;         /* root in a folder without set-group-ID: chown what it creates */
};
int sriov_flock_dir_open(const char *dir, struct sriov_flock_dir *ret);
void sriov_flock_dir_close(struct sriov_flock_dir *d);
int sriov_flock_touch_at(const struct sriov_flock_dir *d, enum sriov_lock_level level, const struct sriov_addr *addr);
