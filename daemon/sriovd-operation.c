/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sriov-json.h"
#include "sriov-flock.h"
#include "sriov-lock.h"
#include "sriovd-api.h"
#include "sriovd-conn.h"
#include "sriovd-bind.h"
#include "sriovd-config.h"
#include "sriovd-recovery.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-operation.h"
#include "sriovd-metrics.h"
#include "sriovd-worker.h"

/* How long an operation waits for lock files another process holds (sriovctl lock, a
 * script) when the request names no timeout: a lock file must not stop every change
 * of a PF for ever, drift repair and configuration included. */
#define OP_LOCK_FILE_WAIT_MS_DEFAULT 60000

/* Finished operations kept for GET /v1/operations/{id}. */
#define OPS_KEEP_FINISHED 64
#define OP_MAX_WAITERS 32
/* Requests one user may keep waiting (?wait=1, POST with wait) over all operations:
 * anyone may wait, so nobody may take every slot. Root and admins are not counted. */
#define OP_MAX_WAITERS_PER_UID 8

typedef enum op_state {
        OP_QUEUED,              /* waiting for the ordering lock */
        OP_LOCKING,             /* trying other processes' file locks */
        OP_LOCKFILE_WAIT,       /* a lock file is held: waiting for it, without in-process locks */
        OP_DEFERRED,            /* the kernel is recovering the hierarchy */
        OP_WRITING,             /* a sriov_numvfs write is in the kernel */
        OP_SETTLING,            /* waiting for uevents */
        OP_DONE,
        _OP_STATE_MAX,
} OpState;

static const char *const op_state_names[_OP_STATE_MAX] = {
        [OP_QUEUED] = "queued",
        [OP_LOCKING] = "locking",
        [OP_LOCKFILE_WAIT] = "waiting-for-lock-file",
        [OP_DEFERRED] = "waiting-for-recovery",
        [OP_WRITING] = "writing",
        [OP_SETTLING] = "settling",
        [OP_DONE] = "done",
};

/* What the current write and settle are for. */
typedef enum op_phase {
        PHASE_CLEAR,            /* writing 0 before a new non-zero count */
        PHASE_APPLY,            /* writing the requested count */
        PHASE_ROLLBACK_CLEAR,   /* all-or-nothing: back to 0 ... */
        PHASE_ROLLBACK_APPLY,   /* ... and to the previous count */
} OpPhase;

struct write_job {
        struct sriov_sysfs *sysfs;      /* only its fds are used: safe across threads */
        struct sriov_addr pf;
        char attr[32];
        char value[16];
};

struct sriovd_op {
        struct sriovd_ops *ops;
        uint64_t id;
        struct sriov_addr pf;
        struct sriov_addr hierarchy;
        struct sriov_enable_request request;
        OpState state;
        OpPhase phase;
        sriov_lock_request *lock;
        sriov_flock *flock;             /* the same locks as files, for other processes */
        sriov_flock *flock_pending;     /* set by the worker, taken on the loop thread */
        int flock_error;
        char lock_dir[256];
        uint64_t lockfile_deadline_usec;        /* set by the first wait for a lock file */
        int lockfile_wait_ms;                   /* this wait's budget, for the worker */
        pid_t lock_holder;                      /* 0: not known (/proc/locks hidden) */
        char lock_holder_file[128];

        unsigned previous;              /* VF count when the operation began */
        bool autoprobe;
        unsigned offset, stride, total_vfs;

        uint64_t created_usec, started_usec, finished_usec;

        /* the write in flight */
        struct write_job job;
        bool write_in_flight;
        unsigned write_value;
        uint64_t write_started_usec;
        bool hung;                      /* the write outlived its deadline */
        uint64_t hung_usec;
        bool late_returned;             /* ... and came back later, with late_result */
        int late_result;
        uint64_t late_after_ms;
        int write_error;
        unsigned failed_write_value;
        char failed_file[32];           /* "" : sriov_numvfs */

        unsigned settle_target;
        bool pf_change_seen;            /* the kernel's "change" on the PF: it finished adding VFs */
        SriovSettle settled_by;         /* of the last settling, for the report */
        unsigned unsignalled_vfs;
        struct event *deadline;
        struct event *quiet;

        bool have_report;
        struct sriov_report report;
        bool replied_hung;
        bool counted;                   /* in the metrics (once, however many writes hung) */

        bool lock_submitted;            /* deferred operations wait without holding locks */
        bool autoprobe_written;
        size_t n_errors;                /* PCIe error events on the hierarchy while writing/settling */
        struct { uint64_t seq; char kind[32]; struct sriov_addr addr; } errors[16];
        unsigned errors_dropped;
        size_t n_parked;
        struct sriov_addr parked[16];   /* idle VFs handed to vfio-pci afterwards (park policy) */
        size_t n_waiters;
        struct evhttp_request *waiters[OP_MAX_WAITERS];
        uid_t waiter_uids[OP_MAX_WAITERS];
        bool reply_with_report;         /* POST with wait: the report itself is the reply */

        struct sriovd_op *next;
};

struct sriovd_ops {
        struct sriovd_manager *manager;
        struct sriovd_workers *workers;         /* the manager's */
        sriov_lock_manager *locks;              /* the manager's */
        struct sriovd_op *list;         /* newest first */
        uint64_t next_id;
        /* Finished operations are trimmed from here, never from inside a callback: the
         * operation being finished, or the next one a loop over the list visits, must
         * stay valid until the callback returns. */
        struct event *trim;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static struct timeval ms_to_tv(uint64_t ms) {
        return (struct timeval) { .tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) ((ms % 1000) * 1000) };
}

static uint64_t op_timeout_ms(const struct sriovd_op *op, unsigned count) {
        return op->request.timeout_ms ?: sriov_settle_timeout_ms(count);
}

static void op_finish(struct sriovd_op *op);
static void op_count(struct sriovd_op *op, SriovdOpResult result);
static void op_startup_done(struct sriovd_op *op);
static void op_write(struct sriovd_op *op, unsigned value, OpPhase phase);
static void op_begin(struct sriovd_op *op);
static void op_submit_lock(struct sriovd_op *op);
static void op_write_attr(struct sriovd_op *op, const char *attr, const char *value);
static size_t ops_park(struct sriovd_ops *ops, const struct sriov_addr *pf_addr, struct sriov_addr *ret, size_t max);

/* ---- JSON ---------------------------------------------------------------------------- */

