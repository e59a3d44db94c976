/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sriov-bind.h"
#include "sriov-flock.h"
#include "sriov-json.h"
#include "sriov-lock.h"
#include "sriovd-api.h"
#include "sriovd-bind.h"
#include "sriovd-events.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-operation.h"
#include "sriovd-recovery.h"
#include "sriovd-metrics.h"
#include "sriovd-recovery-journal.h"
#include "sriovd-worker.h"

#define PF_REC_MAX_WAITERS 16
#define BINDINGS_MAX 4096

struct pf_settings {
        struct sriov_addr pf;
        SriovRecoveryPolicy policy;
        unsigned max_attempts;
        bool park_idle_vfs;
};

struct binding {
        struct sriov_addr addr;
        char driver[65];
};

struct pf_rec;

/* One step's blocking work, owned by its worker until done. */
struct rec_job {
        struct pf_rec *rec;             /* NULL once the recovery is gone */
        struct sriov_sysfs *sysfs;
        uint64_t seq;
        SriovPfActionKind kind;
        struct sriov_addr target;
        char attr[32];
        char value[16];
        bool root;                      /* attr is relative to the sysfs root */
        size_t n_bindings;
        struct binding *bindings;       /* RESTORE_BINDINGS */
};

struct pf_rec {
        struct sriovd_recovery *owner;
        struct sriov_addr pf, bridge, hierarchy;
        char reason[96];
        sriov_pf_recovery *machine;
        sriov_lock_request *lock;
        sriov_flock *flock, *flock_pending;
        char lock_dir[256];
        struct event *timer;
        struct sriov_pf_action action;
        bool started, finished;
        bool waiting_vfs;               /* RESTORE_VFS written, waiting for the VFs */
        unsigned num_vfs;               /* the VF count to restore and verify */
        struct rec_job *job;            /* the job of the current step, if running */
        bool job_hung;                  /* job outlived its step's deadline: nothing moves until it returns */
        uint64_t job_started_usec;
        uint64_t created_usec;
        size_t n_waiters;
        struct evhttp_request *waiters[PF_REC_MAX_WAITERS];
        struct pf_rec *next;
};

