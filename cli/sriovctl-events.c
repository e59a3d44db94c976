/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sriov-address.h"
#include "sriovctl.h"

static void print_event(json_object *ev) {
        json_object *deltas, *online;

        printf("%-27s %-14s %-20s", strna(ctl_jstr(ev, "time")), strna(ctl_jstr(ev, "device")), strna(ctl_jstr(ev, "event")));
        if (ctl_jstr(ev, "severity"))
                printf(" %s", ctl_jstr(ev, "severity"));
        if (json_object_object_get_ex(ev, "device_online", &online) && online)
                printf(" online=%d", json_object_get_boolean(online));
        if (json_object_object_get_ex(ev, "aer_deltas", &deltas)) {
                json_object_object_foreach(deltas, kind, counters) {
                        json_object_object_foreach(counters, name, val) {
                                printf(" %s.%s+%" PRId64, kind, name, json_object_get_int64(val));
                        }
                }
        }
        if (ctl_jstr(ev, "message"))
                printf("  %s", ctl_jstr(ev, "message"));
        printf("\n");
        fflush(stdout);
}

static int on_line(const char *line, void *userdata) {
        bool json = *(bool *) userdata;
        json_object *ev;

        if (json) {
                printf("%s\n", line);
                fflush(stdout);
                return 0;
        }
        ev = json_tokener_parse(line);
        if (ev) {
                print_event(ev);
                json_object_put(ev);
        }
        return 0;
}

int ctl_events(struct ctl_context *ctx, int argc, char **argv) {
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "json", no_argument, NULL, 'j' },
                { "limit", required_argument, NULL, 'n' },
                { "since", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(ctl_response_done) struct ctl_response resp = {};
        bool follow = false, json = false;
        const char *limit = NULL, *since = NULL;
        char path[128];
        size_t off;
        json_object *events, *v;
        int c, r, status = 0;

        optind = 0;
        while ((c = getopt_long(argc, argv, "fjn:s:h", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'n':
                        if (strspn(optarg, "0123456789") != strlen(optarg) || !optarg[0] || strlen(optarg) > 7) {
                                fprintf(stderr, "sriovctl events: --limit needs a whole number\n");
                                return CTL_EXIT_USAGE;
                        }
                        limit = optarg;
                        break;
                case 's':
                        if (strspn(optarg, "0123456789") != strlen(optarg) || !optarg[0] || strlen(optarg) > 19) {
                                fprintf(stderr, "sriovctl events: --since needs an event sequence number\n");
                                return CTL_EXIT_USAGE;
                        }
                        since = optarg;
                        break;
                case 'h':
                        printf("Usage: sriovctl events [ADDRESS] [--follow] [--json] [--limit N] [--since SEQ]\n\n"
                               "PCIe error events (kernel recovery uevents, AER counter changes) sriovd saw.\n"
                               "ADDRESS filters by function or by root port (hierarchy). --follow waits for more.\n");
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }
        off = (size_t) snprintf(path, sizeof(path), "/v1/events?follow=%d", follow ? 1 : 0);
        if (argc - optind > 1) {
                fprintf(stderr, "sriovctl events: at most one ADDRESS\n");
                return CTL_EXIT_USAGE;
        }
        if (optind < argc) {
                struct sriov_addr a;
                if (sriov_addr_parse(argv[optind], &a) < 0) {
                        fprintf(stderr, "sriovctl events: '%s' is not a PCI address\n", argv[optind]);
                        return CTL_EXIT_USAGE;
                }
                off += (size_t) snprintf(path + off, sizeof(path) - off, "&device=%s", SRIOV_ADDR_STR(&a));
        }
        if (limit)
                off += (size_t) snprintf(path + off, sizeof(path) - off, "&limit=%s", limit);
        if (since)
                snprintf(path + off, sizeof(path) - off, "&since=%s", since);

        if (follow) {
                r = ctl_request_stream(ctx->socket_path, "GET", path, ctl_timeout_ms(ctx, 0), on_line, &json, &status);
                if (r < 0) {
                        ctl_report_connect_error(ctx->socket_path, ctl_timeout_ms(ctx, 0), r);
                        return r == -ETIMEDOUT ? CTL_EXIT_TIMEOUT : CTL_EXIT_UNREACHABLE;
                }
                return status == 200 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
        }
        if (ctl_call(ctx, "GET", path, NULL, &resp) < 0)
                return ctl_transport_exit(ctx);
        if (resp.status != 200)
                return ctl_print_api_error(&resp);
        if (json) {
                fputs(resp.body, stdout);
                return CTL_EXIT_OK;
        }
        if (resp.json && json_object_object_get_ex(resp.json, "events", &events)) {
                for (size_t i = 0; i < json_object_array_length(events); i++)
                        print_event(json_object_array_get_idx(events, i));
                if (json_object_object_get_ex(resp.json, "dropped", &v) && json_object_get_int64(v) > 0)
                        printf("(%" PRId64 " older events dropped from the history)\n", json_object_get_int64(v));
        }
        return CTL_EXIT_OK;
}