static json_object *op_to_json(const struct sriovd_op *op) {
        json_object *o = json_object_new_object();
        uint64_t now = now_usec();

        json_object_object_add(o, "id", json_object_new_uint64(op->id));
        json_object_object_add(o, "pf", sriov_addr_to_json(&op->pf));
        json_object_object_add(o, "num_vfs", json_object_new_int64(op->request.num_vfs));
        json_object_object_add(o, "policy", json_object_new_string(sriov_policy_to_string(op->request.policy)));
        json_object_object_add(o, "state", json_object_new_string(op_state_names[op->state]));
        json_object_object_add(o, "age_ms", json_object_new_uint64((now - op->created_usec) / 1000));
        if (op->state == OP_QUEUED && op->lock) {
                sriov_lock_request *blocker = NULL;
                enum sriov_lock_level level;
                struct sriov_addr addr;
                if (sriov_lock_request_get_blocker(op->lock, &blocker, &level, &addr) > 0 && blocker) {
                        struct sriovd_op *b = sriov_lock_request_userdata(blocker);
                        char why[128];
                        snprintf(why, sizeof(why), "operation %" PRIu64 " holds or waits for %s %s",
                                 b ? b->id : 0, sriov_lock_level_to_string(level), SRIOV_ADDR_STR(&addr));
                        json_object_object_add(o, "waiting_for", json_object_new_string(why));
                }
        } else if (op->state == OP_DEFERRED)
                json_object_object_add(o, "waiting_for",
                                       json_object_new_string("the kernel is recovering this hierarchy from a PCIe error"));
        else if (op->state == OP_LOCKING)
                json_object_object_add(o, "waiting_for",
                                       json_object_new_string("the lock files of other processes (sriovctl lock)"));
        else if (op->state == OP_LOCKFILE_WAIT) {
                char why[256];
                uint64_t left = op->lockfile_deadline_usec > now ? (op->lockfile_deadline_usec - now) / 1000 : 0;
                if (op->lock_holder > 0)
                        snprintf(why, sizeof(why), "lock file %s, held by process %d (sriovctl lock or a script); "
                                 "giving up in %" PRIu64 " ms", op->lock_holder_file, (int) op->lock_holder, left);
                else
                        snprintf(why, sizeof(why), "a lock file held by another process (sriovctl lock or a script); "
                                 "giving up in %" PRIu64 " ms", left);
                json_object_object_add(o, "waiting_for", json_object_new_string(why));
                if (op->lock_holder > 0)
                        json_object_object_add(o, "lock_holder_pid", json_object_new_int(op->lock_holder));
        }
        if (op->write_in_flight) {
                json_object *w = json_object_new_object();
                json_object_object_add(w, "value", json_object_new_int64(op->write_value));
                json_object_object_add(w, "file", json_object_new_string(op->job.attr));
                json_object_object_add(w, "age_ms", json_object_new_uint64((now - op->write_started_usec) / 1000));
                json_object_object_add(w, "hung", json_object_new_boolean(op->hung));
                json_object_object_add(o, "write_in_flight", w);
        }
        if (op->late_returned) {
                json_object *l = json_object_new_object();
                json_object_object_add(l, "after_ms", json_object_new_uint64(op->late_after_ms));
                json_object_object_add(l, "errno", json_object_new_int(-op->late_result));
                json_object_object_add(l, "message", json_object_new_string(sriov_numvfs_strerror(op->late_result)));
                json_object_object_add(o, "hung_write_returned", l);
        }
        if (op->n_errors > 0) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < op->n_errors; i++) {
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "seq", json_object_new_uint64(op->errors[i].seq));
                        json_object_object_add(e, "event", json_object_new_string(op->errors[i].kind));
                        json_object_object_add(e, "device", sriov_addr_to_json(&op->errors[i].addr));
                        json_object_array_add(arr, e);
                }
                json_object_object_add(o, "pcie_errors_during", arr);
                if (op->errors_dropped)
                        json_object_object_add(o, "pcie_errors_dropped", json_object_new_int(op->errors_dropped));
        }
        if (op->have_report) {
                json_object *rep = sriov_report_to_json(&op->report);
                if (op->n_errors > 0) {
                        /* The report says it too: a result reached while the kernel reported
                         * errors below this root port is not the whole story. */
                        json_object_object_add(rep, "pcie_errors_during_operation",
                                               json_object_new_int64((int64_t) (op->n_errors + op->errors_dropped)));
                }
                if (op->n_parked > 0) {
                        json_object *arr = json_object_new_array();
                        for (size_t i = 0; i < op->n_parked; i++)
                                json_object_array_add(arr, sriov_addr_to_json(&op->parked[i]));
                        json_object_object_add(rep, "parked_on_vfio_pci", arr);
                }
                json_object_object_add(o, "report", rep);
        }
        return o;
}

/* ---- replies ------------------------------------------------------------------------- */

static void on_waiter_closed(struct evhttp_connection *conn, void *userdata) {
        struct sriovd_op *op = userdata;
        size_t kept = 0;

        /* evhttp frees requests of a closed connection: forget them, and give their slots
         * back. */
        for (size_t i = 0; i < op->n_waiters; i++) {
                if (!op->waiters[i] || evhttp_request_get_connection(op->waiters[i]) == conn)
                        continue;
                op->waiters[kept] = op->waiters[i];
                op->waiter_uids[kept] = op->waiter_uids[i];
                kept++;
        }
        op->n_waiters = kept;
}

static size_t ops_waiters_of_uid(const struct sriovd_ops *ops, uid_t uid) {
        size_t n = 0;

        for (const struct sriovd_op *op = ops->list; op; op = op->next)
                for (size_t i = 0; i < op->n_waiters; i++)
                        n += op->waiters[i] && op->waiter_uids[i] == uid;
        return n;
}

static int op_add_waiter(struct sriovd_op *op, struct evhttp_request *req) {
        struct evhttp_connection *conn;
        uid_t uid = 0;

        if (!req)
                return 0;
        conn = evhttp_request_get_connection(req);
        if (op->n_waiters >= OP_MAX_WAITERS)
                return -EBUSY;
        if (sriovd_api_peer_uid(req, &uid) < 0)
                return -ENOTCONN;
        if (!sriovd_api_peer_privileged(op->ops->manager->api, req) &&
            ops_waiters_of_uid(op->ops, uid) >= OP_MAX_WAITERS_PER_UID)
                return -EUSERS;
        op->waiter_uids[op->n_waiters] = uid;
        op->waiters[op->n_waiters++] = req;
        if (conn)
                evhttp_connection_set_closecb(conn, on_waiter_closed, op);
        /* Long timeout, and told when the client goes away (then on_waiter_closed). */
        sriovd_conns_hold(req);
        return 0;
}

static int report_http_status(const struct sriovd_op *op) {
        return 200;
}

static void op_reply_waiters(struct sriovd_op *op) {
        for (size_t i = 0; i < op->n_waiters; i++) {
                struct evhttp_request *req = op->waiters[i];
                struct evhttp_connection *conn;

                if (!req)
                        continue;
                conn = evhttp_request_get_connection(req);
                if (conn)
                        evhttp_connection_set_closecb(conn, NULL, NULL);
                sriovd_api_reply_json(req, report_http_status(op), op_to_json(op));
        }
        op->n_waiters = 0;
}

/* ---- model helpers ------------------------------------------------------------------- */

static const struct sriov_device *op_pf_device(const struct sriovd_op *op) {
        return sriov_model_get(op->ops->manager->model, &op->pf);
}

static unsigned op_current_vfs(const struct sriovd_op *op) {
        const struct sriov_device *d = op_pf_device(op);
        return d && d->role == SRIOV_ROLE_PF ? (unsigned) d->pf.n_vfs : 0;
}

/* Re-reads the PF's virtfn links and each VF's driver: the final word is sysfs's, not
 * the sum of the events we happened to see. Link reads take no device lock. */
