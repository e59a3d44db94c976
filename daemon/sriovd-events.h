/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PCIe error event history: a bounded ring (what falls off is counted, never
 * silently lost), one structured journal entry per event so that
 * `journalctl MESSAGE_ID=...` and `journalctl PCI_SLOT=...` find them, and followers that
 * get each event as one JSON line as it happens (GET /v1/events?follow=1). */

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-aer.h"

/* journalctl MESSAGE_ID=<id> */
#define SRIOVD_MESSAGE_PCI_ERROR "0f7a3c5e9d2b4a61b8c4e2f1a6d3b597"
#define SRIOVD_MESSAGE_RECOVERY "6b1e9d4c2a7f4e3b9c5d8a1f2e7b4c06"

#define SRIOVD_EVENT_MAX_DELTAS 16

struct sriovd_event_delta {
        SriovAerKind kind;
        char name[SRIOV_AER_NAME_MAX];
        uint64_t delta;
};

struct sriovd_event {
        uint64_t seq;                   /* assigned when recorded, 1, 2, ... */
        uint64_t realtime_usec;
        struct sriov_addr addr;
        struct sriov_addr hierarchy;
        char kind[32];                  /* BEGIN_RECOVERY, SUCCESSFUL_RECOVERY, FAILED_RECOVERY,
                                         * AER_COUNTERS, or sriovd's own RECOVERY_* steps */
        int device_online;              /* -1: not said */
        char severity[16];              /* correctable, nonfatal, fatal, or "" */
        char message[200];
        size_t n_deltas;
        struct sriovd_event_delta deltas[SRIOVD_EVENT_MAX_DELTAS];
        unsigned deltas_dropped;
};

struct sriovd_events;

/* base runs the journal's burst timer (NULL: every event is journaled on its own). */
int sriovd_events_new(size_t capacity, struct event_base *base, struct sriovd_events **ret);
struct sriovd_events *sriovd_events_free(struct sriovd_events *e);

/* Adds a delta to an event being built; counts what does not fit. */
void sriovd_event_add_delta(struct sriovd_event *ev, SriovAerKind kind, const char *name, uint64_t delta);

/* Stamps, stores, logs to the journal and streams to followers. Returns the seq. */
uint64_t sriovd_events_record(struct sriovd_events *e, struct sriovd_event *ev);

/* Answers req with {"events":[...], "recorded": N, "dropped": N, "capacity": N}; device
 * may be NULL; events with seq > since; the newest `limit` of them (0: all), oldest first.
 * Written as text straight from the compact records. -ENOMEM: nothing was sent. */
int sriovd_events_reply(struct sriovd_events *e, struct evhttp_request *req, const struct sriov_addr *device,
                        uint64_t since, size_t limit);
/* Streams every future event (matching device, if not NULL) to req as JSON lines,
 * after the stored ones with seq > since, which are replayed from the loop in batches
 * while the client reads. -EBUSY when the follower slots are taken (some are kept for
 * privileged peers). */
int sriovd_events_follow(struct sriovd_events *e, struct evhttp_request *req, const struct sriov_addr *device,
                         uint64_t since, bool privileged);

uint64_t sriovd_events_dropped(const struct sriovd_events *e);
uint64_t sriovd_events_recorded(const struct sriovd_events *e);
uint64_t sriovd_events_followers_cut(const struct sriovd_events *e);
/* Repeated identical correctable errors counted into a burst's summary line instead of
 * journaled one by one. */
uint64_t sriovd_events_journal_coalesced(const struct sriovd_events *e);
/* sizeof one history record (bench and docs). */
size_t sriovd_events_record_size(void);
