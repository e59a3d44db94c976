/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sriovd_device_text() writes the same bytes as json-c writes of sriov_device_to_json(),
 * for every kind of function and for texts that need escaping. A field added to one and
 * not the other fails here. */
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "fixture-tree.h"
#include "sriov-json.h"
#include "sriov-model.h"
#include "sriov-names.h"
#include "sriovd-device-text.h"
#include "sriovd-textbuf.h"
#include "unit-test.h"

#define AER_COR "RxErr 3\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 1\nCorrIntErr 0\nHeaderOF 0\n"
#define AER_UNCOR "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 7\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n"

static void check_model(const struct sriov_model *m, size_t expect_at_least) {
        size_t n = sriov_model_size(m);

        assert_true(n >= expect_at_least);
        for (size_t i = 0; i < n; i++) {
                const struct sriov_device *d = sriov_model_at(m, i);
                _cleanup_json_ json_object *o = sriov_device_to_json(m, d);
                const char *want = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                struct sriovd_textbuf b;

                sriovd_textbuf_init(&b, 16);
                sriovd_device_text(&b, m, d);
                assert_false(b.failed);
                if (!streq(b.data, want))
                        fail_msg("%s:\n json-c: %s\n text:   %s", SRIOV_ADDR_STR(&d->addr), want, b.data);
                sriovd_textbuf_done(&b);
        }
}