static void op_verify(struct sriovd_op *op) {
        struct sriov_model *model = op->ops->manager->model;
        const struct sriov_device *pf;
        int r;

        r = sriov_model_resync(model, &op->pf);
        if (r < 0)
                log_warning_errno(r, "Cannot re-read PF %s for verification", SRIOV_ADDR_STR(&op->pf));
        pf = op_pf_device(op);
        if (!pf || pf->role != SRIOV_ROLE_PF)
                return;
        for (size_t i = 0; i < pf->pf.n_vfs; i++) {
                struct sriov_addr a = pf->pf.vfs[i].addr;
                (void) sriov_model_refresh(model, &a);
                pf = op_pf_device(op);  /* the refresh may have moved entries */
                if (!pf)
                        return;
        }
}

static int op_build_report(struct sriovd_op *op, unsigned requested) {
        const struct sriov_model *model = op->ops->manager->model;
        const struct sriov_device *pf = op_pf_device(op);
        _cleanup_free_ struct sriov_vf_observed *obs = NULL;
        size_t n = 0;

        if (pf && pf->role == SRIOV_ROLE_PF && pf->pf.n_vfs > 0) {
                obs = calloc(pf->pf.n_vfs, sizeof(*obs));
                if (!obs)
                        return -ENOMEM;
                for (size_t i = 0; i < pf->pf.n_vfs; i++) {
                        const struct sriov_device *vf = sriov_model_get(model, &pf->pf.vfs[i].addr);
                        obs[n++] = (struct sriov_vf_observed) {
                                .index = pf->pf.vfs[i].index,
                                .addr = pf->pf.vfs[i].addr,
                                .driver = vf ? vf->driver : NULL,
                        };
                }
        }

        struct sriov_report_input in = {
                .pf = op->pf,
                .offset = op->offset,
                .stride = op->stride,
                .requested = requested,
                .previous = op->previous,
                .policy = op->request.policy,
                .autoprobe = op->autoprobe,
                .elapsed_ms = (now_usec() - op->created_usec) / 1000,
                .write_error = op->write_error,
                .failed_write_value = op->failed_write_value,
                .failed_file = op->failed_file[0] ? op->failed_file : NULL,
                .hung = op->hung,
                .hung_ms = op->hung ? (now_usec() - op->write_started_usec) / 1000 : 0,
                .n_observed = n,
                .observed = obs,
                .settled_by = op->settled_by,
                .unsignalled_vfs = op->unsignalled_vfs,
                .quiet_window_ms = op->ops->manager->options->settle_quiet_ms,
        };
        if (op->have_report)
                sriov_report_done(&op->report);
        op->have_report = false;
        int r = sriov_report_build(&in, &op->report);
        if (r < 0)
                return r;
        op->have_report = true;
        return 0;
}

/* ---- settling ------------------------------------------------------------------------ */

/* VFs of the target whose outcome the kernel has not told: missing ones, and with
 * autoprobe on those without a driver. A driver's probe that fails, or no driver for
 * the VF at all, sends no uevent: only time tells those. So does a driver whose bind is
 * not yet its outcome (sriov_driver_bind_is_outcome: nvme on 6.1 binds, then lets go). */
static unsigned op_vfs_untold(const struct sriovd_op *op) {
        const struct sriov_model *model = op->ops->manager->model;
        const struct sriov_device *pf = op_pf_device(op);
        unsigned n = op_current_vfs(op), untold = n < op->settle_target ? op->settle_target - n : 0;

        if (!op->autoprobe || !pf || pf->role != SRIOV_ROLE_PF)
                return untold;
        for (size_t i = 0; i < pf->pf.n_vfs; i++) {
                const struct sriov_device *vf = sriov_model_get(model, &pf->pf.vfs[i].addr);
                untold += !vf || !sriov_driver_bind_is_outcome(vf->driver);
        }
        return untold;
}

static void op_settled(struct sriovd_op *op, SriovSettle how) {
        event_del(op->deadline);
        event_del(op->quiet);
        op_verify(op);
        op->settled_by = how;
        op->unsignalled_vfs = how == SRIOV_SETTLE_KERNEL ? 0 : op_vfs_untold(op);

        switch (op->phase) {
        case PHASE_CLEAR:
                if (op_current_vfs(op) != 0) {
                        /* The kernel said yes to 0 but VFs remain: report, do not write N
                         * on top (it would fail with EBUSY). */
                        op->write_error = EBUSY;
                        op->failed_write_value = op->request.num_vfs;
                        break;
                }
                op_write(op, op->request.num_vfs, PHASE_APPLY);
                return;
        case PHASE_APPLY:
                if (op_build_report(op, op->request.num_vfs) < 0)
                        break;
                /* All or nothing: anything short of complete goes back to where it was -
                 * also when nothing came up after clearing a previous count. */
                if (op->request.policy == SRIOV_POLICY_ALL_OR_NOTHING && op->report.outcome != SRIOV_OUTCOME_COMPLETE &&
                    op_current_vfs(op) != op->previous) {
                        log_notice("PF %s: %s; all-or-nothing, rolling back to %u VFs", SRIOV_ADDR_STR(&op->pf),
                                   op->report.message, op->previous);
                        op_write(op, 0, PHASE_ROLLBACK_CLEAR);
                        return;
                }
                op_finish(op);
                return;
        case PHASE_ROLLBACK_CLEAR:
                if (op->previous > 0 && op_current_vfs(op) == 0) {
                        op_write(op, op->previous, PHASE_ROLLBACK_APPLY);
                        return;
                }
                sriov_report_set_rollback(&op->report, 0, op_current_vfs(op));
                op_finish(op);
                return;
        case PHASE_ROLLBACK_APPLY:
                sriov_report_set_rollback(&op->report, 0, op_current_vfs(op));
                op_finish(op);
                return;
        }
        (void) op_build_report(op, op->request.num_vfs);
        op_finish(op);
}

static void op_check_settled(struct sriovd_op *op) {
        /* Going to 0 is done when the links are gone: nothing probes a removed VF. */
        if (op->settle_target == 0 && op_current_vfs(op) == 0) {
                op_settled(op, SRIOV_SETTLE_KERNEL);
                return;
        }
        /* Going to N is done, without waiting for silence, once the kernel has told each
         * VF's outcome: the write returned, the PF's "change" says sriov_enable() added
         * them all (their "add" uevents come before it), and each is bound (its "bind"
         * uevent; asynchronous probes such as nvme's come after the change) or, with
         * autoprobe off, only had to exist. */
        if (op->settle_target > 0 && op->pf_change_seen && op_current_vfs(op) == op->settle_target &&
            op_vfs_untold(op) == 0)
                op_settled(op, SRIOV_SETTLE_KERNEL);
}

static void op_arm_quiet(struct sriovd_op *op);

