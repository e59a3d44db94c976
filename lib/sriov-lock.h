/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* In-process lock manager: the order in which sriovd lets its own operations touch devices.
 *
 * Why: writing N to a PF's sriov_numvfs runs under the PF's device lock and adds each VF
 * under the PCI bus semaphore (write); AER recovery walks the bus under the same semaphore
 * (read) and takes each device's lock: the opposite order, a known kernel deadlock. sriovd
 * is the one place through which VF counts change, and it orders its own operations the way
 * the kernel orders its locks: hierarchy (the root port above the PF) first, then PF, then VF.
 *
 * Model
 *   - Three levels, hierarchy < PF < VF, each lock shared or exclusive. A lock is named by
 *     its key: level + PCI address.
 *   - A request is a whole set of locks, granted all at once or not at all, so a request
 *     never holds some of its locks while waiting for others; there is no lock-order
 *     deadlock inside the manager to begin with. The order still matters because the
 *     daemon mirrors it across processes (sriov-flock.h), where locks are taken one by one.
 *
 * How the builder makes out-of-order requests impossible
 *   The request's skeleton is fixed at birth: sriov_lock_request_new() takes the hierarchy
 *   (mandatory) and the PF (optional). Afterwards only VFs, the lowest level, can be added,
 *   so no call sequence can put a higher level after a lower one, name two hierarchies or
 *   two PFs. What remains is checked at run time, each with its own error:
 *     -EINVAL  a VF on a request without a PF (a VF operation must keep its PF's VF count
 *              from changing under it, i.e. hold the PF at least shared), a VF in another
 *              PCI domain than its PF or with a routing ID not above the PF's (per the
 *              SR-IOV spec a VF's RID is the PF's plus First VF Offset (>0) plus a multiple
 *              of the stride), or an invalid mode;
 *     -EEXIST  the same VF twice;
 *     -EBUSY   adding to a request that was already submitted or released.
 *
 * Conflicts
 *   Two requests conflict when they name the same key and at least one of them wants it
 *   exclusive. Every request holds its hierarchy (at least shared), which is how it "names
 *   its hierarchy": a hierarchy-exclusive request therefore conflicts with every request
 *   below that root port, held or waiting, with no separate rule. That is how AER recovery
 *   (hierarchy exclusive) keeps everything below a root port still.
 *
 * Granting, strictly FIFO among conflicting requests
 *   A submitted request is granted when none of its keys conflicts with a granted request
 *   AND no earlier submitted request that conflicts with it is still waiting. So a stream
 *   of shared requests cannot starve an exclusive one (S held, X waits, a later S waits
 *   behind X), while requests that do not conflict pass each other: PFs under different root
 *   ports, or shared-hierarchy requests for different PFs, run in parallel.
 *   Granting never makes another request grantable; only a release or a cancel can. Each
 *   costs one pass over the waiting queue, O(queue length x locks per request), using per-key
 *   counters rather than pairwise comparisons.
 *
 * Callbacks and reentrancy
 *   The granted callback runs synchronously: possibly inside sriov_lock_request_submit()
 *   itself, or inside a release of another request. Bookkeeping is finished before any
 *   callback runs (a granted request is GRANTED before its callback is called), and callbacks
 *   never nest: a grant that happens while a callback runs (because the callback released or
 *   submitted something) is queued and delivered by the outermost call after the running
 *   callback returns. From a callback it is safe to:
 *     - release or free its own request or any other one (a request released before its
 *       callback ran never gets the callback);
 *     - create and submit new requests;
 *     - free the manager (freeing is deferred until the delivery loop ends);
 *     - stop the manager (callbacks still queued are then never delivered).
 *   The one hazard is the caller's own: if the callback frees the request during submit(),
 *   the submitter's pointer dangles. Store the request where the callback finds it (e.g.
 *   op->lock) before submitting and let one owner free it.
 *
 * Ownership
 *   The caller owns a request from sriov_lock_request_new() until sriov_lock_request_free().
 *   release() gives the locks back (or cancels a waiting request) and keeps the object valid
 *   in state RELEASED; free() releases and frees. Use _cleanup_(sriov_lock_request_freep).
 *   Freeing the manager detaches outstanding requests: they become RELEASED and must still be
 *   freed by their owners, so teardown order does not matter.
 *
 * Single-threaded: all calls must come from one thread (the daemon's event loop thread).
 * The manager knows nothing about event loops. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-macros.h"

enum sriov_lock_level {
        SRIOV_LOCK_HIERARCHY,
        SRIOV_LOCK_PF,
        SRIOV_LOCK_VF,
        _SRIOV_LOCK_LEVEL_MAX,
        _SRIOV_LOCK_LEVEL_INVALID = -EINVAL,
};

/* SHARED is 0 on purpose: a zero-initialised mode field is the harmless one. */
enum sriov_lock_mode {
        SRIOV_LOCK_SHARED,
        SRIOV_LOCK_EXCLUSIVE,
        _SRIOV_LOCK_MODE_MAX,
        _SRIOV_LOCK_MODE_INVALID = -EINVAL,
};

enum sriov_lock_request_state {
        SRIOV_LOCK_REQUEST_NEW,         /* being built, not submitted */
        SRIOV_LOCK_REQUEST_WAITING,
        SRIOV_LOCK_REQUEST_GRANTED,
        SRIOV_LOCK_REQUEST_RELEASED,    /* released, cancelled, or detached from a freed manager */
        _SRIOV_LOCK_REQUEST_STATE_MAX,
        _SRIOV_LOCK_REQUEST_STATE_INVALID = -EINVAL,
};

typedef struct sriov_lock_manager sriov_lock_manager;
typedef struct sriov_lock_request sriov_lock_request;

typedef void (*sriov_lock_granted_t)(sriov_lock_request *req, void *userdata);

/* "hierarchy", "pf", "vf"; "shared", "exclusive"; "new", "waiting", "granted", "released".
 * to_string returns NULL for out-of-range values, from_string -EINVAL for unknown names. */
const char *sriov_lock_level_to_string(enum sriov_lock_level l) _pure_;
enum sriov_lock_level sriov_lock_level_from_string(const char *s) _pure_;
const char *sriov_lock_mode_to_string(enum sriov_lock_mode m) _pure_;
enum sriov_lock_mode sriov_lock_mode_from_string(const char *s) _pure_;
const char *sriov_lock_request_state_to_string(enum sriov_lock_request_state s) _pure_;

/* Whether vf can be a VF of pf: same domain, routing ID above the PF's. Shared with
 * sriov-flock so both refuse the same requests. */
static inline bool sriov_lock_vf_plausible(const struct sriov_addr *pf, const struct sriov_addr *vf) {
        return vf->domain == pf->domain && sriov_addr_rid(vf) > sriov_addr_rid(pf);
}

int sriov_lock_manager_new(sriov_lock_manager **ret);
/* For teardown: after it no callback runs again, neither those of requests granted but not
 * told yet nor any later one. Releases still give locks back but grant no waiter (they stay
 * WAITING, with no blocker: get_blocker() returns 0), and submit() fails with -ESHUTDOWN.
 * Without it, freeing one owner's requests grants another's, whose callback then starts
 * work (a worker job, a sysfs write) on objects about to be freed. Idempotent. */
void sriov_lock_manager_stop(sriov_lock_manager *m);
bool sriov_lock_manager_stopped(const sriov_lock_manager *m) _pure_;
sriov_lock_manager *sriov_lock_manager_free(sriov_lock_manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(sriov_lock_manager *, sriov_lock_manager_free);

/* A new request for hierarchy (mode hmode) and, unless pf is NULL, pf (mode pfmode).
 * pfmode is ignored when pf is NULL. -EINVAL for NULL hierarchy or invalid modes. */
int sriov_lock_request_new(sriov_lock_manager *m,
                           const struct sriov_addr *hierarchy, enum sriov_lock_mode hmode,
                           const struct sriov_addr *pf, enum sriov_lock_mode pfmode,
                           sriov_lock_request **ret);

/* Adds a VF of the request's PF; see the header comment for the errors. */
int sriov_lock_request_add_vf(sriov_lock_request *req, const struct sriov_addr *vf, enum sriov_lock_mode mode);

/* Queues the request; callback (may be NULL) runs once when it is granted, possibly before
 * submit() returns. -EBUSY if already submitted or released, -ENOMEM, -ESTALE if the
 * manager was freed, -ESHUTDOWN if it was stopped. On failure the request stays NEW and
 * may be submitted again. */
int sriov_lock_request_submit(sriov_lock_request *req, sriov_lock_granted_t callback, void *userdata);

/* Gives back a granted request's locks or cancels a waiting one, then grants what can go
 * (running their callbacks, see above). Idempotent; NEW requests just become RELEASED. */
void sriov_lock_request_release(sriov_lock_request *req);

/* release() and free. Accepts NULL, returns NULL. */
sriov_lock_request *sriov_lock_request_free(sriov_lock_request *req);
DEFINE_TRIVIAL_CLEANUP_FUNC(sriov_lock_request *, sriov_lock_request_free);

/* Introspection, for status output. */
enum sriov_lock_request_state sriov_lock_request_state(const sriov_lock_request *req) _pure_;
/* Submission sequence number, 1, 2, ...; 0 until submitted. Orders the FIFO. */
uint64_t sriov_lock_request_id(const sriov_lock_request *req) _pure_;
void *sriov_lock_request_userdata(const sriov_lock_request *req) _pure_;
/* Locks of the request in order: index 0 is the hierarchy, 1 the PF if any, then the VFs
 * sorted by address. -ERANGE past the end; ret_* may be NULL. */
size_t sriov_lock_request_n_locks(const sriov_lock_request *req) _pure_;
int sriov_lock_request_get_lock(const sriov_lock_request *req, size_t i,
                                enum sriov_lock_level *ret_level,
                                struct sriov_addr *ret_addr,
                                enum sriov_lock_mode *ret_mode);

/* For a WAITING request: the earliest submitted request that keeps it waiting (a granted
 * one that conflicts, or an earlier waiting one that conflicts) and the first lock of req
 * they disagree on, so status can say "waiting for <op> on pf 0000:01:00.0". Returns 1 and
 * fills ret_* (each may be NULL); returns 0 and sets *ret_blocker to NULL when req is not
 * waiting. O(queue length). */
int sriov_lock_request_get_blocker(const sriov_lock_request *req,
                                   sriov_lock_request **ret_blocker,
                                   enum sriov_lock_level *ret_level,
                                   struct sriov_addr *ret_addr);

/* Per-key counts of submitted requests. All zero for a key nobody names. */
struct sriov_lock_counts {
        unsigned held_shared;
        unsigned held_exclusive;        /* 0 or 1 */
        unsigned waiting_shared;
        unsigned waiting_exclusive;
};
void sriov_lock_manager_get_counts(const sriov_lock_manager *m,
                                   enum sriov_lock_level level, const struct sriov_addr *addr,
                                   struct sriov_lock_counts *ret);
size_t sriov_lock_manager_n_waiting(const sriov_lock_manager *m) _pure_;
size_t sriov_lock_manager_n_granted(const sriov_lock_manager *m) _pure_;

/* The queue: submitted, unreleased requests (granted and waiting) in submission order.
 * Do not release the current element while iterating with the macro. */
sriov_lock_request *sriov_lock_manager_first(const sriov_lock_manager *m) _pure_;
sriov_lock_request *sriov_lock_request_next(const sriov_lock_request *req) _pure_;
#define SRIOV_LOCK_MANAGER_FOREACH(r, m) \
        for (sriov_lock_request *r = sriov_lock_manager_first(m); r; r = sriov_lock_request_next(r))
