/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Kernel uevents for the "pci" subsystem, through libudev, on the event loop.
 * Source "kernel" reads the kernel's netlink group directly (no udevd needed, as in the
 * test VM); source "udev" gets the same events after udev rules ran. */

#include <event2/event.h>
#include <libudev.h>

#include "sriov-address.h"
#include "sriov-macros.h"
#include "sriovd-options.h"

struct sriovd_monitor;

/* Called on the loop thread for each event whose sysname is a PCI address. */
typedef void (*sriovd_uevent_cb)(const char *action, const struct sriov_addr *addr,
                                 struct udev_device *dev, void *userdata);

int sriovd_monitor_new(struct event_base *base, UeventSource source, sriovd_uevent_cb cb, void *userdata,
                       struct sriovd_monitor **ret);
struct sriovd_monitor *sriovd_monitor_free(struct sriovd_monitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriovd_monitor *, sriovd_monitor_free);

uint64_t sriovd_monitor_count(const struct sriovd_monitor *m);

/* Called when the kernel reports lost uevents (ENOBUFS): the model may be stale. */
typedef void (*sriovd_overflow_cb)(void *userdata);
void sriovd_monitor_set_overflow_cb(struct sriovd_monitor *m, sriovd_overflow_cb cb, void *userdata);
uint64_t sriovd_monitor_overflows(const struct sriovd_monitor *m);
