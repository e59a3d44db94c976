/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The request target of an HTTP request line ("/v1/events?device=...&limit=5"), taken
 * apart as the API does: evhttp's URI parser (with the flags evhttp itself uses for
 * incoming requests), then the path split and decoded, then the query parameters each
 * handler reads, and every segment as the PCI address or operation id it may be. */
#include <event2/http.h>

#include "fuzz-util.h"
#include "sriovd-api-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sriovd_api_path_done) struct sriovd_api_path p = {};
        _cleanup_free_ char *target = NULL;
        struct evhttp_uri *uri;
        const char *query, *err = NULL;
        struct sriovd_events_query q;
        bool wait;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        target = fuzz_strndup(data, size);
        if (!target)
                return 0;
        uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
        if (!uri)
                return 0;

        r = sriovd_api_path_parse(evhttp_uri_get_path(uri), &p);
        if (r >= 0) {
                fuzz_assert(p.n <= SRIOVD_API_MAX_SEGMENTS);
                for (size_t i = 0; i < p.n; i++) {
                        struct sriov_addr a;
                        uint64_t id;

                        fuzz_assert(p.seg[i] && p.seg[i][0] && !streq(p.seg[i], ".") && !streq(p.seg[i], ".."));
                        if (sriovd_api_operation_id_parse(p.seg[i], &id) >= 0)
                                fuzz_assert(id > 0);
                        (void) sriov_addr_parse(p.seg[i], &a);
                }
        } else
                fuzz_assert(r == -EINVAL || r == -E2BIG || r == -ENOMEM);

        query = evhttp_uri_get_query(uri);
        if (sriovd_api_query_bool(query, "wait", true, &wait) < 0)
                fuzz_assert(query);
        if (sriovd_api_events_query_parse(query, &q, &err) >= 0)
                fuzz_assert(q.limit <= 1000000 && q.since < UINT64_MAX);
        else
                fuzz_assert(err && query);

        evhttp_uri_free(uri);
        return 0;
}
