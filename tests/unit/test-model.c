/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device model against sysfs trees: hand-built ones (fixture-tree.c) for every case
 * the kernel can produce, and trees recorded from the real kernel with umockdev-record
 * (tests/fixtures/NAME.umockdev), replayed as plain directories without the preload library. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <umockdev.h>

#include "fixture-tree.h"
#include "sriov-json.h"
#include "sriov-model.h"
#include "unit-test.h"

/* Every test runs under an alarm: sriov_numvfs is a FIFO in the hand-built trees, and a
 * read of it blocks forever. The alarm turns that hang into a clear failure. */
#define TEST_TIMEOUT_SEC 20

static struct env {
        struct fixture_tree *ft;
        UMockdevTestbed *tb;
        char *sys;
        struct sriov_sysfs *sysfs;
        struct sriov_model *model;
        json_object *json[16];          /* released by teardown, also when a test fails */
        size_t n_json;
} E;

static json_object *keep(json_object *o) {
        assert_non_null(o);
        assert_true(E.n_json < ELEMENTSOF(E.json));
        E.json[E.n_json++] = o;
        return o;
}

static void on_alarm(int sig) {
        static const char msg[] =
                "test-model: timed out - something read a FIFO attribute (sriov_numvfs?)\n";
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(99);
}

static int setup(void **state) {
        E = (struct env) {};
        if (fixture_tree_new(&E.ft) < 0)
                return -1;
        E.sys = strdup(fixture_tree_sysfs(E.ft));
        alarm(TEST_TIMEOUT_SEC);
        return 0;
}

static int teardown(void **state) {
        alarm(0);
        for (size_t i = 0; i < E.n_json; i++)
                json_object_put(E.json[i]);
        E.model = sriov_model_free(E.model);
        E.sysfs = sriov_sysfs_free(E.sysfs);
        E.ft = fixture_tree_free(E.ft);
        if (E.tb)
                g_object_unref(E.tb);
        free(E.sys);
        E = (struct env) {};
        return 0;
}

static struct sriov_addr ad(const char *s) {
        struct sriov_addr a;

        if (sriov_addr_parse(s, &a) < 0)
                fail_msg("bad address in test: %s", s);
        return a;
}

static void scan(void) {
        assert_int_equal(sriov_sysfs_new(E.sys, &E.sysfs), 0);
        assert_int_equal(sriov_model_new(E.sysfs, NULL, &E.model), 0);
        assert_int_equal(sriov_model_scan(E.model), 0);
}

static const struct sriov_device *get(const char *s) {
        struct sriov_addr a = ad(s);
        return sriov_model_get(E.model, &a);
}

static const struct sriov_device *must_get(const char *s) {
        const struct sriov_device *d = get(s);

        if (!d)
                fail_msg("%s is not in the model", s);
        return d;
}

static int refresh(const char *s) {
        struct sriov_addr a = ad(s);
        return sriov_model_refresh(E.model, &a);
}

static void assert_upstream(const struct sriov_device *d, const char *const *expected) {
        size_t n = 0;

        while (expected[n])
                n++;
        if (d->n_upstream != n)
                fail_msg("%s: %zu upstream bridges, expected %zu", SRIOV_ADDR_STR(&d->addr), d->n_upstream, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(SRIOV_ADDR_STR(&d->upstream[i]), expected[i]);
}

/* The PF's VF list: index i at position i, address as given. */
static void assert_vf_list(const struct sriov_device *pf, const unsigned *idx, const char *const *addrs) {
        size_t n = 0;

        assert_int_equal(pf->role, SRIOV_ROLE_PF);
        while (addrs[n])
                n++;
        if (pf->pf.n_vfs != n)
                fail_msg("%s lists %zu VFs, expected %zu", SRIOV_ADDR_STR(&pf->addr), pf->pf.n_vfs, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(pf->pf.vfs[i].index, idx[i]);
                assert_string_equal(SRIOV_ADDR_STR(&pf->pf.vfs[i].addr), addrs[i]);
        }
}

#define UPSTREAM(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_UPSTREAM ((const char *const[]) { NULL })
#define IDX(...) ((const unsigned[]) { __VA_ARGS__ })
#define ADDRS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_ADDRS ((const char *const[]) { NULL })

#define AER_COR "RxErr 0\nBadTLP 0\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR 0\n"
#define AER_UNCOR                                                                               \
        "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\n" \
        "MalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\n"             \
        "AtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\n"

/* The machine the VM tests run: host bridge, a root port with AER, an NVMe PF with
 * n_vfs VFs (no driver, own IOMMU groups 6..), an ISA bridge and a NIC on the root bus. */
static void build_std(unsigned n_vfs) {
        struct fixture_tree *t = E.ft;

        assert_int_equal(fixture_add_function(t, NULL, "0000:00:00.0", 0x8086, 0x29c0, 0x060000), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:02.0", 0x1b36, 0x000c, 0x060400), 0);
        assert_int_equal(fixture_set_driver(t, "0000:00:02.0", "pcieport"), 0);
        assert_int_equal(fixture_set_iommu_group(t, "0000:00:02.0", 1), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_correctable", AER_COR), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_nonfatal",
                                          AER_UNCOR "TOTAL_ERR_NONFATAL 0\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_dev_fatal", AER_UNCOR "TOTAL_ERR_FATAL 0\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_cor", "0\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_nonfatal", "0\n"), 0);
        assert_int_equal(fixture_set_attr(t, "0000:00:02.0", "aer_rootport_total_err_fatal", "0\n"), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:1f.0", 0x8086, 0x2918, 0x060100), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:03.0", 0x8086, 0x10d3, 0x020000), 0);
        assert_int_equal(fixture_set_driver(t, "0000:00:03.0", "e1000e"), 0);

        assert_int_equal(fixture_add_function(t, "0000:00:02.0", "0000:01:00.0", 0x1b36, 0x0010, 0x010802), 0);
        assert_int_equal(fixture_set_driver(t, "0000:01:00.0", "nvme"), 0);
        assert_int_equal(fixture_set_iommu_group(t, "0000:01:00.0", 4), 0);
        assert_int_equal(fixture_make_pf(t, "0000:01:00.0", 4, 1, 1, 0x0010), 0);
        for (unsigned i = 0; i < n_vfs; i++) {
                char vf[SRIOV_ADDR_STRLEN];
                struct sriov_addr a = ad("0000:01:00.0");

                assert_int_equal(sriov_addr_vf(&a, 1, 1, i, &a), 0);
                sriov_addr_format(&a, vf);
                assert_int_equal(fixture_add_vf(t, "0000:01:00.0", i, vf, true), 0);
                assert_int_equal(fixture_set_iommu_group(t, vf, 6 + (int) i), 0);
        }
}

/* ---- role detection ---------------------------------------------------------------- */

struct role_case {
        const char *name;
        const char *addr;
        SriovRole role;
};

static const struct role_case role_cases[] = {
        { "pf", "0000:01:00.0", SRIOV_ROLE_PF },
        { "vf", "0000:01:00.2", SRIOV_ROLE_VF },
        { "root-port", "0000:00:02.0", SRIOV_ROLE_BRIDGE },
        { "semi-transparent-bridge", "0000:00:1e.0", SRIOV_ROLE_BRIDGE },
        { "host-bridge", "0000:00:00.0", SRIOV_ROLE_OTHER },
        { "isa-bridge", "0000:00:1f.0", SRIOV_ROLE_OTHER },
        { "nic", "0000:00:03.0", SRIOV_ROLE_OTHER },
        { "nvme-without-sriov", "0000:00:04.0", SRIOV_ROLE_OTHER },
        /* A VF that a PF-capable driver also gave sriov_* files: physfn decides. */
        { "vf-with-totalvfs", "0000:00:05.1", SRIOV_ROLE_VF },
};

