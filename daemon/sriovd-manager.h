/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's glue: one libevent loop owning the device model, the uevent monitor and
 * the API server. Everything here runs on the loop thread. */

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-model.h"
#include "sriov-names.h"
#include "sriov-sysfs.h"
#include "sriovd-monitor.h"
#include "sriovd-options.h"
#include "sriov-state.h"

struct sriovd_api;
struct sriovd_ops;
struct sriovd_workers;
struct sriovd_binds;
struct sriovd_events;
struct sriovd_recovery;
struct sriov_config;
struct sriov_lock_manager;
struct sriovd_metrics;
struct sriovd_nfd;
struct sriovd_config_watch;
struct sriovd_ifnames;

struct sriovd_manager {
        struct sriovd_options *options;
        struct event_base *base;
        struct sriov_sysfs *sysfs;
        struct sriov_names *names;
        struct sriov_model *model;
        struct sriovd_monitor *monitor;
        struct sriovd_resync *resync;           /* after lost uevents */
        struct sriovd_api *api;
        struct sriovd_ops *ops;
        struct sriovd_binds *binds;
        struct sriovd_events *events;
        struct sriovd_recovery *recovery;
        struct sriovd_netdev *netdev;           /* NICs: interfaces, VF settings, drift */
        struct sriov_config *config;            /* NULL: no file */
        struct sriovd_metrics *metrics;         /* /metrics and its TCP listener */
        struct sriovd_nfd *nfd;                 /* NFD feature file */
        struct sriovd_config_watch *config_watch; /* reloads when the files change */
        struct sriovd_ifnames *ifnames;         /* PF interface names for labels */
        struct event *drift_timer;
        bool starting;                          /* before READY=1 */
        unsigned startup_pending;               /* configured operations READY=1 waits for */
        struct event *startup_timeout;
        struct event *aer_poll;
        struct sriovd_aer_reads *aer_reads;     /* error uevents: AER files read once per window */
        struct sriovd_workers *workers;         /* threads for blocking kernel writes */
        struct sriov_lock_manager *locks;       /* hierarchy → PF → VF ordering */
        struct sriov_desired *desired;  /* persisted in the state directory */
        size_t n_desired;
        struct event *sig_term;
        struct event *sig_int;
        struct event *sig_hup;
        struct event *watchdog;
        struct event *status_timer;
        uint64_t n_uevents;
        bool status_dirty;
        int exit_code;
};

/* Takes config (may be NULL). */
int sriovd_manager_new(struct sriovd_options *options, struct sriov_config *config, struct sriovd_manager **ret);
struct sriovd_manager *sriovd_manager_free(struct sriovd_manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriovd_manager *, sriovd_manager_free);

/* Scans, opens the monitor and the API socket, tells systemd READY=1, runs the loop
 * until SIGTERM/SIGINT. */
int sriovd_manager_run(struct sriovd_manager *m);

/* Whether the kernel is recovering the hierarchy below this root port from a PCIe
 * error: no sysfs write may start there until it is done. */
bool sriovd_manager_hierarchy_recovering(struct sriovd_manager *m, const struct sriov_addr *hierarchy);

/* The kernel's (or sriovd's own) recovery of a hierarchy ended (NULL: some hierarchy):
 * deferred operations may go. */
void sriovd_manager_recovery_ended(struct sriovd_manager *m, const struct sriov_addr *hierarchy);

/* The desired VF count differs from the kernel's: change it back through the normal
 * enable path (after a successful kernel recovery, or when configured to repair drift). */
void sriovd_manager_repair_drift(struct sriovd_manager *m, const struct sriov_addr *pf);

/* Records (atomically, in the state directory) the VF count asked for a PF. */
int sriovd_manager_set_desired(struct sriovd_manager *m, const struct sriov_addr *pf, unsigned num_vfs,
                               SriovPolicy policy);
/* An operation on pf ended: a rolled-back request is no longer desired; a short result
 * is remembered so that it is not mistaken for drift. */
void sriovd_manager_operation_result(struct sriovd_manager *m, const struct sriov_addr *pf, bool complete,
                                     bool rolled_back, unsigned previous);
const struct sriov_desired *sriovd_manager_get_desired(struct sriovd_manager *m, const struct sriov_addr *pf);

/* Re-arms (or stops, for 0) the AER counter polling. */
void sriovd_manager_set_aer_poll(struct sriovd_manager *m, unsigned seconds);

/* A start-up operation finished (or reported its write as hung). */
void sriovd_manager_startup_op_done(struct sriovd_manager *m);

/* Something worth a new STATUS= line happened (rate limited). */
void sriovd_manager_status_changed(struct sriovd_manager *m);

/* Applies one kernel uevent to the model (exposed for tests). */
void sriovd_manager_handle_uevent(struct sriovd_manager *m, const char *action, const struct sriov_addr *addr,
                                  struct udev_device *dev);
