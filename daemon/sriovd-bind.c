/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sriov-bind.h"
#include "sriov-json.h"
#include "sriov-lock.h"
#include "sriovd-api.h"
#include "sriovd-conn.h"
#include "sriovd-bind.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-metrics.h"
#include "sriovd-recovery.h"
#include "sriovd-config.h"
#include "sriovd-worker.h"

#define BIND_TIMEOUT_SEC 30

struct bind_op {
        struct sriovd_binds *owner;
        struct sriov_addr addr;
        struct sriov_addr hierarchy;
        char driver[65];                /* "" for unbind */
        sriov_lock_request *lock;
        struct evhttp_request *req;
        struct event *deadline;
        struct sriov_bind_result result;        /* the loop's: copied from job_result when done */
        struct sriov_bind_result job_result;    /* the worker's until bind_job_done() */
        bool running;
        bool deferred;
        bool lock_submitted;
        bool replied;
        bool hung;
        uint64_t created_usec;          /* for the duration metric */
        struct bind_op *next;
};

struct sriovd_binds {
        struct sriovd_manager *manager;
        struct bind_op *list;
};

static void bind_submit_lock(struct bind_op *op);

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Counted once: when reported hung, or when the kernel returned in time. */
static void bind_count(struct bind_op *op, SriovdOpResult result) {
        if (op->created_usec == 0)
                op->created_usec = monotonic_usec();
        sriovd_metrics_operation_done(op->owner->manager->metrics, &op->addr,
                                      op->driver[0] ? SRIOVD_OP_KIND_BIND : SRIOVD_OP_KIND_UNBIND, result,
                                      monotonic_usec() - op->created_usec);
}

static void bind_op_free(struct bind_op *op) {
        if (!op)
                return;
        if (op->deadline)
                event_free(op->deadline);
        sriov_lock_request_free(op->lock);
        free(op);
}

static void bind_op_unlink(struct bind_op *op) {
        for (struct bind_op **p = &op->owner->list; *p; p = &(*p)->next)
                if (*p == op) {
                        *p = op->next;
                        return;
                }
}

/* The client went away before its answer. libevent 2.1 detaches a request that has not
 * been answered from the closing connection and leaves it to us: free it, or every
 * impatient client leaks one. */
static void on_req_closed(struct evhttp_connection *conn, void *userdata) {
        struct bind_op *op = userdata;

        if (op->req && !evhttp_request_get_connection(op->req))
                evhttp_request_free(op->req);
        op->req = NULL;
}

static void bind_reply(struct bind_op *op, int status, json_object *o) {
        if (op->replied || !op->req) {
                json_object_put(o);
                return;
        }
        struct evhttp_connection *conn = evhttp_request_get_connection(op->req);
        if (conn)
                evhttp_connection_set_closecb(conn, NULL, NULL);
        sriovd_api_reply_json(op->req, status, o);
        op->replied = true;
        op->req = NULL;
}

static json_object *bind_result_json(const struct bind_op *op, bool hung) {
        json_object *o = json_object_new_object();
        const struct sriov_device *d = sriov_model_get(op->owner->manager->model, &op->addr);

        json_object_object_add(o, "address", sriov_addr_to_json(&op->addr));
        json_object_object_add(o, "action", json_object_new_string(op->driver[0] ? "bind" : "unbind"));
        json_object_object_add(o, "driver_requested", op->driver[0] ? json_object_new_string(op->driver) : NULL);
        json_object_object_add(o, "driver", op->result.driver_now[0] ? json_object_new_string(op->result.driver_now) : NULL);
        json_object_object_add(o, "module_loaded", json_object_new_boolean(op->result.module_loaded));
        json_object_object_add(o, "hung", json_object_new_boolean(hung));
        json_object_object_add(o, "ok", json_object_new_boolean(!hung && op->result.error == 0));
        if (op->result.error) {
                json_object_object_add(o, "failed_step", json_object_new_string(op->result.failed_step ?: "?"));
                json_object_object_add(o, "errno", json_object_new_int(-op->result.error));
                json_object_object_add(o, "error", json_object_new_string(
                        op->result.error == -ENOPKG ? "the driver's module could not be loaded: it is missing or blacklisted, or sriovd may not load modules (under the systemd unit, list it in /etc/modules-load.d/)" :
                        op->result.error == -EIO ? "the driver did not take the device (see dmesg)" :
                        strerror(-op->result.error)));
        }
        if (d && d->iommu_group >= 0 && streq(op->result.driver_now, "vfio-pci")) {
                char node[32];
                snprintf(node, sizeof(node), "/dev/vfio/%d", d->iommu_group);
                json_object_object_add(o, "vfio_device", json_object_new_string(node));
        }
        return o;
}

