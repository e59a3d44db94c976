/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* pthread_attr_setsigmask_np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sriov-flock.h"

struct sriov_flock {
        size_t n;
        int fds[];      /* in acquisition order; -EBADF where not taken (yet) */
};

/* File name prefixes: part of the on-disk protocol scripts rely on, so spelled out here
 * rather than borrowed from sriov-lock's display names. */
static const char *const prefix_table[_SRIOV_LOCK_LEVEL_MAX] = {
        [SRIOV_LOCK_HIERARCHY] = "hierarchy",
        [SRIOV_LOCK_PF] = "pf",
        [SRIOV_LOCK_VF] = "vf",
};

static const char *const state_table[_SRIOV_FLOCK_STATE_MAX] = {
        [SRIOV_FLOCK_FREE] = "free",
        [SRIOV_FLOCK_HELD_SHARED] = "held-shared",
        [SRIOV_FLOCK_HELD_EXCLUSIVE] = "held-exclusive",
};

const char *sriov_flock_state_to_string(enum sriov_flock_state s) {
        if (s < 0 || s >= _SRIOV_FLOCK_STATE_MAX)
                return NULL;
        return state_table[s];
}

static bool mode_valid(enum sriov_lock_mode m) {
        return m >= 0 && m < _SRIOV_LOCK_MODE_MAX;
}

int sriov_flock_name(enum sriov_lock_level level, const struct sriov_addr *addr, char buf[static SRIOV_FLOCK_NAME_MAX]) {
        if (!addr || level < 0 || level >= _SRIOV_LOCK_LEVEL_MAX)
                return -EINVAL;
        snprintf(buf, SRIOV_FLOCK_NAME_MAX, "%s-%s.lock", prefix_table[level], SRIOV_ADDR_STR(addr));
        return 0;
}

int sriov_flock_path(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr, char **ret) {
        char name[SRIOV_FLOCK_NAME_MAX];
        char *p;
        int r;

        if (!ret)
                return -EINVAL;
        r = sriov_flock_name(level, addr, name);
        if (r < 0)
                return r;
        if (asprintf(&p, "%s/%s", dir ?: SRIOV_FLOCK_DIR, name) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Parents 0755 (the runtime directory also holds the API socket, which everyone may
 * reach), the lock directory itself with mode. */
static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0)
                return errno == EEXIST ? 0 : negative_errno();
        /* mkdir() leaves out the set-group-ID bit (Linux takes it from the parent). */
        if (chmod(p, mode) < 0)
                return negative_errno();
        return 0;
}

sriov_flock *sriov_flock_release(sriov_flock *f) {
        if (!f)
                return NULL;

        /* Explicit LOCK_UN, not just close(): should the fd have been duplicated (a fork
         * without exec), closing ours would not drop a lock that belongs to the open file
         * description. Reverse order mirrors acquisition. */
        for (size_t i = f->n; i > 0; i--)
                if (f->fds[i - 1] >= 0) {
                        (void) flock(f->fds[i - 1], LOCK_UN);
                        f->fds[i - 1] = safe_close(f->fds[i - 1]);
                }
        free(f);
        return NULL;
}

size_t sriov_flock_n_locks(const sriov_flock *f) {
        return f ? f->n : 0;
}

struct waiter {
        int fd;
        int op;
        pthread_mutex_t mutex;
        pthread_cond_t done_cond;       /* CLOCK_MONOTONIC */
        bool done;                      /* under mutex */
        int r;                          /* under mutex */
};

static void *waiter_thread(void *userdata) {
        struct waiter *w = userdata;
        int old, r;

        /* flock() is not a cancellation point; enable asynchronous cancellation around the
         * bare syscall only, so pthread_cancel() interrupts the wait. Nothing here holds
         * resources that unwinding could leak. */
        (void) pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
        r = flock(w->fd, w->op) < 0 ? -errno : 0;
        (void) pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);

        pthread_mutex_lock(&w->mutex);
        w->r = r;
        w->done = true;
        pthread_cond_signal(&w->done_cond);
        pthread_mutex_unlock(&w->mutex);
        return NULL;
}

