/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sriovd-textbuf.h"

/* The size of a transparent huge page on x86-64 and arm64 (4 KiB base pages). */
#define HUGE_PAGE_SIZE (2u * 1024 * 1024)

/* A whole-host reply is megabytes written once and freed once sent, so each request
 * touches fresh memory: with 4 KiB pages that is a page fault per 4 KiB (1,900 for 16k
 * functions), which measured more than half of the request's CPU time (bench/fleet.py).
 * Asking for transparent huge pages makes them a handful. This is what glibc's
 * glibc.malloc.hugetlb=1 tunable does for every block, done for this buffer alone. Advice
 * only: with THP "never", or where madvise fails, nothing changes. */
static void advise_huge_pages(char *data, size_t size) {
        uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE), start;

        if (size < 2 * HUGE_PAGE_SIZE || page == 0 || page == (uintptr_t) -1)
                return;
        /* The block's own pages: rounded inwards, so that no neighbour is touched. */
        start = ((uintptr_t) data + page - 1) & ~(page - 1);
        size = (((uintptr_t) data + size) & ~(page - 1)) - start;
        (void) madvise((void *) start, size, MADV_HUGEPAGE);
}

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
        if (b->on_heap) {
                n = realloc(b->data, ncap);
                if (n)
                        advise_huge_pages(n, ncap);
        } else {
                /* Aligned to a huge page, so that all of it can be one (see above). */
                if (ncap < 2 * HUGE_PAGE_SIZE || posix_memalign((void **) &n, HUGE_PAGE_SIZE, ncap) != 0)
                        n = malloc(ncap);
                /* Before the first byte is written: a page touched first is a 4 KiB one. */
                if (n)
                        advise_huge_pages(n, ncap);
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

/* Appends s as a JSON string exactly as json-c writes it with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE, so that the history reads as it always did. */
void sriovd_textbuf_json_string(struct sriovd_textbuf *b, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        size_t i = 0;

        sriovd_textbuf_putc(b, '"');
        while (i < len) {
                /* Runs that need no escape (nearly all text) are copied at once. */
                size_t run = i;
                while (run < len && (unsigned char) s[run] >= ' ' && s[run] != '"' && s[run] != '\\')
                        run++;
                if (run > i) {
                        sriovd_textbuf_add(b, s + i, run - i);
                        i = run;
                        continue;
                }
                unsigned char c = (unsigned char) s[i++];
                switch (c) {
                case '\b': sriovd_textbuf_add(b, "\\b", 2); break;
                case '\n': sriovd_textbuf_add(b, "\\n", 2); break;
                case '\r': sriovd_textbuf_add(b, "\\r", 2); break;
                case '\t': sriovd_textbuf_add(b, "\\t", 2); break;
                case '\f': sriovd_textbuf_add(b, "\\f", 2); break;
                case '"': sriovd_textbuf_add(b, "\\\"", 2); break;
                case '\\': sriovd_textbuf_add(b, "\\\\", 2); break;
                default: {
                        char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                        sriovd_textbuf_add(b, u, 6);
                }
                }
        }
        sriovd_textbuf_putc(b, '"');
}

void sriovd_textbuf_u64(struct sriovd_textbuf *b, uint64_t v) {
        char buf[24];
        size_t n = 0;

        do {
                buf[sizeof(buf) - 1 - n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        sriovd_textbuf_add(b, buf + sizeof(buf) - n, n);
}

void sriovd_textbuf_addr(struct sriovd_textbuf *b, const struct sriov_addr *a) {
        static const char hex[] = "0123456789abcdef";
        char s[16] = { '"' };
        size_t n = 1;

        for (int shift = 12; shift >= 0; shift -= 4)
                s[n++] = hex[(a->domain >> shift) & 15];
        if (a->domain > 0xffff) {       /* rare: fall back to the general formatter */
                sriovd_textbuf_printf(b, "\"%s\"", SRIOV_ADDR_STR(a));
                return;
        }
        s[n++] = ':';
        s[n++] = hex[a->bus >> 4];
        s[n++] = hex[a->bus & 15];
        s[n++] = ':';
        s[n++] = hex[(a->slot >> 4) & 15];
        s[n++] = hex[a->slot & 15];
        s[n++] = '.';
        s[n++] = hex[a->func & 15];
        s[n++] = '"';
        sriovd_textbuf_add(b, s, n);
}

void sriovd_textbuf_i64(struct sriovd_textbuf *b, int64_t v) {
        if (v < 0) {
                sriovd_textbuf_putc(b, '-');
                sriovd_textbuf_u64(b, (uint64_t) 0 - (uint64_t) v);
        } else
                sriovd_textbuf_u64(b, (uint64_t) v);
}
