/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an enable request means (lib/sriov-enable.c): the request body, validation against
 * a device, the kernel's errors in words, the settle timeout, and the final report. */
#include <errno.h>
#include <limits.h>

#include "sriov-enable.h"
#include "sriov-json.h"
#include "unit-test.h"

/* Cases that show a bug in lib/ expect the documented behaviour and are skipped unless
 * SRIOV_UNIT_KNOWN_BUGS is set, so the suite stays green while the bug is open. */
static void known_bug(const char *what) {
        if (what && !getenv("SRIOV_UNIT_KNOWN_BUGS")) {
                print_message("known bug (set SRIOV_UNIT_KNOWN_BUGS=1 to run): %s\n", what);
                skip();
        }
}

static struct sriov_addr addr(const char *s) {
        struct sriov_addr a;

        if (sriov_addr_parse(s, &a) < 0)
                fail_msg("bad address in the table: %s", s);
        return a;
}

/* The daemon's body parser (daemon/sriovd-api.c read_json_body): strict mode, depth 16,
 * nothing but whitespace after the value. NULL for JSON null. */
static json_object *parse_body(const char *text) {
        json_tokener *tok = json_tokener_new_ex(16);
        json_object *o;
        size_t len = strlen(text), end;

        assert_non_null(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) len);
        if (json_tokener_get_error(tok) != json_tokener_success)
                fail_msg("test body is not JSON for the daemon: %s", text);
        end = json_tokener_get_parse_end(tok);
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", text[i]))
                        fail_msg("test body has trailing junk: %s", text);
        json_tokener_free(tok);
        return o;
}

/* --- sriov_enable_request_from_json --- */

struct request_case {
        const char *name;
        const char *body;
        int ret;
        /* success */
        unsigned num_vfs;
        SriovPolicy policy;
        uint64_t timeout_ms;
        bool wait;
        int drivers_autoprobe;
        /* failure: a word the message must contain */
        const char *error_has;
};

#define OK(n, b, nv, pol, to, w, ap) { n, b, 0, nv, SRIOV_POLICY_##pol, to, w, ap }
#define BAD(n, b, has) { n, b, -EINVAL, .error_has = has }

static const struct request_case request_cases[] = {
        OK("minimal", "{\"num_vfs\": 4}", 4, BEST_EFFORT, 0, true, -1),
        OK("zero-disables", "{\"num_vfs\": 0}", 0, BEST_EFFORT, 0, true, -1),
        OK("max", "{\"num_vfs\": 65535}", 65535, BEST_EFFORT, 0, true, -1),
        OK("all-members",
           "{\"num_vfs\": 8, \"policy\": \"all-or-nothing\", \"timeout_ms\": 5000, \"wait\": false, "
           "\"drivers_autoprobe\": false}", 8, ALL_OR_NOTHING, 5000, false, 0),
        OK("members-any-order",
           "{\"drivers_autoprobe\": true, \"wait\": true, \"timeout_ms\": 100, \"policy\": \"best-effort\", "
           "\"num_vfs\": 1}", 1, BEST_EFFORT, 100, true, 1),
        OK("timeout-min", "{\"num_vfs\": 1, \"timeout_ms\": 100}", 1, BEST_EFFORT, 100, true, -1),
        OK("timeout-max", "{\"num_vfs\": 1, \"timeout_ms\": 3600000}", 1, BEST_EFFORT, 3600000, true, -1),
        OK("autoprobe-false", "{\"num_vfs\": 2, \"drivers_autoprobe\": false}", 2, BEST_EFFORT, 0, true, 0),
        OK("whitespace", " \n{ \"num_vfs\" :\t3 }\n ", 3, BEST_EFFORT, 0, true, -1),
        /* json-c (strict) accepts these; the last duplicate wins, a \u0000 ends a key. */
        OK("dup-key-last-wins", "{\"num_vfs\": 1, \"num_vfs\": 2}", 2, BEST_EFFORT, 0, true, -1),
        OK("dup-key-bad-then-good", "{\"num_vfs\": -1, \"num_vfs\": 2}", 2, BEST_EFFORT, 0, true, -1),
        OK("dup-policy", "{\"num_vfs\": 1, \"policy\": \"nope\", \"policy\": \"all-or-nothing\"}", 1,
           ALL_OR_NOTHING, 0, true, -1),
        OK("key-with-nul-escape", "{\"num_vfs\\u0000junk\": 5}", 5, BEST_EFFORT, 0, true, -1),
        OK("minus-zero", "{\"num_vfs\": -0}", 0, BEST_EFFORT, 0, true, -1),

        BAD("null", "null ", "object"),
        BAD("array", "[]", "object"),
        BAD("array-of-object", "[{\"num_vfs\": 4}]", "object"),
        BAD("number", "4 ", "object"),
        BAD("string", "\"num_vfs\"", "object"),
        BAD("true", "true ", "object"),
        BAD("empty-object", "{}", "num_vfs"),
        BAD("only-policy", "{\"policy\": \"best-effort\"}", "num_vfs"),
        BAD("num-negative", "{\"num_vfs\": -1}", "num_vfs"),
        BAD("num-fraction", "{\"num_vfs\": 1.5}", "num_vfs"),
        BAD("num-float-whole", "{\"num_vfs\": 1.0}", "num_vfs"),
        BAD("num-exponent", "{\"num_vfs\": 1e3}", "num_vfs"),
        BAD("num-string", "{\"num_vfs\": \"3\"}", "num_vfs"),
        BAD("num-true", "{\"num_vfs\": true}", "num_vfs"),
        BAD("num-null", "{\"num_vfs\": null}", "num_vfs"),
        BAD("num-array", "{\"num_vfs\": [4]}", "num_vfs"),
        BAD("num-object", "{\"num_vfs\": {}}", "num_vfs"),
        BAD("num-65536", "{\"num_vfs\": 65536}", "65535"),
        BAD("num-int32-max", "{\"num_vfs\": 2147483647}", "65535"),
        BAD("num-int64-max", "{\"num_vfs\": 9223372036854775807}", "65535"),
        BAD("num-above-int64", "{\"num_vfs\": 9223372036854775808}", "65535"),
        BAD("num-above-uint64", "{\"num_vfs\": 18446744073709551616}", "65535"),
        BAD("num-int64-min", "{\"num_vfs\": -9223372036854775808}", "num_vfs"),
        BAD("num-below-int64", "{\"num_vfs\": -9223372036854775809}", "num_vfs"),
        BAD("num-bad-after-good", "{\"num_vfs\": 1, \"timeout_ms\": 5}", "timeout_ms"),
        BAD("policy-unknown", "{\"num_vfs\": 1, \"policy\": \"fast\"}", "policy"),
        BAD("policy-case", "{\"num_vfs\": 1, \"policy\": \"Best-Effort\"}", "policy"),
        BAD("policy-empty", "{\"num_vfs\": 1, \"policy\": \"\"}", "policy"),
        BAD("policy-number", "{\"num_vfs\": 1, \"policy\": 0}", "policy"),
        BAD("policy-null", "{\"num_vfs\": 1, \"policy\": null}", "policy"),
        BAD("policy-array", "{\"num_vfs\": 1, \"policy\": [\"best-effort\"]}", "policy"),
        BAD("timeout-99", "{\"num_vfs\": 1, \"timeout_ms\": 99}", "timeout_ms"),
        BAD("timeout-0", "{\"num_vfs\": 1, \"timeout_ms\": 0}", "timeout_ms"),
        BAD("timeout-3600001", "{\"num_vfs\": 1, \"timeout_ms\": 3600001}", "timeout_ms"),
        BAD("timeout-string", "{\"num_vfs\": 1, \"timeout_ms\": \"x\"}", "timeout_ms"),
        BAD("timeout-negative", "{\"num_vfs\": 1, \"timeout_ms\": -1000}", "timeout_ms"),
        BAD("timeout-fraction", "{\"num_vfs\": 1, \"timeout_ms\": 1000.5}", "timeout_ms"),
        BAD("timeout-int64-max", "{\"num_vfs\": 1, \"timeout_ms\": 9223372036854775807}", "timeout_ms"),
        BAD("wait-yes", "{\"num_vfs\": 1, \"wait\": \"yes\"}", "wait"),
        BAD("wait-1", "{\"num_vfs\": 1, \"wait\": 1}", "wait"),
        BAD("wait-null", "{\"num_vfs\": 1, \"wait\": null}", "wait"),
        BAD("autoprobe-1", "{\"num_vfs\": 1, \"drivers_autoprobe\": 1}", "drivers_autoprobe"),
        BAD("autoprobe-0", "{\"num_vfs\": 1, \"drivers_autoprobe\": 0}", "drivers_autoprobe"),
        BAD("autoprobe-string", "{\"num_vfs\": 1, \"drivers_autoprobe\": \"true\"}", "drivers_autoprobe"),
        BAD("unknown-member", "{\"num_vfs\": 1, \"numvfs\": 1}", "unknown"),
        BAD("unknown-only", "{\"vfs\": 4}", NULL),
        BAD("unknown-case", "{\"NUM_VFS\": 4}", NULL),
        BAD("unknown-from-config", "{\"num_vfs\": 1, \"from_config\": true}", "unknown"),
        BAD("unknown-empty-key", "{\"num_vfs\": 1, \"\": 1}", "unknown"),
        BAD("dup-key-good-then-bad", "{\"num_vfs\": 2, \"num_vfs\": -1}", "num_vfs"),
};

