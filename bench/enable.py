#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""enable: `sriovctl enable PF --vfs N` end to end, and the throughput of queued clients.

Part 1, for N = 4, 64, 256 (sriovd --settle-quiet-ms 200): `sriovctl enable PF --vfs N
--json` from 0 VFs, its wall time split into
  * write:  the kernel write(s) to sriov_numvfs, from sriovd's debug log ("wrote N to
            sriov_numvfs in X ms"; in the simulator the write returns at once and the
            VFs appear afterwards, unlike the real kernel where the write blocks until
            every VF exists);
  * kernel: the simulated kernel's VF uevents, first to last (VF creation; in the real
            kernel this is inside the write);
  * tail:   from the last VF uevent to sriovctl's exit: the quiet window (200 ms), the
            verification re-read, the reply, the client;
  * settle: the report's elapsed_ms minus the write;
and `sriovctl disable` the same way.  Repeated --reps times; medians over the runs that
ended with the count asked for ("early": runs where the simulated kernel, short of CPU,
sent its first uevent only after the 200 ms quiet window, so sriovd settled before the
VFs came; the real kernel write returns only once the VFs exist).

Part 2: 20 clients started at once, each `sriovctl enable` with a different VF count
(every operation changes the count: it writes 0, then the new count), either all on
one PF or 10 on each of two PFs under different root ports.  Wall time until the last
client returns, operations per second, per-client latency.

Run: /usr/bin/python3 bench/enable.py [--quick] [--reps 3] [--clients 20]
Results: bench/results/enable.json (enable-quick.json with --quick).
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

RP1, PF1 = '0000:00:02.0', '0000:01:00.0'
RP2, PF2 = '0000:00:03.0', '0000:04:00.0'
QUIET_MS = 200


def make_sim():
    sim = B.BenchSim()
    sim.add_root_port(RP1, secondary_bus=0x01, subordinate_bus=0x03)
    sim.add_pf(PF1, RP1, total_vfs=256, vf_driver='nvme')
    sim.add_root_port(RP2, secondary_bus=0x04, subordinate_bus=0x06)
    sim.add_pf(PF2, RP2, total_vfs=256, vf_driver='nvme')
    return sim


def ctl(sim, *args, timeout=300):
    return [B.simkernel.SRIOVCTL, '--socket', sim.socket_path] + list(args)


def one_change(sim, pf, n):
    """Runs `sriovctl enable pf --vfs n --json` (n > 0) or `sriovctl disable pf --json`;
    returns the split timings."""
    cursor = B.LogCursor(sim)
    first_event = len(sim.sent_times)
    argv = ctl(sim, 'enable', pf, '--vfs', str(n), '--json') if n else ctl(sim, 'disable', pf, '--json')
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    t1 = time.monotonic()
    try:
        op = json.loads(r.stdout)
    except ValueError:
        raise RuntimeError('%s: exit %d\n%s\n%s' % (' '.join(argv), r.returncode, r.stdout,
                                                     r.stderr)) from None
    report = op.get('report', op)
    # The simulated kernel carries the write out after it returned; wait for it and for
    # sriovd to show the count, so that the next run starts from n.
    sim.wait_idle(60)

    def settled():
        st, body = B.get_json(sim, '/v1/devices/' + pf)
        return body['device']['sriov']['num_vfs'] == n
    B.wait_until(settled, 60, interval=0.01, what='%d VFs in sriovd' % n)
    log = cursor.read()
    writes = [(int(m.group(2)), int(m.group(3))) for m in B.WROTE_RE.finditer(log) if m.group(1) == pf]
    write_ms = sum(ms for _, ms in writes)
    vf_events = [t for t in sim.sent_times[first_event:] if t[2] != pf]
    kernel_ms = (vf_events[-1][0] - vf_events[0][0]) * 1000 if vf_events else 0.0
    tail_ms = (t1 - vf_events[-1][0]) * 1000 if vf_events else None
    elapsed = report.get('elapsed_ms')
    return {
        'n': n, 'exit': r.returncode, 'wall_ms': (t1 - t0) * 1000, 'elapsed_ms': elapsed,
        'kernel_start_ms': (vf_events[0][0] - t0) * 1000 if vf_events else None,
        'writes': writes, 'write_ms': write_ms,
        'settle_ms': elapsed - write_ms if elapsed is not None else None,
        'kernel_ms': kernel_ms, 'vf_uevents': len(vf_events), 'tail_ms': tail_ms,
        'outcome': report.get('outcome'), 'final_num_vfs': report.get('final_num_vfs'),
    }


