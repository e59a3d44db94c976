/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "sriovd-device-text.h"

#define ADD(b, lit) sriovd_textbuf_add((b), (lit), sizeof(lit) - 1)

static void put_string(struct sriovd_textbuf *b, const char *s) {
        if (s)
                sriovd_textbuf_json_string(b, s, strlen(s));
        else
                ADD(b, "null");
}

static void put_hex16(struct sriovd_textbuf *b, uint16_t v) {
        static const char hex[] = "0123456789abcdef";
        char s[6] = { '"', hex[v >> 12], hex[(v >> 8) & 15], hex[(v >> 4) & 15], hex[v & 15], '"' };
        sriovd_textbuf_add(b, s, sizeof(s));
}

static void put_int_or_null(struct sriovd_textbuf *b, int v) {
        if (v >= 0)
                sriovd_textbuf_i64(b, v);
        else
                ADD(b, "null");
}

static void put_vfio_node(struct sriovd_textbuf *b, const char *driver, int group) {
        if (!driver || !streq(driver, "vfio-pci") || group < 0) {
                ADD(b, "null");
                return;
        }
        ADD(b, "\"/dev/vfio/");
        sriovd_textbuf_i64(b, group);
        sriovd_textbuf_putc(b, '"');
}

static void put_counters(struct sriovd_textbuf *b, const struct sriov_aer_counters *c) {
        /* Names are interned (sriov-aer.c): equal names are the same pointer. json-c keeps
         * the first position of a key added twice with the last value; the kernel never
         * repeats a name, so the slow path below only keeps the bytes equal. */
        bool dups = false;

        for (size_t i = 1; i < c->n_counters && !dups; i++)
                for (size_t j = 0; j < i && !dups; j++)
                        dups = c->counters[j].name == c->counters[i].name;
        sriovd_textbuf_putc(b, '{');
        bool total_seen = false;
        for (size_t i = 0; i < c->n_counters; i++) {
                uint64_t value = c->counters[i].count;
                if (dups) {
                        bool seen = false;
                        for (size_t j = 0; j < i && !seen; j++)
                                seen = c->counters[j].name == c->counters[i].name;
                        if (seen)
                                continue;
                        for (size_t j = i + 1; j < c->n_counters; j++)
                                if (c->counters[j].name == c->counters[i].name)
                                        value = c->counters[j].count;
                }
                if (c->has_total && streq(c->counters[i].name, "total")) {
                        value = c->total;
                        total_seen = true;
                }
                if (i > 0)
                        sriovd_textbuf_putc(b, ',');
                put_string(b, c->counters[i].name);
                sriovd_textbuf_putc(b, ':');
                sriovd_textbuf_u64(b, value);
        }
        if (c->has_total && !total_seen) {
                if (c->n_counters > 0)
                        sriovd_textbuf_putc(b, ',');
                ADD(b, "\"total\":");
                sriovd_textbuf_u64(b, c->total);
        }
        sriovd_textbuf_putc(b, '}');
}

static void put_aer(struct sriovd_textbuf *b, const struct sriov_aer *a) {
        bool comma = false;

        sriovd_textbuf_putc(b, '{');
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                if (!a->kinds[k].present)
                        continue;
                if (comma)
                        sriovd_textbuf_putc(b, ',');
                put_string(b, sriov_aer_kind_to_string(k));
                sriovd_textbuf_putc(b, ':');
                put_counters(b, &a->kinds[k]);
                comma = true;
        }
        if (a->has_rootport) {
                if (comma)
                        sriovd_textbuf_putc(b, ',');
                ADD(b, "\"rootport_total\":{");
                for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                        if (k > 0)
                                sriovd_textbuf_putc(b, ',');
                        put_string(b, sriov_aer_kind_to_string(k));
                        sriovd_textbuf_putc(b, ':');
                        sriovd_textbuf_u64(b, a->rootport_total[k]);
                }
                sriovd_textbuf_putc(b, '}');
        }
        sriovd_textbuf_putc(b, '}');
}