/* net/IFNAME of a function, as a network driver registers it. */
static void add_netdev(struct fixture_tree *t, const char *dir_below_sys, const char *ifname) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s/net", fixture_tree_sysfs(t), dir_below_sys);
        (void) mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%s/net/%s", fixture_tree_sysfs(t), dir_below_sys, ifname);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void build(struct fixture_tree *t) {
        /* a root port with AER root totals, a PF with bound, vfio and driverless VFs, a VF
         * whose physfn link is not there yet, a bridge below the port, a plain function
         * whose driver name needs escaping */
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:00.0", 0x8086, 0x29c0, 0x060000), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:02.0", 0x1b36, 0x000c, 0x060400), 0);
        assert_int_equal(fixture_set_driver(t, "0000:00:02.0", "pcieport"), 0);
        assert_int_equal(fixture_set_iommu_group(t, "0000:00:02.0", 1), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_correctable", AER_COR "TOTAL_ERR_COR 4\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_nonfatal", AER_UNCOR "TOTAL_ERR_NONFATAL 7\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_fatal", AER_UNCOR "TOTAL_ERR_FATAL 0\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_cor", "4\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_nonfatal", "7\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_fatal", "18446744073709551615\n"), 0);
        assert_int_equal(fixture_add_function(t, "0000:00:02.0", "0000:01:00.0", 0x8086, 0x1593, 0x020000), 0);
        assert_int_equal(fixture_set_driver(t, "0000:01:00.0", "ice"), 0);
        assert_int_equal(fixture_set_iommu_group(t, "0000:01:00.0", 4), 0);
        assert_int_equal(fixture_make_pf(t, "0000:01:00.0", 8, 1, 1, 0x1889), 0);
        assert_int_equal(fixture_set_attr(t, "0000:01:00.0", "aer_dev_correctable", "RxErr 1\n"), 0);
        for (unsigned i = 0; i < 4; i++) {
                char vf[16];
                snprintf(vf, sizeof(vf), "0000:01:00.%u", i + 1);
                assert_int_equal(fixture_add_vf(t, "0000:01:00.0", i, vf, true), 0);
                if (i != 3)
                        assert_int_equal(fixture_set_iommu_group(t, vf, 10 + (int) i), 0);
                if (i == 0)
                        assert_int_equal(fixture_set_driver(t, vf, "iavf"), 0);
                if (i == 1 || i == 3)
                        assert_int_equal(fixture_set_driver(t, vf, "vfio-pci"), 0);
        }
        /* network interfaces: two on the PF, one on the VF bound to iavf */
        add_netdev(t, "devices/pci0000:00/0000:00:02.0/0000:01:00.0", "ens1f1");
        add_netdev(t, "devices/pci0000:00/0000:00:02.0/0000:01:00.0", "ens1f0");
        add_netdev(t, "devices/pci0000:00/0000:00:02.0/0000:01:00.1", "ens1f0v0");
        assert_int_equal(fixture_add_function(t, "0000:00:02.0", "0000:01:00.5", 0x8086, 0x1889, 0x020000), 0);
        assert_int_equal(fixture_add_function(t, "0000:00:02.0", "0000:01:01.0", 0x10b5, 0x8747, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:03.0", 0xffff, 0x0000, 0xff0000), 0);
        assert_int_equal(fixture_set_driver(t, "0000:00:03.0", "we\"ird\\dr\x01iver\tname/\x7f\xc3\xa9"), 0);
        assert_int_equal(fixture_set_iommu_group(t, "0000:00:03.0", 0), 0);
}

static void test_same_text(void **state) {
        bool with_names = state && *state;
        struct fixture_tree *t = NULL;
        struct sriov_sysfs *sysfs = NULL;
        struct sriov_names *names = NULL;
        struct sriov_model *m = NULL;

        assert_int_equal(fixture_tree_new(&t), 0);
        build(t);
        assert_int_equal(sriov_sysfs_new(fixture_tree_sysfs(t), &sysfs), 0);
        if (with_names && sriov_names_new(NULL, &names) < 0)
                skip();
        assert_int_equal(sriov_model_new(sysfs, names, &m), 0);
        assert_int_equal(sriov_model_scan(m), 0);
        check_model(m, 9);
        /* and without a model: a PF's VFs have unknown drivers */
        const struct sriov_addr pf = { .bus = 1 };
        _cleanup_json_ json_object *o = sriov_device_to_json(NULL, sriov_model_get(m, &pf));
        struct sriovd_textbuf b;
        sriovd_textbuf_init(&b, 16);
        sriovd_device_text(&b, NULL, sriov_model_get(m, &pf));
        assert_string_equal(b.data, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        sriovd_textbuf_done(&b);
        sriov_model_free(m);
        sriov_names_free(names);
        sriov_sysfs_free(sysfs);
        fixture_tree_free(t);
}

static void test_json_string(void **state) {
        /* every byte value, as json-c escapes it */
        char all[255];
        for (int i = 0; i < 255; i++)
                all[i] = (char) (i + 1);
        _cleanup_json_ json_object *o = json_object_new_string_len(all, sizeof(all));
        struct sriovd_textbuf b;
        char stack[8];

        sriovd_textbuf_init_stack(&b, stack, sizeof(stack));    /* also moves to the heap */
        sriovd_textbuf_json_string(&b, all, sizeof(all));
        assert_string_equal(b.data, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        sriovd_textbuf_done(&b);
}

static void test_numbers(void **state) {
        static const int64_t values[] = { 0, 1, -1, 9, 10, 1234567890123LL, INT64_MAX, INT64_MIN };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                struct sriovd_textbuf b;
                char want[32];
                sriovd_textbuf_init(&b, 1);
                sriovd_textbuf_i64(&b, values[i]);
                snprintf(want, sizeof(want), "%" PRId64, values[i]);
                assert_string_equal(b.data, want);
                sriovd_textbuf_done(&b);
        }
        struct sriovd_textbuf b;
        sriovd_textbuf_init(&b, 1);
        sriovd_textbuf_u64(&b, UINT64_MAX);
        sriovd_textbuf_printf(&b, " %s", "and printf past the end of a small buffer");
        assert_string_equal(b.data, "18446744073709551615 and printf past the end of a small buffer");
        sriovd_textbuf_done(&b);
}

int main(void) {
        struct unit_tests t = {};
        static bool yes = true;

        unit_add(&t, test_same_text, NULL, "same-text/no-names");
        unit_add(&t, test_same_text, &yes, "same-text/pci-ids-names");
        unit_add(&t, test_json_string, NULL, "json-string/every-byte");
        unit_add(&t, test_numbers, NULL, "numbers");
        return unit_run(&t, "device-text");
}
