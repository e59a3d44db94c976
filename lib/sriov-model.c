/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-log.h"
#include "sriov-model.h"

struct sriov_model {
        struct sriov_sysfs *sysfs;
        struct sriov_names *names;
        struct sriov_device **devices;
        size_t n_devices;
        size_t cap;
};

int sriov_model_new(struct sriov_sysfs *sysfs, struct sriov_names *names, struct sriov_model **ret) {
        struct sriov_model *m;

        if (!sysfs || !ret)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->sysfs = sysfs;
        m->names = names;
        *ret = m;
        return 0;
}

static void model_clear(struct sriov_model *m) {
        for (size_t i = 0; i < m->n_devices; i++)
                sriov_device_free(m->devices[i]);
        m->n_devices = 0;
}

struct sriov_model *sriov_model_free(struct sriov_model *m) {
        if (!m)
                return NULL;
        model_clear(m);
        free(m->devices);
        free(m);
        return NULL;
}

/* Index of a, or of where it would be inserted; *found says which. */
static size_t model_search(const struct sriov_model *m, const struct sriov_addr *a, bool *found) {
        size_t lo = 0, hi = m->n_devices;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = sriov_addr_compare(&m->devices[mid]->addr, a);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

static struct sriov_device *model_get_mutable(struct sriov_model *m, const struct sriov_addr *a) {
        bool found;
        size_t i = model_search(m, a, &found);
        return found ? m->devices[i] : NULL;
}

const struct sriov_device *sriov_model_get(const struct sriov_model *m, const struct sriov_addr *a) {
        return model_get_mutable((struct sriov_model *) m, a);
}

size_t sriov_model_size(const struct sriov_model *m) {
        return m->n_devices;
}

const struct sriov_device *sriov_model_at(const struct sriov_model *m, size_t i) {
        return i < m->n_devices ? m->devices[i] : NULL;
}

static void fill_names(struct sriov_model *m, struct sriov_device *d) {
        if (!m->names)
                return;
        (void) sriov_names_vendor(m->names, d->vendor_id, &d->vendor_name);
        (void) sriov_names_device(m->names, d->vendor_id, d->device_id, &d->device_name);
}

/* Takes ownership of d in every case. */
static int model_put(struct sriov_model *m, struct sriov_device *d) {
        bool found;
        size_t i = model_search(m, &d->addr, &found);

        if (found) {
                sriov_device_free(m->devices[i]);
                m->devices[i] = d;
                return 0;
        }
        if (m->n_devices == m->cap) {
                size_t ncap = m->cap ? m->cap * 2 : 128;
                struct sriov_device **nl = reallocarray(m->devices, ncap, sizeof(*nl));
                if (!nl) {
                        sriov_device_free(d);
                        return -ENOMEM;
                }
                m->devices = nl;
                m->cap = ncap;
        }
        memmove(&m->devices[i + 1], &m->devices[i], (m->n_devices - i) * sizeof(*m->devices));
        m->devices[i] = d;
        m->n_devices++;
        return 0;
}

int sriov_model_scan(struct sriov_model *m) {
        _cleanup_free_ struct sriov_addr *addrs = NULL;
        size_t n = 0;
        int r;

        r = sriov_sysfs_list_devices(m->sysfs, &addrs, &n);
        if (r < 0)
                return r;

        model_clear(m);
        for (size_t i = 0; i < n; i++) {
                struct sriov_device *d;

                r = sriov_device_load(m->sysfs, &addrs[i], &d);
                if (r < 0) {
                        sriov_debug("model: skipping %s during scan: %s", SRIOV_ADDR_STR(&addrs[i]), strerror(-r));
                        continue;
                }
                fill_names(m, d);
                r = model_put(m, d);
                if (r < 0)
                        return r;
        }
        /* Whether each PF's VFs are all in the model as VFs, so that the first PF
         * refresh need not check them one by one (model_refresh()). */
        for (size_t i = 0; i < m->n_devices; i++) {
                struct sriov_device *pf = m->devices[i];
                if (pf->role != SRIOV_ROLE_PF)
                        continue;
                pf->pf.vfs_resolved = true;
                for (size_t j = 0; j < pf->pf.n_vfs && pf->pf.vfs_resolved; j++) {
                        const struct sriov_device *vf = sriov_model_get(m, &pf->pf.vfs[j].addr);
                        pf->pf.vfs_resolved = vf && vf->role == SRIOV_ROLE_VF;
                }
        }
        return 0;
}

static void link_vf_to_pf(struct sriov_model *m, const struct sriov_device *vf) {
        struct sriov_device *pf = model_get_mutable(m, &vf->vf.pf);

        if (!pf || pf->role != SRIOV_ROLE_PF || vf->vf.index < 0)
                return;
        if (sriov_pf_info_set_vf(&pf->pf, (unsigned) vf->vf.index, &vf->addr) < 0)
                sriov_debug("model: out of memory linking %s to its PF", SRIOV_ADDR_STR(&vf->addr));
}

/* Drops a from whichever PF lists it. When the kernel tears a VF down it removes the
 * virtfnN and physfn links first and only then unbinds and removes the device, so by
 * the time we hear of it the function may no longer say whose VF it was. */
static void unlink_from_pfs(struct sriov_model *m, const struct sriov_device *old, const struct sriov_addr *a) {
        if (old && old->role == SRIOV_ROLE_VF) {
                struct sriov_device *pf = model_get_mutable(m, &old->vf.pf);
                if (pf && pf->role == SRIOV_ROLE_PF && sriov_pf_info_drop_vf(&pf->pf, a))
                        return;
        }
        for (size_t i = 0; i < m->n_devices; i++) {
                struct sriov_device *pf = m->devices[i];
                if (pf->role == SRIOV_ROLE_PF && pf->addr.domain == a->domain && sriov_pf_info_drop_vf(&pf->pf, a))
                        return;
        }
}

int sriov_model_forget(struct sriov_model *m, const struct sriov_addr *a) {
        struct sriov_device *old;
        bool found;
        size_t i = model_search(m, a, &found);

        if (!found) {
                unlink_from_pfs(m, NULL, a);
                return 0;
        }
        old = m->devices[i];
        memmove(&m->devices[i], &m->devices[i + 1], (m->n_devices - i - 1) * sizeof(*m->devices));
        m->n_devices--;
        unlink_from_pfs(m, old, a);
        sriov_device_free(old);
        return 0;
}

static int model_refresh(struct sriov_model *m, const struct sriov_addr *a, SriovLoadFlags flags,
                         bool *ret_vfs_changed) {
        struct sriov_device *d = NULL, *known = model_get_mutable(m, a);
        bool listed = false;
        int r;

        if (ret_vfs_changed)
                *ret_vfs_changed = false;
        r = sriov_device_load_known(m->sysfs, a, known, flags, &d, &listed);
        if (r == -ENOENT) {
                (void) sriov_model_forget(m, a);
                return 0;
        }
        if (r < 0)
                return r;
        fill_names(m, d);

        /* A VF whose physfn link is gone is being torn down: it leaves its PF's list now. */
        const struct sriov_device *old = sriov_model_get(m, a);
        if (old && old->role == SRIOV_ROLE_VF && d->role != SRIOV_ROLE_VF)
                unlink_from_pfs(m, old, a);
        if (ret_vfs_changed && d->role == SRIOV_ROLE_PF)
                *ret_vfs_changed = listed || !old || old->role != SRIOV_ROLE_PF;

        r = model_put(m, d);
        if (r < 0)
                return r;

        if (d->role == SRIOV_ROLE_VF)
                link_vf_to_pf(m, d);
        else if (d->role == SRIOV_ROLE_PF && !d->pf.vfs_resolved) {
                /* VFs whose add event came before the kernel created their physfn link
                 * were loaded as plain functions: load them again now. Once every VF is
                 * in the model as one, a PF refresh that keeps its VF set skips this. */
                bool resolved = true;
                for (size_t i = 0; i < d->pf.n_vfs; i++) {
                        const struct sriov_device *vf = sriov_model_get(m, &d->pf.vfs[i].addr);
                        if (!vf || vf->role != SRIOV_ROLE_VF) {
                                struct sriov_device *nvf = NULL;
                                if (sriov_device_load(m->sysfs, &d->pf.vfs[i].addr, &nvf) < 0) {
                                        resolved = false;
                                        continue;
                                }
                                fill_names(m, nvf);
                                resolved = resolved && nvf->role == SRIOV_ROLE_VF;
                                if (model_put(m, nvf) < 0)
                                        return -ENOMEM;
                        }
                }
                d->pf.vfs_resolved = resolved;
        }
        return 1;
}

int sriov_model_refresh(struct sriov_model *m, const struct sriov_addr *a) {
        return model_refresh(m, a, 0, NULL);
}

int sriov_model_refresh_vfs_changed(struct sriov_model *m, const struct sriov_addr *a, bool *ret_vfs_changed) {
        return model_refresh(m, a, 0, ret_vfs_changed);
}

int sriov_model_resync(struct sriov_model *m, const struct sriov_addr *a) {
        return model_refresh(m, a, SRIOV_LOAD_RELIST_VFS, NULL);
}

int sriov_model_refresh_aer(struct sriov_model *m, const struct sriov_addr *a, struct sriov_aer *ret_previous) {
        struct sriov_device *d = model_get_mutable(m, a);
        _cleanup_close_ int fd = -EBADF;
        struct sriov_aer now;
        int r;

        if (!d)
                return -ENOENT;
        fd = sriov_sysfs_open_device(m->sysfs, a);
        if (fd < 0)
                return fd;
        r = sriov_aer_load(fd, &now);
        if (r < 0)
                return r;
        *ret_previous = d->aer;
        d->aer = now;
        return 0;
}

static bool strv_equal(char *const *a, char *const *b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return (!a || !*a) && (!b || !*b);
}

int sriov_model_refresh_netdevs(struct sriov_model *m, const struct sriov_addr *a) {
        struct sriov_device *d = model_get_mutable(m, a);
        _cleanup_close_ int fd = -EBADF;
        char **names = NULL;
        int r;

        if (!d)
                return -ENOENT;
        fd = sriov_sysfs_open_device(m->sysfs, a);
        if (fd < 0)
                return fd;
        r = sriov_sysfs_list_netdevs(fd, &names);
        if (r < 0)
                return r;
        if (strv_equal(names, d->netdevs)) {
                strv_free(names);
                return 0;
        }
        strv_free(d->netdevs);
        d->netdevs = names;
        return 1;
}

static bool is_blocker(const struct sriov_device *d) {
        return d->role != SRIOV_ROLE_BRIDGE && !d->driver && !sriov_addr_equal(sriov_device_hierarchy(d), &d->addr);
}

static int blocker_cmp(const void *a, const void *b) {
        const struct sriov_device *x = *(const struct sriov_device *const *) a, *y = *(const struct sriov_device *const *) b;
        int r = sriov_addr_compare(sriov_device_hierarchy(x), sriov_device_hierarchy(y));

        return r ?: sriov_addr_compare(&x->addr, &y->addr);
}

int sriov_model_blockers(const struct sriov_model *m, struct sriov_blockers *ret) {
        size_t n = 0, k = 0;

        if (!m || !ret)
                return -EINVAL;
        *ret = (struct sriov_blockers) {};
        for (size_t i = 0; i < m->n_devices; i++)
                n += is_blocker(m->devices[i]);
        if (n == 0)
                return 0;
        ret->devices = malloc(n * sizeof(*ret->devices));
        if (!ret->devices)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_devices; i++)
                if (is_blocker(m->devices[i]))
                        ret->devices[k++] = m->devices[i];
        /* The model is in address order, and so is each hierarchy's run after the sort:
         * a hierarchy's functions are not contiguous in address order (VMD domains, VFs
         * on another bus), hence the sort rather than a scan for runs. */
        qsort(ret->devices, n, sizeof(*ret->devices), blocker_cmp);
        ret->n = n;
        return 0;
}

size_t sriov_blockers_of(const struct sriov_blockers *b, const struct sriov_addr *h,
                         const struct sriov_device *const **ret) {
        size_t lo = 0, hi = b ? b->n : 0, first, end;

        /* lower bound of h, then of its end */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (sriov_addr_compare(sriov_device_hierarchy(b->devices[mid]), h) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        first = lo;
        hi = b ? b->n : 0;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (sriov_addr_compare(sriov_device_hierarchy(b->devices[mid]), h) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        end = lo;
        *ret = b && end > first ? b->devices + first : NULL;
        return end - first;
}

void sriov_blockers_done(struct sriov_blockers *b) {
        if (!b)
                return;
        free(b->devices);
        *b = (struct sriov_blockers) {};
}