static void test_request(void **state) {
        const struct request_case *c = *state;
        _cleanup_json_ json_object *body = parse_body(c->body);
        const struct sriov_enable_request sentinel = {
                .num_vfs = 0xdead, .policy = 77, .timeout_ms = 0xbeef, .wait = false,
                .drivers_autoprobe = 42, .from_config = true,
        };
        struct sriov_enable_request req = sentinel;
        const char *err = NULL;
        int r;

        r = sriov_enable_request_from_json(body, &req, &err);
        assert_errno_equal(r, c->ret);
        if (r < 0) {
                assert_non_null(err);
                assert_true(strlen(err) > 0);
                if (c->error_has && !strstr(err, c->error_has))
                        fail_msg("message '%s' does not mention '%s'", err, c->error_has);
                assert_memory_equal(&req, &sentinel, sizeof(req));
                return;
        }
        assert_int_equal(req.num_vfs, c->num_vfs);
        assert_int_equal(req.policy, c->policy);
        assert_int_equal(req.timeout_ms, c->timeout_ms);
        assert_int_equal(req.wait, c->wait);
        assert_int_equal(req.drivers_autoprobe, c->drivers_autoprobe);
        assert_false(req.from_config);
}

/* --- sriov_enable_validate --- */

static const struct sriov_device dev_pf = {
        .addr = { 0, 0x3b, 0, 0 }, .role = SRIOV_ROLE_PF, .driver = (char *) "ice",
        .iommu_group = -1, .pf = { .total_vfs = 4, .offset = 8, .stride = 1, .drivers_autoprobe = 1 },
};
static const struct sriov_device dev_pf_nodriver = {
        .addr = { 0, 0x3b, 0, 1 }, .role = SRIOV_ROLE_PF, .driver = NULL,
        .iommu_group = -1, .pf = { .total_vfs = 4, .offset = 8, .stride = 1, .drivers_autoprobe = 1 },
};
static const struct sriov_device dev_vf = {
        .addr = { 0, 0x3b, 1, 0 }, .role = SRIOV_ROLE_VF, .driver = (char *) "iavf",
        .iommu_group = -1, .vf = { .index = 0, .pf = { 0, 0x3b, 0, 0 } },
};
static const struct sriov_device dev_bridge = {
        .addr = { 0, 0x00, 2, 0 }, .role = SRIOV_ROLE_BRIDGE, .driver = (char *) "pcieport", .iommu_group = -1,
};
static const struct sriov_device dev_other = {
        .addr = { 0, 0x02, 0, 0 }, .role = SRIOV_ROLE_OTHER, .driver = (char *) "nvme", .iommu_group = -1,
};

struct validate_case {
        const char *name;
        const struct sriov_device *dev;
        unsigned num_vfs;
        int ret;
        const char *words[3];           /* the message must contain each */
};

