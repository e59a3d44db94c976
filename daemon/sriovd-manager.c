/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config.h"

#include "sriovd-aer-reads.h"
#include "sriovd-api.h"
#include "sriovd-bind.h"
#include "sriovd-events.h"
#include "sriovd-recovery.h"
#include "sriovd-config.h"
#include "sriovd-config-watch.h"
#include "sriovd-ifname.h"
#include "sriovd-metrics.h"
#include "sriovd-nfd.h"
#include "sriov-uevent.h"
#include "sriovd-lockfiles.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-netdev.h"
#include "sriovd-operation.h"
#include "sriovd-recovery-journal.h"
#include "sriovd-resync.h"
#include "sriovd-worker.h"
#include "sriov-lock.h"

static void count_roles(const struct sriov_model *model, size_t *ret_pfs, size_t *ret_vfs) {
        size_t pfs = 0, vfs = 0;

        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                pfs += d->role == SRIOV_ROLE_PF;
                vfs += d->role == SRIOV_ROLE_VF;
        }
        *ret_pfs = pfs;
        *ret_vfs = vfs;
}

static void notify_status(struct sriovd_manager *m) {
        size_t pfs, vfs;

        count_roles(m->model, &pfs, &vfs);
        (void) sd_notifyf(false, "STATUS=Watching %zu PCI functions: %zu PFs, %zu VFs; %" PRIu64 " uevents",
                          sriov_model_size(m->model), pfs, vfs, m->n_uevents);
        m->status_dirty = false;
}

/* STATUS= is rate limited: a storm of uevents must not become a storm of datagrams. */
static void status_timer_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_manager *m = userdata;

        if (m->status_dirty)
                notify_status(m);
}

struct delta_ctx {
        struct sriovd_event *ev;
        bool mine;                      /* the device's own counters, not its root port's */
};

static void add_delta(SriovAerKind kind, const char *name, uint64_t delta, void *userdata) {
        struct delta_ctx *c = userdata;

        sriovd_event_add_delta(c->ev, kind, name, delta);
        /* The most severe class that grew names the event. */
        if (kind == SRIOV_AER_FATAL || (kind == SRIOV_AER_NONFATAL && !streq(c->ev->severity, "fatal")) ||
            (kind == SRIOV_AER_CORRECTABLE && !c->ev->severity[0]))
                snprintf(c->ev->severity, sizeof(c->ev->severity), "%s", sriov_aer_kind_to_string(kind));
}

/* Re-reads the AER counters of addr and adds what grew to ev. */
static void collect_aer_deltas(struct sriovd_manager *m, const struct sriov_addr *addr, struct sriovd_event *ev) {
        const struct sriov_device *d = sriov_model_get(m->model, addr);
        struct sriov_aer before = {};
        struct delta_ctx ctx = { .ev = ev };

        if (!d || !sriov_aer_present(&d->aer))
                return;
        if (sriov_model_refresh_aer(m->model, addr, &before) < 0)
                return;
        d = sriov_model_get(m->model, addr);
        if (d)
                (void) sriov_aer_diff(&before, &d->aer, add_delta, &ctx);
        sriov_aer_done(&before);
}

/* An error uevent's counters: read now, or, within the window after the last read of
 * the function (a storm), once when the window ends (aer_reads_flush_cb()). */
static void collect_aer_deltas_coalesced(struct sriovd_manager *m, const struct sriov_addr *addr,
                                         struct sriovd_event *ev) {
        if (!m->aer_reads || sriovd_aer_reads_due(m->aer_reads, addr, sriovd_now_usec()))
                collect_aer_deltas(m, addr, ev);
}

/* The end of a window in which error uevents came without a read: what grew meanwhile is
 * recorded once, as the periodic poll records it. */
static void aer_reads_flush_cb(const struct sriov_addr *addr, void *userdata) {
        struct sriovd_manager *m = userdata;
        const struct sriov_device *d = sriov_model_get(m->model, addr);
        struct sriovd_event ev = { .addr = *addr, .device_online = -1 };

        if (!d || !sriov_aer_present(&d->aer))
                return;
        ev.hierarchy = *sriov_device_hierarchy(d);
        snprintf(ev.kind, sizeof(ev.kind), "AER_COUNTERS");
        collect_aer_deltas(m, addr, &ev);
        if (ev.n_deltas > 0 || ev.deltas_dropped > 0)
                sriovd_events_record(m->events, &ev);
}

