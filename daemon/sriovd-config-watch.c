/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/event.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "sriovd-config-watch.h"
#include "sriovd-config.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"

/* What replaces, edits, adds or removes a file, and a folder itself going away. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
                    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct sriovd_config_watch {
        struct sriovd_manager *manager;
        int fd;
        struct event *io;
        struct event *debounce;
        char *dir;                      /* folder of the main file */
        char *base;                     /* the main file's name */
        char *dropin_dir;               /* main_file.d */
        char *dropin_base;              /* its name in dir */
        int wd_dir, wd_dropin;          /* -1: not watched */
        uint64_t first_change_usec;     /* of the burst being debounced, 0: none */
};

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void watch_dropin(struct sriovd_config_watch *w) {
        if (w->wd_dropin >= 0)
                return;
        w->wd_dropin = inotify_add_watch(w->fd, w->dropin_dir, WATCH_MASK);
        if (w->wd_dropin < 0 && errno != ENOENT)
                log_warning_errno(errno, "Cannot watch %s; changes there need sriovctl reload", w->dropin_dir);
}

static void debounce_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_config_watch *w = userdata;

        w->first_change_usec = 0;
        log_info("Configuration changed on disk, reloading");
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading the configuration (files changed)");
        (void) sriovd_config_reload(w->manager, NULL);
        (void) sd_notify(false, "READY=1");
        sriovd_manager_status_changed(w->manager);
}

static void changed(struct sriovd_config_watch *w, const char *what) {
        uint64_t now = monotonic_usec();

        log_debug("Configuration change: %s", what);
        if (w->first_change_usec == 0)
                w->first_change_usec = now;
        /* Re-armed at each change, so a burst (an editor's save, a ConfigMap swap, a
         * package upgrade) is one reload; but never put off past the maximum delay. */
        if (now - w->first_change_usec < SRIOVD_CONFIG_WATCH_MAX_DELAY_MS * 1000ull || !evtimer_pending(w->debounce, NULL))
                event_add(w->debounce, &(struct timeval) { .tv_sec = SRIOVD_CONFIG_WATCH_QUIET_MS / 1000,
                                                           .tv_usec = (SRIOVD_CONFIG_WATCH_QUIET_MS % 1000) * 1000 });
}

/* Whether a name in the drop-in folder can change the configuration. */
static bool dropin_name_matters(const char *name) {
        size_t n = strlen(name);

        if (streq(name, "..data"))      /* a ConfigMap's atomic swap */
                return true;
        return name[0] != '.' && n > 5 && streq(name + n - 5, ".conf");
}

static void handle_event(struct sriovd_config_watch *w, const struct inotify_event *e) {
        const char *name = e->len > 0 ? e->name : "";

        if (e->mask & IN_Q_OVERFLOW) {
                changed(w, "inotify queue overflow");
                return;
        }
        if (e->wd == w->wd_dropin && w->wd_dropin >= 0) {
                if (e->mask & IN_IGNORED) {
                        /* The folder went (removed, or renamed away): its files with it. */
                        w->wd_dropin = -1;
                        changed(w, "drop-in folder gone");
                        return;
                }
                if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
                        (void) inotify_rm_watch(w->fd, w->wd_dropin);
                        return;         /* IN_IGNORED follows */
                }
                if (dropin_name_matters(name))
                        changed(w, name);
                return;
        }
        if (e->wd == w->wd_dir && w->wd_dir >= 0) {
                if (e->mask & IN_IGNORED) {
                        w->wd_dir = -1;
                        log_warning("%s is gone: configuration changes are no longer watched (sriovctl reload still works)",
                                    w->dir);
                        return;
                }
                if (streq(name, w->dropin_base)) {
                        if (e->mask & (IN_CREATE | IN_MOVED_TO))
                                watch_dropin(w);
                        changed(w, name);
                } else if (streq(name, w->base) || streq(name, "..data"))
                        changed(w, name);
        }
}

static void io_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_config_watch *w = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        for (;;) {
                ssize_t n = read(w->fd, buf, sizeof(buf));
                if (n <= 0) {
                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                log_warning_errno(errno, "Reading configuration change notifications failed");
                        return;
                }
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        handle_event(w, e);
                        p += sizeof(*e) + e->len;
                }
        }
}

int sriovd_config_watch_new(struct sriovd_manager *m, const char *main_file, struct sriovd_config_watch **ret) {
        struct sriovd_config_watch *w = calloc(1, sizeof(*w));
        _cleanup_free_ char *d = NULL, *b = NULL;

        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->fd = -EBADF;
        w->wd_dir = w->wd_dropin = -1;
        d = strdup(main_file);
        b = strdup(main_file);
        if (!d || !b || asprintf(&w->dropin_dir, "%s.d", main_file) < 0) {
                w->dropin_dir = NULL;
                sriovd_config_watch_free(w);
                return -ENOMEM;
        }
        w->dir = strdup(dirname(d));
        w->base = strdup(basename(b));
        if (w->base)
                (void) asprintf(&w->dropin_base, "%s.d", w->base);
        if (!w->dir || !w->base || !w->dropin_base) {
                sriovd_config_watch_free(w);
                return -ENOMEM;
        }

        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
                int r = -errno;
                sriovd_config_watch_free(w);
                return log_warning_errno(r, "Cannot watch the configuration (inotify); reload by hand");
        }
        w->wd_dir = inotify_add_watch(w->fd, w->dir, WATCH_MASK);
        if (w->wd_dir < 0)
                log_full_errno(LOG_NOTICE, errno, "Cannot watch %s: configuration changes need sriovctl reload", w->dir);
        watch_dropin(w);

        w->io = event_new(m->base, w->fd, EV_READ | EV_PERSIST, io_cb, w);
        w->debounce = evtimer_new(m->base, debounce_cb, w);
        if (!w->io || !w->debounce || event_add(w->io, NULL) < 0) {
                sriovd_config_watch_free(w);
                return -ENOMEM;
        }
        log_debug("Watching %s and %s for changes", main_file, w->dropin_dir);
        *ret = w;
        return 0;
}

struct sriovd_config_watch *sriovd_config_watch_free(struct sriovd_config_watch *w) {
        if (!w)
                return NULL;
        if (w->io)
                event_free(w->io);
        if (w->debounce)
                event_free(w->debounce);
        if (w->fd >= 0)
                close(w->fd);
        free(w->dir);
        free(w->base);
        free(w->dropin_dir);
        free(w->dropin_base);
        free(w);
        return NULL;
}
