/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Ownership helpers in the style of systemd's macro.h: every owned object has a
 * destructor that accepts NULL and returns NULL, and a _cleanup_ attribute that
 * calls it when the variable leaves scope. TAKE_PTR/TAKE_FD hand ownership on. */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <stdio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                          \
        ({                                   \
                typeof(p) *_pp_ = &(p);      \
                typeof(p) _p_ = *_pp_;       \
                *_pp_ = NULL;                \
                _p_;                         \
        })

#define TAKE_FD(fd)                          \
        ({                                   \
                int *_fdp_ = &(fd);          \
                int _fd_ = *_fdp_;           \
                *_fdp_ = -EBADF;             \
                _fd_;                        \
        })

/* Define foo_freep(foo **p) from foo *foo_free(foo *). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline int negative_errno(void) {
        /* errno is positive when a libc call failed; never return 0 by accident. */
        return errno > 0 ? -errno : -EIO;
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