static void test_role(void **state) {
        const struct role_case *c = *state;
        const struct sriov_device *d;

        build_std(3);
        /* 0x0609: semi-transparent PCI-to-PCI bridge. */
        assert_int_equal(fixture_add_function(E.ft, NULL, "0000:00:1e.0", 0x8086, 0x244e, 0x060901), 0);
        assert_int_equal(fixture_add_function(E.ft, NULL, "0000:00:04.0", 0x1b36, 0x0010, 0x010802), 0);
        assert_int_equal(fixture_add_function(E.ft, NULL, "0000:00:05.0", 0x15b3, 0x1017, 0x020000), 0);
        assert_int_equal(fixture_make_pf(E.ft, "0000:00:05.0", 8, 1, 1, 0x1018), 0);
        assert_int_equal(fixture_add_vf(E.ft, "0000:00:05.0", 0, "0000:00:05.1", true), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:00:05.1", "sriov_totalvfs", "0\n"), 0);
        scan();

        d = must_get(c->addr);
        assert_int_equal(d->role, c->role);
        static const char *const names[] = { "other", "bridge", "pf", "vf" };
        assert_string_equal(sriov_role_to_string(d->role), names[c->role]);
}

static void test_role_strings(void **state) {
        for (SriovRole r = 0; r < _SRIOV_ROLE_MAX; r++)
                assert_int_equal(sriov_role_from_string(sriov_role_to_string(r)), r);
        assert_int_equal(sriov_role_from_string("PF"), _SRIOV_ROLE_INVALID);
        assert_int_equal(sriov_role_from_string(NULL), _SRIOV_ROLE_INVALID);
        assert_null(sriov_role_to_string(_SRIOV_ROLE_MAX));
}

/* ---- the standard tree ------------------------------------------------------------- */

static void test_std_tree(void **state) {
        const struct sriov_device *rp, *pf, *vf, *host;

        build_std(3);
        /* Not a PCI address: the kernel puts nothing else there, but be robust. */
        {
                char *p = NULL;
                assert_true(asprintf(&p, "%s/bus/pci/devices/junk", E.sys) > 0);
                assert_int_equal(symlink("../../../devices/pci0000:00", p), 0);
                free(p);
        }
        scan();

        /* 4 on the root bus, the PF and 3 VFs; sorted by address. */
        assert_int_equal(sriov_model_size(E.model), 8);
        static const char *const order[] = {
                "0000:00:00.0", "0000:00:02.0", "0000:00:03.0", "0000:00:1f.0",
                "0000:01:00.0", "0000:01:00.1", "0000:01:00.2", "0000:01:00.3",
        };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                assert_string_equal(SRIOV_ADDR_STR(&sriov_model_at(E.model, i)->addr), order[i]);
        assert_null(sriov_model_at(E.model, 8));

        host = must_get("0000:00:00.0");
        assert_null(host->driver);
        assert_int_equal(host->iommu_group, -1);
        assert_upstream(host, NO_UPSTREAM);
        assert_false(sriov_aer_present(&host->aer));

        rp = must_get("0000:00:02.0");
        assert_int_equal(rp->vendor_id, 0x1b36);
        assert_int_equal(rp->device_id, 0x000c);
        assert_int_equal(rp->class_code, 0x060400);
        assert_string_equal(rp->driver, "pcieport");
        assert_int_equal(rp->iommu_group, 1);
        assert_upstream(rp, NO_UPSTREAM);
        assert_true(sriov_device_hierarchy(rp) == &rp->addr);
        assert_true(sriov_aer_present(&rp->aer));
        assert_true(rp->aer.has_rootport);
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++)
                assert_true(rp->aer.kinds[k].present);
        assert_int_equal(rp->aer.kinds[SRIOV_AER_NONFATAL].n_counters, 18);

        pf = must_get("0000:01:00.0");
        assert_int_equal(pf->role, SRIOV_ROLE_PF);
        assert_int_equal(pf->vendor_id, 0x1b36);
        assert_int_equal(pf->device_id, 0x0010);
        assert_int_equal(pf->class_code, 0x010802);
        assert_string_equal(pf->driver, "nvme");
        assert_int_equal(pf->iommu_group, 4);
        assert_upstream(pf, UPSTREAM("0000:00:02.0"));
        assert_string_equal(SRIOV_ADDR_STR(sriov_device_hierarchy(pf)), "0000:00:02.0");
        assert_int_equal(pf->pf.total_vfs, 4);
        assert_int_equal(pf->pf.offset, 1);
        assert_int_equal(pf->pf.stride, 1);
        assert_int_equal(pf->pf.vf_device_id, 0x0010);
        assert_int_equal(pf->pf.drivers_autoprobe, 1);
        assert_vf_list(pf, IDX(0, 1, 2), ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));
        assert_false(sriov_aer_present(&pf->aer));

        for (int i = 0; i < 3; i++) {
                char a[SRIOV_ADDR_STRLEN];
                snprintf(a, sizeof(a), "0000:01:00.%d", i + 1);
                vf = must_get(a);
                assert_int_equal(vf->role, SRIOV_ROLE_VF);
                assert_int_equal(vf->vf.index, i);
                assert_string_equal(SRIOV_ADDR_STR(&vf->vf.pf), "0000:01:00.0");
                assert_null(vf->driver);
                assert_int_equal(vf->iommu_group, 6 + i);
                assert_int_equal(vf->vendor_id, 0x1b36);
                assert_int_equal(vf->device_id, 0x0010);
                assert_upstream(vf, UPSTREAM("0000:00:02.0"));
        }
}

/* ---- upstream chains ----------------------------------------------------------------- */

struct upstream_case {
        const char *name;
        const char *addr;
        const char *const *upstream;
        const char *hierarchy;
};

static const struct upstream_case upstream_cases[] = {
        { "root-port", "0000:00:1c.0", NO_UPSTREAM, "0000:00:1c.0" },
        { "switch-upstream-port", "0000:02:00.0", UPSTREAM("0000:00:1c.0"), "0000:00:1c.0" },
        { "switch-downstream-port", "0000:03:01.0", UPSTREAM("0000:00:1c.0", "0000:02:00.0"), "0000:00:1c.0" },
        { "endpoint-behind-switch", "0000:04:00.0",
          UPSTREAM("0000:00:1c.0", "0000:02:00.0", "0000:03:01.0"), "0000:00:1c.0" },
        { "vf-behind-switch", "0000:04:00.1",
          UPSTREAM("0000:00:1c.0", "0000:02:00.0", "0000:03:01.0"), "0000:00:1c.0" },
        { "root-bus-endpoint", "0000:00:03.0", NO_UPSTREAM, "0000:00:03.0" },
        { "second-root-bus", "0000:80:01.0", NO_UPSTREAM, "0000:80:01.0" },
        { "behind-second-root-bus", "0000:81:00.0", UPSTREAM("0000:80:01.0"), "0000:80:01.0" },
        /* Intel VMD: a domain 10000 root bus below an endpoint of domain 0. */
        { "vmd-root-port", "10000:e0:06.0", UPSTREAM("0000:00:0e.0"), "0000:00:0e.0" },
        { "vmd-endpoint", "10000:e1:00.0", UPSTREAM("0000:00:0e.0", "10000:e0:06.0"), "0000:00:0e.0" },
};

static void build_deep(void) {
        struct fixture_tree *t = E.ft;

        assert_int_equal(fixture_add_function(t, NULL, "0000:00:1c.0", 0x8086, 0xa110, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "0000:00:1c.0", "0000:02:00.0", 0x10b5, 0x8747, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "0000:02:00.0", "0000:03:01.0", 0x10b5, 0x8747, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "0000:03:01.0", "0000:04:00.0", 0x8086, 0x1572, 0x020000), 0);
        assert_int_equal(fixture_make_pf(t, "0000:04:00.0", 64, 16, 1, 0x154c), 0);
        /* offset 16: VF0 is 04:02.0; virtfn0 -> 04:02.0. And a made-up VF 04:00.1 below. */
        assert_int_equal(fixture_add_vf(t, "0000:04:00.0", 0, "0000:04:02.0", true), 0);
        assert_int_equal(fixture_add_function(t, "0000:03:01.0", "0000:04:00.1", 0x8086, 0x1572, 0x020000), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:03.0", 0x8086, 0x10d3, 0x020000), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:80:01.0", 0x8086, 0x2030, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "0000:80:01.0", "0000:81:00.0", 0x15b3, 0x1017, 0x020000), 0);
        assert_int_equal(fixture_add_function(t, NULL, "0000:00:0e.0", 0x8086, 0x467f, 0x010400), 0);
        assert_int_equal(fixture_add_function_at(t, "devices/pci0000:00/0000:00:0e.0/pci10000:e0",
                                                 "10000:e0:06.0", 0x8086, 0x464d, 0x060400), 0);
        assert_int_equal(fixture_add_function(t, "10000:e0:06.0", "10000:e1:00.0", 0x144d, 0xa80a, 0x010802), 0);
}

static void test_upstream(void **state) {
        const struct upstream_case *c = *state;
        const struct sriov_device *d;

        build_deep();
        scan();
        assert_int_equal(sriov_model_size(E.model), 12);
        d = must_get(c->addr);
        assert_upstream(d, c->upstream);
        assert_string_equal(SRIOV_ADDR_STR(sriov_device_hierarchy(d)), c->hierarchy);
}

/* ---- recovery blockers ------------------------------------------------------------------ */

/* In the deep tree: which functions make each hierarchy's kernel recovery fail, for a set
 * of bound drivers. Bridges never count, nor a hierarchy's own function; a VMD domain's
 * functions group under the VMD endpoint, away from their addresses' order. */
