/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <syslog.h>

#include "config.h"
#include "sriovd-options.h"
#include "unit-test.h"

#define LONG_107 "/run/" \
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"
_Static_assert(sizeof(LONG_107) - 1 == 107, "LONG_107");
#define LONG_108 LONG_107 "k"

/* Expected option values; NULL strings mean "the default" unless the matching *_null says
 * the field must be NULL. */
struct expect {
        const char *socket_path;
        const char *sysfs_root;
        const char *state_dir;
        const char *runtime_dir;
        const char *config_file;        /* NULL: unset */
        const char *admin_group;        /* NULL: unset */
        UeventSource uevent_source;
        int log_level;
        unsigned settle_quiet_ms;       /* 0: the default, 2000 */
        bool show_help;
        bool show_version;
};

struct options_case {
        const char *name;
        const char *argv[8];            /* after argv[0] */
        int ret;
        struct expect e;
};

#define DEFAULTS .uevent_source = UEVENT_SOURCE_AUTO, .log_level = LOG_INFO

static const struct options_case cases[] = {
        { "defaults", {}, 0, { DEFAULTS } },
        { "socket", { "--socket", "/tmp/s.sock" }, 0, { DEFAULTS, .socket_path = "/tmp/s.sock" } },
        { "socket-equals", { "--socket=/tmp/s.sock" }, 0, { DEFAULTS, .socket_path = "/tmp/s.sock" } },
        { "socket-107-bytes", { "--socket", LONG_107 }, 0, { DEFAULTS, .socket_path = LONG_107 } },
        { "sysfs-root", { "--sysfs-root", "/tmp/sys" }, 0, { DEFAULTS, .sysfs_root = "/tmp/sys" } },
        { "state-dir", { "--state-dir", "/tmp/state" }, 0, { DEFAULTS, .state_dir = "/tmp/state" } },
        { "runtime-dir", { "--runtime-dir", "/tmp/run" }, 0, { DEFAULTS, .runtime_dir = "/tmp/run" } },
        { "config", { "--config", "/tmp/sriovd.conf" }, 0, { DEFAULTS, .config_file = "/tmp/sriovd.conf" } },
        { "admin-group", { "--admin-group", "wheel" }, 0, { DEFAULTS, .admin_group = "wheel" } },
        { "uevent-source-udev", { "--uevent-source", "udev" }, 0,
          { .uevent_source = UEVENT_SOURCE_UDEV, .log_level = LOG_INFO } },
        { "uevent-source-kernel", { "--uevent-source=kernel" }, 0,
          { .uevent_source = UEVENT_SOURCE_KERNEL, .log_level = LOG_INFO } },
        { "uevent-source-auto", { "--uevent-source", "kernel", "--uevent-source", "auto" }, 0, { DEFAULTS } },
        { "log-level-debug", { "--log-level", "debug" }, 0, { .log_level = LOG_DEBUG } },
        { "log-level-notice", { "--log-level", "notice" }, 0, { .log_level = LOG_NOTICE } },
        { "log-level-warning", { "--log-level", "warning" }, 0, { .log_level = LOG_WARNING } },
        { "log-level-err", { "--log-level", "err" }, 0, { .log_level = LOG_ERR } },
        { "log-level-error", { "--log-level", "error" }, 0, { .log_level = LOG_ERR } },
        { "log-level-info", { "--log-level", "debug", "--log-level", "info" }, 0, { .log_level = LOG_INFO } },
        { "help-short", { "-h" }, 0, { DEFAULTS, .show_help = true } },
        { "help-long", { "--help" }, 0, { DEFAULTS, .show_help = true } },
        { "version", { "--version" }, 0, { DEFAULTS, .show_version = true } },
        { "all",
          { "--socket", "/a", "--sysfs-root=/b", "--state-dir", "/c", "--runtime-dir", "/d" }, 0,
          { DEFAULTS, .socket_path = "/a", .sysfs_root = "/b", .state_dir = "/c", .runtime_dir = "/d" } },
        { "settle-quiet-ms", { "--settle-quiet-ms", "500" }, 0, { DEFAULTS, .settle_quiet_ms = 500 } },
        { "settle-quiet-ms-min", { "--settle-quiet-ms=10" }, 0, { DEFAULTS, .settle_quiet_ms = 10 } },
        { "settle-quiet-ms-max", { "--settle-quiet-ms", "600000" }, 0, { DEFAULTS, .settle_quiet_ms = 600000 } },
        { "settle-quiet-ms-leading-zero", { "--settle-quiet-ms", "0100" }, 0, { DEFAULTS, .settle_quiet_ms = 100 } },
        { "repeated-last-wins", { "--socket", "/a", "--socket", "/b", "--admin-group", "x", "--admin-group", "y" },
          0, { DEFAULTS, .socket_path = "/b", .admin_group = "y" } },

        /* Bad input. */
        { "uevent-source-bad", { "--uevent-source", "netlink" }, -EINVAL },
        { "uevent-source-case", { "--uevent-source", "UDEV" }, -EINVAL },
        { "uevent-source-empty", { "--uevent-source", "" }, -EINVAL },
        { "log-level-bad", { "--log-level", "verbose" }, -EINVAL },
        { "log-level-number", { "--log-level", "7" }, -EINVAL },
        { "log-level-empty", { "--log-level=" }, -EINVAL },
        { "socket-empty", { "--socket", "" }, -EINVAL },
        { "socket-empty-equals", { "--socket=" }, -EINVAL },
        { "sysfs-root-empty", { "--sysfs-root", "" }, -EINVAL },
        { "state-dir-empty", { "--state-dir=" }, -EINVAL },
        { "runtime-dir-empty", { "--runtime-dir", "" }, -EINVAL },
        { "config-empty", { "--config", "" }, -EINVAL },
        { "admin-group-empty", { "--admin-group", "" }, -EINVAL },
        { "socket-missing-value", { "--socket" }, -EINVAL },
        { "unknown-long", { "--frobnicate" }, -EINVAL },
        { "unknown-short", { "-x" }, -EINVAL },
        { "help-with-value", { "--help=yes" }, -EINVAL },
        { "extra-positional", { "extra" }, -EINVAL },
        { "positional-after-flag", { "--socket", "/a", "extra" }, -EINVAL },
        { "positional-after-dashdash", { "--", "--socket" }, -EINVAL },
        { "settle-quiet-ms-below-min", { "--settle-quiet-ms", "9" }, -EINVAL },
        { "settle-quiet-ms-zero", { "--settle-quiet-ms", "0" }, -EINVAL },
        { "settle-quiet-ms-above-max", { "--settle-quiet-ms", "600001" }, -EINVAL },
        { "settle-quiet-ms-empty", { "--settle-quiet-ms=" }, -EINVAL },
        { "settle-quiet-ms-negative", { "--settle-quiet-ms", "-100" }, -EINVAL },
        { "settle-quiet-ms-plus", { "--settle-quiet-ms", "+100" }, -EINVAL },
        { "settle-quiet-ms-space", { "--settle-quiet-ms", " 100" }, -EINVAL },
        { "settle-quiet-ms-unit", { "--settle-quiet-ms", "100ms" }, -EINVAL },
        { "settle-quiet-ms-hex", { "--settle-quiet-ms", "0x100" }, -EINVAL },
        { "settle-quiet-ms-overflow", { "--settle-quiet-ms", "99999999999999999999999" }, -EINVAL },
        { "settle-quiet-ms-wraps-to-valid", { "--settle-quiet-ms", "18446744073709552616" }, -EINVAL },
        { "socket-108-bytes", { "--socket", LONG_108 }, -ENAMETOOLONG },
};

