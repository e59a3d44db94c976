/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <malloc.h>

#include "sriov-recovery.h"
#include "unit-test.h"

#define S(x) ((uint64_t) (x) * SRIOV_USEC_PER_SEC)
#define MS(x) ((uint64_t) (x) * 1000u)
#define INF SRIOV_USEC_INFINITY

/* The testbed's layout (kernel-testbed.md): PF 0000:01:00.0 with VFs .1-.3 under root port
 * 0000:00:02.0; a second PF under a second root port; and a switch below a third one. */
#define RP "0000:00:02.0"
#define PF "0000:01:00.0"
#define VF1 "0000:01:00.1"
#define VF2 "0000:01:00.2"
#define VF3 "0000:01:00.3"
#define RP2 "0000:00:03.0"
#define PF2 "0000:02:00.0"
#define RP3 "0000:00:04.0"
#define USP "0000:03:00.0"      /* switch upstream port */
#define DSP "0000:04:01.0"      /* switch downstream ports */
#define DSP2 "0000:04:02.0"
#define PF3 "0000:05:00.0"
#define VF31 "0000:05:00.1"
#define PF4 "0000:06:00.0"

#define BEGIN SRIOV_ERROR_EVENT_BEGIN_RECOVERY
#define SUCCESS SRIOV_ERROR_EVENT_SUCCESSFUL_RECOVERY
#define FAILED SRIOV_ERROR_EVENT_FAILED_RECOVERY

#define PEND SRIOV_DEVICE_OUTCOME_NONE
#define OK SRIOV_DEVICE_OUTCOME_SUCCEEDED
#define FAIL SRIOV_DEVICE_OUTCOME_FAILED

#define RES_OK SRIOV_RECOVERY_SUCCEEDED
#define RES_FAIL SRIOV_RECOVERY_FAILED
#define RES_TIMEOUT SRIOV_RECOVERY_TIMED_OUT

#define IDLE SRIOV_HIERARCHY_IDLE
#define RECOVERING SRIOV_HIERARCHY_RECOVERING
#define SETTLING SRIOV_HIERARCHY_SETTLING

static struct sriov_addr A(const char *s) {
        struct sriov_addr a;

        if (sriov_addr_parse(s, &a) < 0)
                fail_msg("bad address in test table: %s", s);
        return a;
}

/* ---------------------------------------------------------------------------------------
 * Hierarchy tracker
 * ------------------------------------------------------------------------------------- */

enum top {
        T_END,
        T_EV,           /* feed an event, expect ret */
        T_TICK,         /* tick(t), expect ret recoveries ended */
        T_STATE,        /* state of hier */
        T_DEADLINE,     /* next deadline == t */
        T_REPORT,       /* pop one report and compare */
        T_NO_REPORT,    /* nothing to pop */
        T_COUNTERS,
        T_NDEV,         /* devices held for hier == ret */
};

struct expect_dev {
        const char *addr;
        bool begun, own;
        SriovDeviceOutcome outcome;
};

struct tstep {
        enum top op;
        const char *dev, *hier;
        const char *bridges[SRIOV_RECOVERY_CHAIN_MAX + 4];
        SriovErrorEventKind kind;
        uint64_t t;
        int ret;
        SriovHierarchyState state;
        SriovRecoveryResult result;
        uint64_t start, end;
        bool begin_missed;
        unsigned n_failed, n_dropped;
        struct expect_dev devs[8];
        struct sriov_recovery_counters counters;
};

struct tcase {
        const char *name;
        uint64_t timeout, settle;       /* 0: 10 s and 1 s */
        bool settle_zero;
        unsigned max_devices, max_hierarchies, max_reports;
        struct tstep steps[40];
};

#define EV(d, h, k, t_, ...) { .op = T_EV, .dev = d, .hier = h, .kind = k, .t = t_, .bridges = { __VA_ARGS__ } }
#define EVR(r, d, h, k, t_, ...) { .op = T_EV, .ret = r, .dev = d, .hier = h, .kind = k, .t = t_, .bridges = { __VA_ARGS__ } }
#define TICK(t_, n) { .op = T_TICK, .t = t_, .ret = n }
#define STATE(h, s) { .op = T_STATE, .hier = h, .state = s }
#define DEADLINE(t_) { .op = T_DEADLINE, .t = t_ }
#define REPORT(h, res, st, en, missed, nf, nd, ...)                                                    \
        { .op = T_REPORT, .hier = h, .result = res, .start = st, .end = en, .begin_missed = missed,     \
          .n_failed = nf, .n_dropped = nd, .devs = { __VA_ARGS__ } }
#define NO_REPORT { .op = T_NO_REPORT }
#define COUNTERS(h, b, s, f, to, bm, dd)                                                              \
        { .op = T_COUNTERS, .hier = h, .counters = { .begun = b, .succeeded = s, .failed = f,          \
                                                     .timed_out = to, .begin_missed = bm, .devices_dropped = dd } }
#define NDEV(h, n) { .op = T_NDEV, .hier = h, .ret = n }
/* Expected device: begun (sent BEGIN), own (an outcome named it), outcome. */
#define D(a, b, o, out) { a, b, o, out }