struct blockers_case {
        const char *name;
        const char *const *bound;       /* functions given a driver */
        struct {
                const char *hierarchy;
                const char *const *blockers;
        } expect[6];
};

#define LIST(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NONE ((const char *const[]) { NULL })

static const struct blockers_case blockers_cases[] = {
        { "nothing-bound", NONE, {
                { "0000:00:1c.0", LIST("0000:04:00.0", "0000:04:00.1", "0000:04:02.0") },
                { "0000:80:01.0", LIST("0000:81:00.0") },
                { "0000:00:0e.0", LIST("10000:e1:00.0") },
                { "0000:00:03.0", NONE },
                { "0000:00:02.0", NONE },       /* not in the model */
        } },
        { "pf-and-endpoint-bound", LIST("0000:04:00.0", "0000:81:00.0"), {
                { "0000:00:1c.0", LIST("0000:04:00.1", "0000:04:02.0") },
                { "0000:80:01.0", NONE },
                { "0000:00:0e.0", LIST("10000:e1:00.0") },
        } },
        { "only-the-vf-driverless", LIST("0000:04:00.0", "0000:04:00.1", "0000:81:00.0", "10000:e1:00.0"), {
                { "0000:00:1c.0", LIST("0000:04:02.0") },
                { "0000:80:01.0", NONE },
                { "0000:00:0e.0", NONE },
        } },
        { "bridges-bound-do-not-matter", LIST("0000:00:1c.0", "0000:02:00.0", "0000:03:01.0", "0000:80:01.0",
                                              "10000:e0:06.0"), {
                { "0000:00:1c.0", LIST("0000:04:00.0", "0000:04:00.1", "0000:04:02.0") },
                { "0000:80:01.0", LIST("0000:81:00.0") },
                { "0000:00:0e.0", LIST("10000:e1:00.0") },
        } },
};

static void test_blockers(void **state) {
        const struct blockers_case *c = *state;
        struct sriov_blockers b;
        size_t total = 0;

        build_deep();
        for (size_t i = 0; c->bound[i]; i++)
                assert_int_equal(fixture_set_driver(E.ft, c->bound[i], "somedriver"), 0);
        scan();
        assert_int_equal(sriov_model_blockers(E.model, &b), 0);
        for (size_t i = 0; i < ELEMENTSOF(c->expect) && c->expect[i].hierarchy; i++) {
                struct sriov_addr h = ad(c->expect[i].hierarchy);
                const struct sriov_device *const *got;
                size_t n = sriov_blockers_of(&b, &h, &got), want = 0;

                while (c->expect[i].blockers[want])
                        want++;
                if (n != want)
                        fail_msg("%s: %zu blockers, expected %zu", c->expect[i].hierarchy, n, want);
                for (size_t k = 0; k < n; k++)
                        assert_string_equal(SRIOV_ADDR_STR(&got[k]->addr), c->expect[i].blockers[k]);
                total += n;
        }
        /* nothing listed under a hierarchy the case does not name */
        assert_int_equal(b.n, total);
        sriov_blockers_done(&b);
        assert_null(b.devices);
        assert_int_equal(b.n, 0);
}

struct parse_upstream_case {
        const char *name;
        const char *path;
        const char *self;
        const char *const *upstream;
};

static const struct parse_upstream_case parse_upstream_cases[] = {
        { "kernel-link", "../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0", "0000:01:00.0",
          UPSTREAM("0000:00:02.0") },
        { "root-bus", "../../../devices/pci0000:00/0000:00:02.0", "0000:00:02.0", NO_UPSTREAM },
        { "deep", "../../../devices/pci0000:00/0000:00:1c.0/0000:02:00.0/0000:03:01.0/0000:04:00.0",
          "0000:04:00.0", UPSTREAM("0000:00:1c.0", "0000:02:00.0", "0000:03:01.0") },
        { "self-null", "/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0", NULL,
          UPSTREAM("0000:00:02.0", "0000:01:00.0") },
        { "double-slashes", "..//..//devices//pci0000:00//0000:00:02.0//0000:01:00.0", "0000:01:00.0",
          UPSTREAM("0000:00:02.0") },
        { "empty", "", "0000:01:00.0", NO_UPSTREAM },
};

static void test_parse_upstream(void **state) {
        const struct parse_upstream_case *c = *state;
        struct sriov_device d = {};
        struct sriov_addr self;

        if (c->self)
                self = ad(c->self);
        assert_int_equal(sriov_parse_upstream(c->path, c->self ? &self : NULL, &d.upstream, &d.n_upstream), 0);
        assert_upstream(&d, c->upstream);
        free(d.upstream);
}

/* ---- VF index from offset and stride ----------------------------------------------------- */

struct vf_index_case {
        const char *name;
        const char *pf;
        unsigned offset, stride;
        const char *vf;
        unsigned link_index;            /* N of virtfnN */
        int index;                      /* what the model derives, -1: unknown */
        bool no_stride_file;
};

static const struct vf_index_case vf_index_cases[] = {
        { "stride-1-first", "0000:01:00.0", 1, 1, "0000:01:00.1", 0, 0 },
        { "stride-1-third", "0000:01:00.0", 1, 1, "0000:01:00.3", 2, 2 },
        { "stride-1-next-slot", "0000:01:00.0", 1, 1, "0000:01:01.2", 9, 9 },
        { "stride-2-first", "0000:01:00.0", 2, 2, "0000:01:00.2", 0, 0 },
        { "stride-2-third", "0000:01:00.0", 2, 2, "0000:01:00.6", 2, 2 },
        { "stride-2-next-slot", "0000:01:00.0", 2, 2, "0000:01:01.0", 3, 3 },
        { "pf-function-1", "0000:3b:00.1", 0x7f, 2, "0000:3b:10.2", 1, 1 },
        { "other-bus-offset", "0000:05:00.0", 0x100, 1, "0000:06:00.0", 0, 0 },
        { "other-bus-crossing", "0000:05:00.0", 0xff, 1, "0000:06:00.0", 1, 1 },
        { "other-bus-stride-2", "0000:05:00.0", 0xfc, 2, "0000:06:00.2", 3, 3 },
        /* Not on the offset/stride grid: the index stays unknown. */
        { "off-grid", "0000:01:00.0", 2, 2, "0000:01:00.3", 0, -1 },
        { "below-offset", "0000:01:00.0", 4, 1, "0000:01:00.2", 0, -1 },
        { "stride-0", "0000:01:00.0", 1, 0, "0000:01:00.1", 0, -1 },
        { "stride-missing", "0000:01:00.0", 1, 1, "0000:01:00.1", 0, -1, true },
};

static void test_vf_index(void **state) {
        const struct vf_index_case *c = *state;
        const struct sriov_device *vf, *pf;

        assert_int_equal(fixture_add_function(E.ft, NULL, "0000:00:02.0", 0x1b36, 0x000c, 0x060400), 0);
        assert_int_equal(fixture_add_function(E.ft, "0000:00:02.0", c->pf, 0x8086, 0x1572, 0x020000), 0);
        assert_int_equal(fixture_make_pf(E.ft, c->pf, 128, c->offset, c->stride, 0x154c), 0);
        if (c->no_stride_file)
                assert_int_equal(fixture_remove(E.ft, c->pf, "sriov_stride"), 0);
        assert_int_equal(fixture_add_vf(E.ft, c->pf, c->link_index, c->vf, true), 0);
        scan();

        vf = must_get(c->vf);
        assert_int_equal(vf->role, SRIOV_ROLE_VF);
        assert_int_equal(vf->vf.index, c->index);
        assert_string_equal(SRIOV_ADDR_STR(&vf->vf.pf), c->pf);
        assert_upstream(vf, UPSTREAM("0000:00:02.0"));
        assert_int_equal(vf->device_id, 0x154c);

        /* The PF lists the VF under its link's index, whatever the arithmetic says. */
        pf = must_get(c->pf);
        assert_vf_list(pf, IDX(c->link_index), ADDRS(c->vf));
        if (c->index >= 0) {
                struct sriov_addr expect, p = ad(c->pf);
                assert_int_equal(sriov_addr_vf(&p, c->offset, c->stride, (unsigned) c->index, &expect), 0);
                assert_string_equal(SRIOV_ADDR_STR(&expect), c->vf);
        }
}

/* ---- PF attributes ----------------------------------------------------------------------- */

struct autoprobe_case {
        const char *name;
        const char *value;      /* NULL: attribute missing (kernels < 4.12) */
        int expected;
        const char *json;       /* JSON value: "true", "false", "null" */
};

static const struct autoprobe_case autoprobe_cases[] = {
        { "enabled", "1\n", 1, "true" },
        { "disabled", "0\n", 0, "false" },
        { "missing", NULL, -1, "null" },
        { "garbage", "yes\n", -1, "null" },
};

