/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the fuzz targets. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sriov-macros.h"

/* The input as a NUL-terminated string (an embedded NUL ends it, as it does for every C
 * string the daemon reads). NULL on allocation failure. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return NULL;
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* A check that the fuzzer must never see fail: a wrong result is as much a bug as a crash. */
#define fuzz_assert(expr)                                                               \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: %s: assertion '%s' failed\n", __FILE__, \
                                __LINE__, __func__, #expr);                             \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* Takes bytes off the front of the input (zeros once it runs out). */
struct fuzz_bytes {
        const uint8_t *data;
        size_t size;
};

static inline uint32_t fuzz_take_u32(struct fuzz_bytes *b, unsigned nbytes) {
        uint32_t v = 0;
        for (unsigned i = 0; i < nbytes; i++) {
                v = v << 8 | (b->size > 0 ? b->data[0] : 0);
                if (b->size > 0) {
                        b->data++;
                        b->size--;
                }
        }
        return v;
}

/* The next piece up to a '\n' (or the rest), as a string. */
static inline char *fuzz_take_line(struct fuzz_bytes *b) {
        const uint8_t *nl = b->size > 0 ? memchr(b->data, '\n', b->size) : NULL;
        size_t len = nl ? (size_t) (nl - b->data) : b->size;
        char *s = fuzz_strndup(b->data, len);

        b->data += nl ? len + 1 : len;
        b->size -= nl ? len + 1 : len;
        return s;
}
