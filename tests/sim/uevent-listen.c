/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uevent-listen: a tiny libudev monitor used by the sim tests to check what a
 * program running under umockdev's preload receives.
 *
 *   uevent-listen [--source kernel|udev] [--subsystem pci] [--count N] [--timeout SEC]
 *
 * Prints "LISTENING" once the monitor is bound, then one line per event:
 *   EVENT <action> <sysname> <devpath> KEY=VALUE ...
 * and exits after N events (0 = until timeout).  Exit 0 on success, 1 on error,
 * 2 on timeout before N events.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
        const char *source = "kernel";
        const char *subsystem = NULL;
        long count = 0, timeout_s = 10, seen = 0;
        struct udev *udev;
        struct udev_monitor *mon;
        long long deadline;
        int fd;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--source") && i + 1 < argc)
                        source = argv[++i];
                else if (!strcmp(argv[i], "--subsystem") && i + 1 < argc)
                        subsystem = argv[++i];
                else if (!strcmp(argv[i], "--count") && i + 1 < argc)
                        count = strtol(argv[++i], NULL, 10);
                else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
                        timeout_s = strtol(argv[++i], NULL, 10);
                else {
                        fprintf(stderr, "usage: %s [--source kernel|udev] [--subsystem S] [--count N] [--timeout SEC]\n",
                                argv[0]);
                        return 1;
                }
        }

        udev = udev_new();
        if (!udev) {
                fprintf(stderr, "udev_new failed\n");
                return 1;
        }
        mon = udev_monitor_new_from_netlink(udev, source);
        if (!mon) {
                fprintf(stderr, "udev_monitor_new_from_netlink(%s) failed\n", source);
                return 1;
        }
        if (subsystem && udev_monitor_filter_add_match_subsystem_devtype(mon, subsystem, NULL) < 0) {
                fprintf(stderr, "filter failed\n");
                return 1;
        }
        if (udev_monitor_enable_receiving(mon) < 0) {
                fprintf(stderr, "udev_monitor_enable_receiving failed: %s\n", strerror(errno));
                return 1;
        }
        fd = udev_monitor_get_fd(mon);
        printf("LISTENING\n");
        fflush(stdout);

        deadline = now_ms() + timeout_s * 1000;
        while (count == 0 || seen < count) {
                long long left = deadline - now_ms();
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                struct udev_device *dev;
                struct udev_list_entry *e;

                if (left <= 0)
                        break;
                if (poll(&pfd, 1, (int) left) <= 0)
                        continue;
                dev = udev_monitor_receive_device(mon);
                if (!dev)
                        continue;
                printf("EVENT %s %s %s", udev_device_get_action(dev) ?: "-",
                       udev_device_get_sysname(dev) ?: "-", udev_device_get_devpath(dev) ?: "-");
                udev_list_entry_foreach(e, udev_device_get_properties_list_entry(dev))
                        printf(" %s=%s", udev_list_entry_get_name(e), udev_list_entry_get_value(e) ?: "");
                printf("\n");
                fflush(stdout);
                udev_device_unref(dev);
                seen++;
        }

        udev_monitor_unref(mon);
        udev_unref(udev);
        if (count > 0 && seen < count)
                return 2;
        return 0;
}
