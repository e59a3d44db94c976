/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "sriov-json.h"
#include "sriovd-netdev.h"
#include "sriovd-api.h"
#include "sriovd-api-parse.h"
#include "sriovd-conn.h"
#include "sriovd-lockfiles.h"
#include "sriov-flock.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-operation.h"
#include "sriovd-bind.h"
#include "sriovd-events.h"
#include "sriovd-recovery.h"
#include "sriovd-config.h"
#include "sriovd-metrics.h"
#include "sriovd-device-text.h"
#include "sriovd-textbuf.h"
#include "sriov-bind.h"
#include "sriov-enable.h"

#define API_MAX_BODY SRIOVD_API_MAX_BODY
#define API_MAX_HEADERS (16 * 1024)
#define API_MAX_SEGMENTS SRIOVD_API_MAX_SEGMENTS

struct sriovd_api {
        struct sriovd_manager *manager;
        struct evhttp *http;
        struct evhttp_bound_socket *bound;      /* NULL once we stopped listening */
        char *socket_path;                      /* where clients connect */
        dev_t file_dev;                         /* the socket file we bound (ino 0: none), */
        ino_t file_ino;                         /* to unlink ours only */
        gid_t admin_gid;
        bool have_admin_gid;
        struct sriovd_conns *conns;
};

typedef void (*api_handler)(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p);

static const char *status_reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 422: return "Unprocessable Entity";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
        }
}

void sriovd_api_reply_json(struct evhttp_request *req, int status, json_object *body) {
        struct evbuffer *buf;
        const char *text;

        if (!req) {             /* an internal request (drift repair, recovery): nobody to tell */
                json_object_put(body);
                return;
        }
        sriovd_conns_release(req);      /* no longer waiting: the short timeout again */
        buf = evbuffer_new();

        text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                    : "{}";
        if (buf) {
                evbuffer_add(buf, text, strlen(text));
                evbuffer_add(buf, "\n", 1);
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evhttp_send_reply(req, status, status_reason(status), buf);
        if (buf)
                evbuffer_free(buf);
        json_object_put(body);
}

void sriovd_api_reply_error(struct evhttp_request *req, int status, const char *fmt, ...) {
        json_object *o;
        char msg[512];
        va_list ap;

        if (!req)
                return;
        o = json_object_new_object();
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_object_object_add(o, "error", json_object_new_string(msg));
        json_object_object_add(o, "code", json_object_new_int(status));
        sriovd_api_reply_json(req, status, o);
}

static int peer_credentials(struct evhttp_request *req, struct ucred *ret) {
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        socklen_t len = sizeof(*ret);
        evutil_socket_t fd;

        if (!bev)
                return -ENOTCONN;
        fd = bufferevent_getfd(bev);
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret, &len) < 0)
                return -errno ?: -ENOTCONN;
        return 0;
}

int sriovd_api_peer_uid(struct evhttp_request *req, uid_t *ret) {
        struct ucred cred;
        int r = peer_credentials(req, &cred);

        if (r < 0)
                return r;
        *ret = cred.uid;
        return 0;
}

/* The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13); the kernel says how much
 * room they need (ERANGE), so a user in many groups is not cut off at a fixed size. */
static bool peer_in_group(int fd, gid_t gid) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 64 * sizeof(gid_t);

        for (unsigned tries = 0; tries < 4; tries++) {
                free(groups);
                groups = malloc(len ?: sizeof(gid_t));
                if (!groups)
                        return false;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
                        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                                if (groups[i] == gid)
                                        return true;
                        return false;
                }
                if (errno != ERANGE)
                        return false;
        }
        return false;
}

/* Root, the daemon's own user, and members of the admin group may change state;
 * everyone who can reach the socket may read. */
static bool creds_privileged(struct sriovd_api *api, uid_t uid, gid_t gid, int fd) {
        if (uid == 0 || uid == geteuid())
                return true;
        if (!api || !api->have_admin_gid)
                return false;
        return gid == api->admin_gid || peer_in_group(fd, api->admin_gid);
}