static const char *udev_property(const char *key, void *userdata) {
        return udev_device_get_property_value(userdata, key);
}

static void handle_error_event(struct sriovd_manager *m, const struct sriov_addr *addr, struct udev_device *dev) {
        const struct sriov_device *d = sriov_model_get(m->model, addr);
        struct sriovd_event ev = { .addr = *addr, .device_online = -1 };
        struct sriov_error_event e;
        int r;

        ev.hierarchy = d ? *sriov_device_hierarchy(d) : *addr;
        /* Only the kernel's three values count: a stray or future value must not read as a
         * recovery state, but it is recorded. */
        r = sriov_error_event_parse(udev_property, dev, &e);
        if (r < 0 || e.kind == SRIOV_ERROR_EVENT_NONE) {
                snprintf(ev.kind, sizeof(ev.kind), "UNKNOWN_ERROR_EVENT");
                snprintf(ev.message, sizeof(ev.message), "ERROR_EVENT=%.64s DEVICE_ONLINE=%.8s not understood",
                         strna(udev_device_get_property_value(dev, "ERROR_EVENT")),
                         strna(udev_device_get_property_value(dev, "DEVICE_ONLINE")));
        } else {
                snprintf(ev.kind, sizeof(ev.kind), "%s", sriov_error_event_kind_to_string(e.kind));
                ev.device_online = e.device_online;
        }

        collect_aer_deltas_coalesced(m, addr, &ev);
        if (!sriov_addr_equal(&ev.hierarchy, addr))
                collect_aer_deltas_coalesced(m, &ev.hierarchy, &ev);
        sriovd_metrics_error_uevent(m->metrics, addr, ev.severity);
        uint64_t seq = sriovd_events_record(m->events, &ev);
        if (m->ops)
                sriovd_ops_note_error(m->ops, &ev.hierarchy, addr, ev.kind, seq);
        if (r >= 0 && e.kind != SRIOV_ERROR_EVENT_NONE && m->recovery)
                sriovd_recovery_on_error_event(m->recovery, addr, e.kind);
}

/* Correctable errors send no uevent: their counters are read at an interval. Only
 * functions that have AER files are read, a few small files each. */
static void aer_poll_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_manager *m = userdata;

        for (size_t i = 0; i < sriov_model_size(m->model); i++) {
                const struct sriov_device *d = sriov_model_at(m->model, i);
                struct sriovd_event ev = { .addr = d->addr, .device_online = -1 };

                if (!sriov_aer_present(&d->aer))
                        continue;
                ev.hierarchy = *sriov_device_hierarchy(d);
                snprintf(ev.kind, sizeof(ev.kind), "AER_COUNTERS");
                collect_aer_deltas(m, &ev.addr, &ev);
                if (ev.n_deltas > 0 || ev.deltas_dropped > 0)
                        sriovd_events_record(m->events, &ev);
        }
}