static int flock_until(int fd, int op, const struct timespec *deadline) {
        struct waiter w = { .fd = fd, .op = op, .r = -EIO };
        pthread_condattr_t cattr;
        pthread_attr_t attr;
        sigset_t all;
        pthread_t t;
        bool done;
        int r;

        /* A mutex and a condition variable on CLOCK_MONOTONIC rather than
         * pthread_clockjoin_np(): the join is the same deadline, but ThreadSanitizer does
         * not know that call and would report the helper's reads of this frame as races. */
        r = pthread_condattr_init(&cattr);
        if (r != 0)
                return -r;
        (void) pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
        r = pthread_cond_init(&w.done_cond, &cattr);
        (void) pthread_condattr_destroy(&cattr);
        if (r != 0)
                return -r;
        (void) pthread_mutex_init(&w.mutex, NULL);

        /* The helper must never run the process's signal handlers; glibc keeps its own
         * cancellation signal deliverable regardless of this mask. */
        r = pthread_attr_init(&attr);
        if (r == 0) {
                sigfillset(&all);
                r = pthread_attr_setsigmask_np(&attr, &all);
                if (r == 0)
                        r = pthread_create(&t, &attr, waiter_thread, &w);
                (void) pthread_attr_destroy(&attr);
        }
        if (r != 0) {
                (void) pthread_cond_destroy(&w.done_cond);
                (void) pthread_mutex_destroy(&w.mutex);
                return -r;
        }

        pthread_mutex_lock(&w.mutex);
        while (!w.done)
                if (pthread_cond_timedwait(&w.done_cond, &w.mutex, deadline) == ETIMEDOUT)
                        break;
        done = w.done;
        r = w.r;
        pthread_mutex_unlock(&w.mutex);

        if (!done)
                /* flock() is the only asynchronous-cancel section and holds no mutex. */
                (void) pthread_cancel(t);
        (void) pthread_join(t, NULL);
        (void) pthread_cond_destroy(&w.done_cond);
        (void) pthread_mutex_destroy(&w.mutex);
        if (done)
                return r;

        /* The helper may have got the lock just before it was cancelled; the lock is then
         * ours already (same open file description) and this succeeds. */
        if (flock(fd, op | LOCK_NB) == 0)
                return 0;
        return errno == EWOULDBLOCK ? -ETIMEDOUT : negative_errno();
}

static int lock_one(int fd, enum sriov_lock_mode mode, int timeout_ms, const struct timespec *deadline) {
        int op = mode == SRIOV_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH;

        if (flock(fd, op | LOCK_NB) == 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return negative_errno();

        if (timeout_ms == 0)
                return -EAGAIN;

        if (timeout_ms < 0)
                return flock(fd, op) < 0 ? negative_errno() : 0;

        struct timespec now;
        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
                return -ETIMEDOUT;

        return flock_until(fd, op, deadline);
}

static int open_lock_file(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr, int *ret) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = sriov_flock_path(dir, level, addr, &path);
        if (r < 0)
                return r;

        /* Read-only is enough for flock(). Whoever can open a lock file can hold it for
         * ever, so only root and the admin group may: 0640 (the group is the folder's,
         * see sriov_flock_dir_prepare()) in a folder closed to everyone else. */
        fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return negative_errno();
        sriov_flock_file_adopt_group(fd, dir);
        *ret = fd;
        return 0;
}

static int addr_cmp(const void *a, const void *b) {
        return sriov_addr_compare(a, b);
}