static int bind_job_run(void *userdata) {
        struct bind_op *op = userdata;
        struct sriov_sysfs *s = op->owner->manager->sysfs;

        /* Only job_result: the deadline may report the hang from the loop meanwhile. */
        if (op->driver[0])
                return sriov_bind_driver(s, &op->addr, op->driver, &op->job_result);
        return sriov_unbind_driver(s, &op->addr, &op->job_result);
}

static void bind_finish(struct bind_op *op) {
        bind_op_unlink(op);
        bind_op_free(op);
}

static void bind_job_done(int result, void *userdata) {
        struct bind_op *op = userdata;

        if (op->running)
                op->result = op->job_result;    /* the worker is done with it */
        op->running = false;
        event_del(op->deadline);
        /* The kernel's uevents (bind/unbind) update the model as well; read the result
         * now so the reply and the model agree. */
        (void) sriov_model_refresh(op->owner->manager->model, &op->addr);
        if (result < 0)
                log_warning("%s %s: %s failed: %s", op->driver[0] ? "Binding" : "Unbinding", SRIOV_ADDR_STR(&op->addr),
                            op->result.failed_step ?: "?", strerror(-result));
        else {
                log_info("%s is now %s%s", SRIOV_ADDR_STR(&op->addr), op->result.driver_now[0] ? "bound to " : "without a driver",
                         op->result.driver_now);
                /* What sriovd bound, it restores after a recovery. */
                sriovd_recovery_remember_binding(op->owner->manager->recovery, &op->addr, op->driver[0] ? op->driver : NULL);
                const struct sriov_device *d = sriov_model_get(op->owner->manager->model, &op->addr);
                if (d && streq(op->result.driver_now, "vfio-pci"))
                        sriovd_config_vfio_owner(op->owner->manager, &op->addr, d->iommu_group);
        }
        if (!op->hung)
                bind_count(op, result < 0 ? SRIOVD_OP_RESULT_FAILED : SRIOVD_OP_RESULT_COMPLETE);
        bind_reply(op, result < 0 ? 409 : 200, bind_result_json(op, false));
        sriov_lock_request_release(op->lock);
        bind_finish(op);
}

static void on_bind_deadline(evutil_socket_t fd, short what, void *userdata) {
        struct bind_op *op = userdata;

        log_error("%s %s: the kernel has not returned after %d s: hung; the function stays locked until it returns",
                  op->driver[0] ? "Binding" : "Unbinding", SRIOV_ADDR_STR(&op->addr), BIND_TIMEOUT_SEC);
        op->hung = true;
        sriovd_metrics_hung_write(op->owner->manager->metrics, SRIOVD_HUNG_BIND);
        bind_count(op, SRIOVD_OP_RESULT_HUNG);
        bind_reply(op, 504, bind_result_json(op, true));
}