void sriovd_manager_handle_uevent(struct sriovd_manager *m, const char *action, const struct sriov_addr *addr,
                                  struct udev_device *dev) {
        const char *error_event = dev ? udev_device_get_property_value(dev, "ERROR_EVENT") : NULL;
        int r;

        m->n_uevents++;
        m->status_dirty = true;

        if (streq(action, "remove"))
                r = sriov_model_forget(m->model, addr);
        else if (streq(action, "change") && error_event)
                /* AER's change events do not alter the function: its counters are re-read
                 * below, and an error storm pays for nothing else (bench/README.md). */
                r = 0;
        else if (streq(action, "add") || streq(action, "change") || streq(action, "bind") ||
                 streq(action, "unbind") || streq(action, "move") || streq(action, "online") ||
                 streq(action, "offline"))
                r = sriov_model_refresh(m->model, addr);
        else {
                log_debug("Ignoring uevent '%s' on %s", action, SRIOV_ADDR_STR(addr));
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to update %s after '%s' uevent, keeping the previous state",
                                  SRIOV_ADDR_STR(addr), action);
        else
                log_debug("uevent %s %s", action, SRIOV_ADDR_STR(addr));
        if (error_event && m->events)
                handle_error_event(m, addr, dev);
        if (streq(action, "remove"))
                sriovd_ifnames_forget(m->ifnames, addr);
        else if (!error_event && r > 0 && sriov_model_get(m->model, addr) &&
                 sriov_model_get(m->model, addr)->role == SRIOV_ROLE_PF)
                sriovd_ifnames_refresh(m->ifnames, addr);
        sriovd_nfd_changed(m->nfd);
        if (streq(action, "add"))
                sriovd_lock_files_create(m, addr);
        if (streq(action, "add") && m->config) {
                const struct sriov_device *d = sriov_model_get(m->model, addr);
                /* A PF that appears (hotplug, rescan, recovery) gets its configuration. */
                if (d && d->role == SRIOV_ROLE_PF)
                        sriovd_config_reconcile_pf(m, addr, "the PF appeared");
        }
        if (m->drift_timer && (streq(action, "change") || streq(action, "remove") || streq(action, "add")))
                /* Checked once the burst is over, not per VF: a timer, not a poll. */
                event_add(m->drift_timer, &(struct timeval) { .tv_sec = 3 });
        if (m->recovery)
                sriovd_recovery_on_uevent(m->recovery, action, addr);
        if (m->netdev && !streq(action, "remove"))
                sriovd_netdev_on_uevent(m->netdev, addr);
        if (m->ops)
                sriovd_ops_on_uevent(m->ops, action, addr, error_event != NULL);
}

bool sriovd_manager_hierarchy_recovering(struct sriovd_manager *m, const struct sriov_addr *hierarchy) {
        return m->recovery && sriovd_recovery_busy(m->recovery, hierarchy);
}

void sriovd_manager_recovery_ended(struct sriovd_manager *m, const struct sriov_addr *hierarchy) {
        if (m->ops)
                sriovd_ops_kick(m->ops);
        if (m->binds)
                sriovd_binds_kick(m->binds);
        m->status_dirty = true;
        sriovd_nfd_changed(m->nfd);
}

void sriovd_manager_repair_drift(struct sriovd_manager *m, const struct sriov_addr *pf) {
        const struct sriov_desired *want = sriovd_manager_get_desired(m, pf);
        const struct sriov_device *d = sriov_model_get(m->model, pf);

        if (!want || !d || d->role != SRIOV_ROLE_PF || d->pf.n_vfs == want->num_vfs || sriovd_ops_busy(m->ops, pf))
                return;
        /* The last operation already got what the kernel could give: a known short result,
         * not drift. Repairing it would only repeat the same partial enable, forever. */
        if (want->settled_short)
                return;
        log_notice("PF %s: %zu VFs, %u desired: repairing through the enable path", SRIOV_ADDR_STR(pf), d->pf.n_vfs,
                   want->num_vfs);
        struct sriov_enable_request req = { .num_vfs = want->num_vfs, .policy = want->policy, .wait = false, .drivers_autoprobe = -1 };
        sriovd_ops_submit(m->ops, pf, &req, NULL);
}

void sriovd_manager_status_changed(struct sriovd_manager *m) {
        m->status_dirty = true;
        sriovd_nfd_changed(m->nfd);
}

void sriovd_manager_operation_result(struct sriovd_manager *m, const struct sriov_addr *pf, bool complete,
                                     bool rolled_back, unsigned previous) {
        struct sriov_desired *d = (struct sriov_desired *) sriovd_manager_get_desired(m, pf);

        if (!d)
                return;
        if (rolled_back) {
                /* All or nothing, and it was nothing: the request was not taken. */
                int r = sriovd_manager_set_desired(m, pf, previous, d->policy);
                if (r < 0)
                        log_warning_errno(r, "Cannot persist the desired VF count of %s", SRIOV_ADDR_STR(pf));
                return;
        }
        if (d->settled_short == !complete)
                return;
        /* Saved, so that a restart does not re-drive (repair-drift) an enable that the
         * kernel refused or that hung. The client already has its answer; a failed save
         * here can only be logged. */
        d->settled_short = !complete;
        int r = sriov_state_save(m->options->state_dir, m->desired, m->n_desired);
        if (r < 0)
                log_warning_errno(r, "Cannot persist the outcome of the last operation on %s", SRIOV_ADDR_STR(pf));
}

