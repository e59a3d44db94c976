/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-aer.h"
#include "sriov-log.h"
#include "sriov-sysfs.h"

static const char *const kind_names[_SRIOV_AER_KIND_MAX] = {
        [SRIOV_AER_CORRECTABLE] = "correctable",
        [SRIOV_AER_NONFATAL] = "nonfatal",
        [SRIOV_AER_FATAL] = "fatal",
};

static const char *const dev_files[_SRIOV_AER_KIND_MAX] = {
        [SRIOV_AER_CORRECTABLE] = "aer_dev_correctable",
        [SRIOV_AER_NONFATAL] = "aer_dev_nonfatal",
        [SRIOV_AER_FATAL] = "aer_dev_fatal",
};

static const char *const rootport_files[_SRIOV_AER_KIND_MAX] = {
        [SRIOV_AER_CORRECTABLE] = "aer_rootport_total_err_cor",
        [SRIOV_AER_NONFATAL] = "aer_rootport_total_err_nonfatal",
        [SRIOV_AER_FATAL] = "aer_rootport_total_err_fatal",
};

const char *sriov_aer_kind_to_string(SriovAerKind k) {
        if (k < 0 || k >= _SRIOV_AER_KIND_MAX)
                return NULL;
        return kind_names[k];
}

/* The kernel names unnamed (reserved) bits "dev_cor_errs_bit[1]" (aer_stats_dev_attr()
 * in drivers/pci/pcie/aer.c), so brackets belong to names too. */
static bool is_name_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '[' ||
               c == ']';
}

/* Counter names, interned: the kernel prints the same few dozen names in every file of
 * every function. Append-only and bounded (a name past the bound is an error, which the
 * caller treats like a malformed file); a mutex because workers load devices too. */
#define AER_NAMES_MAX 1024
static pthread_mutex_t aer_names_lock = PTHREAD_MUTEX_INITIALIZER;
static char *aer_names[AER_NAMES_MAX];
static size_t n_aer_names;

static size_t aer_names_hint;   /* files list names in the same order: try the next first */

static bool aer_name_is(size_t i, const char *s, size_t len) {
        return strncmp(aer_names[i], s, len) == 0 && aer_names[i][len] == '\0';
}

static const char *aer_name_intern(const char *s, size_t len) {
        const char *found = NULL;

        pthread_mutex_lock(&aer_names_lock);
        if (aer_names_hint < n_aer_names && aer_name_is(aer_names_hint, s, len))
                found = aer_names[aer_names_hint++];
        for (size_t i = 0; i < n_aer_names && !found; i++)
                if (aer_name_is(i, s, len)) {
                        found = aer_names[i];
                        aer_names_hint = i + 1;
                }
        if (!found && n_aer_names < AER_NAMES_MAX) {
                char *copy = strndup(s, len);
                if (copy) {
                        found = aer_names[n_aer_names++] = copy;
                        aer_names_hint = n_aer_names;
                }
        }
        pthread_mutex_unlock(&aer_names_lock);
        return found;
}

