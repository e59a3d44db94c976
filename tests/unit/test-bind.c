/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Driver binding (lib/sriov-bind.c) against a hand-built sysfs tree. The attributes are
 * plain files, so every write lands in a file and nothing reacts: the tests check what
 * was written where, and that verification notices that no driver took the device. Two
 * tests put a thread behind FIFO attributes that plays the kernel's part. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture-tree.h"
#include "sriov-bind.h"
#include "unit-test.h"

#define TEST_TIMEOUT_SEC 20
#define FN "0000:01:10.0"

static struct env {
        struct fixture_tree *ft;
        struct sriov_sysfs *sysfs;
        struct sriov_addr addr;
} E;

static void on_alarm(int sig) {
        static const char msg[] = "test-bind: timed out - a FIFO attribute was not opened as expected\n";
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(99);
}

static char *sys_path(const char *rel) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", fixture_tree_sysfs(E.ft), rel) >= 0);
        return p;
}

static void sys_write(const char *rel, const char *content) {
        _cleanup_free_ char *p = sys_path(rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0)
                fail_msg("%s: %s", p, strerror(errno));
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
}

static void sys_mkdir(const char *rel) {
        _cleanup_free_ char *p = sys_path(rel);

        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                fail_msg("%s: %s", p, strerror(errno));
}

static void sys_unlink(const char *rel) {
        _cleanup_free_ char *p = sys_path(rel);

        if (unlink(p) < 0)
                fail_msg("%s: %s", p, strerror(errno));
}

static void sys_mkfifo(const char *rel) {
        _cleanup_free_ char *p = sys_path(rel);

        (void) unlink(p);
        if (mkfifo(p, 0644) < 0)
                fail_msg("%s: %s", p, strerror(errno));
}

/* The content of a plain file; "<absent>" when there is none. */
static char *sys_read(const char *rel) {
        _cleanup_free_ char *p = sys_path(rel);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        char buf[256];
        ssize_t n;

        if (fd < 0)
                return strdup("<absent>");
        n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        return strdup(buf);
}

static void assert_file(const char *rel, const char *expected) {
        _cleanup_free_ char *got = sys_read(rel);

        if (!streq(got, expected))
                fail_msg("%s: '%s', expected '%s'", rel, got, expected);
}

static char *fn_attr(const char *name) {
        _cleanup_free_ char *dir = NULL;
        char *p;

        assert_int_equal(fixture_device_path(E.ft, FN, &dir), 0);
        assert_true(asprintf(&p, "%s/%s", dir, name) >= 0);
        return p;
}

/* A function with driver_override, the bus's drivers_probe, and three drivers whose
 * directories hold bind/unbind files; all empty. */
static int setup(void **state) {
        static const char *const drivers[] = { "vfio-pci", "pci-stub", "ixgbevf" };

        E = (struct env) {};
        if (fixture_tree_new(&E.ft) < 0)
                return -1;
        if (fixture_add_function(E.ft, NULL, FN, 0x8086, 0x10ed, 0x020000) < 0 ||
            fixture_set_attr(E.ft, FN, "driver_override", "") < 0)
                return -1;
        sys_write("bus/pci/drivers_probe", "");
        for (size_t i = 0; i < ELEMENTSOF(drivers); i++) {
                _cleanup_free_ char *d = NULL, *b = NULL, *u = NULL;
                if (asprintf(&d, "bus/pci/drivers/%s", drivers[i]) < 0 ||
                    asprintf(&b, "%s/bind", d) < 0 || asprintf(&u, "%s/unbind", d) < 0)
                        return -1;
                sys_mkdir(d);
                sys_write(b, "");
                sys_write(u, "");
        }
        if (sriov_addr_parse(FN, &E.addr) < 0 || sriov_sysfs_new(fixture_tree_sysfs(E.ft), &E.sysfs) < 0)
                return -1;
        alarm(TEST_TIMEOUT_SEC);
        return 0;
}

static int teardown(void **state) {
        alarm(0);
        E.sysfs = sriov_sysfs_free(E.sysfs);
        E.ft = fixture_tree_free(E.ft);
        return 0;
}

/* Fixture trees are many small files: on tmpfs they cost microseconds, on a VM's disk
 * milliseconds each. Prefer /dev/shm unless the caller chose a TMPDIR. */
