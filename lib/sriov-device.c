/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sriov-device.h"
#include "sriov-log.h"

static const char *const role_names[_SRIOV_ROLE_MAX] = {
        [SRIOV_ROLE_OTHER] = "other",
        [SRIOV_ROLE_BRIDGE] = "bridge",
        [SRIOV_ROLE_PF] = "pf",
        [SRIOV_ROLE_VF] = "vf",
};

const char *sriov_role_to_string(SriovRole r) {
        if (r < 0 || r >= _SRIOV_ROLE_MAX)
                return NULL;
        return role_names[r];
}

SriovRole sriov_role_from_string(const char *s) {
        if (!s)
                return _SRIOV_ROLE_INVALID;
        for (SriovRole r = 0; r < _SRIOV_ROLE_MAX; r++)
                if (streq(role_names[r], s))
                        return r;
        return _SRIOV_ROLE_INVALID;
}

struct sriov_device *sriov_device_free(struct sriov_device *d) {
        if (!d)
                return NULL;
        free(d->driver);
        free(d->upstream);
        free(d->vendor_name);
        free(d->device_name);
        free(d->pf.vfs);
        strv_free(d->netdevs);
        sriov_aer_done(&d->aer);
        free(d);
        return NULL;
}

const struct sriov_addr *sriov_device_hierarchy(const struct sriov_device *d) {
        return d->n_upstream > 0 ? &d->upstream[0] : &d->addr;
}

int sriov_parse_upstream(const char *path, const struct sriov_addr *self,
                         struct sriov_addr **ret, size_t *ret_n) {
        _cleanup_free_ struct sriov_addr *list = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t n = 0, cap = 0;
        char *saveptr = NULL;

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;

        for (char *tok = strtok_r(copy, "/", &saveptr); tok; tok = strtok_r(NULL, "/", &saveptr)) {
                struct sriov_addr a;

                /* Only components that are PCI addresses are functions; "pci0000:00" is
                 * the host bridge's root bus and "devices", ".." are the path. */
                if (sriov_addr_parse(tok, &a) < 0)
                        continue;
                if (self && sriov_addr_equal(&a, self))
                        break;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 4;
                        struct sriov_addr *nl = reallocarray(list, ncap, sizeof(*nl));
                        if (!nl)
                                return -ENOMEM;
                        list = nl;
                        cap = ncap;
                }
                list[n++] = a;
        }

        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int read_hex16(int fd, const char *attr, uint16_t *ret) {
        uint64_t v;
        int r;

        r = sriov_sysfs_read_u64(fd, attr, 16, &v);
        if (r < 0)
                return r;
        if (v > 0xffff)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static int read_uint(int fd, const char *attr, unsigned *ret) {
        uint64_t v;
        int r;

        r = sriov_sysfs_read_u64(fd, attr, 10, &v);
        if (r < 0)
                return r;
        if (v > 0xffffffffu)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* The address virtfnN pointed to when the PF was last read, if the layout is unchanged. */
static const struct sriov_addr *known_vf(const struct sriov_pf_info *known, const struct sriov_pf_info *pf,
                                         unsigned index, size_t *hint) {
        if (!known || known->offset != pf->offset || known->stride != pf->stride || pf->stride == 0)
                return NULL;
        /* Both lists are sorted by index: walk the known one along with the new one. */
        while (*hint < known->n_vfs && known->vfs[*hint].index < index)
                (*hint)++;
        if (*hint < known->n_vfs && known->vfs[*hint].index == index)
                return &known->vfs[*hint].addr;
        return NULL;
}

static int load_vfs(int fd, struct sriov_pf_info *pf, const struct sriov_pf_info *known) {
        _cleanup_free_ unsigned *idx = NULL;
        _cleanup_free_ struct sriov_vf_ref *vfs = NULL;
        size_t n_idx = 0, n = 0, hint = 0;
        int r;

        r = sriov_sysfs_list_virtfn(fd, &idx, &n_idx);
        if (r < 0)
                return r;

        if (n_idx > 0) {
                vfs = calloc(n_idx, sizeof(*vfs));
                if (!vfs)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_idx; i++) {
                _cleanup_free_ char *name = NULL;
                const struct sriov_addr *addr;
                char link[32];

                addr = known_vf(known, pf, idx[i], &hint);
                if (addr) {
                        vfs[n++] = (struct sriov_vf_ref) { .index = idx[i], .addr = *addr };
                        continue;
                }
                snprintf(link, sizeof(link), "virtfn%u", idx[i]);
                r = sriov_sysfs_read_link_name(fd, link, &name);
                if (r == -ENOENT)       /* removed while we listed: the remove event follows */
                        continue;
                if (r == -EBADMSG) {    /* a link the kernel would not make: skip it, keep the PF */
                        sriov_debug("device: %s has an empty target, skipped", link);
                        continue;
                }
                if (r < 0)
                        return r;
                if (sriov_addr_parse(name, &vfs[n].addr) < 0) {
                        sriov_debug("device: %s points to '%s', not a PCI function", link, name);
                        continue;
                }
                vfs[n].index = idx[i];
                n++;
        }

        free(pf->vfs);
        pf->vfs = TAKE_PTR(vfs);
        pf->n_vfs = n;
        return 0;
}

int sriov_pf_info_set_vf(struct sriov_pf_info *pf, unsigned index, const struct sriov_addr *addr) {
        struct sriov_vf_ref *nl;
        size_t lo = 0, hi = pf->n_vfs;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pf->vfs[mid].index < index)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < pf->n_vfs && pf->vfs[lo].index == index) {
                pf->vfs[lo].addr = *addr;
                return 0;
        }

        nl = reallocarray(pf->vfs, pf->n_vfs + 1, sizeof(*nl));
        if (!nl)
                return -ENOMEM;
        pf->vfs = nl;
        memmove(&pf->vfs[lo + 1], &pf->vfs[lo], (pf->n_vfs - lo) * sizeof(*nl));
        pf->vfs[lo] = (struct sriov_vf_ref) { .index = index, .addr = *addr };
        pf->n_vfs++;
        return 1;
}