const struct sriov_desired *sriovd_manager_get_desired(struct sriovd_manager *m, const struct sriov_addr *pf) {
        for (size_t i = 0; i < m->n_desired; i++)
                if (sriov_addr_equal(&m->desired[i].pf, pf))
                        return &m->desired[i];
        return NULL;
}

int sriovd_manager_set_desired(struct sriovd_manager *m, const struct sriov_addr *pf, unsigned num_vfs,
                               SriovPolicy policy) {
        struct sriov_desired *d = (struct sriov_desired *) sriovd_manager_get_desired(m, pf), saved;
        bool added = false;
        int r;

        if (!d) {
                struct sriov_desired *nl = reallocarray(m->desired, m->n_desired + 1, sizeof(*nl));
                if (!nl)
                        return -ENOMEM;
                m->desired = nl;
                d = &m->desired[m->n_desired++];
                *d = (struct sriov_desired) { .pf = *pf };
                added = true;
        }
        saved = *d;
        d->num_vfs = num_vfs;
        d->policy = policy;
        d->settled_short = false;
        d->drift_reported = false;
        r = sriov_state_save(m->options->state_dir, m->desired, m->n_desired);
        if (r < 0) {
                /* Not saved, not taken: memory keeps agreeing with the file. */
                if (added)
                        m->n_desired--;
                else
                        *d = saved;
        }
        return r;
}

static void load_desired(struct sriovd_manager *m) {
        /* A crash between create and rename leaves a temporary file; nothing reads them. */
        int r = sriov_state_remove_stale_temp_files(m->options->state_dir);
        if (r < 0)
                log_warning_errno(r, "Cannot clean up temporary files in %s", m->options->state_dir);
        else if (r > 0)
                log_info("Removed %d temporary files left in %s by an earlier crash", r, m->options->state_dir);

        r = sriov_state_load(m->options->state_dir, &m->desired, &m->n_desired);

        if (r == -EBADMSG) {
                /* Keep the unreadable file for a human instead of overwriting it later. */
                _cleanup_free_ char *from = NULL, *to = NULL;
                if (asprintf(&from, "%s/%s", m->options->state_dir, SRIOV_STATE_FILE) >= 0 &&
                    asprintf(&to, "%s/%s.corrupt", m->options->state_dir, SRIOV_STATE_FILE) >= 0)
                        (void) rename(from, to);
                log_error("State file %s/%s is corrupt; moved aside as %s.corrupt, starting with no desired VF counts",
                          m->options->state_dir, SRIOV_STATE_FILE, SRIOV_STATE_FILE);
        } else if (r < 0)
                log_warning_errno(r, "Cannot read the state directory %s", m->options->state_dir);
        else if (m->n_desired > 0)
                log_info("Loaded the desired VF counts of %zu PFs from %s", m->n_desired, m->options->state_dir);
}

/* Someone changed a VF count behind sriovd (sriov_numvfs written by hand): report it once
 * per change, and repair it when the PF's configuration says so. */
