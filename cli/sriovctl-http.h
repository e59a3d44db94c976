/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The head of sriovd's HTTP reply, taken apart by sriovctl. The peer is whatever
 * listens on the socket path, not necessarily sriovd: nothing in its reply is trusted.
 * Status lines, header lines and Content-Length are checked as RFC 9112 defines them,
 * with no NUL byte anywhere in the head. */

#include <stddef.h>
#include <stdint.h>

#define CTL_HTTP_MAX_HEAD (64u * 1024u)

struct ctl_http_head {
        int status;                     /* 100..599 */
        size_t body_offset;             /* first byte after the blank line */
        int64_t content_length;         /* -1 when the reply has none (body ends at EOF) */
};

/* 1 with *ret filled once the head is complete, 0 when more bytes are needed, -EBADMSG
 * for a head that is not HTTP/1.x (or a second, different Content-Length), -EFBIG for a
 * Content-Length over max_body or a head over CTL_HTTP_MAX_HEAD. */
int ctl_http_parse_head(const char *buf, size_t len, uint64_t max_body, struct ctl_http_head *ret);