static const struct validate_case validate_cases[] = {
        { "null-0", NULL, 0, -ENODEV, { "no such" } },
        { "null-1", NULL, 1, -ENODEV, { "no such" } },
        { "null-4", NULL, 4, -ENODEV, { "no such" } },
        { "null-5", NULL, 5, -ENODEV, { "no such" } },
        { "pf-0", &dev_pf, 0, 0 },
        { "pf-1", &dev_pf, 1, 0 },
        { "pf-4", &dev_pf, 4, 0 },
        { "pf-5", &dev_pf, 5, -ERANGE, { "ERANGE", "at most 4", "0000:3b:00.0" } },
        { "pf-65535", &dev_pf, 65535, -ERANGE, { "ERANGE", "65535", "at most 4" } },
        { "pf-nodriver-0", &dev_pf_nodriver, 0, 0 },
        { "pf-nodriver-1", &dev_pf_nodriver, 1, -ENOENT, { "ENOENT", "driver", "0000:3b:00.1" } },
        { "pf-nodriver-4", &dev_pf_nodriver, 4, -ENOENT, { "ENOENT", "driver" } },
        /* Too many is the first thing to fix: the count is refused even with a driver. */
        { "pf-nodriver-5", &dev_pf_nodriver, 5, -ERANGE, { "ERANGE", "at most 4" } },
        { "vf-0", &dev_vf, 0, -ENOTTY, { "VF", "0000:3b:00.0", "0000:3b:01.0" } },
        { "vf-1", &dev_vf, 1, -ENOTTY, { "VF", "0000:3b:00.0", "0000:3b:01.0" } },
        { "vf-4", &dev_vf, 4, -ENOTTY, { "VF", "0000:3b:00.0" } },
        { "vf-5", &dev_vf, 5, -ENOTTY, { "VF", "0000:3b:00.0" } },
        { "bridge-0", &dev_bridge, 0, -ENOTTY, { "0000:00:02.0", "not an SR-IOV" } },
        { "bridge-1", &dev_bridge, 1, -ENOTTY, { "0000:00:02.0", "not an SR-IOV" } },
        { "bridge-4", &dev_bridge, 4, -ENOTTY, { "not an SR-IOV" } },
        { "bridge-5", &dev_bridge, 5, -ENOTTY, { "not an SR-IOV" } },
        { "other-0", &dev_other, 0, -ENOTTY, { "0000:02:00.0", "sriov_totalvfs" } },
        { "other-1", &dev_other, 1, -ENOTTY, { "0000:02:00.0", "sriov_totalvfs" } },
        { "other-4", &dev_other, 4, -ENOTTY, { "sriov_totalvfs" } },
        { "other-5", &dev_other, 5, -ENOTTY, { "sriov_totalvfs" } },
};

static void test_validate(void **state) {
        const struct validate_case *c = *state;
        struct sriov_enable_request req = { .num_vfs = c->num_vfs, .drivers_autoprobe = -1, .wait = true };
        char buf[512];
        int r;

        memset(buf, 'Z', sizeof(buf));
        buf[sizeof(buf) - 1] = '\0';
        r = sriov_enable_validate(c->dev, &req, buf, sizeof(buf));
        assert_errno_equal(r, c->ret);
        if (r == 0)
                return;
        assert_true(strlen(buf) > 0);
        assert_null(strchr(buf, 'Z'));         /* written from the start, NUL-terminated */
        assert_null(strchr(buf, '\n'));
        for (size_t i = 0; i < ELEMENTSOF(c->words) && c->words[i]; i++)
                if (!strstr(buf, c->words[i]))
                        fail_msg("message '%s' does not mention '%s'", buf, c->words[i]);
}

/* A short buffer truncates and stays terminated (valgrind checks the bounds). */
static void test_validate_short_buffer(void **state) {
        struct sriov_enable_request req = { .num_vfs = 5 };
        char buf[12];

        memset(buf, 'Z', sizeof(buf));
        assert_errno_equal(sriov_enable_validate(&dev_pf, &req, buf, 8), -ERANGE);
        assert_int_equal(strlen(buf), 7);
        assert_int_equal(buf[8], 'Z');
}

/* --- sriov_numvfs_strerror --- */

struct strerror_case {
        int error;
        const char *words[2];
};

static const struct strerror_case strerror_cases[] = {
        { 0, { "success" } },
        { EBUSY, { "already enabled", "from 0" } },
        { ERANGE, { "sriov_totalvfs", "more VFs" } },
        { ENOENT, { "driver", "SR-IOV" } },
        { ENOMEM, { "pci=realloc", "MMIO" } },
        { ENOSPC, { "MSI-X" } },
        { EIO, { "I/O error", "dmesg" } },
        { EPERM, { "not permitted", "root" } },
        { EACCES, { "not permitted", "root" } },
        { EINVAL, { "refused the value" } },
        { ENODEV, { "PF is gone" } },
        { ENXIO, { "PF is gone" } },
        { ETIMEDOUT, { "hung", "deadline" } },
};

static void test_strerror(void **state) {
        const struct strerror_case *c = *state;
        const char *pos = sriov_numvfs_strerror(c->error), *neg = sriov_numvfs_strerror(-c->error);

        assert_non_null(pos);
        assert_string_equal(pos, neg);
        for (size_t i = 0; i < ELEMENTSOF(c->words) && c->words[i]; i++)
                if (!strstr(pos, c->words[i]))
                        fail_msg("%s: '%s' does not mention '%s'", strerrorname_np(c->error) ?: "0", pos,
                                 c->words[i]);
        /* Specific, not the libc text. */
        if (c->error != 0)
                assert_string_not_equal(pos, strerror(c->error));
}

/* Every documented errno has its own text (EPERM/EACCES and ENODEV/ENXIO share one). */
static void test_strerror_distinct(void **state) {
        static const int errs[] = { EBUSY, ERANGE, ENOENT, ENOMEM, ENOSPC, EIO, EPERM, EINVAL, ENODEV, ETIMEDOUT };

        for (size_t i = 0; i < ELEMENTSOF(errs); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(errs); j++)
                        assert_string_not_equal(sriov_numvfs_strerror(errs[i]), sriov_numvfs_strerror(errs[j]));
}

/* Anything else is the libc text, sign ignored. */
static void test_strerror_other(void **state) {
        assert_string_equal(sriov_numvfs_strerror(EXDEV), strerror(EXDEV));
        assert_string_equal(sriov_numvfs_strerror(-EXDEV), strerror(EXDEV));
        assert_string_equal(sriov_numvfs_strerror(-EOPNOTSUPP), strerror(EOPNOTSUPP));
        assert_non_null(sriov_numvfs_strerror(100000));
        assert_non_null(sriov_numvfs_strerror(-100000));
}

/* --- sriov_settle_timeout_ms --- */

static void test_settle_timeout(void **state) {
        uint64_t prev = sriov_settle_timeout_ms(0);

        /* Never shorter than the time one VF needs on a slow driver. */
        assert_true(prev >= 5000);
        for (unsigned n = 1; n <= SRIOV_NUM_VFS_MAX; n++) {
                uint64_t t = sriov_settle_timeout_ms(n);
                if (t <= prev)
                        fail_msg("settle timeout does not grow: %u VFs %" PRIu64 " ms, %u VFs %" PRIu64 " ms",
                                 n - 1, prev, n, t);
                prev = t;
        }
        /* NetworkManager users measured 22 s for 64 VFs (i40e), over 60 s for 60+ (ixgbe). */
        assert_true(sriov_settle_timeout_ms(64) > 60000);
        /* No wrap-around at the largest count. */
        assert_true(sriov_settle_timeout_ms(SRIOV_NUM_VFS_MAX) > sriov_settle_timeout_ms(64));
        assert_true(sriov_settle_timeout_ms(UINT_MAX) > sriov_settle_timeout_ms(SRIOV_NUM_VFS_MAX));
}