static void drift_check_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_manager *m = userdata;

        /* Park policy is a standing order: VFs that lost their driver since (a probe that
         * failed late, a recovery that brought them back driverless) are parked too. */
        struct sriov_addr park[128];
        size_t n_park = 0;
        for (size_t i = 0; i < sriov_model_size(m->model) && n_park < ELEMENTSOF(park); i++) {
                const struct sriov_device *d = sriov_model_at(m->model, i);
                bool on = false;
                if (d->role != SRIOV_ROLE_PF || d->pf.n_vfs == 0)
                        continue;
                (void) sriovd_recovery_get_policy(m->recovery, &d->addr, NULL, &on);
                if (on && !sriovd_ops_busy(m->ops, &d->addr) && !sriovd_manager_hierarchy_recovering(m, sriov_device_hierarchy(d)))
                        park[n_park++] = d->addr;
        }
        for (size_t i = 0; i < n_park; i++)
                sriovd_ops_park_idle(m->ops, &park[i]);

        for (size_t i = 0; i < m->n_desired; i++) {
                const struct sriov_desired *want = &m->desired[i];
                const struct sriov_device *d = sriov_model_get(m->model, &want->pf);
                const struct sriov_pf_config *c;

                if (!d || d->role != SRIOV_ROLE_PF || sriovd_ops_busy(m->ops, &want->pf) ||
                    sriovd_manager_hierarchy_recovering(m, sriov_device_hierarchy(d)))
                        continue;
                if (d->pf.n_vfs == want->num_vfs) {
                        m->desired[i].drift_reported = false;
                        continue;
                }
                if (want->settled_short)
                        continue;       /* reported with the operation, not drift */
                c = sriovd_config_for(m, &want->pf);
                if (!m->desired[i].drift_reported) {
                        struct sriovd_event ev = { .addr = want->pf, .hierarchy = *sriov_device_hierarchy(d), .device_online = -1 };
                        snprintf(ev.kind, sizeof(ev.kind), "DRIFT");
                        snprintf(ev.message, sizeof(ev.message), "%zu VFs, %u desired%s", d->pf.n_vfs, want->num_vfs,
                                 c && c->repair_drift ? "; repairing (repair-drift)" : "; not changed (repair-drift off)");
                        sriovd_events_record(m->events, &ev);
                        m->desired[i].drift_reported = true;
                }
                if (c && c->repair_drift)
                        sriovd_manager_repair_drift(m, &want->pf);
        }
}

/* After a restart: say where the kernel differs from what was asked; do not rewrite. */
static void report_drift(struct sriovd_manager *m) {
        for (size_t i = 0; i < m->n_desired; i++) {
                const struct sriov_device *d = sriov_model_get(m->model, &m->desired[i].pf);
                if (!d)
                        log_warning("PF %s: desired %u VFs, but the PF is not present", SRIOV_ADDR_STR(&m->desired[i].pf),
                                    m->desired[i].num_vfs);
                else if (d->role == SRIOV_ROLE_PF && d->pf.n_vfs != m->desired[i].num_vfs)
                        log_warning("PF %s: drift, desired %u VFs, the kernel has %zu (not changed automatically)",
                                    SRIOV_ADDR_STR(&d->addr), m->desired[i].num_vfs, d->pf.n_vfs);
        }
}

static void on_uevent(const char *action, const struct sriov_addr *addr, struct udev_device *dev, void *userdata) {
        sriovd_manager_handle_uevent(userdata, action, addr, dev);
}

static void on_uevent_overflow(void *userdata) {
        struct sriovd_manager *m = userdata;

        if (m->resync)
                sriovd_resync_request(m->resync, "The kernel dropped uevents (ENOBUFS)");
}

/* Teardown order: after this no lock grant callback runs and no worker job starts, so
 * freeing one component's lock requests cannot start work on another's objects. Jobs
 * already in the kernel keep their threads (a hung write must not hold the exit). */
static void manager_stop_work(struct sriovd_manager *m) {
        sriov_lock_manager_stop(m->locks);
        sriovd_workers_stop(m->workers);
}