static void prefer_tmpfs(void) {
        const char *t = getenv("TMPDIR");

        if ((!t || !*t) && access("/dev/shm", W_OK | X_OK) == 0)
                setenv("TMPDIR", "/dev/shm", 1);
}

/* --- sriov_driver_name_valid --- */

struct name_case {
        const char *name;
        const char *driver;
        bool valid;
};

static char name_64[65], name_65[66];

static const struct name_case name_cases[] = {
        { "vfio-pci", "vfio-pci", true },
        { "pci-stub", "pci-stub", true },
        { "ixgbevf", "ixgbevf", true },
        { "mlx5_core", "mlx5_core", true },
        { "mixed-case-digits", "Ab_9-z", true },
        { "one-char", "x", true },
        { "trailing-dash", "x-", true },
        { "leading-underscore", "_x", true },
        { "64-chars", name_64, true },
        { "empty", "", false },
        { "null", NULL, false },
        { "leading-dash", "-x", false },
        { "only-dash", "-", false },
        { "slash", "a/b", false },
        { "space", "a b", false },
        { "65-chars", name_65, false },
        { "dot-dot", "../x", false },
        { "dot", "vfio.pci", false },
        { "newline-inside", "vfio\npci", false },
        { "trailing-newline", "vfio-pci\n", false },
        { "tab", "vfio\tpci", false },
        { "non-ascii", "vfi\xc3\xb6", false },
        { "shell", "x;reboot", false },
        { "glob", "vfio*", false },
};

static void test_name(void **state) {
        const struct name_case *c = *state;

        assert_int_equal(sriov_driver_name_valid(c->driver), c->valid);
}

/* --- sriov_bind_driver with plain files --- */

enum {
        NO_OVERRIDE = 1 << 0,           /* driver_override missing (kernels < 3.16) */
        NO_PROBE = 1 << 1,              /* bus/pci/drivers_probe missing */
        NO_UNBIND = 1 << 2,             /* the current driver has no unbind file */
        NO_DEVICE = 1 << 3,             /* the function is not on the bus */
};

struct bind_case {
        const char *name;
        const char *initial;            /* driver bound before, NULL: none */
        const char *driver;
        unsigned flags;
        int ret;
        const char *step;               /* NULL: success */
        const char *driver_now;
        const char *override;           /* driver_override afterwards */
        const char *probe;              /* bus/pci/drivers_probe afterwards */
        const char *unbind;             /* the initial driver's unbind afterwards */
};

static const struct bind_case bind_cases[] = {
        /* Written in order, and verification finds no driver: nothing reacted. */
        { "unbound-to-vfio", NULL, "vfio-pci", 0, -EIO, "verify", "", "vfio-pci", FN },
        { "unbound-to-pci-stub", NULL, "pci-stub", 0, -EIO, "verify", "", "pci-stub", FN },
        { "ixgbevf-to-vfio", "ixgbevf", "vfio-pci", 0, -EIO, "verify", "ixgbevf", "vfio-pci", FN, FN },
        { "vfio-to-ixgbevf", "vfio-pci", "ixgbevf", 0, -EIO, "verify", "vfio-pci", "ixgbevf", FN, FN },
        /* Already there: nothing is written at all. */
        { "already-bound", "vfio-pci", "vfio-pci", 0, 0, NULL, "vfio-pci", "", "", "" },
        { "already-bound-no-override", "vfio-pci", "vfio-pci", NO_OVERRIDE | NO_PROBE, 0, NULL, "vfio-pci",
          "<absent>", "<absent>", "" },

        { "name-empty", NULL, "", 0, -EINVAL, "driver name", "", "", "" },
        { "name-null", NULL, NULL, 0, -EINVAL, "driver name", "", "", "" },
        { "name-dash", NULL, "-x", 0, -EINVAL, "driver name", "", "", "" },
        { "name-slash", NULL, "a/b", 0, -EINVAL, "driver name", "", "", "" },
        { "name-dot-dot", "ixgbevf", "../vfio-pci", 0, -EINVAL, "driver name", "", "", "", "" },
        { "name-newline", NULL, "vfio\npci", 0, -EINVAL, "driver name", "", "", "" },
        { "name-65", NULL, name_65, 0, -EINVAL, "driver name", "", "", "" },

        { "no-device", NULL, "vfio-pci", NO_DEVICE, -ENOENT, "open device", "", "<absent>", "" },
        { "no-driver-override", NULL, "vfio-pci", NO_OVERRIDE, -ENOENT, "driver_override", "", "<absent>", "" },
        /* The override is set before the unbind that fails. */
        { "no-unbind-file", "ixgbevf", "vfio-pci", NO_UNBIND, -ENOENT, "unbind", "ixgbevf", "vfio-pci", "",
          "<absent>" },
        { "no-drivers-probe", "ixgbevf", "vfio-pci", NO_PROBE, -ENOENT, "drivers_probe", "ixgbevf", "vfio-pci",
          "<absent>", FN },
};