static void bind_begin(struct bind_op *op) {
        struct timeval tv = { .tv_sec = BIND_TIMEOUT_SEC };
        int r;

        if (sriovd_manager_hierarchy_recovering(op->owner->manager, &op->hierarchy)) {
                /* Without locks while waiting, as operations do: recovery needs the
                 * hierarchy exclusively. */
                sriov_lock_request_release(op->lock);
                op->lock_submitted = false;
                op->deferred = true;
                return;
        }
        op->deferred = false;
        r = sriovd_workers_submit(op->owner->manager->workers, bind_job_run, bind_job_done, op);
        if (r < 0) {
                op->result.error = r;
                op->result.failed_step = "start worker";
                bind_job_done(r, op);
                return;
        }
        op->running = true;
        event_add(op->deadline, &tv);
}

static void on_bind_granted(sriov_lock_request *lock, void *userdata) {
        bind_begin(userdata);
}

/* vfio-pci hands the whole IOMMU group to its user: every other member must be on
 * vfio-pci too, or have no driver (a host driver on a shared group would be DMA-visible to
 * the VM). Bridges on pcieport do not count. */
static int isolation_check(struct sriovd_binds *b, const struct sriov_device *d, char *why, size_t len) {
        _cleanup_free_ struct sriov_addr *members = NULL;
        size_t n = 0, off = 0;
        bool bad = false;
        int r;

        if (d->iommu_group < 0) {
                snprintf(why, len, "%s has no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu=on) for vfio-pci",
                         SRIOV_ADDR_STR(&d->addr));
                return -ENODEV;
        }
        r = sriov_sysfs_list_iommu_group(b->manager->sysfs, d->iommu_group, &members, &n);
        if (r < 0) {
                snprintf(why, len, "cannot list IOMMU group %d: %s", d->iommu_group, strerror(-r));
                return r;
        }
        off = (size_t) snprintf(why, len, "IOMMU group %d is shared with functions on host drivers:", d->iommu_group);
        for (size_t i = 0; i < n; i++) {
                const struct sriov_device *m = sriov_model_get(b->manager->model, &members[i]);
                if (sriov_addr_equal(&members[i], &d->addr) || !m || !m->driver)
                        continue;
                if (streq(m->driver, "vfio-pci") || streq(m->driver, "pci-stub") || streq(m->driver, "pcieport"))
                        continue;
                bad = true;
                if (off < len)
                        off += (size_t) snprintf(why + off, len - off, " %s (%s)", SRIOV_ADDR_STR(&members[i]), m->driver);
        }
        if (bad && off < len)
                snprintf(why + off, len - off, "; bind them to vfio-pci first, or use force");
        return bad ? -EBUSY : 0;
}

