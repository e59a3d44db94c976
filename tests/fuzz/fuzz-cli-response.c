/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A reply as sriovctl reads it from the socket: the head taken apart by
 * ctl_http_parse_head(), fed as a whole and byte by byte (sriovctl parses whatever has
 * arrived after each read, so every prefix must be safe and agree with the whole). */
#include <errno.h>

#include "fuzz-util.h"
#include "sriovctl-http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;
        struct ctl_http_head whole, part;
        uint64_t max_body = 1u << 20;
        int r, k;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        r = ctl_http_parse_head(buf, size, max_body, &whole);
        fuzz_assert(r == 0 || r == 1 || r == -EBADMSG || r == -EFBIG);
        if (r == 1) {
                fuzz_assert(whole.status >= 100 && whole.status <= 599);
                fuzz_assert(whole.body_offset >= 16 && whole.body_offset <= size);
                fuzz_assert(memcmp(buf + whole.body_offset - 4, "\r\n\r\n", 4) == 0);
                fuzz_assert(!memchr(buf, '\0', whole.body_offset));
                fuzz_assert(whole.content_length >= -1 && whole.content_length <= (int64_t) max_body);
        }
        /* Every prefix: "need more" until the head is complete, then the same answer. */
        for (size_t n = 0; n < size && n < 4096; n++) {
                k = ctl_http_parse_head(buf, n, max_body, &part);
                fuzz_assert(k == 0 || k == 1 || k == -EBADMSG || k == -EFBIG);
                if (k == 1) {
                        fuzz_assert(r == 1);
                        fuzz_assert(part.status == whole.status && part.body_offset == whole.body_offset &&
                                    part.content_length == whole.content_length);
                        break;
                }
        }
        return 0;
}
