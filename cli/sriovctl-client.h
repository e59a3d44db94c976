/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small blocking HTTP/1.0 client for sriovd's Unix socket.
 *
 * Hand-written on purpose: libevent 2.1 (Debian 12) cannot point an evhttp client
 * connection at a Unix socket (that arrived in 2.2), and libcurl is not among the
 * project's dependencies. The protocol subset is tiny: one request, "Connection: close",
 * a body delimited by Content-Length or by the end of the stream. */

#include <json-c/json.h>
#include <stdbool.h>

#include "sriov-macros.h"

struct ctl_response {
        int status;
        char *body;             /* NUL-terminated */
        size_t body_len;
        json_object *json;      /* parsed body, NULL when not JSON */
};

void ctl_response_done(struct ctl_response *r);

/* -ECONNREFUSED / -ENOENT when no daemon listens (caller prints the friendly line),
 * -EBADMSG for a reply that is not HTTP. */
int ctl_request(const char *socket_path, const char *method, const char *path, const char *body,
                struct ctl_response *ret);

/* Streams a response: on_line is called for every complete body line until the peer
 * closes or on_line returns < 0. Used by "follow" requests. */
int ctl_request_stream(const char *socket_path, const char *method, const char *path,
                       int (*on_line)(const char *line, void *userdata), void *userdata, int *ret_status);

/* One line on stderr saying the daemon is not reachable and how to start it. */
int ctl_report_connect_error(const char *socket_path, int r);

/* The "error" member of an error body, or a generic text. */
const char *ctl_response_error(const struct ctl_response *r);
