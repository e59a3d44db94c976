/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-model.h"
#include "sriov-sysfs.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-resync.h"

/* Long enough for the rest of a burst to arrive (and be counted in the same rescan),
 * short against the settle windows operations wait for. */
#define RESYNC_DELAY_USEC (100 * 1000)
#define RESYNC_RETRY_SEC 1

struct sriovd_resync {
        struct sriovd_manager *manager;
        struct event *timer;
        unsigned n_requested;
        unsigned n_done;
};

static bool addr_listed(const struct sriov_addr *list, size_t n, const struct sriov_addr *a) {
        for (size_t i = 0; i < n; i++)
                if (sriov_addr_equal(&list[i], a))
                        return true;
        return false;
}

static void resync_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_resync *r = userdata;
        struct sriovd_manager *m = r->manager;
        _cleanup_free_ struct sriov_addr *listed = NULL, *known = NULL;
        size_t n_listed = 0, n_known, n_removed = 0, n_added = 0;
        int k;

        k = sriov_sysfs_list_devices(m->sysfs, &listed, &n_listed);
        if (k < 0) {
                log_warning_errno(k, "Cannot list the PCI bus to resynchronise, retrying in %u s", RESYNC_RETRY_SEC);
                event_add(r->timer, &(struct timeval) { .tv_sec = RESYNC_RETRY_SEC });
                return;
        }

        /* A copy: the model changes under the loop below. */
        n_known = sriov_model_size(m->model);
        known = calloc(n_known ? n_known : 1, sizeof(*known));
        if (!known) {
                log_warning_errno(ENOMEM, "Cannot resynchronise, retrying in %u s", RESYNC_RETRY_SEC);
                event_add(r->timer, &(struct timeval) { .tv_sec = RESYNC_RETRY_SEC });
                return;
        }
        for (size_t i = 0; i < n_known; i++)
                known[i] = sriov_model_at(m->model, i)->addr;

        /* Gone first, newest (VFs sit above their PF) first, as the kernel removes them. */
        for (size_t i = n_known; i-- > 0;)
                if (!addr_listed(listed, n_listed, &known[i])) {
                        sriovd_manager_handle_uevent(m, "remove", &known[i], NULL);
                        n_removed++;
                }
        /* Then what stayed is re-read - a PF's virtfn links listed, since a VF's lost
         * remove uevent is what it would otherwise miss - and what is new announced in
         * bus order (a PF before its VFs), as its "add" uevent would have. */
        for (size_t i = 0; i < n_listed; i++) {
                if (addr_listed(known, n_known, &listed[i])) {
                        int e = sriov_model_resync(m->model, &listed[i]);
                        if (e < 0 && e != -ENOENT)
                                log_warning_errno(e, "Failed to re-read %s while resynchronising",
                                                  SRIOV_ADDR_STR(&listed[i]));
                        continue;
                }
                sriovd_manager_handle_uevent(m, "add", &listed[i], NULL);
                n_added++;
        }
        r->n_done++;
        log_notice("Resynchronised the device model from sysfs (%zu functions: %zu gone, %zu new)",
                   sriov_model_size(m->model), n_removed, n_added);
        sriovd_manager_status_changed(m);
}

int sriovd_resync_new(struct sriovd_manager *m, struct sriovd_resync **ret) {
        _cleanup_(sriovd_resync_freep) struct sriovd_resync *r = NULL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->manager = m;
        r->timer = evtimer_new(m->base, resync_cb, r);
        if (!r->timer)
                return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}

struct sriovd_resync *sriovd_resync_free(struct sriovd_resync *r) {
        if (!r)
                return NULL;
        if (r->timer)
                event_free(r->timer);
        free(r);
        return NULL;
}

void sriovd_resync_request(struct sriovd_resync *r, const char *why) {
        r->n_requested++;
        if (evtimer_pending(r->timer, NULL)) {
                log_debug("Resynchronisation already scheduled (%s)", why);
                return;
        }
        log_warning("%s: re-reading every PCI function from sysfs", why);
        event_add(r->timer, &(struct timeval) { .tv_usec = RESYNC_DELAY_USEC });
}

unsigned sriovd_resync_requested(const struct sriovd_resync *r) {
        return r->n_requested;
}

unsigned sriovd_resync_done(const struct sriovd_resync *r) {
        return r->n_done;
}
