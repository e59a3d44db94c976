/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sriovd-intern.h"

struct intern_entry {
        char *text;             /* NULL: a free slot */
        size_t len;
        uint32_t refs;
        uint32_t hash;
        uint32_t next_free;
};

/* Entries are indexed by id (id 0 is never used); buckets is an open-addressing index
 * of ids, kept at most half full. */
struct sriovd_intern {
        struct intern_entry *entries;
        uint32_t n_entries, cap_entries;
        uint32_t first_free;            /* 0: none */
        uint32_t *buckets;              /* 0: empty, UINT32_MAX: deleted */
        uint32_t n_buckets, used_buckets;
        size_t count, bytes;
};

#define BUCKET_EMPTY 0u
#define BUCKET_DELETED UINT32_MAX

static uint32_t hash_text(const char *s, size_t len) {
        uint32_t h = 2166136261u;       /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) s[i]) * 16777619u;
        return h;
}

int sriovd_intern_new(struct sriovd_intern **ret) {
        struct sriovd_intern *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->n_entries = 1;       /* id 0 is SRIOVD_INTERN_NONE */
        *ret = t;
        return 0;
}

struct sriovd_intern *sriovd_intern_free(struct sriovd_intern *t) {
        if (!t)
                return NULL;
        for (uint32_t i = 1; i < t->n_entries; i++)
                free(t->entries[i].text);
        free(t->entries);
        free(t->buckets);
        free(t);
        return NULL;
}

static int rehash(struct sriovd_intern *t, uint32_t n_buckets) {
        uint32_t *nb = calloc(n_buckets, sizeof(*nb));

        if (!nb)
                return -ENOMEM;
        for (uint32_t id = 1; id < t->n_entries; id++) {
                if (!t->entries[id].text)
                        continue;
                uint32_t b = t->entries[id].hash & (n_buckets - 1);
                while (nb[b] != BUCKET_EMPTY)
                        b = (b + 1) & (n_buckets - 1);
                nb[b] = id;
        }
        free(t->buckets);
        t->buckets = nb;
        t->n_buckets = n_buckets;
        t->used_buckets = (uint32_t) t->count;
        return 0;
}

uint32_t sriovd_intern_ref(struct sriovd_intern *t, const char *s, size_t len) {
        uint32_t h, b, tomb = BUCKET_EMPTY, id;
        bool have_tomb = false;

        if (!s)
                return SRIOVD_INTERN_NONE;
        if ((t->used_buckets + 1) * 2 > t->n_buckets &&
            rehash(t, t->n_buckets ? (t->count * 4 > t->n_buckets ? t->n_buckets * 2 : t->n_buckets) : 64) < 0)
                return SRIOVD_INTERN_NONE;

        h = hash_text(s, len);
        for (b = h & (t->n_buckets - 1);; b = (b + 1) & (t->n_buckets - 1)) {
                uint32_t cur = t->buckets[b];
                if (cur == BUCKET_EMPTY)
                        break;
                if (cur == BUCKET_DELETED) {
                        if (!have_tomb) {
                                tomb = b;
                                have_tomb = true;
                        }
                        continue;
                }
                struct intern_entry *e = &t->entries[cur];
                if (e->hash == h && e->len == len && memcmp(e->text, s, len) == 0) {
                        e->refs++;
                        return cur;
                }
        }

        if (t->first_free)
                id = t->first_free;
        else {
                if (t->n_entries >= t->cap_entries) {
                        uint32_t ncap = t->cap_entries ? t->cap_entries * 2 : 64;
                        struct intern_entry *ne = reallocarray(t->entries, ncap, sizeof(*ne));
                        if (!ne)
                                return SRIOVD_INTERN_NONE;
                        t->entries = ne;
                        t->cap_entries = ncap;
                }
                id = t->n_entries;
        }
        char *copy = malloc(len + 1);
        if (!copy)
                return SRIOVD_INTERN_NONE;
        memcpy(copy, s, len);
        copy[len] = '\0';
        if (id == t->first_free)
                t->first_free = t->entries[id].next_free;
        else
                t->n_entries++;
        t->entries[id] = (struct intern_entry) { .text = copy, .len = len, .refs = 1, .hash = h };
        if (have_tomb)
                b = tomb;
        else
                t->used_buckets++;
        t->buckets[b] = id;
        t->count++;
        t->bytes += len + 1;
        return id;
}

void sriovd_intern_ref_id(struct sriovd_intern *t, uint32_t id) {
        if (id != SRIOVD_INTERN_NONE && id < t->n_entries && t->entries[id].text)
                t->entries[id].refs++;
}

void sriovd_intern_unref(struct sriovd_intern *t, uint32_t id) {
        struct intern_entry *e;

        if (id == SRIOVD_INTERN_NONE || id >= t->n_entries || !t->entries[id].text)
                return;
        e = &t->entries[id];
        if (--e->refs > 0)
                return;
        for (uint32_t b = e->hash & (t->n_buckets - 1);; b = (b + 1) & (t->n_buckets - 1))
                if (t->buckets[b] == id) {
                        t->buckets[b] = BUCKET_DELETED;
                        break;
                }
        t->bytes -= e->len + 1;
        free(e->text);
        *e = (struct intern_entry) { .next_free = t->first_free };
        t->first_free = id;
        t->count--;
}

const char *sriovd_intern_get(const struct sriovd_intern *t, uint32_t id, size_t *ret_len) {
        if (id == SRIOVD_INTERN_NONE || id >= t->n_entries || !t->entries[id].text) {
                if (ret_len)
                        *ret_len = 0;
                return NULL;
        }
        if (ret_len)
                *ret_len = t->entries[id].len;
        return t->entries[id].text;
}

size_t sriovd_intern_count(const struct sriovd_intern *t) {
        return t->count;
}

size_t sriovd_intern_bytes(const struct sriovd_intern *t) {
        return t->bytes + (size_t) t->cap_entries * sizeof(struct intern_entry) + (size_t) t->n_buckets * sizeof(uint32_t);
}