static void check_string(const char *field, const char *got, const char *expected) {
        if (!expected) {
                if (got)
                        fail_msg("%s: expected NULL, got '%s'", field, got);
                return;
        }
        if (!got)
                fail_msg("%s: expected '%s', got NULL", field, expected);
        assert_string_equal(got, expected);
}

static void test_parse(void **state) {
        const struct options_case *c = *state;
        struct sriovd_options o;
        char *argv[ELEMENTSOF(c->argv) + 2] = { (char *) "sriovd" };
        int argc = 1, r;

        /* getopt_long() permutes argv: hand it a fresh copy each time. */
        for (size_t i = 0; i < ELEMENTSOF(c->argv) && c->argv[i]; i++)
                argv[argc++] = (char *) c->argv[i];
        argv[argc] = NULL;

        r = sriovd_options_parse(&o, argc, argv);
        if (r < 0) {
                sriovd_options_done(&o);
                assert_errno_equal(r, c->ret);
                return;
        }
        assert_errno_equal(r, c->ret);

        check_string("socket_path", o.socket_path, c->e.socket_path ?: SRIOVD_DEFAULT_SOCKET);
        check_string("sysfs_root", o.sysfs_root, c->e.sysfs_root ?: "/sys");
        check_string("state_dir", o.state_dir, c->e.state_dir ?: SRIOVD_DEFAULT_STATE_DIR);
        check_string("runtime_dir", o.runtime_dir, c->e.runtime_dir ?: SRIOVD_DEFAULT_RUNTIME_DIR);
        check_string("config_file", o.config_file, c->e.config_file);
        check_string("admin_group", o.admin_group, c->e.admin_group);
        assert_int_equal(o.uevent_source, c->e.uevent_source);
        assert_int_equal(o.log_level, c->e.log_level);
        assert_int_equal(o.settle_quiet_ms, c->e.settle_quiet_ms ?: 2000);
        assert_int_equal(o.show_help, c->e.show_help);
        assert_int_equal(o.show_version, c->e.show_version);

        sriovd_options_done(&o);
        assert_null(o.socket_path);
        assert_null(o.sysfs_root);
}