static void prepare(const char *initial, unsigned flags) {
        if (initial)
                assert_int_equal(fixture_set_driver(E.ft, FN, initial), 0);
        if (flags & NO_OVERRIDE)
                assert_int_equal(fixture_remove(E.ft, FN, "driver_override"), 0);
        if (flags & NO_PROBE)
                sys_unlink("bus/pci/drivers_probe");
        if (flags & NO_UNBIND) {
                _cleanup_free_ char *u = NULL;
                assert_true(asprintf(&u, "bus/pci/drivers/%s/unbind", initial) >= 0);
                sys_unlink(u);
        }
        if (flags & NO_DEVICE)
                assert_int_equal(fixture_remove_function(E.ft, FN), 0);
}

static void assert_override(const char *expected) {
        _cleanup_free_ char *p = fn_attr("driver_override");
        _cleanup_close_ int fd = -EBADF;
        char buf[128];
        ssize_t n;

        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (!streq(expected, "<absent>"))
                        fail_msg("driver_override: absent, expected '%s'", expected);
                return;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        if (!streq(buf, expected))
                fail_msg("driver_override: '%s', expected '%s'", buf, expected);
}

static void test_bind(void **state) {
        const struct bind_case *c = *state;
        struct sriov_bind_result res;
        int r;

        prepare(c->initial, c->flags);
        memset(&res, 0xaa, sizeof(res));
        r = sriov_bind_driver(E.sysfs, &E.addr, c->driver, &res);
        assert_errno_equal(r, c->ret);
        assert_errno_equal(res.error, c->ret);
        if (c->step)
                assert_string_equal(res.failed_step, c->step);
        else
                assert_null(res.failed_step);
        assert_false(res.module_loaded);
        assert_string_equal(res.driver_now, c->driver_now);

        if (!(c->flags & NO_DEVICE))
                assert_override(c->override);
        assert_file("bus/pci/drivers_probe", c->probe);
        if (c->initial) {
                _cleanup_free_ char *u = NULL;
                assert_true(asprintf(&u, "bus/pci/drivers/%s/unbind", c->initial) >= 0);
                assert_file(u, c->unbind);
        }
        /* No driver's bind file is used: drivers_probe with driver_override is the way. */
        assert_file("bus/pci/drivers/vfio-pci/bind", "");
        assert_file("bus/pci/drivers/pci-stub/bind", "");
        assert_file("bus/pci/drivers/ixgbevf/bind", "");
        /* A driver not named is never unbound from. */
        if (!c->initial || !streq(c->initial, "pci-stub"))
                assert_file("bus/pci/drivers/pci-stub/unbind", "");
}

/* A driver the kernel does not know yet: modprobe runs. Only with a name no module can
 * have, so that nothing is ever loaded; modprobe fails (-ENOPKG) or is not installed
 * (-ENOENT), and nothing reaches sysfs. */
static void test_bind_unknown_module(void **state) {
        static const char name[] = "sriovd_unit_no_such_module_7f3c9a";
        struct sriov_bind_result res;
        int r;

        assert_true(sriov_driver_name_valid(name));
        r = sriov_bind_driver(E.sysfs, &E.addr, name, &res);
        if (r != -ENOPKG && r != -ENOENT)
                fail_msg("got %d (%s), expected -ENOPKG or -ENOENT", r, strerror(-r));
        assert_int_equal(res.error, r);
        assert_string_equal(res.failed_step, "load module");
        /* modprobe failed (or is missing): no module counts as loaded. */
        assert_false(res.module_loaded);
        assert_override("");
        assert_file("bus/pci/drivers_probe", "");
}

