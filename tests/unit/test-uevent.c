/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "sriov-uevent.h"
#include "unit-test.h"

#define BEGIN SRIOV_ERROR_EVENT_BEGIN_RECOVERY
#define SUCCESS SRIOV_ERROR_EVENT_SUCCESSFUL_RECOVERY
#define FAILED SRIOV_ERROR_EVENT_FAILED_RECOVERY
#define NONE SRIOV_ERROR_EVENT_NONE

/* What kobject_uevent_env() puts in front of pci_uevent_ers()'s two variables. */
#define KERNEL_HEAD "ACTION=change", "DEVPATH=/devices/pci0000:00/0000:00:02.0/0000:01:00.0", \
                    "SUBSYSTEM=pci", "PCI_CLASS=10802", "PCI_ID=1B36:0010", "PCI_SLOT_NAME=0000:01:00.0"

struct parse_case {
        const char *name;
        const char *props[12];          /* NULL-terminated */
        int ret;
        SriovErrorEventKind kind;
        int online;
};

static char long_value[4096];
static char long_record[4096 + 32];

static const struct parse_case parse_cases[] = {
        /* The three the kernel sends (pci_uevent_ers). */
        { "kernel-begin", { KERNEL_HEAD, "ERROR_EVENT=BEGIN_RECOVERY", "DEVICE_ONLINE=0" }, 0, BEGIN, 0 },
        { "kernel-successful", { KERNEL_HEAD, "ERROR_EVENT=SUCCESSFUL_RECOVERY", "DEVICE_ONLINE=1" }, 0, SUCCESS, 1 },
        { "kernel-failed", { KERNEL_HEAD, "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=0" }, 0, FAILED, 0 },
        { "order-does-not-matter", { "DEVICE_ONLINE=0", "ERROR_EVENT=FAILED_RECOVERY", KERNEL_HEAD }, 0, FAILED, 0 },
        /* Not an error event at all. */
        { "no-properties", { NULL }, 0, NONE, -1 },
        { "plain-change", { KERNEL_HEAD }, 0, NONE, -1 },
        { "online-alone-ignored", { KERNEL_HEAD, "DEVICE_ONLINE=1" }, 0, NONE, -1 },
        { "online-alone-garbage-ignored", { KERNEL_HEAD, "DEVICE_ONLINE=yes" }, 0, NONE, -1 },
        { "key-lowercase-is-another-key", { "error_event=BEGIN_RECOVERY" }, 0, NONE, -1 },
        { "key-longer-is-another-key", { "ERROR_EVENTS=BEGIN_RECOVERY" }, 0, NONE, -1 },
        { "key-prefix-is-another-key", { "ERROR_EVEN=BEGIN_RECOVERY" }, 0, NONE, -1 },
        { "record-without-equals-skipped", { "change@/devices/x", "ERROR_EVENT=BEGIN_RECOVERY" }, 0, BEGIN, -1 },
        /* DEVICE_ONLINE is optional and its pairing with the kind is not checked. */
        { "no-online", { "ERROR_EVENT=BEGIN_RECOVERY" }, 0, BEGIN, -1 },
        { "odd-pairing-kept", { "ERROR_EVENT=BEGIN_RECOVERY", "DEVICE_ONLINE=1" }, 0, BEGIN, 1 },
        /* Hostile or mangled ERROR_EVENT: never a known kind. */
        { "value-empty", { "ERROR_EVENT=" }, -EBADMSG },
        { "value-lowercase", { "ERROR_EVENT=begin_recovery" }, -EBADMSG },
        { "value-mixed-case", { "ERROR_EVENT=Failed_Recovery" }, -EBADMSG },
        { "value-trailing-space", { "ERROR_EVENT=FAILED_RECOVERY " }, -EBADMSG },
        { "value-leading-space", { "ERROR_EVENT= FAILED_RECOVERY" }, -EBADMSG },
        { "value-trailing-newline", { "ERROR_EVENT=FAILED_RECOVERY\n" }, -EBADMSG },
        { "value-prefix", { "ERROR_EVENT=FAILED" }, -EBADMSG },
        { "value-extended", { "ERROR_EVENT=FAILED_RECOVERYX" }, -EBADMSG },
        { "value-unknown-future", { "ERROR_EVENT=PERMANENT_FAILURE", "DEVICE_ONLINE=0" }, -EBADMSG },
        { "value-none-is-not-a-kernel-value", { "ERROR_EVENT=none" }, -EBADMSG },
        { "value-NONE", { "ERROR_EVENT=NONE" }, -EBADMSG },
        { "value-over-long", { "ERROR_EVENT=" }, -EBADMSG },     /* value filled in at run time */
        { "value-duplicate", { "ERROR_EVENT=BEGIN_RECOVERY", "ERROR_EVENT=FAILED_RECOVERY" }, -EBADMSG },
        { "value-duplicate-same", { "ERROR_EVENT=BEGIN_RECOVERY", "ERROR_EVENT=BEGIN_RECOVERY" }, -EBADMSG },
        /* Hostile DEVICE_ONLINE spoils the event. */
        { "online-2", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=2" }, -EBADMSG },
        { "online-minus-1", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=-1" }, -EBADMSG },
        { "online-yes", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=yes" }, -EBADMSG },
        { "online-empty", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=" }, -EBADMSG },
        { "online-01", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=01" }, -EBADMSG },
        { "online-space", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=1 " }, -EBADMSG },
        { "online-duplicate", { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=0", "DEVICE_ONLINE=0" }, -EBADMSG },
};

static const struct sriov_error_event sentinel = { .kind = 77, .device_online = 42 };

static void check_result(const struct parse_case *c, int r, const struct sriov_error_event *ev) {
        assert_errno_equal(r, c->ret);
        if (c->ret < 0) {
                /* ret untouched on failure */
                assert_int_equal(ev->kind, sentinel.kind);
                assert_int_equal(ev->device_online, sentinel.device_online);
                return;
        }
        assert_int_equal(ev->kind, c->kind);
        assert_int_equal(ev->device_online, c->online);
}

/* The over-long case gets its value here: a 4 KiB value must not match by prefix. */
static const char *const *case_props(const struct parse_case *c, const char **buf) {
        size_t n = 0;

        for (; c->props[n]; n++)
                buf[n] = streq(c->name, "value-over-long") ? long_record : c->props[n];
        buf[n] = NULL;
        return buf;
}

static void test_parse_strv(void **state) {
        const struct parse_case *c = *state;
        struct sriov_error_event ev = sentinel;
        const char *buf[13];

        check_result(c, sriov_error_event_parse_strv(case_props(c, buf), &ev), &ev);
}

static const char *strv_get(const char *key, void *userdata) {
        const char *const *strv = userdata;
        size_t k = strlen(key);

        /* Like libudev: the last one of a key wins, so duplicates are invisible here. */
        const char *found = NULL;
        for (; *strv; strv++)
                if (strneq(*strv, key, k) && (*strv)[k] == '=')
                        found = *strv + k + 1;
        return found;
}

static void test_parse_get(void **state) {
        const struct parse_case *c = *state;
        struct sriov_error_event ev = sentinel;
        const char *buf[13];
        struct parse_case expect = *c;

        /* Through a lookup duplicates cannot be seen: the last value wins. */
        if (streq(c->name, "value-duplicate"))
                expect = (struct parse_case) { .ret = 0, .kind = FAILED, .online = -1 };
        else if (streq(c->name, "value-duplicate-same"))
                expect = (struct parse_case) { .ret = 0, .kind = BEGIN, .online = -1 };
        else if (streq(c->name, "online-duplicate"))
                expect = (struct parse_case) { .ret = 0, .kind = FAILED, .online = 0 };
        check_result(&expect, sriov_error_event_parse(strv_get, (void *) case_props(c, buf), &ev), &ev);
}

/* The same records as one netlink buffer: "change@DEVPATH\0KEY=VALUE\0...". */
static void test_parse_buffer(void **state) {
        const struct parse_case *c = *state;
        struct sriov_error_event ev = sentinel;
        const char *buf[13];
        char msg[16384];
        size_t len;

        len = (size_t) snprintf(msg, sizeof(msg), "change@/devices/pci0000:00/0000:00:02.0/0000:01:00.0") + 1;
        for (const char *const *p = case_props(c, buf); *p; p++) {
                size_t n = strlen(*p) + 1;
                assert_true(len + n <= sizeof(msg));
                memcpy(msg + len, *p, n);
                len += n;
        }
        check_result(c, sriov_error_event_parse_buffer(msg, len, &ev), &ev);
}

struct value_case {
        const char *name;
        const char *value;
        size_t len;
        int ret;
};

static const struct value_case value_cases[] = {
        { "exact", "BEGIN_RECOVERY", 14, BEGIN },
        { "exact-successful", "SUCCESSFUL_RECOVERY", 19, SUCCESS },
        { "exact-failed", "FAILED_RECOVERY", 15, FAILED },
        /* The length decides, not a NUL: */
        { "embedded-nul", "BEGIN_RECOVERY\0X", 16, -EBADMSG },
        { "embedded-nul-middle", "BEGIN\0RECOVERY", 14, -EBADMSG },
        { "nul-included", "BEGIN_RECOVERY", 15, -EBADMSG },
        { "not-terminated-prefix-of-longer", "FAILED_RECOVERYXYZ", 15, FAILED },
        { "short-length", "FAILED_RECOVERY", 6, -EBADMSG },
        { "zero-length", "FAILED_RECOVERY", 0, -EBADMSG },
        { "null", NULL, 0, -EBADMSG },
        { "none", "none", 4, -EBADMSG },
};

static void test_value(void **state) {
        const struct value_case *c = *state;
        assert_errno_equal(sriov_error_event_kind_from_value(c->value, c->len), c->ret);
}

static void test_buffer_edges(void **state) {
        struct sriov_error_event ev = sentinel;
        static const char last_without_nul[] = "change@/x\0ERROR_EVENT=FAILED_RECOVERY\0DEVICE_ONLINE=0";
        static const char cut[] = "change@/x\0ERROR_EVENT=FAILED_RECOVERY\0DEVICE_ONLINE=0";

        /* The last record may lack its NUL. */
        assert_errno_equal(sriov_error_event_parse_buffer(last_without_nul, sizeof(last_without_nul) - 1, &ev), 0);
        assert_int_equal(ev.kind, FAILED);
        assert_int_equal(ev.device_online, 0);

        /* A length that cuts the value short is a different value. */
        ev = sentinel;
        assert_errno_equal(sriov_error_event_parse_buffer(cut, strlen("change@/x") + 1 + strlen("ERROR_EVENT=FAILED"), &ev),
                           -EBADMSG);
        assert_int_equal(ev.kind, sentinel.kind);

        /* A length that ends before the properties: no error event. */
        assert_errno_equal(sriov_error_event_parse_buffer(cut, strlen("change@/x"), &ev), 0);
        assert_int_equal(ev.kind, NONE);

        assert_errno_equal(sriov_error_event_parse_buffer(NULL, 0, &ev), 0);
        assert_int_equal(ev.kind, NONE);
        assert_int_equal(ev.device_online, -1);
        assert_errno_equal(sriov_error_event_parse_buffer(NULL, 5, &ev), -EINVAL);
        assert_errno_equal(sriov_error_event_parse_buffer(cut, sizeof(cut), NULL), -EINVAL);
}

static void test_invalid_args(void **state) {
        struct sriov_error_event ev = sentinel;
        const char *strv[] = { NULL };

        assert_errno_equal(sriov_error_event_parse(NULL, NULL, &ev), -EINVAL);
        assert_errno_equal(sriov_error_event_parse(strv_get, strv, NULL), -EINVAL);
        assert_errno_equal(sriov_error_event_parse_strv(NULL, &ev), -EINVAL);
        assert_errno_equal(sriov_error_event_parse_strv(strv, NULL), -EINVAL);
        assert_int_equal(ev.kind, sentinel.kind);
}

static void test_strings(void **state) {
        static const struct {
                SriovErrorEventKind kind;
                const char *s;
        } table[] = {
                { NONE, "none" },
                { BEGIN, "BEGIN_RECOVERY" },
                { SUCCESS, "SUCCESSFUL_RECOVERY" },
                { FAILED, "FAILED_RECOVERY" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_string_equal(sriov_error_event_kind_to_string(table[i].kind), table[i].s);
                assert_int_equal(sriov_error_event_kind_from_string(table[i].s), table[i].kind);
        }
        assert_null(sriov_error_event_kind_to_string(_SRIOV_ERROR_EVENT_KIND_MAX));
        assert_null(sriov_error_event_kind_to_string(-1));
        assert_null(sriov_error_event_kind_to_string(_SRIOV_ERROR_EVENT_KIND_INVALID));
        assert_errno_equal(sriov_error_event_kind_from_string("begin_recovery"), -EINVAL);
        assert_errno_equal(sriov_error_event_kind_from_string("BEGIN_RECOVERY "), -EINVAL);
        assert_errno_equal(sriov_error_event_kind_from_string(""), -EINVAL);
        assert_errno_equal(sriov_error_event_kind_from_string(NULL), -EINVAL);
}

int main(void) {
        struct unit_tests l = {};

        memset(long_value, 'A', sizeof(long_value) - 1);
        memcpy(long_value, "FAILED_RECOVERY", 15);      /* a known prefix must not help */
        snprintf(long_record, sizeof(long_record), "ERROR_EVENT=%s", long_value);

        for (size_t i = 0; i < ELEMENTSOF(parse_cases); i++) {
                unit_add(&l, test_parse_strv, (void *) &parse_cases[i], "strv/%s", parse_cases[i].name);
                unit_add(&l, test_parse_get, (void *) &parse_cases[i], "get/%s", parse_cases[i].name);
                unit_add(&l, test_parse_buffer, (void *) &parse_cases[i], "buffer/%s", parse_cases[i].name);
        }
        for (size_t i = 0; i < ELEMENTSOF(value_cases); i++)
                unit_add(&l, test_value, (void *) &value_cases[i], "value/%s", value_cases[i].name);
        unit_add(&l, test_buffer_edges, NULL, "buffer-edges");
        unit_add(&l, test_invalid_args, NULL, "invalid-args");
        unit_add(&l, test_strings, NULL, "strings");
        return unit_run(&l, "uevent");
}
