/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sriovctl-http.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* "Content-Length: 123" after the colon: optional blanks, 1-19 digits, optional blanks. */
static int parse_content_length(const char *v, const char *end, uint64_t max_body, int64_t *ret) {
        uint64_t n = 0;
        size_t digits = 0;

        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        for (; v < end && is_digit(*v); v++) {
                if (++digits > 19)
                        return -EFBIG;
                n = n * 10 + (uint64_t) (*v - '0');
        }
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        if (digits == 0 || v != end)
                return -EBADMSG;
        if (n > max_body)
                return -EFBIG;
        *ret = (int64_t) n;
        return 0;
}

int ctl_http_parse_head(const char *buf, size_t len, uint64_t max_body, struct ctl_http_head *ret) {
        const char *end = NULL, *p, *eol;
        struct ctl_http_head h = { .content_length = -1 };

        if (!buf || !ret || max_body > INT64_MAX)
                return -EINVAL;
        for (size_t i = 0; i + 3 < len && i < CTL_HTTP_MAX_HEAD; i++)
                if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
                        end = buf + i + 2;      /* the blank line's CRLF */
                        break;
                }
        if (!end)
                return len >= CTL_HTTP_MAX_HEAD ? -EFBIG : 0;
        if (memchr(buf, '\0', (size_t) (end - buf)))
                return -EBADMSG;

        /* "HTTP/1.x NNN reason" */
        if (end - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !is_digit(buf[7]) || buf[8] != ' ' ||
            !is_digit(buf[9]) || !is_digit(buf[10]) || !is_digit(buf[11]) || (buf[12] != ' ' && buf[12] != '\r'))
                return -EBADMSG;
        h.status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        if (h.status < 100 || h.status > 599)
                return -EBADMSG;

        p = memchr(buf, '\n', (size_t) (end - buf));
        if (!p || p[-1] != '\r')
                return -EBADMSG;
        for (p = p + 1; p < end; p = eol + 2) {
                const char *colon;

                eol = memchr(p, '\r', (size_t) (end - p));
                if (!eol || eol[1] != '\n')
                        return -EBADMSG;        /* a bare CR or LF inside a line */
                if (memchr(p, '\n', (size_t) (eol - p)))
                        return -EBADMSG;
                colon = memchr(p, ':', (size_t) (eol - p));
                if (!colon || colon == p)
                        return -EBADMSG;        /* no field name */
                for (const char *c = p; c < colon; c++)
                        if (*c == ' ' || *c == '\t')
                                return -EBADMSG;        /* obsolete line folding, or a space before ':' */
                if (colon - p == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
                        int64_t n;
                        int r = parse_content_length(colon + 1, eol, max_body, &n);
                        if (r < 0)
                                return r;
                        if (h.content_length >= 0 && h.content_length != n)
                                return -EBADMSG;        /* two lengths: which body is it? */
                        h.content_length = n;
                }
        }
        h.body_offset = (size_t) (end - buf) + 2;
        *ret = h;
        return 1;
}