/* --- sriov_unbind_driver with plain files --- */

struct unbind_case {
        const char *name;
        const char *initial;
        unsigned flags;
        int ret;
        const char *step;
        const char *driver_now;
        const char *override;
        const char *unbind;
};

static const struct unbind_case unbind_cases[] = {
        /* No driver: only the override is cleared. */
        { "unbound", NULL, 0, 0, NULL, "", "\n" },
        { "unbound-no-override", NULL, NO_OVERRIDE, 0, NULL, "", "<absent>" },
        /* Unbind written, override cleared, but the link is still there: -EBUSY. */
        { "bound-nothing-reacts", "ixgbevf", 0, -EBUSY, "verify", "ixgbevf", "\n", FN },
        { "bound-vfio-nothing-reacts", "vfio-pci", NO_OVERRIDE, -EBUSY, "verify", "vfio-pci", "<absent>", FN },
        { "no-unbind-file", "ixgbevf", NO_UNBIND, -ENOENT, "unbind", "ixgbevf", "", "<absent>" },
        { "no-device", NULL, NO_DEVICE, -ENOENT, "open device", "", "<absent>" },
};

static void test_unbind(void **state) {
        const struct unbind_case *c = *state;
        struct sriov_bind_result res;
        int r;

        prepare(c->initial, c->flags);
        memset(&res, 0xaa, sizeof(res));
        r = sriov_unbind_driver(E.sysfs, &E.addr, &res);
        assert_errno_equal(r, c->ret);
        assert_errno_equal(res.error, c->ret);
        if (c->step)
                assert_string_equal(res.failed_step, c->step);
        else
                assert_null(res.failed_step);
        assert_false(res.module_loaded);
        assert_string_equal(res.driver_now, c->driver_now);
        if (!(c->flags & NO_DEVICE))
                assert_override(c->override);
        if (c->initial) {
                _cleanup_free_ char *u = NULL;
                assert_true(asprintf(&u, "bus/pci/drivers/%s/unbind", c->initial) >= 0);
                assert_file(u, c->unbind);
        }
        assert_file("bus/pci/drivers_probe", "");       /* unbinding never probes */
}

/* --- a thread as the kernel, behind FIFO attributes --- */

struct fake_kernel {
        bool bind;                      /* bind test (else unbind) */
        const char *initial;
        char override[128], unbind[128], probe[128];
        char *override_path, *unbind_path, *probe_path;
        const char *steps[4];           /* the order the attributes were written */
        size_t n_steps;
};

/* Blocks until the writer opens the FIFO, returns what it wrote until it closed. */
static int read_fifo(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t off = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, buf + off, size - 1 - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                off += (size_t) n;
                if (off == size - 1)
                        break;
        }
        buf[off] = '\0';
        close(fd);
        return 0;
}

static void *kernel_thread(void *arg) {
        struct fake_kernel *k = arg;

        if (k->bind) {
                /* driver_override, then unbind from the old driver, then the probe binds
                 * the override driver (linked before the probe write can return). */
                if (read_fifo(k->override_path, k->override, sizeof(k->override)) < 0)
                        return NULL;
                k->steps[k->n_steps++] = "driver_override";
                if (k->initial) {
                        if (read_fifo(k->unbind_path, k->unbind, sizeof(k->unbind)) < 0)
                                return NULL;
                        k->steps[k->n_steps++] = "unbind";
                        (void) fixture_set_driver(E.ft, FN, NULL);
                }
                if (sriov_driver_name_valid(k->override))
                        (void) fixture_set_driver(E.ft, FN, k->override);
                if (read_fifo(k->probe_path, k->probe, sizeof(k->probe)) < 0)
                        return NULL;
                k->steps[k->n_steps++] = "drivers_probe";
        } else {
                if (read_fifo(k->unbind_path, k->unbind, sizeof(k->unbind)) < 0)
                        return NULL;
                k->steps[k->n_steps++] = "unbind";
                (void) fixture_set_driver(E.ft, FN, NULL);
                if (read_fifo(k->override_path, k->override, sizeof(k->override)) < 0)
                        return NULL;
                k->steps[k->n_steps++] = "driver_override";
        }
        return NULL;
}

