#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""events: PCIe error uevent ingest and the event history.

sriovd (--history-size 1024 or 65536, --log-level info) watches a PF with AER counter
files below a root port with AER.  The benchmark sends it 10k or 100k kernel-format
uevents "change" with ERROR_EVENT=BEGIN_RECOVERY / SUCCESSFUL_RECOVERY (alternating,
DEVICE_ONLINE 0 / 1) as fast as its socket takes them: messages are pre-built and sent
with blocking sendto() on the testbed's event socket (flow control: at most
net.unix.max_dgram_qlen datagrams wait in sriovd's queue), so the sender is not the
bottleneck.  Measured: events/s from the first send until sriovd has handled the last
one (a final event with an unknown ERROR_EVENT value shows up in GET /v1/events), sriovd's
CPU time per event, VmRSS / VmHWM before and after.  sriovd records its own events too
(KERNEL_RECOVERY_SUCCEEDED when the kernel's recovery of a hierarchy ends), so the
history holds about 1.5 records per uevent.

Then, with the history full: GET /v1/events latency (all events, ?limit=100,
?since=<recorded-100>, ?device=<pf>), the response size, and VmHWM after them.

Each (history size, event count) pair runs against a fresh daemon.

Run: /usr/bin/python3 bench/events.py [--quick] [--counts 10000,100000] [--history 1024,65536]
Results: bench/results/events.json (events-quick.json with --quick).
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

RP1, PF1 = '0000:00:02.0', '0000:01:00.0'


def make_sim():
    sim = B.BenchSim()
    sim.add_root_port(RP1, secondary_bus=0x01, subordinate_bus=0x01)
    sim.add_pf(PF1, RP1, total_vfs=8, vf_driver='nvme')
    sim.add_aer(PF1)
    sim.enable_vfs(PF1, 4)
    return sim


def recorded(sim):
    st, body = B.get_json(sim, '/v1/events?limit=1')
    return body['recorded']


def ingest(sim, pid, count):
    socks = sim.listeners()
    if len(socks) != 1:
        raise RuntimeError('expected one event socket, found %r' % socks)
    begin = sim.build_uevent(PF1, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE=0)
    done = sim.build_uevent(PF1, 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE=1)
    msgs = [begin, done]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.settimeout(30)
    base = recorded(sim)   # sriovd also records its own events (KERNEL_RECOVERY_*)
    st0 = B.proc_status(pid)
    cpu0 = B.proc_cpu_s(pid)
    seq = 10_000_000
    t0 = time.monotonic()
    for i in range(count):
        seq += 1
        s.sendto(msgs[i & 1] + b'SEQNUM=%d\0' % seq, socks[0])
    # A last event with an ERROR_EVENT value sriovd does not know: it records it as
    # UNKNOWN_ERROR_EVENT, and events are handled in order, so once it is in the
    # history every event before it was handled.
    s.sendto(sim.build_uevent(PF1, 'change', ERROR_EVENT='BENCH_SENTINEL_%d' % seq)
             + b'SEQNUM=%d\0' % (seq + 1), socks[0])
    t_sent = time.monotonic()
    marker = 'BENCH_SENTINEL_%d' % seq

    def sentinel_seen():
        st, body = B.get_json(sim, '/v1/events?limit=4')
        return any(marker in e.get('message', '') for e in body['events'])
    B.wait_until(sentinel_seen, 300, interval=0.01, what='%d events handled' % count)
    t1 = time.monotonic()
    time.sleep(0.1)
    cpu1 = B.proc_cpu_s(pid)
    st1 = B.proc_status(pid)
    s.close()
    return {'events': count, 'send_s': t_sent - t0, 'total_s': t1 - t0,
            'events_per_s': count / (t1 - t0), 'daemon_cpu_s': cpu1 - cpu0,
            'daemon_cpu_us_per_event': (cpu1 - cpu0) * 1e6 / count,
            'rss_kib_before': st0['VmRSS'], 'rss_kib_after': st1['VmRSS'],
            'hwm_kib_after': st1['VmHWM'], 'recorded': recorded(sim) - base,
            'records_per_uevent': (recorded(sim) - base) / (count + 1)}


def queries(sim, pid, n_req):
    rec = recorded(sim)
    out = {}
    for key, path in (('all', '/v1/events'), ('limit100', '/v1/events?limit=100'),
                      ('since', '/v1/events?since=%d' % max(0, rec - 100)),
                      ('device', '/v1/events?device=' + PF1),
                      # the whole history: GET /v1/events answers the newest 1000 by default
                      ('whole', '/v1/events?limit=1000000')):
        out[key] = B.latency(sim, path, n_req)
        out[key]['path'] = path
    st = B.proc_status(pid)
    out['rss_kib_after'] = st['VmRSS']
    out['hwm_kib_after'] = st['VmHWM']
    return out


def run(history, count, n_req, with_queries):
    sim = make_sim()
    try:
        pid, ready = B.start(sim, ['--history-size', str(history)], log_level='info')
        res = {'history_size': history, 'ready_s': ready,
               'rss_kib_ready': B.proc_status(pid)['VmRSS']}
        res['ingest'] = ingest(sim, pid, count)
        if with_queries:
            res['queries'] = queries(sim, pid, n_req)
        res['daemon_alive'] = sim.proc.poll() is None
    finally:
        sim.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='10k events only, 5 requests')
    ap.add_argument('--counts', help='event counts (default 10000,100000)')
    ap.add_argument('--history', help='history sizes (default 1024,65536)')
    ap.add_argument('--requests', type=int, help='GETs per query (default 20, quick 5)')
    args = ap.parse_args()
    B.check_binaries()
    counts = [10000] if args.quick else [10000, 100000]
    if args.counts:
        counts = [int(x) for x in args.counts.split(',')]
    histories = [int(x) for x in args.history.split(',')] if args.history else [1024, 65536]
    n_req = args.requests or (5 if args.quick else 20)

    load0 = B.loadavg()
    B.print_machine(load0)
    results = []
    for h in histories:
        for c in counts:
            sys.stderr.write('events: history %d, %d events...\n' % (h, c))
            # queries once the history is full: after the largest count
            results.append(run(h, c, n_req, with_queries=(c == max(counts))))
            results[-1]['loadavg_after'] = B.loadavg()

    B.table(['history', 'events', 'events/s', 'CPU us/event', 'send s', 'total s', 'RSS before KiB',
             'RSS after KiB', 'HWM KiB', 'load1'],
            [[r['history_size'], r['ingest']['events'], r['ingest']['events_per_s'],
              r['ingest']['daemon_cpu_us_per_event'], r['ingest']['send_s'], r['ingest']['total_s'],
              r['ingest']['rss_kib_before'], r['ingest']['rss_kib_after'], r['ingest']['hwm_kib_after'],
              r['loadavg_after'][0]] for r in results],
            title='Error uevent ingest (BEGIN_RECOVERY/SUCCESSFUL_RECOVERY on one PF)')
    rows = []
    for r in results:
        q = r.get('queries')
        if not q:
            continue
        for key in ('all', 'limit100', 'since', 'device', 'whole'):
            if key not in q:
                continue
            rows.append([r['history_size'], q[key]['path'], q[key]['n'], q[key]['median_ms'],
                         q[key]['p95_ms'], q[key]['bytes'] / 1024])
        rows.append([r['history_size'], '(VmRSS / VmHWM after, KiB)', '', q['rss_kib_after'],
                     q['hwm_kib_after'], ''])
    if rows:
        B.table(['history', 'query', 'n', 'median ms', 'p95 ms', 'KiB'], rows,
                title='GET /v1/events with a full history')

    name = 'events-quick' if args.quick else 'events'
    path = B.write_results(name, {'counts': counts, 'histories': histories, 'requests': n_req,
                                  'log_level': 'info'}, results, load0)
    print('\nresults: %s' % path)


if __name__ == '__main__':
    main()
