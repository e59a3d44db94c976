/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sriov-bind.h"
#include "sriov-spawn.h"
#include "sriov-log.h"

bool sriov_driver_name_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return false;
        }
        return name[0] != '-';
}

/* Runs modprobe directly (no shell). libkmod would be the library for this, but one
 * exec of the system's modprobe keeps its configuration (blacklists, install rules)
 * exactly as the administrator set it up, with one dependency less. */
static int load_module(const char *driver) {
        const char *paths[] = { "/sbin/modprobe", "/usr/sbin/modprobe", "/bin/modprobe", "/usr/bin/modprobe" };
        char *argv[] = { (char *) "modprobe", (char *) "-q", (char *) driver, NULL };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                int r;

                if (access(paths[i], X_OK) < 0)
                        continue;
                /* From a worker thread that blocks every signal: sriov_spawn_wait() gives
                 * the child a clean mask. */
                r = sriov_spawn_wait(paths[i], argv);
                if (r < 0 && r != -ECHILD)
                        return r;
                return r == 0 ? 0 : -ENOPKG;
        }
        return -ENOENT;
}

static int fail(struct sriov_bind_result *ret, const char *step, int error) {
        ret->error = error;
        ret->failed_step = step;
        return error;
}

static void read_driver(int fd, struct sriov_bind_result *ret) {
        _cleanup_free_ char *now = NULL;

        ret->driver_now[0] = '\0';
        if (sriov_sysfs_read_link_name(fd, "driver", &now) >= 0)
                snprintf(ret->driver_now, sizeof(ret->driver_now), "%s", now);
}

int sriov_bind_driver(struct sriov_sysfs *s, const struct sriov_addr *a, const char *driver,
                      struct sriov_bind_result *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[128];
        int r;

        *ret = (struct sriov_bind_result) {};
        if (!sriov_driver_name_valid(driver))
                return fail(ret, "driver name", -EINVAL);

        fd = sriov_sysfs_open_device(s, a);
        if (fd < 0)
                return fail(ret, "open device", fd);

        snprintf(path, sizeof(path), "bus/pci/drivers/%s", driver);
        r = sriov_sysfs_root_has(s, path);
        if (r == 0) {
                r = load_module(driver);
                if (r < 0)
                        return fail(ret, "load module", r);
                ret->module_loaded = true;
                if (sriov_sysfs_root_has(s, path) <= 0)
                        return fail(ret, "load module", -ENOPKG);
        } else if (r < 0)
                return fail(ret, "look up driver", r);

        read_driver(fd, ret);
        if (streq(ret->driver_now, driver))
                return 0;

        r = sriov_sysfs_write(fd, "driver_override", driver);
        if (r < 0)
                return fail(ret, "driver_override", r);
        if (ret->driver_now[0]) {
                r = sriov_sysfs_write(fd, "driver/unbind", SRIOV_ADDR_STR(a));
                if (r < 0 && r != -ENODEV)
                        return fail(ret, "unbind", r);
        }
        r = sriov_sysfs_write_root(s, "bus/pci/drivers_probe", SRIOV_ADDR_STR(a));
        if (r < 0)
                return fail(ret, "drivers_probe", r);

        read_driver(fd, ret);
        if (!streq(ret->driver_now, driver))
                /* The probe ran and did not take: the driver refused the device (dmesg says why). */
                return fail(ret, "verify", -EIO);
        return 0;
}

int sriov_unbind_driver(struct sriov_sysfs *s, const struct sriov_addr *a, struct sriov_bind_result *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        *ret = (struct sriov_bind_result) {};
        fd = sriov_sysfs_open_device(s, a);
        if (fd < 0)
                return fail(ret, "open device", fd);

        read_driver(fd, ret);
        if (ret->driver_now[0]) {
                r = sriov_sysfs_write(fd, "driver/unbind", SRIOV_ADDR_STR(a));
                if (r < 0 && r != -ENODEV)
                        return fail(ret, "unbind", r);
        }
        /* An empty override restores normal matching; without it the next probe (a
         * reboot of the VM, a rescan) would bind the override driver again. */
        r = sriov_sysfs_write(fd, "driver_override", "\n");
        if (r < 0 && r != -ENOENT)
                return fail(ret, "driver_override", r);

        read_driver(fd, ret);
        if (ret->driver_now[0])
                return fail(ret, "verify", -EBUSY);
        return 0;
}
