/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sriovd-ifname.h"
#include "sriovd-log.h"
#include "sriovd-manager.h"
#include "sriovd-nfd.h"
#include "sriovd-operation.h"

#define NFD_COALESCE_MS 1000

struct sriovd_nfd {
        struct sriovd_manager *manager;
        char *path;                     /* NULL: off */
        unsigned expiry_sec;
        struct event *coalesce;         /* one recomputation per burst */
        struct event *refresh;          /* rewrite before the expiry */
        char *last_body;                /* the labels last written, without the header */
        bool warned_write;
        size_t last_dropped;
};

static void coalesce_cb(evutil_socket_t fd, short what, void *userdata);

int sriovd_nfd_new(struct sriovd_manager *m, struct sriovd_nfd **ret) {
        struct sriovd_nfd *n = calloc(1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        n->manager = m;
        n->expiry_sec = SRIOV_CONFIG_NFD_EXPIRY_DEFAULT;
        n->coalesce = evtimer_new(m->base, coalesce_cb, n);
        n->refresh = evtimer_new(m->base, coalesce_cb, n);
        if (!n->coalesce || !n->refresh) {
                sriovd_nfd_free(n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

struct sriovd_nfd *sriovd_nfd_free(struct sriovd_nfd *n) {
        if (!n)
                return NULL;
        if (n->coalesce)
                event_free(n->coalesce);
        if (n->refresh)
                event_free(n->refresh);
        free(n->path);
        free(n->last_body);
        free(n);
        return NULL;
}

/* ---- label rules and the file's text ---------------------------------------------------- */

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sriovd_nfd_valid_value(const char *s) {
        size_t n = strlen(s);

        if (n == 0)
                return true;
        if (n > SRIOVD_NFD_VALUE_MAX || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                        return false;
        return true;
}

bool sriovd_nfd_valid_name(const char *s) {
        return s[0] != '\0' && sriovd_nfd_valid_value(s);
}

int sriovd_nfd_render(const struct sriovd_nfd_label *labels, size_t n, uint64_t expiry_realtime_sec, size_t limit,
                      char **ret, size_t *ret_dropped) {
        /* Room kept for the comment that names what was left out. */
        static const size_t dropped_note_max = 96;
        char header[64], note[128];
        time_t t = (time_t) expiry_realtime_sec;
        struct tm tm;
        size_t len, kept = 0;
        char *text;

        if (!gmtime_r(&t, &tm) || strftime(header, sizeof(header), "# +expiry-time=%Y-%m-%dT%H:%M:%SZ\n", &tm) == 0)
                return -EINVAL;
        len = strlen(header);
        if (len + dropped_note_max > limit)
                return -EINVAL;
        text = malloc(limit + 1);
        if (!text)
                return -ENOMEM;
        memcpy(text, header, len);

        for (; kept < n; kept++) {
                size_t line = strlen(SRIOVD_NFD_PREFIX) + strlen(labels[kept].name) + 1 + strlen(labels[kept].value) + 1;
                /* The note is only needed when something is left out, but then it must fit:
                 * keep its room unless this is the last label and it fits without it. */
                bool last = kept + 1 == n;
                if (len + line + (last ? 0 : dropped_note_max) > limit)
                        break;
                len += (size_t) snprintf(text + len, limit + 1 - len, SRIOVD_NFD_PREFIX "%s=%s\n", labels[kept].name,
                                         labels[kept].value);
        }
        if (kept < n) {
                int k = snprintf(note, sizeof(note), "# %zu labels left out: the file would exceed %zu bytes\n",
                                 n - kept, limit);
                if (k > 0 && len + (size_t) k <= limit) {
                        memcpy(text + len, note, (size_t) k);
                        len += (size_t) k;
                }
        }
        text[len] = '\0';
        *ret = text;
        *ret_dropped = n - kept;
        return 0;
}

/* ---- what the labels say ---------------------------------------------------------------- */

struct label_list {
        size_t n, cap;
        struct sriovd_nfd_label *v;
        size_t invalid;
};

static void add_label(struct label_list *l, const char *name, const char *value) {
        if (!sriovd_nfd_valid_name(name) || !sriovd_nfd_valid_value(value)) {
                l->invalid++;
                return;
        }
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                struct sriovd_nfd_label *nv = reallocarray(l->v, cap, sizeof(*nv));
                if (!nv)
                        return;
                l->v = nv;
                l->cap = cap;
        }
        snprintf(l->v[l->n].name, sizeof(l->v[0].name), "%s", name);
        snprintf(l->v[l->n].value, sizeof(l->v[0].value), "%s", value);
        l->n++;
}

/* "pci-0000-3b-00.0", or "net-ens1f0" when the PF has an interface whose name can be
 * part of a label. */
static void pf_label_id(struct sriovd_manager *m, const struct sriov_addr *pf, char buf[static 48]) {
        const char *ifname = sriovd_ifname_get(m->ifnames, pf);
        char a[SRIOV_ADDR_STRLEN];

        if (ifname && strlen(ifname) <= 16) {
                snprintf(buf, 48, "net-%s", ifname);
                if (sriovd_nfd_valid_name(buf))
                        return;
        }
        sriov_addr_format(pf, a);
        for (char *c = a; *c; c++)
                if (*c == ':')
                        *c = '-';
        snprintf(buf, 48, "pci-%s", a);
}

static void collect_labels(struct sriovd_manager *m, struct label_list *l) {
        const struct sriov_model *model = m->model;
        struct label_list pfl = {};
        bool ready = !m->starting, can_recover = true;
        struct sriov_blockers blockers;
        char name[96], value[32];

        /* The rule of the API's kernel_can_recover, one pass for every PF's hierarchy.
         * Without memory for it, say "false" rather than promise a recovery. */
        if (sriov_model_blockers(model, &blockers) < 0)
                can_recover = false;

        for (size_t i = 0; i < sriov_model_size(model); i++) {
                const struct sriov_device *d = sriov_model_at(model, i);
                const struct sriov_addr *h;
                unsigned usable = 0;
                char id[48];

                if (d->role != SRIOV_ROLE_PF)
                        continue;
                for (size_t k = 0; k < d->pf.n_vfs; k++) {
                        const struct sriov_device *vf = sriov_model_get(model, &d->pf.vfs[k].addr);
                        usable += vf && (vf->driver || d->pf.drivers_autoprobe == 0);
                }
                pf_label_id(m, &d->addr, id);
                snprintf(name, sizeof(name), "%s.vfs", id);
                snprintf(value, sizeof(value), "%zu", d->pf.n_vfs);
                add_label(&pfl, name, value);
                snprintf(name, sizeof(name), "%s.usable-vfs", id);
                snprintf(value, sizeof(value), "%u", usable);
                add_label(&pfl, name, value);

                /* Ready: every PF has what was asked, usable, and nothing is being
                 * changed or recovered. */
                const struct sriov_desired *want = sriovd_manager_get_desired(m, &d->addr);
                h = sriov_device_hierarchy(d);
                if (want && (want->num_vfs != d->pf.n_vfs || usable != want->num_vfs))
                        ready = false;
                if ((m->ops && sriovd_ops_busy(m->ops, &d->addr)) || sriovd_manager_hierarchy_recovering(m, h))
                        ready = false;
                const struct sriov_device *const *unused;
                if (sriov_blockers_of(&blockers, h, &unused) > 0)
                        can_recover = false;
        }
        sriov_blockers_done(&blockers);
        /* Node-wide labels first: they are what schedulers select on, and must survive
         * the size limit. */
        add_label(l, "ready", ready ? "true" : "false");
        add_label(l, "kernel-can-recover", can_recover ? "true" : "false");
        for (size_t i = 0; i < pfl.n; i++)
                add_label(l, pfl.v[i].name, pfl.v[i].value);
        l->invalid += pfl.invalid;
        free(pfl.v);
}

/* ---- writing ----------------------------------------------------------------------------- */

static uint64_t realtime_sec(void) {
        return (uint64_t) time(NULL);
}

static int write_atomically(const char *path, const char *text) {
        _cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path), *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        const char *dir, *base;
        size_t len = strlen(text), done = 0;

        if (!dir_copy || !base_copy)
                return -ENOMEM;
        dir = dirname(dir_copy);
        base = basename(base_copy);
        /* A dotfile in the same folder: nfd-worker ignores it, and rename() is atomic
         * only within one file system. */
        if (asprintf(&tmp, ".%s.tmp", base) < 0)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        while (done < len) {
                ssize_t k = write(fd, text + done, len - done);
                if (k < 0) {
                        int r = negative_errno();
                        (void) unlinkat(dfd, tmp, 0);
                        return r;
                }
                done += (size_t) k;
        }
        if (fsync(fd) < 0 || renameat(dfd, tmp, dfd, base) < 0) {
                int r = negative_errno();
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        (void) fsync(dfd);
        return 0;
}

static void nfd_update(struct sriovd_nfd *n, bool refresh_due) {
        struct label_list l = {};
        _cleanup_free_ char *text = NULL;
        size_t dropped = 0;
        int r;

        if (!n->path)
                return;
        collect_labels(n->manager, &l);
        r = sriovd_nfd_render(l.v, l.n, realtime_sec() + n->expiry_sec, SRIOVD_NFD_FILE_MAX, &text, &dropped);
        free(l.v);
        if (r < 0) {
                log_warning_errno(r, "NFD feature file %s: cannot render the labels", n->path);
                return;
        }
        const char *body = strchr(text, '\n') + 1;      /* the header always ends in one */
        if (!refresh_due && n->last_body && streq(n->last_body, body))
                return;         /* nothing changed; the refresh timer keeps the expiry ahead */

        if (dropped > 0 && dropped != n->last_dropped)
                log_warning("NFD feature file %s: %zu per-PF labels left out to stay within NFD's %u-byte limit",
                            n->path, dropped, SRIOVD_NFD_FILE_MAX);
        n->last_dropped = dropped;
        if (l.invalid > 0)
                log_debug("NFD feature file: %zu labels skipped (not valid Kubernetes labels)", l.invalid);

        r = write_atomically(n->path, text);
        if (r < 0) {
                if (!n->warned_write)
                        log_warning_errno(r, "Cannot write the NFD feature file %s; retrying at the next change", n->path);
                n->warned_write = true;
                free(n->last_body);
                n->last_body = NULL;
        } else {
                if (n->warned_write)
                        log_info("NFD feature file %s written", n->path);
                n->warned_write = false;
                free(n->last_body);
                n->last_body = strdup(body);
                log_debug("NFD feature file %s rewritten", n->path);
        }
        /* Rewritten at half the expiry, so that nfd-worker never sees it expired while
         * sriovd runs; and a failed write is retried then too. */
        event_add(n->refresh, &(struct timeval) { .tv_sec = n->expiry_sec / 2, .tv_usec = (n->expiry_sec % 2) * 500000 });
}

static void coalesce_cb(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_nfd *n = userdata;

        /* The refresh timer passes through here as well: then it is due. */
        nfd_update(n, !evtimer_pending(n->refresh, NULL));
}

void sriovd_nfd_changed(struct sriovd_nfd *n) {
        if (!n || !n->path || evtimer_pending(n->coalesce, NULL))
                return;
        event_add(n->coalesce, &(struct timeval) { .tv_sec = NFD_COALESCE_MS / 1000,
                                                   .tv_usec = (NFD_COALESCE_MS % 1000) * 1000 });
}

void sriovd_nfd_configure(struct sriovd_nfd *n, const struct sriov_daemon_config *d) {
        const char *want = d ? d->nfd_features_file : NULL;
        unsigned expiry = d && d->nfd_expiry ? d->nfd_expiry : SRIOV_CONFIG_NFD_EXPIRY_DEFAULT;

        if (!n)
                return;
        if (n->path && (!want || !streq(n->path, want))) {
                /* Labels of a file sriovd no longer keeps must not linger until expiry. */
                if (unlink(n->path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot remove the old NFD feature file %s", n->path);
                else
                        log_info("NFD feature file %s removed", n->path);
                free(n->path);
                n->path = NULL;
                event_del(n->coalesce);
                event_del(n->refresh);
        }
        bool expiry_changed = expiry != n->expiry_sec;
        n->expiry_sec = expiry;
        if (!want)
                return;
        if (!n->path) {
                n->path = strdup(want);
                free(n->last_body);
                n->last_body = NULL;
                n->warned_write = false;
                if (!n->path)
                        return;
                log_info("NFD feature file %s (labels sriovd.io/..., expiry %u s)", n->path, n->expiry_sec);
        }
        /* Soon, not only at the first uevent; the expiry changed: now. */
        if (expiry_changed && n->last_body)
                nfd_update(n, true);
        else
                sriovd_nfd_changed(n);
}
