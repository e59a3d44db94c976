#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scale: sriovd with one PF and N VFs (N = 0, 256, 1024, 2048) in the simulated kernel.

For each N:
  * live storm: sriovd runs with 0 VFs; the simulated kernel enables N VFs behind its
    back (add, change, bind per VF, then a PF change) and later disables them
    (unbind, remove per VF).  Measured: the storm's duration (and the same storm with
    no daemon listening, i.e. the simulator's own cost), sriovd's CPU time per uevent,
    and the time from the kernel's last VF uevent to sriovd reporting all N VFs
    (GET of the last VF until it has its driver, and GET of the PF until num_vfs = N
    and every VF has its driver);
  * startup with N VFs present: exec to READY=1, VmRSS/VmHWM after start and after
    the API requests;
  * one uevent's cost: 1000 "change" uevents on the PF (sriovd re-reads the PF, i.e. its
    N virtfn links), on the last VF, on the NIC: sriovd's CPU time per uevent;
  * API: GET /v1/devices (50 requests: median, p95, size), GET /v1/devices/{pf},
    GET /v1/devices?role=pf; `sriovctl status` and `sriovctl status --json` wall time.

Layout: root port 0000:00:02.0 (buses 01-0f), PF 0000:01:00.0 (total_vfs 2048, offset 1,
stride 1: 2048 VFs span buses 01-09), VFs bind to nvme; a second root port with a
plain NIC.  sriovd runs with --log-level info.

Run: /usr/bin/python3 bench/scale.py [--quick] [--sizes 0,256] [--requests 50]
Results: bench/results/scale.json (or scale-quick.json with --quick).
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

RP1, PF = '0000:00:02.0', '0000:01:00.0'
RP2, NIC = '0000:00:03.0', '0000:10:00.0'
TOTAL_VFS = 2048
EVENTS = 1000         # uevents per event_cost() measurement


def make_sim():
    sim = B.BenchSim()
    sim.add_root_port(RP1, secondary_bus=0x01, subordinate_bus=0x0f)
    sim.add_pf(PF, RP1, total_vfs=TOTAL_VFS, vf_driver='nvme')
    sim.add_root_port(RP2, secondary_bus=0x10, subordinate_bus=0x10)
    sim.add_device(NIC, RP2, driver='e1000')
    return sim


def storm(sim, n, pid=None):
    """Enables (n > 0) or disables (n == 0) VFs through the simulated kernel, in this
    process.  Returns timings; with pid, also sriovd's CPU time and its lag."""
    before_events = len(sim.sent_times)
    cpu0 = B.proc_cpu_s(pid) if pid else None
    t0 = time.monotonic()
    r = sim.enable_vfs(PF, n)
    t1 = time.monotonic()
    if r != n:
        raise RuntimeError('simulated kernel answered %r to %d' % (r, n))
    sent = sim.sent_times[before_events:]
    vf_events = [t for t in sent if t[2] != PF]
    out = {'uevents': len(sent), 'vf_uevents': len(vf_events), 'storm_s': t1 - t0,
           'uevents_per_s': len(sent) / (t1 - t0) if t1 > t0 else None}
    if pid is None:
        return out
    t_last = vf_events[-1][0] if vf_events else t1
    if n > 0:
        last_vf = B.simkernel.vf_address(PF, 1, 1, n - 1)

        def last_vf_bound():
            st, body = B.get_json(sim, '/v1/devices/' + last_vf)
            return st == 200 and body['device']['driver'] == 'nvme'
        B.wait_until(last_vf_bound, 120, what='the last VF bound in sriovd')
        t_vf = time.monotonic()
    else:
        t_vf = None

    def pf_complete():
        st, body = B.get_json(sim, '/v1/devices/' + PF)
        s = body['device']['sriov']
        return s['num_vfs'] == n and all(v['driver'] == 'nvme' for v in s['vfs'])
    B.wait_until(pf_complete, 120, what='%d VFs in sriovd' % n)
    t_pf = time.monotonic()
    # let the daemon finish its last batch before reading its CPU time
    time.sleep(0.2)
    cpu1 = B.proc_cpu_s(pid)
    out.update({
        'lag_last_vf_ms': (t_vf - t_last) * 1000 if t_vf else None,
        'lag_pf_complete_ms': (t_pf - t_last) * 1000,
        'daemon_cpu_s': cpu1 - cpu0,
        'daemon_cpu_us_per_uevent': (cpu1 - cpu0) * 1e6 / len(sent) if sent else None,
        'rss_kib_after': B.proc_status(pid)['VmRSS'],
    })
    return out


