/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "sriov-json.h"
#include "sriovd-events.h"
#include "sriovd-intern.h"
#include "sriovd-log.h"
#include "sriovd-textbuf.h"

/* Followers. A follower's memory is what sits in its evbuffers - the events not yet
 * handed to the connection plus the connection's unsent output - counted in bytes of
 * those buffers, not of payload. Events go to the connection only while its output is
 * below FOLLOWER_LOW_WATER, in chunks, so a silent follower holds at most its pending
 * buffer; past FOLLOWER_MAX_PENDING (or when all followers together pass
 * FOLLOWERS_MAX_PENDING_TOTAL) it is cut off and its connection closed. */
#define FOLLOWER_LOW_WATER (64u * 1024u)
#define FOLLOWER_MAX_PENDING (8u * 1024u * 1024u)
#define FOLLOWERS_MAX_PENDING_TOTAL (64u * 1024u * 1024u)
/* The history is replayed to a new follower in batches of this many records, one batch
 * per loop iteration and only while its connection drains, never all at once. */
#define REPLAY_BATCH 512
#define FOLLOWERS_MAX 64
/* Slots only privileged peers may take: idle unprivileged connections cannot lock an
 * administrator out of `sriovctl events --follow`. */
#define FOLLOWERS_RESERVED_PRIVILEGED 8

/* Journal coalescing of repeated identical events per device and kind: the first is
 * logged at once, repeats within BURST_IDLE_USEC of each other are counted and logged as
 * one line when the burst ends. Folded are correctable errors and the kernel's recoveries
 * that went well (BEGIN/SUCCESSFUL_RECOVERY, KERNEL_RECOVERY_SUCCEEDED): a link that
 * flaps makes a storm of those, and each journal entry costs more than the rest of the
 * event (bench/README.md). A failure, anything fatal and sriovd's own recovery steps are
 * logged at once, after the device's open bursts, so the journal keeps their order. */
#define BURST_IDLE_USEC 1000000u
#define BURSTS_MAX 256

/* One history entry: fixed size, every text interned (as JSON, ready to copy out). */
struct event_record {
        uint64_t seq;
        uint64_t realtime_usec;
        struct sriov_addr addr;
        struct sriov_addr hierarchy;
        uint32_t kind;                  /* "\"BEGIN_RECOVERY\"" */
        uint32_t severity;              /* NONE: null */
        uint32_t message;               /* NONE: no "message" key */
        uint32_t deltas;                /* "\"aer_deltas\":{...}[,\"aer_deltas_dropped\":N]" */
        int8_t device_online;           /* -1: null */
};

struct follower {
        struct sriovd_events *owner;
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        struct event *pump;
        struct evbuffer *pending;       /* live events not yet handed to the connection */
        bool have_filter;
        struct sriov_addr filter;
        bool privileged;
        bool replaying;
        bool replay_begun;
        uint64_t replay_after;          /* replay records with seq > this */
        bool cut;                       /* close at the next pump */
};

struct burst {
        bool active;
        struct sriov_addr addr;
        uint32_t kind, severity, message, deltas;
        uint64_t first_usec, last_usec;
        uint64_t repeats;               /* not yet logged */
        struct sriovd_event first;      /* for the summary line */
};

struct sriovd_events {
        struct event_base *base;
        struct sriovd_intern *strings;
        struct event_record *ring;
        size_t capacity;
        size_t head;            /* next slot to write */
        size_t count;
        uint64_t next_seq;
        uint64_t dropped;
        uint64_t followers_cut;
        uint64_t journal_coalesced;
        size_t pending_total;
        struct follower *followers[FOLLOWERS_MAX];
        struct burst bursts[BURSTS_MAX];
        struct event *burst_timer;
        /* gmtime_r once per second, not per event */
        uint64_t ts_cached_sec;
        char ts_prefix[80];
};

static void burst_timer_cb(evutil_socket_t fd, short what, void *userdata);

