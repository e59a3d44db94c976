/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sriov-address.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Reads exactly [min, max] hex digits; strtoul() would accept signs, spaces and 0x. */
static const char *parse_hex(const char *p, unsigned min, unsigned max, uint32_t *ret) {
        uint32_t v = 0;
        unsigned n = 0;

        while (n < max && hexval(p[n]) >= 0) {
                v = (v << 4) | (uint32_t) hexval(p[n]);
                n++;
        }
        if (n < min || hexval(p[n]) >= 0)
                return NULL;
        *ret = v;
        return p + n;
}

int sriov_addr_parse(const char *s, struct sriov_addr *ret) {
        uint32_t domain = 0, bus, slot, func;
        const char *p;

        if (!s || !ret)
                return -EINVAL;

        /* Count the colons to tell the full form from the short one. */
        unsigned colons = 0;
        for (const char *c = s; *c; c++)
                if (*c == ':')
                        colons++;

        p = s;
        if (colons == 2) {
                p = parse_hex(p, 4, 8, &domain);
                if (!p || *p != ':')
                        return -EINVAL;
                p++;
        } else if (colons != 1)
                return -EINVAL;

        p = parse_hex(p, 2, 2, &bus);
        if (!p || *p != ':')
                return -EINVAL;
        p = parse_hex(p + 1, 2, 2, &slot);
        if (!p || *p != '.' || slot > 0x1f)
                return -EINVAL;
        p = parse_hex(p + 1, 1, 1, &func);
        if (!p || *p != '\0' || func > 7)
                return -EINVAL;

        *ret = (struct sriov_addr) {
                .domain = domain,
                .bus = (uint8_t) bus,
                .slot = (uint8_t) slot,
                .func = (uint8_t) func,
        };
        return 0;
}

char *sriov_addr_format(const struct sriov_addr *a, char buf[static SRIOV_ADDR_STRLEN]) {
        snprintf(buf, SRIOV_ADDR_STRLEN, "%04x:%02x:%02x.%u", a->domain, a->bus, a->slot, a->func);
        return buf;
}

int sriov_addr_compare(const struct sriov_addr *a, const struct sriov_addr *b) {
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->func != b->func)
                return a->func < b->func ? -1 : 1;
        return 0;
}

bool sriov_addr_equal(const struct sriov_addr *a, const struct sriov_addr *b) {
        return sriov_addr_compare(a, b) == 0;
}

uint16_t sriov_addr_rid(const struct sriov_addr *a) {
        return (uint16_t) ((a->bus << 8) | (a->slot << 3) | a->func);
}

void sriov_addr_from_rid(uint32_t domain, uint16_t rid, struct sriov_addr *ret) {
        *ret = (struct sriov_addr) {
                .domain = domain,
                .bus = (uint8_t) (rid >> 8),
                .slot = (uint8_t) ((rid >> 3) & 0x1f),
                .func = (uint8_t) (rid & 0x7),
        };
}

int sriov_addr_vf(const struct sriov_addr *pf, unsigned offset, unsigned stride, unsigned index,
                  struct sriov_addr *ret) {
        uint64_t rid = (uint64_t) sriov_addr_rid(pf) + offset + (uint64_t) stride * index;

        if (rid > 0xffff)
                return -ERANGE;
        sriov_addr_from_rid(pf->domain, (uint16_t) rid, ret);
        return 0;
}