/* Parsing twice in one process must start from scratch (getopt's optind is global). */
static void test_parse_twice(void **state) {
        struct sriovd_options o;
        char *a1[] = { (char *) "sriovd", (char *) "--socket", (char *) "/x", (char *) "--version", NULL };
        char *a2[] = { (char *) "sriovd", (char *) "--log-level", (char *) "debug", NULL };

        assert_int_equal(sriovd_options_parse(&o, 4, a1), 0);
        assert_string_equal(o.socket_path, "/x");
        sriovd_options_done(&o);
        assert_int_equal(sriovd_options_parse(&o, 3, a2), 0);
        assert_string_equal(o.socket_path, SRIOVD_DEFAULT_SOCKET);
        assert_false(o.show_version);
        assert_int_equal(o.log_level, LOG_DEBUG);
        sriovd_options_done(&o);
}

struct source_case {
        const char *name;
        const char *s;
        UeventSource v;
};

static const struct source_case source_cases[] = {
        { "auto", "auto", UEVENT_SOURCE_AUTO },
        { "udev", "udev", UEVENT_SOURCE_UDEV },
        { "kernel", "kernel", UEVENT_SOURCE_KERNEL },
        { "null", NULL, _UEVENT_SOURCE_INVALID },
        { "empty", "", _UEVENT_SOURCE_INVALID },
        { "prefix", "kern", _UEVENT_SOURCE_INVALID },
        { "trailing-space", "udev ", _UEVENT_SOURCE_INVALID },
};

static void test_source(void **state) {
        const struct source_case *c = *state;

        assert_int_equal(uevent_source_from_string(c->s), c->v);
        if (c->v >= 0)
                assert_string_equal(uevent_source_to_string(c->v), c->s);
}

static void test_source_to_string_invalid(void **state) {
        assert_null(uevent_source_to_string(_UEVENT_SOURCE_MAX));
        assert_null(uevent_source_to_string(_UEVENT_SOURCE_INVALID));
        assert_int_equal(uevent_source_resolve(UEVENT_SOURCE_UDEV), UEVENT_SOURCE_UDEV);
        assert_int_equal(uevent_source_resolve(UEVENT_SOURCE_KERNEL), UEVENT_SOURCE_KERNEL);
        assert_int_not_equal(uevent_source_resolve(UEVENT_SOURCE_AUTO), UEVENT_SOURCE_AUTO);
}

int main(void) {
        struct unit_tests t = {};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                unit_add(&t, test_parse, (void *) &cases[i], "parse/%s", cases[i].name);
        unit_add(&t, test_parse_twice, NULL, "parse/twice");
        for (size_t i = 0; i < ELEMENTSOF(source_cases); i++)
                unit_add(&t, test_source, (void *) &source_cases[i], "uevent-source/%s", source_cases[i].name);
        unit_add(&t, test_source_to_string_invalid, NULL, "uevent-source/invalid");

        return unit_run(&t, "options");
}
