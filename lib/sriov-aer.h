/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCIe AER counters as the kernel exposes them (drivers/pci/pcie/aer.c):
 * aer_dev_correctable, aer_dev_nonfatal and aer_dev_fatal hold lines "NAME COUNT", the
 * last one "TOTAL_ERR_COR|TOTAL_ERR_NONFATAL|TOTAL_ERR_FATAL N"; root ports also have
 * aer_rootport_total_err_{cor,nonfatal,fatal} holding one number each. The files exist
 * only on functions with an AER capability. Counter names are kept as the kernel
 * spells them: they are what administrators search for. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sriov-macros.h"

typedef enum sriov_aer_kind {
        SRIOV_AER_CORRECTABLE,
        SRIOV_AER_NONFATAL,
        SRIOV_AER_FATAL,
        _SRIOV_AER_KIND_MAX,
        _SRIOV_AER_KIND_INVALID = -EINVAL,
} SriovAerKind;

#define SRIOV_AER_NAME_MAX 48
#define SRIOV_AER_COUNTERS_MAX 64

struct sriov_aer_counter {
        const char *name;       /* interned for the whole process: 44 counters on each of
                                 * 16k functions would otherwise cost 40 MB of copies */
        uint64_t count;
};

struct sriov_aer_counters {
        bool present;
        bool has_total;
        uint64_t total;
        size_t n_counters;
        struct sriov_aer_counter *counters;
};

struct sriov_aer {
        struct sriov_aer_counters kinds[_SRIOV_AER_KIND_MAX];
        bool has_rootport;
        uint64_t rootport_total[_SRIOV_AER_KIND_MAX];
};

const char *sriov_aer_kind_to_string(SriovAerKind k);

/* Parses one aer_dev_* file. -EBADMSG on a malformed line, -E2BIG past
 * SRIOV_AER_COUNTERS_MAX lines, -ERANGE on a count that does not fit 64 bits.
 * ret is untouched on failure. */
int sriov_aer_parse(const char *text, struct sriov_aer_counters *ret);

/* Reads all AER files present in a device directory. Missing files are not an error
 * (the device has no AER capability); a file that cannot be parsed is skipped with a
 * debug message. */
int sriov_aer_load(int dev_dirfd, struct sriov_aer *ret);

bool sriov_aer_present(const struct sriov_aer *a);
uint64_t sriov_aer_counter_get(const struct sriov_aer_counters *c, const char *name);
void sriov_aer_counters_done(struct sriov_aer_counters *c);

/* Calls cb for every counter (and total) that grew from old to now. A counter that went
 * down (the device was reset or re-enumerated) counts from 0. Returns the number of
 * changed counters. name is "total" for the TOTAL_ERR_* line. */
typedef void (*sriov_aer_delta_cb)(SriovAerKind kind, const char *name, uint64_t delta, void *userdata);
unsigned sriov_aer_diff(const struct sriov_aer *old, const struct sriov_aer *now, sriov_aer_delta_cb cb, void *userdata);
int sriov_aer_copy(const struct sriov_aer *src, struct sriov_aer *ret);
void sriov_aer_done(struct sriov_aer *a);