static void on_quiet(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_op *op = userdata;

        if (op->state != OP_SETTLING)
                return;
        /* Silence alone is not the end while VFs are missing: the kernel says it is done
         * adding them with one "change" uevent on the PF at the end of sriov_enable().
         * Without it (VFs still arriving, a kernel that adds them asynchronously) wait
         * on, up to the deadline. */
        if (op->settle_target > 0 && op_current_vfs(op) < op->settle_target && !op->pf_change_seen) {
                op_arm_quiet(op);
                return;
        }
        /* Going to 0 ends when the VFs are gone (op_check_settled), or at the deadline. */
        if (op->settle_target == 0 && op_current_vfs(op) > 0) {
                op_arm_quiet(op);
                return;
        }
        op_settled(op, SRIOV_SETTLE_QUIET_WINDOW);
}

static void op_arm_quiet(struct sriovd_op *op) {
        struct timeval tv = ms_to_tv(op->ops->manager->options->settle_quiet_ms);
        event_add(op->quiet, &tv);
}

static void op_settle(struct sriovd_op *op, unsigned target) {
        struct timeval tv = ms_to_tv(op_timeout_ms(op, target));

        op->state = OP_SETTLING;
        op->settle_target = target;
        event_add(op->deadline, &tv);
        op_arm_quiet(op);
        op_check_settled(op);
}

/* ---- writes -------------------------------------------------------------------------- */

static int write_job_run(void *userdata) {
        /* Runs on a worker thread: it reads op->job only, which the loop thread leaves
         * alone while the write is in flight. */
        const struct write_job *j = &((struct sriovd_op *) userdata)->job;
        _cleanup_close_ int fd = -EBADF;

        fd = sriov_sysfs_open_device(j->sysfs, &j->pf);
        if (fd < 0)
                return fd;
        return sriov_sysfs_write(fd, j->attr, j->value);
}

static void write_job_done(int result, void *userdata) {
        struct sriovd_op *op = userdata;
        uint64_t took_ms = (now_usec() - op->write_started_usec) / 1000;

        op->write_in_flight = false;
        event_del(op->deadline);

        if (op->hung) {
                /* The report went out long ago; the PF was kept locked until now. */
                op->late_returned = true;
                op->late_result = result;
                op->late_after_ms = took_ms;
                log_notice("PF %s: the hung write of %u to sriov_numvfs returned after %" PRIu64 " ms: %s",
                           SRIOV_ADDR_STR(&op->pf), op->write_value, took_ms,
                           result < 0 ? sriov_numvfs_strerror(result) : "success");
                op_verify(op);
                op_finish(op);
                return;
        }
        if (result < 0) {
                log_warning("PF %s: writing %u to sriov_numvfs failed after %" PRIu64 " ms: %s (%s)",
                            SRIOV_ADDR_STR(&op->pf), op->write_value, took_ms, sriov_numvfs_strerror(result),
                            strerrorname_np(-result) ?: "?");
                if (op->phase == PHASE_ROLLBACK_CLEAR || op->phase == PHASE_ROLLBACK_APPLY) {
                        op_verify(op);
                        sriov_report_set_rollback(&op->report, result, op_current_vfs(op));
                        op_finish(op);
                        return;
                }
                op->write_error = -result;
                op->failed_write_value = op->write_value;
                op_verify(op);
                (void) op_build_report(op, op->request.num_vfs);
                if (op->request.policy == SRIOV_POLICY_ALL_OR_NOTHING && op->previous > 0 &&
                    op_current_vfs(op) != op->previous) {
                        /* The kernel refused N after we cleared: put the previous count back. */
                        op_write(op, 0, PHASE_ROLLBACK_CLEAR);
                        return;
                }
                op_finish(op);
                return;
        }
        log_debug("PF %s: wrote %u to sriov_numvfs in %" PRIu64 " ms", SRIOV_ADDR_STR(&op->pf), op->write_value, took_ms);
        op_settle(op, op->write_value);
}

static void on_deadline(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_op *op = userdata;

        if (op->state == OP_WRITING && op->write_in_flight) {
                /* The kernel has not returned. We cannot cancel a sysfs write; we can say so,
                 * keep the PF locked, and keep serving everyone else. */
                op->hung = true;
                op->hung_usec = now_usec();
                op->failed_write_value = op->write_value;
                /* The file that hangs, which is not always sriov_numvfs. */
                snprintf(op->failed_file, sizeof(op->failed_file), "%s", op->job.attr);
                log_error("PF %s: writing %u to %s has not returned after %" PRIu64
                          " ms: hung in the kernel; PF stays locked until it returns, nothing more is written",
                          SRIOV_ADDR_STR(&op->pf), op->write_value, op->job.attr,
                          (now_usec() - op->write_started_usec) / 1000);
                (void) op_build_report(op, op->request.num_vfs);
                /* Counted under the file that hangs: a hung autoprobe write is not one of
                 * sriov_numvfs, which was never written. */
                sriovd_metrics_hung_write(op->ops->manager->metrics,
                                          streq(op->job.attr, "sriov_numvfs") ? SRIOVD_HUNG_NUMVFS : SRIOVD_HUNG_AUTOPROBE);
                op_count(op, SRIOVD_OP_RESULT_HUNG);
                /* Recorded now, not when (if ever) the write returns: a restart meanwhile
                 * must not write sriov_numvfs again behind a hung one. */
                sriovd_manager_operation_result(op->ops->manager, &op->pf, false, false, op->previous);
                op->replied_hung = true;
                op_reply_waiters(op);
                op_startup_done(op);    /* reported: start-up does not wait for the kernel */
                return;
        }
        if (op->state == OP_SETTLING) {
                log_notice("PF %s: settle deadline reached, reporting what is there", SRIOV_ADDR_STR(&op->pf));
                op_settled(op, SRIOV_SETTLE_DEADLINE);
        }
}

static void op_write(struct sriovd_op *op, unsigned value, OpPhase phase) {
        struct timeval tv = ms_to_tv(op_timeout_ms(op, value));
        int r;

        op->phase = phase;
        op->state = OP_WRITING;
        op->pf_change_seen = false;
        op->settled_by = SRIOV_SETTLE_NONE;
        op->unsignalled_vfs = 0;
        op->write_value = value;
        op->write_started_usec = now_usec();
        op->job = (struct write_job) { .sysfs = op->ops->manager->sysfs, .pf = op->pf, .attr = "sriov_numvfs" };
        snprintf(op->job.value, sizeof(op->job.value), "%u", value);

        log_info("PF %s: writing %u to sriov_numvfs (operation %" PRIu64 ")", SRIOV_ADDR_STR(&op->pf), value, op->id);
        r = sriovd_workers_submit(op->ops->workers, write_job_run, write_job_done, op);
        if (r == -ESHUTDOWN) {
                /* Stopping: not written, and not a failure either - recorded as one, the
                 * next start would not retry what was asked. */
                log_info("PF %s: stopping, %u not written (operation %" PRIu64 ")", SRIOV_ADDR_STR(&op->pf), value, op->id);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot start a worker for PF %s", SRIOV_ADDR_STR(&op->pf));
                op->write_error = -r;
                op->failed_write_value = value;
                (void) op_build_report(op, op->request.num_vfs);
                op_finish(op);
                return;
        }
        op->write_in_flight = true;
        event_add(op->deadline, &tv);
}