static void test_autoprobe(void **state) {
        const struct autoprobe_case *c = *state;
        const struct sriov_device *pf;
        json_object *o, *sriov, *v;

        build_std(0);
        if (c->value)
                assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_drivers_autoprobe", c->value), 0);
        else
                assert_int_equal(fixture_remove(E.ft, "0000:01:00.0", "sriov_drivers_autoprobe"), 0);
        scan();

        pf = must_get("0000:01:00.0");
        assert_int_equal(pf->role, SRIOV_ROLE_PF);
        assert_int_equal(pf->pf.drivers_autoprobe, c->expected);
        assert_int_equal(pf->pf.total_vfs, 4);

        o = keep(sriov_device_to_json(E.model, pf));
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "sriov", &sriov));
        assert_true(json_object_object_get_ex(sriov, "drivers_autoprobe", &v));
        assert_string_equal(json_object_to_json_string(v), c->json);
}

/* A PF is a PF because of sriov_totalvfs; the other sriov_* files are informational. */
static void test_pf_minimal(void **state) {
        const struct sriov_device *pf;

        assert_int_equal(fixture_add_function(E.ft, NULL, "0000:00:05.0", 0x15b3, 0x1017, 0x020000), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:00:05.0", "sriov_totalvfs", "8\n"), 0);
        scan();
        pf = must_get("0000:00:05.0");
        assert_int_equal(pf->role, SRIOV_ROLE_PF);
        assert_int_equal(pf->pf.total_vfs, 8);
        assert_int_equal(pf->pf.offset, 0);
        assert_int_equal(pf->pf.stride, 0);
        assert_int_equal(pf->pf.drivers_autoprobe, -1);
        assert_int_equal(pf->pf.n_vfs, 0);
        assert_null(pf->pf.vfs);
}

/* virtfn10 sorts after virtfn9, not after virtfn1. */
static void test_virtfn_order(void **state) {
        static const unsigned link_order[] = { 9, 10, 1, 11, 0, 5, 2, 8, 3, 7, 4, 6 };
        const struct sriov_device *pf;

        build_std(0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_totalvfs", "16\n"), 0);
        for (size_t i = 0; i < ELEMENTSOF(link_order); i++) {
                struct sriov_addr a = ad("0000:01:00.0");
                char vf[SRIOV_ADDR_STRLEN];

                assert_int_equal(sriov_addr_vf(&a, 1, 1, link_order[i], &a), 0);
                sriov_addr_format(&a, vf);
                assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", link_order[i], vf, true), 0);
        }
        /* Entries that only look like VF links. */
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfnX", "../0000:01:00.1"), 0);
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfn", "../0000:01:00.1"), 0);
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfn-1", "../0000:01:00.1"), 0);
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfn3x", "../0000:01:00.1"), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "virtfn_info", "x\n"), 0);
        scan();

        pf = must_get("0000:01:00.0");
        assert_vf_list(pf, IDX(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3", "0000:01:00.4", "0000:01:00.5",
                             "0000:01:00.6", "0000:01:00.7", "0000:01:01.0", "0000:01:01.1", "0000:01:01.2",
                             "0000:01:01.3", "0000:01:01.4"));
        for (unsigned i = 0; i < 12; i++) {
                const struct sriov_device *vf = sriov_model_get(E.model, &pf->pf.vfs[i].addr);
                assert_non_null(vf);
                assert_int_equal(vf->vf.index, (int) i);
        }
}

/* A virtfn link to something that is not a PCI function is skipped, not fatal. */
static void test_virtfn_bad_target(void **state) {
        const struct sriov_device *pf;

        build_std(2);
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfn2", "../not-a-function"), 0);
        scan();
        pf = must_get("0000:01:00.0");
        assert_vf_list(pf, IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));
}

/* ---- updates --------------------------------------------------------------------------- */

/* The kernel adds a VF (echo N > sriov_numvfs): directory, bus link, virtfn/physfn links,
 * then the add uevent; the daemon refreshes that one address. */
static void test_refresh_add_vf(void **state) {
        const struct sriov_device *pf, *vf;

        build_std(2);
        scan();
        assert_int_equal(sriov_model_size(E.model), 7);
        assert_null(get("0000:01:00.3"));

        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 2, "0000:01:00.3", true), 0);
        assert_int_equal(fixture_set_iommu_group(E.ft, "0000:01:00.3", 8), 0);
        assert_int_equal(refresh("0000:01:00.3"), 1);

        assert_int_equal(sriov_model_size(E.model), 8);
        vf = must_get("0000:01:00.3");
        assert_int_equal(vf->role, SRIOV_ROLE_VF);
        assert_int_equal(vf->vf.index, 2);
        assert_int_equal(vf->iommu_group, 8);
        pf = must_get("0000:01:00.0");
        assert_vf_list(pf, IDX(0, 1, 2), ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));

        /* A bind event: the same VF, now with a driver. */
        assert_int_equal(fixture_set_driver(E.ft, "0000:01:00.3", "vfio-pci"), 0);
        assert_int_equal(refresh("0000:01:00.3"), 1);
        assert_string_equal(must_get("0000:01:00.3")->driver, "vfio-pci");
        assert_int_equal(sriov_model_size(E.model), 8);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));

        /* Refreshing the PF (its change event) keeps the same list. */
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));
        assert_string_equal(must_get("0000:01:00.3")->driver, "vfio-pci");
}

/* A PF's refresh takes the VF addresses it knows from the last read instead of reading
 * every virtfnN link again - only while First VF Offset and VF Stride are the same, since
 * the kernel derives the links' targets from them. Here the VFs go and come back with
 * another layout (a disable and an enable whose uevents were not handled in between:
 * the offset of some devices depends on NumVFs): the new links are read. */
static void test_refresh_pf_known_vfs(void **state) {
        struct sriov_addr a;

        build_std(2);
        scan();
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));

        /* Same layout, one more VF: the new one is read, the known ones kept. */
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 2, "0000:01:00.3", true), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2), ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));

        /* VF 1 torn down on its own (pci_iov_remove_virtfn(), as powerpc's EEH does): its
         * link goes and its remove uevent drops it; the PF's refresh then lists the hole. */
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 1), 0);
        a = ad("0000:01:00.2");
        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 2), ADDRS("0000:01:00.1", "0000:01:00.3"));

        /* All gone, then back with offset 8 and stride 2: nothing known is reused. */
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 0), 0);
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 2), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_offset", "8\n"), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_stride", "2\n"), 0);
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 0, "0000:01:01.0", true), 0);
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 2, "0000:01:01.4", true), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 2), ADDRS("0000:01:01.0", "0000:01:01.4"));

        /* And a refresh with nothing changed keeps exactly that. */
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 2), ADDRS("0000:01:01.0", "0000:01:01.4"));
}

static int refresh_vfs_changed(const char *s, bool *changed) {
        struct sriov_addr a = ad(s);
        return sriov_model_refresh_vfs_changed(E.model, &a, changed);
}

/* A PF "change" that left the VF set as it was (udevadm trigger, a bind) costs two links,
 * not a listing: the known VFs are 0..n-1, virtfn{n-1} points where it did, virtfn{n} is
 * absent. A link the kernel would never make on its own (virtfn7 with VFs 0..2) is what
 * shows the directory was not listed; a resynchronisation, which lists, finds it. */
static void test_refresh_pf_vf_set_kept(void **state) {
        struct sriov_addr a = ad("0000:01:00.0");
        bool changed = true;

        build_std(3);
        scan();
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 7, "0000:01:01.0", true), 0);

        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_false(changed);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));

        assert_int_equal(sriov_model_resync(E.model, &a), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2, 7),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3", "0000:01:01.0"));

        /* Known VFs with a hole are not the kernel's bulk shape: listed every time. */
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 7), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_false(changed);

        /* The VFs themselves are still the model's VFs, bound as they were. */
        for (unsigned i = 0; i < 3; i++) {
                const struct sriov_device *vf = sriov_model_get(E.model, &must_get("0000:01:00.0")->pf.vfs[i].addr);
                assert_non_null(vf);
                assert_int_equal(vf->role, SRIOV_ROLE_VF);
                assert_int_equal(vf->vf.index, (int) i);
        }
}

/* Every way the two-link check can see the VF set differ: one more VF (virtfn{n} there),
 * fewer (virtfn{n-1} gone), the same count at another address (virtfn{n-1} elsewhere),
 * another stride, all gone, and back from none. */
