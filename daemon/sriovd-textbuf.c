/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sriovd-textbuf.h"

void sriovd_textbuf_init(struct sriovd_textbuf *b, size_t size_hint) {
        *b = (struct sriovd_textbuf) {};
        (void) sriovd_textbuf_reserve(b, size_hint ?: 64);
}

void sriovd_textbuf_init_stack(struct sriovd_textbuf *b, char *stack, size_t size) {
        *b = (struct sriovd_textbuf) { .data = stack, .cap = size };
        if (size > 0)
                stack[0] = '\0';
}

void sriovd_textbuf_done(struct sriovd_textbuf *b) {
        if (b->on_heap)
                free(b->data);
        *b = (struct sriovd_textbuf) {};
}

bool sriovd_textbuf_reserve(struct sriovd_textbuf *b, size_t more) {
        size_t want, ncap;
        char *n;

        if (b->failed)
                return false;
        if (b->len + more + 1 <= b->cap)
                return true;
        want = b->len + more + 1;
        ncap = b->cap ? b->cap : 64;
        while (ncap < want) {
                if (ncap > SIZE_MAX / 2) {
                        b->failed = true;
                        return false;
                }
                ncap *= 2;
        }
        if (b->on_heap)
                n = realloc(b->data, ncap);
        else {
                n = malloc(ncap);
                if (n && b->len > 0)
                        memcpy(n, b->data, b->len);
        }
        if (!n) {
                b->failed = true;
                return false;
        }
        n[b->len] = '\0';
        b->data = n;
        b->cap = ncap;
        b->on_heap = true;
        return true;
}

void sriovd_textbuf_printf(struct sriovd_textbuf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        if (b->failed)
                return;
        va_start(ap, fmt);
        n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->failed = true;
                return;
        }
        if (b->len + (size_t) n + 1 > b->cap) {
                if (!sriovd_textbuf_reserve(b, (size_t) n))
                        return;
                va_start(ap, fmt);
                (void) vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
        }
        b->len += (size_t) n;
}

char *sriovd_textbuf_steal(struct sriovd_textbuf *b) {
        char *r;

        if (b->failed || !b->data)
                return NULL;
        if (b->on_heap)
                r = b->data;
        else {
                r = malloc(b->len + 1);
                if (!r)
                        return NULL;
                memcpy(r, b->data, b->len + 1);
        }
        *b = (struct sriovd_textbuf) {};
        return r;
}
