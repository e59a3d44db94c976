/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "sriov-address.h"
#include "unit-test.h"

#define A(d, b, s, f) { .domain = (d), .bus = (b), .slot = (s), .func = (f) }

/* Poison value: sriov_addr_parse() must leave ret untouched on failure. */
static const struct sriov_addr poison = A(0xdeadbeef, 0xaa, 0x1b, 6);

/* Field by field: the struct has a padding byte that assignment need not copy. */
#define assert_addr_equal(x, y)                                 \
        do {                                                    \
                assert_int_equal((x).domain, (y).domain);       \
                assert_int_equal((x).bus, (y).bus);             \
                assert_int_equal((x).slot, (y).slot);           \
                assert_int_equal((x).func, (y).func);           \
        } while (0)

struct parse_case {
        const char *name;
        const char *input;              /* NULL: pass NULL */
        size_t len;                     /* > 0: input has embedded NULs, copy len bytes */
        int ret;
        struct sriov_addr addr;
        const char *canonical;          /* sriov_addr_format() of the result */
};

/* A literal with embedded NULs and its length in bytes. */
#define BYTES(s) s, sizeof(s) - 1

static const struct parse_case parse_cases[] = {
        /* The kernel's canonical form. */
        { "full", "0000:01:00.0", 0, 0, A(0, 0x01, 0, 0), "0000:01:00.0" },
        { "full-max-fields", "0000:ff:1f.7", 0, 0, A(0, 0xff, 0x1f, 7), "0000:ff:1f.7" },
        { "full-nonzero-domain", "0001:3b:02.3", 0, 0, A(1, 0x3b, 2, 3), "0001:3b:02.3" },
        { "domain-5-digits", "10000:e0:06.0", 0, 0, A(0x10000, 0xe0, 6, 0), "10000:e0:06.0" },
        { "domain-6-digits", "abcdef:00:00.0", 0, 0, A(0xabcdef, 0, 0, 0), "abcdef:00:00.0" },
        { "domain-7-digits", "1000000:01:00.1", 0, 0, A(0x1000000, 1, 0, 1), "1000000:01:00.1" },
        { "domain-8-digits", "ffffffff:ff:1f.7", 0, 0, A(0xffffffff, 0xff, 0x1f, 7), "ffffffff:ff:1f.7" },
        { "domain-8-digits-leading-zeros", "00000000:01:00.0", 0, 0, A(0, 1, 0, 0), "0000:01:00.0" },
        { "short-form", "01:00.0", 0, 0, A(0, 1, 0, 0), "0000:01:00.0" },
        { "short-form-max", "ff:1f.7", 0, 0, A(0, 0xff, 0x1f, 7), "0000:ff:1f.7" },
        { "upper-case", "000A:BC:1D.5", 0, 0, A(0xa, 0xbc, 0x1d, 5), "000a:bc:1d.5" },
        { "upper-case-short", "AB:0F.1", 0, 0, A(0, 0xab, 0x0f, 1), "0000:ab:0f.1" },
        { "mixed-case", "0000:aB:0c.2", 0, 0, A(0, 0xab, 0x0c, 2), "0000:ab:0c.2" },

        /* Hostile input. */
        { "null", NULL, 0, -EINVAL },
        { "empty", "", 0, -EINVAL },
        { "only-colon", ":", 0, -EINVAL },
        { "only-colons", "::.", 0, -EINVAL },
        { "space-before", " 0000:01:00.0", 0, -EINVAL },
        { "space-after", "0000:01:00.0 ", 0, -EINVAL },
        { "newline-after", "0000:01:00.0\n", 0, -EINVAL },
        { "tab-before", "\t0000:01:00.0", 0, -EINVAL },
        { "space-inside", "0000: 01:00.0", 0, -EINVAL },
        { "0x-domain", "0x0000:01:00.0", 0, -EINVAL },
        { "0x-domain-4", "0x00:01:00.0", 0, -EINVAL },
        { "0x-bus", "0000:0x1:00.0", 0, -EINVAL },
        { "0x-short", "0x1:00.0", 0, -EINVAL },
        { "plus-sign", "+000:01:00.0", 0, -EINVAL },
        { "minus-sign", "-000:01:00.0", 0, -EINVAL },
        { "minus-bus", "0000:-1:00.0", 0, -EINVAL },
        { "plus-func", "0000:01:00.+1", 0, -EINVAL },
        { "slot-0x20", "0000:01:20.0", 0, -EINVAL },
        { "slot-0xff", "0000:01:ff.0", 0, -EINVAL },
        { "function-8", "0000:01:00.8", 0, -EINVAL },
        { "function-f", "0000:01:00.f", 0, -EINVAL },
        { "function-2-digits", "0000:01:00.00", 0, -EINVAL },
        { "extra-colon", "0000:00:01:00.0", 0, -EINVAL },
        { "extra-colon-end", "0000:01:00.0:", 0, -EINVAL },
        { "double-colon", "0000::01:00.0", 0, -EINVAL },
        { "domain-3-digits", "000:01:00.0", 0, -EINVAL },
        { "domain-9-digits", "000000000:01:00.0", 0, -EINVAL },
        { "domain-9-digits-nonzero", "100000000:01:00.0", 0, -EINVAL },
        { "bus-1-digit", "0000:1:00.0", 0, -EINVAL },
        { "bus-3-digits", "0000:001:00.0", 0, -EINVAL },
        { "slot-1-digit", "0000:01:0.0", 0, -EINVAL },
        { "slot-3-digits", "0000:01:000.0", 0, -EINVAL },
        { "short-bus-1-digit", "1:00.0", 0, -EINVAL },
        { "missing-function", "0000:01:00", 0, -EINVAL },
        { "missing-function-dot", "0000:01:00.", 0, -EINVAL },
        { "dot-instead-of-colon", "0000.01.00.0", 0, -EINVAL },
        { "colon-instead-of-dot", "0000:01:00:0", 0, -EINVAL },
        { "trailing-garbage", "0000:01:00.0x", 0, -EINVAL },
        { "trailing-slash", "0000:01:00.0/", 0, -EINVAL },
        { "trailing-path", "0000:01:00.0/../..", 0, -EINVAL },
        { "non-hex", "000g:01:00.0", 0, -EINVAL },
        { "dotdot", "../..", 0, -EINVAL },
        { "dotdot-address", "../0000:01:00.0", 0, -EINVAL },
        { "percent-00", "%00", 0, -EINVAL },
        { "percent-in-address", "0000:01:00.%30", 0, -EINVAL },
        { "host-bridge-name", "pci0000:00", 0, -EINVAL },
        { "utf8", "0000:01:00.\xd9\xa0", 0, -EINVAL },
        /* Embedded NULs (e.g. a JSON string with \u0000): the parser sees a C string, so
         * everything after the first NUL is invisible to it. */
        { "nul-inside-bus", BYTES("0000:0\0001:00.0"), -EINVAL },
        { "nul-at-start", BYTES("\0000000:01:00.0"), -EINVAL },
        { "nul-after-valid", BYTES("0000:01:00.0\0garbage"), 0, A(0, 1, 0, 0), "0000:01:00.0" },
};