static const struct tcase tracker_cases[] = {
        { "idle-at-start", .steps = {
                STATE(RP, IDLE), DEADLINE(INF), NO_REPORT, COUNTERS(RP, 0, 0, 0, 0, 0, 0), NDEV(RP, 0),
        } },

        /* kernel-testbed.md: non-fatal error, recovery succeeds: BEGIN_RECOVERY on the PF and
         * each VF, then SUCCESSFUL_RECOVERY on each. */
        { "6.1-nonfatal-success", .steps = {
                EV(PF, RP, BEGIN, MS(0), RP),
                STATE(RP, RECOVERING), DEADLINE(S(10)),
                EV(VF1, RP, BEGIN, MS(1), RP),
                EV(VF2, RP, BEGIN, MS(2), RP),
                EV(VF3, RP, BEGIN, MS(3), RP),
                STATE(RP, RECOVERING), DEADLINE(MS(3) + S(10)), NDEV(RP, 4),
                EV(PF, RP, SUCCESS, MS(100), RP),
                EV(VF1, RP, SUCCESS, MS(101), RP),
                EV(VF2, RP, SUCCESS, MS(102), RP),
                STATE(RP, RECOVERING),
                EV(VF3, RP, SUCCESS, MS(103), RP),
                STATE(RP, SETTLING), DEADLINE(MS(103) + S(1)), NO_REPORT,
                TICK(MS(103) + S(1) - 1, 0), STATE(RP, SETTLING),
                TICK(MS(103) + S(1), 1), STATE(RP, IDLE), DEADLINE(INF), NDEV(RP, 0),
                REPORT(RP, RES_OK, 0, MS(103), false, 0, 0,
                       D(PF, true, true, OK), D(VF1, true, true, OK), D(VF2, true, true, OK), D(VF3, true, true, OK)),
                NO_REPORT,
                COUNTERS(RP, 1, 1, 0, 0, 0, 0),
        } },

        /* kernel-testbed.md: the same error with three driverless VFs: BEGIN on the PF only,
         * then FAILED on the PF and every VF. The PF's FAILED resolves the affected set; the
         * VFs' FAILED arrive in the settle window and join the same recovery. */
        { "6.1-nonfatal-driverless-vfs", .steps = {
                EV(PF, RP, BEGIN, MS(0), RP),
                EV(PF, RP, FAILED, MS(50), RP),
                STATE(RP, SETTLING), DEADLINE(MS(50) + S(1)),
                EV(VF1, RP, FAILED, MS(51), RP),
                EV(VF2, RP, FAILED, MS(52), RP),
                EV(VF3, RP, FAILED, MS(53), RP),
                STATE(RP, SETTLING), DEADLINE(MS(53) + S(1)),
                TICK(MS(53) + S(1), 1),
                REPORT(RP, RES_FAIL, 0, MS(53), false, 4, 0,
                       D(PF, true, true, FAIL), D(VF1, false, true, FAIL), D(VF2, false, true, FAIL),
                       D(VF3, false, true, FAIL)),
                NO_REPORT,
                COUNTERS(RP, 1, 0, 1, 0, 0, 0),
        } },

        /* kernel-testbed.md: surprise down (fatal): BEGIN on the PF, then FAILED
         * (DEVICE_ONLINE=0) on the PF and every VF; the daemon's event loop may lag, so the VF
         * events come late but each within the window of the one before. */
        { "6.1-fatal-sdn", .steps = {
                EV(PF, RP, BEGIN, S(0)),
                EV(PF, RP, FAILED, S(3)),
                EV(VF1, RP, FAILED, S(3) + MS(900)),
                EV(VF2, RP, FAILED, S(4) + MS(800)),
                TICK(S(5) + MS(700), 0),
                EV(VF3, RP, FAILED, S(5) + MS(700)),
                STATE(RP, SETTLING),
                TICK(S(6) + MS(700), 1),
                REPORT(RP, RES_FAIL, 0, S(5) + MS(700), false, 4, 0,
                       D(PF, true, true, FAIL), D(VF1, false, true, FAIL), D(VF2, false, true, FAIL),
                       D(VF3, false, true, FAIL)),
                COUNTERS(RP, 1, 0, 1, 0, 0, 0),
        } },

        /* Old kernels: FAILED only on the bridge where recovery started, here the root port,
         * which sent no BEGIN. It counts for everything below it. */
        { "old-kernel-failed-on-root-port", .steps = {
                EV(PF, RP, BEGIN, MS(0), RP),
                EV(VF1, RP, BEGIN, MS(1), RP),
                EV(VF2, RP, BEGIN, MS(2), RP),
                EV(RP, RP, FAILED, MS(500)),
                STATE(RP, SETTLING),
                TICK(MS(500) + S(1), 1),
                REPORT(RP, RES_FAIL, 0, MS(500), false, 4, 0,
                       D(PF, true, false, FAIL), D(VF1, true, false, FAIL), D(VF2, true, false, FAIL),
                       D(RP, false, true, FAIL)),
                COUNTERS(RP, 1, 0, 1, 0, 0, 0),
        } },

        /* Old kernel, recovery started at a switch downstream port: its FAILED counts for
         * the PF below it, not for the PF below the other downstream port. */
        { "old-kernel-failed-on-switch-port", .steps = {
                EV(PF3, RP3, BEGIN, MS(0), DSP, USP, RP3),
                EV(VF31, RP3, BEGIN, MS(1), DSP, USP, RP3),
                EV(PF4, RP3, BEGIN, MS(2), DSP2, USP, RP3),
                EV(DSP, RP3, FAILED, MS(10), USP, RP3),
                STATE(RP3, RECOVERING), STATE(RP, IDLE),
                EV(PF4, RP3, SUCCESS, MS(20), DSP2, USP, RP3),
                STATE(RP3, SETTLING),
                TICK(S(2), 1),
                REPORT(RP3, RES_FAIL, 0, MS(20), false, 3, 0,
                       D(PF3, true, false, FAIL), D(VF31, true, false, FAIL), D(PF4, true, true, OK),
                       D(DSP, false, true, FAIL)),
        } },

        /* An outcome on the switch's upstream port covers both downstream ports. */
        { "old-kernel-failed-on-upstream-port", .steps = {
                EV(PF3, RP3, BEGIN, MS(0), DSP, USP, RP3),
                EV(PF4, RP3, BEGIN, MS(2), DSP2, USP, RP3),
                EV(USP, RP3, SUCCESS, MS(10), RP3),
                STATE(RP3, SETTLING),
                TICK(S(2), 1),
                REPORT(RP3, RES_OK, 0, MS(10), false, 0, 0,
                       D(PF3, true, false, OK), D(PF4, true, false, OK), D(USP, false, true, OK)),
        } },

        /* New kernels: FAILED on every device below the bridge, none on the bridge. */
        { "new-kernel-failed-every-device", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(VF1, RP, BEGIN, MS(1)),
                EV(PF, RP, FAILED, MS(10)),
                STATE(RP, RECOVERING),
                EV(VF1, RP, FAILED, MS(11)),
                STATE(RP, SETTLING),
                EV(VF2, RP, FAILED, MS(12)),
                EV(VF3, RP, FAILED, MS(13)),
                TICK(MS(13) + S(1), 1),
                REPORT(RP, RES_FAIL, 0, MS(13), false, 4, 0,
                       D(PF, true, true, FAIL), D(VF1, true, true, FAIL), D(VF2, false, true, FAIL),
                       D(VF3, false, true, FAIL)),
        } },

        /* The root port named in the chain or not: the same. */
        { "root-port-in-chain-or-not", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(VF1, RP, BEGIN, MS(0), RP, RP),
                EV(RP, RP, SUCCESS, MS(5), RP),
                STATE(RP, SETTLING),
                TICK(S(5), 1),
                REPORT(RP, RES_OK, 0, MS(5), false, 0, 0,
                       D(PF, true, false, OK), D(VF1, true, false, OK), D(RP, false, true, OK)),
        } },

        /* No event for timeout_usec while outcomes are missing. */
        { "timeout", .steps = {
                EV(PF, RP, BEGIN, S(0)),
                EV(VF1, RP, BEGIN, S(0)),
                EV(PF, RP, SUCCESS, S(1)),
                DEADLINE(S(11)),
                TICK(S(11) - 1, 0), STATE(RP, RECOVERING),
                TICK(S(11), 1), STATE(RP, IDLE), DEADLINE(INF),
                REPORT(RP, RES_TIMEOUT, 0, S(11), false, 0, 0, D(PF, true, true, OK), D(VF1, true, false, PEND)),
                COUNTERS(RP, 1, 0, 0, 1, 0, 0),
        } },

        { "timeout-without-any-outcome", .steps = {
                EV(PF, RP, BEGIN, S(2)),
                TICK(S(30), 1),
                REPORT(RP, RES_TIMEOUT, S(2), S(12), false, 0, 0, D(PF, true, false, PEND)),
        } },

        /* A failure seen before the deadline makes the result FAILED, not TIMED_OUT. */
        { "timeout-with-a-failure-is-failed", .steps = {
                EV(PF, RP, BEGIN, S(0)),
                EV(VF1, RP, BEGIN, S(0)),
                EV(PF, RP, FAILED, S(1)),
                TICK(S(11), 1),
                REPORT(RP, RES_FAIL, 0, S(11), false, 1, 0, D(PF, true, true, FAIL), D(VF1, true, false, PEND)),
                COUNTERS(RP, 1, 0, 1, 0, 0, 0),
        } },

        { "configured-timeout", .timeout = S(3), .steps = {
                EV(PF, RP, BEGIN, S(0)),
                DEADLINE(S(3)),
                EV(VF1, RP, BEGIN, S(2)),
                DEADLINE(S(5)),                 /* since the last event */
                TICK(S(4), 0),
                TICK(S(5), 1),
                REPORT(RP, RES_TIMEOUT, 0, S(5), false, 0, 0, D(PF, true, false, PEND), D(VF1, true, false, PEND)),
        } },

        /* An event after a passed deadline expires it first, as tick() would. */
        { "event-after-deadline-expires-first", .steps = {
                EV(PF, RP, BEGIN, S(0)),
                EV(PF, RP, BEGIN, S(20)),
                REPORT(RP, RES_TIMEOUT, 0, S(10), false, 0, 0, D(PF, true, false, PEND)),
                STATE(RP, RECOVERING), DEADLINE(S(30)),
                EV(PF, RP, SUCCESS, S(21)),
                TICK(S(22), 1),
                REPORT(RP, RES_OK, S(20), S(21), false, 0, 0, D(PF, true, true, OK)),
                COUNTERS(RP, 2, 1, 0, 1, 0, 0),
        } },

        /* Lost BEGIN (receive buffer overflow) or a driverless device: the outcome alone
         * starts and resolves a recovery, so a FAILED is never missed. */
        { "outcome-while-idle", .steps = {
                EV(PF, RP, FAILED, S(1)),
                STATE(RP, SETTLING),
                TICK(S(2), 1),
                REPORT(RP, RES_FAIL, S(1), S(1), true, 1, 0, D(PF, false, true, FAIL)),
                COUNTERS(RP, 1, 0, 1, 0, 1, 0),
        } },

        /* Without a settle window the recovery ends on the resolving event, and the 6.1
         * kernel's trailing VF outcomes become recoveries of their own: why the window. */
        { "settle-zero", .settle_zero = true, .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(PF, RP, FAILED, MS(10)),
                STATE(RP, IDLE), DEADLINE(INF),
                REPORT(RP, RES_FAIL, 0, MS(10), false, 1, 0, D(PF, true, true, FAIL)),
                EV(VF1, RP, FAILED, MS(11)),
                REPORT(RP, RES_FAIL, MS(11), MS(11), true, 1, 0, D(VF1, false, true, FAIL)),
                COUNTERS(RP, 2, 0, 2, 0, 1, 0),
        } },

        /* A BEGIN after all outcomes: the kernel started a new recovery. */
        { "begin-while-settling-starts-new", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(PF, RP, SUCCESS, MS(10)),
                STATE(RP, SETTLING),
                EV(PF, RP, BEGIN, MS(500)),
                REPORT(RP, RES_OK, 0, MS(10), false, 0, 0, D(PF, true, true, OK)),
                STATE(RP, RECOVERING), DEADLINE(MS(500) + S(10)),
                EV(PF, RP, FAILED, MS(600)),
                TICK(S(2), 1),
                REPORT(RP, RES_FAIL, MS(500), MS(600), false, 1, 0, D(PF, true, true, FAIL)),
                COUNTERS(RP, 2, 1, 1, 0, 0, 0),
        } },

        /* A BEGIN from a device that already has its outcome while others are missing: the
         * kernel's recovery ended and a new one began; the missing outcomes will not come. */
        { "begin-after-own-outcome-starts-new", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(VF1, RP, BEGIN, MS(1)),
                EV(PF, RP, SUCCESS, MS(10)),
                STATE(RP, RECOVERING),
                EV(PF, RP, BEGIN, MS(20)),
                REPORT(RP, RES_TIMEOUT, 0, MS(10), false, 0, 0, D(PF, true, true, OK), D(VF1, true, false, PEND)),
                STATE(RP, RECOVERING), NDEV(RP, 1),
                COUNTERS(RP, 2, 0, 0, 1, 0, 0),
        } },

        { "duplicate-begin-is-one-device", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(PF, RP, BEGIN, MS(1)),
                NDEV(RP, 1),
                EV(PF, RP, SUCCESS, MS(2)),
                STATE(RP, SETTLING),
                TICK(S(2), 1),
                REPORT(RP, RES_OK, 0, MS(2), false, 0, 0, D(PF, true, true, OK)),
                COUNTERS(RP, 1, 1, 0, 0, 0, 0),
        } },

        { "failed-wins-over-successful", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(PF, RP, SUCCESS, MS(1)),
                EV(PF, RP, FAILED, MS(2)),
                EV(PF, RP, SUCCESS, MS(3)),
                TICK(S(2), 1),
                REPORT(RP, RES_FAIL, 0, MS(3), false, 1, 0, D(PF, true, true, FAIL)),
        } },

        { "two-hierarchies-independent", .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(PF2, RP2, BEGIN, MS(5)),
                STATE(RP, RECOVERING), STATE(RP2, RECOVERING), DEADLINE(S(10)),
                EV(PF, RP, FAILED, MS(100)),
                STATE(RP, SETTLING), STATE(RP2, RECOVERING), DEADLINE(MS(100) + S(1)),
                TICK(MS(100) + S(1), 1),
                STATE(RP, IDLE), STATE(RP2, RECOVERING), DEADLINE(MS(5) + S(10)),
                REPORT(RP, RES_FAIL, 0, MS(100), false, 1, 0, D(PF, true, true, FAIL)),
                NO_REPORT,
                EV(PF2, RP2, SUCCESS, S(3)),
                TICK(S(4), 1),
                REPORT(RP2, RES_OK, MS(5), S(3), false, 0, 0, D(PF2, true, true, OK)),
                COUNTERS(RP, 1, 0, 1, 0, 0, 0),
                COUNTERS(RP2, 1, 1, 0, 0, 0, 0),
        } },

        /* Both end on the same tick: one report each. */
        { "two-hierarchies-same-tick", .steps = {
                EV(PF, RP, BEGIN, S(0)),
                EV(PF2, RP2, BEGIN, S(0)),
                TICK(S(10), 2),
                REPORT(RP, RES_TIMEOUT, 0, S(10), false, 0, 0, D(PF, true, false, PEND)),
                REPORT(RP2, RES_TIMEOUT, 0, S(10), false, 0, 0, D(PF2, true, false, PEND)),
        } },

        { "invalid-kind", .steps = {
                EVR(-EINVAL, PF, RP, SRIOV_ERROR_EVENT_NONE, 0),
                EVR(-EINVAL, PF, RP, _SRIOV_ERROR_EVENT_KIND_MAX, 0),
                EVR(-EINVAL, PF, RP, _SRIOV_ERROR_EVENT_KIND_INVALID, 0),
                STATE(RP, IDLE), COUNTERS(RP, 0, 0, 0, 0, 0, 0),
        } },

        { "max-hierarchies", .max_hierarchies = 2, .steps = {
                EV(PF, RP, BEGIN, 0),
                EV(PF2, RP2, BEGIN, 0),
                EVR(-ENOSPC, PF3, RP3, BEGIN, 0),
                STATE(RP3, IDLE),
                EV(PF, RP, SUCCESS, 1),         /* known ones still work */
        } },

        /* Devices past the cap: not listed, counted, not waited for; a failure among them
         * still makes the recovery FAILED. */
        { "max-devices", .max_devices = 2, .steps = {
                EV(PF, RP, BEGIN, MS(0)),
                EV(VF1, RP, BEGIN, MS(1)),
                EV(VF2, RP, BEGIN, MS(2)),
                NDEV(RP, 2),
                EV(PF, RP, SUCCESS, MS(10)),
                EV(VF1, RP, SUCCESS, MS(11)),
                STATE(RP, SETTLING),
                EV(VF2, RP, SUCCESS, MS(12)),
                EV(VF3, RP, FAILED, MS(13)),
                TICK(S(2), 1),
                REPORT(RP, RES_FAIL, 0, MS(13), false, 1, 3, D(PF, true, true, OK), D(VF1, true, true, OK)),
                COUNTERS(RP, 1, 0, 1, 0, 0, 3),
        } },

        /* A bridge outcome still applies to listed devices when the bridge itself was dropped. */
        { "max-devices-bridge-outcome-applies", .max_devices = 1, .steps = {
                EV(PF3, RP3, BEGIN, MS(0), DSP, USP),
                EV(DSP, RP3, FAILED, MS(1), USP),
                STATE(RP3, SETTLING),
                TICK(S(2), 1),
                REPORT(RP3, RES_FAIL, 0, MS(1), false, 2, 1, D(PF3, true, false, FAIL)),
        } },

        /* Only the nearest SRIOV_RECOVERY_CHAIN_MAX bridges are kept. */
        { "chain-longer-than-cap", .steps = {
                EV(PF3, RP3, BEGIN, MS(0), "0000:10:00.0", "0000:11:00.0", "0000:12:00.0", "0000:13:00.0",
                   "0000:14:00.0", "0000:15:00.0", "0000:16:00.0", "0000:17:00.0", "0000:18:00.0", "0000:19:00.0"),
                EV("0000:19:00.0", RP3, FAILED, MS(1)),      /* the 10th: forgotten */
                STATE(RP3, RECOVERING),
                EV("0000:17:00.0", RP3, FAILED, MS(2)),      /* the 8th: kept */
                STATE(RP3, SETTLING),
        } },

        /* Nobody pops: the oldest reports go, counted. */
        { "reports-bounded", .max_reports = 2, .settle_zero = true, .steps = {
                EV(PF, RP, FAILED, S(1)),
                EV(PF, RP, FAILED, S(2)),
                EV(PF, RP, FAILED, S(3)),
                REPORT(RP, RES_FAIL, S(2), S(2), true, 1, 0, D(PF, false, true, FAIL)),
                REPORT(RP, RES_FAIL, S(3), S(3), true, 1, 0, D(PF, false, true, FAIL)),
                NO_REPORT,
                COUNTERS(RP, 3, 0, 3, 0, 3, 0),
        } },
};