static void attr_job_done(int result, void *userdata) {
        struct sriovd_op *op = userdata;
        uint64_t took_ms = (now_usec() - op->write_started_usec) / 1000;

        op->write_in_flight = false;
        event_del(op->deadline);
        if (op->hung) {
                /* Reported as hung long ago: the kernel took its time over this file, so it
                 * is in no state for sriov_numvfs now. The operation ends here. */
                op->late_returned = true;
                op->late_result = result;
                op->late_after_ms = took_ms;
                log_notice("PF %s: the hung write of %s to %s returned after %" PRIu64 " ms: %s; not going on",
                           SRIOV_ADDR_STR(&op->pf), op->job.value, op->job.attr, took_ms,
                           result < 0 ? strerror(-result) : "success");
                op_verify(op);
                op_finish(op);
                return;
        }
        if (result < 0) {
                log_warning("PF %s: writing %s failed: %s", SRIOV_ADDR_STR(&op->pf), op->job.attr, strerror(-result));
                op->write_error = -result;
                op->failed_write_value = op->write_value;
                snprintf(op->failed_file, sizeof(op->failed_file), "%s", op->job.attr);
                (void) op_build_report(op, op->request.num_vfs);
                op_finish(op);
                return;
        }
        op_begin(op);   /* re-reads the PF, then the VF count */
}

