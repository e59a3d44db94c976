/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "sriov-json.h"

json_object *sriov_addr_to_json(const struct sriov_addr *a) {
        return json_object_new_string(SRIOV_ADDR_STR(a));
}

static json_object *hex16(uint16_t v) {
        char buf[8];
        snprintf(buf, sizeof(buf), "%04x", v);
        return json_object_new_string(buf);
}

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *int_or_null(int v) {
        return v >= 0 ? json_object_new_int(v) : NULL;
}

/* The VFIO character device of a function handed to vfio-pci: what a VM or DPDK opens. */
static json_object *vfio_node(const char *driver, int group) {
        char buf[32];

        if (!driver || !streq(driver, "vfio-pci") || group < 0)
                return NULL;
        snprintf(buf, sizeof(buf), "/dev/vfio/%d", group);
        return json_object_new_string(buf);
}

static json_object *counters_to_json(const struct sriov_aer_counters *c) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < c->n_counters; i++)
                json_object_object_add(o, c->counters[i].name, json_object_new_uint64(c->counters[i].count));
        if (c->has_total)
                json_object_object_add(o, "total", json_object_new_uint64(c->total));
        return o;
}

json_object *sriov_aer_to_json(const struct sriov_aer *a) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                if (a->kinds[k].present)
                        json_object_object_add(o, sriov_aer_kind_to_string(k), counters_to_json(&a->kinds[k]));
        if (a->has_rootport) {
                json_object *rp = json_object_new_object();
                for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                        json_object_object_add(rp, sriov_aer_kind_to_string(k), json_object_new_uint64(a->rootport_total[k]));
                json_object_object_add(o, "rootport_total", rp);
        }
        return o;
}

static json_object *pf_to_json(const struct sriov_model *m, const struct sriov_pf_info *pf) {
        json_object *o = json_object_new_object(), *vfs = json_object_new_array();

        if (!o || !vfs) {
                json_object_put(o);
                json_object_put(vfs);
                return NULL;
        }
        json_object_object_add(o, "total_vfs", json_object_new_int64(pf->total_vfs));
        json_object_object_add(o, "num_vfs", json_object_new_int64((int64_t) pf->n_vfs));
        json_object_object_add(o, "offset", json_object_new_int64(pf->offset));
        json_object_object_add(o, "stride", json_object_new_int64(pf->stride));
        json_object_object_add(o, "vf_device_id", hex16(pf->vf_device_id));
        json_object_object_add(o, "drivers_autoprobe",
                               pf->drivers_autoprobe < 0 ? NULL : json_object_new_boolean(pf->drivers_autoprobe));
        for (size_t i = 0; i < pf->n_vfs; i++) {
                json_object *vf = json_object_new_object();
                json_object_object_add(vf, "index", json_object_new_int64(pf->vfs[i].index));
                json_object_object_add(vf, "address", sriov_addr_to_json(&pf->vfs[i].addr));
                /* The VF's own entry knows its driver and group; without a model (a
                 * lone device) they are unknown, which null says. */
                const struct sriov_device *vd = m ? sriov_model_get(m, &pf->vfs[i].addr) : NULL;
                json_object_object_add(vf, "driver", vd ? string_or_null(vd->driver) : NULL);
                json_object_object_add(vf, "iommu_group", vd ? int_or_null(vd->iommu_group) : NULL);
                json_object_object_add(vf, "vfio_device", vd ? vfio_node(vd->driver, vd->iommu_group) : NULL);
                /* Bound to a network driver (igbvf, iavf, mlx5_core): its interface. */
                json_object_object_add(vf, "netdev", vd && vd->netdevs ? json_object_new_string(vd->netdevs[0]) : NULL);
                json_object_array_add(vfs, vf);
        }
        json_object_object_add(o, "vfs", vfs);
        return o;
}

json_object *sriov_device_to_json(const struct sriov_model *m, const struct sriov_device *d) {
        json_object *o = json_object_new_object(), *up;
        char class_buf[16];

        if (!o)
                return NULL;
        json_object_object_add(o, "address", sriov_addr_to_json(&d->addr));
        json_object_object_add(o, "role", json_object_new_string(sriov_role_to_string(d->role)));
        json_object_object_add(o, "vendor_id", hex16(d->vendor_id));
        json_object_object_add(o, "device_id", hex16(d->device_id));
        snprintf(class_buf, sizeof(class_buf), "0x%06x", d->class_code);
        json_object_object_add(o, "class", json_object_new_string(class_buf));
        json_object_object_add(o, "vendor_name", string_or_null(d->vendor_name));
        json_object_object_add(o, "device_name", string_or_null(d->device_name));
        json_object_object_add(o, "driver", string_or_null(d->driver));
        json_object_object_add(o, "iommu_group", int_or_null(d->iommu_group));
        json_object_object_add(o, "vfio_device", vfio_node(d->driver, d->iommu_group));

        json_object *netdevs = json_object_new_array();
        for (char **n = d->netdevs; n && *n; n++)
                json_object_array_add(netdevs, json_object_new_string(*n));
        json_object_object_add(o, "netdevs", netdevs);

        up = json_object_new_array();
        for (size_t i = 0; i < d->n_upstream; i++)
                json_object_array_add(up, sriov_addr_to_json(&d->upstream[i]));
        json_object_object_add(o, "upstream", up);

        if (d->role == SRIOV_ROLE_PF)
                json_object_object_add(o, "sriov", pf_to_json(m, &d->pf));
        if (d->role == SRIOV_ROLE_VF) {
                json_object *vf = json_object_new_object();
                json_object_object_add(vf, "index", int_or_null(d->vf.index));
                json_object_object_add(vf, "pf", sriov_addr_to_json(&d->vf.pf));
                json_object_object_add(o, "vf", vf);
        }
        if (sriov_aer_present(&d->aer))
                json_object_object_add(o, "aer", sriov_aer_to_json(&d->aer));
        return o;
}