int sriovd_events_new(size_t capacity, struct event_base *base, struct sriovd_events **ret) {
        struct sriovd_events *e;

        if (capacity < 16)
                capacity = 16;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->ring = calloc(capacity, sizeof(*e->ring));
        if (!e->ring || sriovd_intern_new(&e->strings) < 0 ||
            (base && !(e->burst_timer = evtimer_new(base, burst_timer_cb, e)))) {
                sriovd_events_free(e);
                return -ENOMEM;
        }
        e->base = base;
        e->capacity = capacity;
        e->next_seq = 1;
        e->ts_cached_sec = UINT64_MAX;
        *ret = e;
        return 0;
}

/* ---- JSON text ---------------------------------------------------------------------- */

static uint32_t intern_quoted(struct sriovd_events *e, const char *s) {
        char stack[512];
        struct sriovd_textbuf b;
        uint32_t id;

        if (!s || !s[0])
                return SRIOVD_INTERN_NONE;
        sriovd_textbuf_init_stack(&b, stack, sizeof(stack));
        sriovd_textbuf_json_string(&b, s, strlen(s));
        id = b.failed ? SRIOVD_INTERN_NONE : sriovd_intern_ref(e->strings, b.data, b.len);
        sriovd_textbuf_done(&b);
        return id;
}