static void put_pf(struct sriovd_textbuf *b, const struct sriov_model *m, const struct sriov_device *d,
                   const struct sriovd_device_text_extras *extras) {
        const struct sriov_pf_info *pf = &d->pf;

        ADD(b, "{\"total_vfs\":");
        sriovd_textbuf_i64(b, pf->total_vfs);
        ADD(b, ",\"num_vfs\":");
        sriovd_textbuf_i64(b, (int64_t) pf->n_vfs);
        ADD(b, ",\"offset\":");
        sriovd_textbuf_i64(b, pf->offset);
        ADD(b, ",\"stride\":");
        sriovd_textbuf_i64(b, pf->stride);
        ADD(b, ",\"vf_device_id\":");
        put_hex16(b, pf->vf_device_id);
        ADD(b, ",\"drivers_autoprobe\":");
        if (pf->drivers_autoprobe < 0)
                ADD(b, "null");
        else if (pf->drivers_autoprobe)
                ADD(b, "true");
        else
                ADD(b, "false");
        ADD(b, ",\"vfs\":[");
        for (size_t i = 0; i < pf->n_vfs; i++) {
                const struct sriov_device *vd = m ? sriov_model_get(m, &pf->vfs[i].addr) : NULL;
                if (i > 0)
                        sriovd_textbuf_putc(b, ',');
                ADD(b, "{\"index\":");
                sriovd_textbuf_i64(b, pf->vfs[i].index);
                ADD(b, ",\"address\":");
                sriovd_textbuf_addr(b, &pf->vfs[i].addr);
                ADD(b, ",\"driver\":");
                put_string(b, vd ? vd->driver : NULL);
                ADD(b, ",\"iommu_group\":");
                put_int_or_null(b, vd ? vd->iommu_group : -1);
                ADD(b, ",\"vfio_device\":");
                if (vd)
                        put_vfio_node(b, vd->driver, vd->iommu_group);
                else
                        ADD(b, "null");
                ADD(b, ",\"netdev\":");
                put_string(b, vd && vd->netdevs ? vd->netdevs[0] : NULL);
                sriovd_textbuf_putc(b, '}');
        }
        sriovd_textbuf_putc(b, ']');
        if (extras && extras->sriov_tail)
                extras->sriov_tail(b, d, extras->userdata);
        sriovd_textbuf_putc(b, '}');
}

void sriovd_device_text(struct sriovd_textbuf *b, const struct sriov_model *m, const struct sriov_device *d) {
        sriovd_device_text_full(b, m, d, NULL);
}

void sriovd_device_text_full(struct sriovd_textbuf *b, const struct sriov_model *m, const struct sriov_device *d,
                             const struct sriovd_device_text_extras *extras) {
        char class_buf[16];

        ADD(b, "{\"address\":");
        sriovd_textbuf_addr(b, &d->addr);
        ADD(b, ",\"role\":");
        put_string(b, sriov_role_to_string(d->role));
        ADD(b, ",\"vendor_id\":");
        put_hex16(b, d->vendor_id);
        ADD(b, ",\"device_id\":");
        put_hex16(b, d->device_id);
        snprintf(class_buf, sizeof(class_buf), "0x%06x", d->class_code);
        ADD(b, ",\"class\":");
        put_string(b, class_buf);
        ADD(b, ",\"vendor_name\":");
        put_string(b, d->vendor_name);
        ADD(b, ",\"device_name\":");
        put_string(b, d->device_name);
        ADD(b, ",\"driver\":");
        put_string(b, d->driver);
        ADD(b, ",\"iommu_group\":");
        put_int_or_null(b, d->iommu_group);
        ADD(b, ",\"vfio_device\":");
        put_vfio_node(b, d->driver, d->iommu_group);
        ADD(b, ",\"netdevs\":[");
        for (char **n = d->netdevs; n && *n; n++) {
                if (n != d->netdevs)
                        sriovd_textbuf_putc(b, ',');
                put_string(b, *n);
        }
        sriovd_textbuf_putc(b, ']');
        ADD(b, ",\"upstream\":[");
        for (size_t i = 0; i < d->n_upstream; i++) {
                if (i > 0)
                        sriovd_textbuf_putc(b, ',');
                sriovd_textbuf_addr(b, &d->upstream[i]);
        }
        sriovd_textbuf_putc(b, ']');
        if (d->role == SRIOV_ROLE_PF) {
                ADD(b, ",\"sriov\":");
                put_pf(b, m, d, extras);
        }
        if (d->role == SRIOV_ROLE_VF) {
                ADD(b, ",\"vf\":{\"index\":");
                put_int_or_null(b, d->vf.index);
                ADD(b, ",\"pf\":");
                sriovd_textbuf_addr(b, &d->vf.pf);
                sriovd_textbuf_putc(b, '}');
        }
        if (sriov_aer_present(&d->aer)) {
                ADD(b, ",\"aer\":");
                put_aer(b, &d->aer);
        }
        if (extras && extras->tail)
                extras->tail(b, d, extras->userdata);
        sriovd_textbuf_putc(b, '}');
}
