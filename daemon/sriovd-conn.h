/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The API socket's connections: who may hold how many, for how long, and what happens
 * when the process runs out of file descriptors.
 *
 * Anyone who can reach the socket may connect, so every connection is counted by the
 * peer's uid (SO_PEERCRED) right after accept(): an unprivileged uid gets at most
 * SRIOVD_CONN_MAX_PER_UID, all unprivileged ones together SRIOVD_CONN_MAX_TOTAL minus a
 * reserve that only privileged peers (root, sriovd's user, the admin group) may use.
 * Past a cap the client gets "503" and its connection is closed at once.
 *
 * Connections that send nothing are closed after SRIOVD_CONN_IDLE_SEC (headers and
 * keep-alive alike). A request that legitimately waits (an operation, a bind) is "held":
 * it gets the long timeout, and its connection is watched for the client going away
 * (EV_CLOSED), which evhttp does not notice while it waits for our reply: the
 * connection is then freed, and with it the request's wait slot.
 *
 * accept() failing with EMFILE/ENFILE would make libevent's listener retry at once for
 * ever (level-triggered) and log every failure: the listener is paused instead, with a
 * backoff, and the failures are logged once per pause. */

#include <event2/http.h>
#include <stdbool.h>
#include <sys/types.h>

#define SRIOVD_CONN_MAX_PER_UID 64
#define SRIOVD_CONN_MAX_TOTAL 2048
#define SRIOVD_CONN_PRIVILEGED_RESERVE 256
#define SRIOVD_CONN_IDLE_SEC 10
#define SRIOVD_CONN_HELD_SEC 3600

struct sriovd_conns;

/* Whether a connection's peer is privileged (decides the caps that apply). */
typedef bool (*sriovd_conn_privileged_fn)(uid_t uid, gid_t gid, int fd, void *userdata);

/* Installs itself on http (bevcb) and on its bound socket's listener. */
int sriovd_conns_new(struct event_base *base, struct evhttp *http, struct evhttp_bound_socket *bound,
                     sriovd_conn_privileged_fn privileged, void *userdata, struct sriovd_conns **ret);
struct sriovd_conns *sriovd_conns_free(struct sriovd_conns *c);
/* Before the bound socket goes away: no more error callback or resume timer on it. */
void sriovd_conns_forget_listener(struct sriovd_conns *c);

/* A request that waits for something (not a stream): long timeout, close detection.
 * Undone by sriovd_conns_release(), which sriovd_api_reply_json() calls. */
void sriovd_conns_hold(struct evhttp_request *req);
void sriovd_conns_release(struct evhttp_request *req);

/* For status and tests: live connections counted, refusals, accept errors. */
size_t sriovd_conns_count(const struct sriovd_conns *c);