/* --- sriov_report_build --- */

struct obs {
        unsigned index;
        const char *addr;
        const char *driver;
};

struct exp_vf {
        unsigned index;
        const char *addr;
        const char *driver;
        SriovVfState state;
};

struct report_case {
        const char *name;
        const char *known_bug;
        /* input */
        const char *pf;
        unsigned offset, stride;
        unsigned requested, previous;
        SriovPolicy policy;
        bool autoprobe;
        int write_error;
        unsigned failed_write_value;
        bool hung;
        uint64_t hung_ms;
        size_t n_observed;
        struct obs observed[8];
        /* expected */
        SriovOutcome outcome;
        unsigned enumerated, bound, usable;
        size_t n_vfs;
        struct exp_vf vfs[8];
        const char *message;
        const char *kernel_error_name;  /* kernel_error.name in the JSON, NULL: no kernel_error */
};

#define B SRIOV_VF_BOUND
#define U SRIOV_VF_UNBOUND
#define M SRIOV_VF_MISSING

static const struct report_case report_cases[] = {
        {
                .name = "all-bound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 4, .autoprobe = true,
                .n_observed = 4,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", "ixgbevf" },
                              { 2, "0000:01:10.4", "ixgbevf" }, { 3, "0000:01:10.6", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 4, .bound = 4, .usable = 4, .n_vfs = 4,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", "ixgbevf", B },
                         { 2, "0000:01:10.4", "ixgbevf", B }, { 3, "0000:01:10.6", "ixgbevf", B } },
                .message = "4 of 4 VFs usable",
        },
        {
                /* The observed list comes in any order; the report is by index. */
                .name = "all-bound-observed-reversed",
                .pf = "0000:3b:00.0", .offset = 16, .stride = 1, .requested = 3, .autoprobe = true,
                .n_observed = 3,
                .observed = { { 2, "0000:3b:02.2", "iavf" }, { 1, "0000:3b:02.1", "iavf" },
                              { 0, "0000:3b:02.0", "iavf" } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 3, .bound = 3, .usable = 3, .n_vfs = 3,
                .vfs = { { 0, "0000:3b:02.0", "iavf", B }, { 1, "0000:3b:02.1", "iavf", B },
                         { 2, "0000:3b:02.2", "iavf", B } },
                .message = "3 of 3 VFs usable",
        },
        {
                .name = "autoprobe-some-unbound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 5, .autoprobe = true,
                .n_observed = 5,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", "ixgbevf" },
                              { 2, "0000:01:10.4", "ixgbevf" }, { 3, "0000:01:10.6", NULL },
                              { 4, "0000:01:11.0", NULL } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 5, .bound = 3, .usable = 3, .n_vfs = 5,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", "ixgbevf", B },
                         { 2, "0000:01:10.4", "ixgbevf", B }, { 3, "0000:01:10.6", NULL, U },
                         { 4, "0000:01:11.0", NULL, U } },
                .message = "3 of 5 VFs usable: VF 3, 4 have no driver (probe failed)",
        },
        {
                .name = "autoprobe-one-unbound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", NULL }, { 1, "0000:01:10.2", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 2, .bound = 1, .usable = 1, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", NULL, U }, { 1, "0000:01:10.2", "ixgbevf", B } },
                .message = "1 of 2 VFs usable: VF 0 has no driver (probe failed)",
        },
        {
                /* Enumerated but nothing usable is partial: the VFs exist (sriov-enable.h). */
                .name = "autoprobe-one-of-one-unbound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 1, .autoprobe = true,
                .n_observed = 1,
                .observed = { { 0, "0000:01:10.0", NULL } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 1, .bound = 0, .usable = 0, .n_vfs = 1,
                .vfs = { { 0, "0000:01:10.0", NULL, U } },
                .message = "0 of 1 VFs usable: VF 0 has no driver (probe failed)",
        },
        {
                .name = "autoprobe-all-unbound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 3, .autoprobe = true,
                .n_observed = 3,
                .observed = { { 0, "0000:01:10.0", NULL }, { 1, "0000:01:10.2", NULL }, { 2, "0000:01:10.4", NULL } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 3, .bound = 0, .usable = 0, .n_vfs = 3,
                .vfs = { { 0, "0000:01:10.0", NULL, U }, { 1, "0000:01:10.2", NULL, U }, { 2, "0000:01:10.4", NULL, U } },
                .message = "0 of 3 VFs usable: VF 0, 1, 2 have no driver (probe failed)",
        },
        {
                .name = "autoprobe-off-all-unbound",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 4, .autoprobe = false,
                .n_observed = 4,
                .observed = { { 0, "0000:01:10.0", NULL }, { 1, "0000:01:10.2", NULL },
                              { 2, "0000:01:10.4", NULL }, { 3, "0000:01:10.6", NULL } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 4, .bound = 0, .usable = 4, .n_vfs = 4,
                .vfs = { { 0, "0000:01:10.0", NULL, U }, { 1, "0000:01:10.2", NULL, U },
                         { 2, "0000:01:10.4", NULL, U }, { 3, "0000:01:10.6", NULL, U } },
                .message = "4 of 4 VFs enabled (drivers autoprobe off)",
        },
        {
                /* Autoprobe off, yet something bound one (a udev rule, driver_override). */
                .name = "autoprobe-off-mixed",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = false,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "vfio-pci" }, { 1, "0000:01:10.2", NULL } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 2, .bound = 1, .usable = 2, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", "vfio-pci", B }, { 1, "0000:01:10.2", NULL, U } },
                .message = "2 of 2 VFs enabled (drivers autoprobe off)",
        },
        {
                .name = "fewer-enumerated-stride-2",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 4, .autoprobe = true,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 2, .bound = 2, .usable = 2, .n_vfs = 4,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", "ixgbevf", B },
                         { 2, "0000:01:10.4", NULL, M }, { 3, "0000:01:10.6", NULL, M } },
                .message = "2 of 4 VFs usable: VF 2, 3 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                /* VFs past devfn 0xff land on the next bus (RID arithmetic). */
                .name = "missing-across-bus",
                .pf = "0000:01:00.0", .offset = 254, .stride = 1, .requested = 4, .autoprobe = true,
                .n_observed = 1,
                .observed = { { 0, "0000:01:1f.6", "iavf" } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 1, .bound = 1, .usable = 1, .n_vfs = 4,
                .vfs = { { 0, "0000:01:1f.6", "iavf", B }, { 1, "0000:01:1f.7", NULL, M },
                         { 2, "0000:02:00.0", NULL, M }, { 3, "0000:02:00.1", NULL, M } },
                .message = "1 of 4 VFs usable: VF 1, 2, 3 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                .name = "missing-stride-2-across-bus-domain",
                .pf = "10000:e1:00.1", .offset = 255, .stride = 2, .requested = 3, .autoprobe = true,
                .n_observed = 0,
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 0, .bound = 0, .usable = 0, .n_vfs = 3,
                .vfs = { { 0, "10000:e2:00.0", NULL, M }, { 1, "10000:e2:00.2", NULL, M },
                         { 2, "10000:e2:00.4", NULL, M } },
                .message = "0 of 3 VFs usable: VF 0, 1, 2 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                .name = "unbound-and-missing",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 4, .autoprobe = true,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", NULL } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 2, .bound = 1, .usable = 1, .n_vfs = 4,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", NULL, U },
                         { 2, "0000:01:10.4", NULL, M }, { 3, "0000:01:10.6", NULL, M } },
                .message = "1 of 4 VFs usable: VF 1 has no driver (probe failed); "
                           "VF 2, 3 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                .name = "autoprobe-off-missing",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 3, .autoprobe = false,
                .n_observed = 1,
                .observed = { { 0, "0000:01:10.0", NULL } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 1, .bound = 0, .usable = 1, .n_vfs = 3,
                .vfs = { { 0, "0000:01:10.0", NULL, U }, { 1, "0000:01:10.2", NULL, M },
                         { 2, "0000:01:10.4", NULL, M } },
                .message = "1 of 3 VFs enabled (drivers autoprobe off): VF 1, 2 never appeared "
                           "(the PF driver enabled fewer than asked)",
        },
        {
                /* The kernel's silent case: the write succeeded, nothing came up. */
                .name = "none-enumerated",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 0, .bound = 0, .usable = 0, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", NULL, M }, { 1, "0000:01:10.2", NULL, M } },
                .message = "0 of 2 VFs usable: VF 0, 1 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                .name = "write-error-erange",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .write_error = -ERANGE, .failed_write_value = 2,
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 0, .bound = 0, .usable = 0, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", NULL, M }, { 1, "0000:01:10.2", NULL, M } },
                .message = "the kernel refused 2 VFs (ERANGE): more VFs than the PF supports (sriov_totalvfs)",
                .kernel_error_name = "ERANGE",
        },
        {
                /* A positive errno is taken as well; the previous VFs are still there. */
                .name = "write-error-ebusy-positive",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 3, .previous = 2,
                .autoprobe = true, .write_error = EBUSY, .failed_write_value = 3,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 2, .bound = 2, .usable = 2, .n_vfs = 3,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", "ixgbevf", B },
                         { 2, "0000:01:10.4", NULL, M } },
                .message = "the kernel refused 3 VFs (EBUSY): VFs are already enabled; the kernel changes the "
                           "count only from 0 (someone else changed it meanwhile, or VFs are still in use)",
                .kernel_error_name = "EBUSY",
        },
        {
                .name = "write-error-enomem",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 1, .autoprobe = true,
                .write_error = -ENOMEM, .failed_write_value = 1,
                .outcome = SRIOV_OUTCOME_FAILED, .n_vfs = 1,
                .vfs = { { 0, "0000:01:10.0", NULL, M } },
                .message = "the kernel refused 1 VFs (ENOMEM): not enough MMIO space or bus numbers for the VFs: "
                           "boot with pci=realloc or enable SR-IOV in the BIOS",
                .kernel_error_name = "ENOMEM",
        },
        {
                .name = "hung",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .hung = true, .hung_ms = 30000, .failed_write_value = 2,
                .outcome = SRIOV_OUTCOME_FAILED, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", NULL, M }, { 1, "0000:01:10.2", NULL, M } },
                .message = "writing 2 to sriov_numvfs has not returned after 30000 ms: hung in the kernel; "
                           "the PF stays locked until it returns",
        },
        {
                /* Hung although every VF is there: still failed, the write has not returned. */
                .name = "hung-all-present",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 1, .autoprobe = true,
                .hung = true, .hung_ms = 125, .failed_write_value = 1,
                .n_observed = 1, .observed = { { 0, "0000:01:10.0", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 1, .bound = 1, .usable = 1, .n_vfs = 1,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B } },
                .message = "writing 1 to sriov_numvfs has not returned after 125 ms: hung in the kernel; "
                           "the PF stays locked until it returns",
        },
        {
                .name = "disable-complete",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 0, .previous = 4, .autoprobe = true,
                .outcome = SRIOV_OUTCOME_COMPLETE, .n_vfs = 0,
                .message = "VFs disabled",
        },
        {
                .name = "disable-vfs-left",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 0, .previous = 4, .autoprobe = true,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", NULL } },
                .outcome = SRIOV_OUTCOME_FAILED, .enumerated = 2, .bound = 1, .usable = 0, .n_vfs = 2,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", NULL, U } },
                .message = "2 VFs still present after disabling",
        },
        {
                .name = "extra-vfs-reported",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .n_observed = 4,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 1, "0000:01:10.2", "ixgbevf" },
                              { 2, "0000:01:10.4", "ixgbevf" }, { 3, "0000:01:10.6", NULL } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 4, .bound = 3, .usable = 2, .n_vfs = 4,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", "ixgbevf", B },
                         { 2, "0000:01:10.4", "ixgbevf", B }, { 3, "0000:01:10.6", NULL, U } },
                /* Complete, and the extra VF without a driver is still named. */
                .message = "2 of 2 VFs usable: VF 3 has no driver (probe failed)",
        },
        {
                /* Extras do not make up for a missing requested VF. */
                .name = "extra-but-requested-missing",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 2, .autoprobe = true,
                .n_observed = 2,
                .observed = { { 0, "0000:01:10.0", "ixgbevf" }, { 5, "0000:01:11.2", "ixgbevf" } },
                .outcome = SRIOV_OUTCOME_PARTIAL, .enumerated = 2, .bound = 2, .usable = 1, .n_vfs = 3,
                .vfs = { { 0, "0000:01:10.0", "ixgbevf", B }, { 1, "0000:01:10.2", NULL, M },
                         { 5, "0000:01:11.2", "ixgbevf", B } },
                .message = "1 of 2 VFs usable: VF 1 never appeared (the PF driver enabled fewer than asked)",
        },
        {
                .name = "one-requested-unbound-autoprobe-off",
                .pf = "0000:01:00.0", .offset = 128, .stride = 2, .requested = 1, .autoprobe = false,
                .n_observed = 1,
                .observed = { { 0, "0000:01:10.0", NULL } },
                .outcome = SRIOV_OUTCOME_COMPLETE, .enumerated = 1, .bound = 0, .usable = 1, .n_vfs = 1,
                .vfs = { { 0, "0000:01:10.0", NULL, U } },
                .message = "1 of 1 VFs enabled (drivers autoprobe off)",
        },
};

