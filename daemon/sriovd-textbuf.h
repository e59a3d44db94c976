/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A growable text buffer for replies written as text rather than built as json-c trees.
 * It starts in a caller's stack array when given one and moves to the heap when that is
 * full. Out of memory sets `failed` and turns further additions into no-ops, so callers
 * check once at the end. */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <stdint.h>

#include "sriov-address.h"
#include "sriov-macros.h"

struct sriovd_textbuf {
        char *data;
        size_t len;
        size_t cap;
        bool on_heap;
        bool failed;
};

void sriovd_textbuf_init(struct sriovd_textbuf *b, size_t size_hint);
void sriovd_textbuf_init_stack(struct sriovd_textbuf *b, char *stack, size_t size);
void sriovd_textbuf_done(struct sriovd_textbuf *b);
/* The text (NUL-terminated, b->len bytes) as a heap block the caller frees; the buffer is
 * left empty. NULL when it failed. */
char *sriovd_textbuf_steal(struct sriovd_textbuf *b);

/* s as a JSON string, exactly as json-c writes it with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE (the unit tests compare the two). */
void sriovd_textbuf_json_string(struct sriovd_textbuf *b, const char *s, size_t len);
void sriovd_textbuf_u64(struct sriovd_textbuf *b, uint64_t v);
void sriovd_textbuf_i64(struct sriovd_textbuf *b, int64_t v);
/* "DDDD:BB:SS.F", quoted */
void sriovd_textbuf_addr(struct sriovd_textbuf *b, const struct sriov_addr *a);

bool sriovd_textbuf_reserve(struct sriovd_textbuf *b, size_t more);
void sriovd_textbuf_printf(struct sriovd_textbuf *b, const char *fmt, ...) _printf_(2, 3);

static inline void sriovd_textbuf_add(struct sriovd_textbuf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap && !sriovd_textbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static inline void sriovd_textbuf_putc(struct sriovd_textbuf *b, char c) {
        if (b->len + 2 > b->cap && !sriovd_textbuf_reserve(b, 1))
                return;
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
}