static void fill_bridges(const struct tstep *s, struct sriov_addr *b, size_t *n) {
        *n = 0;
        for (size_t i = 0; i < ELEMENTSOF(s->bridges) && s->bridges[i]; i++)
                b[(*n)++] = A(s->bridges[i]);
}

static void check_report(const struct tstep *s, const struct sriov_recovery_report *r) {
        struct sriov_addr h = A(s->hier);
        size_t n = 0;

        assert_non_null(r);
        assert_true(sriov_addr_equal(&r->hierarchy, &h));
        assert_string_equal(sriov_recovery_result_to_string(r->result), sriov_recovery_result_to_string(s->result));
        assert_int_equal(r->start_usec, s->start);
        assert_int_equal(r->end_usec, s->end);
        assert_int_equal(r->begin_missed, s->begin_missed);
        assert_int_equal(r->n_failed, s->n_failed);
        assert_int_equal(r->n_dropped, s->n_dropped);
        while (n < ELEMENTSOF(s->devs) && s->devs[n].addr)
                n++;
        assert_int_equal(r->n_devices, n);
        for (size_t i = 0; i < n; i++) {
                struct sriov_addr a = A(s->devs[i].addr);
                if (!sriov_addr_equal(&r->devices[i].addr, &a))
                        fail_msg("device %zu: got %s, expected %s", i, SRIOV_ADDR_STR(&r->devices[i].addr),
                                 s->devs[i].addr);
                assert_int_equal(r->devices[i].begun, s->devs[i].begun);
                assert_int_equal(r->devices[i].own_outcome, s->devs[i].own);
                assert_string_equal(sriov_device_outcome_to_string(r->devices[i].outcome),
                                    sriov_device_outcome_to_string(s->devs[i].outcome));
        }
}

