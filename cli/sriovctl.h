/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "sriovctl-client.h"
#include "sriov-json.h"

/* Exit statuses, documented in sriovctl --help and docs/cli.md. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,            /* refused by validation, or the kernel failed it */
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_PARTIAL = 3,           /* some but not all requested VFs are usable */
        CTL_EXIT_UNREACHABLE = 4,       /* sriovd is not running or not reachable */
        CTL_EXIT_HUNG = 5,              /* the kernel has not returned from a write */
        CTL_EXIT_TIMEOUT = 6,           /* sriovd did not answer within the client's timeout */
};

/* The client's own deadline for one request (connect, send, the whole reply). */
#define CTL_TIMEOUT_MS_DEFAULT 30000u
/* Requests that wait for sriovd's own deadlines get those plus this. */
#define CTL_WAIT_MARGIN_MS 30000u
#define CTL_TIMEOUT_MS_MAX (86400u * 1000u)

struct ctl_context {
        const char *socket_path;
        uint64_t timeout_ms;            /* --timeout; 0: the request's default */
        int last_error;                 /* of the last ctl_call(), for ctl_transport_exit() */
};

struct ctl_command {
        const char *name;
        int (*run)(struct ctl_context *ctx, int argc, char **argv);
        const char *usage;
        const char *description;
};

/* Reading the API's JSON: a missing member or one of another type is "absent". */
static inline json_object *ctl_jget(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static inline const char *ctl_jstr(json_object *o, const char *key) {
        json_object *v = ctl_jget(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static inline int64_t ctl_jint(json_object *o, const char *key, int64_t def) {
        json_object *v = ctl_jget(o, key);
        return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

static inline bool ctl_jbool(json_object *o, const char *key) {
        json_object *v = ctl_jget(o, key);
        return v && json_object_get_boolean(v);
}

int ctl_status(struct ctl_context *ctx, int argc, char **argv);
int ctl_enable(struct ctl_context *ctx, int argc, char **argv);
int ctl_disable(struct ctl_context *ctx, int argc, char **argv);
int ctl_lock(struct ctl_context *ctx, int argc, char **argv);
int ctl_bind(struct ctl_context *ctx, int argc, char **argv);
int ctl_events(struct ctl_context *ctx, int argc, char **argv);
int ctl_recover(struct ctl_context *ctx, int argc, char **argv);
int ctl_reload(struct ctl_context *ctx, int argc, char **argv);
int ctl_config(struct ctl_context *ctx, int argc, char **argv);
int ctl_policy(struct ctl_context *ctx, int argc, char **argv);
int ctl_unbind(struct ctl_context *ctx, int argc, char **argv);

/* Performs a request; on transport failure prints the one-line error and returns
 * -errno. The caller maps status codes. Bounded by --timeout, else by
 * CTL_TIMEOUT_MS_DEFAULT. */
int ctl_call(struct ctl_context *ctx, const char *method, const char *path, const char *body,
             struct ctl_response *ret);
/* The same for a request that sriovd answers only once something is done (an operation,
 * a bind, a recovery): server_ms is how long sriovd's own deadlines may take; without
 * --timeout the client waits that plus CTL_WAIT_MARGIN_MS. */
int ctl_call_wait(struct ctl_context *ctx, const char *method, const char *path, const char *body,
                  uint64_t server_ms, struct ctl_response *ret);
/* The client's deadline for a request of ctl_call_wait()'s kind (server_ms 0: ctl_call's). */
uint64_t ctl_timeout_ms(const struct ctl_context *ctx, uint64_t server_ms);
/* The exit status after a failed ctl_call(): CTL_EXIT_TIMEOUT or CTL_EXIT_UNREACHABLE. */
int ctl_transport_exit(const struct ctl_context *ctx);
/* Prints an API error response on stderr and returns the matching exit status. */
int ctl_print_api_error(const struct ctl_response *resp);