static int parse_count(const char *p, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return -EBADMSG;
        /* Syntax first, so that long junk is a bad message and not a range error. */
        for (size_t i = 0; i < len; i++)
                if (p[i] < '0' || p[i] > '9')
                        return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                unsigned d = (unsigned) (p[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

void sriov_aer_counters_done(struct sriov_aer_counters *c) {
        if (!c)
                return;
        free(c->counters);
        *c = (struct sriov_aer_counters) {};
}

int sriov_aer_parse(const char *text, struct sriov_aer_counters *ret) {
        _cleanup_free_ struct sriov_aer_counter *counters = NULL;
        struct sriov_aer_counters c = { .present = true };
        const char *line = text;
        int r;

        if (!text || !ret)
                return -EINVAL;

        counters = calloc(SRIOV_AER_COUNTERS_MAX, sizeof(*counters));
        if (!counters)
                return -ENOMEM;

        while (*line) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                size_t name_len = 0;
                uint64_t count;

                if (len == 0) {         /* tolerate blank lines, the kernel prints none */
                        line += eol ? 1 : 0;
                        if (!eol)
                                break;
                        continue;
                }

                while (name_len < len && is_name_char(line[name_len]))
                        name_len++;
                if (name_len == 0 || name_len >= SRIOV_AER_NAME_MAX || name_len >= len ||
                    line[name_len] != ' ')
                        return -EBADMSG;
                r = parse_count(line + name_len + 1, len - name_len - 1, &count);
                if (r < 0)
                        return r;

                /* The kernel prints each name once. A repeated one would make every
                 * later reading look like growth (the first of a name is the one
                 * looked up), so it is as malformed as a line without a count. */
                if (strneq(line, "TOTAL_ERR_", 10)) {
                        if (c.has_total)
                                return -EBADMSG;
                        c.has_total = true;
                        c.total = count;
                } else {
                        if (c.n_counters >= SRIOV_AER_COUNTERS_MAX)
                                return -E2BIG;
                        for (size_t i = 0; i < c.n_counters; i++)
                                if (strlen(counters[i].name) == name_len && memcmp(counters[i].name, line, name_len) == 0)
                                        return -EBADMSG;
                        counters[c.n_counters].name = aer_name_intern(line, name_len);
                        if (!counters[c.n_counters].name)
                                return -ENOMEM;
                        counters[c.n_counters].count = count;
                        c.n_counters++;
                }

                if (!eol)
                        break;
                line = eol + 1;
        }

        /* Only what was parsed is kept: thousands of functions hold these. */
        if (c.n_counters > 0) {
                struct sriov_aer_counter *fit = reallocarray(counters, c.n_counters, sizeof(*fit));
                if (fit)
                        counters = fit;
        } else {
                free(counters);
                counters = NULL;
        }
        c.counters = TAKE_PTR(counters);
        *ret = c;
        return 0;
}

int sriov_aer_load(int dev_dirfd, struct sriov_aer *ret) {
        struct sriov_aer a = {};
        int r;

        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                _cleanup_free_ char *text = NULL;

                r = sriov_sysfs_read(dev_dirfd, dev_files[k], &text);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        sriov_debug("aer: cannot read %s: %s", dev_files[k], strerror(-r));
                        continue;
                }
                r = sriov_aer_parse(text, &a.kinds[k]);
                if (r < 0)
                        sriov_debug("aer: ignoring malformed %s: %s", dev_files[k], strerror(-r));
        }

        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                uint64_t v;

                r = sriov_sysfs_read_u64(dev_dirfd, rootport_files[k], 10, &v);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        sriov_debug("aer: ignoring %s: %s", rootport_files[k], strerror(-r));
                        continue;
                }
                a.has_rootport = true;
                a.rootport_total[k] = v;
        }

        *ret = a;
        return 0;
}

bool sriov_aer_present(const struct sriov_aer *a) {
        if (a->has_rootport)
                return true;
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                if (a->kinds[k].present)
                        return true;
        return false;
}

uint64_t sriov_aer_counter_get(const struct sriov_aer_counters *c, const char *name) {
        for (size_t i = 0; i < c->n_counters; i++)
                if (streq(c->counters[i].name, name))
                        return c->counters[i].count;
        return 0;
}

void sriov_aer_done(struct sriov_aer *a) {
        if (!a)
                return;
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                sriov_aer_counters_done(&a->kinds[k]);
        *a = (struct sriov_aer) {};
}

static uint64_t grew(uint64_t before, uint64_t after) {
        return after >= before ? after - before : after;
}

unsigned sriov_aer_diff(const struct sriov_aer *old, const struct sriov_aer *now, sriov_aer_delta_cb cb, void *userdata) {
        unsigned changed = 0;

        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                const struct sriov_aer_counters *o = &old->kinds[k], *n = &now->kinds[k];

                for (size_t i = 0; i < n->n_counters; i++) {
                        uint64_t d = grew(sriov_aer_counter_get(o, n->counters[i].name), n->counters[i].count);
                        if (d == 0)
                                continue;
                        changed++;
                        if (cb)
                                cb(k, n->counters[i].name, d, userdata);
                }
                if (n->has_total) {
                        uint64_t d = grew(o->has_total ? o->total : 0, n->total);
                        if (d > 0) {
                                changed++;
                                if (cb)
                                        cb(k, "total", d, userdata);
                        }
                }
        }
        return changed;
}

int sriov_aer_copy(const struct sriov_aer *src, struct sriov_aer *ret) {
        struct sriov_aer a = *src;

        /* None of src's arrays may be reachable from a when it is freed on failure. */
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                a.kinds[k].counters = NULL;
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                if (src->kinds[k].n_counters == 0)
                        continue;
                a.kinds[k].counters = calloc(src->kinds[k].n_counters, sizeof(struct sriov_aer_counter));
                if (!a.kinds[k].counters) {
                        sriov_aer_done(&a);
                        return -ENOMEM;
                }
                memcpy(a.kinds[k].counters, src->kinds[k].counters,
                       src->kinds[k].n_counters * sizeof(struct sriov_aer_counter));
        }
        *ret = a;
        return 0;
}
