/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* HTTP/1.1 + JSON on a Unix socket (libevent evhttp). Documented in docs/api.md.
 * Every path segment, address, number and body from a client is validated here before
 * anything else sees it; changing state needs a privileged peer (SO_PEERCRED). */

#include <event2/http.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "sriov-macros.h"

struct sriovd_manager;
struct sriovd_api;

/* Serves on the listening socket systemd passed (LISTEN_FDS, sriovd.socket) if there is
 * one, else binds socket_path itself. */
int sriovd_api_new(struct sriovd_manager *m, const char *socket_path, struct sriovd_api **ret);
/* Where clients connect: socket_path, or the inherited socket's own path. */
const char *sriovd_api_socket_path(const struct sriovd_api *api);
/* Closes the listening socket at once (connections already accepted are still served)
 * and removes its file unless systemd passed it: at exit, before anything that may wait,
 * so that a worker thread stuck in the kernel cannot keep it open. Idempotent. */
void sriovd_api_stop_listening(struct sriovd_api *api);
/* Stops listening and closes every connection. */
struct sriovd_api *sriovd_api_free(struct sriovd_api *api);

/* Who besides root and sriovd's own user may change state (name or numeric gid; NULL: nobody). */
void sriovd_api_set_admin_group(struct sriovd_api *api, const char *group);

/* The peer of req (SO_PEERCRED), and whether it may change state: root, sriovd's own
 * user, or a member of the admin group (primary or supplementary). */
int sriovd_api_peer_uid(struct evhttp_request *req, uid_t *ret);
bool sriovd_api_peer_privileged(struct sriovd_api *api, struct evhttp_request *req);

/* Replies with a JSON body (consumes the reference). */
void sriovd_api_reply_json(struct evhttp_request *req, int status, json_object *body);
/* Replies {"error": message, "code": status}. */
void sriovd_api_reply_error(struct evhttp_request *req, int status, const char *fmt, ...) _printf_(3, 4);
