/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "sriovd-log.h"
#include "sriovd-worker.h"

struct job {
        struct sriovd_workers *owner;
        sriovd_job_fn fn;
        sriovd_job_done_fn done;
        void *userdata;
        int result;
        struct job *next;
};

/* Shared between the loop and the worker threads; lives as long as any job does. */
struct sriovd_workers {
        pthread_mutex_t lock;
        struct job *finished;           /* LIFO under lock, reversed when drained */
        unsigned running;
        unsigned refs;
        bool dead;
        bool stopped;                   /* loop thread only: no new job */
        int efd;
        struct event *ev;
};

static void workers_unref_locked(struct sriovd_workers *w, bool *ret_freed) {
        *ret_freed = false;
        if (--w->refs > 0)
                return;
        *ret_freed = true;
}

static void workers_destroy(struct sriovd_workers *w) {
        safe_close(w->efd);
        for (struct job *j = w->finished, *next; j; j = next) {
                next = j->next;
                free(j);
        }
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static void *job_thread(void *arg) {
        struct job *j = arg;
        struct sriovd_workers *w = j->owner;
        uint64_t one = 1;
        bool freed;

        j->result = j->fn(j->userdata);

        pthread_mutex_lock(&w->lock);
        if (w->dead) {
                /* The loop is gone; nobody will run done(). */
                free(j);
                workers_unref_locked(w, &freed);
                pthread_mutex_unlock(&w->lock);
                if (freed)
                        workers_destroy(w);
                return NULL;
        }
        j->next = w->finished;
        w->finished = j;
        (void) write(w->efd, &one, sizeof(one));
        workers_unref_locked(w, &freed);
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void on_finished(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_workers *w = userdata;
        struct job *list, *rev = NULL;
        uint64_t n;

        (void) read(w->efd, &n, sizeof(n));

        pthread_mutex_lock(&w->lock);
        list = w->finished;
        w->finished = NULL;
        pthread_mutex_unlock(&w->lock);

        /* Completion order, oldest first. */
        while (list) {
                struct job *next = list->next;
                list->next = rev;
                rev = list;
                list = next;
        }
        while (rev) {
                struct job *next = rev->next;
                w->running--;
                rev->done(rev->result, rev->userdata);
                free(rev);
                rev = next;
        }
}

int sriovd_workers_new(struct event_base *base, struct sriovd_workers **ret) {
        struct sriovd_workers *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        w->refs = 1;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                int r = negative_errno();
                workers_destroy(w);
                return r;
        }
        w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_finished, w);
        if (!w->ev || event_add(w->ev, NULL) < 0) {
                if (w->ev)
                        event_free(w->ev);
                workers_destroy(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

struct sriovd_workers *sriovd_workers_free(struct sriovd_workers *w) {
        bool freed;

        if (!w)
                return NULL;
        event_free(w->ev);
        w->ev = NULL;
        pthread_mutex_lock(&w->lock);
        w->dead = true;
        workers_unref_locked(w, &freed);
        pthread_mutex_unlock(&w->lock);
        if (freed)
                workers_destroy(w);
        return NULL;
}

void sriovd_workers_stop(struct sriovd_workers *w) {
        if (w)
                w->stopped = true;
}

int sriovd_workers_submit(struct sriovd_workers *w, sriovd_job_fn fn, sriovd_job_done_fn done, void *userdata) {
        pthread_attr_t attr;
        pthread_t tid;
        sigset_t all, old;
        struct job *j;
        int r;

        /* Stopping: a job started now would write to sysfs during the stop, and its
         * userdata may be freed before it runs. */
        if (w->stopped)
                return -ESHUTDOWN;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (struct job) { .owner = w, .fn = fn, .done = done, .userdata = userdata };

        pthread_mutex_lock(&w->lock);
        w->refs++;
        pthread_mutex_unlock(&w->lock);

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        /* Signals belong to the loop thread (libevent's signal handling). */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&tid, &attr, job_thread, j);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                bool freed;
                pthread_mutex_lock(&w->lock);
                workers_unref_locked(w, &freed);
                pthread_mutex_unlock(&w->lock);
                free(j);
                return -r;
        }
        w->running++;
        return 0;
}

unsigned sriovd_workers_running(const struct sriovd_workers *w) {
        return w->running;
}