static void test_refresh_pf_vf_set_changes(void **state) {
        bool changed = false;

        build_std(2);
        scan();
        assert_int_equal(refresh("0000:01:00.0"), 1);

        /* one more */
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 2, "0000:01:00.3", true), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1, 2),
                       ADDRS("0000:01:00.1", "0000:01:00.2", "0000:01:00.3"));

        /* one fewer, its remove uevent not handled yet */
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 2), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));

        /* the last link points elsewhere: not the known set, so listed (the listing itself
         * keeps the targets it knows while the layout is the same: pf-known-vfs) */
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "virtfn1", "../0000:01:00.3"), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);           /* and every time, while it differs */
        /* a resync reads every link: then the set is known again */
        struct sriov_addr pfa = ad("0000:01:00.0");
        assert_int_equal(sriov_model_resync(E.model, &pfa), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.3"));
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_false(changed);

        /* another stride: listed, and the links read again */
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_stride", "2\n"), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);

        /* all gone, then none kept as none */
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 0), 0);
        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 1), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_int_equal(must_get("0000:01:00.0")->pf.n_vfs, 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_false(changed);

        /* and back from none */
        assert_int_equal(fixture_link_virtfn(E.ft, "0000:01:00.0", 0, "0000:01:00.1"), 0);
        assert_int_equal(refresh_vfs_changed("0000:01:00.0", &changed), 1);
        assert_true(changed);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0), ADDRS("0000:01:00.1"));

        /* a function that is not a PF never reports a VF set */
        assert_int_equal(refresh_vfs_changed("0000:01:00.1", &changed), 1);
        assert_false(changed);
}

/* The VF's add event is handled before the kernel created its physfn link: it is loaded
 * as a plain function, and the PF's change event that follows puts it right. */
static void test_refresh_physfn_late(void **state) {
        const struct sriov_device *pf, *vf;

        build_std(0);
        scan();
        assert_int_equal(must_get("0000:01:00.0")->pf.n_vfs, 0);

        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 0, "0000:01:00.1", false), 0);
        assert_int_equal(refresh("0000:01:00.1"), 1);
        vf = must_get("0000:01:00.1");
        assert_int_equal(vf->role, SRIOV_ROLE_OTHER);
        assert_int_equal(must_get("0000:01:00.0")->pf.n_vfs, 0);

        /* Now the kernel links them, and the PF gets its change event. */
        assert_int_equal(fixture_link_vf(E.ft, "0000:01:00.0", 0, "0000:01:00.1"), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);

        pf = must_get("0000:01:00.0");
        assert_vf_list(pf, IDX(0), ADDRS("0000:01:00.1"));
        vf = must_get("0000:01:00.1");
        assert_int_equal(vf->role, SRIOV_ROLE_VF);
        assert_int_equal(vf->vf.index, 0);
        assert_string_equal(SRIOV_ADDR_STR(&vf->vf.pf), "0000:01:00.0");
}

/* Same, but the PF's refresh came while only virtfnN existed (the kernel creates it before
 * physfn): the VF is still a plain function until something refreshes it again. */
static void test_refresh_virtfn_before_physfn(void **state) {
        build_std(0);
        scan();

        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 0, "0000:01:00.1", false), 0);
        assert_int_equal(fixture_link_virtfn(E.ft, "0000:01:00.0", 0, "0000:01:00.1"), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0), ADDRS("0000:01:00.1"));
        assert_int_equal(must_get("0000:01:00.1")->role, SRIOV_ROLE_OTHER);

        assert_int_equal(fixture_link_physfn(E.ft, "0000:01:00.1", "0000:01:00.0"), 0);
        assert_int_equal(refresh("0000:01:00.1"), 1);
        assert_int_equal(must_get("0000:01:00.1")->role, SRIOV_ROLE_VF);
        assert_int_equal(must_get("0000:01:00.1")->vf.index, 0);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0), ADDRS("0000:01:00.1"));
}

/* The same, but it is the PF that is refreshed again, its VF set unchanged: the two-link
 * check keeps the list, and the VF that is not yet one in the model is still re-read
 * (the list is not marked resolved until every VF is). */
static void test_refresh_pf_kept_resolves_vf(void **state) {
        bool changed = true;
        struct sriov_addr a = ad("0000:01:00.0");

        build_std(0);
        scan();
        assert_int_equal(fixture_add_vf(E.ft, "0000:01:00.0", 0, "0000:01:00.1", false), 0);
        assert_int_equal(fixture_link_virtfn(E.ft, "0000:01:00.0", 0, "0000:01:00.1"), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_int_equal(must_get("0000:01:00.1")->role, SRIOV_ROLE_OTHER);
        assert_false(must_get("0000:01:00.0")->pf.vfs_resolved);

        assert_int_equal(fixture_link_physfn(E.ft, "0000:01:00.1", "0000:01:00.0"), 0);
        assert_int_equal(sriov_model_refresh_vfs_changed(E.model, &a, &changed), 1);
        assert_false(changed);
        assert_int_equal(must_get("0000:01:00.1")->role, SRIOV_ROLE_VF);
        assert_int_equal(must_get("0000:01:00.1")->vf.index, 0);
        assert_true(must_get("0000:01:00.0")->pf.vfs_resolved);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0), ADDRS("0000:01:00.1"));
}

/* A refresh that fails after the two-link check said "kept" (the PF's net/ cannot be
 * listed) leaves the model's PF with its VF list: the list moves only on success. */
static void test_refresh_pf_kept_failure_keeps_list(void **state) {
        build_std(2);
        scan();
        assert_int_equal(fixture_set_link(E.ft, "0000:01:00.0", "net", "net"), 0);     /* ELOOP */
        assert_true(refresh("0000:01:00.0") < 0);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));
        assert_int_equal(fixture_remove(E.ft, "0000:01:00.0", "net"), 0);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));
}

/* A VF's add event before its PF is in the model at all (e.g. the PF's own add is still
 * queued): the PF's later refresh lists it. */
static void test_refresh_vf_before_pf(void **state) {
        build_std(2);
        assert_int_equal(sriov_sysfs_new(E.sys, &E.sysfs), 0);
        assert_int_equal(sriov_model_new(E.sysfs, NULL, &E.model), 0);

        assert_int_equal(refresh("0000:01:00.2"), 1);
        assert_int_equal(must_get("0000:01:00.2")->role, SRIOV_ROLE_VF);
        assert_int_equal(sriov_model_size(E.model), 1);
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_int_equal(sriov_model_size(E.model), 3);      /* the PF loaded 01:00.1 too */
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));
        assert_int_equal(must_get("0000:01:00.1")->role, SRIOV_ROLE_VF);
}

static void test_forget_vf(void **state) {
        struct sriov_addr a = ad("0000:01:00.2");

        build_std(3);
        scan();
        assert_int_equal(sriov_model_size(E.model), 8);

        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        assert_null(get("0000:01:00.2"));
        assert_int_equal(sriov_model_size(E.model), 7);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 2), ADDRS("0000:01:00.1", "0000:01:00.3"));

        /* Twice, and an address never seen: nothing happens. */
        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        a = ad("0000:77:00.0");
        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        assert_int_equal(sriov_model_size(E.model), 7);

        /* The PF goes: its VFs stay until their own remove events. */
        a = ad("0000:01:00.0");
        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        assert_null(get("0000:01:00.0"));
        assert_non_null(get("0000:01:00.1"));
        a = ad("0000:01:00.1");
        assert_int_equal(sriov_model_forget(E.model, &a), 0);
        assert_int_equal(sriov_model_size(E.model), 5);
}

/* echo 0 > sriov_numvfs, seen from the model: each VF vanishes, the refresh forgets it. */
static void test_refresh_gone(void **state) {
        build_std(3);
        scan();

        assert_int_equal(fixture_unlink_virtfn(E.ft, "0000:01:00.0", 2), 0);
        assert_int_equal(fixture_remove_function(E.ft, "0000:01:00.3"), 0);
        assert_int_equal(refresh("0000:01:00.3"), 0);
        assert_null(get("0000:01:00.3"));
        assert_int_equal(sriov_model_size(E.model), 7);
        assert_vf_list(must_get("0000:01:00.0"), IDX(0, 1), ADDRS("0000:01:00.1", "0000:01:00.2"));

        /* A device that never existed: 0, nothing added. */
        assert_int_equal(refresh("0000:42:00.0"), 0);
        assert_int_equal(sriov_model_size(E.model), 7);

        /* The bus link still there but the directory gone (mid-removal). */
        {
                char *dir = NULL, *cmd = NULL;
                assert_int_equal(fixture_device_path(E.ft, "0000:01:00.2", &dir), 0);
                assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
                assert_int_equal(system(cmd), 0);
                free(cmd);
                free(dir);
        }
        assert_int_equal(refresh("0000:01:00.2"), 0);
        assert_null(get("0000:01:00.2"));
        assert_vf_list(must_get("0000:01:00.0"), IDX(0), ADDRS("0000:01:00.1"));

        /* A rescan sees the same. */
        assert_int_equal(sriov_model_scan(E.model), 0);
        assert_null(get("0000:01:00.2"));
        assert_null(get("0000:01:00.3"));
        assert_int_equal(sriov_model_size(E.model), 6);
}