struct sriovd_recovery {
        struct sriovd_manager *manager;
        sriov_recovery_tracker *tracker;
        struct event *tracker_timer;
        struct pf_rec *recs;            /* newest first; finished ones kept for status */
        size_t n_settings;
        struct pf_settings *settings;
        size_t n_bindings;
        struct binding *bindings;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void record(struct sriovd_recovery *r, const struct sriov_addr *addr, const struct sriov_addr *hierarchy,
                   const char *kind, const char *fmt, ...) _printf_(5, 6);
static void record(struct sriovd_recovery *r, const struct sriov_addr *addr, const struct sriov_addr *hierarchy,
                   const char *kind, const char *fmt, ...) {
        struct sriovd_event ev = { .addr = *addr, .hierarchy = *hierarchy, .device_online = -1 };
        va_list ap;

        snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
        va_start(ap, fmt);
        vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
        va_end(ap);
        sriovd_events_record(r->manager->events, &ev);
}

/* ---- settings ------------------------------------------------------------------------ */

static struct pf_settings *settings_get(struct sriovd_recovery *r, const struct sriov_addr *pf) {
        for (size_t i = 0; i < r->n_settings; i++)
                if (sriov_addr_equal(&r->settings[i].pf, pf))
                        return &r->settings[i];
        return NULL;
}

int sriovd_recovery_set_policy(struct sriovd_recovery *r, const struct sriov_addr *pf, SriovRecoveryPolicy policy,
                               unsigned max_attempts, int park_idle_vfs) {
        struct pf_settings *s = settings_get(r, pf);

        if (!s) {
                struct pf_settings *nl = reallocarray(r->settings, r->n_settings + 1, sizeof(*nl));
                if (!nl)
                        return -ENOMEM;
                r->settings = nl;
                s = &r->settings[r->n_settings++];
                *s = (struct pf_settings) { .pf = *pf, .policy = SRIOV_RECOVERY_POLICY_DEFAULT, .max_attempts = 3 };
        }
        if (policy >= 0)
                s->policy = policy;
        if (max_attempts > 0)
                s->max_attempts = max_attempts;
        if (park_idle_vfs >= 0)
                s->park_idle_vfs = park_idle_vfs;
        return 0;
}

SriovRecoveryPolicy sriovd_recovery_get_policy(struct sriovd_recovery *r, const struct sriov_addr *pf,
                                               unsigned *ret_attempts, bool *ret_park) {
        const struct pf_settings *s = settings_get(r, pf);

        if (ret_attempts)
                *ret_attempts = s ? s->max_attempts : 3;
        if (ret_park)
                *ret_park = s ? s->park_idle_vfs : false;
        return s ? s->policy : SRIOV_RECOVERY_POLICY_DEFAULT;
}

void sriovd_recovery_remember_binding(struct sriovd_recovery *r, const struct sriov_addr *addr, const char *driver) {
        for (size_t i = 0; i < r->n_bindings; i++)
                if (sriov_addr_equal(&r->bindings[i].addr, addr)) {
                        if (driver)
                                snprintf(r->bindings[i].driver, sizeof(r->bindings[i].driver), "%s", driver);
                        else
                                r->bindings[i] = r->bindings[--r->n_bindings];
                        return;
                }
        if (!driver || r->n_bindings >= BINDINGS_MAX)
                return;
        struct binding *nl = reallocarray(r->bindings, r->n_bindings + 1, sizeof(*nl));
        if (!nl)
                return;
        r->bindings = nl;
        r->bindings[r->n_bindings].addr = *addr;
        snprintf(r->bindings[r->n_bindings].driver, sizeof(r->bindings[0].driver), "%s", driver);
        r->n_bindings++;
}

/* ---- PF recovery ----------------------------------------------------------------------- */

static void rec_perform(struct pf_rec *rec);

static json_object *rec_to_json(const struct pf_rec *rec) {
        json_object *o = json_object_new_object(), *steps = json_object_new_array();
        struct sriov_pf_action a;

        sriov_pf_recovery_get_action(rec->machine, &a);
        json_object_object_add(o, "pf", sriov_addr_to_json(&rec->pf));
        json_object_object_add(o, "reason", json_object_new_string(rec->reason));
        json_object_object_add(o, "policy", json_object_new_string(sriov_recovery_policy_to_string(
                                                    sriov_pf_recovery_policy(rec->machine))));
        json_object_object_add(o, "state", json_object_new_string(!rec->started ? "waiting-for-lock" :
                                                                  sriov_pf_action_kind_to_string(a.kind)));
        json_object_object_add(o, "finished", json_object_new_boolean(rec->finished));
        json_object_object_add(o, "succeeded", json_object_new_boolean(a.kind == SRIOV_PF_ACTION_DONE_OK));
        json_object_object_add(o, "attempts", json_object_new_int(sriov_pf_recovery_attempts(rec->machine)));
        if (rec->job) {
                json_object *w = json_object_new_object();
                json_object_object_add(w, "step", json_object_new_string(sriov_pf_action_kind_to_string(rec->job->kind)));
                json_object_object_add(w, "device", sriov_addr_to_json(&rec->job->target));
                json_object_object_add(w, "file", json_object_new_string(rec->job->attr[0] ? rec->job->attr : "bind"));
                json_object_object_add(w, "age_ms", json_object_new_uint64((now_usec() - rec->job_started_usec) / 1000));
                json_object_object_add(w, "hung", json_object_new_boolean(rec->job_hung));
                json_object_object_add(o, "write_in_flight", w);
        }
        for (size_t i = 0; i < sriov_pf_recovery_n_steps(rec->machine); i++) {
                struct sriov_pf_step s;
                if (sriov_pf_recovery_get_step(rec->machine, i, &s) < 0)
                        continue;
                json_object *j = json_object_new_object();
                json_object_object_add(j, "step", json_object_new_string(sriov_pf_action_kind_to_string(s.kind)));
                json_object_object_add(j, "attempt", json_object_new_int(s.attempt));
                json_object_object_add(j, "finished", json_object_new_boolean(s.finished));
                json_object_object_add(j, "ok", json_object_new_boolean(s.finished && s.result == 0));
                if (s.finished && s.result < 0) {
                        json_object_object_add(j, "errno", json_object_new_int(-s.result));
                        json_object_object_add(j, "error", json_object_new_string(strerror(-s.result)));
                }
                json_object_object_add(j, "duration_ms", json_object_new_uint64((s.end_usec - s.start_usec) / 1000));
                if (s.late)
                        json_object_object_add(j, "late_result", json_object_new_int(s.late_result));
                json_object_array_add(steps, j);
        }
        json_object_object_add(o, "steps", steps);
        return o;
}

static void rec_reply_waiters(struct pf_rec *rec) {
        for (size_t i = 0; i < rec->n_waiters; i++)
                if (rec->waiters[i])
                        sriovd_api_reply_json(rec->waiters[i], 200, rec_to_json(rec));
        rec->n_waiters = 0;
}

static void rec_finish(struct pf_rec *rec) {
        struct sriov_pf_action a;

        sriov_pf_recovery_get_action(rec->machine, &a);
        rec->finished = true;
        event_del(rec->timer);
        record(rec->owner, &rec->pf, &rec->hierarchy,
               a.kind == SRIOV_PF_ACTION_DONE_OK ? "RECOVERY_SUCCEEDED" :
               a.kind == SRIOV_PF_ACTION_NOTIFY_ONLY ? "RECOVERY_NOTIFIED" : "RECOVERY_FAILED",
               "user-space recovery of %s: %s after %u attempt(s)", SRIOV_ADDR_STR(&rec->pf),
               a.kind == SRIOV_PF_ACTION_DONE_OK ? "restored" :
               a.kind == SRIOV_PF_ACTION_NOTIFY_ONLY ? "policy notify, nothing done" : "gave up, the PF is failed",
               sriov_pf_recovery_attempts(rec->machine));
        sriovd_metrics_recovery_done(rec->owner->manager->metrics, &rec->pf,
                                     a.kind == SRIOV_PF_ACTION_DONE_OK ? SRIOVD_RECOVERY_RESULT_SUCCEEDED :
                                     a.kind == SRIOV_PF_ACTION_NOTIFY_ONLY ? SRIOVD_RECOVERY_RESULT_NOTIFIED :
                                     SRIOVD_RECOVERY_RESULT_FAILED);
        if (rec->started)
                sriovd_recovery_journal_end(rec->owner->manager, &rec->pf);
        rec->flock = sriov_flock_release(rec->flock);
        sriov_lock_request_release(rec->lock);
        rec_reply_waiters(rec);
        sriovd_manager_recovery_ended(rec->owner->manager, &rec->hierarchy);
}

static void rec_feed(struct pf_rec *rec, int r, const struct sriov_pf_action *next) {
        if (r < 0)
                return;         /* -ESTALE etc.: the machine stays where it is */
        if (next->seq == rec->action.seq && next->kind == rec->action.kind)
                return;
        rec->action = *next;
        rec_perform(rec);
}

static int rec_job_run(void *userdata) {
        struct rec_job *j = userdata;
        _cleanup_close_ int fd = -EBADF;
        int r = 0;

        if (j->kind == SRIOV_PF_ACTION_RESTORE_BINDINGS) {
                for (size_t i = 0; i < j->n_bindings; i++) {
                        struct sriov_bind_result res;
                        int k = sriov_bind_driver(j->sysfs, &j->bindings[i].addr, j->bindings[i].driver, &res);
                        if (k < 0 && r == 0)
                                r = k;  /* try every binding, report the first failure */
                }
                return r;
        }
        if (j->root)
                return sriov_sysfs_write_root(j->sysfs, j->attr, j->value);
        fd = sriov_sysfs_open_device(j->sysfs, &j->target);
        if (fd < 0)
                return fd;
        return sriov_sysfs_write(fd, j->attr, j->value);
}

static void rec_check_vfs(struct pf_rec *rec);
static void rec_arm_timer(struct pf_rec *rec);

static void rec_job_done(int result, void *userdata) {
        struct rec_job *j = userdata;
        struct pf_rec *rec = j->rec;
        struct sriov_pf_action next;

        if (rec) {
                assert(rec->job == j);
                rec->job = NULL;
                if (rec->job_hung) {
                        uint64_t took_ms = (now_usec() - rec->job_started_usec) / 1000;
                        rec->job_hung = false;
                        log_notice("PF %s recovery: the hung write of %s to %s %s returned after %" PRIu64 " ms: %s; going on",
                                   SRIOV_ADDR_STR(&rec->pf), j->value, j->attr[0] ? j->attr : "the bindings",
                                   SRIOV_ADDR_STR(&j->target), took_ms, result < 0 ? strerror(-result) : "success");
                        record(rec->owner, &rec->pf, &rec->hierarchy, "RECOVERY_WRITE_RETURNED",
                               "attempt %u: %s %s: the hung write returned after %" PRIu64 " ms: %s", rec->action.attempt,
                               sriov_pf_action_kind_to_string(j->kind), SRIOV_ADDR_STR(&j->target), took_ms,
                               result < 0 ? strerror(-result) : "success");
                        /* Its deadline passed while it hung: re-armed, a step that still waits
                         * (restore-vfs: for the VFs) times out at once unless done below. */
                        rec_arm_timer(rec);
                }
                log_info("PF %s recovery: %s %s%s%s", SRIOV_ADDR_STR(&rec->pf), sriov_pf_action_kind_to_string(j->kind),
                         SRIOV_ADDR_STR(&j->target), result < 0 ? ": " : " done", result < 0 ? strerror(-result) : "");
                if (j->kind == SRIOV_PF_ACTION_RESTORE_VFS && result >= 0 && j->seq == rec->action.seq) {
                        /* Written; done once the VFs are there (uevents), or at the deadline. */
                        rec->waiting_vfs = true;
                        rec_check_vfs(rec);
                } else
                        rec_feed(rec, sriov_pf_recovery_step_done(rec->machine, j->seq, result, now_usec(), &next), &next);
        }
        free(j->bindings);
        free(j);
}

static void rec_submit_job(struct pf_rec *rec, const struct sriov_addr *target, const char *attr, const char *value,
                           bool root) {
        struct rec_job *j = calloc(1, sizeof(*j));
        struct sriov_pf_action next;
        int r;

        if (!j) {
                rec_feed(rec, sriov_pf_recovery_step_done(rec->machine, rec->action.seq, -ENOMEM, now_usec(), &next), &next);
                return;
        }
        *j = (struct rec_job) {
                .rec = rec,
                .sysfs = rec->owner->manager->sysfs,
                .seq = rec->action.seq,
                .kind = rec->action.kind,
                .target = *target,
                .root = root,
        };
        snprintf(j->attr, sizeof(j->attr), "%s", attr);
        snprintf(j->value, sizeof(j->value), "%s", value);
        if (rec->action.kind == SRIOV_PF_ACTION_RESTORE_BINDINGS) {
                struct sriovd_recovery *o = rec->owner;
                j->bindings = calloc(o->n_bindings + 1, sizeof(*j->bindings));
                for (size_t i = 0; j->bindings && i < o->n_bindings; i++) {
                        const struct sriov_device *d = sriov_model_get(o->manager->model, &o->bindings[i].addr);
                        if (d && d->role == SRIOV_ROLE_VF && sriov_addr_equal(&d->vf.pf, &rec->pf))
                                j->bindings[j->n_bindings++] = o->bindings[i];
                }
        }
        assert(!rec->job);      /* one write of a hierarchy in the kernel at a time */
        rec->job = j;
        rec->job_hung = false;
        rec->job_started_usec = now_usec();
        r = sriovd_workers_submit(rec->owner->manager->workers, rec_job_run, rec_job_done, j);
        if (r == -ESHUTDOWN) {
                /* Stopping: the step is not started and not failed. Fed to the machine as a
                 * failure it would end the recovery and clear its journal; left as it is,
                 * the journal makes the next start resume it. */
                log_info("PF %s recovery: stopping, %s not started; resumed at the next start",
                         SRIOV_ADDR_STR(&rec->pf), sriov_pf_action_kind_to_string(j->kind));
                rec->job = NULL;
                free(j->bindings);
                free(j);
                return;
        }
        if (r < 0)
                rec_job_done(r, j);
}

static void rec_check_vfs(struct pf_rec *rec) {
        const struct sriov_device *d = sriov_model_get(rec->owner->manager->model, &rec->pf);
        struct sriov_pf_action next;

        if (!rec->waiting_vfs || rec->action.kind != SRIOV_PF_ACTION_RESTORE_VFS)
                return;
        if (!d || d->role != SRIOV_ROLE_PF || d->pf.n_vfs < rec->action.num_vfs)
                return;
        rec->waiting_vfs = false;
        rec_feed(rec, sriov_pf_recovery_step_done(rec->machine, rec->action.seq, 0, now_usec(), &next), &next);
}

static SriovdHungKind rec_job_hung_kind(const struct rec_job *j) {
        if (j->kind == SRIOV_PF_ACTION_RESTORE_BINDINGS)
                return SRIOVD_HUNG_BIND;
        if (streq(j->attr, "sriov_numvfs"))
                return SRIOVD_HUNG_NUMVFS;
        return SRIOVD_HUNG_DEVICE;
}

/* The step's write has outlived its deadline. A sysfs write cannot be cancelled, and while
 * it is in the kernel it holds the device lock (sriov_numvfs, remove) or the bus semaphore
 * (rescan): the next step - removing the bridge, rescanning - would run into the very
 * locks the write holds, or pull the device out from under it. So nothing moves: the hang
 * is reported, the hierarchy stays locked (in process and by file), and the machine goes
 * on from the write's own result when it returns. */
static void rec_job_hung(struct pf_rec *rec) {
        struct rec_job *j = rec->job;
        uint64_t ms = (now_usec() - rec->job_started_usec) / 1000;

        if (rec->job_hung)
                return;
        rec->job_hung = true;
        log_error("PF %s recovery: writing %s to %s %s has not returned after %" PRIu64 " ms: hung in the kernel; "
                  "hierarchy %s stays locked until it returns, no further step starts",
                  SRIOV_ADDR_STR(&rec->pf), j->attr[0] ? j->value : "the bindings", j->attr[0] ? j->attr : "",
                  SRIOV_ADDR_STR(&j->target), ms, SRIOV_ADDR_STR(&rec->hierarchy));
        record(rec->owner, &rec->pf, &rec->hierarchy, "RECOVERY_WRITE_HUNG",
               "attempt %u: %s %s: %s%s%s has not returned after %" PRIu64 " ms; hierarchy held until it returns",
               rec->action.attempt, sriov_pf_action_kind_to_string(j->kind), SRIOV_ADDR_STR(&j->target),
               j->attr[0] ? "writing " : "binding", j->attr[0] ? j->value : "", j->attr[0] ? j->attr : "", ms);
        sriovd_metrics_hung_write(rec->owner->manager->metrics, rec_job_hung_kind(j));
        /* Those who wait for the result learn it now; the recovery goes on without them. */
        rec_reply_waiters(rec);
}

static void on_rec_timer(evutil_socket_t fd, short what, void *userdata) {
        struct pf_rec *rec = userdata;
        struct sriov_pf_action next;
        int r;

        if (rec->job && rec->job->seq == rec->action.seq) {
                if (now_usec() < rec->action.deadline_usec) {
                        rec_arm_timer(rec);     /* early (libevent's timers are coarse) */
                        return;
                }
                rec_job_hung(rec);
                return;
        }
        r = sriov_pf_recovery_timeout(rec->machine, now_usec(), &next);
        if (r >= 0 && next.seq == rec->action.seq && next.kind == rec->action.kind) {
                /* Fired before the deadline by the machine's clock (libevent's timers are
                 * coarse): a no-op for the machine, so wait again for the rest. */
                rec_arm_timer(rec);
                return;
        }
        rec->waiting_vfs = false;
        rec_feed(rec, r, &next);
}

static void rec_arm_timer(struct pf_rec *rec) {
        uint64_t now = now_usec(), d;

        event_del(rec->timer);
        if (rec->action.deadline_usec == SRIOV_USEC_INFINITY)
                return;
        d = rec->action.deadline_usec > now ? rec->action.deadline_usec - now : 0;
        struct timeval tv = { .tv_sec = (time_t) (d / 1000000), .tv_usec = (suseconds_t) (d % 1000000) };
        event_add(rec->timer, &tv);
}

static void rec_perform(struct pf_rec *rec) {
        const struct sriov_pf_action *a = &rec->action;
        char num[16];

        rec_arm_timer(rec);
        log_info("PF %s recovery, attempt %u: %s %s", SRIOV_ADDR_STR(&rec->pf), a->attempt,
                 sriov_pf_action_kind_to_string(a->kind), SRIOV_ADDR_STR(&a->target));
        if (a->kind != SRIOV_PF_ACTION_DONE_OK && a->kind != SRIOV_PF_ACTION_DONE_FAILED &&
            a->kind != SRIOV_PF_ACTION_NOTIFY_ONLY)
                record(rec->owner, &rec->pf, &rec->hierarchy, "RECOVERY_STEP", "attempt %u: %s %s", a->attempt,
                       sriov_pf_action_kind_to_string(a->kind), SRIOV_ADDR_STR(&a->target));

        switch (a->kind) {
        case SRIOV_PF_ACTION_DISABLE_VFS:
                rec_submit_job(rec, &rec->pf, "sriov_numvfs", "0", false);
                break;
        case SRIOV_PF_ACTION_REMOVE_PF:
                rec_submit_job(rec, &rec->pf, "remove", "1", false);
                break;
        case SRIOV_PF_ACTION_REMOVE_BRIDGE:
                rec_submit_job(rec, &a->target, "remove", "1", false);
                break;
        case SRIOV_PF_ACTION_RESCAN_PORT:
                rec_submit_job(rec, &a->target, "rescan", "1", false);
                break;
        case SRIOV_PF_ACTION_RESCAN_BUS:
                rec_submit_job(rec, &a->target, "bus/pci/rescan", "1", true);
                break;
        case SRIOV_PF_ACTION_RESET_PF:
                rec_submit_job(rec, &rec->pf, "reset", "1", false);
                break;
        case SRIOV_PF_ACTION_RESTORE_VFS:
                snprintf(num, sizeof(num), "%u", a->num_vfs);
                rec_submit_job(rec, &rec->pf, "sriov_numvfs", num, false);
                break;
        case SRIOV_PF_ACTION_RESTORE_BINDINGS:
                rec_submit_job(rec, &rec->pf, "", "", false);
                break;
        case SRIOV_PF_ACTION_VERIFY: {
                struct sriov_pf_action next;
                const struct sriov_device *d;
                (void) sriov_model_resync(rec->owner->manager->model, &rec->pf);
                d = sriov_model_get(rec->owner->manager->model, &rec->pf);
                /* From sysfs (the resync re-read the virtfn links), against the count the
                 * recovery restores: the action carries it only for RESTORE_VFS. */
                int res = d && d->role == SRIOV_ROLE_PF && d->pf.n_vfs == rec->num_vfs ? 0 : -EIO;
                if (res < 0)
                        log_warning("PF %s recovery: verify found %s", SRIOV_ADDR_STR(&rec->pf),
                                    !d ? "no PF" : d->pf.n_vfs != rec->num_vfs ? "another VF count" : "no SR-IOV PF");
                rec_feed(rec, sriov_pf_recovery_step_done(rec->machine, a->seq, res, now_usec(), &next), &next);
                break;
        }
        case SRIOV_PF_ACTION_WAIT_PF:
                if (sriov_model_get(rec->owner->manager->model, &rec->pf)) {
                        struct sriov_pf_action next;
                        rec_feed(rec, sriov_pf_recovery_device_appeared(rec->machine, &rec->pf, now_usec(), &next), &next);
                }
                break;
        case SRIOV_PF_ACTION_WAIT_RETRY:
        case SRIOV_PF_ACTION_NONE:
                break;
        case SRIOV_PF_ACTION_DONE_OK:
        case SRIOV_PF_ACTION_DONE_FAILED:
        case SRIOV_PF_ACTION_NOTIFY_ONLY:
                rec_finish(rec);
                break;
        default:
                break;
        }
}

static void rec_begin(struct pf_rec *rec) {
        struct sriov_pf_action a;
        int r;

        rec->started = true;
        sriovd_recovery_journal_begin(rec->owner->manager, &rec->pf, &rec->bridge, rec->num_vfs);
        r = sriov_pf_recovery_start(rec->machine, now_usec(), &a);
        if (r < 0) {
                log_error_errno(r, "Cannot start the recovery of %s", SRIOV_ADDR_STR(&rec->pf));
                rec_finish(rec);
                return;
        }
        rec->action = a;
        rec_perform(rec);
}

static int rec_flock_run(void *userdata) {
        struct pf_rec *rec = userdata;
        struct sriov_flock_spec spec = { .hierarchy = rec->hierarchy, .hierarchy_mode = SRIOV_LOCK_EXCLUSIVE };

        return sriov_flock_acquire(rec->lock_dir, &spec, 60000, &rec->flock_pending);
}

static void rec_flock_done(int result, void *userdata) {
        struct pf_rec *rec = userdata;

        if (result < 0)
                /* A script holds the hierarchy for over a minute: recover without its file
                 * lock rather than leave the PF dead; the in-process lock still orders us. */
                log_warning("PF %s recovery: lock files in %s not taken (%s), going on", SRIOV_ADDR_STR(&rec->pf),
                            rec->lock_dir, strerror(-result));
        else
                rec->flock = TAKE_PTR(rec->flock_pending);
        rec_begin(rec);
}

static void on_rec_lock(sriov_lock_request *lock, void *userdata) {
        struct pf_rec *rec = userdata;

        if (sriovd_workers_submit(rec->owner->manager->workers, rec_flock_run, rec_flock_done, rec) < 0)
                rec_begin(rec);
}

static struct pf_rec *rec_active(struct sriovd_recovery *r, const struct sriov_addr *pf) {
        for (struct pf_rec *rec = r->recs; rec; rec = rec->next)
                if (!rec->finished && sriov_addr_equal(&rec->pf, pf))
                        return rec;
        return NULL;
}

static void rec_free(struct pf_rec *rec) {
        if (rec->job)
                rec->job->rec = NULL;   /* the worker may still be in the kernel */
        if (rec->timer)
                event_free(rec->timer);
        sriov_lock_request_free(rec->lock);
        sriov_flock_release(rec->flock);
        sriov_pf_recovery_free(rec->machine);
        free(rec);
}

static void recs_trim(struct sriovd_recovery *r) {
        size_t kept = 0;
        for (struct pf_rec **p = &r->recs; *p;) {
                if ((*p)->finished && ++kept > 32) {
                        struct pf_rec *dead = *p;
                        *p = dead->next;
                        rec_free(dead);
                        continue;
                }
                p = &(*p)->next;
        }
}

void sriovd_recovery_start_pf(struct sriovd_recovery *r, const struct sriov_addr *pf_addr, const char *reason,
                              struct evhttp_request *req) {
        struct sriovd_manager *m = r->manager;
        const struct sriov_device *pf = sriov_model_get(m->model, pf_addr);
        const struct sriov_desired *want = sriovd_manager_get_desired(m, pf_addr);
        struct sriov_pf_recovery_config cfg;
        struct pf_rec *rec;
        bool park;
        int k;