static void test_parse(void **state) {
        const struct parse_case *c = *state;
        struct sriov_addr a = poison;
        char *buf = NULL;
        const char *input = c->input;
        int r;

        if (c->len > 0) {
                buf = malloc(c->len + 1);
                assert_non_null(buf);
                memcpy(buf, c->input, c->len);
                buf[c->len] = '\0';
                input = buf;
        }

        r = sriov_addr_parse(input, &a);
        free(buf);
        assert_errno_equal(r, c->ret);
        if (c->ret < 0) {
                assert_addr_equal(a, poison);
                return;
        }
        assert_int_equal(a.domain, c->addr.domain);
        assert_int_equal(a.bus, c->addr.bus);
        assert_int_equal(a.slot, c->addr.slot);
        assert_int_equal(a.func, c->addr.func);
        assert_string_equal(SRIOV_ADDR_STR(&a), c->canonical);
}

static void test_parse_null_ret(void **state) {
        assert_errno_equal(sriov_addr_parse("0000:01:00.0", NULL), -EINVAL);
}

/* Very long strings: a valid address buried at either end of 64 KiB of hex digits. */
static void test_parse_long(void **state) {
        const size_t n = 64 * 1024;
        struct sriov_addr a = poison;
        char *s = malloc(n + 32);

        assert_non_null(s);
        memset(s, '0', n);
        strcpy(s + n, ":01:00.0");
        assert_errno_equal(sriov_addr_parse(s, &a), -EINVAL);

        strcpy(s, "0000:01:00.0");
        memset(s + strlen(s), '0', n);
        s[n] = '\0';
        assert_errno_equal(sriov_addr_parse(s, &a), -EINVAL);

        memset(s, ':', n);
        s[n] = '\0';
        assert_errno_equal(sriov_addr_parse(s, &a), -EINVAL);
        free(s);
        assert_addr_equal(a, poison);
}

