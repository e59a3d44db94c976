/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What an SR-IOV enable/disable request means, independent of how it is carried out:
 * validation before the kernel is touched, the kernel's errors in words, and the final
 * report (requested, enumerated, bound, per-VF state, complete/partial/failed). */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "sriov-address.h"
#include "sriov-device.h"
#include "sriov-macros.h"

typedef enum sriov_policy {
        SRIOV_POLICY_BEST_EFFORT,       /* keep what came up */
        SRIOV_POLICY_ALL_OR_NOTHING,    /* roll back to the previous count on a partial result */
        _SRIOV_POLICY_MAX,
        _SRIOV_POLICY_INVALID = -EINVAL,
} SriovPolicy;

typedef enum sriov_outcome {
        SRIOV_OUTCOME_COMPLETE,
        SRIOV_OUTCOME_PARTIAL,
        SRIOV_OUTCOME_FAILED,
        _SRIOV_OUTCOME_MAX,
        _SRIOV_OUTCOME_INVALID = -EINVAL,
} SriovOutcome;

typedef enum sriov_vf_state {
        SRIOV_VF_BOUND,                 /* exists, a driver is bound */
        SRIOV_VF_UNBOUND,               /* exists, no driver: probe failed or none wanted */
        SRIOV_VF_MISSING,               /* expected, never appeared */
        _SRIOV_VF_STATE_MAX,
        _SRIOV_VF_STATE_INVALID = -EINVAL,
} SriovVfState;

/* How an operation knew its VFs had settled. */
typedef enum sriov_settle {
        SRIOV_SETTLE_NONE,              /* not settled: a write failed or hung */
        SRIOV_SETTLE_KERNEL,            /* the kernel told every VF's outcome: the PF's "change"
                                         * after its VFs were added, and each VF bound (or
                                         * autoprobe off: nothing to wait for) */
        SRIOV_SETTLE_QUIET_WINDOW,      /* some VFs' outcome the kernel never signals (a probe
                                         * that failed, no driver for it, a VF that never came):
                                         * no uevent for the quiet window */
        SRIOV_SETTLE_DEADLINE,          /* the operation's deadline */
        _SRIOV_SETTLE_MAX,
        _SRIOV_SETTLE_INVALID = -EINVAL,
} SriovSettle;

const char *sriov_settle_to_string(SriovSettle s);

/* Whether a VF bound to this driver has its outcome: false for drivers that bind first
 * and may let go later by themselves. nvme before Linux 6.2 returns from probe at once
 * and initialises the controller in its reset work; when that fails it releases the
 * device (nvme_remove_dead_ctrl): bind, then unbind, seen with QEMU's VFs on 6.1. */
bool sriov_driver_bind_is_outcome(const char *driver);
const char *sriov_policy_to_string(SriovPolicy p);
SriovPolicy sriov_policy_from_string(const char *s);
const char *sriov_outcome_to_string(SriovOutcome o);
const char *sriov_vf_state_to_string(SriovVfState s);

/* Largest VF count any request may name; the PCIe TotalVFs field is 16 bits. */
#define SRIOV_NUM_VFS_MAX 65535u

/* A request as a client sent it, validated for shape (not yet against a device). */
struct sriov_enable_request {
        unsigned num_vfs;
        SriovPolicy policy;
        uint64_t timeout_ms;            /* 0: the default, which grows with num_vfs */
        bool wait;                      /* reply once settled (default) or at once */
        int drivers_autoprobe;          /* set sriov_drivers_autoprobe first: 0, 1; -1 leave */
        bool from_config;               /* internal: applied from the configuration */
        bool startup;                   /* internal: READY=1 waits for it */
};

#define SRIOV_TIMEOUT_MS_MIN 100u
#define SRIOV_TIMEOUT_MS_MAX (3600u * 1000u)

