/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Table-driven cmocka tests (iwd style): every case of a table becomes its own named
 * cmocka test, so a failure names the case, not just the loop. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sriov-macros.h"

struct unit_tests {
        struct CMUnitTest *tests;
        char **names;
        size_t n, cap;
};

static inline void unit_add_full(struct unit_tests *l, CMUnitTestFunction fn, CMFixtureFunction setup,
                                 CMFixtureFunction teardown, void *state, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static inline void unit_add_full(struct unit_tests *l, CMUnitTestFunction fn, CMFixtureFunction setup,
                                 CMFixtureFunction teardown, void *state, const char *fmt, ...) {
        va_list ap;
        char *name;

        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->tests = realloc(l->tests, l->cap * sizeof(*l->tests));
                l->names = realloc(l->names, l->cap * sizeof(*l->names));
                if (!l->tests || !l->names)
                        abort();
        }
        va_start(ap, fmt);
        if (vasprintf(&name, fmt, ap) < 0)
                abort();
        va_end(ap);
        l->names[l->n] = name;
        l->tests[l->n] = (struct CMUnitTest) {
                .name = name,
                .test_func = fn,
                .setup_func = setup,
                .teardown_func = teardown,
                .initial_state = state,
        };
        l->n++;
}

#define unit_add(l, fn, state, ...) unit_add_full((l), (fn), NULL, NULL, (state), __VA_ARGS__)

/* Runs and frees the list; returns the number of failed tests (cmocka's convention). */
static inline int unit_run(struct unit_tests *l, const char *group) {
        int r = _cmocka_run_group_tests(group, l->tests, l->n, NULL, NULL);

        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        free(l->tests);
        *l = (struct unit_tests) {};
        return r;
}

/* cmocka prints integers in decimal; errno names read better. */
#define assert_errno_equal(actual, expected)                                                      \
        do {                                                                                      \
                int _a_ = (actual), _e_ = (expected);                                             \
                if (_a_ != _e_)                                                                   \
                        fail_msg("%s: got %d (%s), expected %d (%s)", #actual, _a_,               \
                                 _a_ < 0 ? strerror(-_a_) : "ok", _e_, _e_ < 0 ? strerror(-_e_) : "ok"); \
        } while (0)