static void check_keys(json_object *o, const char *const *keys) {
        size_t n = 0, have = 0;

        for (; keys[n]; n++)
                if (!json_object_object_get_ex(o, keys[n], NULL))
                        fail_msg("JSON lacks '%s': %s", keys[n], json_object_to_json_string(o));
        json_object_object_foreach(o, k, v) {
                (void) v;
                bool known = false;
                for (size_t i = 0; keys[i]; i++)
                        known = known || streq(keys[i], k);
                if (!known)
                        fail_msg("unexpected JSON member '%s'", k);
                have++;
        }
        assert_int_equal(have, n);
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("JSON lacks '%s'", key);
        return v;
}

static void build_input(const struct report_case *c, struct sriov_vf_observed *obs, struct sriov_report_input *in) {
        for (size_t i = 0; i < c->n_observed; i++)
                obs[i] = (struct sriov_vf_observed) {
                        .index = c->observed[i].index,
                        .addr = addr(c->observed[i].addr),
                        .driver = c->observed[i].driver,
                };
        *in = (struct sriov_report_input) {
                .pf = addr(c->pf),
                .offset = c->offset,
                .stride = c->stride,
                .requested = c->requested,
                .previous = c->previous,
                .policy = c->policy,
                .autoprobe = c->autoprobe,
                .elapsed_ms = 1234,
                .write_error = c->write_error,
                .failed_write_value = c->failed_write_value,
                .hung = c->hung,
                .hung_ms = c->hung_ms,
                .n_observed = c->n_observed,
                .observed = obs,
        };
}

