/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "sriovd-conn.h"
#include "sriovd-log.h"

struct slot {                           /* indexed by fd */
        bool used, privileged;
        uid_t uid;
        ino_t ino;                      /* tells a reused fd from ours */
};

struct uid_count {
        uid_t uid;
        unsigned n;
};

struct hold {
        struct sriovd_conns *owner;
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        int fd;
        ino_t ino;
        struct event *ev;
        struct hold *next;
};

struct sriovd_conns {
        struct event_base *base;
        struct evhttp *http;
        struct evconnlistener *listener;
        sriovd_conn_privileged_fn privileged;
        void *userdata;

        struct event *adopt;            /* runs right after evhttp accepted */
        struct bufferevent **pending;
        size_t n_pending, cap_pending;

        struct slot *slots;
        size_t n_slots;
        struct uid_count *uids;
        size_t n_uids;
        size_t total, unprivileged;
        uint64_t last_sweep_usec;

        uint64_t refused, refused_logged_usec;

        struct event *resume;           /* the listener paused after EMFILE */
        unsigned backoff_ms;
        uint64_t accept_errors;

        struct hold *holds;
};

/* evhttp_request_get_connection() has no way back to us, and sriovd_api_reply_json() is
 * called from everywhere: the one instance, set while it exists. */
static struct sriovd_conns *the_conns;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static struct uid_count *uid_count(struct sriovd_conns *c, uid_t uid, bool add) {
        for (size_t i = 0; i < c->n_uids; i++)
                if (c->uids[i].uid == uid)
                        return &c->uids[i];
        if (!add)
                return NULL;
        struct uid_count *n = reallocarray(c->uids, c->n_uids + 1, sizeof(*n));
        if (!n)
                return NULL;
        c->uids = n;
        c->uids[c->n_uids] = (struct uid_count) { .uid = uid };
        return &c->uids[c->n_uids++];
}

static void slot_forget(struct sriovd_conns *c, int fd) {
        struct slot *s = &c->slots[fd];
        struct uid_count *u;

        if (!s->used)
                return;
        u = uid_count(c, s->uid, false);
        if (u && u->n > 0)
                u->n--;
        c->total--;
        if (!s->privileged)
                c->unprivileged--;
        *s = (struct slot) {};
}

static bool fd_is(int fd, ino_t ino) {
        struct stat st;
        return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}

/* Connections evhttp closed are noticed when their fd comes back from accept(); before
 * refusing anyone, look for the others. */
static void sweep(struct sriovd_conns *c) {
        uint64_t now = now_usec();

        if (now - c->last_sweep_usec < 100000)
                return;
        c->last_sweep_usec = now;
        for (size_t fd = 0; fd < c->n_slots; fd++)
                if (c->slots[fd].used && !fd_is((int) fd, c->slots[fd].ino))
                        slot_forget(c, (int) fd);
}

static bool over_cap(struct sriovd_conns *c, uid_t uid, bool privileged) {
        const struct uid_count *u = uid_count(c, uid, false);

        if (privileged)
                return c->total >= SRIOVD_CONN_MAX_TOTAL;
        return c->total >= SRIOVD_CONN_MAX_TOTAL || c->unprivileged >= SRIOVD_CONN_MAX_TOTAL - SRIOVD_CONN_PRIVILEGED_RESERVE ||
               (u && u->n >= SRIOVD_CONN_MAX_PER_UID);
}

/* The client learns why; evhttp sees the connection end and frees it. */
static void refuse(struct sriovd_conns *c, int fd, uid_t uid, bool per_uid) {
        char body[256], head[256];
        uint64_t now = now_usec();
        int n;

        n = snprintf(body, sizeof(body),
                     "{\"error\":\"Too many connections %s; close some and try again\",\"code\":503}\n",
                     per_uid ? "from this user" : "to sriovd");
        snprintf(head, sizeof(head),
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 "Connection: close\r\n\r\n", n);
        (void) send(fd, head, strlen(head), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) send(fd, body, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) shutdown(fd, SHUT_RDWR);
        c->refused++;
        /* Once per 5 s at most: the refusals are what a flood looks like. */
        if (now - c->refused_logged_usec >= 5000000) {
                c->refused_logged_usec = now;
                log_warning("Refusing API connections (uid %u %s); %zu open, %" PRIu64 " refused so far",
                            (unsigned) uid, per_uid ? "is at its per-user cap" : "while sriovd is at its cap",
                            c->total, c->refused);
        }
}