void sriovd_binds_submit(struct sriovd_binds *b, const struct sriov_addr *addr, const char *driver, bool force,
                         struct evhttp_request *req) {
        const struct sriov_device *d = sriov_model_get(b->manager->model, addr);
        struct bind_op *op;
        char why[512];
        int r;

        if (!d) {
                sriovd_api_reply_error(req, 404, "No PCI function %s on this system", SRIOV_ADDR_STR(addr));
                return;
        }
        if (!req && driver) {
                /* Internal binds (parking, configuration) are idempotent: one per function. */
                for (struct bind_op *o = b->list; o; o = o->next)
                        if (sriov_addr_equal(&o->addr, addr) && streq(o->driver, driver))
                                return;
                log_debug("Internal bind of %s to %s", SRIOV_ADDR_STR(addr), driver);
        }
        if (d->role == SRIOV_ROLE_BRIDGE) {
                sriovd_api_reply_error(req, 422, "%s is a bridge; sriovd does not rebind bridges", SRIOV_ADDR_STR(addr));
                return;
        }
        if (driver && streq(driver, "vfio-pci") && !force && isolation_check(b, d, why, sizeof(why)) < 0) {
                sriovd_api_reply_error(req, 409, "%s", why);
                return;
        }

        op = calloc(1, sizeof(*op));
        if (!op) {
                sriovd_api_reply_error(req, 500, "Out of memory");
                return;
        }
        op->owner = b;
        op->created_usec = monotonic_usec();
        op->addr = *addr;
        op->hierarchy = *sriov_device_hierarchy(d);
        op->req = req;
        if (driver)
                snprintf(op->driver, sizeof(op->driver), "%s", driver);
        op->deadline = evtimer_new(b->manager->base, on_bind_deadline, op);
        if (d->role == SRIOV_ROLE_VF) {
                r = sriov_lock_request_new(b->manager->locks, &op->hierarchy, SRIOV_LOCK_SHARED, &d->vf.pf,
                                           SRIOV_LOCK_SHARED, &op->lock);
                if (r >= 0)
                        r = sriov_lock_request_add_vf(op->lock, addr, SRIOV_LOCK_EXCLUSIVE);
        } else
                r = sriov_lock_request_new(b->manager->locks, &op->hierarchy, SRIOV_LOCK_SHARED, addr,
                                           SRIOV_LOCK_EXCLUSIVE, &op->lock);
        if (r < 0 || !op->deadline) {
                bind_op_free(op);
                sriovd_api_reply_error(req, 500, "Cannot set up the request: %s", strerror(r < 0 ? -r : ENOMEM));
                return;
        }
        struct evhttp_connection *conn = req ? evhttp_request_get_connection(req) : NULL;
        if (conn) {
                evhttp_connection_set_closecb(conn, on_req_closed, op);
                sriovd_conns_hold(req);
        }
        op->next = b->list;
        b->list = op;
        if (sriovd_manager_hierarchy_recovering(b->manager, &op->hierarchy)) {
                op->deferred = true;    /* without locks: recovery takes the hierarchy exclusively */
                return;
        }
        bind_submit_lock(op);
}

static void bind_submit_lock(struct bind_op *op) {
        if (op->lock && sriov_lock_request_state(op->lock) == SRIOV_LOCK_REQUEST_RELEASED) {
                const struct sriov_device *d = sriov_model_get(op->owner->manager->model, &op->addr);
                int r;

                op->lock = sriov_lock_request_free(op->lock);
                if (d && d->role == SRIOV_ROLE_VF) {
                        r = sriov_lock_request_new(op->owner->manager->locks, &op->hierarchy, SRIOV_LOCK_SHARED,
                                                   &d->vf.pf, SRIOV_LOCK_SHARED, &op->lock);
                        if (r >= 0)
                                r = sriov_lock_request_add_vf(op->lock, &op->addr, SRIOV_LOCK_EXCLUSIVE);
                } else
                        r = sriov_lock_request_new(op->owner->manager->locks, &op->hierarchy, SRIOV_LOCK_SHARED,
                                                   &op->addr, SRIOV_LOCK_EXCLUSIVE, &op->lock);
                if (r < 0) {
                        op->result.error = r;
                        op->result.failed_step = "lock";
                        bind_reply(op, 500, NULL);
                        bind_finish(op);
                        return;
                }
        }
        op->lock_submitted = true;
        if (sriov_lock_request_submit(op->lock, on_bind_granted, op) < 0) {
                bind_reply(op, 500, NULL);
                bind_finish(op);
        }
}

void sriovd_binds_kick(struct sriovd_binds *b) {
        for (struct bind_op *op = b->list, *next; op; op = next) {
                next = op->next;
                if (!op->deferred || sriovd_manager_hierarchy_recovering(b->manager, &op->hierarchy))
                        continue;
                if (op->lock_submitted)
                        bind_begin(op);
                else {
                        op->deferred = false;
                        bind_submit_lock(op);
                }
        }
}

int sriovd_binds_new(struct sriovd_manager *m, struct sriovd_binds **ret) {
        struct sriovd_binds *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        *ret = b;
        return 0;
}

struct sriovd_binds *sriovd_binds_free(struct sriovd_binds *b) {
        if (!b)
                return NULL;
        for (struct bind_op *op = b->list, *next; op; op = next) {
                next = op->next;
                bind_op_free(op);
        }
        free(b);
        return NULL;
}
