/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCIe error-recovery properties of a kernel uevent.
 *
 * The kernel (pci_uevent_ers(), drivers/pci/pci-driver.c) sends a "change" uevent on a PCI
 * function with exactly one of
 *     ERROR_EVENT=BEGIN_RECOVERY       DEVICE_ONLINE=0
 *     ERROR_EVENT=SUCCESSFUL_RECOVERY  DEVICE_ONLINE=1
 *     ERROR_EVENT=FAILED_RECOVERY      DEVICE_ONLINE=0
 * and nothing else: the strings are fixed literals in the kernel, upper case, no padding.
 *
 * What is accepted, and why it is strict
 *   - No ERROR_EVENT property: not an error event. Returns 0 with kind NONE and
 *     device_online -1, whatever DEVICE_ONLINE says (it means nothing on its own).
 *   - ERROR_EVENT with one of the three values, byte for byte: that kind.
 *   - ERROR_EVENT with anything else - empty, lower case, surrounding spaces, an embedded
 *     NUL inside the given length, longer than SRIOV_UEVENT_VALUE_MAX, a value a future
 *     kernel might add - is -EBADMSG. It is never mapped to a known kind: a forged or
 *     mangled FAILED_RECOVERY must not start user-space recovery, and a value the daemon
 *     does not know cannot be classified. The caller logs it ("ignored") and moves on.
 *   - DEVICE_ONLINE absent: -1. "0" or "1": 0 or 1. Anything else ("2", "-1", "yes", " 1",
 *     "01") is -EBADMSG for the whole event, because the kernel never writes it and an
 *     event with one corrupt field is not trusted for the other one.
 *   - The pairing of kind and DEVICE_ONLINE is not checked: the kind is what drives the
 *     daemon and DEVICE_ONLINE is reported as the kernel said it.
 *   - Key lookups are case-sensitive, as the kernel's and udev's are.
 * -EINVAL is only for programming errors (NULL arguments). ret is untouched on failure. */

#include <errno.h>
#include <stddef.h>

#include "sriov-macros.h"

typedef enum sriov_error_event_kind {
        SRIOV_ERROR_EVENT_NONE,                 /* not an error-recovery uevent */
        SRIOV_ERROR_EVENT_BEGIN_RECOVERY,
        SRIOV_ERROR_EVENT_SUCCESSFUL_RECOVERY,
        SRIOV_ERROR_EVENT_FAILED_RECOVERY,
        _SRIOV_ERROR_EVENT_KIND_MAX,
        _SRIOV_ERROR_EVENT_KIND_INVALID = -EINVAL,
} SriovErrorEventKind;

struct sriov_error_event {
        SriovErrorEventKind kind;
        int device_online;                      /* 0, 1, or -1 when absent */
};

/* Longest value looked at; the longest valid one, "SUCCESSFUL_RECOVERY", has 19 bytes.
 * Longer values are -EBADMSG without being scanned to their end. */
#define SRIOV_UEVENT_VALUE_MAX 64

/* "BEGIN_RECOVERY", "SUCCESSFUL_RECOVERY", "FAILED_RECOVERY" (the kernel's own spelling,
 * so logs and journal fields match what administrators grep for) and "none" for
 * SRIOV_ERROR_EVENT_NONE. to_string: NULL when out of range. from_string: exact and
 * case-sensitive, -EINVAL for anything else. */
const char *sriov_error_event_kind_to_string(SriovErrorEventKind k) _pure_;
SriovErrorEventKind sriov_error_event_kind_from_string(const char *s) _pure_;

/* One ERROR_EVENT value of len bytes (need not be NUL-terminated; a NUL inside len makes
 * it invalid). Returns BEGIN/SUCCESSFUL/FAILED, never NONE, or -EBADMSG. */
SriovErrorEventKind sriov_error_event_kind_from_value(const char *value, size_t len) _pure_;

/* Property lookup: the value of key, or NULL when the event has no such property.
 * With libudev:
 *     static const char *udev_prop(const char *key, void *userdata) {
 *             return udev_device_get_property_value(userdata, key);
 *     }
 *     r = sriov_error_event_parse(udev_prop, udev_device, &ev);
 * (an adapter rather than a cast: calling udev's function through a pointer of another
 * type is undefined behaviour.) */
typedef const char *(*sriov_uevent_get_t)(const char *key, void *userdata);

int sriov_error_event_parse(sriov_uevent_get_t get, void *userdata, struct sriov_error_event *ret);

/* The same from a NULL-terminated array of "KEY=VALUE" strings (an envp, as the kernel
 * builds them and as tests write them). Entries without '=' are skipped. A key present
 * twice is -EBADMSG: the kernel never sends that, and which copy wins would be a guess. */
int sriov_error_event_parse_strv(const char *const *strv, struct sriov_error_event *ret);

/* The same from a raw uevent buffer as read from NETLINK_KOBJECT_UEVENT: len bytes of
 * NUL-separated records, the first of which is the "ACTION@DEVPATH" header (it has no
 * '=' and is skipped like any record without one). Duplicates as for _strv. */
int sriov_error_event_parse_buffer(const char *buf, size_t len, struct sriov_error_event *ret);