        rec = rec_active(r, pf_addr);
        if (rec) {
                if (req && rec->n_waiters < PF_REC_MAX_WAITERS)
                        rec->waiters[rec->n_waiters++] = req;
                else if (req)
                        sriovd_api_reply_error(req, 503, "Too many clients wait for this recovery");
                return;
        }
        if (!pf || pf->role != SRIOV_ROLE_PF) {
                if (req)
                        sriovd_api_reply_error(req, pf ? 422 : 404, "%s is %s", SRIOV_ADDR_STR(pf_addr),
                                               pf ? "not an SR-IOV PF" : "not on the bus (rescan the bus first)");
                return;
        }

        sriov_pf_recovery_config_init(&cfg);
        cfg.policy = sriovd_recovery_get_policy(r, pf_addr, &cfg.max_attempts, &park);
        /* Restore what was asked through sriovd; without a record, what the PF had. */
        cfg.num_vfs = want ? want->num_vfs : (unsigned) pf->pf.n_vfs;

        rec = calloc(1, sizeof(*rec));
        if (!rec) {
                if (req)
                        sriovd_api_reply_error(req, 500, "Out of memory");
                return;
        }
        rec->owner = r;
        rec->pf = *pf_addr;
        rec->hierarchy = *sriov_device_hierarchy(pf);
        rec->bridge = pf->n_upstream > 0 ? pf->upstream[pf->n_upstream - 1] : *pf_addr;
        rec->created_usec = now_usec();
        rec->num_vfs = cfg.num_vfs;
        snprintf(rec->reason, sizeof(rec->reason), "%s", reason);
        snprintf(rec->lock_dir, sizeof(rec->lock_dir), "%s/locks", m->options->runtime_dir);
        rec->timer = evtimer_new(m->base, on_rec_timer, rec);
        k = sriov_pf_recovery_new(&rec->pf, &rec->bridge, &cfg, &rec->machine);
        if (k >= 0)
                /* Exclusive on the hierarchy: nothing else below the root port moves. */
                k = sriov_lock_request_new(m->locks, &rec->hierarchy, SRIOV_LOCK_EXCLUSIVE, NULL, 0, &rec->lock);
        if (k < 0 || !rec->timer) {
                if (req)
                        sriovd_api_reply_error(req, 500, "Cannot set up the recovery: %s", strerror(k < 0 ? -k : ENOMEM));
                rec_free(rec);
                return;
        }
        if (req)
                rec->waiters[rec->n_waiters++] = req;
        rec->next = r->recs;
        r->recs = rec;
        record(r, &rec->pf, &rec->hierarchy, "RECOVERY_START", "%s; policy %s, restore %u VFs", reason,
               sriov_recovery_policy_to_string(cfg.policy), cfg.num_vfs);
        if (sriov_lock_request_submit(rec->lock, on_rec_lock, rec) < 0)
                rec_begin(rec);
        recs_trim(r);
}

/* ---- the kernel's recovery ------------------------------------------------------------ */

static void add_unique(struct sriov_addr *list, size_t *n, size_t max, const struct sriov_addr *a) {
        for (size_t i = 0; i < *n; i++)
                if (sriov_addr_equal(&list[i], a))
                        return;
        if (*n < max)
                list[(*n)++] = *a;
}

static bool is_below(const struct sriov_device *d, const struct sriov_addr *bridge) {
        for (size_t i = 0; i < d->n_upstream; i++)
                if (sriov_addr_equal(&d->upstream[i], bridge))
                        return true;
        return false;
}

static void handle_report(struct sriovd_recovery *r, const struct sriov_recovery_report *rep) {
        struct sriovd_manager *m = r->manager;
        struct sriov_addr pfs[64];
        size_t n_pfs = 0;

        record(r, &rep->hierarchy, &rep->hierarchy,
               rep->result == SRIOV_RECOVERY_SUCCEEDED ? "KERNEL_RECOVERY_SUCCEEDED" :
               rep->result == SRIOV_RECOVERY_FAILED ? "KERNEL_RECOVERY_FAILED" : "KERNEL_RECOVERY_TIMED_OUT",
               "kernel recovery of %s ended: %s, %zu functions, %u failed, %" PRIu64 " ms",
               SRIOV_ADDR_STR(&rep->hierarchy), sriov_recovery_result_to_string(rep->result), rep->n_devices,
               rep->n_failed, (rep->end_usec - rep->start_usec) / 1000);

        /* The PFs concerned: failed PFs, PFs of failed VFs, PFs below a failed bridge (old
         * kernels tell only the bridge). */
        for (size_t i = 0; i < rep->n_devices; i++) {
                const struct sriov_recovery_device *dev = &rep->devices[i];
                const struct sriov_device *d = sriov_model_get(m->model, &dev->addr);

                if (dev->outcome != SRIOV_DEVICE_OUTCOME_FAILED && rep->result == SRIOV_RECOVERY_FAILED)
                        continue;
                if (d && d->role == SRIOV_ROLE_PF)
                        add_unique(pfs, &n_pfs, ELEMENTSOF(pfs), &d->addr);
                else if (d && d->role == SRIOV_ROLE_VF)
                        add_unique(pfs, &n_pfs, ELEMENTSOF(pfs), &d->vf.pf);
                else if (d && d->role == SRIOV_ROLE_BRIDGE)
                        for (size_t k = 0; k < sriov_model_size(m->model); k++) {
                                const struct sriov_device *x = sriov_model_at(m->model, k);
                                if (x->role == SRIOV_ROLE_PF && is_below(x, &d->addr))
                                        add_unique(pfs, &n_pfs, ELEMENTSOF(pfs), &x->addr);
                        }
        }

        if (rep->result == SRIOV_RECOVERY_FAILED) {
                for (size_t i = 0; i < n_pfs; i++) {
                        SriovRecoveryPolicy p = sriovd_recovery_get_policy(r, &pfs[i], NULL, NULL);
                        if (p == SRIOV_RECOVERY_POLICY_NONE)
                                continue;
                        sriovd_recovery_start_pf(r, &pfs[i], "the kernel's recovery failed", NULL);
                }
                return;
        }
        if (rep->result == SRIOV_RECOVERY_SUCCEEDED)
                /* The kernel recovered; make sure the VFs are still what was asked. */
                for (size_t i = 0; i < n_pfs; i++)
                        sriovd_manager_repair_drift(m, &pfs[i]);
}

static void tracker_process(struct sriovd_recovery *r) {
        struct sriov_recovery_report *rep;
        uint64_t deadline, now = now_usec();
        bool ended = false;

        (void) sriov_recovery_tracker_tick(r->tracker, now);
        while (sriov_recovery_tracker_pop_report(r->tracker, &rep) > 0) {
                handle_report(r, rep);
                sriov_recovery_report_free(rep);
                ended = true;
        }
        event_del(r->tracker_timer);
        deadline = sriov_recovery_tracker_next_deadline(r->tracker);
        if (deadline != SRIOV_USEC_INFINITY) {
                uint64_t d = deadline > now ? deadline - now : 0;
                struct timeval tv = { .tv_sec = (time_t) (d / 1000000), .tv_usec = (suseconds_t) (d % 1000000) };
                event_add(r->tracker_timer, &tv);
        }
        if (ended)
                sriovd_manager_recovery_ended(r->manager, NULL);
}

static void on_tracker_timer(evutil_socket_t fd, short what, void *userdata) {
        tracker_process(userdata);
}

void sriovd_recovery_on_error_event(struct sriovd_recovery *r, const struct sriov_addr *addr, SriovErrorEventKind kind) {
        const struct sriov_device *d = sriov_model_get(r->manager->model, addr);
        struct sriov_addr bridges[SRIOV_RECOVERY_CHAIN_MAX];
        struct sriov_addr hierarchy = d ? *sriov_device_hierarchy(d) : *addr;
        size_t n = 0;
        int k;

        /* Nearest bridge first, as the tracker wants. */
        for (size_t i = d ? d->n_upstream : 0; i > 0 && n < ELEMENTSOF(bridges); i--)
                bridges[n++] = d->upstream[i - 1];
        k = sriov_recovery_tracker_event(r->tracker, addr, &hierarchy, n ? bridges : NULL, n, kind, now_usec());
        if (k < 0)
                log_warning_errno(k, "Recovery tracker refused %s on %s", sriov_error_event_kind_to_string(kind),
                                  SRIOV_ADDR_STR(addr));
        tracker_process(r);
}

void sriovd_recovery_on_uevent(struct sriovd_recovery *r, const char *action, const struct sriov_addr *addr) {
        for (struct pf_rec *rec = r->recs; rec; rec = rec->next) {
                struct sriov_pf_action next;
                if (rec->finished || !rec->started)
                        continue;
                if (streq(action, "add") && sriov_addr_equal(addr, &rec->pf))
                        rec_feed(rec, sriov_pf_recovery_device_appeared(rec->machine, addr, now_usec(), &next), &next);
                else
                        rec_check_vfs(rec);
        }
}

bool sriovd_recovery_busy(struct sriovd_recovery *r, const struct sriov_addr *hierarchy) {
        if (sriov_recovery_tracker_is_recovering(r->tracker, hierarchy))
                return true;
        for (struct pf_rec *rec = r->recs; rec; rec = rec->next)
                if (!rec->finished && sriov_addr_equal(&rec->hierarchy, hierarchy))
                        return true;
        return false;
}

json_object *sriovd_recovery_pf_json(struct sriovd_recovery *r, const struct sriov_addr *pf) {
        json_object *o = json_object_new_object();
        unsigned attempts;
        bool park;
        SriovRecoveryPolicy p = sriovd_recovery_get_policy(r, pf, &attempts, &park);

        json_object_object_add(o, "policy", json_object_new_string(sriov_recovery_policy_to_string(p)));
        json_object_object_add(o, "max_attempts", json_object_new_int(attempts));
        json_object_object_add(o, "park_idle_vfs", json_object_new_boolean(park));
        for (struct pf_rec *rec = r->recs; rec; rec = rec->next)
                if (sriov_addr_equal(&rec->pf, pf)) {
                        json_object_object_add(o, "last", rec_to_json(rec));
                        break;
                }
        return o;
}

void sriovd_recovery_kernel_counters(struct sriovd_recovery *r, const struct sriov_addr *h,
                                     struct sriov_recovery_counters *ret) {
        sriov_recovery_tracker_get_counters(r->tracker, h, ret);
}

json_object *sriovd_recovery_hierarchy_json(struct sriovd_recovery *r, const struct sriov_addr *h,
                                            const struct sriov_blockers *blockers) {
        const struct sriov_device *const *blocker;
        size_t n_blockers = sriov_blockers_of(blockers, h, &blocker);
        json_object *o = json_object_new_object(), *blocking = json_object_new_array();
        struct sriov_recovery_counters c;

        json_object_object_add(o, "state", json_object_new_string(
                sriov_hierarchy_state_to_string(sriov_recovery_tracker_get_state(r->tracker, h))));
        json_object_object_add(o, "busy", json_object_new_boolean(sriovd_recovery_busy(r, h)));
        sriov_recovery_tracker_get_counters(r->tracker, h, &c);
        json_object *cj = json_object_new_object();
        json_object_object_add(cj, "begun", json_object_new_uint64(c.begun));
        json_object_object_add(cj, "succeeded", json_object_new_uint64(c.succeeded));
        json_object_object_add(cj, "failed", json_object_new_uint64(c.failed));
        json_object_object_add(cj, "timed_out", json_object_new_uint64(c.timed_out));
        json_object_object_add(cj, "begin_missed", json_object_new_uint64(c.begin_missed));
        json_object_object_add(o, "kernel_recoveries", cj);

        /* Readiness: the kernel's recovery fails for the whole subtree when a function
         * below the port has no driver to call ("can't recover (no error_detected
         * callback)"). A driver without error handlers does the same; sysfs cannot show
         * which drivers have them, so only driverless functions are named. */
        for (size_t i = 0; i < n_blockers; i++) {
                const struct sriov_device *d = blocker[i];
                json_object *b = json_object_new_object();
                json_object_object_add(b, "address", sriov_addr_to_json(&d->addr));
                json_object_object_add(b, "role", json_object_new_string(sriov_role_to_string(d->role)));
                json_object_object_add(b, "reason", json_object_new_string(
                        d->role == SRIOV_ROLE_VF ? "VF without a driver (probe failed or autoprobe off): no error_detected callback"
                                                 : "no driver: no error_detected callback"));
                json_object_array_add(blocking, b);
        }
        json_object_object_add(o, "kernel_can_recover", json_object_new_boolean(json_object_array_length(blocking) == 0));
        json_object_object_add(o, "blocking_functions", blocking);
        return o;
}

int sriovd_recovery_new(struct sriovd_manager *m, struct sriovd_recovery **ret) {
        struct sriov_recovery_tracker_config cfg;
        struct sriovd_recovery *r = calloc(1, sizeof(*r));
        int k;

        if (!r)
                return -ENOMEM;
        r->manager = m;
        sriov_recovery_tracker_config_init(&cfg);
        k = sriov_recovery_tracker_new(&cfg, &r->tracker);
        if (k < 0) {
                free(r);
                return k;
        }
        r->tracker_timer = evtimer_new(m->base, on_tracker_timer, r);
        if (!r->tracker_timer) {
                sriovd_recovery_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

struct sriovd_recovery *sriovd_recovery_free(struct sriovd_recovery *r) {
        if (!r)
                return NULL;
        for (struct pf_rec *rec = r->recs, *next; rec; rec = next) {
                next = rec->next;
                rec->n_waiters = 0;
                rec_free(rec);
        }
        if (r->tracker_timer)
                event_free(r->tracker_timer);
        sriov_recovery_tracker_free(r->tracker);
        free(r->settings);
        free(r->bindings);
        free(r);
        return NULL;
}