def part1(sizes, reps):
    sim = make_sim()
    out = []
    try:
        pid, _ = B.start(sim, ['--settle-quiet-ms', str(QUIET_MS)], log_level='debug')
        for n in sizes:
            runs_en, runs_dis = [], []
            for _ in range(reps):
                runs_en.append(one_change(sim, PF1, n))
                runs_dis.append(one_change(sim, PF1, 0))
            for what, runs in (('enable', runs_en), ('disable', runs_dis)):
                # Medians over the runs that ended with the count asked for: a run where the
                # simulated kernel (starved of CPU) sent its first uevent after the quiet
                # window settles early and reports what was there; it is counted apart.
                good = [r for r in runs if r['final_num_vfs'] == r['n']]
                row = {'n_vfs': n, 'what': what, 'reps': reps, 'runs': runs,
                       'settled_early': len(runs) - len(good)}
                for k in ('wall_ms', 'elapsed_ms', 'write_ms', 'settle_ms', 'kernel_start_ms',
                          'kernel_ms', 'tail_ms'):
                    row[k] = B.median([r[k] for r in good if r[k] is not None])
                row['outcomes'] = sorted({r['outcome'] for r in runs})
                out.append(row)
        out_rss = B.proc_status(pid)
    finally:
        sim.close()
    return out, out_rss


def part2(pfs, n_clients, base=4):
    """n_clients `sriovctl enable` started at once, round-robin over pfs; client i asks
    for base + i VFs (all different, so every operation changes the count)."""
    sim = make_sim()
    try:
        B.start(sim, ['--settle-quiet-ms', str(QUIET_MS)], log_level='info')
        # start from a non-zero count, so that every operation writes 0 and then N
        for pf in pfs:
            r = subprocess.run(ctl(sim, 'enable', pf, '--vfs', '2'), capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                raise RuntimeError('warm-up enable failed: %s' % r.stderr)
        procs = []
        t0 = time.monotonic()
        for i in range(n_clients):
            pf = pfs[i % len(pfs)]
            p = subprocess.Popen(ctl(sim, 'enable', pf, '--vfs', str(base + i), '--json'),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append((p, pf, base + i, time.monotonic()))
        lat, outcomes, failures = [], {}, []
        done = 0
        for p, pf, n, ts in procs:
            stdout, stderr = p.communicate(timeout=600)
            t = time.monotonic()
            lat.append((t - ts) * 1000)
            done = max(done, t)
            try:
                report = json.loads(stdout).get('report') or {}
            except ValueError:
                report = {}
            oc = report.get('outcome') or 'exit %d' % p.returncode
            outcomes[oc] = outcomes.get(oc, 0) + 1
            if p.returncode not in (0, 3):
                failures.append({'pf': pf, 'n': n, 'exit': p.returncode,
                                 'message': report.get('message'), 'stderr': stderr.strip()[:300]})
        wall = done - t0
        sim.wait_idle(60)
        rejected = [dict(r, value=r['value'].decode(errors='replace')) for r in sim.rejected_writes]
    finally:
        sim.close()
    # latencies measured at communicate() are upper bounds for early finishers
    return {'pfs': pfs, 'clients': n_clients, 'wall_s': wall, 'ops_per_s': n_clients / wall,
            'latency_median_ms': B.median(lat), 'latency_max_ms': max(lat), 'outcomes': outcomes,
            'failures': failures, 'kernel_rejected_writes': rejected}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='one repetition, 8 clients')
    ap.add_argument('--reps', type=int, help='repetitions per N (default 3)')
    ap.add_argument('--clients', type=int, help='clients in part 2 (default 20)')
    ap.add_argument('--sizes', help='VF counts for part 1 (default 4,64,256)')
    args = ap.parse_args()
    B.check_binaries()
    sizes = [int(x) for x in args.sizes.split(',')] if args.sizes else [4, 64, 256]
    reps = args.reps or (1 if args.quick else 3)
    clients = args.clients or (8 if args.quick else 20)

    load0 = B.loadavg()
    B.print_machine(load0)
    sys.stderr.write('enable: part 1 (N = %s, %d reps)...\n' % (sizes, reps))
    rows, rss = part1(sizes, reps)
    B.table(['N VFs', 'op', 'wall ms', 'elapsed_ms', 'write ms', 'settle ms', 'sim start ms',
             'sim VFs ms', 'tail ms', 'outcomes', 'early'],
            [[r['n_vfs'], r['what'], r['wall_ms'], r['elapsed_ms'], r['write_ms'], r['settle_ms'],
              r['kernel_start_ms'], r['kernel_ms'], r['tail_ms'], ','.join(map(str, r['outcomes'])),
              r['settled_early']] for r in rows],
            title='sriovctl enable/disable, --settle-quiet-ms %d (medians of %d)' % (QUIET_MS, reps))

    sys.stderr.write('enable: part 2 (%d clients)...\n' % clients)
    through = [part2([PF1], clients), part2([PF1, PF2], clients)]
    B.table(['PFs', 'clients', 'wall s', 'ops/s', 'latency med ms', 'latency max ms', 'outcomes'],
            [[len(t['pfs']), t['clients'], t['wall_s'], t['ops_per_s'], t['latency_median_ms'],
              t['latency_max_ms'], json.dumps(t['outcomes'])] for t in through],
            title='%d concurrent `sriovctl enable` clients (each writes 0, then 4+i VFs)' % clients)

    name = 'enable-quick' if args.quick else 'enable'
    path = B.write_results(name, {'sizes': sizes, 'reps': reps, 'clients': clients,
                                  'settle_quiet_ms': QUIET_MS},
                           {'enable_disable': rows, 'throughput': through, 'daemon_status_end': rss},
                           load0)
    print('\nresults: %s' % path)


if __name__ == '__main__':
    main()
