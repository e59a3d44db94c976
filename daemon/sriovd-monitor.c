/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "sriovd-log.h"
#include "sriovd-monitor.h"

/* A VF storm (thousands of add/bind events in a burst) must not overflow the socket
 * before the loop drains it; bolt uses the same size. Needs CAP_NET_ADMIN to exceed
 * rmem_max, which libudev tries (SO_RCVBUFFORCE). */
#define MONITOR_RCVBUF (128 * 1024 * 1024)

struct sriovd_monitor {
        struct udev *udev;
        struct udev_monitor *mon;
        struct event *ev;
        sriovd_uevent_cb cb;
        void *userdata;
        sriovd_overflow_cb overflow_cb;
        void *overflow_userdata;
        uint64_t n_events;
        uint64_t n_overflows;
};

static void monitor_dispatch(evutil_socket_t fd, short what, void *userdata) {
        struct sriovd_monitor *m = userdata;

        /* Drain what is queued, but bounded, so that the API is served during a storm. */
        for (unsigned i = 0; i < 256; i++) {
                struct udev_device *dev = udev_monitor_receive_device(m->mon);
                const char *action, *sysname;
                struct sriov_addr addr;

                if (!dev) {
                        /* The kernel dropped uevents for this socket (a storm outran
                         * even the 128 MiB buffer). The queue still holds what came
                         * before and after the gap: keep draining; the model is re-read. */
                        if (errno == ENOBUFS) {
                                m->n_overflows++;
                                if (m->overflow_cb)
                                        m->overflow_cb(m->overflow_userdata);
                                continue;
                        }
                        break;
                }
                m->n_events++;
                action = udev_device_get_action(dev);
                sysname = udev_device_get_sysname(dev);
                if (action && sysname && sriov_addr_parse(sysname, &addr) >= 0)
                        m->cb(action, &addr, dev, m->userdata);
                else
                        log_debug("uevent %s on '%s' ignored: not a PCI function", strna(action), strna(sysname));
                udev_device_unref(dev);
        }
}

int sriovd_monitor_new(struct event_base *base, UeventSource source, sriovd_uevent_cb cb, void *userdata,
                       struct sriovd_monitor **ret) {
        _cleanup_(sriovd_monitor_freep) struct sriovd_monitor *m = NULL;
        const char *name;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->cb = cb;
        m->userdata = userdata;

        source = uevent_source_resolve(source);
        name = source == UEVENT_SOURCE_UDEV ? "udev" : "kernel";

        m->udev = udev_new();
        if (!m->udev)
                return log_error_errno(ENOMEM, "Failed to create udev context");
        m->mon = udev_monitor_new_from_netlink(m->udev, name);
        if (!m->mon)
                return log_error_errno(EIO, "Failed to open the %s uevent monitor", name);
        r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "pci", NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to filter uevents on subsystem pci");
        r = udev_monitor_set_receive_buffer_size(m->mon, MONITOR_RCVBUF);
        if (r < 0)
                log_warning_errno(r, "Could not enlarge the uevent buffer, a VF storm may overflow it");
        r = udev_monitor_enable_receiving(m->mon);
        if (r < 0)
                return log_error_errno(r, "Failed to listen for %s uevents", name);

        m->ev = event_new(base, udev_monitor_get_fd(m->mon), EV_READ | EV_PERSIST, monitor_dispatch, m);
        if (!m->ev || event_add(m->ev, NULL) < 0)
                return log_error_errno(ENOMEM, "Failed to watch the uevent monitor");

        log_info("Listening to %s uevents on subsystem pci", name);
        *ret = TAKE_PTR(m);
        return 0;
}

struct sriovd_monitor *sriovd_monitor_free(struct sriovd_monitor *m) {
        if (!m)
                return NULL;
        if (m->ev)
                event_free(m->ev);
        if (m->mon)
                udev_monitor_unref(m->mon);
        if (m->udev)
                udev_unref(m->udev);
        free(m);
        return NULL;
}

void sriovd_monitor_set_overflow_cb(struct sriovd_monitor *m, sriovd_overflow_cb cb, void *userdata) {
        m->overflow_cb = cb;
        m->overflow_userdata = userdata;
}

uint64_t sriovd_monitor_overflows(const struct sriovd_monitor *m) {
        return m->n_overflows;
}

uint64_t sriovd_monitor_count(const struct sriovd_monitor *m) {
        return m->n_events;
}