static void test_tracker(void **state) {
        const struct tcase *c = *state;
        _cleanup_(sriov_recovery_tracker_freep) sriov_recovery_tracker *t = NULL;
        struct sriov_recovery_tracker_config cfg;

        sriov_recovery_tracker_config_init(&cfg);
        cfg.timeout_usec = c->timeout ?: S(10);
        cfg.settle_usec = c->settle_zero ? 0 : c->settle ?: S(1);
        if (c->max_devices)
                cfg.max_devices = c->max_devices;
        if (c->max_hierarchies)
                cfg.max_hierarchies = c->max_hierarchies;
        if (c->max_reports)
                cfg.max_reports = c->max_reports;
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), 0);

        for (size_t i = 0; i < ELEMENTSOF(c->steps) && c->steps[i].op != T_END; i++) {
                const struct tstep *s = &c->steps[i];
                struct sriov_addr dev, hier, bridges[ELEMENTSOF(s->bridges)];
                _cleanup_(sriov_recovery_report_freep) struct sriov_recovery_report *r = NULL;
                struct sriov_recovery_counters cnt;
                size_t nb;

                print_message("step %zu\n", i);
                if (s->hier)
                        hier = A(s->hier);
                switch (s->op) {
                case T_EV:
                        dev = A(s->dev);
                        fill_bridges(s, bridges, &nb);
                        assert_errno_equal(sriov_recovery_tracker_event(t, &dev, &hier, nb ? bridges : NULL, nb,
                                                                        s->kind, s->t), s->ret);
                        break;
                case T_TICK:
                        assert_int_equal(sriov_recovery_tracker_tick(t, s->t), s->ret);
                        break;
                case T_STATE:
                        assert_string_equal(sriov_hierarchy_state_to_string(sriov_recovery_tracker_get_state(t, &hier)),
                                            sriov_hierarchy_state_to_string(s->state));
                        assert_int_equal(sriov_recovery_tracker_is_recovering(t, &hier), s->state != IDLE);
                        break;
                case T_DEADLINE:
                        assert_int_equal(sriov_recovery_tracker_next_deadline(t), s->t);
                        break;
                case T_REPORT:
                        assert_int_equal(sriov_recovery_tracker_pop_report(t, &r), 1);
                        check_report(s, r);
                        break;
                case T_NO_REPORT:
                        assert_int_equal(sriov_recovery_tracker_pop_report(t, &r), 0);
                        assert_null(r);
                        break;
                case T_COUNTERS:
                        sriov_recovery_tracker_get_counters(t, &hier, &cnt);
                        assert_int_equal(cnt.begun, s->counters.begun);
                        assert_int_equal(cnt.succeeded, s->counters.succeeded);
                        assert_int_equal(cnt.failed, s->counters.failed);
                        assert_int_equal(cnt.timed_out, s->counters.timed_out);
                        assert_int_equal(cnt.begin_missed, s->counters.begin_missed);
                        assert_int_equal(cnt.devices_dropped, s->counters.devices_dropped);
                        break;
                case T_NDEV:
                        assert_int_equal(sriov_recovery_tracker_n_devices(t, &hier), (size_t) s->ret);
                        break;
                default:
                        fail();
                }
        }
}

static void test_tracker_config(void **state) {
        struct sriov_recovery_tracker_config cfg;
        sriov_recovery_tracker *t = NULL;
        struct sriov_addr pf = A(PF), rp = A(RP);

        sriov_recovery_tracker_config_init(&cfg);
        assert_int_equal(cfg.timeout_usec, SRIOV_RECOVERY_TIMEOUT_USEC_DEFAULT);
        assert_int_equal(cfg.settle_usec, SRIOV_RECOVERY_SETTLE_USEC_DEFAULT);
        cfg.max_devices = 0;
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), -EINVAL);
        sriov_recovery_tracker_config_init(&cfg);
        cfg.max_hierarchies = 0;
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), -EINVAL);
        sriov_recovery_tracker_config_init(&cfg);
        cfg.max_reports = 0;
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), -EINVAL);
        assert_null(t);
        assert_errno_equal(sriov_recovery_tracker_new(NULL, NULL), -EINVAL);

        /* NULL config: defaults. */
        assert_errno_equal(sriov_recovery_tracker_new(NULL, &t), 0);
        assert_errno_equal(sriov_recovery_tracker_event(t, &pf, &rp, NULL, 0, BEGIN, 0), 0);
        assert_int_equal(sriov_recovery_tracker_next_deadline(t), SRIOV_RECOVERY_TIMEOUT_USEC_DEFAULT);
        assert_errno_equal(sriov_recovery_tracker_event(t, NULL, &rp, NULL, 0, BEGIN, 0), -EINVAL);
        assert_errno_equal(sriov_recovery_tracker_event(t, &pf, NULL, NULL, 0, BEGIN, 0), -EINVAL);
        assert_errno_equal(sriov_recovery_tracker_event(t, &pf, &rp, NULL, 1, BEGIN, 0), -EINVAL);
        /* Freeing with a recovery running and reports queued leaks nothing (valgrind). */
        assert_errno_equal(sriov_recovery_tracker_event(t, &rp, &rp, NULL, 0, FAILED, 1), 0);
        assert_int_equal(sriov_recovery_tracker_tick(t, S(100)), 1);
        assert_errno_equal(sriov_recovery_tracker_event(t, &pf, &rp, NULL, 0, BEGIN, S(101)), 0);
        t = sriov_recovery_tracker_free(t);
        assert_null(sriov_recovery_tracker_free(NULL));
}

static void test_tracker_strings(void **state) {
        assert_string_equal(sriov_hierarchy_state_to_string(SRIOV_HIERARCHY_SETTLING), "settling");
        assert_null(sriov_hierarchy_state_to_string(_SRIOV_HIERARCHY_STATE_MAX));
        for (int i = 0; i < _SRIOV_RECOVERY_RESULT_MAX; i++)
                assert_int_equal(sriov_recovery_result_from_string(sriov_recovery_result_to_string(i)), i);
        assert_string_equal(sriov_recovery_result_to_string(SRIOV_RECOVERY_TIMED_OUT), "timed-out");
        assert_errno_equal(sriov_recovery_result_from_string("Failed"), -EINVAL);
        assert_null(sriov_recovery_result_to_string(-1));
        assert_string_equal(sriov_device_outcome_to_string(SRIOV_DEVICE_OUTCOME_NONE), "none");
}

/* Deterministic pseudo-random numbers (a 64-bit LCG, Knuth's MMIX constants). */
static uint64_t rnd(uint64_t *s) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        return *s >> 33;
}

static size_t heap_in_use(void) {
        /* Zero under valgrind, whose allocator mallinfo2() does not see: the check then
         * rests on the tracker's own counts below. */
        return mallinfo2().uordblks;
}

/* 100k events of every kind from 64k distinct functions under four root ports, with time
 * moving on and a consumer that pops now and then: memory stays bounded by the caps, the
 * counters add up, nothing is lost without being counted. */
static void test_storm(void **state) {
        _cleanup_(sriov_recovery_tracker_freep) sriov_recovery_tracker *t = NULL;
        struct sriov_recovery_tracker_config cfg;
        struct sriov_addr rps[4] = { A("0000:00:02.0"), A("0000:00:03.0"), A("0000:00:04.0"), A("0000:00:05.0") };
        uint64_t seed = 1, now = 0, popped = 0;
        size_t heap_before, heap_peak = 0;
        const unsigned n_events = 100000;

        sriov_recovery_tracker_config_init(&cfg);
        cfg.max_devices = 256;
        cfg.max_reports = 16;
        cfg.timeout_usec = S(10);
        cfg.settle_usec = MS(500);
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), 0);
        heap_before = heap_in_use();

        for (unsigned i = 0; i < n_events; i++) {
                unsigned h = (unsigned) (rnd(&seed) % 4);
                struct sriov_addr dev, bridge;
                SriovErrorEventKind kind = (SriovErrorEventKind) (1 + rnd(&seed) % 3);

                sriov_addr_from_rid(0, (uint16_t) (0x100 + rnd(&seed) % 0xfe00), &dev);
                sriov_addr_from_rid(0, (uint16_t) (rnd(&seed) % 0x100), &bridge);
                now += rnd(&seed) % MS(200);
                assert_errno_equal(sriov_recovery_tracker_event(t, &dev, &rps[h], &bridge, 1, kind, now), 0);

                for (unsigned k = 0; k < 4; k++) {
                        assert_true(sriov_recovery_tracker_n_devices(t, &rps[k]) <= cfg.max_devices);
                        assert_true(sriov_recovery_tracker_n_allocated(t, &rps[k]) <= cfg.max_devices);
                }
                if (i % 997 == 0) {
                        struct sriov_recovery_report *r;
                        while (sriov_recovery_tracker_pop_report(t, &r) > 0) {
                                assert_true(r->n_devices <= cfg.max_devices);
                                popped++;
                                sriov_recovery_report_free(r);
                        }
                }
                if (heap_in_use() > heap_peak)
                        heap_peak = heap_in_use();
        }
        assert_int_equal(sriov_recovery_tracker_n_hierarchies(t), 4);
        /* 4 device tables of 256 entries and 16 reports: well below 2 MiB. */
        if (heap_before)
                assert_true(heap_peak - heap_before < 2u * 1024u * 1024u);

        /* Every recovery that began ended exactly once, or is still running. */
        sriov_recovery_tracker_tick(t, INF);
        uint64_t begun = 0, ended = 0, dropped = 0;
        for (unsigned k = 0; k < 4; k++) {
                struct sriov_recovery_counters c;
                sriov_recovery_tracker_get_counters(t, &rps[k], &c);
                begun += c.begun;
                ended += c.succeeded + c.failed + c.timed_out;
                dropped += c.devices_dropped;
                assert_false(sriov_recovery_tracker_is_recovering(t, &rps[k]));
        }
        assert_true(begun > 0);
        assert_int_equal(begun, ended);
        struct sriov_recovery_report *r;
        while (sriov_recovery_tracker_pop_report(t, &r) > 0) {
                popped++;
                sriov_recovery_report_free(r);
        }
        assert_int_equal(popped + sriov_recovery_tracker_reports_dropped(t), ended);
        print_message("storm: %" PRIu64 " recoveries, %" PRIu64 " reports dropped, %" PRIu64 " devices dropped\n",
                      ended, sriov_recovery_tracker_reports_dropped(t), dropped);
}