static bool conn_privileged(uid_t uid, gid_t gid, int fd, void *userdata) {
        return creds_privileged(userdata, uid, gid, fd);
}

bool sriovd_api_peer_privileged(struct sriovd_api *api, struct evhttp_request *req) {
        struct ucred cred;

        if (peer_credentials(req, &cred) < 0)
                return false;
        if (cred.uid == 0 || cred.uid == geteuid())
                return true;
        if (!api || !api->have_admin_gid)
                return false;
        if (cred.gid == api->admin_gid)
                return true;
        /* Supplementary groups too: admins are usually members of the group, not users
         * whose primary group it is. */
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        return bev && peer_in_group(bufferevent_getfd(bev), api->admin_gid);
}

/* A device as the model has it, plus what only the daemon knows - the desired VF count,
 * drift from it, operations queued or running on a PF, a root port's recovery state -
 * only for PFs and root ports. */
static bool device_has_daemon_fields(const struct sriov_device *d) {
        return d->role == SRIOV_ROLE_PF ||
               (d->role == SRIOV_ROLE_BRIDGE && sriov_addr_equal(sriov_device_hierarchy(d), &d->addr));
}

static void free_reply_text(const void *data, size_t len, void *userdata) {
        free((void *) data);
}

/* Sends a text body without copying it: the evbuffer references the block and frees it
 * once written, so a large reply goes back to the system when it is sent. */