def event_cost(sim, pid, addr, count):
    """sriovd's CPU time per 'change' uevent on addr: count pre-built kernel-format
    uevents, then an unknown ERROR_EVENT on the NIC as a sentinel (events are handled in
    order; it shows up in GET /v1/events once everything before it was handled)."""
    sock_path = sim.listeners()[0]
    msg = sim.build_uevent(addr, 'change')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.settimeout(30)
    marker = 'BENCH_SENTINEL_%s_%d' % (addr, time.monotonic_ns())
    cpu0 = B.proc_cpu_s(pid)
    t0 = time.monotonic()
    for i in range(count):
        s.sendto(msg + b'SEQNUM=%d\0' % (20_000_000 + i), sock_path)
    s.sendto(sim.build_uevent(NIC, 'change', ERROR_EVENT=marker) + b'SEQNUM=1\0', sock_path)
    s.close()

    def seen():
        st, body = B.get_json(sim, '/v1/events?limit=4')
        return any(marker in e.get('message', '') for e in body['events'])
    B.wait_until(seen, 300, interval=0.005, what='sentinel event')
    t1 = time.monotonic()
    cpu1 = B.proc_cpu_s(pid)
    return {'events': count, 'wall_s': t1 - t0, 'events_per_s': count / (t1 - t0),
            'daemon_cpu_us_per_uevent': (cpu1 - cpu0) * 1e6 / count}