static void test_report(void **state) {
        const struct report_case *c = *state;
        struct sriov_vf_observed obs[8];
        struct sriov_report_input in;
        struct sriov_report r;
        _cleanup_json_ json_object *j = NULL;
        json_object *vfs;

        known_bug(c->known_bug);
        build_input(c, obs, &in);
        assert_int_equal(sriov_report_build(&in, &r), 0);

        assert_true(sriov_addr_equal(&r.pf, &in.pf));
        assert_int_equal(r.requested, c->requested);
        assert_int_equal(r.previous, c->previous);
        assert_string_equal(sriov_outcome_to_string(r.outcome), sriov_outcome_to_string(c->outcome));
        assert_int_equal(r.enumerated, c->enumerated);
        assert_int_equal(r.bound, c->bound);
        assert_int_equal(r.usable, c->usable);
        assert_int_equal(r.write_error, abs(c->write_error));
        assert_int_equal(r.hung, c->hung);
        assert_false(r.rolled_back);
        assert_int_equal(r.final_num_vfs, c->enumerated);
        assert_non_null(r.message);
        assert_string_equal(r.message, c->message);
        assert_int_equal(r.n_vfs, c->n_vfs);
        for (size_t i = 0; i < c->n_vfs; i++) {
                const struct exp_vf *e = &c->vfs[i];
                assert_int_equal(r.vfs[i].index, e->index);
                assert_string_equal(SRIOV_ADDR_STR(&r.vfs[i].addr), e->addr);
                if (e->driver)
                        assert_string_equal(r.vfs[i].driver, e->driver);
                else
                        assert_null(r.vfs[i].driver);
                assert_string_equal(sriov_vf_state_to_string(r.vfs[i].state), sriov_vf_state_to_string(e->state));
        }
        /* The driver names are copies, not the caller's strings. */
        for (size_t i = 0; i < c->n_vfs; i++)
                for (size_t k = 0; k < c->n_observed; k++)
                        if (r.vfs[i].driver)
                                assert_ptr_not_equal(r.vfs[i].driver, c->observed[k].driver);

        j = sriov_report_to_json(&r);
        assert_non_null(j);
        {
                static const char *const base[] = {
                        "pf", "outcome", "message", "requested", "previous", "policy", "drivers_autoprobe",
                        "enumerated", "bound", "usable", "elapsed_ms", "hung", "rolled_back", "final_num_vfs",
                        "vfs", "settled_by", "unsignalled_vfs", NULL, NULL, NULL,
                };
                const char *keys[ELEMENTSOF(base)];
                size_t n = ELEMENTSOF(base) - 3;
                memcpy(keys, base, sizeof(base));
                if (c->kernel_error_name)
                        keys[n++] = "kernel_error";
                if (c->hung)
                        keys[n++] = "hung_ms";
                check_keys(j, keys);
        }
        assert_string_equal(json_object_get_string(get(j, "pf")), c->pf);
        assert_string_equal(json_object_get_string(get(j, "outcome")), sriov_outcome_to_string(c->outcome));
        assert_string_equal(json_object_get_string(get(j, "message")), c->message);
        assert_string_equal(json_object_get_string(get(j, "policy")), sriov_policy_to_string(c->policy));
        assert_int_equal(json_object_get_boolean(get(j, "drivers_autoprobe")), c->autoprobe);
        assert_int_equal(json_object_get_int64(get(j, "requested")), c->requested);
        assert_int_equal(json_object_get_int64(get(j, "enumerated")), c->enumerated);
        assert_int_equal(json_object_get_int64(get(j, "bound")), c->bound);
        assert_int_equal(json_object_get_int64(get(j, "usable")), c->usable);
        assert_int_equal(json_object_get_int64(get(j, "elapsed_ms")), 1234);
        assert_int_equal(json_object_get_boolean(get(j, "hung")), c->hung);
        assert_false(json_object_get_boolean(get(j, "rolled_back")));
        if (c->hung)
                assert_int_equal(json_object_get_int64(get(j, "hung_ms")), c->hung_ms);
        if (c->kernel_error_name) {
                json_object *e = get(j, "kernel_error");
                static const char *const ekeys[] = { "errno", "name", "message", "value", NULL };
                check_keys(e, ekeys);
                assert_int_equal(json_object_get_int(get(e, "errno")), abs(c->write_error));
                assert_string_equal(json_object_get_string(get(e, "name")), c->kernel_error_name);
                assert_string_equal(json_object_get_string(get(e, "message")), sriov_numvfs_strerror(c->write_error));
                assert_int_equal(json_object_get_int64(get(e, "value")), c->failed_write_value);
        }
        vfs = get(j, "vfs");
        assert_true(json_object_is_type(vfs, json_type_array));
        assert_int_equal(json_object_array_length(vfs), c->n_vfs);
        for (size_t i = 0; i < c->n_vfs; i++) {
                static const char *const vkeys[] = { "index", "address", "driver", "state", NULL };
                json_object *v = json_object_array_get_idx(vfs, i), *d;
                check_keys(v, vkeys);
                assert_int_equal(json_object_get_int64(get(v, "index")), c->vfs[i].index);
                assert_string_equal(json_object_get_string(get(v, "address")), c->vfs[i].addr);
                assert_string_equal(json_object_get_string(get(v, "state")), sriov_vf_state_to_string(c->vfs[i].state));
                d = get(v, "driver");
                if (c->vfs[i].driver)
                        assert_string_equal(json_object_get_string(d), c->vfs[i].driver);
                else
                        assert_null(d);         /* JSON null, present */
        }
        sriov_report_done(&r);
        assert_null(r.vfs);
        assert_null(r.message);
        assert_int_equal(r.n_vfs, 0);
}