/* Every valid address of one bus formats back to the string it was parsed from. */
static void test_format_roundtrip(void **state) {
        static const uint32_t domains[] = { 0, 1, 0xffff, 0x10000, 0xffffffff };
        char buf[SRIOV_ADDR_STRLEN], expect[64];

        for (size_t d = 0; d < ELEMENTSOF(domains); d++)
                for (unsigned bus = 0; bus <= 0xff; bus += 0x33)
                        for (unsigned slot = 0; slot <= 0x1f; slot++)
                                for (unsigned func = 0; func <= 7; func++) {
                                        struct sriov_addr a = A(domains[d], bus, slot, func), b;

                                        snprintf(expect, sizeof(expect), "%04x:%02x:%02x.%x",
                                                 domains[d], bus, slot, func);
                                        assert_ptr_equal(sriov_addr_format(&a, buf), buf);
                                        assert_string_equal(buf, expect);
                                        assert_true(strlen(buf) < SRIOV_ADDR_STRLEN);
                                        assert_int_equal(sriov_addr_parse(buf, &b), 0);
                                        assert_true(sriov_addr_equal(&a, &b));
                                }
}

/* The longest address fills the buffer exactly (16 characters and the NUL). */
static void test_format_longest(void **state) {
        struct sriov_addr a = A(0xffffffff, 0xff, 0x1f, 7);
        char buf[SRIOV_ADDR_STRLEN + 8];

        memset(buf, 'X', sizeof(buf));
        sriov_addr_format(&a, buf);
        assert_string_equal(buf, "ffffffff:ff:1f.7");
        assert_int_equal(buf[SRIOV_ADDR_STRLEN], 'X');
}

struct compare_case {
        const char *name;
        struct sriov_addr a, b;
        int ret;
};

static const struct compare_case compare_cases[] = {
        { "equal", A(0, 1, 0, 0), A(0, 1, 0, 0), 0 },
        { "func", A(0, 1, 0, 0), A(0, 1, 0, 1), -1 },
        { "slot-before-func", A(0, 1, 0, 7), A(0, 1, 1, 0), -1 },
        { "bus-before-slot", A(0, 1, 0x1f, 7), A(0, 2, 0, 0), -1 },
        { "domain-before-bus", A(0, 0xff, 0x1f, 7), A(1, 0, 0, 0), -1 },
        /* Numeric, not string order: "10000:..." sorts before "ffff:..." as a string. */
        { "domain-numeric", A(0x10000, 0, 0, 0), A(0xffff, 0xff, 0x1f, 7), 1 },
        { "bus-numeric", A(0, 0x10, 0, 0), A(0, 0x9, 0, 0), 1 },
        { "domain-max", A(0xffffffff, 0, 0, 0), A(0, 0, 0, 0), 1 },
};

static void test_compare(void **state) {
        const struct compare_case *c = *state;

        assert_int_equal(sriov_addr_compare(&c->a, &c->b), c->ret);
        assert_int_equal(sriov_addr_compare(&c->b, &c->a), -c->ret);
        assert_int_equal(sriov_addr_equal(&c->a, &c->b), c->ret == 0);
}

static int cmp_qsort(const void *a, const void *b) {
        return sriov_addr_compare(a, b);
}

static void test_compare_sort(void **state) {
        static const char *const sorted[] = {
                "0000:00:00.0", "0000:00:02.0", "0000:00:1f.7", "0000:01:00.0", "0000:01:00.1",
                "0000:01:01.0", "0000:0a:00.0", "0000:ff:1f.7", "0001:00:00.0", "ffff:00:00.0",
                "10000:00:00.0", "ffffffff:00:00.0",
        };
        static const size_t shuffle[] = { 7, 2, 11, 0, 9, 4, 10, 1, 5, 8, 3, 6 };
        struct sriov_addr list[ELEMENTSOF(sorted)];

        for (size_t i = 0; i < ELEMENTSOF(shuffle); i++)
                assert_int_equal(sriov_addr_parse(sorted[shuffle[i]], &list[i]), 0);
        qsort(list, ELEMENTSOF(list), sizeof(list[0]), cmp_qsort);
        for (size_t i = 0; i < ELEMENTSOF(sorted); i++)
                assert_string_equal(SRIOV_ADDR_STR(&list[i]), sorted[i]);
}

struct vf_case {
        const char *name;
        const char *pf;
        unsigned offset, stride, index;
        int ret;
        const char *vf;
};