/* ---- IOMMU groups ------------------------------------------------------------------------ */

struct group_case {
        const char *name;
        int group;
        int ret;
        const char *const *members;
};

static const struct group_case group_cases[] = {
        { "root-port", 1, 0, ADDRS("0000:00:02.0") },
        { "pf", 4, 0, ADDRS("0000:01:00.0") },
        { "vf", 7, 0, ADDRS("0000:01:00.2") },
        { "shared", 9, 0, ADDRS("0000:01:00.1", "0000:01:00.3") },
        { "left-empty", 6, 0, NO_ADDRS },
        { "unknown", 99, -ENOENT, NO_ADDRS },
        { "negative", -1, -EINVAL, NO_ADDRS },
};

static void test_iommu_group(void **state) {
        const struct group_case *c = *state;
        struct sriov_addr *list = NULL;
        size_t n = 0, expected = 0;

        build_std(3);
        /* 01:00.3 and 01:00.1 share group 9 (no ACS, say); group 6 is left behind empty. */
        assert_int_equal(fixture_set_iommu_group(E.ft, "0000:01:00.3", 9), 0);
        assert_int_equal(fixture_set_iommu_group(E.ft, "0000:01:00.1", 9), 0);
        scan();
        assert_int_equal(must_get("0000:01:00.1")->iommu_group, 9);

        assert_errno_equal(sriov_sysfs_list_iommu_group(E.sysfs, c->group, &list, &n), c->ret);
        if (c->ret < 0)
                return;
        while (c->members[expected])
                expected++;
        assert_int_equal(n, expected);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(SRIOV_ADDR_STR(&list[i]), c->members[i]);
        free(list);
}

/* ---- AER polling ---------------------------------------------------------------------------- */

struct delta {
        SriovAerKind kind;
        char name[SRIOV_AER_NAME_MAX];
        uint64_t delta;
};

static struct delta deltas[16];
static size_t n_deltas;

static void on_delta(SriovAerKind kind, const char *name, uint64_t d, void *userdata) {
        assert_true(n_deltas < ELEMENTSOF(deltas));
        deltas[n_deltas].kind = kind;
        snprintf(deltas[n_deltas].name, sizeof(deltas[n_deltas].name), "%s", name);
        deltas[n_deltas].delta = d;
        n_deltas++;
}

static void test_refresh_aer(void **state) {
        struct sriov_addr rp = ad("0000:00:02.0"), gone = ad("0000:55:00.0");
        struct sriov_aer prev = {};

        build_std(1);
        scan();
        assert_int_equal(sriov_aer_counter_get(&must_get("0000:00:02.0")->aer.kinds[SRIOV_AER_CORRECTABLE],
                                               "BadTLP"), 0);

        assert_int_equal(fixture_set_attr(E.ft, "0000:00:02.0", "aer_dev_correctable",
                                          "RxErr 0\nBadTLP 5\nBadDLLP 0\nRollover 0\nTimeout 1\nNonFatalErr 0\n"
                                          "CorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR 6\n"), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:00:02.0", "aer_rootport_total_err_cor", "6\n"), 0);
        assert_int_equal(sriov_model_refresh_aer(E.model, &rp, &prev), 0);

        const struct sriov_device *d = must_get("0000:00:02.0");
        assert_int_equal(sriov_aer_counter_get(&d->aer.kinds[SRIOV_AER_CORRECTABLE], "BadTLP"), 5);
        assert_int_equal(d->aer.rootport_total[SRIOV_AER_CORRECTABLE], 6);
        assert_int_equal(sriov_aer_counter_get(&prev.kinds[SRIOV_AER_CORRECTABLE], "BadTLP"), 0);

        n_deltas = 0;
        assert_int_equal(sriov_aer_diff(&prev, &d->aer, on_delta, NULL), 3);
        assert_int_equal(n_deltas, 3);
        assert_string_equal(deltas[0].name, "BadTLP");
        assert_int_equal(deltas[0].delta, 5);
        assert_string_equal(deltas[1].name, "Timeout");
        assert_int_equal(deltas[1].delta, 1);
        assert_string_equal(deltas[2].name, "total");
        assert_int_equal(deltas[2].delta, 6);
        for (size_t i = 0; i < n_deltas; i++)
                assert_int_equal(deltas[i].kind, SRIOV_AER_CORRECTABLE);
        sriov_aer_done(&prev);

        /* Nothing changed since: no deltas. */
        assert_int_equal(sriov_model_refresh_aer(E.model, &rp, &prev), 0);
        assert_int_equal(sriov_aer_diff(&prev, &must_get("0000:00:02.0")->aer, NULL, NULL), 0);
        sriov_aer_done(&prev);

        /* Not in the model; in the model but gone from sysfs. */
        assert_errno_equal(sriov_model_refresh_aer(E.model, &gone, &prev), -ENOENT);
        assert_int_equal(fixture_remove_function(E.ft, "0000:01:00.1"), 0);
        gone = ad("0000:01:00.1");
        assert_errno_equal(sriov_model_refresh_aer(E.model, &gone, &prev), -ENOENT);
}

/* ---- sriov_numvfs is never read ----------------------------------------------------------- */

/* The hand-built PFs have sriov_numvfs as a FIFO: any read hangs (and the alarm fails the
 * test). Here it is a regular file with a wrong value: the count must come from the links. */
static void test_numvfs_not_read(void **state) {
        const struct sriov_device *pf;
        struct stat st;
        char *path = NULL;
        json_object *o, *sriov, *v;

        build_std(3);
        assert_int_equal(fixture_device_path(E.ft, "0000:01:00.0", &path), 0);
        path = realloc(path, strlen(path) + 32);
        strcat(path, "/sriov_numvfs");
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));

        scan();
        assert_int_equal(refresh("0000:01:00.0"), 1);
        assert_int_equal(refresh("0000:01:00.1"), 1);
        pf = must_get("0000:01:00.0");
        assert_int_equal(pf->pf.n_vfs, 3);
        o = keep(sriov_device_to_json(E.model, pf));

        /* Readable now, and lying. */
        assert_int_equal(fixture_remove(E.ft, "0000:01:00.0", "sriov_numvfs"), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:01:00.0", "sriov_numvfs", "7\n"), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(refresh("0000:01:00.0"), 1);
        pf = must_get("0000:01:00.0");
        assert_int_equal(pf->pf.n_vfs, 3);
        o = keep(sriov_device_to_json(E.model, pf));
        assert_true(json_object_object_get_ex(o, "sriov", &sriov));
        assert_true(json_object_object_get_ex(sriov, "num_vfs", &v));
        assert_int_equal(json_object_get_int(v), 3);
        free(path);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("JSON has no key '%s': %s", key, json_object_to_json_string(o));
        return v;
}

static void assert_jstr(json_object *o, const char *key, const char *expected) {
        json_object *v = jget(o, key);

        if (!expected) {
                if (v)
                        fail_msg("'%s' is %s, expected null", key, json_object_to_json_string(v));
                return;
        }
        if (!v || !json_object_is_type(v, json_type_string))
                fail_msg("'%s' is not a string: %s", key, json_object_to_json_string(v));
        assert_string_equal(json_object_get_string(v), expected);
}

static void assert_jint(json_object *o, const char *key, int64_t expected) {
        json_object *v = jget(o, key);

        if (!v || !json_object_is_type(v, json_type_int))
                fail_msg("'%s' is not an integer: %s", key, json_object_to_json_string(v));
        assert_int_equal(json_object_get_int64(v), expected);
}

static void assert_jnull(json_object *o, const char *key) {
        json_object *v = jget(o, key);

        if (v)
                fail_msg("'%s' is %s, expected null", key, json_object_to_json_string(v));
}

/* Exactly these keys, no more. */
static void assert_jkeys(json_object *o, const char *const *keys) {
        size_t n = 0;

        for (; keys[n]; n++)
                (void) jget(o, keys[n]);
        if ((size_t) json_object_object_length(o) != n)
                fail_msg("JSON has %d keys, expected %zu: %s", json_object_object_length(o), n,
                         json_object_to_json_string(o));
}

#define KEYS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define DEVICE_KEYS "address", "role", "vendor_id", "device_id", "class", "vendor_name", "device_name", \
                "driver", "iommu_group", "vfio_device", "upstream", "netdevs"

