/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCIe error recovery, as two pure state machines: no I/O, no clock of their own (every
 * input carries now_usec, from one monotonic clock), no event loop. The daemon feeds
 * them and carries out what they say.
 *
 * (a) The hierarchy tracker follows the kernel's recovery of each hierarchy (everything
 *     below one root port), so that the daemon starts no sysfs write there while the
 *     kernel holds the device locks, and learns how each recovery ended.
 * (b) The PF recovery machine drives sriovd's own recovery of one PF after the kernel
 *     gave up on it (FAILED_RECOVERY) and released its locks.
 *
 * What the kernel sends (6.1, drivers/pci/pcie/err.c; see docs kernel-testbed.md)
 *   pcie_do_recovery() walks the functions below the bridge where recovery started (the
 *   root port, or a switch downstream port) twice: BEGIN_RECOVERY for each function whose
 *   driver has an error_detected callback (a driverless function votes NO_AER_DRIVER, for
 *   which pci_uevent_ers() sends nothing), then one outcome per function:
 *   SUCCESSFUL_RECOVERY to every function below the bridge on success. On failure, kernels
 *   before late 2025 send FAILED_RECOVERY only to the bridge itself (which never sent
 *   BEGIN); newer ones send it to every function below the bridge instead, and so did the
 *   testbed's Debian 6.1 (a stable backport, presumably): BEGIN on the PF only, then
 *   FAILED on the PF and on each of its three driverless VFs. All BEGINs of one recovery
 *   come before its first outcome; the kernel runs one recovery per root port at a time.
 *
 * Tracker model, per hierarchy
 *   IDLE -> RECOVERING  on the first BEGIN of any device below it. The devices that sent
 *                       BEGIN are the affected set.
 *   RECOVERING: each outcome (SUCCESSFUL/FAILED) resolves the device it names and, when
 *               that device is an upstream bridge of affected devices (it appears in their
 *               bridge chains, or is the root port itself), every affected device below it
 *               (the old-kernel case). Outcomes of devices that never sent BEGIN are
 *               recorded as well (begun = false). FAILED wins over SUCCESSFUL.
 *   -> SETTLING when every affected device is resolved. The kernel may still be walking
 *               the rest of the bus, sending outcomes for driverless functions (the VFs
 *               above) and holding pci_bus_sem and each function's lock while it does, so
 *               the hierarchy counts as recovering for settle_usec more after the last
 *               outcome; later outcomes join the same recovery and extend the window.
 *               settle_usec = 0 ends the recovery on the resolving event itself.
 *   -> IDLE, a report is queued: when the settle window passes (tick), or when no event
 *               came for timeout_usec while RECOVERING (result TIMED_OUT), or when a BEGIN
 *               shows that a new kernel recovery started (a BEGIN while SETTLING, or from a
 *               device that already has an outcome in this recovery): the old one is
 *               reported, the new one begins.
 *   An outcome while IDLE starts a recovery marked begin_missed (its BEGINs were lost, e.g.
 *   to a netlink receive-buffer overflow, or it is a straggler that came after the settle
 *   window) and goes straight to SETTLING: a lost BEGIN must not hide a FAILED recovery
 *   from the daemon.
 *
 * Result of a finished recovery: FAILED when any device (own or inherited outcome, listed
 * or dropped) failed; else TIMED_OUT when an affected device ended without an outcome;
 * else SUCCEEDED.
 *
 * Bounded memory, whatever the event stream
 *   - at most max_devices devices per recovery (default 1024: a PF's VFs are at most 256
 *     routing IDs, a few PFs per port). Devices past the cap are not listed and are
 *     counted in n_dropped; their outcomes still count for the result and their bridge
 *     effect still applies; a dropped BEGIN is not waited for. The device table of a
 *     hierarchy is freed when its recovery ends; an idle hierarchy costs its counters.
 *   - at most SRIOV_RECOVERY_CHAIN_MAX bridges per device, the nearest ones kept; the
 *     root port is always known (it is the hierarchy).
 *   - at most max_hierarchies hierarchies (default 1024 root ports); an event for one more
 *     is -ENOSPC (counted in the tracker's events_refused).
 *   - at most max_reports finished reports waiting to be popped (default 64); the oldest
 *     is freed and counted in reports_dropped when one more arrives.
 *
 * PF recovery model (policy remove-rescan, the default)
 *   The kernel removes VFs only through their PF's sriov_numvfs: removing a PF whose VFs
 *   exist left them orphaned on 6.1 and a later enable failed with ENOENT ("kobject_add
 *   failed ... -EEXIST"). So an attempt is
 *       DISABLE_VFS -> REMOVE_PF -> RESCAN_PORT -> WAIT_PF -> RESTORE_VFS
 *       -> RESTORE_BINDINGS -> VERIFY -> DONE_OK
 *   and when DISABLE_VFS fails or passes its deadline (writing 0 can hang on a dead device)
 *   the same attempt falls back to removing the PF's upstream bridge, whose whole bus goes
 *   with it, VFs included:
 *       ... -> REMOVE_BRIDGE -> RESCAN_BUS -> WAIT_PF -> RESTORE_VFS -> ...
 *   Policy reset: DISABLE_VFS -> RESET_PF -> RESTORE_VFS -> RESTORE_BINDINGS -> VERIFY;
 *   a failed DISABLE_VFS fails the attempt (no reset with VFs present). Policy notify:
 *   NOTIFY_ONLY, final. Policy none: DONE_FAILED at once, no step. RESTORE_VFS is skipped
 *   when no VFs are wanted. Every other failed or timed-out step fails the attempt:
 *   WAIT_RETRY until now + min(backoff_base * 2^(attempt-1), backoff_max), then the next
 *   attempt; after max_attempts failed attempts DONE_FAILED, final (the PF stays failed;
 *   the machine never loops). A retry after a removal succeeded but the PF did not come
 *   back starts with the rescan (RESCAN_PORT, or RESCAN_BUS after a bridge removal)
 *   instead of writing to a device that is gone.
 *
 *   Each action has a sequence number that step_done() must quote: a worker whose write
 *   was given up on (deadline passed) may still finish much later, and its result must not
 *   be taken for the step that runs by then. A write that hung keeps its worker blocked
 *   (and possibly the PF's device lock held); the later steps then fail on their own
 *   deadlines and the machine still ends.
 *
 * Daemon use, in short
 *   on an ERROR_EVENT uevent: sriov_error_event_parse(), then tracker_event() with the
 *   function's root port and bridge chain from the model; re-arm one timer for
 *   tracker_next_deadline(); before any sysfs write below a root port, check
 *   tracker_is_recovering() and defer. For each popped report with result FAILED, start a
 *   sriov_pf_recovery for every PF that failed, or that lies below a failed bridge (the
 *   old-kernel case: the model knows which PFs those are); it is safe to start at once,
 *   the report only comes after the kernel's recovery ended. Then carry out each action,
 *   arm a timer for its deadline, and feed back step_done()/device_appeared()/timeout().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-macros.h"
#include "sriov-uevent.h"

#define SRIOV_USEC_INFINITY UINT64_MAX
#define SRIOV_USEC_PER_SEC UINT64_C(1000000)

/* ---------------------------------------------------------------------------------------
 * (a) Hierarchy tracker
 * ------------------------------------------------------------------------------------- */

typedef enum sriov_hierarchy_state {
        SRIOV_HIERARCHY_IDLE,
        SRIOV_HIERARCHY_RECOVERING,     /* waiting for outcomes */
        SRIOV_HIERARCHY_SETTLING,       /* all outcomes in; the kernel may still be walking */
        _SRIOV_HIERARCHY_STATE_MAX,
        _SRIOV_HIERARCHY_STATE_INVALID = -EINVAL,
} SriovHierarchyState;

typedef enum sriov_recovery_result {
        SRIOV_RECOVERY_SUCCEEDED,
        SRIOV_RECOVERY_FAILED,
        SRIOV_RECOVERY_TIMED_OUT,
        _SRIOV_RECOVERY_RESULT_MAX,
        _SRIOV_RECOVERY_RESULT_INVALID = -EINVAL,
} SriovRecoveryResult;

typedef enum sriov_device_outcome {
        SRIOV_DEVICE_OUTCOME_NONE,      /* no outcome seen (timed out) */
        SRIOV_DEVICE_OUTCOME_SUCCEEDED,
        SRIOV_DEVICE_OUTCOME_FAILED,
        _SRIOV_DEVICE_OUTCOME_MAX,
        _SRIOV_DEVICE_OUTCOME_INVALID = -EINVAL,
} SriovDeviceOutcome;

/* "idle", "recovering", "settling"; "succeeded", "failed", "timed-out"; "none",
 * "succeeded", "failed". NULL / -EINVAL outside the tables. */
const char *sriov_hierarchy_state_to_string(SriovHierarchyState s) _pure_;
const char *sriov_recovery_result_to_string(SriovRecoveryResult r) _pure_;
SriovRecoveryResult sriov_recovery_result_from_string(const char *s) _pure_;
const char *sriov_device_outcome_to_string(SriovDeviceOutcome o) _pure_;

#define SRIOV_RECOVERY_CHAIN_MAX 8
#define SRIOV_RECOVERY_TIMEOUT_USEC_DEFAULT (120 * SRIOV_USEC_PER_SEC)
#define SRIOV_RECOVERY_SETTLE_USEC_DEFAULT (2 * SRIOV_USEC_PER_SEC)
#define SRIOV_RECOVERY_MAX_DEVICES_DEFAULT 1024u
#define SRIOV_RECOVERY_MAX_HIERARCHIES_DEFAULT 1024u
#define SRIOV_RECOVERY_MAX_REPORTS_DEFAULT 64u

struct sriov_recovery_tracker_config {
        /* No event for this long while RECOVERING: TIMED_OUT. The kernel's link reset alone
         * may wait up to 60 s for a device to become ready (PCIE_RESET_READY_POLL_MS). */
        uint64_t timeout_usec;
        uint64_t settle_usec;
        unsigned max_devices;
        unsigned max_hierarchies;
        unsigned max_reports;
};

/* Fills the defaults above. */
void sriov_recovery_tracker_config_init(struct sriov_recovery_tracker_config *c);

struct sriov_recovery_device {
        struct sriov_addr addr;
        bool begun;                     /* sent BEGIN_RECOVERY */
        bool own_outcome;               /* the outcome was sent for this device itself, not
                                         * inherited from an upstream bridge */
        SriovDeviceOutcome outcome;
};

/* One finished recovery. Devices in the order first seen. A FAILED bridge (the old-kernel
 * case) is listed with its own outcome; functions below it that never sent BEGIN are not
 * known to the tracker: the daemon finds them in its model. */
struct sriov_recovery_report {
        struct sriov_addr hierarchy;
        SriovRecoveryResult result;
        uint64_t start_usec;            /* first event */
        uint64_t end_usec;              /* last outcome; the deadline for TIMED_OUT */
        bool begin_missed;              /* started with an outcome, no BEGIN seen */
        unsigned n_events;              /* events that went into this recovery */
        unsigned n_failed;              /* failed devices, listed or dropped */
        unsigned n_dropped;             /* devices not listed (max_devices) */
        size_t n_devices;
        struct sriov_recovery_device devices[];
};

struct sriov_recovery_report *sriov_recovery_report_free(struct sriov_recovery_report *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_recovery_report *, sriov_recovery_report_free);

struct sriov_recovery_counters {
        uint64_t begun;                 /* recoveries, including begin_missed ones */
        uint64_t succeeded;
        uint64_t failed;
        uint64_t timed_out;
        uint64_t begin_missed;
        uint64_t devices_dropped;
};

typedef struct sriov_recovery_tracker sriov_recovery_tracker;

/* config NULL: defaults. -EINVAL for a zero max_devices, max_hierarchies or max_reports. */
int sriov_recovery_tracker_new(const struct sriov_recovery_tracker_config *config, sriov_recovery_tracker **ret);
sriov_recovery_tracker *sriov_recovery_tracker_free(sriov_recovery_tracker *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(sriov_recovery_tracker *, sriov_recovery_tracker_free);

/* One ERROR_EVENT uevent. device: the function it came from; hierarchy: its root port
 * (equal to device for an event on the root port itself); bridges: the device's upstream
 * bridges, nearest first, n_bridges of them (the root port may be included or not; NULL
 * when n_bridges is 0). Returns 0, -EINVAL for kind NONE or an invalid kind or NULL
 * addresses, -ENOSPC when the hierarchy would be one too many, -ENOMEM. Deadlines that
 * have passed by now are expired first, as tick(now) would. */
int sriov_recovery_tracker_event(sriov_recovery_tracker *t,
                                 const struct sriov_addr *device,
                                 const struct sriov_addr *hierarchy,
                                 const struct sriov_addr *bridges, size_t n_bridges,
                                 SriovErrorEventKind kind,
                                 uint64_t now_usec);

/* Ends what is due by now_usec. Returns the number of recoveries it ended. */
int sriov_recovery_tracker_tick(sriov_recovery_tracker *t, uint64_t now_usec);

/* The earliest deadline of any hierarchy, SRIOV_USEC_INFINITY when none: arm one timer
 * for it and call tick() when it fires. */
uint64_t sriov_recovery_tracker_next_deadline(const sriov_recovery_tracker *t) _pure_;

/* RECOVERING or SETTLING: the kernel may hold locks below this root port. */
bool sriov_recovery_tracker_is_recovering(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) _pure_;
SriovHierarchyState sriov_recovery_tracker_get_state(const sriov_recovery_tracker *t,
                                                     const struct sriov_addr *hierarchy) _pure_;

/* Finished recoveries, oldest first. Returns 1 and hands *ret over (free it with
 * sriov_recovery_report_free), or 0 and sets *ret to NULL when there is none. */
int sriov_recovery_tracker_pop_report(sriov_recovery_tracker *t, struct sriov_recovery_report **ret);

/* Counters of one hierarchy; zeros for one never seen. */
void sriov_recovery_tracker_get_counters(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy,
                                         struct sriov_recovery_counters *ret);

/* Devices currently held for the hierarchy's running recovery (0 when idle), and how
 * many device slots are allocated for it: both at most max_devices. */
size_t sriov_recovery_tracker_n_devices(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) _pure_;
size_t sriov_recovery_tracker_n_allocated(const sriov_recovery_tracker *t, const struct sriov_addr *hierarchy) _pure_;
size_t sriov_recovery_tracker_n_hierarchies(const sriov_recovery_tracker *t) _pure_;
uint64_t sriov_recovery_tracker_events_refused(const sriov_recovery_tracker *t) _pure_;
uint64_t sriov_recovery_tracker_reports_dropped(const sriov_recovery_tracker *t) _pure_;

/* ---------------------------------------------------------------------------------------
 * (b) User-space recovery of one PF
 * ------------------------------------------------------------------------------------- */

typedef enum sriov_recovery_policy {
        SRIOV_RECOVERY_POLICY_NONE,
        SRIOV_RECOVERY_POLICY_NOTIFY,
        SRIOV_RECOVERY_POLICY_REMOVE_RESCAN,
        SRIOV_RECOVERY_POLICY_RESET,
        _SRIOV_RECOVERY_POLICY_MAX,
        _SRIOV_RECOVERY_POLICY_INVALID = -EINVAL,
} SriovRecoveryPolicy;

#define SRIOV_RECOVERY_POLICY_DEFAULT SRIOV_RECOVERY_POLICY_REMOVE_RESCAN

typedef enum sriov_pf_action_kind {
        SRIOV_PF_ACTION_NONE,           /* not started */
        SRIOV_PF_ACTION_DISABLE_VFS,    /* write 0 to the PF's sriov_numvfs */
        SRIOV_PF_ACTION_REMOVE_PF,      /* write 1 to the PF's remove */
        SRIOV_PF_ACTION_REMOVE_BRIDGE,  /* write 1 to the upstream bridge's remove */
        SRIOV_PF_ACTION_RESCAN_PORT,    /* write 1 to the upstream bridge's rescan */
        SRIOV_PF_ACTION_RESCAN_BUS,     /* write 1 to /sys/bus/pci/rescan */
        SRIOV_PF_ACTION_WAIT_PF,        /* wait for the PF's "add" uevent: device_appeared() */
        SRIOV_PF_ACTION_RESET_PF,       /* write 1 to the PF's reset */
        SRIOV_PF_ACTION_RESTORE_VFS,    /* enable num_vfs VFs through the normal enable path */
        SRIOV_PF_ACTION_RESTORE_BINDINGS, /* driver_override and drivers of PF and VFs */
        SRIOV_PF_ACTION_VERIFY,         /* the PF and its VFs are as desired */
        SRIOV_PF_ACTION_WAIT_RETRY,     /* nothing to do until the deadline: timeout() */
        SRIOV_PF_ACTION_DONE_OK,        /* final */
        SRIOV_PF_ACTION_DONE_FAILED,    /* final: the PF is failed */
        SRIOV_PF_ACTION_NOTIFY_ONLY,    /* final: report the failure, touch nothing */
        _SRIOV_PF_ACTION_KIND_MAX,
        _SRIOV_PF_ACTION_KIND_INVALID = -EINVAL,
} SriovPfActionKind;

/* "none", "notify", "remove-rescan", "reset"; action kinds as "disable-vfs", "remove-pf",
 * "remove-bridge", "rescan-port", "rescan-bus", "wait-pf", "reset-pf", "restore-vfs",
 * "restore-bindings", "verify", "wait-retry", "done-ok", "done-failed", "notify-only",
 * "none". */
const char *sriov_recovery_policy_to_string(SriovRecoveryPolicy p) _pure_;
SriovRecoveryPolicy sriov_recovery_policy_from_string(const char *s) _pure_;
const char *sriov_pf_action_kind_to_string(SriovPfActionKind k) _pure_;
SriovPfActionKind sriov_pf_action_kind_from_string(const char *s) _pure_;

#define SRIOV_PF_RECOVERY_ATTEMPTS_MAX 16u

struct sriov_pf_recovery_config {
        SriovRecoveryPolicy policy;
        unsigned max_attempts;          /* 1..SRIOV_PF_RECOVERY_ATTEMPTS_MAX */
        uint64_t backoff_base_usec;     /* after failed attempt n: base * 2^(n-1) ... */
        uint64_t backoff_max_usec;      /* ... at most this */
        uint64_t disable_timeout_usec;  /* DISABLE_VFS */
        uint64_t wait_pf_timeout_usec;  /* WAIT_PF */
        uint64_t restore_timeout_usec;  /* RESTORE_VFS: covers the enable path's own settle */
        uint64_t step_timeout_usec;     /* every other step */
        unsigned num_vfs;               /* VFs to restore; 0: skip RESTORE_VFS */
};

/* remove-rescan, 3 attempts, backoff 5 s .. 60 s, DISABLE_VFS 10 s, WAIT_PF 30 s,
 * RESTORE_VFS 300 s, other steps 30 s, num_vfs 0. */
void sriov_pf_recovery_config_init(struct sriov_pf_recovery_config *c);

struct sriov_pf_action {
        SriovPfActionKind kind;
        uint64_t seq;                   /* quote it in step_done(); 1, 2, ... */
        uint64_t deadline_usec;         /* SRIOV_USEC_INFINITY for final actions */
        unsigned attempt;               /* 1-based; 0 before start and for policy none */
        struct sriov_addr target;       /* the PF; the bridge for REMOVE_BRIDGE, RESCAN_PORT
                                         * and RESCAN_BUS (the bus-wide rescan brings it back) */
        unsigned num_vfs;               /* RESTORE_VFS */
};

/* One entry per step taken, WAIT_PF and WAIT_RETRY included. result: 0, the step's
 * -errno, or -ETIMEDOUT when its deadline passed. A worker that finishes a step after its
 * deadline (a hung write that returned at last) is still noted: late, with its result. */
struct sriov_pf_step {
        SriovPfActionKind kind;
        unsigned attempt;
        uint64_t seq;
        uint64_t start_usec;
        uint64_t end_usec;              /* == start_usec until finished */
        bool finished;
        int result;
        bool late;
        int late_result;
        uint64_t late_usec;
};

typedef struct sriov_pf_recovery sriov_pf_recovery;

/* pf: the failed PF; bridge: its upstream bridge (the root port when the PF sits directly
 * below it), the one removed in the fallback and whose rescan brings the PF back.
 * config NULL: defaults. -EINVAL for an invalid policy, max_attempts 0, backoff_base 0,
 * or backoff_max < backoff_base; -ERANGE for max_attempts above the maximum. */
int sriov_pf_recovery_new(const struct sriov_addr *pf, const struct sriov_addr *bridge,
                          const struct sriov_pf_recovery_config *config, sriov_pf_recovery **ret);
sriov_pf_recovery *sriov_pf_recovery_free(sriov_pf_recovery *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(sriov_pf_recovery *, sriov_pf_recovery_free);

/* Inputs. Each returns 0 and writes the (new) current action to ret_action (may be NULL),
 * or -errno and changes nothing:
 *   start         once, after the kernel reported FAILED and the tracker says its
 *                 recovery of the hierarchy ended. -EALREADY when started before.
 *   step_done     the daemon finished the action with sequence seq: result 0 or -errno
 *                 (-EINVAL for a positive result). -ESTALE when seq is not the current
 *                 action's or the current action is not one the daemon performs (WAIT_PF,
 *                 WAIT_RETRY, final ones), also after the end; when seq names an earlier
 *                 step, whose deadline passed, its late result is noted in the log.
 *   device_appeared  an "add" of addr; ignored (0, action unchanged) unless addr is the
 *                 PF and a removal has completed: during RESCAN_* it is remembered (the
 *                 uevent may overtake the rescan's completion), during WAIT_PF it ends the
 *                 wait, during WAIT_RETRY the next attempt starts from the top. Adds during
 *                 the removal step itself are ignored: one queued before the removal would
 *                 look like the PF coming back.
 *   timeout       the current deadline's timer fired. Before the deadline it is a no-op
 *                 returning 0 (early or spurious wakeups are harmless).
 * All of them -ENOTCONN before start, except start itself. After a final action,
 * device_appeared and timeout return 0 and leave it as it is. */
int sriov_pf_recovery_start(sriov_pf_recovery *r, uint64_t now_usec, struct sriov_pf_action *ret_action);
int sriov_pf_recovery_step_done(sriov_pf_recovery *r, uint64_t seq, int result, uint64_t now_usec,
                                struct sriov_pf_action *ret_action);
int sriov_pf_recovery_device_appeared(sriov_pf_recovery *r, const struct sriov_addr *addr, uint64_t now_usec,
                                      struct sriov_pf_action *ret_action);
int sriov_pf_recovery_timeout(sriov_pf_recovery *r, uint64_t now_usec, struct sriov_pf_action *ret_action);

/* Introspection, for the API's report. */
void sriov_pf_recovery_get_action(const sriov_pf_recovery *r, struct sriov_pf_action *ret);
bool sriov_pf_recovery_is_final(const sriov_pf_recovery *r) _pure_;
unsigned sriov_pf_recovery_attempts(const sriov_pf_recovery *r) _pure_;
SriovRecoveryPolicy sriov_pf_recovery_policy(const sriov_pf_recovery *r) _pure_;
/* The steps, oldest first. -ERANGE past the end. */
size_t sriov_pf_recovery_n_steps(const sriov_pf_recovery *r) _pure_;
int sriov_pf_recovery_get_step(const sriov_pf_recovery *r, size_t i, struct sriov_pf_step *ret);