static void fake_kernel_start(struct fake_kernel *k, pthread_t *t) {
        _cleanup_free_ char *u = NULL;

        assert_int_equal(fixture_set_driver(E.ft, FN, k->initial), 0);
        assert_int_equal(fixture_make_fifo(E.ft, FN, "driver_override"), 0);
        k->override_path = fn_attr("driver_override");
        assert_true(asprintf(&u, "bus/pci/drivers/%s/unbind", k->initial) >= 0);
        sys_mkfifo(u);
        k->unbind_path = sys_path(u);
        if (k->bind) {
                sys_mkfifo("bus/pci/drivers_probe");
                k->probe_path = sys_path("bus/pci/drivers_probe");
        }
        assert_int_equal(pthread_create(t, NULL, kernel_thread, k), 0);
}

static void fake_kernel_stop(struct fake_kernel *k, pthread_t t) {
        struct timespec deadline;

        /* Every FIFO the thread waits on has been written by now, or never will be. */
        assert_int_equal(clock_gettime(CLOCK_REALTIME, &deadline), 0);
        deadline.tv_sec += 2;
        if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
                pthread_cancel(t);
                pthread_join(t, NULL);
                fail_msg("the fake kernel still waits for a write (%zu steps done)", k->n_steps);
        }
        free(k->override_path);
        free(k->unbind_path);
        free(k->probe_path);
}

static void test_bind_fake_kernel(void **state) {
        struct fake_kernel k = { .bind = true, .initial = "ixgbevf" };
        struct sriov_bind_result res;
        pthread_t t;
        int r;

        fake_kernel_start(&k, &t);
        r = sriov_bind_driver(E.sysfs, &E.addr, "vfio-pci", &res);
        fake_kernel_stop(&k, t);

        assert_errno_equal(r, 0);
        assert_int_equal(res.error, 0);
        assert_null(res.failed_step);
        assert_false(res.module_loaded);
        assert_string_equal(res.driver_now, "vfio-pci");
        assert_string_equal(k.override, "vfio-pci");
        assert_string_equal(k.unbind, FN);
        assert_string_equal(k.probe, FN);
        assert_int_equal(k.n_steps, 3);
        assert_string_equal(k.steps[0], "driver_override");
        assert_string_equal(k.steps[1], "unbind");
        assert_string_equal(k.steps[2], "drivers_probe");
}

static void test_unbind_fake_kernel(void **state) {
        struct fake_kernel k = { .bind = false, .initial = "vfio-pci" };
        struct sriov_bind_result res;
        pthread_t t;
        int r;

        fake_kernel_start(&k, &t);
        r = sriov_unbind_driver(E.sysfs, &E.addr, &res);
        fake_kernel_stop(&k, t);

        assert_errno_equal(r, 0);
        assert_null(res.failed_step);
        assert_string_equal(res.driver_now, "");
        assert_string_equal(k.unbind, FN);
        assert_string_equal(k.override, "\n");
        assert_int_equal(k.n_steps, 2);
        assert_string_equal(k.steps[0], "unbind");
        assert_string_equal(k.steps[1], "driver_override");
}

int main(void) {
        struct unit_tests t = {};

        memset(name_64, 'a', 64);
        memset(name_65, 'a', 65);
        signal(SIGALRM, on_alarm);
        prefer_tmpfs();

        for (size_t i = 0; i < ELEMENTSOF(name_cases); i++)
                unit_add(&t, test_name, (void *) &name_cases[i], "name/%s", name_cases[i].name);
#define ADD(fn, st, ...) unit_add_full(&t, fn, setup, teardown, (void *) (st), __VA_ARGS__)
        for (size_t i = 0; i < ELEMENTSOF(bind_cases); i++)
                ADD(test_bind, &bind_cases[i], "bind/%s", bind_cases[i].name);
        ADD(test_bind_unknown_module, NULL, "bind/unknown-module");
        ADD(test_bind_fake_kernel, NULL, "bind/fake-kernel");
        for (size_t i = 0; i < ELEMENTSOF(unbind_cases); i++)
                ADD(test_unbind, &unbind_cases[i], "unbind/%s", unbind_cases[i].name);
        ADD(test_unbind_fake_kernel, NULL, "unbind/fake-kernel");

        return unit_run(&t, "bind");
}
