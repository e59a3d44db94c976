/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Node Feature Discovery labels: with [daemon] nfd-features-file = PATH (normally
 * /etc/kubernetes/node-feature-discovery/features.d/sriovd), sriovd keeps an NFD "local"
 * feature file there, which nfd-worker turns into node labels:
 *
 *   # +expiry-time=2026-12-04T21:05:00Z
 *   sriovd.io/ready=true
 *   sriovd.io/kernel-can-recover=true
 *   sriovd.io/pci-0000-3b-00.0.vfs=8
 *   sriovd.io/pci-0000-3b-00.0.usable-vfs=8
 *   sriovd.io/net-ens1f0.vfs=8          (a PF with a network interface: by its name)
 *
 * The expiry (nfd-expiry seconds ahead, refreshed at half of it) makes a dead daemon's
 * labels go away. The file is rewritten atomically (a dotfile in the same folder, which
 * nfd-worker ignores, fsync, rename, fsync of the folder) when a value changed, at most
 * once per second however many uevents came, and it never exceeds NFD's 64 KiB limit:
 * per-PF labels that do not fit are left out, the file says how many, and so does the
 * journal. */

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-config.h"

#define SRIOVD_NFD_PREFIX "sriovd.io/"
#define SRIOVD_NFD_FILE_MAX 65536u      /* nfd-worker skips larger feature files */
#define SRIOVD_NFD_NAME_MAX 63u         /* the name part of a label key */
#define SRIOVD_NFD_VALUE_MAX 63u

struct sriovd_manager;
struct sriovd_nfd;

struct sriovd_nfd_label {
        char name[SRIOVD_NFD_NAME_MAX + 1];     /* after the sriovd.io/ prefix */
        char value[SRIOVD_NFD_VALUE_MAX + 1];
};

int sriovd_nfd_new(struct sriovd_manager *m, struct sriovd_nfd **ret);
/* Leaves the file: its expiry removes the labels of a daemon that is gone. */
struct sriovd_nfd *sriovd_nfd_free(struct sriovd_nfd *n);

/* Applies nfd-features-file and nfd-expiry (at start and after each reload). A file
 * given up (the key removed or changed) is deleted, so its labels go at once. */
void sriovd_nfd_configure(struct sriovd_nfd *n, const struct sriov_daemon_config *d);

/* Something a label reads may have changed: recomputed within a second. n may be NULL. */
void sriovd_nfd_changed(struct sriovd_nfd *n);

/* Kubernetes label rules: a name of 1..63 characters [A-Za-z0-9._-] starting and ending
 * with an alphanumeric one; a value the same, or empty. */
bool sriovd_nfd_valid_name(const char *s);
bool sriovd_nfd_valid_value(const char *s);

/* The file's text: the expiry header, then one line per label in order, as long as the
 * whole stays within limit bytes; the labels left out are counted in *ret_dropped and
 * named by a comment line that fits too. -EINVAL when not even the header fits. */
int sriovd_nfd_render(const struct sriovd_nfd_label *labels, size_t n, uint64_t expiry_realtime_sec, size_t limit,
                      char **ret, size_t *ret_dropped);