static void api_reply_text(struct evhttp_request *req, int status, struct sriovd_textbuf *b) {
        struct evbuffer *out = evbuffer_new();
        size_t len = b->len;
        char *data = b->failed ? NULL : sriovd_textbuf_steal(b);

        sriovd_textbuf_done(b);
        if (!out || !data || evbuffer_add_reference(out, data, len, free_reply_text, NULL) < 0) {
                free(data);
                if (out)
                        evbuffer_free(out);
                sriovd_api_reply_error(req, 500, "Out of memory");
                return;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evhttp_send_reply(req, status, status_reason(status), out);
        evbuffer_free(out);
}

static void put_json(struct sriovd_textbuf *b, const char *key, json_object *o) {
        const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                             : "null";
        sriovd_textbuf_printf(b, ",\"%s\":", key);
        sriovd_textbuf_add(b, text, strlen(text));
        json_object_put(o);
}

/* The daemon's members: "desired_num_vfs" and "drift" end a PF's "sriov" object;
 * "hierarchy" (root ports), "recovery" and "operations" (PFs) end the device. */
/* What one reply's device texts share: the API, and the model's recovery blockers,
 * computed once per reply rather than once per root port. */
struct text_context {
        struct sriovd_api *api;
        struct sriov_blockers blockers;
};

static void text_sriov_tail(struct sriovd_textbuf *b, const struct sriov_device *d, void *userdata) {
        struct text_context *ctx = userdata;
        struct sriovd_api *api = ctx->api;
        const struct sriov_desired *want = sriovd_manager_get_desired(api->manager, &d->addr);
        bool busy = sriovd_ops_busy(api->manager->ops, &d->addr);

        sriovd_textbuf_add(b, ",\"desired_num_vfs\":", 19);
        if (want)
                sriovd_textbuf_i64(b, want->num_vfs);
        else
                sriovd_textbuf_add(b, "null", 4);
        if (want && !busy && want->num_vfs != d->pf.n_vfs)
                sriovd_textbuf_add(b, ",\"drift\":true", 13);
        else
                sriovd_textbuf_add(b, ",\"drift\":false", 14);
}

static bool is_hierarchy_port(const struct sriov_device *d) {
        return d->role == SRIOV_ROLE_BRIDGE && sriov_addr_equal(sriov_device_hierarchy(d), &d->addr);
}

static void text_tail(struct sriovd_textbuf *b, const struct sriov_device *d, void *userdata) {
        struct text_context *ctx = userdata;
        struct sriovd_api *api = ctx->api;

        if (is_hierarchy_port(d))
                put_json(b, "hierarchy", sriovd_recovery_hierarchy_json(api->manager->recovery, &d->addr, &ctx->blockers));
        if (d->role != SRIOV_ROLE_PF)
                return;
        put_json(b, "recovery", sriovd_recovery_pf_json(api->manager->recovery, &d->addr));
        put_json(b, "operations", sriovd_ops_for_pf_json(api->manager->ops, &d->addr));
        put_json(b, "network", sriovd_netdev_pf_json(api->manager->netdev, d));
}

static void device_text(struct text_context *ctx, struct sriovd_textbuf *b, const struct sriov_device *d) {
        struct sriovd_api *api = ctx->api;
        const struct sriovd_device_text_extras extras = {
                .sriov_tail = text_sriov_tail,
                .tail = text_tail,
                .userdata = ctx,
        };

        if (device_has_daemon_fields(d))
                sriovd_device_text_full(b, api->manager->model, d, &extras);
        else
                sriovd_device_text(b, api->manager->model, d);
}

/* The whole host is written as text, device by device, into one buffer: no json-c tree
 * of every function (16k functions made a 110 MiB heap that stayed). */
static void reply_devices(struct sriovd_api *api, struct evhttp_request *req, SriovRole only_role) {
        const struct sriov_model *model = api->manager->model;
        struct text_context ctx = { .api = api };
        struct sriovd_textbuf b;

        /* Root ports are listed (all roles, or bridges): one pass for their blockers. */
        if ((only_role < 0 || only_role == SRIOV_ROLE_BRIDGE) && sriov_model_blockers(model, &ctx.blockers) < 0) {
                sriovd_api_reply_error(req, 503, "Out of memory");
                return;
        }
        sriovd_textbuf_init(&b, 64 + sriov_model_size(model) * (only_role == SRIOV_ROLE_PF ? 128 : 1152));
        sriovd_textbuf_add(&b, "{\"devices\":[", 12);
        bool comma = false;
        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                if (only_role >= 0 && d->role != only_role)
                        continue;
                if (comma)
                        sriovd_textbuf_putc(&b, ',');
                comma = true;
                device_text(&ctx, &b, d);
        }
        /* Answered while the configuration is still being applied at start: say so, so
         * that a caller does not take the counts of that moment for the configured ones. */
        sriovd_textbuf_printf(&b, "],\"daemon\":{\"ready\":%s,\"applying_configuration\":%u}}\n",
                              api->manager->starting ? "false" : "true",
                              api->manager->starting ? api->manager->startup_pending : 0u);
        sriov_blockers_done(&ctx.blockers);
        api_reply_text(req, 200, &b);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type cmd, const char *allow) {
        if (evhttp_request_get_command(req) == cmd)
                return true;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
        sriovd_api_reply_error(req, 405, "Method not allowed here; allowed: %s", allow);
        return false;
}

static void handle_devices(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
        SriovRole role = _SRIOV_ROLE_INVALID;

        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;

        if (query) {
                struct evkeyvalq params = {};
                const char *v;

                if (evhttp_parse_query_str(query, &params) < 0) {
                        sriovd_api_reply_error(req, 400, "Malformed query string");
                        return;
                }
                v = evhttp_find_header(&params, "role");
                if (v) {
                        role = sriov_role_from_string(v);
                        if (role < 0) {
                                evhttp_clear_headers(&params);
                                sriovd_api_reply_error(req, 400, "Unknown role '%.32s': pf, vf, bridge or other", v);
                                return;
                        }
                }
                evhttp_clear_headers(&params);
        }
        reply_devices(api, req, role);
}