/* One recovery that never ends while 100k distinct functions send BEGIN: one table of
 * max_devices entries, the rest counted. */
static void test_storm_one_recovery(void **state) {
        _cleanup_(sriov_recovery_tracker_freep) sriov_recovery_tracker *t = NULL;
        _cleanup_(sriov_recovery_report_freep) struct sriov_recovery_report *r = NULL;
        struct sriov_recovery_tracker_config cfg;
        struct sriov_addr rp = A(RP);
        const unsigned n_events = 100000;
        struct sriov_recovery_counters c;

        sriov_recovery_tracker_config_init(&cfg);
        assert_errno_equal(sriov_recovery_tracker_new(&cfg, &t), 0);
        for (unsigned i = 0; i < n_events; i++) {
                unsigned n = i + 0x100;        /* from bus 1 on: never the root port */
                struct sriov_addr dev = { .domain = n >> 16, .bus = (uint8_t) (n >> 8), .slot = (n >> 3) & 0x1f, .func = n & 7 };
                /* every event within the timeout of the one before */
                assert_errno_equal(sriov_recovery_tracker_event(t, &dev, &rp, &rp, 1, BEGIN, (uint64_t) i * 100), 0);
        }
        assert_int_equal(sriov_recovery_tracker_n_devices(t, &rp), cfg.max_devices);
        assert_int_equal(sriov_recovery_tracker_n_allocated(t, &rp), cfg.max_devices);
        sriov_recovery_tracker_get_counters(t, &rp, &c);
        assert_int_equal(c.devices_dropped, n_events - cfg.max_devices);
        assert_int_equal(c.begun, 1);

        /* The root port's FAILED resolves all of them at once. */
        assert_errno_equal(sriov_recovery_tracker_event(t, &rp, &rp, NULL, 0, FAILED, S(20)), 0);
        assert_int_equal(sriov_recovery_tracker_tick(t, INF), 1);
        assert_int_equal(sriov_recovery_tracker_pop_report(t, &r), 1);
        assert_int_equal(r->result, SRIOV_RECOVERY_FAILED);
        assert_int_equal(r->n_devices, cfg.max_devices);
        assert_int_equal(r->n_dropped, n_events - cfg.max_devices + 1);       /* + the root port */
        assert_int_equal(r->n_failed, cfg.max_devices + 1);
        assert_int_equal(r->n_events, n_events + 1);
        assert_int_equal(sriov_recovery_tracker_n_allocated(t, &rp), 0);     /* freed when it ended */
}

/* A switch with 40 downstream ports, a PF below each: more bridges than the tracker
 * keeps in its quick-lookup set. The old kernel's FAILED on the last port must still reach
 * the PF below it (and only that one). */
static void test_many_bridges(void **state) {
        _cleanup_(sriov_recovery_tracker_freep) sriov_recovery_tracker *t = NULL;
        _cleanup_(sriov_recovery_report_freep) struct sriov_recovery_report *r = NULL;
        struct sriov_addr rp = A(RP3), usp = A(USP), dsp[40], pf[40];

        assert_errno_equal(sriov_recovery_tracker_new(NULL, &t), 0);
        for (unsigned i = 0; i < 40; i++) {
                dsp[i] = (struct sriov_addr) { .bus = 4, .slot = (uint8_t) (i / 8), .func = (uint8_t) (i % 8) };
                pf[i] = (struct sriov_addr) { .bus = (uint8_t) (0x10 + i) };
                struct sriov_addr chain[] = { dsp[i], usp, rp };
                assert_errno_equal(sriov_recovery_tracker_event(t, &pf[i], &rp, chain, 3, BEGIN, i), 0);
        }
        for (unsigned i = 0; i < 39; i++)
                assert_errno_equal(sriov_recovery_tracker_event(t, &pf[i], &rp, NULL, 0, SUCCESS, 100 + i), 0);
        assert_int_equal(sriov_recovery_tracker_get_state(t, &rp), RECOVERING);
        struct sriov_addr chain[] = { usp, rp };
        assert_errno_equal(sriov_recovery_tracker_event(t, &dsp[39], &rp, chain, 2, FAILED, 200), 0);
        assert_int_equal(sriov_recovery_tracker_get_state(t, &rp), SETTLING);
        assert_int_equal(sriov_recovery_tracker_tick(t, INF), 1);
        assert_int_equal(sriov_recovery_tracker_pop_report(t, &r), 1);
        assert_int_equal(r->result, SRIOV_RECOVERY_FAILED);
        assert_int_equal(r->n_devices, 41);
        assert_int_equal(r->n_failed, 2);       /* the port and the PF below it */
        assert_int_equal(r->devices[38].outcome, OK);
        assert_int_equal(r->devices[39].outcome, FAIL);
        assert_false(r->devices[39].own_outcome);
        assert_true(sriov_addr_equal(&r->devices[40].addr, &dsp[39]));
}

/* ---------------------------------------------------------------------------------------
 * PF recovery
 * ------------------------------------------------------------------------------------- */

#define BRIDGE RP

enum pop {
        P_END,
        P_START,
        P_DONE,         /* step_done(current seq + seq_delta, result) */
        P_APPEAR,
        P_TIMEOUT,
};

struct pstep {
        enum pop op;
        uint64_t t;
        int result;
        int seq_delta;
        const char *addr;
        int ret;
        SriovPfActionKind expect;
        uint64_t deadline;              /* 0: not checked */
        unsigned attempt;               /* 0: not checked */
};

struct pcase {
        const char *name;
        SriovRecoveryPolicy policy;     /* 0 (none) only with .policy_set */
        bool policy_set;
        unsigned max_attempts;          /* 0: 3 */
        uint64_t backoff_base, backoff_max; /* 0: 5 s, 60 s */
        unsigned num_vfs;
        struct pstep steps[40];
};

#define START(t_, k, ...) { .op = P_START, .t = t_, .expect = k, __VA_ARGS__ }
#define DONE(t_, r, k, ...) { .op = P_DONE, .t = t_, .result = r, .expect = k, __VA_ARGS__ }
#define DONE_SEQ(t_, d, r, ret_, k) { .op = P_DONE, .t = t_, .seq_delta = d, .result = r, .ret = ret_, .expect = k }
#define APPEAR(t_, a, k, ...) { .op = P_APPEAR, .t = t_, .addr = a, .expect = k, __VA_ARGS__ }
#define TIMEOUT(t_, k, ...) { .op = P_TIMEOUT, .t = t_, .expect = k, __VA_ARGS__ }
#define DL(x) .deadline = (x)
#define AT(n) .attempt = (n)
#define RET(r) .ret = (r)

#define DISABLE_VFS SRIOV_PF_ACTION_DISABLE_VFS
#define REMOVE_PF SRIOV_PF_ACTION_REMOVE_PF
#define REMOVE_BRIDGE SRIOV_PF_ACTION_REMOVE_BRIDGE
#define RESCAN_PORT SRIOV_PF_ACTION_RESCAN_PORT
#define RESCAN_BUS SRIOV_PF_ACTION_RESCAN_BUS
#define WAIT_PF SRIOV_PF_ACTION_WAIT_PF
#define RESET_PF SRIOV_PF_ACTION_RESET_PF
#define RESTORE_VFS SRIOV_PF_ACTION_RESTORE_VFS
#define RESTORE_BINDINGS SRIOV_PF_ACTION_RESTORE_BINDINGS
#define VERIFY SRIOV_PF_ACTION_VERIFY
#define WAIT_RETRY SRIOV_PF_ACTION_WAIT_RETRY
#define DONE_OK SRIOV_PF_ACTION_DONE_OK
#define DONE_FAILED SRIOV_PF_ACTION_DONE_FAILED
#define NOTIFY_ONLY SRIOV_PF_ACTION_NOTIFY_ONLY

