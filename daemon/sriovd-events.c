/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "sriov-json.h"
#include "sriovd-events.h"
#include "sriovd-log.h"

/* A follower that does not read is cut off rather than let its buffer grow without end. */
#define FOLLOWER_MAX_BACKLOG (32u * 1024u * 1024u)
#define FOLLOWERS_MAX 64

struct follower {
        struct sriovd_events *owner;
        struct evhttp_request *req;
        bool have_filter;
        struct sriov_addr filter;
};

struct sriovd_events {
        struct sriovd_event *ring;
        size_t capacity;
        size_t head;            /* next slot to write */
        size_t count;
        uint64_t next_seq;
        uint64_t dropped;
        uint64_t followers_cut;
        struct follower *followers[FOLLOWERS_MAX];
};

int sriovd_events_new(size_t capacity, struct sriovd_events **ret) {
        struct sriovd_events *e;

        if (capacity < 16)
                capacity = 16;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->ring = calloc(capacity, sizeof(*e->ring));
        if (!e->ring) {
                free(e);
                return -ENOMEM;
        }
        e->capacity = capacity;
        e->next_seq = 1;
        *ret = e;
        return 0;
}

static void follower_drop(struct follower *f, bool end_reply) {
        struct sriovd_events *e = f->owner;
        struct evhttp_connection *conn = evhttp_request_get_connection(f->req);

        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (e->followers[i] == f)
                        e->followers[i] = NULL;
        if (conn)
                evhttp_connection_set_closecb(conn, NULL, NULL);
        if (end_reply)
                evhttp_send_reply_end(f->req);
        free(f);
}

struct sriovd_events *sriovd_events_free(struct sriovd_events *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (e->followers[i])
                        follower_drop(e->followers[i], true);
        free(e->ring);
        free(e);
        return NULL;
}

void sriovd_event_add_delta(struct sriovd_event *ev, SriovAerKind kind, const char *name, uint64_t delta) {
        if (ev->n_deltas >= SRIOVD_EVENT_MAX_DELTAS) {
                ev->deltas_dropped++;
                return;
        }
        struct sriovd_event_delta *d = &ev->deltas[ev->n_deltas++];
        d->kind = kind;
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->delta = delta;
}

json_object *sriovd_event_to_json(const struct sriovd_event *ev) {
        json_object *o = json_object_new_object(), *deltas = json_object_new_object();
        char ts[64];
        time_t secs = (time_t) (ev->realtime_usec / 1000000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned) (ev->realtime_usec % 1000000));

        json_object_object_add(o, "seq", json_object_new_uint64(ev->seq));
        json_object_object_add(o, "time", json_object_new_string(ts));
        json_object_object_add(o, "device", sriov_addr_to_json(&ev->addr));
        json_object_object_add(o, "hierarchy", sriov_addr_to_json(&ev->hierarchy));
        json_object_object_add(o, "event", json_object_new_string(ev->kind));
        json_object_object_add(o, "device_online", ev->device_online < 0 ? NULL : json_object_new_boolean(ev->device_online));
        json_object_object_add(o, "severity", ev->severity[0] ? json_object_new_string(ev->severity) : NULL);
        if (ev->message[0])
                json_object_object_add(o, "message", json_object_new_string(ev->message));
        for (size_t i = 0; i < ev->n_deltas; i++) {
                const char *k = sriov_aer_kind_to_string(ev->deltas[i].kind);
                json_object *kobj;
                if (!json_object_object_get_ex(deltas, k, &kobj)) {
                        kobj = json_object_new_object();
                        json_object_object_add(deltas, k, kobj);
                }
                json_object_object_add(kobj, ev->deltas[i].name, json_object_new_uint64(ev->deltas[i].delta));
        }
        json_object_object_add(o, "aer_deltas", deltas);
        if (ev->deltas_dropped)
                json_object_object_add(o, "aer_deltas_dropped", json_object_new_int64(ev->deltas_dropped));
        return o;
}

static void journal_event(const struct sriovd_event *ev) {
        char deltas[512] = "";
        size_t off = 0;
        int priority = LOG_INFO;

        for (size_t i = 0; i < ev->n_deltas && off < sizeof(deltas); i++) {
                int n = snprintf(deltas + off, sizeof(deltas) - off, "%s%s.%s=+%" PRIu64, i ? " " : "",
                                 sriov_aer_kind_to_string(ev->deltas[i].kind), ev->deltas[i].name, ev->deltas[i].delta);
                if (n < 0)
                        break;
                off += (size_t) n;
        }
        if (streq(ev->kind, "FAILED_RECOVERY") || streq(ev->severity, "fatal"))
                priority = LOG_ERR;
        else if (streq(ev->kind, "BEGIN_RECOVERY") || streq(ev->severity, "nonfatal"))
                priority = LOG_WARNING;

        /* Fields make the journal searchable: PCI_SLOT=, ERROR_EVENT=, SRIOV_HIERARCHY=. */
        (void) sd_journal_send("MESSAGE=PCI %s: %s%s%s%s%s%s", SRIOV_ADDR_STR(&ev->addr), ev->kind,
                               ev->severity[0] ? " (" : "", ev->severity, ev->severity[0] ? ")" : "",
                               ev->message[0] ? ": " : "", ev->message,
                               "MESSAGE_ID=%s", strneq(ev->kind, "RECOVERY_", 9) ? SRIOVD_MESSAGE_RECOVERY : SRIOVD_MESSAGE_PCI_ERROR,
                               "PRIORITY=%i", priority,
                               "PCI_SLOT=%s", SRIOV_ADDR_STR(&ev->addr),
                               "SRIOV_HIERARCHY=%s", SRIOV_ADDR_STR(&ev->hierarchy),
                               "ERROR_EVENT=%s", ev->kind,
                               "SRIOV_SEVERITY=%s", ev->severity,
                               "SRIOV_AER_DELTAS=%s", deltas,
                               "SRIOV_EVENT_SEQ=%" PRIu64, ev->seq,
                               NULL);
        log_full(priority, "PCI %s: %s%s%s%s%s%s%s", SRIOV_ADDR_STR(&ev->addr), ev->kind,
                 ev->severity[0] ? " " : "", ev->severity, deltas[0] ? " " : "", deltas,
                 ev->message[0] ? ": " : "", ev->message);
}