static void adopt_one(struct sriovd_conns *c, struct bufferevent *bev) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct stat st;
        int fd = bufferevent_getfd(bev);
        bool privileged;

        if (fd < 0 || fstat(fd, &st) < 0)
                return;
        if ((size_t) fd >= c->n_slots) {
                size_t n = (size_t) fd + 64;
                struct slot *s = reallocarray(c->slots, n, sizeof(*s));
                if (!s)
                        return;
                memset(s + c->n_slots, 0, (n - c->n_slots) * sizeof(*s));
                c->slots = s;
                c->n_slots = n;
        }
        /* The fd is new to this connection: whatever we counted on it is gone. */
        slot_forget(c, fd);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                (void) shutdown(fd, SHUT_RDWR);
                return;
        }
        privileged = c->privileged ? c->privileged(cred.uid, cred.gid, fd, c->userdata) : cred.uid == 0;
        if (over_cap(c, cred.uid, privileged)) {
                sweep(c);
                if (over_cap(c, cred.uid, privileged)) {
                        const struct uid_count *u = uid_count(c, cred.uid, false);
                        refuse(c, fd, cred.uid, !privileged && u && u->n >= SRIOVD_CONN_MAX_PER_UID);
                        return;
                }
        }
        struct uid_count *u = uid_count(c, cred.uid, true);
        if (!u) {
                (void) shutdown(fd, SHUT_RDWR);
                return;
        }
        u->n++;
        c->total++;
        if (!privileged)
                c->unprivileged++;
        c->slots[fd] = (struct slot) { .used = true, .privileged = privileged, .uid = cred.uid, .ino = st.st_ino };
}

static void on_adopt(evutil_socket_t unused, short what, void *userdata) {
        struct sriovd_conns *c = userdata;

        /* accept() works again: the next EMFILE starts the backoff afresh. */
        c->backoff_ms = 0;
        for (size_t i = 0; i < c->n_pending; i++)
                adopt_one(c, c->pending[i]);
        c->n_pending = 0;
}

/* evhttp calls this for every accepted connection, before it sets the fd: the fd is
 * read in on_adopt(), which runs before the loop polls again. */
static struct bufferevent *on_new_bufferevent(struct event_base *base, void *userdata) {
        struct sriovd_conns *c = userdata;
        struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

        if (!bev)
                return NULL;
        if (c->n_pending == c->cap_pending) {
                size_t n = c->cap_pending ? c->cap_pending * 2 : 16;
                struct bufferevent **p = reallocarray(c->pending, n, sizeof(*p));
                if (!p)
                        return bev;     /* not counted, still served */
                c->pending = p;
                c->cap_pending = n;
        }
        c->pending[c->n_pending++] = bev;
        event_active(c->adopt, EV_TIMEOUT, 1);
        return bev;
}

static void on_resume(evutil_socket_t unused, short what, void *userdata) {
        struct sriovd_conns *c = userdata;

        if (c->listener)
                evconnlistener_enable(c->listener);
}

static void on_accept_error(struct evconnlistener *listener, void *unused) {
        /* The listener's userdata is evhttp's, not ours. */
        struct sriovd_conns *c = the_conns;
        int err = EVUTIL_SOCKET_ERROR();

        if (!c)
                return;
        bool resources = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;

        /* Level-triggered: left enabled, the listener would fail again at once, for ever. */
        evconnlistener_disable(listener);
        c->accept_errors++;
        if (c->backoff_ms == 0)
                log_warning("Cannot accept API connections: %s (%zu open); pausing accept() with backoff, up to 2 s%s",
                            strerror(err), c->total,
                            resources ? "; raise LimitNOFILE= or find who holds the connections" : "");
        c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 2000 ? 2000 : c->backoff_ms * 2) : 50;
        event_add(c->resume, &(struct timeval) { .tv_sec = c->backoff_ms / 1000,
                                                 .tv_usec = (suseconds_t) (c->backoff_ms % 1000) * 1000 });
}