static void op_write_attr(struct sriovd_op *op, const char *attr, const char *value) {
        struct timeval tv = ms_to_tv(op_timeout_ms(op, 0));

        op->state = OP_WRITING;
        op->write_value = (unsigned) strtoul(value, NULL, 10);
        op->job = (struct write_job) { .sysfs = op->ops->manager->sysfs, .pf = op->pf };
        snprintf(op->job.attr, sizeof(op->job.attr), "%s", attr);
        snprintf(op->job.value, sizeof(op->job.value), "%s", value);
        op->write_started_usec = now_usec();
        log_info("PF %s: writing %s to %s (operation %" PRIu64 ")", SRIOV_ADDR_STR(&op->pf), value, attr, op->id);
        if (sriovd_workers_submit(op->ops->workers, write_job_run, attr_job_done, op) < 0) {
                attr_job_done(-ENOMEM, op);
                return;
        }
        op->write_in_flight = true;
        event_add(op->deadline, &tv);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void op_begin(struct sriovd_op *op) {
        const struct sriov_device *pf = op_pf_device(op);
        char why[512];
        int r;

        if (sriovd_manager_hierarchy_recovering(op->ops->manager, &op->hierarchy)) {
                /* Give the locks back while waiting: sriovd's own recovery of this
                 * hierarchy needs it exclusively, and would otherwise wait for us forever. */
                op->flock = sriov_flock_release(op->flock);
                op->lock = sriov_lock_request_free(op->lock);
                op->lock_submitted = false;
                op->state = OP_DEFERRED;
                log_info("PF %s: operation %" PRIu64 " waits, the kernel is recovering %s", SRIOV_ADDR_STR(&op->pf),
                         op->id, SRIOV_ADDR_STR(&op->hierarchy));
                return;
        }

        op->started_usec = now_usec();
        /* The world may have changed while queued, and some of it sends no uevent at all
         * (sriov_drivers_autoprobe): re-read the PF - its attributes take no device lock,
         * and sriov_numvfs is not among them - then validate again. */
        r = sriov_model_resync(op->ops->manager->model, &op->pf);
        if (r < 0)
                log_warning_errno(r, "PF %s: cannot re-read it before writing", SRIOV_ADDR_STR(&op->pf));
        pf = op_pf_device(op);
        r = sriov_enable_validate(pf, &op->request, why, sizeof(why));
        if (r < 0) {
                log_warning("PF %s: operation %" PRIu64 " refused after queueing: %s", SRIOV_ADDR_STR(&op->pf), op->id, why);
                op->write_error = -r == ENOTTY ? ENODEV : -r;
                op->failed_write_value = op->request.num_vfs;
                (void) op_build_report(op, op->request.num_vfs);
                op_finish(op);
                return;
        }
        op->previous = (unsigned) pf->pf.n_vfs;
        op->autoprobe = pf->pf.drivers_autoprobe != 0;
        if (op->request.drivers_autoprobe >= 0 && op->request.drivers_autoprobe != pf->pf.drivers_autoprobe &&
            !op->autoprobe_written) {
                /* sriov_drivers_autoprobe first: it decides whether the VFs about to be
                 * created get probed. A write like the others: off the loop. */
                op->autoprobe_written = true;
                op_write_attr(op, "sriov_drivers_autoprobe", op->request.drivers_autoprobe ? "1" : "0");
                return;
        }
        op->offset = pf->pf.offset;
        op->stride = pf->pf.stride;
        op->total_vfs = pf->pf.total_vfs;

        if (op->previous == op->request.num_vfs) {
                /* Nothing to write: report what is there. */
                op->phase = PHASE_APPLY;
                op_verify(op);
                (void) op_build_report(op, op->request.num_vfs);
                op_finish(op);
                return;
        }
        if (op->previous != 0 && op->request.num_vfs != 0)
                op_write(op, 0, PHASE_CLEAR);
        else
                op_write(op, op->request.num_vfs, PHASE_APPLY);
}

static struct sriov_flock_spec op_flock_spec(const struct sriovd_op *op) {
        return (struct sriov_flock_spec) {
                .hierarchy = op->hierarchy,
                .hierarchy_mode = SRIOV_LOCK_SHARED,
                .pf = &op->pf,
                .pf_mode = SRIOV_LOCK_EXCLUSIVE,
        };
}

/* Worker thread, with the in-process locks held: the lock files, without waiting. */
static int flock_job_run(void *userdata) {
        struct sriovd_op *op = userdata;
        struct sriov_flock_spec spec = op_flock_spec(op);

        return sriov_flock_acquire(op->lock_dir, &spec, 0, &op->flock_pending);
}

/* Worker thread, with no in-process lock held: waits for the lock files, up to the
 * operation's budget. */
static int lockfile_wait_run(void *userdata) {
        struct sriovd_op *op = userdata;
        struct sriov_flock_spec spec = op_flock_spec(op);

        return sriov_flock_acquire(op->lock_dir, &spec, op->lockfile_wait_ms, &op->flock_pending);
}

static void op_lockfile_failed(struct sriovd_op *op, int error) {
        char msg[384];

        log_warning("PF %s: operation %" PRIu64 " cannot take the lock files in %s: %s", SRIOV_ADDR_STR(&op->pf),
                    op->id, op->lock_dir, error == -ETIMEDOUT ? "held by another process for too long" : strerror(-error));
        op->write_error = error == -ETIMEDOUT ? EBUSY : -error;
        op->failed_write_value = op->request.num_vfs;
        (void) op_build_report(op, op->request.num_vfs);
        if (op->have_report) {
                if (op->lock_holder > 0)
                        snprintf(msg, sizeof(msg), "not changed: lock file %s is held by process %d (sriovctl lock or a "
                                 "script); gave up waiting for it", op->lock_holder_file, (int) op->lock_holder);
                else
                        snprintf(msg, sizeof(msg), "not changed: a lock file in %s is held by another process "
                                 "(sriovctl lock or a script)%s", op->lock_dir,
                                 error == -ETIMEDOUT ? "; gave up waiting for it" : "");
                char *m = strdup(msg);
                if (m) {
                        free(op->report.message);
                        op->report.message = m;
                }
        }
        op_finish(op);
}

static void lockfile_wait_done(int result, void *userdata) {
        struct sriovd_op *op = userdata;

        if (result < 0) {
                op_lockfile_failed(op, result);
                return;
        }
        /* The files first, now the in-process locks: nobody of ours waits on a file while
         * holding those (they only try), so holding files here cannot deadlock. */
        op->flock = TAKE_PTR(op->flock_pending);
        log_info("PF %s: operation %" PRIu64 " has the lock files", SRIOV_ADDR_STR(&op->pf), op->id);
        op_submit_lock(op);
}

/* A lock file is held by another process. Waiting for it with the in-process locks held
 * would stop everything else of ours on this PF and hierarchy (binds, recovery) behind
 * someone else's script: give them back, wait off the loop, then queue again. */
static void op_wait_for_lock_files(struct sriovd_op *op) {
        struct sriov_flock_spec spec = op_flock_spec(op);
        _cleanup_free_ char *file = NULL;
        uint64_t now = now_usec();
        pid_t holder = 0;
        int r;

        if (op->lockfile_deadline_usec == 0)
                op->lockfile_deadline_usec = now + (op->request.timeout_ms ?: OP_LOCK_FILE_WAIT_MS_DEFAULT) * 1000;
        if (now >= op->lockfile_deadline_usec) {
                op_lockfile_failed(op, -ETIMEDOUT);
                return;
        }
        op->lock = sriov_lock_request_free(op->lock);
        op->lock_submitted = false;
        op->state = OP_LOCKFILE_WAIT;
        if (sriov_flock_find_holder(op->lock_dir, &spec, &holder, &file) >= 0) {
                op->lock_holder = holder;
                snprintf(op->lock_holder_file, sizeof(op->lock_holder_file), "%s", file);
        } else
                op->lock_holder = 0;
        op->lockfile_wait_ms = (int) ((op->lockfile_deadline_usec - now + 999) / 1000);
        if (op->lock_holder > 0)
                log_notice("PF %s: operation %" PRIu64 " waits up to %d ms for lock file %s, held by process %d",
                           SRIOV_ADDR_STR(&op->pf), op->id, op->lockfile_wait_ms, op->lock_holder_file,
                           (int) op->lock_holder);
        else
                log_notice("PF %s: operation %" PRIu64 " waits up to %d ms for a lock file held by another process",
                           SRIOV_ADDR_STR(&op->pf), op->id, op->lockfile_wait_ms);
        r = sriovd_workers_submit(op->ops->workers, lockfile_wait_run, lockfile_wait_done, op);
        if (r < 0)
                op_lockfile_failed(op, r);
        sriovd_manager_status_changed(op->ops->manager);
}

static void flock_job_done(int result, void *userdata) {
        struct sriovd_op *op = userdata;

        if (result == -EAGAIN) {
                op_wait_for_lock_files(op);
                return;
        }
        if (result < 0) {
                op_lockfile_failed(op, result);
                return;
        }
        op->flock = TAKE_PTR(op->flock_pending);
        log_debug("PF %s: operation %" PRIu64 " has the ordering locks and lock files", SRIOV_ADDR_STR(&op->pf), op->id);
        op_begin(op);
}

static void on_lock_granted(sriov_lock_request *lock, void *userdata) {
        struct sriovd_op *op = userdata;
        int r;

        if (op->flock) {
                /* Came back from waiting for the files, which it holds. */
                op_begin(op);
                return;
        }
        op->state = OP_LOCKING;
        r = sriovd_workers_submit(op->ops->workers, flock_job_run, flock_job_done, op);
        if (r < 0)
                flock_job_done(r, op);
}

static void op_free(struct sriovd_op *op) {
        if (!op)
                return;
        if (op->deadline)
                event_free(op->deadline);
        if (op->quiet)
                event_free(op->quiet);
        sriov_lock_request_free(op->lock);
        sriov_flock_release(op->flock);
        if (op->have_report)
                sriov_report_done(&op->report);
        free(op);
}

/* Keeps the OPS_KEEP_FINISHED most recently finished operations (by when they finished,
 * not when they were created: a slow operation that ends after many newer ones is the
 * one a client asks about next) and those a client still waits for. */
static void ops_trim(struct sriovd_ops *ops) {
        for (;;) {
                struct sriovd_op **oldest = NULL;
                size_t done = 0;

                for (struct sriovd_op **p = &ops->list; *p; p = &(*p)->next) {
                        struct sriovd_op *op = *p;
                        if (op->state != OP_DONE)
                                continue;
                        done++;
                        if (op->n_waiters == 0 && (!oldest || op->finished_usec < (*oldest)->finished_usec))
                                oldest = p;
                }
                if (done <= OPS_KEEP_FINISHED || !oldest)
                        return;
                struct sriovd_op *dead = *oldest;
                *oldest = dead->next;
                op_free(dead);
        }
}

static void on_trim(evutil_socket_t fd, short what, void *userdata) {
        ops_trim(userdata);
}

/* Submits a vfio-pci bind for every VF of pf without a driver; returns how many. */
static size_t ops_park(struct sriovd_ops *ops, const struct sriov_addr *pf_addr, struct sriov_addr *ret, size_t max) {
        const struct sriov_device *pf = sriov_model_get(ops->manager->model, pf_addr);
        _cleanup_free_ struct sriov_addr *todo = NULL;
        size_t n = 0;

        if (!pf || pf->role != SRIOV_ROLE_PF || pf->pf.n_vfs == 0)
                return 0;
        /* As many as the PF has (up to 65535): a fixed array parked only the first 256. */
        todo = calloc(pf->pf.n_vfs, sizeof(*todo));
        if (!todo) {
                log_error("Out of memory: cannot park the idle VFs of %s", SRIOV_ADDR_STR(pf_addr));
                return 0;
        }
        const struct sriov_pf_config *c = sriovd_config_for(ops->manager, pf_addr);
        for (size_t i = 0; i < pf->pf.n_vfs; i++) {
                const struct sriov_device *vf = sriov_model_get(ops->manager->model, &pf->pf.vfs[i].addr);
                const struct sriov_vf_config *vc = c ? sriov_pf_config_vf(c, pf->pf.vfs[i].index) : NULL;
                /* A VF the configuration gives a driver is not idle: its bind is queued. */
                if (c && (c->vf_driver || (vc && vc->driver)))
                        continue;
                if (vf && !vf->driver)
                        todo[n++] = vf->addr;
        }
        /* Copied first: submitting may change the model under us. */
        for (size_t i = 0; i < n; i++) {
                if (ret && i < max)
                        ret[i] = todo[i];
                log_info("PF %s: parking idle VF %s on vfio-pci", SRIOV_ADDR_STR(pf_addr), SRIOV_ADDR_STR(&todo[i]));
                sriovd_binds_submit(ops->manager->binds, &todo[i], "vfio-pci", false, NULL);
        }
        return n < max ? n : max;
}

void sriovd_ops_park_idle(struct sriovd_ops *ops, const struct sriov_addr *pf) {
        (void) ops_park(ops, pf, NULL, 0);
}

static void op_startup_done(struct sriovd_op *op) {
        if (!op->request.startup)
                return;
        op->request.startup = false;
        sriovd_manager_startup_op_done(op->ops->manager);
}

/* Counted once: when reported hung, or when it ends (a hung write that returns later is
 * not counted again). */
static void op_count(struct sriovd_op *op, SriovdOpResult result) {
        if (op->counted)
                return;
        op->counted = true;
        sriovd_metrics_operation_done(op->ops->manager->metrics, &op->pf,
                                      op->request.num_vfs == 0 ? SRIOVD_OP_KIND_DISABLE : SRIOVD_OP_KIND_ENABLE,
                                      result, now_usec() - op->created_usec);
}

static void op_finish(struct sriovd_op *op) {
        uint64_t elapsed;

        event_del(op->deadline);
        event_del(op->quiet);
        op->state = OP_DONE;
        op->finished_usec = now_usec();
        elapsed = (op->finished_usec - op->created_usec) / 1000;
        if (op->have_report) {
                op->report.elapsed_ms = elapsed;
                log_full(op->report.outcome == SRIOV_OUTCOME_COMPLETE ? LOG_INFO : LOG_WARNING,
                         "PF %s: operation %" PRIu64 " %s: %s", SRIOV_ADDR_STR(&op->pf), op->id,
                         sriov_outcome_to_string(op->report.outcome), op->report.message);
        }
        /* Park policy: VFs nobody drives would make the kernel's error recovery fail for
         * the whole hierarchy; vfio-pci has the error handlers. The binds queue behind
         * this operation's locks. */
        bool park = false;
        (void) sriovd_recovery_get_policy(op->ops->manager->recovery, &op->pf, NULL, &park);
        if (!op->hung && op->write_error == 0 && !(op->have_report && op->report.rolled_back))
                /* Configured VF drivers and network attributes first, so that parking
                 * takes only the VFs nobody else wants. */
                sriovd_config_apply_vfs(op->ops->manager, &op->pf);
        if (park && !op->hung && op->write_error == 0)
                op->n_parked = ops_park(op->ops, &op->pf, op->parked, ELEMENTSOF(op->parked));

        /* Files first, then the in-process lock: releasing that may grant the next
         * operation at once (FIFO per PF), and it takes the files in turn. */
        op->flock = sriov_flock_release(op->flock);
        sriov_lock_request_release(op->lock);
        if (!op->replied_hung)
                op_reply_waiters(op);
        else
                op->n_waiters = 0;
        if (op->have_report)
                sriovd_manager_operation_result(op->ops->manager, &op->pf, op->report.outcome == SRIOV_OUTCOME_COMPLETE,
                                                op->report.rolled_back && op->report.rollback_error == 0, op->previous);
        op_count(op, !op->have_report ? SRIOVD_OP_RESULT_FAILED :
                     op->report.outcome == SRIOV_OUTCOME_COMPLETE ? SRIOVD_OP_RESULT_COMPLETE :
                     op->report.outcome == SRIOV_OUTCOME_PARTIAL ? SRIOVD_OP_RESULT_PARTIAL :
                     SRIOVD_OP_RESULT_FAILED);
        op_startup_done(op);
        sriovd_manager_status_changed(op->ops->manager);
        /* Not now: our callers, and loops over the list, still use op. */
        event_active(op->ops->trim, EV_TIMEOUT, 1);
}

static void op_submit_lock(struct sriovd_op *op) {
        int r;

        if (!op->lock) {
                /* Released while deferred: a new request, at the back of the queue. */
                r = sriov_lock_request_new(op->ops->locks, &op->hierarchy, SRIOV_LOCK_SHARED, &op->pf,
                                           SRIOV_LOCK_EXCLUSIVE, &op->lock);
                if (r < 0) {
                        op->write_error = -r;
                        op_finish(op);
                        return;
                }
        }
        op->lock_submitted = true;
        op->state = OP_QUEUED;
        /* May run op_begin() right away, and even finish the operation. */
        r = sriov_lock_request_submit(op->lock, on_lock_granted, op);
        if (r < 0) {
                op->write_error = -r;
                op_finish(op);
        }
}

int sriovd_ops_submit(struct sriovd_ops *ops, const struct sriov_addr *pf_addr,
                      const struct sriov_enable_request *request, struct evhttp_request *req) {
        const struct sriov_device *pf = sriov_model_get(ops->manager->model, pf_addr);
        struct sriovd_op *op;
        char why[512];
        int r;

        r = sriov_enable_validate(pf, request, why, sizeof(why));
        if (r == -ENODEV) {
                sriovd_api_reply_error(req, 404, "No PCI function %s on this system", SRIOV_ADDR_STR(pf_addr));
                return -EINVAL;
        }
        if (r < 0) {
                sriovd_api_reply_error(req, 422, "%s", why);
                return -EINVAL;
        }

        op = calloc(1, sizeof(*op));
        if (!op) {
                sriovd_api_reply_error(req, 500, "Out of memory");
                return -EINVAL;
        }
        op->ops = ops;
        op->id = ++ops->next_id;
        op->pf = *pf_addr;
        op->hierarchy = *sriov_device_hierarchy(pf);
        op->request = *request;
        op->created_usec = now_usec();
        snprintf(op->lock_dir, sizeof(op->lock_dir), "%s/locks", ops->manager->options->runtime_dir);
        op->deadline = evtimer_new(ops->manager->base, on_deadline, op);
        op->quiet = evtimer_new(ops->manager->base, on_quiet, op);
        if (!op->deadline || !op->quiet) {
                op_free(op);
                sriovd_api_reply_error(req, 500, "Out of memory");
                return -EINVAL;
        }
        /* Hierarchy shared (operations on other PFs below the same root port may run),
         * PF exclusive (one operation per PF at a time, in arrival order). */
        r = sriov_lock_request_new(ops->locks, &op->hierarchy, SRIOV_LOCK_SHARED, pf_addr, SRIOV_LOCK_EXCLUSIVE, &op->lock);
        if (r < 0) {
                op_free(op);
                sriovd_api_reply_error(req, 500, "Cannot create the lock request: %s", strerror(-r));
                return -EINVAL;
        }
        /* Saved before anything is written to the kernel; not saved, not done: the client
         * is told and the kernel is left alone (a restart would not know what was asked). */
        r = sriovd_manager_set_desired(ops->manager, pf_addr, request->num_vfs, request->policy);
        if (r < 0) {
                log_error_errno(r, "Cannot persist the desired VF count of %s; request refused", SRIOV_ADDR_STR(pf_addr));
                op_free(op);
                sriovd_api_reply_error(req, 503, "Cannot save the desired VF count in %s: %s; nothing was changed",
                                       ops->manager->options->state_dir, strerror(-r));
                return -EINVAL;
        }
        op->next = ops->list;
        ops->list = op;

        /* Decided before replying, so that a 202 says what the operation does now. */
        bool deferred = sriovd_manager_hierarchy_recovering(ops->manager, &op->hierarchy);
        if (deferred)
                op->state = OP_DEFERRED;
        if (!request->wait || op_add_waiter(op, req) < 0)
                /* Every wait slot taken: the client gets the operation to poll instead of
                 * a request nobody would ever answer. */
                sriovd_api_reply_json(req, 202, op_to_json(op));

        log_info("PF %s: operation %" PRIu64 " queued: %u VFs, %s", SRIOV_ADDR_STR(pf_addr), op->id, request->num_vfs,
                 sriov_policy_to_string(request->policy));
        if (deferred) {
                /* Waits without holding locks, so that sriovd's own recovery (hierarchy
                 * exclusive) is not stuck behind it. */
                log_info("PF %s: operation %" PRIu64 " waits, %s is being recovered", SRIOV_ADDR_STR(pf_addr), op->id,
                         SRIOV_ADDR_STR(&op->hierarchy));
                return 1;
        }
        op_submit_lock(op);
        return 1;
}

static bool addr_concerns_op(const struct sriovd_op *op, const struct sriov_addr *a) {
        uint32_t first, last, rid;

        if (sriov_addr_equal(a, &op->pf))
                return true;
        if (a->domain != op->pf.domain || op->stride == 0 || op->total_vfs == 0)
                return false;
        first = sriov_addr_rid(&op->pf) + op->offset;
        last = first + op->stride * (op->total_vfs - 1);
        rid = sriov_addr_rid(a);
        return rid >= first && rid <= last;
}

void sriovd_ops_on_uevent(struct sriovd_ops *ops, const char *action, const struct sriov_addr *addr,
                          bool error_event) {
        for (struct sriovd_op *op = ops->list; op; op = op->next) {
                /* The PF's "change" comes before the write returns: note it while writing.
                 * A change that carries ERROR_EVENT is AER's, not sriov_enable()'s. */
                if ((op->state == OP_WRITING || op->state == OP_SETTLING) && streq(action, "change") &&
                    !error_event && sriov_addr_equal(addr, &op->pf))
                        op->pf_change_seen = true;
                if (op->state != OP_SETTLING || !addr_concerns_op(op, addr))
                        continue;
                op_arm_quiet(op);
                op_check_settled(op);
        }
}

void sriovd_ops_note_error(struct sriovd_ops *ops, const struct sriov_addr *hierarchy, const struct sriov_addr *addr,
                           const char *kind, uint64_t seq) {
        for (struct sriovd_op *op = ops->list; op; op = op->next) {
                if ((op->state != OP_WRITING && op->state != OP_SETTLING) || !sriov_addr_equal(&op->hierarchy, hierarchy))
                        continue;
                if (op->n_errors >= ELEMENTSOF(op->errors)) {
                        op->errors_dropped++;
                        continue;
                }
                op->errors[op->n_errors].seq = seq;
                op->errors[op->n_errors].addr = *addr;
                snprintf(op->errors[op->n_errors].kind, sizeof(op->errors[0].kind), "%s", kind);
                op->n_errors++;
                log_warning("PF %s: %s on %s during operation %" PRIu64 " (%s)", SRIOV_ADDR_STR(&op->pf), kind,
                            SRIOV_ADDR_STR(addr), op->id, op_state_names[op->state]);
        }
}

void sriovd_ops_kick(struct sriovd_ops *ops) {
        /* Oldest first, to keep arrival order across PFs; every one of them (a fixed array
         * here kept the newest and left the oldest waiting for a kick that may never come). */
        _cleanup_free_ struct sriovd_op **deferred = NULL;
        size_t n = 0, total = 0;

        for (struct sriovd_op *op = ops->list; op; op = op->next)
                total += op->state == OP_DEFERRED;
        if (total == 0)
                return;
        deferred = calloc(total, sizeof(*deferred));
        if (!deferred) {
                log_error("Out of memory: %zu deferred operation(s) wait for the next kick", total);
                return;
        }
        for (struct sriovd_op *op = ops->list; op; op = op->next)
                if (op->state == OP_DEFERRED)
                        deferred[n++] = op;
        while (n > 0) {
                struct sriovd_op *op = deferred[--n];
                if (sriovd_manager_hierarchy_recovering(ops->manager, &op->hierarchy))
                        continue;
                if (op->lock_submitted)
                        op_begin(op);
                else
                        op_submit_lock(op);
        }
}

int sriovd_ops_new(struct sriovd_manager *m, struct sriovd_ops **ret) {
        struct sriovd_ops *ops = calloc(1, sizeof(*ops));
        
        if (!ops)
                return -ENOMEM;
        ops->manager = m;
        ops->workers = m->workers;
        ops->locks = m->locks;
        ops->trim = event_new(m->base, -1, 0, on_trim, ops);
        if (!ops->trim) {
                free(ops);
                return -ENOMEM;
        }
        *ret = ops;
        return 0;
}

struct sriovd_ops *sriovd_ops_free(struct sriovd_ops *ops) {
        if (!ops)
                return NULL;
        for (struct sriovd_op *op = ops->list, *next; op; op = next) {
                next = op->next;
                /* A write still in the kernel keeps its thread; its result is dropped
                 * with the workers, so the op memory must outlive nothing. */
                op->n_waiters = 0;
                op_free(op);
        }
        event_free(ops->trim);
        free(ops);
        return NULL;
}

json_object *sriovd_ops_list_json(struct sriovd_ops *ops) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();

        for (struct sriovd_op *op = ops->list; op; op = op->next)
                json_object_array_add(arr, op_to_json(op));
        json_object_object_add(o, "operations", arr);
        return o;
}

