/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Vendor and device names from the PCI ID database, through libpci.
 *
 * libpci reports errors through a callback declared noreturn whose default prints and
 * calls exit(1). A daemon must not die because the ID file is unreadable or a device
 * vanished, so every libpci call here runs under sigsetjmp() and our handler jumps back
 * out, turning the error into -EIO. Lookups use only the local database (no DNS). */

#include <stdint.h>

#include "sriov-macros.h"

struct sriov_names;

/* ids_file: path of pci.ids, or NULL for libpci's default. */
int sriov_names_new(const char *ids_file, struct sriov_names **ret);
struct sriov_names *sriov_names_free(struct sriov_names *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sriov_names *, sriov_names_free);

/* -ENOENT when the database does not know the id; -EIO when libpci reported an error.
 * Not thread-safe: call from one thread. */
int sriov_names_vendor(struct sriov_names *n, uint16_t vendor, char **ret);
int sriov_names_device(struct sriov_names *n, uint16_t vendor, uint16_t device, char **ret);