static void handle_device(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        const struct sriov_device *d;
        struct sriov_addr addr;

        if (sriov_addr_parse(p->seg[2], &addr) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed PCI address '%.64s': expected DDDD:BB:SS.F, e.g. 0000:3b:00.0",
                                       p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;

        d = sriov_model_get(api->manager->model, &addr);
        if (!d) {
                sriovd_api_reply_error(req, 404, "No PCI function %s on this system", SRIOV_ADDR_STR(&addr));
                return;
        }
        struct text_context ctx = { .api = api };
        if (is_hierarchy_port(d) && sriov_model_blockers(api->manager->model, &ctx.blockers) < 0) {
                sriovd_api_reply_error(req, 503, "Out of memory");
                return;
        }
        struct sriovd_textbuf b;
        sriovd_textbuf_init(&b, 2048 + (d->role == SRIOV_ROLE_PF ? d->pf.n_vfs * 160 : 0));
        sriovd_textbuf_add(&b, "{\"device\":", 10);
        device_text(&ctx, &b, d);
        sriovd_textbuf_add(&b, "}\n", 2);
        sriov_blockers_done(&ctx.blockers);
        api_reply_text(req, 200, &b);
}

/* The bool query parameter name: absent → def; "1"/"true" → true; "0"/"false" → false. */
static int query_bool(struct evhttp_request *req, const char *name, bool def, bool *ret) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);

        return sriovd_api_query_bool(uri ? evhttp_uri_get_query(uri) : NULL, name, def, ret);
}

static json_object *read_json_body(struct evhttp_request *req, const char **ret_error) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);

        if (len > API_MAX_BODY) {       /* before evbuffer_pullup() copies it */
                *ret_error = "body too large";
                return NULL;
        }
        return sriovd_api_json_body_parse(len > 0 ? (const char *) evbuffer_pullup(in, -1) : "", len, ret_error);
}

static void handle_device_sriov(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        struct sriov_enable_request request;
        _cleanup_json_ json_object *body = NULL;
        const char *err = NULL;
        struct sriov_addr addr;
        bool wait_param;

        if (sriov_addr_parse(p->seg[2], &addr) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed PCI address '%.64s': expected DDDD:BB:SS.F, e.g. 0000:3b:00.0",
                                       p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_POST, "POST"))
                return;
        body = read_json_body(req, &err);
        if (!body) {
                sriovd_api_reply_error(req, 400, "Bad request body: %s", err);
                return;
        }
        if (sriov_enable_request_from_json(body, &request, &err) < 0) {
                sriovd_api_reply_error(req, 400, "Bad request body: %s", err);
                return;
        }
        if (query_bool(req, "wait", request.wait, &wait_param) < 0) {
                sriovd_api_reply_error(req, 400, "wait must be 0, 1, true or false");
                return;
        }
        request.wait = wait_param;
        sriovd_ops_submit(api->manager->ops, &addr, &request, req);
}

static void handle_device_bind(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        _cleanup_json_ json_object *body = NULL;
        const char *err = NULL, *driver = NULL, *bad_key = NULL;
        struct sriov_addr addr;
        bool unbind = streq(p->seg[3], "unbind"), force = false;

        if (sriov_addr_parse(p->seg[2], &addr) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed PCI address '%.64s': expected DDDD:BB:SS.F, e.g. 0000:3b:00.0",
                                       p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_POST, "POST"))
                return;
        if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0 || !unbind) {
                body = read_json_body(req, &err);
                if (!body || !json_object_is_type(body, json_type_object)) {
                        sriovd_api_reply_error(req, 400, "Bad request body: %s", err ?: "a JSON object is required");
                        return;
                }
        }
        if (sriovd_api_bind_body_parse(body, unbind, &driver, &force, &bad_key) < 0) {
                if (bad_key)
                        sriovd_api_reply_error(req, 400, "Bad request body: unknown or mistyped member '%.32s' (allowed: %s)",
                                               bad_key, unbind ? "none" : "driver (string), force (boolean)");
                else
                        sriovd_api_reply_error(req, 400, "Bad request body: driver must be a driver name ([A-Za-z0-9_-], at most 64)");
                return;
        }
        sriovd_binds_submit(api->manager->binds, &addr, unbind ? NULL : driver, force, req);
}

