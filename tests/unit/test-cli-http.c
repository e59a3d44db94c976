/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovctl's reading of a reply head: whatever listens on the socket is not trusted. */
#include <errno.h>

#include "sriovctl-http.h"
#include "unit-test.h"

#define BYTES(s) s, sizeof(s) - 1

struct head_case {
        const char *name;
        const char *input;
        size_t len;
        int ret;
        int status;
        int64_t content_length;
        size_t body_offset;
};

static const struct head_case head_cases[] = {
        { "ok", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 1, 200, 2, 38 },
        { "http-1.1", BYTES("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 1, 404, 0, 45 },
        { "no-length", BYTES("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nx"), 1, 200, -1, 45 },
        { "no-headers", BYTES("HTTP/1.0 503 Busy\r\n\r\n"), 1, 503, -1, 21 },
        { "no-reason", BYTES("HTTP/1.0 204\r\n\r\n"), 1, 204, -1, 16 },
        { "case-and-blanks", BYTES("HTTP/1.0 200 OK\r\ncontent-LENGTH:\t 7 \r\n\r\n"), 1, 200, 7, 40 },
        { "same-length-twice", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"), 1, 200, 2, 57 },
        { "incomplete", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"), 0 },
        { "empty", BYTES(""), 0 },
        { "two-lengths", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"), -EBADMSG },
        { "negative-length", BYTES("HTTP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n"), -EBADMSG },
        { "length-with-garbage", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 12abc\r\n\r\n"), -EBADMSG },
        { "length-empty", BYTES("HTTP/1.0 200 OK\r\nContent-Length:\r\n\r\n"), -EBADMSG },
        { "length-over-max", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 1048577\r\n\r\n"), -EFBIG },
        { "length-20-digits", BYTES("HTTP/1.0 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"), -EFBIG },
        { "nul-in-head", BYTES("HTTP/1.0 200 OK\r\nX\0: y\r\n\r\n"), -EBADMSG },
        { "nul-in-status", BYTES("HTTP/1.0 2\00000 OK\r\n\r\n"), -EBADMSG },
        { "short-status", BYTES("HTTP/1.0 20 OK\r\n\r\n"), -EBADMSG },
        { "long-status", BYTES("HTTP/1.0 2000 OK\r\n\r\n"), -EBADMSG },
        { "negative-status", BYTES("HTTP/1.0 -12 OK\r\n\r\n"), -EBADMSG },
        { "status-099", BYTES("HTTP/1.0 099 Low\r\n\r\n"), -EBADMSG },
        { "status-600", BYTES("HTTP/1.0 600 High\r\n\r\n"), -EBADMSG },
        { "http-2", BYTES("HTTP/2 200 OK\r\n\r\n"), -EBADMSG },
        { "not-http", BYTES("SSH-2.0-OpenSSH_9.2\r\n\r\n"), -EBADMSG },
        { "bare-lf-only", BYTES("HTTP/1.0 200 OK\nContent-Length: 2\n\n{}"), 0 },
        { "bare-lf-in-line", BYTES("HTTP/1.0 200 OK\r\nA: b\nContent-Length: 9\r\n\r\n"), -EBADMSG },
        { "bare-cr-in-line", BYTES("HTTP/1.0 200 OK\r\nA: b\rc\r\n\r\n"), -EBADMSG },
        { "folded", BYTES("HTTP/1.0 200 OK\r\n folded: x\r\n\r\n"), -EBADMSG },
        { "space-before-colon", BYTES("HTTP/1.0 200 OK\r\nContent-Length : 9\r\n\r\n"), -EBADMSG },
        { "no-colon", BYTES("HTTP/1.0 200 OK\r\nnocolon\r\n\r\n"), -EBADMSG },
        { "no-name", BYTES("HTTP/1.0 200 OK\r\n: x\r\n\r\n"), -EBADMSG },
};

static void test_head(void **state) {
        const struct head_case *c = *state;
        struct ctl_http_head h = { .status = -7, .content_length = -7, .body_offset = 7 };

        assert_errno_equal(ctl_http_parse_head(c->input, c->len, 1u << 20, &h), c->ret);
        if (c->ret == 1) {
                assert_int_equal(h.status, c->status);
                assert_int_equal(h.content_length, c->content_length);
                assert_int_equal(h.body_offset, c->body_offset);
        } else {
                /* nothing written on failure or "need more" */
                assert_int_equal(h.status, -7);
                assert_int_equal(h.body_offset, 7);
        }
}

/* A peer that sends a head and never ends it cannot make sriovctl buffer for ever. */
static void test_head_without_end(void **state) {
        size_t n = CTL_HTTP_MAX_HEAD + 16;
        _cleanup_free_ char *buf = malloc(n);
        struct ctl_http_head h;

        assert_non_null(buf);
        memcpy(buf, "HTTP/1.0 200 OK\r\n", 17);
        memset(buf + 17, 'a', n - 17);
        assert_int_equal(ctl_http_parse_head(buf, 1000, 1u << 20, &h), 0);
        assert_int_equal(ctl_http_parse_head(buf, n, 1u << 20, &h), -EFBIG);
        assert_int_equal(ctl_http_parse_head(NULL, 0, 1u << 20, &h), -EINVAL);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(head_cases); i++)
                unit_add(&t, test_head, (void *) &head_cases[i], "head/%s", head_cases[i].name);
        unit_add(&t, test_head_without_end, NULL, "head/without-end");
        return unit_run(&t, "cli-http");
}