static const struct vf_case vf_cases[] = {
        { "first", "0000:01:00.0", 1, 1, 0, 0, "0000:01:00.1" },
        { "seventh", "0000:01:00.0", 1, 1, 6, 0, "0000:01:00.7" },
        { "next-slot", "0000:01:00.0", 1, 1, 7, 0, "0000:01:01.0" },
        { "stride-2", "0000:01:00.0", 2, 2, 0, 0, "0000:01:00.2" },
        { "stride-2-third", "0000:01:00.0", 2, 2, 3, 0, "0000:01:01.0" },
        { "pf-func-1", "0000:3b:00.1", 0x7f, 2, 0, 0, "0000:3b:10.0" },
        { "index-large", "0000:01:00.0", 1, 1, 254, 0, "0000:01:1f.7" },
        /* The 256th VF leaves the PF's bus: the kernel puts it on the next bus. */
        { "cross-bus", "0000:01:00.0", 1, 1, 255, 0, "0000:02:00.0" },
        { "offset-to-next-bus", "0000:03:00.0", 0x100, 1, 0, 0, "0000:04:00.0" },
        { "stride-crosses-bus", "0000:3b:00.0", 0x80, 2, 0x40, 0, "0000:3c:00.0" },
        { "domain-kept", "10000:e0:00.0", 1, 1, 0x20, 0, "10000:e0:04.1" },
        { "offset-0", "0000:01:00.0", 0, 1, 0, 0, "0000:01:00.0" },
        { "last-rid", "0000:ff:1f.6", 1, 1, 0, 0, "0000:ff:1f.7" },
        { "overflow-by-one", "0000:ff:1f.7", 1, 1, 0, -ERANGE },
        { "overflow-bus", "0000:ff:00.0", 0x100, 1, 0, -ERANGE },
        { "overflow-index", "0000:f0:00.0", 1, 1, 0x1000, -ERANGE },
        { "overflow-stride-times-index", "0000:00:00.0", 1, 0xffffffffu, 0xffffffffu, -ERANGE },
        { "overflow-offset", "0000:00:00.0", 0xffffffffu, 1, 0, -ERANGE },
        { "overflow-32bit-wrap", "0000:00:00.0", 1, 0x10000, 0x10000, -ERANGE },
};

static void test_vf(void **state) {
        const struct vf_case *c = *state;
        struct sriov_addr pf, vf = poison;

        assert_int_equal(sriov_addr_parse(c->pf, &pf), 0);
        assert_errno_equal(sriov_addr_vf(&pf, c->offset, c->stride, c->index, &vf), c->ret);
        if (c->ret < 0)
                assert_addr_equal(vf, poison);
        else
                assert_string_equal(SRIOV_ADDR_STR(&vf), c->vf);
}

struct rid_case {
        const char *name;
        const char *addr;
        uint16_t rid;
};

static const struct rid_case rid_cases[] = {
        { "zero", "0000:00:00.0", 0x0000 },
        { "func", "0000:00:00.7", 0x0007 },
        { "slot", "0000:00:01.0", 0x0008 },
        { "bus", "0000:01:00.0", 0x0100 },
        { "all", "0000:ff:1f.7", 0xffff },
        { "mixed", "0000:3b:02.3", 0x3b13 },
        { "domain-ignored", "ffff:3b:02.3", 0x3b13 },
};

static void test_rid(void **state) {
        const struct rid_case *c = *state;
        struct sriov_addr a, b = poison;

        assert_int_equal(sriov_addr_parse(c->addr, &a), 0);
        assert_int_equal(sriov_addr_rid(&a), c->rid);
        sriov_addr_from_rid(a.domain, c->rid, &b);
        assert_true(sriov_addr_equal(&a, &b));
}

static void test_rid_roundtrip_all(void **state) {
        for (uint32_t rid = 0; rid <= 0xffff; rid++) {
                struct sriov_addr a;

                sriov_addr_from_rid(0x10000, (uint16_t) rid, &a);
                assert_int_equal(a.domain, 0x10000);
                assert_true(a.slot <= 0x1f);
                assert_true(a.func <= 7);
                assert_int_equal(sriov_addr_rid(&a), rid);
        }
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(parse_cases); i++)
                unit_add(&t, test_parse, (void *) &parse_cases[i], "parse/%s", parse_cases[i].name);
        unit_add(&t, test_parse_null_ret, NULL, "parse/null-ret");
        unit_add(&t, test_parse_long, NULL, "parse/very-long");
        unit_add(&t, test_format_roundtrip, NULL, "format/roundtrip");
        unit_add(&t, test_format_longest, NULL, "format/longest");
        for (size_t i = 0; i < ELEMENTSOF(compare_cases); i++)
                unit_add(&t, test_compare, (void *) &compare_cases[i], "compare/%s", compare_cases[i].name);
        unit_add(&t, test_compare_sort, NULL, "compare/sort");
        for (size_t i = 0; i < ELEMENTSOF(vf_cases); i++)
                unit_add(&t, test_vf, (void *) &vf_cases[i], "vf/%s", vf_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(rid_cases); i++)
                unit_add(&t, test_rid, (void *) &rid_cases[i], "rid/%s", rid_cases[i].name);
        unit_add(&t, test_rid_roundtrip_all, NULL, "rid/roundtrip-all");

        return unit_run(&t, "address");
}