static void handle_events(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        struct sriovd_events_query q;
        const char *bad = NULL;

        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;
        if (sriovd_api_events_query_parse(uri ? evhttp_uri_get_query(uri) : NULL, &q, &bad) < 0) {
                sriovd_api_reply_error(req, 400, "%s", bad);
                return;
        }
        if (q.follow) {
                /* A stream that may stay quiet for long: not an idle connection. */
                struct evhttp_connection *conn = evhttp_request_get_connection(req);
                if (conn)
                        evhttp_connection_set_timeout(conn, SRIOVD_CONN_HELD_SEC);
                int r = sriovd_events_follow(api->manager->events, req, q.have_device ? &q.device : NULL, q.since,
                                             sriovd_api_peer_privileged(api, req));
                if (r < 0)
                        sriovd_api_reply_error(req, 503, "Too many followers");
                return;
        }
        if (sriovd_events_reply(api->manager->events, req, q.have_device ? &q.device : NULL, q.since,
                                (size_t) q.limit) < 0)
                sriovd_api_reply_error(req, 500, "Out of memory");
}

static void handle_device_recover(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        struct sriov_addr addr;

        if (sriov_addr_parse(p->seg[2], &addr) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed PCI address '%.64s': expected DDDD:BB:SS.F", p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_POST, "POST"))
                return;
        if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
                const char *err = NULL;
                _cleanup_json_ json_object *body = read_json_body(req, &err);
                if (!body || sriovd_api_recover_body_parse(body) < 0) {
                        sriovd_api_reply_error(req, 400, "Bad request body: %s", err ?: "recover takes no parameters ({} or nothing)");
                        return;
                }
        }
        sriovd_recovery_start_pf(api->manager->recovery, &addr, "requested through the API", req);
}

static void handle_device_policy(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        _cleanup_json_ json_object *body = NULL;
        SriovRecoveryPolicy policy = _SRIOV_RECOVERY_POLICY_INVALID;
        const struct sriov_device *d;
        const char *err = NULL, *bad_key = NULL;
        struct sriov_addr addr;
        unsigned attempts = 0;
        int park = -1;

        if (sriov_addr_parse(p->seg[2], &addr) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed PCI address '%.64s': expected DDDD:BB:SS.F", p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_POST, "POST"))
                return;
        body = read_json_body(req, &err);
        if (!body || !json_object_is_type(body, json_type_object)) {
                sriovd_api_reply_error(req, 400, "Bad request body: %s", err ?: "a JSON object is required");
                return;
        }
        if (sriovd_api_policy_body_parse(body, &policy, &attempts, &park, &bad_key) < 0) {
                sriovd_api_reply_error(req, 400, "Bad request body: '%.32s' is unknown or has a bad value (recovery: "
                                       "none|notify|remove-rescan|reset, max_attempts: 1..16, park_idle_vfs: boolean)", bad_key);
                return;
        }
        d = sriov_model_get(api->manager->model, &addr);
        if (!d) {
                sriovd_api_reply_error(req, 404, "No PCI function %s on this system", SRIOV_ADDR_STR(&addr));
                return;
        }
        if (d->role != SRIOV_ROLE_PF) {
                sriovd_api_reply_error(req, 422, "%s is not an SR-IOV PF", SRIOV_ADDR_STR(&addr));
                return;
        }
        if (sriovd_recovery_set_policy(api->manager->recovery, &addr, policy, attempts, park) < 0) {
                sriovd_api_reply_error(req, 500, "Out of memory");
                return;
        }
        if (park > 0)
                sriovd_ops_park_idle(api->manager->ops, &addr);
        sriovd_api_reply_json(req, 200, sriovd_recovery_pf_json(api->manager->recovery, &addr));
}

static void handle_reload(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        if (!method_is(req, EVHTTP_REQ_POST, "POST"))
                return;
        r = sriovd_config_reload(api->manager, &errors);
        if (r < 0) {
                json_object *o = json_object_new_object(), *arr = json_object_new_array();
                for (char **e = errors; e && *e; e++)
                        json_object_array_add(arr, json_object_new_string(*e));
                json_object_object_add(o, "error", json_object_new_string(
                        "the configuration has errors; the running configuration is kept"));
                json_object_object_add(o, "code", json_object_new_int(422));
                json_object_object_add(o, "errors", arr);
                sriovd_api_reply_json(req, 422, o);
                return;
        }
        sriovd_api_reply_json(req, 200, sriovd_config_json(api->manager));
}

static void handle_config(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;
        sriovd_api_reply_json(req, 200, sriovd_config_json(api->manager));
}

static void handle_operations(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;
        sriovd_api_reply_json(req, 200, sriovd_ops_list_json(api->manager->ops));
}

static void handle_operation(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        uint64_t id;
        bool wait;

        if (sriovd_api_operation_id_parse(p->seg[2], &id) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed operation id '%.32s': a positive whole number", p->seg[2]);
                return;
        }
        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
                return;
        if (query_bool(req, "wait", false, &wait) < 0) {
                sriovd_api_reply_error(req, 400, "wait must be 0, 1, true or false");
                return;
        }
        sriovd_ops_reply_one(api->manager->ops, id, wait, req);
}

static void handle_metrics(struct sriovd_api *api, struct evhttp_request *req, const struct sriovd_api_path *p) {
        if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && !method_is(req, EVHTTP_REQ_GET, "GET, HEAD"))
                return;
        sriovd_metrics_reply(api->manager->metrics, req);
}

