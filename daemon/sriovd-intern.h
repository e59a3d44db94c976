/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Interned strings with reference counts, so that a history of 65,536 events stores each
 * distinct text (an event kind, a message, a rendered set of AER deltas) once and every
 * record holds a 32-bit id. A string whose last reference goes is freed and its id reused,
 * so hostile or ever-changing texts cannot grow the table beyond what the history holds.
 *
 * Hand-written rather than GLib's GHashTable: sriovd links no GLib, and this needs only
 * lookup, reference and release by id (about 150 lines). */

#include <stddef.h>
#include <stdint.h>

#define SRIOVD_INTERN_NONE 0u   /* the id of "no string" */

struct sriovd_intern;

int sriovd_intern_new(struct sriovd_intern **ret);
struct sriovd_intern *sriovd_intern_free(struct sriovd_intern *t);

/* Returns the id of s with one more reference (the same id for the same text), or
 * SRIOVD_INTERN_NONE when s is NULL or memory runs out. */
uint32_t sriovd_intern_ref(struct sriovd_intern *t, const char *s, size_t len);
/* Adds a reference to an id already held. */
void sriovd_intern_ref_id(struct sriovd_intern *t, uint32_t id);
void sriovd_intern_unref(struct sriovd_intern *t, uint32_t id);
/* NULL for SRIOVD_INTERN_NONE. */
const char *sriovd_intern_get(const struct sriovd_intern *t, uint32_t id, size_t *ret_len);

size_t sriovd_intern_count(const struct sriovd_intern *t);
/* Bytes held by the strings and the table. */
size_t sriovd_intern_bytes(const struct sriovd_intern *t);
