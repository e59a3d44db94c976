/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "sriovd-ifname.h"

/* Bounded: one entry per PF with an interface; a host has tens of them. */
#define IFNAMES_MAX 4096

struct ifname_entry {
        struct sriov_addr pf;
        char *name;
};

struct sriovd_ifnames {
        struct sriov_sysfs *sysfs;
        size_t n;
        struct ifname_entry *entries;   /* sorted by address */
};

int sriovd_ifnames_new(struct sriov_sysfs *sysfs, struct sriovd_ifnames **ret) {
        struct sriovd_ifnames *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->sysfs = sysfs;
        *ret = c;
        return 0;
}

struct sriovd_ifnames *sriovd_ifnames_free(struct sriovd_ifnames *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++)
                free(c->entries[i].name);
        free(c->entries);
        free(c);
        return NULL;
}

/* Index of pf, or of where it would go (*found false). */
static size_t find(const struct sriovd_ifnames *c, const struct sriov_addr *pf, bool *found) {
        size_t lo = 0, hi = c->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int k = sriov_addr_compare(&c->entries[mid].pf, pf);
                if (k == 0) {
                        *found = true;
                        return mid;
                }
                if (k < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

void sriovd_ifnames_forget(struct sriovd_ifnames *c, const struct sriov_addr *pf) {
        bool found;
        size_t i;

        if (!c)
                return;
        i = find(c, pf, &found);
        if (!found)
                return;
        free(c->entries[i].name);
        memmove(&c->entries[i], &c->entries[i + 1], (c->n - i - 1) * sizeof(c->entries[0]));
        c->n--;
}

void sriovd_ifnames_refresh(struct sriovd_ifnames *c, const struct sriov_addr *pf) {
        _cleanup_free_ char *name = NULL;
        bool found;
        size_t i;

        if (!c)
                return;
        if (sriov_sysfs_device_ifname(c->sysfs, pf, &name) < 0 || !name) {
                sriovd_ifnames_forget(c, pf);
                return;
        }
        i = find(c, pf, &found);
        if (found) {
                free(c->entries[i].name);
                c->entries[i].name = TAKE_PTR(name);
                return;
        }
        if (c->n >= IFNAMES_MAX)
                return;
        struct ifname_entry *nl = reallocarray(c->entries, c->n + 1, sizeof(*nl));
        if (!nl)
                return;
        c->entries = nl;
        memmove(&c->entries[i + 1], &c->entries[i], (c->n - i) * sizeof(c->entries[0]));
        c->entries[i] = (struct ifname_entry) { .pf = *pf, .name = TAKE_PTR(name) };
        c->n++;
}

const char *sriovd_ifname_get(const struct sriovd_ifnames *c, const struct sriov_addr *pf) {
        bool found;
        size_t i;

        if (!c)
                return NULL;
        i = find(c, pf, &found);
        return found ? c->entries[i].name : NULL;
}