struct api_route {
        const char *pattern[API_MAX_SEGMENTS];  /* "*" matches one segment */
        size_t n;
        api_handler handler;
        bool writes;                            /* only privileged peers */
};

static const struct api_route routes[] = {
        { { "v1", "devices" }, 2, handle_devices, false },
        { { "v1", "devices", "*" }, 3, handle_device, false },
        { { "v1", "devices", "*", "sriov" }, 4, handle_device_sriov, true },
        { { "v1", "devices", "*", "bind" }, 4, handle_device_bind, true },
        { { "v1", "devices", "*", "unbind" }, 4, handle_device_bind, true },
        { { "v1", "devices", "*", "recover" }, 4, handle_device_recover, true },
        { { "v1", "devices", "*", "policy" }, 4, handle_device_policy, true },
        { { "v1", "operations" }, 2, handle_operations, false },
        { { "v1", "events" }, 2, handle_events, false },
        { { "v1", "config" }, 2, handle_config, false },
        { { "v1", "reload" }, 2, handle_reload, true },
        { { "v1", "operations", "*" }, 3, handle_operation, false },
        { { "metrics" }, 1, handle_metrics, false },
};

static void api_dispatch(struct evhttp_request *req, void *userdata) {
        struct sriovd_api *api = userdata;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        _cleanup_(sriovd_api_path_done) struct sriovd_api_path p = {};

        if (!uri || sriovd_api_path_parse(evhttp_uri_get_path(uri), &p) < 0) {
                sriovd_api_reply_error(req, 400, "Malformed request path");
                return;
        }

        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                const struct api_route *r = &routes[i];
                bool match = r->n == p.n;

                for (size_t j = 0; match && j < r->n; j++)
                        if (!streq(r->pattern[j], "*") && !streq(r->pattern[j], p.seg[j]))
                                match = false;
                if (!match)
                        continue;
                if (r->writes && evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
                    !sriovd_api_peer_privileged(api, req)) {
                        sriovd_api_reply_error(req, 403, "Changing state needs root or the admin group; this caller may only read");
                        return;
                }
                r->handler(api, req, &p);
                return;
        }
        sriovd_api_reply_error(req, 404, "No such API path");
}