bool sriov_pf_info_drop_vf(struct sriov_pf_info *pf, const struct sriov_addr *addr) {
        for (size_t i = 0; i < pf->n_vfs; i++)
                if (sriov_addr_equal(&pf->vfs[i].addr, addr)) {
                        memmove(&pf->vfs[i], &pf->vfs[i + 1], (pf->n_vfs - i - 1) * sizeof(*pf->vfs));
                        pf->n_vfs--;
                        return true;
                }
        return false;
}

int sriov_device_reload_vfs(struct sriov_sysfs *s, struct sriov_device *pf) {
        _cleanup_close_ int fd = -EBADF;

        if (pf->role != SRIOV_ROLE_PF)
                return -EINVAL;
        fd = sriov_sysfs_open_device(s, &pf->addr);
        if (fd < 0)
                return fd;
        return load_vfs(fd, &pf->pf, NULL);
}

/* See sriov_device_load_known(): 1 when the PF's VF set is the known one, found with two
 * system calls; 0 when its virtfn links must be listed. */
static int vf_set_unchanged(int fd, const struct sriov_pf_info *pf, const struct sriov_pf_info *known) {
        _cleanup_free_ char *name = NULL;
        struct sriov_addr last;
        char link[32];
        size_t n;
        int r;

        n = known->n_vfs;
        /* Without VFs the layout does not matter (some devices read a stride of 0 then). */
        if (n > 0 && (known->offset != pf->offset || known->stride != pf->stride || pf->stride == 0))
                return 0;
        if (n > 0 && known->vfs[n - 1].index != n - 1)
                return 0;       /* a hole the model knows of: not the kernel's bulk shape */

        snprintf(link, sizeof(link), "virtfn%zu", n);
        r = sriov_sysfs_has(fd, link);
        if (r != 0)
                return r < 0 ? r : 0;
        if (n == 0)
                return 1;

        snprintf(link, sizeof(link), "virtfn%zu", n - 1);
        r = sriov_sysfs_read_link_name(fd, link, &name);
        if (r == -ENOENT || r == -EBADMSG)
                return 0;
        if (r < 0)
                return r;
        if (sriov_addr_parse(name, &last) < 0)
                return 0;
        return sriov_addr_equal(&last, &known->vfs[n - 1].addr);
}

static int load_pf(int fd, struct sriov_pf_info *pf, const struct sriov_pf_info *known, bool relist,
                   bool *ret_reuse_known) {
        uint64_t v;
        int r;

        *ret_reuse_known = false;
        r = read_uint(fd, "sriov_totalvfs", &pf->total_vfs);
        if (r < 0)
                return r;
        /* The rest is informational; a missing attribute must not hide the PF. */
        (void) read_uint(fd, "sriov_offset", &pf->offset);
        (void) read_uint(fd, "sriov_stride", &pf->stride);
        (void) read_hex16(fd, "sriov_vf_device", &pf->vf_device_id);
        pf->drivers_autoprobe = -1;
        if (sriov_sysfs_read_u64(fd, "sriov_drivers_autoprobe", 10, &v) >= 0)
                pf->drivers_autoprobe = v != 0;
        if (relist)
                return load_vfs(fd, pf, NULL);  /* every link read: sysfs's word, not ours */
        if (known) {
                r = vf_set_unchanged(fd, pf, known);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_reuse_known = true;
                        return 0;
                }
        }
        return load_vfs(fd, pf, known);
}