static void test_json_pf(void **state) {
        json_object *o, *sriov, *vfs, *up;

        build_std(3);
        assert_int_equal(fixture_set_driver(E.ft, "0000:01:00.2", "vfio-pci"), 0);
        assert_int_equal(fixture_set_iommu_group(E.ft, "0000:01:00.3", -1), 0);
        scan();

        o = keep(sriov_device_to_json(E.model, must_get("0000:01:00.0")));
        assert_non_null(o);
        assert_jkeys(o, KEYS(DEVICE_KEYS, "sriov"));
        assert_jstr(o, "address", "0000:01:00.0");
        assert_jstr(o, "role", "pf");
        assert_jstr(o, "vendor_id", "1b36");
        assert_jstr(o, "device_id", "0010");
        assert_jstr(o, "class", "0x010802");
        assert_jnull(o, "vendor_name");
        assert_jnull(o, "device_name");
        assert_jstr(o, "driver", "nvme");
        assert_jint(o, "iommu_group", 4);
        assert_jnull(o, "vfio_device");
        up = jget(o, "upstream");
        assert_int_equal(json_object_array_length(up), 1);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(up, 0)), "0000:00:02.0");

        sriov = jget(o, "sriov");
        assert_jkeys(sriov, KEYS("total_vfs", "num_vfs", "offset", "stride", "vf_device_id",
                                 "drivers_autoprobe", "vfs"));
        assert_jint(sriov, "total_vfs", 4);
        assert_jint(sriov, "num_vfs", 3);
        assert_jint(sriov, "offset", 1);
        assert_jint(sriov, "stride", 1);
        assert_jstr(sriov, "vf_device_id", "0010");
        assert_true(json_object_get_boolean(jget(sriov, "drivers_autoprobe")));
        vfs = jget(sriov, "vfs");
        assert_int_equal(json_object_array_length(vfs), 3);
        for (int i = 0; i < 3; i++) {
                json_object *vf = json_object_array_get_idx(vfs, (size_t) i);
                char a[SRIOV_ADDR_STRLEN];

                snprintf(a, sizeof(a), "0000:01:00.%d", i + 1);
                assert_jkeys(vf, KEYS("index", "address", "driver", "iommu_group", "vfio_device", "netdev"));
                assert_jnull(vf, "netdev");     /* no network driver */
                assert_jint(vf, "index", i);
                assert_jstr(vf, "address", a);
                assert_jstr(vf, "driver", i == 1 ? "vfio-pci" : NULL);
                assert_jstr(vf, "vfio_device", i == 1 ? "/dev/vfio/7" : NULL);
                if (i == 2)
                        assert_jnull(vf, "iommu_group");
                else
                        assert_jint(vf, "iommu_group", 6 + i);
        }

        /* Without a model the VFs' drivers and groups are unknown: null. */
        o = keep(sriov_device_to_json(NULL, must_get("0000:01:00.0")));
        vfs = jget(jget(o, "sriov"), "vfs");
        assert_int_equal(json_object_array_length(vfs), 3);
        assert_jnull(json_object_array_get_idx(vfs, 1), "driver");
        assert_jnull(json_object_array_get_idx(vfs, 1), "iommu_group");
        assert_jnull(json_object_array_get_idx(vfs, 1), "vfio_device");

        /* The VF itself on vfio-pci: its /dev/vfio node; without a group there is none. */
        o = keep(sriov_device_to_json(E.model, must_get("0000:01:00.2")));
        assert_jstr(o, "vfio_device", "/dev/vfio/7");
        assert_int_equal(fixture_set_driver(E.ft, "0000:01:00.3", "vfio-pci"), 0);
        assert_int_equal(refresh("0000:01:00.3"), 1);
        o = keep(sriov_device_to_json(E.model, must_get("0000:01:00.3")));
        assert_jstr(o, "driver", "vfio-pci");
        assert_jnull(o, "vfio_device");
}

static void test_json_vf(void **state) {
        json_object *o, *vf;

        build_std(3);
        scan();
        o = keep(sriov_device_to_json(E.model, must_get("0000:01:00.2")));
        assert_jkeys(o, KEYS(DEVICE_KEYS, "vf"));
        assert_jstr(o, "role", "vf");
        assert_jnull(o, "driver");
        assert_jint(o, "iommu_group", 7);
        vf = jget(o, "vf");
        assert_jkeys(vf, KEYS("index", "pf"));
        assert_jint(vf, "index", 1);
        assert_jstr(vf, "pf", "0000:01:00.0");
}

static void test_json_bridge_aer(void **state) {
        json_object *o, *aer, *rp, *cor;

        build_std(0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:00:02.0", "aer_dev_correctable",
                                          "RxErr 2\nBadTLP 0\nTOTAL_ERR_COR 2\n"), 0);
        assert_int_equal(fixture_set_attr(E.ft, "0000:00:02.0", "aer_rootport_total_err_cor", "2\n"), 0);
        scan();

        o = keep(sriov_device_to_json(E.model, must_get("0000:00:02.0")));
        assert_jkeys(o, KEYS(DEVICE_KEYS, "aer"));
        assert_jstr(o, "role", "bridge");
        assert_jstr(o, "class", "0x060400");
        assert_int_equal(json_object_array_length(jget(o, "upstream")), 0);
        aer = jget(o, "aer");
        assert_jkeys(aer, KEYS("correctable", "nonfatal", "fatal", "rootport_total"));
        cor = jget(aer, "correctable");
        assert_jkeys(cor, KEYS("RxErr", "BadTLP", "total"));
        assert_jint(cor, "RxErr", 2);
        assert_jint(cor, "total", 2);
        assert_jint(jget(aer, "nonfatal"), "UnsupReq", 0);
        rp = jget(aer, "rootport_total");
        assert_jkeys(rp, KEYS("correctable", "nonfatal", "fatal"));
        assert_jint(rp, "correctable", 2);
        assert_jint(rp, "nonfatal", 0);

        /* No AER files, no "aer" key; no driver, no group: null. */
        o = keep(sriov_device_to_json(E.model, must_get("0000:00:00.0")));
        assert_jkeys(o, KEYS(DEVICE_KEYS));
        assert_jstr(o, "role", "other");
        assert_jnull(o, "driver");
        assert_jnull(o, "iommu_group");
}

/* ---- recorded fixtures (umockdev-record in the VM, real kernel) ---------------------------- */

struct recorded_case {
        const char *name;
        const char *file;
        unsigned n_vfs;
        const char *vf0_driver;
        uint64_t rp_nonfatal;           /* root port's aer_rootport_total_err_nonfatal */
        uint64_t rp_unsupreq;           /* UnsupReq in its aer_dev_nonfatal */
};

static const struct recorded_case recorded_cases[] = {
        { "pf-0vfs", "pf-0vfs.umockdev", 0, NULL, 0, 0 },
        { "pf-3vfs", "pf-3vfs.umockdev", 3, NULL, 0, 0 },
        { "pf-3vfs-aer", "pf-3vfs-aer.umockdev", 3, NULL, 1, 1 },
        { "pf-3vfs-vfio", "pf-3vfs-vfio.umockdev", 3, "vfio-pci", 0, 0 },
};

static bool load_recorded(const char *file) {
        const char *dir = getenv("SRIOV_FIXTURES_DIR");
        GError *error = NULL;
        char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", dir ?: SRIOV_FIXTURES_DIR_DEFAULT, file) > 0);
        if (access(path, R_OK) < 0) {
                print_message("recorded fixture %s missing: skipped\n", path);
                free(path);
                return false;
        }
        E.tb = umockdev_testbed_new();
        assert_non_null(E.tb);
        if (!umockdev_testbed_add_from_file(E.tb, path, &error))
                fail_msg("umockdev cannot load %s: %s", path, error ? error->message : "?");
        free(path);
        {
                char *sys = umockdev_testbed_get_sys_dir(E.tb);
                free(E.sys);
                E.sys = strdup(sys);
                g_free(sys);
        }
        return true;
}