static bool follower_wants(const struct follower *f, const struct sriovd_event *ev) {
        return !f->have_filter || sriov_addr_equal(&f->filter, &ev->addr) || sriov_addr_equal(&f->filter, &ev->hierarchy);
}

static void follower_send(struct follower *f, const struct sriovd_event *ev) {
        struct evhttp_connection *conn = evhttp_request_get_connection(f->req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        _cleanup_json_ json_object *o = NULL;
        struct evbuffer *buf;
        const char *text;

        if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > FOLLOWER_MAX_BACKLOG) {
                f->owner->followers_cut++;
                log_warning("Event follower does not read, disconnecting it");
                follower_drop(f, true);
                return;
        }
        o = sriovd_event_to_json(ev);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        buf = evbuffer_new();
        if (!buf)
                return;
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
        evhttp_send_reply_chunk(f->req, buf);
        evbuffer_free(buf);
}

uint64_t sriovd_events_record(struct sriovd_events *e, struct sriovd_event *ev) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ev->seq = e->next_seq++;
        ev->realtime_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;

        if (e->count == e->capacity)
                e->dropped++;   /* the oldest falls off; the count says so */
        else
                e->count++;
        e->ring[e->head] = *ev;
        e->head = (e->head + 1) % e->capacity;

        journal_event(ev);
        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (e->followers[i] && follower_wants(e->followers[i], ev))
                        follower_send(e->followers[i], ev);
        return ev->seq;
}

static const struct sriovd_event *ring_at(const struct sriovd_events *e, size_t i) {
        /* i-th oldest stored event */
        size_t start = (e->head + e->capacity - e->count) % e->capacity;
        return &e->ring[(start + i) % e->capacity];
}

json_object *sriovd_events_query_json(struct sriovd_events *e, const struct sriov_addr *device, uint64_t since,
                                      size_t limit) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        size_t matching = 0, skip;

        for (size_t i = 0; i < e->count; i++) {
                const struct sriovd_event *ev = ring_at(e, i);
                if (ev->seq > since && (!device || sriov_addr_equal(device, &ev->addr) || sriov_addr_equal(device, &ev->hierarchy)))
                        matching++;
        }
        skip = limit > 0 && matching > limit ? matching - limit : 0;
        for (size_t i = 0; i < e->count; i++) {
                const struct sriovd_event *ev = ring_at(e, i);
                if (ev->seq <= since || (device && !sriov_addr_equal(device, &ev->addr) && !sriov_addr_equal(device, &ev->hierarchy)))
                        continue;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                json_object_array_add(arr, sriovd_event_to_json(ev));
        }
        json_object_object_add(o, "events", arr);
        json_object_object_add(o, "recorded", json_object_new_uint64(e->next_seq - 1));
        json_object_object_add(o, "dropped", json_object_new_uint64(e->dropped));
        json_object_object_add(o, "capacity", json_object_new_uint64(e->capacity));
        return o;
}

static void on_follower_closed(struct evhttp_connection *conn, void *userdata) {
        follower_drop(userdata, false);
}

int sriovd_events_follow(struct sriovd_events *e, struct evhttp_request *req, const struct sriov_addr *device,
                         uint64_t since) {
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct follower *f;
        size_t slot = FOLLOWERS_MAX;

        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (!e->followers[i]) {
                        slot = i;
                        break;
                }
        if (slot == FOLLOWERS_MAX)
                return -EBUSY;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->owner = e;
        f->req = req;
        if (device) {
                f->have_filter = true;
                f->filter = *device;
        }
        e->followers[slot] = f;
        if (conn)
                evhttp_connection_set_closecb(conn, on_follower_closed, f);

        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/x-ndjson");
        evhttp_send_reply_start(req, 200, "OK");
        for (size_t i = 0; i < e->count; i++) {
                const struct sriovd_event *ev = ring_at(e, i);
                if (ev->seq > since && follower_wants(f, ev))
                        follower_send(f, ev);
        }
        return 0;
}

uint64_t sriovd_events_dropped(const struct sriovd_events *e) {
        return e->dropped;
}

uint64_t sriovd_events_recorded(const struct sriovd_events *e) {
        return e->next_seq - 1;
}