/* Default timeouts: DISABLE_VFS 10 s, WAIT_PF 30 s, RESTORE_VFS 300 s, others 30 s. */
static const struct pcase pf_cases[] = {
        /* kernel-testbed.md: "writing 0 to sriov_numvfs first, then removing the PF and
         * rescanning the root port, brought the PF back and VFs could be enabled again". */
        { "remove-rescan-success", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS, DL(S(10)), AT(1)),
                DONE(S(1), 0, REMOVE_PF, DL(S(31)), AT(1)),
                DONE(S(2), 0, RESCAN_PORT, DL(S(32))),
                DONE(S(3), 0, WAIT_PF, DL(S(33))),
                APPEAR(S(4), PF, RESTORE_VFS, DL(S(304))),
                DONE(S(5), 0, RESTORE_BINDINGS, DL(S(35))),
                DONE(S(6), 0, VERIFY, DL(S(36))),
                DONE(S(7), 0, DONE_OK, DL(INF), AT(1)),
        } },

        /* kernel-testbed.md: "removing the root port itself (its bus goes with it, VFs
         * included) and writing 1 to /sys/bus/pci/rescan also brought everything back". */
        { "disable-fails-falls-back-to-bridge", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), -EIO, REMOVE_BRIDGE, DL(S(31)), AT(1)),
                DONE(S(2), 0, RESCAN_BUS, DL(S(32))),
                DONE(S(3), 0, WAIT_PF, DL(S(33))),
                APPEAR(S(4), PF, RESTORE_VFS),
                DONE(S(5), 0, RESTORE_BINDINGS),
                DONE(S(6), 0, VERIFY),
                DONE(S(7), 0, DONE_OK, AT(1)),
        } },

        /* Writing 0 can hang on a dead device: its deadline leads to the same fallback, and
         * the worker's late answer is not taken for the bridge removal. */
        { "disable-hangs-falls-back-to-bridge", .num_vfs = 1, .steps = {
                START(S(0), DISABLE_VFS, DL(S(10))),
                TIMEOUT(S(10) - 1, DISABLE_VFS, DL(S(10))),
                TIMEOUT(S(10), REMOVE_BRIDGE, DL(S(40)), AT(1)),
                DONE_SEQ(S(12), -1, -EIO, -ESTALE, REMOVE_BRIDGE),
                DONE(S(13), 0, RESCAN_BUS),
                DONE(S(14), 0, WAIT_PF),
                APPEAR(S(15), PF, RESTORE_VFS),
        } },

        { "remove-pf-fails-retries-with-backoff", .num_vfs = 2, .steps = {
                START(S(0), DISABLE_VFS, AT(1)),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), -EBUSY, WAIT_RETRY, DL(S(2) + S(5)), AT(1)),
                DONE_SEQ(S(3), 0, 0, -ESTALE, WAIT_RETRY),           /* nothing to report in a wait */
                TIMEOUT(S(6), WAIT_RETRY, DL(S(7))),                  /* early: nothing happens */
                TIMEOUT(S(7), DISABLE_VFS, DL(S(17)), AT(2)),
                DONE(S(8), 0, REMOVE_PF, AT(2)),
                DONE(S(9), -EBUSY, WAIT_RETRY, DL(S(9) + S(10)), AT(2)),
                TIMEOUT(S(19), DISABLE_VFS, AT(3)),
                DONE(S(20), 0, REMOVE_PF, AT(3)),
                DONE(S(21), -EBUSY, DONE_FAILED, DL(INF), AT(3)),    /* max 3: no fourth */
                TIMEOUT(S(1000), DONE_FAILED),
                DONE_SEQ(S(1001), 0, 0, -ESTALE, DONE_FAILED),
        } },

        /* base * 2^(n-1), capped: 5, 10, 12, 12. */
        { "backoff-capped", .max_attempts = 5, .backoff_max = S(12), .steps = {
                START(0, DISABLE_VFS, AT(1)),
                DONE(0, 0, REMOVE_PF),
                DONE(0, -EIO, WAIT_RETRY, DL(S(5))),
                TIMEOUT(S(5), DISABLE_VFS, AT(2)),
                DONE(S(5), 0, REMOVE_PF),
                DONE(S(5), -EIO, WAIT_RETRY, DL(S(15))),
                TIMEOUT(S(15), DISABLE_VFS, AT(3)),
                DONE(S(15), 0, REMOVE_PF),
                DONE(S(15), -EIO, WAIT_RETRY, DL(S(27))),
                TIMEOUT(S(27), DISABLE_VFS, AT(4)),
                DONE(S(27), 0, REMOVE_PF),
                DONE(S(27), -EIO, WAIT_RETRY, DL(S(39))),
                TIMEOUT(S(39), DISABLE_VFS, AT(5)),
                DONE(S(39), 0, REMOVE_PF),
                DONE(S(39), -EIO, DONE_FAILED, AT(5)),
        } },

        { "max-attempts-1-no-retry", .max_attempts = 1, .steps = {
                START(0, DISABLE_VFS),
                DONE(1, 0, REMOVE_PF),
                DONE(2, -ENODEV, DONE_FAILED, AT(1)),
        } },

        /* The PF was removed but did not come back in time: the retry rescans instead of
         * writing to a PF that is gone. */
        { "wait-pf-timeout-retry-rescans-port", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF, DL(S(33))),
                TIMEOUT(S(33), WAIT_RETRY, DL(S(38)), AT(1)),
                TIMEOUT(S(38), RESCAN_PORT, AT(2)),
                DONE(S(39), 0, WAIT_PF, DL(S(69))),
                APPEAR(S(40), PF, RESTORE_VFS, AT(2)),
                DONE(S(41), 0, RESTORE_BINDINGS),
                DONE(S(42), 0, VERIFY),
                DONE(S(43), 0, DONE_OK, AT(2)),
        } },

        { "bridge-removed-retry-rescans-bus", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), -ENODEV, REMOVE_BRIDGE),
                DONE(S(2), 0, RESCAN_BUS),
                DONE(S(3), -EIO, WAIT_RETRY, AT(1)),
                TIMEOUT(S(8), RESCAN_BUS, AT(2)),
                DONE(S(9), 0, WAIT_PF),
                APPEAR(S(10), PF, RESTORE_VFS),
        } },

        /* The add uevent overtakes the rescan worker's completion: no wait for it. */
        { "pf-appears-before-rescan-done", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                APPEAR(S(3), PF, RESCAN_PORT),
                DONE(S(4), 0, RESTORE_VFS, DL(S(304))),
                DONE(S(5), 0, RESTORE_BINDINGS),
        } },

        /* An add seen before the removal was issued does not count. */
        /* An add seen before the removal completed is not the PF coming back: it may have
         * been queued before the removal happened. */
        { "pf-appears-before-removal-ignored", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                APPEAR(S(1), PF, DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                APPEAR(S(1), PF, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
        } },

        { "pf-appears-before-bridge-rescan-done", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), -EIO, REMOVE_BRIDGE),
                APPEAR(S(1), PF, REMOVE_BRIDGE),
                DONE(S(2), 0, RESCAN_BUS),
                APPEAR(S(2), PF, RESCAN_BUS),
                DONE(S(3), 0, RESTORE_VFS),
        } },

        { "other-device-appearing-ignored", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), VF1, WAIT_PF),
                APPEAR(S(4), PF2, WAIT_PF),
                APPEAR(S(5), PF, RESTORE_VFS),
        } },

        /* WAIT_PF gave up, the PF came back during the backoff: the next attempt starts
         * from the top, the PF is there to write to. */
        { "pf-appears-during-wait-retry", .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                TIMEOUT(S(33), WAIT_RETRY),
                APPEAR(S(35), PF, WAIT_RETRY),
                TIMEOUT(S(38), DISABLE_VFS, AT(2)),
        } },

        { "no-vfs-wanted-skips-restore", .num_vfs = 0, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), PF, RESTORE_BINDINGS),
                DONE(S(5), 0, VERIFY),
                DONE(S(6), 0, DONE_OK),
        } },

        { "restore-vfs-fails-retry", .num_vfs = 4, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), PF, RESTORE_VFS),
                DONE(S(5), -ERANGE, WAIT_RETRY, DL(S(10))),
                TIMEOUT(S(10), DISABLE_VFS, AT(2)),      /* the PF is back: from the top */
        } },

        { "restore-vfs-times-out", .num_vfs = 4, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), PF, RESTORE_VFS, DL(S(304))),
                TIMEOUT(S(304), WAIT_RETRY, DL(S(309))),
        } },

        { "restore-bindings-fails-retry", .num_vfs = 1, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), PF, RESTORE_VFS),
                DONE(S(5), 0, RESTORE_BINDINGS),
                DONE(S(6), -EINVAL, WAIT_RETRY),
        } },

        { "verify-fails-retry", .num_vfs = 1, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), 0, WAIT_PF),
                APPEAR(S(4), PF, RESTORE_VFS),
                DONE(S(5), 0, RESTORE_BINDINGS),
                DONE(S(6), 0, VERIFY),
                DONE(S(7), -EIO, WAIT_RETRY),
        } },

        { "rescan-fails-retry", .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF),
                DONE(S(2), 0, RESCAN_PORT),
                DONE(S(3), -EIO, WAIT_RETRY, AT(1)),
                TIMEOUT(S(8), RESCAN_PORT, AT(2)),      /* the PF was removed: rescan first */
        } },

        { "remove-pf-times-out", .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, REMOVE_PF, DL(S(31))),
                TIMEOUT(S(31), WAIT_RETRY, DL(S(36))),
                TIMEOUT(S(36), DISABLE_VFS, AT(2)),      /* unknown whether it went: from the top */
        } },

        /* Policy reset: the PF's reset attribute, after its VFs are gone. */
        { "reset-success", .policy = SRIOV_RECOVERY_POLICY_RESET, .num_vfs = 3, .steps = {
                START(S(0), DISABLE_VFS, DL(S(10))),
                DONE(S(1), 0, RESET_PF, DL(S(31))),
                DONE(S(2), 0, RESTORE_VFS, DL(S(302))),
                DONE(S(3), 0, RESTORE_BINDINGS),
                DONE(S(4), 0, VERIFY),
                DONE(S(5), 0, DONE_OK, AT(1)),
        } },

        { "reset-without-vfs-wanted", .policy = SRIOV_RECOVERY_POLICY_RESET, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, RESET_PF),
                DONE(S(2), 0, RESTORE_BINDINGS),
        } },

        /* No reset while VFs may exist, and no removal either: the attempt fails. */
        { "reset-disable-fails-attempt-fails", .policy = SRIOV_RECOVERY_POLICY_RESET, .max_attempts = 2, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), -EIO, WAIT_RETRY, DL(S(6))),
                TIMEOUT(S(6), DISABLE_VFS, AT(2)),
                TIMEOUT(S(16), DONE_FAILED, AT(2)),
        } },

        { "reset-fails-retry", .policy = SRIOV_RECOVERY_POLICY_RESET, .steps = {
                START(S(0), DISABLE_VFS),
                DONE(S(1), 0, RESET_PF),
                DONE(S(2), -ENOTTY, WAIT_RETRY),
                TIMEOUT(S(7), DISABLE_VFS, AT(2)),
        } },

        { "notify-only", .policy = SRIOV_RECOVERY_POLICY_NOTIFY, .steps = {
                START(S(0), NOTIFY_ONLY, DL(INF)),
                TIMEOUT(S(100), NOTIFY_ONLY),
                APPEAR(S(100), PF, NOTIFY_ONLY),
                DONE_SEQ(S(100), 0, 0, -ESTALE, NOTIFY_ONLY),
        } },

        { "policy-none", .policy = SRIOV_RECOVERY_POLICY_NONE, .policy_set = true, .steps = {
                START(S(0), DONE_FAILED, DL(INF)),
                TIMEOUT(S(100), DONE_FAILED),
        } },

        { "inputs-before-start", .steps = {
                DONE_SEQ(0, 0, 0, -ENOTCONN, SRIOV_PF_ACTION_NONE),
                { .op = P_TIMEOUT, .t = 0, .ret = -ENOTCONN, .expect = SRIOV_PF_ACTION_NONE },
                { .op = P_APPEAR, .t = 0, .addr = PF, .ret = -ENOTCONN, .expect = SRIOV_PF_ACTION_NONE },
                START(0, DISABLE_VFS),
                { .op = P_START, .t = 1, .ret = -EALREADY, .expect = DISABLE_VFS },
        } },

        { "stale-and-invalid-step-done", .steps = {
                START(0, DISABLE_VFS),
                DONE_SEQ(1, 1, 0, -ESTALE, DISABLE_VFS),       /* a future seq */
                DONE_SEQ(1, -1, 0, -ESTALE, DISABLE_VFS),      /* a past one */
                DONE_SEQ(1, 0, 5, -EINVAL, DISABLE_VFS),       /* positive result */
                DONE(2, 0, REMOVE_PF),
                DONE(3, 0, RESCAN_PORT),
                DONE(4, 0, WAIT_PF),
                DONE_SEQ(5, 0, 0, -ESTALE, WAIT_PF),            /* nobody performs a wait */
        } },

        { "after-done-ok-nothing-moves", .steps = {
                START(0, DISABLE_VFS),
                DONE(1, 0, REMOVE_PF),
                DONE(2, 0, RESCAN_PORT),
                DONE(3, 0, WAIT_PF),
                APPEAR(4, PF, RESTORE_BINDINGS),
                DONE(5, 0, VERIFY),
                DONE(6, 0, DONE_OK),
                TIMEOUT(S(9999), DONE_OK),
                APPEAR(S(9999), PF, DONE_OK),
        } },
};

