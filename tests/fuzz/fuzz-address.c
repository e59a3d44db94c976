/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses as clients, sysfs names and configuration files give them: whatever
 * sriov_addr_parse() accepts formats back to a string that parses to the same address,
 * and VF address arithmetic never leaves the 8-bit bus and 16-bit routing ID. */
#include "fuzz-util.h"
#include "sriov-address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL;
        struct sriov_addr a, b, vf;
        char buf[SRIOV_ADDR_STRLEN];

        if (size > FUZZ_INPUT_MAX)
                return 0;
        s = fuzz_strndup(data, size);
        if (!s)
                return 0;
        if (sriov_addr_parse(s, &a) < 0)
                return 0;

        fuzz_assert(a.slot < 32 && a.func < 8);
        sriov_addr_format(&a, buf);
        fuzz_assert(strlen(buf) < SRIOV_ADDR_STRLEN);
        fuzz_assert(sriov_addr_parse(buf, &b) >= 0);
        fuzz_assert(sriov_addr_equal(&a, &b) && sriov_addr_compare(&a, &b) == 0);

        sriov_addr_from_rid(a.domain, sriov_addr_rid(&a), &b);
        fuzz_assert(sriov_addr_equal(&a, &b));

        /* The input's bytes as First VF Offset, VF Stride and an index, as a PF's
         * config space would give them. */
        if (size >= 6) {
                unsigned offset = data[0] | data[1] << 8, stride = data[2] | data[3] << 8,
                         index = data[4] | data[5] << 8;
                if (sriov_addr_vf(&a, offset, stride, index, &vf) >= 0) {
                        fuzz_assert(vf.domain == a.domain && vf.slot < 32 && vf.func < 8);
                        fuzz_assert(sriov_addr_rid(&vf) == sriov_addr_rid(&a) + offset + (uint64_t) stride * index);
                }
        }
        return 0;
}