static void on_signal(evutil_socket_t sig, short what, void *userdata) {
        struct sriovd_manager *m = userdata;

        if (sig == SIGHUP) {
                (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading the configuration");
                (void) sriovd_config_reload(m, NULL);
                (void) sd_notify(false, "READY=1");
                notify_status(m);
                return;
        }
        log_info("Received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        /* New clients go to the next instance (or get ECONNREFUSED) from now on, whatever
         * the rest of the shutdown waits for; accepted ones are still answered. */
        sriovd_api_stop_listening(m->api);
        /* No sysfs write starts from here on: the loop still runs this iteration's
         * callbacks, and one that releases a lock would grant, say, a bind queued behind
         * it (a driver bound during systemctl stop). */
        manager_stop_work(m);
        event_base_loopexit(m->base, NULL);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *userdata) {
        (void) sd_notify(false, "WATCHDOG=1");
}

int sriovd_manager_new(struct sriovd_options *options, struct sriov_config *config, struct sriovd_manager **ret) {
        _cleanup_(sriovd_manager_freep) struct sriovd_manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->options = options;
        m->config = config;

        /* Precise timers: deadlines are compared with CLOCK_MONOTONIC; libevent's default
         * coarse clock can fire a timer milliseconds early. */
        struct event_config *cfg = event_config_new();
        if (cfg) {
                (void) event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
                m->base = event_base_new_with_config(cfg);
                event_config_free(cfg);
        }
        if (!m->base)
                m->base = event_base_new();
        if (!m->base)
                return log_error_errno(ENOMEM, "Failed to create the event loop");

        r = sriov_sysfs_new(options->sysfs_root, &m->sysfs);
        if (r < 0)
                return log_error_errno(r, "Cannot open sysfs at %s (is it mounted, and is the PCI bus there?)",
                                       options->sysfs_root);

        r = sriov_names_new(NULL, &m->names);
        if (r < 0)
                log_warning_errno(r, "PCI ID database unavailable, devices will have no names");

        r = sriov_model_new(m->sysfs, m->names, &m->model);
        if (r < 0)
                return log_error_errno(r, "Failed to create the device model");

        *ret = TAKE_PTR(m);
        return 0;
}

/* What the exit leaves to the jobs still running (see sriovd_manager_free()); a
 * global, so that it stays reachable, to the leak checker too. */
static struct sriovd_manager *kept_for_running_jobs;

struct sriovd_manager *sriovd_manager_free(struct sriovd_manager *m) {
        unsigned running;

        if (!m)
                return NULL;
        /* First: nothing below may keep the listening socket open (see on_signal()). */
        sriovd_api_stop_listening(m->api);
        /* First: the frees below release locks, which must grant nobody. */
        manager_stop_work(m);
        /* A job still on a worker thread reads and writes objects freed below: an
         * operation waiting for a lock file gets its lock or its timeout and stores the
         * result in the operation; a write returning from the kernel is stored in its
         * owner; any of them opens files through m->sysfs.  Such a thread cannot be
         * cancelled or waited for (a hung write may never return), so the process exits
         * with those objects alive instead: exit_group() ends the threads, and what
         * must survive the stop is already on disk. */
        running = sriovd_workers_running(m->workers);
        if (running > 0) {
                log_info("%u job(s) still running on worker threads (a write in the kernel or a wait for a lock "
                         "file); exiting without freeing what they use", running);
                kept_for_running_jobs = m;
                return NULL;
        }
        sriovd_config_watch_free(m->config_watch);
        sriovd_nfd_free(m->nfd);
        sriovd_metrics_free(m->metrics);
        sriovd_api_free(m->api);
        sriovd_ops_free(m->ops);
        sriovd_binds_free(m->binds);
        sriovd_recovery_free(m->recovery);
        sriovd_netdev_free(m->netdev);
        if (m->drift_timer)
                event_free(m->drift_timer);
        if (m->startup_timeout)
                event_free(m->startup_timeout);
        sriov_config_free(m->config);
        sriovd_events_free(m->events);
        if (m->aer_poll)
                event_free(m->aer_poll);
        sriovd_aer_reads_free(m->aer_reads);
        sriovd_workers_free(m->workers);
        sriov_lock_manager_free(m->locks);
        free(m->desired);
        sriovd_resync_free(m->resync);
        sriovd_monitor_free(m->monitor);
        if (m->sig_term)
                event_free(m->sig_term);
        if (m->sig_int)
                event_free(m->sig_int);
        if (m->sig_hup)
                event_free(m->sig_hup);
        if (m->watchdog)
                event_free(m->watchdog);
        if (m->status_timer)
                event_free(m->status_timer);
        sriov_model_free(m->model);
        sriovd_ifnames_free(m->ifnames);
        sriov_names_free(m->names);
        sriov_sysfs_free(m->sysfs);
        if (m->base)
                event_base_free(m->base);
        free(m);
        return NULL;
}

static int add_signal(struct sriovd_manager *m, int sig, struct event **ret) {
        struct event *ev = evsignal_new(m->base, sig, on_signal, m);

        if (!ev || event_add(ev, NULL) < 0) {
                if (ev)
                        event_free(ev);
                return -ENOMEM;
        }
        *ret = ev;
        return 0;
}

static void manager_ready(struct sriovd_manager *m) {
        if (!m->starting)
                return;
        m->starting = false;
        if (m->startup_timeout)
                event_del(m->startup_timeout);
        (void) sd_notify(false, "READY=1");
        notify_status(m);
        sriovd_nfd_changed(m->nfd);
        log_info("Ready, API on %s", sriovd_api_socket_path(m->api) ?: m->options->socket_path);
}

static void startup_timeout_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_manager *m = userdata;

        log_warning("%u configured operation(s) still running after 80 s; reporting ready anyway", m->startup_pending);
        manager_ready(m);
}

void sriovd_manager_set_aer_poll(struct sriovd_manager *m, unsigned seconds) {
        if (!m->aer_poll)
                return;
        event_del(m->aer_poll);
        if (seconds > 0)
                event_add(m->aer_poll, &(struct timeval) { .tv_sec = seconds });
}

void sriovd_manager_startup_op_done(struct sriovd_manager *m) {
        if (m->startup_pending > 0)
                m->startup_pending--;
        if (m->startup_pending == 0)
                manager_ready(m);
}

int sriovd_manager_run(struct sriovd_manager *m) {
        uint64_t watchdog_usec = 0;
        size_t pfs, vfs;
        int r;

        if (add_signal(m, SIGTERM, &m->sig_term) < 0 || add_signal(m, SIGINT, &m->sig_int) < 0 ||
            add_signal(m, SIGHUP, &m->sig_hup) < 0)
                return log_error_errno(ENOMEM, "Failed to set up signal handling");
        (void) signal(SIGPIPE, SIG_IGN);

        /* Listen before scanning: an event that arrives during the scan is then queued and
         * applied after it, instead of being lost between the scan and the subscription. */
        r = sriovd_monitor_new(m->base, m->options->uevent_source, on_uevent, m, &m->monitor);
        if (r < 0)
                return r;
        r = sriovd_resync_new(m, &m->resync);
        if (r < 0)
                return log_error_errno(r, "Failed to set up resynchronisation");
        sriovd_monitor_set_overflow_cb(m->monitor, on_uevent_overflow, m);

        r = sriov_model_scan(m->model);
        if (r < 0)
                return log_error_errno(r, "Failed to scan the PCI bus under %s", m->options->sysfs_root);
        count_roles(m->model, &pfs, &vfs);
        log_info("Found %zu PCI functions: %zu SR-IOV PFs, %zu VFs", sriov_model_size(m->model), pfs, vfs);
        r = sriovd_ifnames_new(m->sysfs, &m->ifnames);
        if (r < 0)
                return log_error_errno(r, "Failed to set up interface names");
        for (size_t i = 0; i < sriov_model_size(m->model); i++)
                if (sriov_model_at(m->model, i)->role == SRIOV_ROLE_PF)
                        sriovd_ifnames_refresh(m->ifnames, &sriov_model_at(m->model, i)->addr);

        load_desired(m);
        report_drift(m);
        m->drift_timer = evtimer_new(m->base, drift_check_cb, m);
        if (!m->drift_timer)
                return log_error_errno(ENOMEM, "Failed to set up the drift timer");

        r = sriovd_workers_new(m->base, &m->workers);
        if (r < 0)
                return log_error_errno(r, "Failed to set up worker threads");
        r = sriov_lock_manager_new(&m->locks);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the lock manager");

        r = sriovd_events_new(m->options->history_size, m->base, &m->events);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event history");
        m->aer_poll = event_new(m->base, -1, EV_PERSIST, aer_poll_cb, m);
        if (!m->aer_poll)
                return log_error_errno(ENOMEM, "Failed to set up AER counter polling");
        sriovd_manager_set_aer_poll(m, m->options->aer_poll_sec);
        r = sriovd_aer_reads_new(m->base, SRIOVD_AER_READ_WINDOW_USEC, aer_reads_flush_cb, m, &m->aer_reads);
        if (r < 0)
                return log_error_errno(r, "Failed to set up AER counter reads");

        r = sriovd_recovery_new(m, &m->recovery);
        if (r < 0)
                return log_error_errno(r, "Failed to set up recovery");

        r = sriovd_ops_new(m, &m->ops);
        if (r < 0)
                return log_error_errno(r, "Failed to set up operations");

        r = sriovd_binds_new(m, &m->binds);
        if (r < 0)
                return log_error_errno(r, "Failed to set up driver binding");

        r = sriovd_netdev_new(m, &m->netdev);
        if (r < 0)
                return log_error_errno(r, "Failed to set up network interface tracking");

        r = sriovd_api_new(m, m->options->socket_path, &m->api);
        if (r < 0)
                return r;

        r = sriovd_metrics_new(m, &m->metrics);
        if (r < 0)
                return log_error_errno(r, "Failed to set up metrics");
        /* A listener that cannot be bound is logged; the daemon runs without it. */
        (void) sriovd_metrics_configure(m->metrics, sriov_config_daemon(m->config));
        r = sriovd_nfd_new(m, &m->nfd);
        if (r < 0)
                return log_error_errno(r, "Failed to set up NFD labels");
        sriovd_nfd_configure(m->nfd, sriov_config_daemon(m->config));
        /* Without inotify the daemon still runs: reload by SIGHUP or sriovctl reload. */
        (void) sriovd_config_watch_new(m, m->options->config_file ?: SRIOVD_DEFAULT_CONFIG, &m->config_watch);

        m->status_timer = event_new(m->base, -1, EV_PERSIST, status_timer_cb, m);
        if (!m->status_timer || event_add(m->status_timer, &(struct timeval) { .tv_sec = 1 }) < 0)
                return log_error_errno(ENOMEM, "Failed to set up the status timer");

        if (sd_watchdog_enabled(false, &watchdog_usec) > 0 && watchdog_usec > 0) {
                uint64_t half = watchdog_usec / 2;
                m->watchdog = event_new(m->base, -1, EV_PERSIST, watchdog_cb, m);
                if (!m->watchdog ||
                    event_add(m->watchdog, &(struct timeval) { .tv_sec = half / 1000000, .tv_usec = half % 1000000 }) < 0)
                        return log_error_errno(ENOMEM, "Failed to set up the watchdog timer");
        }

        /* The API answers already (status, progress); READY=1 waits for the configured
         * state, so that units ordered after sriovd.service find their VFs. */
        m->starting = true;
        /* Before the configuration: a PF that a crash left off the bus comes back first. */
        (void) sriovd_recovery_journal_resume(m);
        if (m->config) {
                json_object_put(sriovd_netdev_unmatched_json(m->netdev, true));
                sriovd_config_reconcile_all(m, "start");
        }
        /* Drift that exists already at start is checked once, not only after a uevent. */
        event_add(m->drift_timer, &(struct timeval) { .tv_sec = 3 });
        if (m->startup_pending > 0) {
                log_info("Applying the configuration to %u PF(s) before reporting ready", m->startup_pending);
                (void) sd_notifyf(false, "STATUS=Applying the configuration to %u PF(s)", m->startup_pending);
                /* Bounded: a kernel that never answers must not hold the boot; each
                 * operation reports a hung write at its own deadline well before this. */
                m->startup_timeout = evtimer_new(m->base, startup_timeout_cb, m);
                if (m->startup_timeout)
                        event_add(m->startup_timeout, &(struct timeval) { .tv_sec = 80 });
        } else
                manager_ready(m);

        if (event_base_dispatch(m->base) < 0)
                return log_error_errno(EIO, "Event loop failed");
        return m->exit_code;
}