static void make_pf_config(const struct pcase *c, struct sriov_pf_recovery_config *cfg) {
        sriov_pf_recovery_config_init(cfg);
        if (c->policy != 0 || c->policy_set)
                cfg->policy = c->policy;
        if (c->max_attempts)
                cfg->max_attempts = c->max_attempts;
        if (c->backoff_base)
                cfg->backoff_base_usec = c->backoff_base;
        if (c->backoff_max)
                cfg->backoff_max_usec = c->backoff_max;
        cfg->num_vfs = c->num_vfs;
}

static bool on_bridge(SriovPfActionKind k) {
        return k == REMOVE_BRIDGE || k == RESCAN_PORT || k == RESCAN_BUS;
}

static void test_pf(void **state) {
        const struct pcase *c = *state;
        _cleanup_(sriov_pf_recovery_freep) sriov_pf_recovery *r = NULL;
        struct sriov_pf_recovery_config cfg;
        struct sriov_addr pf = A(PF), bridge = A(BRIDGE);

        make_pf_config(c, &cfg);
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), 0);

        for (size_t i = 0; i < ELEMENTSOF(c->steps) && c->steps[i].op != P_END; i++) {
                const struct pstep *s = &c->steps[i];
                struct sriov_pf_action before, a = { .kind = 99 }, now;
                struct sriov_addr addr;
                int ret = 0;

                print_message("step %zu\n", i);
                sriov_pf_recovery_get_action(r, &before);
                switch (s->op) {
                case P_START:
                        ret = sriov_pf_recovery_start(r, s->t, &a);
                        break;
                case P_DONE:
                        ret = sriov_pf_recovery_step_done(r, before.seq + (uint64_t) (int64_t) s->seq_delta,
                                                          s->result, s->t, &a);
                        break;
                case P_APPEAR:
                        addr = A(s->addr);
                        ret = sriov_pf_recovery_device_appeared(r, &addr, s->t, &a);
                        break;
                case P_TIMEOUT:
                        ret = sriov_pf_recovery_timeout(r, s->t, &a);
                        break;
                default:
                        fail();
                }
                assert_errno_equal(ret, s->ret);
                sriov_pf_recovery_get_action(r, &now);
                if (ret < 0) {
                        assert_int_equal(a.kind, 99);           /* ret_action untouched */
                        assert_int_equal(now.seq, before.seq);   /* nothing changed */
                } else {
                        assert_int_equal(a.kind, now.kind);
                        assert_int_equal(a.seq, now.seq);
                }
                if (now.kind != s->expect)
                        fail_msg("got %s, expected %s", sriov_pf_action_kind_to_string(now.kind),
                                 sriov_pf_action_kind_to_string(s->expect));
                if (s->deadline)
                        assert_int_equal(now.deadline_usec, s->deadline);
                if (s->attempt)
                        assert_int_equal(now.attempt, s->attempt);
                if (now.kind != SRIOV_PF_ACTION_NONE)
                        assert_true(sriov_addr_equal(&now.target, on_bridge(now.kind) ? &bridge : &pf));
                assert_int_equal(now.num_vfs, now.kind == RESTORE_VFS ? c->num_vfs : 0);
                assert_int_equal(sriov_pf_recovery_is_final(r),
                                 now.kind == DONE_OK || now.kind == DONE_FAILED || now.kind == NOTIFY_ONLY);
                /* A new action has a new sequence number; final ones have none. */
                if (now.kind != before.kind && now.kind != DONE_OK && now.kind != DONE_FAILED &&
                    now.kind != NOTIFY_ONLY)
                        assert_true(now.seq > before.seq);
        }
}

struct expect_step {
        SriovPfActionKind kind;
        unsigned attempt;
        uint64_t start, end;
        int result;
        bool late;
        int late_result;
};

/* The report's log for the two fallbacks: names, attempts, results, durations. */
static void test_pf_log(void **state) {
        _cleanup_(sriov_pf_recovery_freep) sriov_pf_recovery *r = NULL;
        struct sriov_pf_recovery_config cfg;
        struct sriov_addr pf = A(PF), bridge = A(BRIDGE);
        struct sriov_pf_action a;
        struct sriov_pf_step st;
        uint64_t hung_seq;

        sriov_pf_recovery_config_init(&cfg);
        cfg.num_vfs = 3;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), 0);

        assert_errno_equal(sriov_pf_recovery_start(r, S(100), &a), 0);
        hung_seq = a.seq;
        assert_errno_equal(sriov_pf_recovery_timeout(r, S(110), &a), 0);                /* hung write */
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(111), &a), 0);    /* remove bridge */
        assert_errno_equal(sriov_pf_recovery_step_done(r, hung_seq, -EIO, S(140), NULL), -ESTALE); /* late */
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(112), &a), 0);    /* rescan bus */
        assert_errno_equal(sriov_pf_recovery_timeout(r, S(142), &a), 0);                /* PF never back */
        assert_int_equal(a.kind, WAIT_RETRY);
        assert_errno_equal(sriov_pf_recovery_timeout(r, S(147), &a), 0);
        assert_int_equal(a.kind, RESCAN_BUS);
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(148), &a), 0);
        assert_errno_equal(sriov_pf_recovery_device_appeared(r, &pf, S(149), &a), 0);
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(160), &a), 0);    /* restore vfs */
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(161), &a), 0);    /* bindings */
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, S(162), &a), 0);    /* verify */
        assert_int_equal(a.kind, DONE_OK);
        assert_int_equal(sriov_pf_recovery_attempts(r), 2);
        assert_int_equal(sriov_pf_recovery_policy(r), SRIOV_RECOVERY_POLICY_REMOVE_RESCAN);

        static const struct expect_step want[] = {
                { DISABLE_VFS, 1, S(100), S(110), -ETIMEDOUT, true, -EIO },
                { REMOVE_BRIDGE, 1, S(110), S(111), 0 },
                { RESCAN_BUS, 1, S(111), S(112), 0 },
                { WAIT_PF, 1, S(112), S(142), -ETIMEDOUT },
                { WAIT_RETRY, 1, S(142), S(147), 0 },
                { RESCAN_BUS, 2, S(147), S(148), 0 },
                { WAIT_PF, 2, S(148), S(149), 0 },
                { RESTORE_VFS, 2, S(149), S(160), 0 },
                { RESTORE_BINDINGS, 2, S(160), S(161), 0 },
                { VERIFY, 2, S(161), S(162), 0 },
        };
        assert_int_equal(sriov_pf_recovery_n_steps(r), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_errno_equal(sriov_pf_recovery_get_step(r, i, &st), 0);
                assert_string_equal(sriov_pf_action_kind_to_string(st.kind), sriov_pf_action_kind_to_string(want[i].kind));
                assert_int_equal(st.attempt, want[i].attempt);
                assert_int_equal(st.start_usec, want[i].start);
                assert_int_equal(st.end_usec, want[i].end);
                assert_true(st.finished);
                assert_errno_equal(st.result, want[i].result);
                assert_int_equal(st.late, want[i].late);
                if (want[i].late) {
                        assert_errno_equal(st.late_result, want[i].late_result);
                        assert_int_equal(st.late_usec, S(140));
                }
        }
        assert_errno_equal(sriov_pf_recovery_get_step(r, ELEMENTSOF(want), &st), -ERANGE);
}