def measure(n, requests, status_runs):
    res = {'n_vfs': n}
    sim = make_sim()
    try:
        if n > 0:
            # the simulator alone: nobody listens
            res['sim_only_enable'] = storm(sim, n)
            res['sim_only_disable'] = storm(sim, 0)

            pid, _ = B.start(sim)
            res['live_enable'] = storm(sim, n, pid)
            sim.stop_daemon()

        pid, ready = B.start(sim)
        res['startup_ready_s'] = ready
        st = B.proc_status(pid)
        res['rss_kib_ready'] = st['VmRSS']
        res['hwm_kib_ready'] = st['VmHWM']

        status, body = B.get_json(sim, '/v1/devices/' + PF)
        res['pf_num_vfs_seen'] = body['device']['sriov']['num_vfs']
        res['get_devices'] = B.latency(sim, '/v1/devices', requests)
        res['get_pf'] = B.latency(sim, '/v1/devices/' + PF, requests)
        res['get_role_pf'] = B.latency(sim, '/v1/devices?role=pf', requests)
        st = B.proc_status(pid)
        res['rss_kib_after_api'] = st['VmRSS']
        res['hwm_kib_after_api'] = st['VmHWM']

        ctl = [B.simkernel.SRIOVCTL, '--socket', sim.socket_path, 'status']
        for key, argv in (('ctl_status', ctl), ('ctl_status_json', ctl + ['--json'])):
            times = []
            out_bytes = None
            for _ in range(status_runs):
                dt, r = B.wall(argv)
                if r.returncode != 0:
                    raise RuntimeError('%s: %d %s' % (' '.join(argv), r.returncode, r.stderr))
                times.append(dt * 1000)
                out_bytes = len(r.stdout)
            res[key] = {'n': status_runs, 'median_ms': B.median(times), 'p95_ms': B.p95(times),
                        'stdout_bytes': out_bytes}

        # the cost of one uevent, on the PF (re-reads its N virtfn links) and on a VF
        res['uevent_pf_change'] = event_cost(sim, pid, PF, EVENTS)
        if n > 0:
            res['uevent_vf_change'] = event_cost(sim, pid, B.simkernel.vf_address(PF, 1, 1, n - 1),
                                                 EVENTS)
        res['uevent_nic_change'] = event_cost(sim, pid, NIC, EVENTS)

        if n > 0:
            res['live_disable'] = storm(sim, 0, pid)
        res['daemon_alive'] = sim.proc.poll() is None
        res['dropped_uevents'] = len(sim.dropped_uevents)
    finally:
        sim.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='N = 0, 256, 1024; 10 requests')
    ap.add_argument('--sizes', help='comma-separated VF counts (max %d)' % TOTAL_VFS)
    ap.add_argument('--requests', type=int, help='GETs per endpoint (default 50, quick 10)')
    args = ap.parse_args()
    B.check_binaries()
    sizes = [0, 256, 1024] if args.quick else [0, 256, 1024, 2048]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(',')]
    requests = args.requests or (10 if args.quick else 50)
    status_runs = 3 if args.quick else 10

    load0 = B.loadavg()
    B.print_machine(load0)
    results = []
    for n in sizes:
        sys.stderr.write('scale: N=%d ...\n' % n)
        t = time.monotonic()
        results.append(measure(n, requests, status_runs))
        results[-1]['bench_wall_s'] = time.monotonic() - t
        results[-1]['loadavg_after'] = B.loadavg()

    B.table(['N VFs', 'ready s', 'RSS KiB', 'HWM KiB', 'GET med ms', 'GET p95 ms', 'GET KiB',
             'PF med ms', 'status ms', 'status --json ms', 'load1'],
            [[r['n_vfs'], r['startup_ready_s'], r['rss_kib_ready'], r['hwm_kib_after_api'],
              r['get_devices']['median_ms'], r['get_devices']['p95_ms'],
              r['get_devices']['bytes'] / 1024, r['get_pf']['median_ms'],
              r['ctl_status']['median_ms'], r['ctl_status_json']['median_ms'],
              r['loadavg_after'][0]] for r in results],
            title='Startup with N VFs present, and the API (GET /v1/devices: %d requests)' % requests)

    rows = []
    for r in results:
        for what in ('enable', 'disable'):
            live = r.get('live_' + what)
            sim_only = r.get('sim_only_' + what)
            if not live:
                continue
            rows.append([r['n_vfs'], what, live['uevents'], sim_only['storm_s'], live['storm_s'],
                         live['uevents_per_s'], live['daemon_cpu_s'], live['daemon_cpu_us_per_uevent'],
                         live['lag_last_vf_ms'], live['lag_pf_complete_ms'], live['rss_kib_after']])
    if rows:
        B.table(['N VFs', 'storm', 'uevents', 'sim-only s', 'with sriovd s', 'uevents/s',
                 'sriovd CPU s', 'CPU us/uevent', 'lag last VF ms', 'lag PF ms', 'RSS KiB'],
                rows, title='VF storms behind sriovd\'s back (simulated kernel, in-process)')

    B.table(['N VFs', 'PF change us', 'PF change/s', 'VF change us', 'VF change/s', 'NIC change us'],
            [[r['n_vfs'], r['uevent_pf_change']['daemon_cpu_us_per_uevent'],
              r['uevent_pf_change']['events_per_s'],
              r.get('uevent_vf_change', {}).get('daemon_cpu_us_per_uevent'),
              r.get('uevent_vf_change', {}).get('events_per_s'),
              r['uevent_nic_change']['daemon_cpu_us_per_uevent']] for r in results],
            title='sriovd CPU time per "change" uevent (%d each; us = CPU microseconds per uevent)'
            % EVENTS)

    name = 'scale-quick' if args.quick else 'scale'
    path = B.write_results(name, {'sizes': sizes, 'requests': requests, 'status_runs': status_runs,
                                  'total_vfs': TOTAL_VFS, 'log_level': 'info'}, results, load0)
    print('\nresults: %s' % path)


if __name__ == '__main__':
    main()