static void test_recorded(void **state) {
        const struct recorded_case *c = *state;
        const struct sriov_device *pf, *rp;
        json_object *o;
        int groups[8];

        if (!load_recorded(c->file))
                skip();
        scan();

        /* umockdev made bus/pci/devices links for what was recorded: root port, PF, VFs. */
        assert_int_equal(sriov_model_size(E.model), 2 + c->n_vfs);

        rp = must_get("0000:00:02.0");
        assert_int_equal(rp->role, SRIOV_ROLE_BRIDGE);
        assert_int_equal(rp->vendor_id, 0x1b36);
        assert_int_equal(rp->device_id, 0x000c);
        assert_string_equal(rp->driver, "pcieport");
        assert_upstream(rp, NO_UPSTREAM);
        assert_true(sriov_aer_present(&rp->aer));
        assert_true(rp->aer.has_rootport);
        for (SriovAerKind k = 0; k < _SRIOV_AER_KIND_MAX; k++) {
                assert_true(rp->aer.kinds[k].present);
                assert_true(rp->aer.kinds[k].has_total);
        }
        assert_int_equal(rp->aer.rootport_total[SRIOV_AER_CORRECTABLE], 0);
        assert_int_equal(rp->aer.rootport_total[SRIOV_AER_FATAL], 0);
        assert_int_equal(rp->aer.rootport_total[SRIOV_AER_NONFATAL], c->rp_nonfatal);
        assert_int_equal(rp->aer.kinds[SRIOV_AER_NONFATAL].total, c->rp_unsupreq);
        assert_int_equal(sriov_aer_counter_get(&rp->aer.kinds[SRIOV_AER_NONFATAL], "UnsupReq"), c->rp_unsupreq);
        assert_int_equal(rp->aer.kinds[SRIOV_AER_CORRECTABLE].n_counters, 8);
        assert_true(rp->aer.kinds[SRIOV_AER_FATAL].n_counters >= 18);
        assert_int_equal(rp->aer.kinds[SRIOV_AER_FATAL].total, 0);

        pf = must_get("0000:01:00.0");
        assert_int_equal(pf->role, SRIOV_ROLE_PF);
        assert_int_equal(pf->vendor_id, 0x1b36);
        assert_int_equal(pf->device_id, 0x0010);
        assert_int_equal(pf->class_code, 0x010802);
        assert_string_equal(pf->driver, "nvme");
        assert_upstream(pf, UPSTREAM("0000:00:02.0"));
        assert_string_equal(SRIOV_ADDR_STR(sriov_device_hierarchy(pf)), "0000:00:02.0");
        assert_int_equal(pf->pf.total_vfs, 4);
        assert_int_equal(pf->pf.offset, 1);
        assert_int_equal(pf->pf.stride, 1);
        assert_int_equal(pf->pf.vf_device_id, 0x0010);
        assert_int_equal(pf->pf.drivers_autoprobe, 1);
        assert_int_equal(pf->pf.n_vfs, c->n_vfs);
        assert_true(pf->iommu_group >= 0);
        groups[0] = pf->iommu_group;
        groups[1] = rp->iommu_group;

        for (unsigned i = 0; i < c->n_vfs; i++) {
                const struct sriov_device *vf;
                char a[SRIOV_ADDR_STRLEN];

                snprintf(a, sizeof(a), "0000:01:00.%u", i + 1);
                assert_int_equal(pf->pf.vfs[i].index, i);
                assert_string_equal(SRIOV_ADDR_STR(&pf->pf.vfs[i].addr), a);
                vf = must_get(a);
                assert_int_equal(vf->role, SRIOV_ROLE_VF);
                assert_int_equal(vf->vf.index, (int) i);
                assert_string_equal(SRIOV_ADDR_STR(&vf->vf.pf), "0000:01:00.0");
                assert_int_equal(vf->vendor_id, 0x1b36);
                assert_int_equal(vf->device_id, 0x0010);
                assert_upstream(vf, UPSTREAM("0000:00:02.0"));
                if (i == 0 && c->vf0_driver)
                        assert_string_equal(vf->driver, c->vf0_driver);
                else
                        assert_null(vf->driver);
                /* Each VF in its own IOMMU group, none shared with the PF or root port. */
                assert_true(vf->iommu_group >= 0);
                for (unsigned j = 0; j < i + 2; j++)
                        assert_int_not_equal(vf->iommu_group, groups[j]);
                groups[i + 2] = vf->iommu_group;
        }

        o = keep(sriov_device_to_json(E.model, pf));
        assert_jint(jget(o, "sriov"), "num_vfs", c->n_vfs);
        assert_int_equal(json_object_array_length(jget(jget(o, "sriov"), "vfs")), c->n_vfs);
        if (c->n_vfs > 0) {
                json_object *vf0 = json_object_array_get_idx(jget(jget(o, "sriov"), "vfs"), 0);
                char node[32];
                snprintf(node, sizeof(node), "/dev/vfio/%d", must_get("0000:01:00.1")->iommu_group);
                assert_jstr(vf0, "driver", c->vf0_driver);
                assert_jstr(vf0, "vfio_device", c->vf0_driver ? node : NULL);
        }
}

/* The recorded 3-VF tree, then "echo 0 > sriov_numvfs" replayed by hand. */
static void test_recorded_remove(void **state) {
        if (!load_recorded("pf-3vfs.umockdev"))
                skip();
        scan();

        for (int i = 2; i >= 0; i--) {
                char a[SRIOV_ADDR_STRLEN], *p = NULL, *q = NULL;

                snprintf(a, sizeof(a), "0000:01:00.%d", i + 1);
                assert_true(asprintf(&p, "/sys/devices/pci0000:00/0000:00:02.0/%s", a) > 0);
                assert_true(asprintf(&q, "%s/devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtfn%d", E.sys, i) > 0);
                assert_int_equal(unlink(q), 0);
                umockdev_testbed_remove_device(E.tb, p);
                free(p);
                free(q);
                assert_int_equal(refresh(a), 0);
                assert_null(get(a));
                assert_int_equal(must_get("0000:01:00.0")->pf.n_vfs, (size_t) i);
        }
        assert_int_equal(sriov_model_size(E.model), 2);
}

int main(void) {
        struct unit_tests t = {};

        signal(SIGALRM, on_alarm);

#define ADD(fn, st, ...) unit_add_full(&t, fn, setup, teardown, (void *) (st), __VA_ARGS__)
        for (size_t i = 0; i < ELEMENTSOF(role_cases); i++)
                ADD(test_role, &role_cases[i], "role/%s", role_cases[i].name);
        ADD(test_role_strings, NULL, "role/strings");
        ADD(test_std_tree, NULL, "scan/standard-tree");
        for (size_t i = 0; i < ELEMENTSOF(upstream_cases); i++)
                ADD(test_upstream, &upstream_cases[i], "upstream/%s", upstream_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(blockers_cases); i++)
                ADD(test_blockers, &blockers_cases[i], "blockers/%s", blockers_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(parse_upstream_cases); i++)
                ADD(test_parse_upstream, &parse_upstream_cases[i], "parse-upstream/%s", parse_upstream_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(vf_index_cases); i++)
                ADD(test_vf_index, &vf_index_cases[i], "vf-index/%s", vf_index_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(autoprobe_cases); i++)
                ADD(test_autoprobe, &autoprobe_cases[i], "pf/autoprobe-%s", autoprobe_cases[i].name);
        ADD(test_pf_minimal, NULL, "pf/minimal");
        ADD(test_virtfn_order, NULL, "pf/virtfn-numeric-order");
        ADD(test_virtfn_bad_target, NULL, "pf/virtfn-bad-target");
        ADD(test_refresh_add_vf, NULL, "refresh/add-vf");
        ADD(test_refresh_pf_known_vfs, NULL, "refresh/pf-known-vfs");
        ADD(test_refresh_pf_vf_set_kept, NULL, "refresh/pf-vf-set-kept");
        ADD(test_refresh_pf_vf_set_changes, NULL, "refresh/pf-vf-set-changes");
        ADD(test_refresh_pf_kept_resolves_vf, NULL, "refresh/pf-kept-resolves-vf");
        ADD(test_refresh_pf_kept_failure_keeps_list, NULL, "refresh/pf-kept-failure-keeps-list");
        ADD(test_refresh_physfn_late, NULL, "refresh/physfn-late");
        ADD(test_refresh_virtfn_before_physfn, NULL, "refresh/virtfn-before-physfn");
        ADD(test_refresh_vf_before_pf, NULL, "refresh/vf-before-pf");
        ADD(test_forget_vf, NULL, "forget/vf");
        ADD(test_refresh_gone, NULL, "refresh/gone");
        for (size_t i = 0; i < ELEMENTSOF(group_cases); i++)
                ADD(test_iommu_group, &group_cases[i], "iommu-group/%s", group_cases[i].name);
        ADD(test_refresh_aer, NULL, "refresh-aer");
        ADD(test_numvfs_not_read, NULL, "numvfs-never-read");
        ADD(test_json_pf, NULL, "json/pf");
        ADD(test_json_vf, NULL, "json/vf");
        ADD(test_json_bridge_aer, NULL, "json/bridge-aer");
        for (size_t i = 0; i < ELEMENTSOF(recorded_cases); i++)
                ADD(test_recorded, &recorded_cases[i], "recorded/%s", recorded_cases[i].name);
        ADD(test_recorded_remove, NULL, "recorded/remove-vfs");
#undef ADD

        return unit_run(&t, "model");
}