static void test_pf_log_early_add(void **state) {
        _cleanup_(sriov_pf_recovery_freep) sriov_pf_recovery *r = NULL;
        struct sriov_addr pf = A(PF), bridge = A(BRIDGE);
        struct sriov_pf_action a;
        struct sriov_pf_step st;

        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, NULL, &r), 0);
        assert_errno_equal(sriov_pf_recovery_start(r, 0, &a), 0);
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, 1, &a), 0);
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, 2, &a), 0);
        assert_errno_equal(sriov_pf_recovery_device_appeared(r, &pf, 3, &a), 0);
        assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, 4, &a), 0);
        assert_int_equal(a.kind, RESTORE_BINDINGS);     /* defaults: num_vfs 0 */
        /* The WAIT_PF that needed no waiting is in the log, zero long. */
        assert_int_equal(sriov_pf_recovery_n_steps(r), 5);
        assert_errno_equal(sriov_pf_recovery_get_step(r, 3, &st), 0);
        assert_int_equal(st.kind, WAIT_PF);
        assert_int_equal(st.start_usec, 4);
        assert_int_equal(st.end_usec, 4);
        assert_int_equal(st.result, 0);
        assert_errno_equal(sriov_pf_recovery_get_step(r, 4, &st), 0);
        assert_int_equal(st.kind, RESTORE_BINDINGS);
        assert_false(st.finished);
}

static void test_pf_notify_log(void **state) {
        _cleanup_(sriov_pf_recovery_freep) sriov_pf_recovery *r = NULL;
        struct sriov_pf_recovery_config cfg;
        struct sriov_addr pf = A(PF), bridge = A(BRIDGE);
        struct sriov_pf_step st;

        sriov_pf_recovery_config_init(&cfg);
        cfg.policy = SRIOV_RECOVERY_POLICY_NOTIFY;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), 0);
        assert_errno_equal(sriov_pf_recovery_start(r, 7, NULL), 0);
        assert_int_equal(sriov_pf_recovery_attempts(r), 0);
        assert_int_equal(sriov_pf_recovery_n_steps(r), 1);
        assert_errno_equal(sriov_pf_recovery_get_step(r, 0, &st), 0);
        assert_int_equal(st.kind, NOTIFY_ONLY);
        assert_true(st.finished);

        r = sriov_pf_recovery_free(r);
        cfg.policy = SRIOV_RECOVERY_POLICY_NONE;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), 0);
        assert_errno_equal(sriov_pf_recovery_start(r, 7, NULL), 0);
        assert_int_equal(sriov_pf_recovery_n_steps(r), 0);
        assert_int_equal(sriov_pf_recovery_attempts(r), 0);
}

static void test_pf_config(void **state) {
        struct sriov_pf_recovery_config cfg;
        struct sriov_addr pf = A(PF), bridge = A(BRIDGE);
        sriov_pf_recovery *r = NULL;

        sriov_pf_recovery_config_init(&cfg);
        assert_int_equal(cfg.policy, SRIOV_RECOVERY_POLICY_REMOVE_RESCAN);
        assert_int_equal(cfg.max_attempts, 3);

        cfg.max_attempts = 0;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -EINVAL);
        cfg.max_attempts = SRIOV_PF_RECOVERY_ATTEMPTS_MAX + 1;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -ERANGE);
        sriov_pf_recovery_config_init(&cfg);
        cfg.backoff_base_usec = 0;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -EINVAL);
        sriov_pf_recovery_config_init(&cfg);
        cfg.backoff_max_usec = cfg.backoff_base_usec - 1;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -EINVAL);
        sriov_pf_recovery_config_init(&cfg);
        cfg.policy = _SRIOV_RECOVERY_POLICY_MAX;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -EINVAL);
        cfg.policy = _SRIOV_RECOVERY_POLICY_INVALID;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), -EINVAL);
        assert_errno_equal(sriov_pf_recovery_new(NULL, &bridge, NULL, &r), -EINVAL);
        assert_errno_equal(sriov_pf_recovery_new(&pf, NULL, NULL, &r), -EINVAL);
        assert_null(r);

        /* Huge backoff values do not overflow into short waits. */
        sriov_pf_recovery_config_init(&cfg);
        cfg.max_attempts = SRIOV_PF_RECOVERY_ATTEMPTS_MAX;
        cfg.backoff_base_usec = UINT64_MAX / 4;
        cfg.backoff_max_usec = UINT64_MAX - 1;
        assert_errno_equal(sriov_pf_recovery_new(&pf, &bridge, &cfg, &r), 0);
        struct sriov_pf_action a;
        uint64_t now = 0;
        assert_errno_equal(sriov_pf_recovery_start(r, now, &a), 0);
        for (unsigned i = 1; i <= 4; i++) {
                assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, 0, now, &a), 0);   /* disable */
                assert_errno_equal(sriov_pf_recovery_step_done(r, a.seq, -EIO, now, &a), 0); /* remove pf */
                assert_int_equal(a.kind, WAIT_RETRY);
                assert_true(a.deadline_usec >= UINT64_MAX / 4);
                now = 0;        /* stay at 0 so the deadline shows the backoff itself */
                assert_errno_equal(sriov_pf_recovery_timeout(r, a.deadline_usec, &a), 0);
                assert_int_equal(a.kind, DISABLE_VFS);
        }
        r = sriov_pf_recovery_free(r);
        assert_null(sriov_pf_recovery_free(NULL));
}

static void test_pf_strings(void **state) {
        static const char *const policies[] = { "none", "notify", "remove-rescan", "reset" };

        for (int i = 0; i < _SRIOV_RECOVERY_POLICY_MAX; i++) {
                assert_string_equal(sriov_recovery_policy_to_string(i), policies[i]);
                assert_int_equal(sriov_recovery_policy_from_string(policies[i]), i);
        }
        assert_errno_equal(sriov_recovery_policy_from_string("remove_rescan"), -EINVAL);
        assert_errno_equal(sriov_recovery_policy_from_string(NULL), -EINVAL);
        assert_null(sriov_recovery_policy_to_string(_SRIOV_RECOVERY_POLICY_MAX));
        for (int i = 0; i < _SRIOV_PF_ACTION_KIND_MAX; i++) {
                const char *s = sriov_pf_action_kind_to_string(i);
                assert_non_null(s);
                assert_int_equal(sriov_pf_action_kind_from_string(s), i);
        }
        assert_string_equal(sriov_pf_action_kind_to_string(DISABLE_VFS), "disable-vfs");
        assert_string_equal(sriov_pf_action_kind_to_string(RESTORE_BINDINGS), "restore-bindings");
        assert_null(sriov_pf_action_kind_to_string(-1));
}

int main(void) {
        struct unit_tests l = {};

        for (size_t i = 0; i < ELEMENTSOF(tracker_cases); i++)
                unit_add(&l, test_tracker, (void *) &tracker_cases[i], "tracker/%s", tracker_cases[i].name);
        unit_add(&l, test_tracker_config, NULL, "tracker/config");
        unit_add(&l, test_tracker_strings, NULL, "tracker/strings");
        unit_add(&l, test_many_bridges, NULL, "tracker/many-bridges");
        unit_add(&l, test_storm, NULL, "tracker/storm-100k");
        unit_add(&l, test_storm_one_recovery, NULL, "tracker/storm-100k-one-recovery");
        for (size_t i = 0; i < ELEMENTSOF(pf_cases); i++)
                unit_add(&l, test_pf, (void *) &pf_cases[i], "pf/%s", pf_cases[i].name);
        unit_add(&l, test_pf_log, NULL, "pf/log-fallbacks-late-result");
        unit_add(&l, test_pf_log_early_add, NULL, "pf/log-early-add");
        unit_add(&l, test_pf_notify_log, NULL, "pf/log-notify-none");
        unit_add(&l, test_pf_config, NULL, "pf/config");
        unit_add(&l, test_pf_strings, NULL, "pf/strings");
        return unit_run(&l, "recovery");
}
