/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Prometheus metrics: GET /metrics on the API socket, and optionally on a TCP listener
 * ([daemon] metrics-listen) that serves nothing but GET /metrics and GET /healthz, so
 * that no state can ever change over TCP.
 *
 * The text exposition format 0.0.4 is rendered straight from the device model and the
 * counters kept here into one evbuffer: a scrape reads no sysfs and builds no JSON.
 * Counters are added where the thing happens (operations, hung writes, error uevents,
 * recoveries, reloads); gauges are read from the model at scrape time. Label sets are
 * bounded by the number of functions; per-VF series only with metrics-per-vf = yes. */

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-config.h"

#define SRIOVD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sriovd_manager;
struct sriovd_metrics;

typedef enum sriovd_op_kind {
        SRIOVD_OP_KIND_ENABLE,          /* sriov_numvfs to N > 0 */
        SRIOVD_OP_KIND_DISABLE,         /* sriov_numvfs to 0 */
        SRIOVD_OP_KIND_BIND,
        SRIOVD_OP_KIND_UNBIND,
        _SRIOVD_OP_KIND_MAX,
        _SRIOVD_OP_KIND_INVALID = -EINVAL,
} SriovdOpKind;

typedef enum sriovd_op_result {
        SRIOVD_OP_RESULT_COMPLETE,
        SRIOVD_OP_RESULT_PARTIAL,
        SRIOVD_OP_RESULT_FAILED,
        SRIOVD_OP_RESULT_HUNG,          /* the kernel write outlived its deadline */
        _SRIOVD_OP_RESULT_MAX,
        _SRIOVD_OP_RESULT_INVALID = -EINVAL,
} SriovdOpResult;

typedef enum sriovd_recovery_result {
        SRIOVD_RECOVERY_RESULT_SUCCEEDED,
        SRIOVD_RECOVERY_RESULT_FAILED,
        SRIOVD_RECOVERY_RESULT_NOTIFIED,        /* policy notify: nothing was done */
        _SRIOVD_RECOVERY_RESULT_MAX,
        _SRIOVD_RECOVERY_RESULT_INVALID = -EINVAL,
} SriovdRecoveryResult;

typedef enum sriovd_hung_kind {
        SRIOVD_HUNG_NUMVFS,             /* sriov_numvfs */
        SRIOVD_HUNG_BIND,               /* driver_override, bind, unbind, drivers_probe */
        SRIOVD_HUNG_AUTOPROBE,          /* sriov_drivers_autoprobe, before sriov_numvfs */
        SRIOVD_HUNG_DEVICE,             /* remove, rescan, reset (sriovd's recovery) */
        _SRIOVD_HUNG_KIND_MAX,
} SriovdHungKind;

int sriovd_metrics_new(struct sriovd_manager *m, struct sriovd_metrics **ret);
struct sriovd_metrics *sriovd_metrics_free(struct sriovd_metrics *x);

/* Applies [daemon] metrics-listen and metrics-per-vf (at start and after each reload). A
 * listen address that cannot be bound is logged and the listener stays off (or keeps
 * its previous address); -errno then. */
int sriovd_metrics_configure(struct sriovd_metrics *x, const struct sriov_daemon_config *d);

/* Counters. x may be NULL (then nothing is counted). */
void sriovd_metrics_operation_done(struct sriovd_metrics *x, const struct sriov_addr *pf, SriovdOpKind kind,
                                   SriovdOpResult result, uint64_t duration_usec);
void sriovd_metrics_hung_write(struct sriovd_metrics *x, SriovdHungKind kind);
/* An ERROR_EVENT uevent on addr; severity is the most severe AER class whose counters
 * grew ("correctable", "nonfatal", "fatal"), or "" when none did. */
void sriovd_metrics_error_uevent(struct sriovd_metrics *x, const struct sriov_addr *addr, const char *severity);
void sriovd_metrics_recovery_done(struct sriovd_metrics *x, const struct sriov_addr *pf, SriovdRecoveryResult result);
/* A reload (SIGHUP, sriovctl reload, or a file change) ended; errors (may be NULL) say why
 * it was refused. */
void sriovd_metrics_config_reloaded(struct sriovd_metrics *x, bool ok, char *const *errors);

/* {"ok": bool, "time": RFC 3339, "errors": [...]} of the last reload, or NULL before any. */
json_object *sriovd_metrics_last_reload_json(struct sriovd_metrics *x);

/* The whole exposition into out. */
int sriovd_metrics_render(struct sriovd_metrics *x, struct evbuffer *out);
/* GET /metrics (and HEAD): 200 with the exposition. */
void sriovd_metrics_reply(struct sriovd_metrics *x, struct evhttp_request *req);

const char *sriovd_op_result_to_string(SriovdOpResult r);
const char *sriovd_op_kind_to_string(SriovdOpKind k);
