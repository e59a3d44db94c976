/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the API reads from a client before anything else sees it: the request path, the
 * query string and the JSON body, as pure functions of the bytes the client sent (no
 * evhttp request, no manager), so that tests/fuzz/ can run them exactly as the API does. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-macros.h"
#include "sriov-recovery.h"

#define SRIOVD_API_MAX_BODY (64 * 1024)
#define SRIOVD_API_MAX_PATH 512
#define SRIOVD_API_MAX_SEGMENTS 6

/* A request's path, split and percent-decoded. */
struct sriovd_api_path {
        size_t n;
        char *seg[SRIOVD_API_MAX_SEGMENTS];
};

void sriovd_api_path_done(struct sriovd_api_path *p);

/* Splits "/v1/devices/0000:01:00.0" into decoded segments. -EINVAL for what no valid
 * request has (no leading '/', NUL bytes after decoding, empty or dot segments, longer
 * than SRIOVD_API_MAX_PATH), -E2BIG past SRIOVD_API_MAX_SEGMENTS, -ENOMEM. */
int sriovd_api_path_parse(const char *raw, struct sriovd_api_path *ret);

/* The bool parameter name of a query string (NULL: none): absent → def; "1"/"true" → true;
 * "0"/"false" → false; anything else, or a malformed query, -EINVAL. */
int sriovd_api_query_bool(const char *query, const char *name, bool def, bool *ret);

/* GET /v1/events?device=&since=&limit=&follow= */
struct sriovd_events_query {
        bool have_device;
        struct sriov_addr device;
        uint64_t since;
        uint64_t limit;                 /* default 1000, at most 1000000 */
        bool follow;
};

/* -EINVAL with ret_error (a static string) naming what is wrong. */
int sriovd_api_events_query_parse(const char *query, struct sriovd_events_query *ret, const char **ret_error);

/* An operation id: a positive decimal number without sign, leading zero or spaces. */
int sriovd_api_operation_id_parse(const char *s, uint64_t *ret);

/* A request body: len bytes, no NUL, at most SRIOVD_API_MAX_BODY, one strict JSON value
 * and nothing after it but whitespace. NULL with ret_error (a static string) otherwise. */
json_object *sriovd_api_json_body_parse(const char *data, size_t len, const char **ret_error);

/* POST .../bind {"driver": "vfio-pci", "force": false} and .../unbind (no member, body
 * optional: body NULL). ret_driver points into body. -EINVAL: ret_bad_key names the
 * offending member (points into body), or is NULL when body is not an object or the
 * driver is missing or not a driver name. */
int sriovd_api_bind_body_parse(json_object *body, bool unbind, const char **ret_driver, bool *ret_force,
                               const char **ret_bad_key);

/* POST .../policy {"recovery": "...", "max_attempts": N, "park_idle_vfs": bool}, every
 * member optional. Unset: policy _SRIOV_RECOVERY_POLICY_INVALID, attempts 0, park -1.
 * -EINVAL as for the bind body. */
int sriovd_api_policy_body_parse(json_object *body, SriovRecoveryPolicy *ret_policy, unsigned *ret_attempts,
                                 int *ret_park, const char **ret_bad_key);

/* POST .../recover: nothing or {} (body NULL for nothing). */
int sriovd_api_recover_body_parse(json_object *body);