int sriov_flock_acquire(const char *dir, const struct sriov_flock_spec *spec, int timeout_ms, sriov_flock **ret) {
        _cleanup_(sriov_flock_releasep) sriov_flock *f = NULL;
        _cleanup_free_ struct sriov_addr *vfs = NULL;
        struct timespec deadline = {};
        int r;

        if (!spec || !ret || !mode_valid(spec->hierarchy_mode))
                return -EINVAL;
        if (spec->pf && !mode_valid(spec->pf_mode))
                return -EINVAL;
        if (spec->n_vfs > 0 && (!spec->pf || !spec->vfs || !mode_valid(spec->vf_mode)))
                return -EINVAL;

        /* A fixed order among the VFs too: two processes locking the same two VFs in
         * opposite orders would deadlock. */
        if (spec->n_vfs > 0) {
                vfs = reallocarray(NULL, spec->n_vfs, sizeof(*vfs));
                if (!vfs)
                        return -ENOMEM;
                memcpy(vfs, spec->vfs, spec->n_vfs * sizeof(*vfs));
                qsort(vfs, spec->n_vfs, sizeof(*vfs), addr_cmp);
                for (size_t i = 0; i < spec->n_vfs; i++) {
                        if (!sriov_lock_vf_plausible(spec->pf, vfs + i))
                                return -EINVAL;
                        if (i > 0 && sriov_addr_equal(vfs + i - 1, vfs + i))
                                return -EINVAL;
                }
        }

        if (!dir)
                dir = SRIOV_FLOCK_DIR;
        /* Without the set-group-ID bit: systemd's RestrictSUIDSGID= refuses a mkdir() that
         * asks for it (EPERM, even when the folder exists); sriov_flock_dir_prepare() sets it. */
        r = mkdir_p(dir, SRIOV_FLOCK_DIR_MODE & ~S_ISGID);
        if (r < 0)
                return r;

        if (timeout_ms > 0) {
                (void) clock_gettime(CLOCK_MONOTONIC, &deadline);
                deadline.tv_sec += timeout_ms / 1000;
                deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
                if (deadline.tv_nsec >= 1000000000L) {
                        deadline.tv_sec++;
                        deadline.tv_nsec -= 1000000000L;
                }
        }

        size_t n = 1 + (spec->pf ? 1 : 0) + spec->n_vfs;
        f = malloc(sizeof(*f) + n * sizeof(int));
        if (!f)
                return -ENOMEM;
        f->n = n;
        for (size_t i = 0; i < n; i++)
                f->fds[i] = -EBADF;

        for (size_t i = 0; i < n; i++) {
                enum sriov_lock_level level;
                enum sriov_lock_mode mode;
                const struct sriov_addr *a;

                if (i == 0) {
                        level = SRIOV_LOCK_HIERARCHY;
                        mode = spec->hierarchy_mode;
                        a = &spec->hierarchy;
                } else if (i == 1 && spec->pf) {
                        level = SRIOV_LOCK_PF;
                        mode = spec->pf_mode;
                        a = spec->pf;
                } else {
                        level = SRIOV_LOCK_VF;
                        mode = spec->vf_mode;
                        a = vfs + (i - 2);
                }

                r = open_lock_file(dir, level, a, &f->fds[i]);
                if (r < 0)
                        return r;
                r = lock_one(f->fds[i], mode, timeout_ms, &deadline);
                if (r < 0)
                        return r;       /* the cleanup releases what we hold, in reverse */
        }

        *ret = TAKE_PTR(f);
        return 0;
}

int sriov_flock_probe(const char *dir, enum sriov_lock_level level, const struct sriov_addr *addr,
                      enum sriov_flock_state *ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!ret)
                return -EINVAL;

        r = sriov_flock_path(dir, level, addr, &path);
        if (r < 0)
                return r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = SRIOV_FLOCK_FREE;        /* nobody ever locked it */
                return 0;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                *ret = SRIOV_FLOCK_FREE;        /* closing fd lets go again */
                return 0;
        }
        if (errno != EWOULDBLOCK)
                return negative_errno();

        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
                *ret = SRIOV_FLOCK_HELD_SHARED;
                return 0;
        }
        if (errno != EWOULDBLOCK)
                return negative_errno();

        *ret = SRIOV_FLOCK_HELD_EXCLUSIVE;
        return 0;
}