int sriovd_conns_new(struct event_base *base, struct evhttp *http, struct evhttp_bound_socket *bound,
                     sriovd_conn_privileged_fn privileged, void *userdata, struct sriovd_conns **ret) {
        struct sriovd_conns *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->base = base;
        c->http = http;
        c->privileged = privileged;
        c->userdata = userdata;
        c->listener = bound ? evhttp_bound_socket_get_listener(bound) : NULL;
        c->adopt = event_new(base, -1, 0, on_adopt, c);
        c->resume = evtimer_new(base, on_resume, c);
        if (!c->adopt || !c->resume) {
                sriovd_conns_free(c);
                return -ENOMEM;
        }
        evhttp_set_bevcb(http, on_new_bufferevent, c);
        /* Headers and idle keep-alive alike: a connection that sends nothing goes. */
        evhttp_set_timeout(http, SRIOVD_CONN_IDLE_SEC);
        if (c->listener)
                evconnlistener_set_error_cb(c->listener, on_accept_error);
        the_conns = c;
        *ret = c;
        return 0;
}

void sriovd_conns_forget_listener(struct sriovd_conns *c) {
        if (!c || !c->listener)
                return;
        evconnlistener_set_error_cb(c->listener, NULL);
        event_del(c->resume);
        c->listener = NULL;
}

static void hold_free(struct hold *h) {
        for (struct hold **p = &h->owner->holds; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        break;
                }
        if (h->ev)
                event_free(h->ev);
        free(h);
}

struct sriovd_conns *sriovd_conns_free(struct sriovd_conns *c) {
        if (!c)
                return NULL;
        while (c->holds)
                hold_free(c->holds);
        if (c->http)
                evhttp_set_bevcb(c->http, NULL, NULL);
        if (c->listener)
                evconnlistener_set_error_cb(c->listener, NULL);
        if (c->adopt)
                event_free(c->adopt);
        if (c->resume)
                event_free(c->resume);
        free(c->pending);
        free(c->slots);
        free(c->uids);
        if (the_conns == c)
                the_conns = NULL;
        free(c);
        return NULL;
}

static void on_held_closed(evutil_socket_t fd, short what, void *userdata) {
        struct hold *h = userdata;
        struct evhttp_connection *conn = h->conn;
        bool ours = fd_is(h->fd, h->ino);

        hold_free(h);
        if (!ours)
                return;         /* the connection ended another way; the fd is someone else's */
        /* The client went away while its request waits: free the connection, whose close
         * callback gives the request's wait slot back. */
        log_debug("A waiting API client went away; closing its connection");
        evhttp_connection_free(conn);
}

void sriovd_conns_hold(struct evhttp_request *req) {
        struct sriovd_conns *c = the_conns;
        struct evhttp_connection *conn = req ? evhttp_request_get_connection(req) : NULL;
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        struct stat st;
        struct hold *h;
        int fd;

        if (!c || !bev)
                return;
        for (h = c->holds; h; h = h->next)
                if (h->req == req)
                        return;
        fd = bufferevent_getfd(bev);
        if (fd < 0 || fstat(fd, &st) < 0)
                return;
        h = calloc(1, sizeof(*h));
        if (!h)
                return;
        *h = (struct hold) { .owner = c, .req = req, .conn = conn, .fd = fd, .ino = st.st_ino, .next = c->holds };
        h->ev = event_new(c->base, fd, EV_CLOSED | EV_PERSIST, on_held_closed, h);
        c->holds = h;
        if (!h->ev || event_add(h->ev, NULL) < 0) {
                hold_free(h);
                return;
        }
        evhttp_connection_set_timeout(conn, SRIOVD_CONN_HELD_SEC);
}

void sriovd_conns_release(struct evhttp_request *req) {
        struct sriovd_conns *c = the_conns;

        if (!c || !req)
                return;
        for (struct hold *h = c->holds; h; h = h->next)
                if (h->req == req) {
                        evhttp_connection_set_timeout(h->conn, SRIOVD_CONN_IDLE_SEC);
                        hold_free(h);
                        return;
                }
}

size_t sriovd_conns_count(const struct sriovd_conns *c) {
        return c ? c->total : 0;
}