void sriovd_ops_reply_one(struct sriovd_ops *ops, uint64_t id, bool wait, struct evhttp_request *req) {
        for (struct sriovd_op *op = ops->list; op; op = op->next) {
                if (op->id != id)
                        continue;
                if (wait && op->state != OP_DONE && !op->replied_hung) {
                        int r = op_add_waiter(op, req);
                        if (r == -EUSERS)
                                sriovd_api_reply_error(req, 503, "This user already has %d requests waiting; "
                                                       "close one or poll without wait=1", OP_MAX_WAITERS_PER_UID);
                        else if (r < 0)
                                sriovd_api_reply_error(req, 503, "Too many clients wait for operation %" PRIu64, id);
                        return;
                }
                sriovd_api_reply_json(req, 200, op_to_json(op));
                return;
        }
        sriovd_api_reply_error(req, 404, "No operation %" PRIu64 " (finished operations are kept for a while only)", id);
}

json_object *sriovd_ops_for_pf_json(struct sriovd_ops *ops, const struct sriov_addr *pf) {
        json_object *arr = json_object_new_array();

        for (struct sriovd_op *op = ops->list; op; op = op->next)
                if (op->state != OP_DONE && sriov_addr_equal(&op->pf, pf))
                        json_object_array_add(arr, op_to_json(op));
        return arr;
}

bool sriovd_ops_busy(struct sriovd_ops *ops, const struct sriov_addr *pf) {
        for (struct sriovd_op *op = ops->list; op; op = op->next)
                if (op->state != OP_DONE && sriov_addr_equal(&op->pf, pf))
                        return true;
        return false;
}
