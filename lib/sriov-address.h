/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A PCI function address, as the kernel names it in sysfs: DDDD:BB:SS.F.
 * Domains above 0xffff exist (Intel VMD uses 0x10000+), so the domain is 32 bits. */
struct sriov_addr {
        uint32_t domain;
        uint8_t bus;
        uint8_t slot;   /* 0..31 */
        uint8_t func;   /* 0..7 */
};

/* "0000:01:00.0" plus NUL; a 32-bit domain needs 8 digits. */
#define SRIOV_ADDR_STRLEN 17

/* Parses the kernel's canonical form "DDDD:BB:SS.F" (domain 4 to 8 hex digits) or the
 * short form "BB:SS.F" (domain 0, as lspci -s accepts). Hex digits in either case.
 * Anything else - whitespace, signs, 0x prefixes, slot > 0x1f, function > 7,
 * trailing characters - is -EINVAL. ret is untouched on failure. */
int sriov_addr_parse(const char *s, struct sriov_addr *ret);

/* Writes the canonical lower-case form into buf (at least SRIOV_ADDR_STRLEN bytes). */
char *sriov_addr_format(const struct sriov_addr *a, char buf[static SRIOV_ADDR_STRLEN]);

int sriov_addr_compare(const struct sriov_addr *a, const struct sriov_addr *b);
bool sriov_addr_equal(const struct sriov_addr *a, const struct sriov_addr *b);

/* Routing ID (bus << 8 | devfn) as used by the SR-IOV offset/stride arithmetic. */
uint16_t sriov_addr_rid(const struct sriov_addr *a);
void sriov_addr_from_rid(uint32_t domain, uint16_t rid, struct sriov_addr *ret);

/* Address of VF number index (0-based) of PF pf, from the PF's First VF Offset and
 * VF Stride (PCIe SR-IOV spec 9.3.3.9/9.3.3.10). -ERANGE when it leaves the bus range. */
int sriov_addr_vf(const struct sriov_addr *pf, unsigned offset, unsigned stride, unsigned index,
                  struct sriov_addr *ret);

/* Helper for string literals in format strings: SRIOV_ADDR_STR(&a) returns a compound-literal
 * buffer valid until the end of the enclosing full expression's block. */
#define SRIOV_ADDR_STR(a) sriov_addr_format((a), (char[SRIOV_ADDR_STRLEN]) {})
