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
#include <stdint.h>

#include "sriov-macros.h"

struct ctl_response {
        int status;
        char *body;             /* NUL-terminated */
        size_t body_len;
        json_object *json;      /* parsed body, NULL when not JSON */
};

void ctl_response_done(struct ctl_response *r);

/* -ECONNREFUSED / -ENOENT when no daemon listens (caller prints the friendly line),
 * -EBADMSG for a reply that is not HTTP, -ETIMEDOUT when connecting, sending and
 * reading the whole reply took longer than timeout_ms (0: no limit). */
int ctl_request(const char *socket_path, const char *method, const char *path, const char *body,
                uint64_t timeout_ms, struct ctl_response *ret);

/* Streams a response: on_line is called for every complete body line until the peer
 * closes or on_line returns < 0. Used by "follow" requests. timeout_ms bounds the
 * time until the response's headers are in, not the stream after them. */
int ctl_request_stream(const char *socket_path, const char *method, const char *path, uint64_t timeout_ms,
                       int (*on_line)(const char *line, void *userdata), void *userdata, int *ret_status);

/* One line on stderr saying the daemon is not reachable and how to start it, or that
 * it did not answer within timeout_ms (-ETIMEDOUT). */
int ctl_report_connect_error(const char *socket_path, uint64_t timeout_ms, int r);

/* The "error" member of an error body, or a generic text. */
const char *ctl_response_error(const struct ctl_response *r);