/* "aer_deltas":{...} rendered once by json-c at record time (few events carry deltas). */
static uint32_t intern_deltas(struct sriovd_events *e, const struct sriovd_event *ev) {
        _cleanup_json_ json_object *o = json_object_new_object(), *deltas = json_object_new_object();
        char stack[1024];
        struct sriovd_textbuf b;
        const char *text;
        uint32_t id;

        if (!o || !deltas)
                return SRIOVD_INTERN_NONE;
        for (size_t i = 0; i < ev->n_deltas; i++) {
                const char *k = sriov_aer_kind_to_string(ev->deltas[i].kind);
                json_object *kobj;
                if (!json_object_object_get_ex(deltas, k, &kobj)) {
                        kobj = json_object_new_object();
                        json_object_object_add(deltas, k, kobj);
                }
                json_object_object_add(kobj, ev->deltas[i].name, json_object_new_uint64(ev->deltas[i].delta));
        }
        text = json_object_to_json_string_ext(deltas, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        sriovd_textbuf_init_stack(&b, stack, sizeof(stack));
        sriovd_textbuf_add(&b, "\"aer_deltas\":", 13);
        sriovd_textbuf_add(&b, text, strlen(text));
        if (ev->deltas_dropped)
                sriovd_textbuf_printf(&b, ",\"aer_deltas_dropped\":%u", ev->deltas_dropped);
        id = b.failed ? SRIOVD_INTERN_NONE : sriovd_intern_ref(e->strings, b.data, b.len);
        sriovd_textbuf_done(&b);
        return id;
}

static void put_interned(struct sriovd_textbuf *b, const struct sriovd_events *e, uint32_t id, const char *if_none) {
        size_t len;
        const char *s = sriovd_intern_get(e->strings, id, &len);

        if (s)
                sriovd_textbuf_add(b, s, len);
        else
                sriovd_textbuf_add(b, if_none, strlen(if_none));
}

static void put_time(struct sriovd_events *e, struct sriovd_textbuf *b, uint64_t usec) {
        uint64_t sec = usec / 1000000u;
        unsigned frac = (unsigned) (usec % 1000000u);
        char f[10];

        if (sec != e->ts_cached_sec) {
                time_t t = (time_t) sec;
                struct tm tm;
                gmtime_r(&t, &tm);
                snprintf(e->ts_prefix, sizeof(e->ts_prefix), "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
                e->ts_cached_sec = sec;
        }
        sriovd_textbuf_putc(b, '"');
        sriovd_textbuf_add(b, e->ts_prefix, strlen(e->ts_prefix));
        for (int i = 5; i >= 0; i--) {
                f[i] = (char) ('0' + frac % 10);
                frac /= 10;
        }
        f[6] = 'Z';
        f[7] = '"';
        sriovd_textbuf_add(b, f, 8);
}

/* The same text json-c made of the event object before records were compact:
 * {"seq":..,"time":..,"device":..,"hierarchy":..,"event":..,"device_online":..,
 *  "severity":..[,"message":..],"aer_deltas":{..}[,"aer_deltas_dropped":N]} */
static void record_to_text(struct sriovd_events *e, const struct event_record *r, struct sriovd_textbuf *b) {
        sriovd_textbuf_add(b, "{\"seq\":", 7);
        sriovd_textbuf_u64(b, r->seq);
        sriovd_textbuf_add(b, ",\"time\":", 8);
        put_time(e, b, r->realtime_usec);
        sriovd_textbuf_add(b, ",\"device\":", 10);
        sriovd_textbuf_addr(b, &r->addr);
        sriovd_textbuf_add(b, ",\"hierarchy\":", 13);
        sriovd_textbuf_addr(b, &r->hierarchy);
        sriovd_textbuf_add(b, ",\"event\":", 9);
        put_interned(b, e, r->kind, "\"\"");
        sriovd_textbuf_add(b, ",\"device_online\":", 17);
        if (r->device_online < 0)
                sriovd_textbuf_add(b, "null", 4);
        else if (r->device_online)
                sriovd_textbuf_add(b, "true", 4);
        else
                sriovd_textbuf_add(b, "false", 5);
        sriovd_textbuf_add(b, ",\"severity\":", 12);
        put_interned(b, e, r->severity, "null");
        if (r->message != SRIOVD_INTERN_NONE) {
                sriovd_textbuf_add(b, ",\"message\":", 11);
                put_interned(b, e, r->message, "\"\"");
        }
        sriovd_textbuf_putc(b, ',');
        put_interned(b, e, r->deltas, "\"aer_deltas\":{}");
        sriovd_textbuf_putc(b, '}');
}

/* ---- followers ---------------------------------------------------------------------- */

static void follower_free(struct follower *f) {
        struct sriovd_events *e = f->owner;

        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (e->followers[i] == f)
                        e->followers[i] = NULL;
        if (f->pending) {
                e->pending_total -= evbuffer_get_length(f->pending);
                evbuffer_free(f->pending);
        }
        if (f->pump)
                event_free(f->pump);
        free(f);
}

/* Ends the reply (shutdown): the connection stays libevent's to finish and free. */
static void follower_end(struct follower *f) {
        if (f->conn)
                evhttp_connection_set_closecb(f->conn, NULL, NULL);
        evhttp_send_reply_end(f->req);
        follower_free(f);
}

/* Closes a follower's connection: not from inside one of that connection's callbacks,
 * only from the pump. evhttp_connection_free() frees the request with it. */
static void follower_close(struct follower *f) {
        struct evhttp_connection *conn = f->conn;

        if (conn) {
                evhttp_connection_set_closecb(conn, NULL, NULL);
                follower_free(f);
                evhttp_connection_free(conn);
        } else {
                evhttp_send_reply_end(f->req);  /* detached: this frees it */
                follower_free(f);
        }
}

/* The client went away. libevent 2.1 detaches a request whose reply is still streaming
 * from its connection before freeing the connection and hands it back to us: ending the
 * reply is what frees it (evhttp_send_reply_end() on a request without a connection). */
static void on_follower_closed(struct evhttp_connection *conn, void *userdata) {
        struct follower *f = userdata;

        f->conn = NULL;
        if (!evhttp_request_get_connection(f->req))
                evhttp_send_reply_end(f->req);
        follower_free(f);
}

static size_t follower_output(const struct follower *f) {
        struct bufferevent *bev = f->conn ? evhttp_connection_get_bufferevent(f->conn) : NULL;
        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void follower_kick(struct follower *f) {
        if (f->pump && !event_pending(f->pump, EV_TIMEOUT, NULL))
                event_active(f->pump, EV_TIMEOUT, 0);
}

static void follower_cut(struct follower *f, const char *why) {
        if (f->cut)
                return;
        f->cut = true;
        f->owner->followers_cut++;
        log_warning("Event follower %s, disconnecting it", why);
        follower_kick(f);
}

static void on_chunk_written(struct evhttp_connection *conn, void *userdata) {
        follower_kick(userdata);
}

static void follower_send_chunk(struct follower *f, struct evbuffer *chunk) {
        evhttp_send_reply_chunk_with_cb(f->req, chunk, on_chunk_written, f);
}

static bool follower_wants(const struct follower *f, const struct sriov_addr *addr, const struct sriov_addr *hierarchy) {
        return !f->have_filter || sriov_addr_equal(&f->filter, addr) || sriov_addr_equal(&f->filter, hierarchy);
}

static const struct event_record *ring_at(const struct sriovd_events *e, size_t i) {
        /* i-th oldest stored event */
        size_t start = (e->head + e->capacity - e->count) % e->capacity;
        return &e->ring[(start + i) % e->capacity];
}

/* Index of the oldest stored record with seq > after (count when none). */
static size_t ring_first_after(const struct sriovd_events *e, uint64_t after) {
        uint64_t oldest;

        if (e->count == 0)
                return 0;
        oldest = ring_at(e, 0)->seq;    /* seqs are consecutive in the ring */
        if (after < oldest)
                return 0;
        return after - oldest + 1 >= e->count ? e->count : (size_t) (after - oldest + 1);
}

static void replay_batch(struct follower *f) {
        struct sriovd_events *e = f->owner;
        char stack[16384];
        struct sriovd_textbuf b;
        struct evbuffer *chunk;
        size_t i = ring_first_after(e, f->replay_after), n = 0;

        if (f->replay_begun && e->count > 0 && f->replay_after + 1 < ring_at(e, 0)->seq) {
                /* The ring overtook the replay: events this follower asked for are gone. */
                follower_cut(f, "fell behind the history while it was replayed");
                return;
        }
        f->replay_begun = true;
        sriovd_textbuf_init_stack(&b, stack, sizeof(stack));
        for (; i < e->count && n < REPLAY_BATCH; i++) {
                const struct event_record *r = ring_at(e, i);
                f->replay_after = r->seq;
                if (!follower_wants(f, &r->addr, &r->hierarchy))
                        continue;
                record_to_text(e, r, &b);
                sriovd_textbuf_putc(&b, '\n');
                n++;
        }
        if (i >= e->count)
                f->replaying = false;   /* from now on live events go to pending */
        chunk = evbuffer_new();
        if (chunk && b.len > 0 && !b.failed) {
                evbuffer_add(chunk, b.data, b.len);
                follower_send_chunk(f, chunk);
        }
        if (chunk)
                evbuffer_free(chunk);
        sriovd_textbuf_done(&b);
        if (b.failed)
                follower_cut(f, "could not be served (out of memory)");
}

static void follower_pump(evutil_socket_t fd, short what, void *userdata) {
        struct follower *f = userdata;
        struct sriovd_events *e = f->owner;

        if (f->cut) {
                follower_close(f);
                return;
        }
        if (follower_output(f) >= FOLLOWER_LOW_WATER)
                return;         /* on_chunk_written kicks us again once it drained */
        if (f->replaying) {
                replay_batch(f);
                if (f->replaying || f->cut)
                        follower_kick(f);       /* next batch in the next loop iteration */
                return;
        }
        size_t len = evbuffer_get_length(f->pending);
        if (len > 0) {
                e->pending_total -= len;
                follower_send_chunk(f, f->pending);     /* moves the chains, no copy */
        }
}

static struct follower *largest_pending(struct sriovd_events *e) {
        struct follower *best = NULL;

        for (size_t i = 0; i < FOLLOWERS_MAX; i++) {
                struct follower *f = e->followers[i];
                if (f && !f->cut && (!best || evbuffer_get_length(f->pending) > evbuffer_get_length(best->pending)))
                        best = f;
        }
        return best;
}

static void followers_push(struct sriovd_events *e, const struct event_record *r) {
        char stack[2048];
        struct sriovd_textbuf b;
        bool rendered = false;

        sriovd_textbuf_init_stack(&b, stack, sizeof(stack));
        for (size_t i = 0; i < FOLLOWERS_MAX; i++) {
                struct follower *f = e->followers[i];
                if (!f || f->cut || f->replaying || !follower_wants(f, &r->addr, &r->hierarchy))
                        continue;
                if (!rendered) {
                        record_to_text(e, r, &b);
                        sriovd_textbuf_putc(&b, '\n');
                        rendered = true;
                }
                if (b.failed || evbuffer_add(f->pending, b.data, b.len) < 0) {
                        follower_cut(f, "could not be served (out of memory)");
                        continue;
                }
                e->pending_total += b.len;
                if (evbuffer_get_length(f->pending) + follower_output(f) > FOLLOWER_MAX_PENDING)
                        follower_cut(f, "does not read");
                else
                        follower_kick(f);
        }
        sriovd_textbuf_done(&b);
        while (e->pending_total > FOLLOWERS_MAX_PENDING_TOTAL) {
                struct follower *f = largest_pending(e);
                if (!f)
                        break;
                /* Counted against the total until the pump frees it. */
                e->pending_total -= evbuffer_get_length(f->pending);
                evbuffer_drain(f->pending, evbuffer_get_length(f->pending));
                follower_cut(f, "does not read while the followers' memory is exhausted");
        }
}

int sriovd_events_follow(struct sriovd_events *e, struct evhttp_request *req, const struct sriov_addr *device,
                         uint64_t since, bool privileged) {
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct event_base *base = conn ? evhttp_connection_get_base(conn) : e->base;
        size_t slot = FOLLOWERS_MAX, used = 0;
        struct follower *f;

        for (size_t i = 0; i < FOLLOWERS_MAX; i++) {
                if (e->followers[i])
                        used++;
                else if (slot == FOLLOWERS_MAX)
                        slot = i;
        }
        if (slot == FOLLOWERS_MAX || (!privileged && used >= FOLLOWERS_MAX - FOLLOWERS_RESERVED_PRIVILEGED))
                return -EBUSY;
        if (!base)
                return -EINVAL;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->owner = e;
        f->req = req;
        f->conn = conn;
        f->privileged = privileged;
        f->pending = evbuffer_new();
        f->pump = event_new(base, -1, 0, follower_pump, f);
        if (!f->pending || !f->pump) {
                if (f->pending)
                        evbuffer_free(f->pending);
                if (f->pump)
                        event_free(f->pump);
                free(f);
                return -ENOMEM;
        }
        if (device) {
                f->have_filter = true;
                f->filter = *device;
        }
        f->replaying = true;
        f->replay_after = since;
        e->followers[slot] = f;
        if (conn)
                evhttp_connection_set_closecb(conn, on_follower_closed, f);

        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/x-ndjson");
        evhttp_send_reply_start(req, 200, "OK");
        follower_kick(f);       /* the history follows from the loop, batch by batch */
        return 0;
}

/* ---- journal ------------------------------------------------------------------------ */

static void deltas_text(const struct sriovd_event *ev, char *buf, size_t size) {
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < ev->n_deltas && off < size; i++) {
                int n = snprintf(buf + off, size - off, "%s%s.%s=+%" PRIu64, i ? " " : "",
                                 sriov_aer_kind_to_string(ev->deltas[i].kind), ev->deltas[i].name, ev->deltas[i].delta);
                if (n < 0)
                        break;
                off += (size_t) n;
        }
}

static void journal_event(const struct sriovd_event *ev, uint64_t repeats, uint64_t burst_usec) {
        char deltas[512], repeated[96] = "";
        int priority = LOG_INFO;

        deltas_text(ev, deltas, sizeof(deltas));
        if (streq(ev->kind, "FAILED_RECOVERY") || streq(ev->severity, "fatal"))
                priority = LOG_ERR;
        else if (streq(ev->kind, "BEGIN_RECOVERY") || streq(ev->severity, "nonfatal"))
                priority = LOG_WARNING;
        if (repeats > 0)
                snprintf(repeated, sizeof(repeated), " (repeated %" PRIu64 " more times in %" PRIu64 ".%03" PRIu64 " s)",
                         repeats, burst_usec / 1000000u, burst_usec / 1000u % 1000u);

        /* Fields make the journal searchable: PCI_SLOT=, ERROR_EVENT=, SRIOV_HIERARCHY=. */
        (void) sd_journal_send("MESSAGE=PCI %s: %s%s%s%s%s%s%s", SRIOV_ADDR_STR(&ev->addr), ev->kind,
                               ev->severity[0] ? " (" : "", ev->severity, ev->severity[0] ? ")" : "",
                               ev->message[0] ? ": " : "", ev->message, repeated,
                               "MESSAGE_ID=%s", strneq(ev->kind, "RECOVERY_", 9) ? SRIOVD_MESSAGE_RECOVERY : SRIOVD_MESSAGE_PCI_ERROR,
                               "PRIORITY=%i", priority,
                               "PCI_SLOT=%s", SRIOV_ADDR_STR(&ev->addr),
                               "SRIOV_HIERARCHY=%s", SRIOV_ADDR_STR(&ev->hierarchy),
                               "ERROR_EVENT=%s", ev->kind,
                               "SRIOV_SEVERITY=%s", ev->severity,
                               "SRIOV_AER_DELTAS=%s", deltas,
                               "SRIOV_EVENT_SEQ=%" PRIu64, ev->seq,
                               "SRIOV_REPEATED=%" PRIu64, repeats,
                               NULL);
        log_full(priority, "PCI %s: %s%s%s%s%s%s%s%s", SRIOV_ADDR_STR(&ev->addr), ev->kind,
                 ev->severity[0] ? " " : "", ev->severity, deltas[0] ? " " : "", deltas,
                 ev->message[0] ? ": " : "", ev->message, repeated);
}

static void burst_flush(struct sriovd_events *e, struct burst *bu) {
        if (bu->repeats > 0) {
                journal_event(&bu->first, bu->repeats, bu->last_usec - bu->first_usec);
                e->journal_coalesced += bu->repeats;
        }
        sriovd_intern_unref(e->strings, bu->kind);
        sriovd_intern_unref(e->strings, bu->severity);
        sriovd_intern_unref(e->strings, bu->message);
        sriovd_intern_unref(e->strings, bu->deltas);
        *bu = (struct burst) {};
}

static void burst_timer_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_events *e = userdata;
        struct timespec ts;
        uint64_t now, next = 0;

        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        for (size_t i = 0; i < BURSTS_MAX; i++) {
                struct burst *bu = &e->bursts[i];
                if (!bu->active)
                        continue;
                if (now - bu->last_usec >= BURST_IDLE_USEC)
                        burst_flush(e, bu);
                else if (!next || bu->last_usec + BURST_IDLE_USEC < next)
                        next = bu->last_usec + BURST_IDLE_USEC;
        }
        if (next)
                event_add(e->burst_timer, &(struct timeval) { .tv_sec = (time_t) ((next - now) / 1000000u),
                                                               .tv_usec = (suseconds_t) ((next - now) % 1000000u) });
}

static bool journal_may_fold(const struct sriovd_event *ev) {
        if (streq(ev->severity, "fatal"))
                return false;
        return streq(ev->severity, "correctable") || streq(ev->kind, "BEGIN_RECOVERY") ||
               streq(ev->kind, "SUCCESSFUL_RECOVERY") || streq(ev->kind, "KERNEL_RECOVERY_SUCCEEDED");
}

/* Journals ev unless it repeats the event of its kind its device reported last, within a
 * burst: then it is only counted. */
static void journal_coalesced(struct sriovd_events *e, const struct sriovd_event *ev, const struct event_record *r) {
        struct burst *slot = NULL, *free_slot = NULL, *oldest = NULL;

        if (!e->burst_timer) {
                journal_event(ev, 0, 0);
                return;
        }
        if (!journal_may_fold(ev)) {
                for (size_t i = 0; i < BURSTS_MAX; i++)
                        if (e->bursts[i].active && sriov_addr_equal(&e->bursts[i].addr, &ev->addr))
                                burst_flush(e, &e->bursts[i]);
                journal_event(ev, 0, 0);
                return;
        }
        for (size_t i = 0; i < BURSTS_MAX; i++) {
                struct burst *bu = &e->bursts[i];
                if (!bu->active) {
                        if (!free_slot)
                                free_slot = bu;
                        continue;
                }
                if (sriov_addr_equal(&bu->addr, &ev->addr) && bu->kind == r->kind) {
                        slot = bu;
                        break;
                }
                if (!oldest || bu->last_usec < oldest->last_usec)
                        oldest = bu;
        }
        if (slot && slot->severity == r->severity && slot->message == r->message &&
            slot->deltas == r->deltas && r->realtime_usec - slot->last_usec < BURST_IDLE_USEC) {
                slot->repeats++;
                slot->last_usec = r->realtime_usec;
                return;
        }
        if (slot)
                burst_flush(e, slot);   /* a different event of the kind ends the burst */
        else
                slot = free_slot ?: (burst_flush(e, oldest), oldest);
        journal_event(ev, 0, 0);
        *slot = (struct burst) { .active = true, .addr = ev->addr, .kind = r->kind, .severity = r->severity,
                                 .message = r->message, .deltas = r->deltas, .first_usec = r->realtime_usec,
                                 .last_usec = r->realtime_usec, .first = *ev };
        sriovd_intern_ref_id(e->strings, r->kind);
        sriovd_intern_ref_id(e->strings, r->severity);
        sriovd_intern_ref_id(e->strings, r->message);
        sriovd_intern_ref_id(e->strings, r->deltas);
        if (!event_pending(e->burst_timer, EV_TIMEOUT, NULL))
                event_add(e->burst_timer, &(struct timeval) { .tv_sec = BURST_IDLE_USEC / 1000000u,
                                                               .tv_usec = BURST_IDLE_USEC % 1000000u });
}

/* ---- the history -------------------------------------------------------------------- */

static void record_release(struct sriovd_events *e, struct event_record *r) {
        sriovd_intern_unref(e->strings, r->kind);
        sriovd_intern_unref(e->strings, r->severity);
        sriovd_intern_unref(e->strings, r->message);
        sriovd_intern_unref(e->strings, r->deltas);
        *r = (struct event_record) {};
}

struct sriovd_events *sriovd_events_free(struct sriovd_events *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < FOLLOWERS_MAX; i++)
                if (e->followers[i])
                        follower_end(e->followers[i]);
        for (size_t i = 0; i < BURSTS_MAX; i++)
                if (e->bursts[i].active)
                        burst_flush(e, &e->bursts[i]);
        if (e->burst_timer)
                event_free(e->burst_timer);
        if (e->ring)
                for (size_t i = 0; i < e->capacity; i++)
                        record_release(e, &e->ring[i]);
        free(e->ring);
        sriovd_intern_free(e->strings);
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

uint64_t sriovd_events_record(struct sriovd_events *e, struct sriovd_event *ev) {
        struct event_record *r;
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ev->seq = e->next_seq++;
        ev->realtime_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;

        if (e->count == e->capacity)
                e->dropped++;   /* the oldest falls off; the count says so */
        else
                e->count++;
        r = &e->ring[e->head];
        record_release(e, r);
        *r = (struct event_record) {
                .seq = ev->seq,
                .realtime_usec = ev->realtime_usec,
                .addr = ev->addr,
                .hierarchy = ev->hierarchy,
                .kind = intern_quoted(e, ev->kind),
                .severity = intern_quoted(e, ev->severity),
                .message = intern_quoted(e, ev->message),
                .deltas = intern_deltas(e, ev),
                .device_online = (int8_t) (ev->device_online < 0 ? -1 : !!ev->device_online),
        };
        e->head = (e->head + 1) % e->capacity;

        journal_coalesced(e, ev, r);
        followers_push(e, r);
        return ev->seq;
}

static bool record_matches(const struct event_record *r, const struct sriov_addr *device, uint64_t since) {
        return r->seq > since && (!device || sriov_addr_equal(device, &r->addr) || sriov_addr_equal(device, &r->hierarchy));
}

static void free_text(const void *data, size_t len, void *userdata) {
        free((void *) data);
}

int sriovd_events_reply(struct sriovd_events *e, struct evhttp_request *req, const struct sriov_addr *device,
                        uint64_t since, size_t limit) {
        struct sriovd_textbuf b;
        struct evbuffer *out;
        size_t matching = 0, skip, first = ring_first_after(e, since);

        for (size_t i = first; i < e->count; i++)
                if (record_matches(ring_at(e, i), device, since))
                        matching++;
        skip = limit > 0 && matching > limit ? matching - limit : 0;

        /* Written straight into one buffer sized for the answer (mmap-backed when large, so
         * it goes back to the system once sent), without a json-c tree per event. */
        sriovd_textbuf_init(&b, 128 + (limit > 0 && limit < matching ? limit : matching) * 240);
        sriovd_textbuf_add(&b, "{\"events\":[", 11);
        bool comma = false;
        for (size_t i = first; i < e->count; i++) {
                const struct event_record *r = ring_at(e, i);
                if (!record_matches(r, device, since))
                        continue;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                if (comma)
                        sriovd_textbuf_putc(&b, ',');
                record_to_text(e, r, &b);
                comma = true;
        }
        sriovd_textbuf_add(&b, "],\"recorded\":", 13);
        sriovd_textbuf_u64(&b, e->next_seq - 1);
        sriovd_textbuf_add(&b, ",\"dropped\":", 11);
        sriovd_textbuf_u64(&b, e->dropped);
        sriovd_textbuf_add(&b, ",\"capacity\":", 12);
        sriovd_textbuf_u64(&b, e->capacity);
        sriovd_textbuf_add(&b, "}\n", 2);
        if (b.failed) {
                sriovd_textbuf_done(&b);
                return -ENOMEM;
        }
        out = evbuffer_new();
        if (!out) {
                sriovd_textbuf_done(&b);
                return -ENOMEM;
        }
        size_t len = b.len;
        char *data = sriovd_textbuf_steal(&b);
        if (evbuffer_add_reference(out, data, len, free_text, NULL) < 0) {
                free(data);
                evbuffer_free(out);
                return -ENOMEM;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
        return 0;
}

uint64_t sriovd_events_dropped(const struct sriovd_events *e) {
        return e->dropped;
}

uint64_t sriovd_events_recorded(const struct sriovd_events *e) {
        return e->next_seq - 1;
}

uint64_t sriovd_events_followers_cut(const struct sriovd_events *e) {
        return e->followers_cut;
}

uint64_t sriovd_events_journal_coalesced(const struct sriovd_events *e) {
        return e->journal_coalesced;
}

size_t sriovd_events_record_size(void) {
        return sizeof(struct event_record);
}