static void load_vf(int fd, const struct sriov_addr *self, struct sriov_vf_info *vf) {
        unsigned offset = 0, stride = 0;

        vf->index = -1;
        /* The index follows from the PF's First VF Offset and VF Stride; reading them
         * through the physfn link costs two small reads instead of listing all links. */
        if (read_uint(fd, "physfn/sriov_offset", &offset) < 0 ||
            read_uint(fd, "physfn/sriov_stride", &stride) < 0 || stride == 0)
                return;

        int64_t delta = (int64_t) sriov_addr_rid(self) - (int64_t) sriov_addr_rid(&vf->pf) - offset;
        if (delta >= 0 && delta % stride == 0)
                vf->index = (int) (delta / stride);
}

int sriov_device_load(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_device **ret) {
        return sriov_device_load_known(s, a, NULL, 0, ret, NULL);
}

int sriov_device_load_known(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_device *known,
                            SriovLoadFlags flags, struct sriov_device **ret, bool *ret_vfs_listed) {
        _cleanup_(sriov_device_freep) struct sriov_device *d = NULL;
        _cleanup_free_ char *path = NULL, *group = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t class_code;
        bool reuse_known = false;
        int r;

        fd = sriov_sysfs_open_device(s, a);
        if (fd < 0)
                return fd;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->addr = *a;
        d->iommu_group = -1;

        r = read_hex16(fd, "vendor", &d->vendor_id);
        if (r < 0)
                return r;
        r = read_hex16(fd, "device", &d->device_id);
        if (r < 0)
                return r;
        r = sriov_sysfs_read_u64(fd, "class", 16, &class_code);
        if (r < 0)
                return r;
        d->class_code = (uint32_t) class_code;

        r = sriov_sysfs_read_link_name(fd, "driver", &d->driver);
        if (r < 0 && r != -ENOENT)
                return r;

        r = sriov_sysfs_read_link_name(fd, "iommu_group", &group);
        if (r >= 0) {
                char *end;
                long g = strtol(group, &end, 10);
                if (*end == '\0' && g >= 0 && g <= INT32_MAX)
                        d->iommu_group = (int) g;
        } else if (r != -ENOENT)
                return r;

        r = sriov_sysfs_device_path(s, a, &path);
        if (r < 0)
                return r;
        r = sriov_parse_upstream(path, a, &d->upstream, &d->n_upstream);
        if (r < 0)
                return r;

        r = sriov_sysfs_has(fd, "physfn");
        if (r < 0)
                return r;
        if (r > 0) {
                _cleanup_free_ char *pf_name = NULL;

                r = sriov_sysfs_read_link_name(fd, "physfn", &pf_name);
                if (r < 0)
                        return r;
                if (sriov_addr_parse(pf_name, &d->vf.pf) < 0)
                        return -EBADMSG;
                d->role = SRIOV_ROLE_VF;
                load_vf(fd, a, &d->vf);
        } else {
                r = sriov_sysfs_has(fd, "sriov_totalvfs");
                if (r < 0)
                        return r;
                if (r > 0) {
                        d->role = SRIOV_ROLE_PF;
                        r = load_pf(fd, &d->pf, known && known->role == SRIOV_ROLE_PF ? &known->pf : NULL,
                                    flags & SRIOV_LOAD_RELIST_VFS, &reuse_known);
                        if (r < 0)
                                return r;
                } else if ((d->class_code >> 8) == 0x0604 || (d->class_code >> 8) == 0x0609)
                        d->role = SRIOV_ROLE_BRIDGE;    /* PCI-to-PCI and semi-transparent bridges */
                else
                        d->role = SRIOV_ROLE_OTHER;
        }

        r = sriov_aer_load(fd, &d->aer);
        if (r < 0)
                return r;

        r = sriov_sysfs_list_netdevs(fd, &d->netdevs);
        if (r < 0)
                return r;

        /* Only now that nothing can fail: known keeps its list on every error above. */
        if (reuse_known) {
                d->pf.vfs = TAKE_PTR(known->pf.vfs);
                d->pf.n_vfs = known->pf.n_vfs;
                d->pf.vfs_resolved = known->pf.vfs_resolved;
                known->pf.n_vfs = 0;
        }
        if (ret_vfs_listed)
                *ret_vfs_listed = d->role == SRIOV_ROLE_PF && !reuse_known;
        *ret = TAKE_PTR(d);
        return 0;
}