/* A missing VF whose address would leave the bus range has no address. The report
 * gives it 0000:00:00.0 - that must at least not be the PF's or another VF's address. */
static void test_report_missing_out_of_range(void **state) {
        const struct sriov_vf_observed obs[] = { { 0, { 0, 0xff, 0x1f, 7 }, "iavf" } };
        struct sriov_report_input in = {
                .pf = { 0, 0xff, 0, 0 }, .offset = 0xff, .stride = 1, .requested = 2,
                .autoprobe = true, .n_observed = 1, .observed = obs,
        };
        struct sriov_report r;

        assert_int_equal(sriov_report_build(&in, &r), 0);
        assert_int_equal(r.n_vfs, 2);
        assert_int_equal(r.vfs[1].index, 1);
        assert_int_equal(r.vfs[1].state, SRIOV_VF_MISSING);
        assert_false(sriov_addr_equal(&r.vfs[1].addr, &in.pf));
        assert_false(sriov_addr_equal(&r.vfs[1].addr, &obs[0].addr));
        assert_int_equal(r.outcome, SRIOV_OUTCOME_PARTIAL);
        sriov_report_done(&r);
}

/* A long list of indices is cut, the message stays one terminated line. */
static void test_report_long_message(void **state) {
        struct sriov_report_input in = {
                .pf = { 0, 0x01, 0, 0 }, .offset = 1, .stride = 1, .requested = 2000, .autoprobe = true,
        };
        struct sriov_report r;

        assert_int_equal(sriov_report_build(&in, &r), 0);
        assert_int_equal(r.n_vfs, 2000);
        assert_int_equal(r.outcome, SRIOV_OUTCOME_FAILED);
        assert_true(strneq(r.message, "0 of 2000 VFs usable: VF 0, 1, 2, ", 34));
        assert_true(strlen(r.message) < 1024);
        assert_null(strchr(r.message, '\n'));
        sriov_report_done(&r);
}

/* --- sriov_report_set_rollback --- */

struct rollback_case {
        const char *name;
        int error;
        unsigned previous, final;
        const char *message;
        int rollback_errno;             /* in the JSON, 0: absent */
};

#define PARTIAL_2_OF_4 "2 of 4 VFs usable: VF 2, 3 never appeared (the PF driver enabled fewer than asked)"

static const struct rollback_case rollback_cases[] = {
        { "to-0", 0, 0, 0, PARTIAL_2_OF_4 "; all-or-nothing: rolled back to 0 VFs" },
        { "to-previous", 0, 1, 1, PARTIAL_2_OF_4 "; all-or-nothing: rolled back to 1 VFs" },
        { "failed-ebusy", -EBUSY, 0, 2,
          PARTIAL_2_OF_4 "; all-or-nothing rollback FAILED (VFs are already enabled; the kernel changes the "
                         "count only from 0 (someone else changed it meanwhile, or VFs are still in use)), 2 VFs remain",
          EBUSY },
        { "failed-eio-positive", EIO, 0, 0,
          PARTIAL_2_OF_4 "; all-or-nothing rollback FAILED (the device failed to enable SR-IOV (I/O error; check "
                         "dmesg and AER status)), 0 VFs remain",
          EIO },
};

static void test_rollback(void **state) {
        const struct rollback_case *c = *state;
        const struct sriov_vf_observed obs[] = {
                { 0, { 0, 1, 0x10, 0 }, "ixgbevf" },
                { 1, { 0, 1, 0x10, 2 }, "ixgbevf" },
        };
        struct sriov_report_input in = {
                .pf = { 0, 1, 0, 0 }, .offset = 128, .stride = 2, .requested = 4, .previous = c->previous,
                .policy = SRIOV_POLICY_ALL_OR_NOTHING, .autoprobe = true, .n_observed = 2, .observed = obs,
        };
        _cleanup_json_ json_object *j = NULL;
        struct sriov_report r;

        assert_int_equal(sriov_report_build(&in, &r), 0);
        assert_int_equal(r.outcome, SRIOV_OUTCOME_PARTIAL);
        assert_string_equal(r.message, PARTIAL_2_OF_4);

        sriov_report_set_rollback(&r, c->error, c->final);
        assert_int_equal(r.outcome, SRIOV_OUTCOME_FAILED);
        assert_true(r.rolled_back);
        assert_int_equal(r.rollback_error, abs(c->error));
        assert_int_equal(r.final_num_vfs, c->final);
        assert_string_equal(r.message, c->message);

        /* Setting it again rebuilds the message instead of appending twice. */
        sriov_report_set_rollback(&r, c->error, c->final);
        assert_string_equal(r.message, c->message);

        j = sriov_report_to_json(&r);
        assert_string_equal(json_object_get_string(get(j, "outcome")), "failed");
        assert_string_equal(json_object_get_string(get(j, "policy")), "all-or-nothing");
        assert_true(json_object_get_boolean(get(j, "rolled_back")));
        assert_int_equal(json_object_get_int64(get(j, "final_num_vfs")), c->final);
        assert_string_equal(json_object_get_string(get(j, "message")), c->message);
        if (c->rollback_errno)
                assert_int_equal(json_object_get_int(get(j, "rollback_errno")), c->rollback_errno);
        else
                assert_false(json_object_object_get_ex(j, "rollback_errno", NULL));
        sriov_report_done(&r);
}