/* Parses {"num_vfs": N, "policy": "...", "timeout_ms": T, "wait": bool,
 * "drivers_autoprobe": bool}. Unknown keys,
 * wrong types, negative or fractional numbers are refused with a message in
 * ret_error (static string). */
int sriov_enable_request_from_json(json_object *body, struct sriov_enable_request *ret,
                                   const char **ret_error);

/* Checks a request against the device the model has. Returns 0, or -errno with a
 * one-line explanation written to errbuf: -ENODEV no such function, -ENOTTY not a PF
 * (a VF, or no SR-IOV capability), -ERANGE above sriov_totalvfs, -ENOENT no driver on
 * the PF. */
int sriov_enable_validate(const struct sriov_device *pf, const struct sriov_enable_request *req,
                          char *errbuf, size_t errlen);

/* The kernel's answer to a sriov_numvfs write, in words an administrator can act on. */
const char *sriov_numvfs_strerror(int error);

/* Default time for VFs to appear and their drivers to bind: NetworkManager users
 * measured 22 s for 64 VFs on i40e and over 60 s for 60+ on ixgbe, so it grows with N. */
uint64_t sriov_settle_timeout_ms(unsigned num_vfs);

/* One VF as observed after settling. */
struct sriov_vf_observed {
        unsigned index;
        struct sriov_addr addr;
        const char *driver;             /* borrowed, NULL: none */
};

struct sriov_vf_report {
        unsigned index;
        struct sriov_addr addr;
        char *driver;
        SriovVfState state;
};

struct sriov_report {
        struct sriov_addr pf;
        unsigned requested;
        unsigned previous;
        SriovPolicy policy;
        bool autoprobe;
        unsigned enumerated;
        unsigned bound;
        unsigned usable;
        uint64_t elapsed_ms;
        int write_error;                /* kernel errno of the failed write, 0 when none */
        unsigned failed_write_value;    /* the value whose write failed */
        char failed_file[32];           /* the attribute it was written to: "" is sriov_numvfs */
        bool hung;                      /* a write did not return before its deadline */
        uint64_t hung_ms;
        SriovSettle settled_by;
        unsigned unsignalled_vfs;       /* VFs whose outcome no uevent told (quiet window, deadline) */
        uint64_t quiet_window_ms;       /* the window waited, with SRIOV_SETTLE_QUIET_WINDOW */
        bool rolled_back;
        int rollback_error;
        unsigned final_num_vfs;
        SriovOutcome outcome;
        size_t n_vfs;
        struct sriov_vf_report *vfs;
        char *message;                  /* one line for people */
};

struct sriov_report_input {
        struct sriov_addr pf;
        unsigned offset, stride;        /* for the addresses of VFs that never appeared */
        unsigned requested;
        unsigned previous;
        SriovPolicy policy;
        bool autoprobe;
        uint64_t elapsed_ms;
        int write_error;
        unsigned failed_write_value;
        const char *failed_file;        /* NULL: sriov_numvfs */
        bool hung;
        uint64_t hung_ms;
        size_t n_observed;
        const struct sriov_vf_observed *observed;
        SriovSettle settled_by;
        unsigned unsignalled_vfs;
        uint64_t quiet_window_ms;
};

/* Classifies and describes. complete: every requested VF exists and, when drivers
 * autoprobe, is bound (with autoprobe off a VF without driver is what was asked for);
 * partial: VFs were enumerated but not all requested ones are usable - fewer exist than
 * asked (the kernel's silent case where the PF driver enabled fewer VFs and the write
 * still succeeded), or some or all have no driver (probe failed); failed: a write failed
 * or hung, or no VF was enumerated at all. */
int sriov_report_build(const struct sriov_report_input *in, struct sriov_report *ret);
/* After an all-or-nothing rollback. */
void sriov_report_set_rollback(struct sriov_report *r, int error, unsigned final_num_vfs);
void sriov_report_done(struct sriov_report *r);
json_object *sriov_report_to_json(const struct sriov_report *r);
