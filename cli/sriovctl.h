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
};

struct ctl_context {
        const char *socket_path;
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
 * -errno. The caller maps status codes. */
int ctl_call(struct ctl_context *ctx, const char *method, const char *path, const char *body,
             struct ctl_response *ret);
/* Prints an API error response on stderr and returns the matching exit status. */
int ctl_print_api_error(const struct ctl_response *resp);