/* How the operation knew it had settled, as the report says it. */
struct settle_case {
        const char *name;
        SriovSettle settled_by;
        unsigned unsignalled_in;
        /* expected */
        const char *settled_by_json;
        unsigned unsignalled;
        int64_t quiet_window_ms;        /* -1: no such member */
};

static const struct settle_case settle_cases[] = {
        { "kernel", SRIOV_SETTLE_KERNEL, 3, "kernel", 0, -1 },
        { "quiet-window", SRIOV_SETTLE_QUIET_WINDOW, 2, "quiet-window", 2, 2000 },
        { "quiet-window-nothing-untold", SRIOV_SETTLE_QUIET_WINDOW, 0, "quiet-window", 0, 2000 },
        { "deadline", SRIOV_SETTLE_DEADLINE, 4, "deadline", 4, -1 },
        { "not-settled", SRIOV_SETTLE_NONE, 0, "none", 0, -1 },
};

static void test_report_settle(void **state) {
        const struct settle_case *c = *state;
        struct sriov_vf_observed obs[8];
        struct sriov_report_input in;
        struct sriov_report r;
        _cleanup_json_ json_object *j = NULL;
        json_object *q;

        build_input(&report_cases[0], obs, &in);
        in.settled_by = c->settled_by;
        in.unsignalled_vfs = c->unsignalled_in;
        in.quiet_window_ms = 2000;
        assert_int_equal(sriov_report_build(&in, &r), 0);
        assert_int_equal(r.settled_by, c->settled_by);
        assert_int_equal(r.unsignalled_vfs, c->unsignalled);
        j = sriov_report_to_json(&r);
        assert_string_equal(json_object_get_string(get(j, "settled_by")), c->settled_by_json);
        assert_int_equal(json_object_get_int64(get(j, "unsignalled_vfs")), c->unsignalled);
        if (c->quiet_window_ms < 0)
                assert_false(json_object_object_get_ex(j, "quiet_window_ms", &q));
        else
                assert_int_equal(json_object_get_int64(get(j, "quiet_window_ms")), c->quiet_window_ms);
        sriov_report_done(&r);
}

static void test_report_done(void **state) {
        struct sriov_report r = {};

        sriov_report_done(NULL);
        sriov_report_done(&r);
        sriov_report_done(&r);
}

static void test_names(void **state) {
        assert_string_equal(sriov_policy_to_string(SRIOV_POLICY_BEST_EFFORT), "best-effort");
        assert_string_equal(sriov_policy_to_string(SRIOV_POLICY_ALL_OR_NOTHING), "all-or-nothing");
        assert_null(sriov_policy_to_string(_SRIOV_POLICY_MAX));
        assert_null(sriov_policy_to_string(_SRIOV_POLICY_INVALID));
        assert_int_equal(sriov_policy_from_string("best-effort"), SRIOV_POLICY_BEST_EFFORT);
        assert_int_equal(sriov_policy_from_string("all-or-nothing"), SRIOV_POLICY_ALL_OR_NOTHING);
        assert_int_equal(sriov_policy_from_string("all_or_nothing"), -EINVAL);
        assert_int_equal(sriov_policy_from_string(NULL), -EINVAL);
        assert_string_equal(sriov_outcome_to_string(SRIOV_OUTCOME_COMPLETE), "complete");
        assert_string_equal(sriov_outcome_to_string(SRIOV_OUTCOME_PARTIAL), "partial");
        assert_string_equal(sriov_outcome_to_string(SRIOV_OUTCOME_FAILED), "failed");
        assert_null(sriov_outcome_to_string(_SRIOV_OUTCOME_MAX));
        assert_string_equal(sriov_vf_state_to_string(SRIOV_VF_BOUND), "bound");
        assert_string_equal(sriov_vf_state_to_string(SRIOV_VF_UNBOUND), "unbound");
        assert_string_equal(sriov_vf_state_to_string(SRIOV_VF_MISSING), "missing");
        assert_null(sriov_vf_state_to_string(_SRIOV_VF_STATE_MAX));
        assert_string_equal(sriov_settle_to_string(SRIOV_SETTLE_KERNEL), "kernel");
        assert_string_equal(sriov_settle_to_string(SRIOV_SETTLE_QUIET_WINDOW), "quiet-window");
        assert_null(sriov_settle_to_string(_SRIOV_SETTLE_MAX));
        assert_null(sriov_settle_to_string(_SRIOV_SETTLE_INVALID));
        assert_true(sriov_driver_bind_is_outcome("igbvf"));
        assert_true(sriov_driver_bind_is_outcome("vfio-pci"));
        assert_true(sriov_driver_bind_is_outcome("nvme-fc"));
        assert_false(sriov_driver_bind_is_outcome("nvme"));
        assert_false(sriov_driver_bind_is_outcome(NULL));
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(request_cases); i++)
                unit_add(&t, test_request, (void *) &request_cases[i], "request/%s", request_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(validate_cases); i++)
                unit_add(&t, test_validate, (void *) &validate_cases[i], "validate/%s", validate_cases[i].name);
        unit_add(&t, test_validate_short_buffer, NULL, "validate/short-buffer");
        for (size_t i = 0; i < ELEMENTSOF(strerror_cases); i++)
                unit_add(&t, test_strerror, (void *) &strerror_cases[i], "strerror/%s",
                         strerror_cases[i].error ? strerrorname_np(strerror_cases[i].error) : "0");
        unit_add(&t, test_strerror_distinct, NULL, "strerror/distinct");
        unit_add(&t, test_strerror_other, NULL, "strerror/other");
        unit_add(&t, test_settle_timeout, NULL, "settle-timeout");
        for (size_t i = 0; i < ELEMENTSOF(report_cases); i++)
                unit_add(&t, test_report, (void *) &report_cases[i], "report/%s", report_cases[i].name);
        unit_add(&t, test_report_missing_out_of_range, NULL, "report/missing-out-of-range");
        unit_add(&t, test_report_long_message, NULL, "report/long-message");
        for (size_t i = 0; i < ELEMENTSOF(rollback_cases); i++)
                unit_add(&t, test_rollback, (void *) &rollback_cases[i], "rollback/%s", rollback_cases[i].name);
        for (size_t i = 0; i < ELEMENTSOF(settle_cases); i++)
                unit_add(&t, test_report_settle, (void *) &settle_cases[i], "report/settled-by-%s", settle_cases[i].name);
        unit_add(&t, test_report_done, NULL, "report/done");
        unit_add(&t, test_names, NULL, "names");

        return unit_run(&t, "enable");
}