static int socket_in_use(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                return 1;
        return 0;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *s = copy + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

static void api_prepare_lock_dir(struct sriovd_api *api);

void sriovd_api_set_admin_group(struct sriovd_api *api, const char *group) {
        struct group *g;
        unsigned long gid;
        char *end;

        if (!api)
                return;
        api->have_admin_gid = false;
        if (!group) {
                api_prepare_lock_dir(api);
                return;
        }
        g = getgrnam(group);
        gid = strtoul(group, &end, 10);
        if (g) {
                api->admin_gid = g->gr_gid;
                api->have_admin_gid = true;
        } else if (group[0] >= '0' && group[0] <= '9' && !*end) {
                api->admin_gid = (gid_t) gid;   /* a numeric gid, as the configuration allows */
                api->have_admin_gid = true;
        } else
                log_warning("Admin group '%s' does not exist; only root and sriovd's own user may change state", group);
        api_prepare_lock_dir(api);
}

/* Lock files: root and the admin group only (anyone who can open one can hold it). */
static void api_prepare_lock_dir(struct sriovd_api *api) {
        char dir[PATH_MAX];
        int r;

        if (!api->manager->options->runtime_dir)
                return;
        snprintf(dir, sizeof(dir), "%s/locks", api->manager->options->runtime_dir);
        r = sriov_flock_dir_prepare(dir, api->have_admin_gid ? api->admin_gid : (gid_t) -1);
        if (r < 0)
                log_warning_errno(r, "Cannot prepare the lock directory %s", dir);
        else if (api->manager->model)
                sriovd_lock_files_create(api->manager, NULL);
}

/* The listening socket systemd passed (socket activation, sriovd.socket): the one bound
 * to path, or the only one passed. 0 and *ret_fd untouched when none was passed. An fd
 * that is not a listening AF_UNIX stream socket is refused: serving HTTP on whatever
 * systemd was told to pass (a datagram socket, a FIFO) would fail in obscure ways later. */
static int inherited_socket(const char *path, int *ret_fd) {
        int n = sd_listen_fds(true), found = -EBADF;

        if (n < 0)
                return log_error_errno(n, "Cannot read the sockets systemd passed (LISTEN_FDS)");
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                int r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
                if (r < 0)
                        return log_error_errno(r, "Cannot inspect the socket systemd passed as fd %d", fd);
                if (r == 0)
                        return log_error_errno(ENOTSOCK, "systemd passed fd %d, which is not a listening Unix stream "
                                               "socket; the API needs ListenStream=%s", fd, path);
                if (found < 0 && (n == 1 || sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0))
                        found = fd;
        }
        if (n == 0)
                return 0;
        if (found < 0)
                return log_error_errno(ENOENT, "systemd passed %d sockets, none of them bound to %s", n, path);
        /* The others are of no use here; systemd keeps its own copies. */
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
                if (fd != found)
                        (void) close(fd);
        /* libevent's listener accepts until EAGAIN: on a blocking socket the loop would
         * stop in accept(). systemd's own sockets are non-blocking; others may not be. */
        int flags = fcntl(found, F_GETFL);
        if (flags < 0 || fcntl(found, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(errno, "Cannot make the socket systemd passed non-blocking");
        *ret_fd = found;
        return 1;
}

/* The path clients connect to on an inherited socket: systemd's unit decides it. */
static char *inherited_socket_path(int fd, const char *configured) {
        struct sockaddr_un sa = {};
        socklen_t len = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0 || len <= offsetof(struct sockaddr_un, sun_path) ||
            sa.sun_path[0] == '\0')
                return strdup(configured);      /* unnamed or abstract: say what we were told */
        len -= (socklen_t) offsetof(struct sockaddr_un, sun_path);
        sa.sun_path[len < sizeof(sa.sun_path) ? len : sizeof(sa.sun_path) - 1] = '\0';
        if (!streq(sa.sun_path, configured))
                log_notice("Serving the API on %s, the socket systemd passed, not on the configured %s",
                           sa.sun_path, configured);
        return strdup(sa.sun_path);
}

/* Our own socket, when systemd passed none. */
static int bind_socket(struct sriovd_api *api, const char *socket_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Socket path %s too long", socket_path);
        strncpy(sa.sun_path, socket_path, sizeof(sa.sun_path) - 1);

        r = mkdir_parents(socket_path);
        if (r < 0)
                return log_error_errno(r, "Cannot create the directory of %s", socket_path);

        /* A socket file left by a crashed instance is removed; a live one is not ours.
         * (An instance whose worker is stuck in the kernel keeps listening after
         * SIGKILL and is "live" here: sriovd.socket avoids that.) */
        if (lstat(socket_path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_error_errno(EEXIST, "%s exists and is not a socket, refusing to replace it", socket_path);
                if (socket_in_use(socket_path) > 0)
                        return log_error_errno(EADDRINUSE, "Another sriovd is listening on %s", socket_path);
                (void) unlink(socket_path);
        }

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create the API socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Cannot bind the API socket to %s", socket_path);
        /* Anyone may connect and read; writes are checked per request by peer credentials. */
        if (chmod(socket_path, 0666) < 0)
                return log_error_errno(errno, "Cannot set the mode of %s", socket_path);
        if (lstat(socket_path, &st) == 0) {
                api->file_dev = st.st_dev;
                api->file_ino = st.st_ino;
        }
        if (listen(fd, 128) < 0)
                return log_error_errno(errno, "Cannot listen on %s", socket_path);
        return TAKE_FD(fd);
}

int sriovd_api_new(struct sriovd_manager *m, const char *socket_path, struct sriovd_api **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sriovd_api *api;
        int r;

        api = calloc(1, sizeof(*api));
        if (!api)
                return -ENOMEM;
        api->manager = m;
        r = inherited_socket(socket_path, &fd);
        if (r > 0)
                api->socket_path = inherited_socket_path(fd, socket_path);      /* systemd's file */
        else if (r == 0) {
                fd = bind_socket(api, socket_path);
                api->socket_path = strdup(socket_path);
        }
        if (r < 0 || fd < 0) {
                sriovd_api_free(api);
                return r < 0 ? r : fd;
        }
        api->http = evhttp_new(m->base);
        if (!api->socket_path || !api->http) {
                sriovd_api_free(api);
                return -ENOMEM;
        }
        sriovd_api_set_admin_group(api, m->options->admin_group);

        evhttp_set_max_body_size(api->http, API_MAX_BODY);
        evhttp_set_max_headers_size(api->http, API_MAX_HEADERS);
        /* Accept every method so that the router answers 405 with an Allow header
         * instead of evhttp's bare default. */
        evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
        evhttp_set_gencb(api->http, api_dispatch, api);
        /* Bound or inherited alike: both non-blocking. */
        api->bound = evhttp_accept_socket_with_handle(api->http, fd);
        if (!api->bound) {
                sriovd_api_free(api);
                return log_error_errno(EIO, "Cannot accept connections on %s", socket_path);
        }
        TAKE_FD(fd);    /* evhttp's listener owns and closes it now */
        /* Caps per peer, short idle timeouts, a listener that backs off on EMFILE. */
        r = sriovd_conns_new(m->base, api->http, api->bound, conn_privileged, api, &api->conns);
        if (r < 0) {
                sriovd_api_free(api);
                return log_error_errno(r, "Cannot set up connection accounting");
        }

        *ret = api;
        return 0;
}

const char *sriovd_api_socket_path(const struct sriovd_api *api) {
        return api ? api->socket_path : NULL;
}

void sriovd_api_stop_listening(struct sriovd_api *api) {
        struct stat st;

        if (!api)
                return;
        if (api->bound) {
                /* The connection accounting holds the listener (error callback, backoff timer). */
                sriovd_conns_forget_listener(api->conns);
                evhttp_del_accept_socket(api->http, api->bound);        /* closes our fd */
                api->bound = NULL;
        }
        /* Only the file we bound (never systemd's, file_ino 0): a new instance may have
         * replaced it already. */
        if (api->file_ino != 0 && lstat(api->socket_path, &st) == 0 && st.st_dev == api->file_dev &&
            st.st_ino == api->file_ino)
                (void) unlink(api->socket_path);
        api->file_ino = 0;
}

struct sriovd_api *sriovd_api_free(struct sriovd_api *api) {
        if (!api)
                return NULL;
        sriovd_api_stop_listening(api);
        api->conns = sriovd_conns_free(api->conns);
        if (api->http)
                evhttp_free(api->http);
        free(api->socket_path);
        free(api);
        return NULL;
}
