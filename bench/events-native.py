#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""events-native: PCIe error uevent ingest without umockdev.

bench/events.py runs sriovd under umockdev, whose preload wraps every file access of the
daemon (realpath, getcwd, readlink and two sigprocmask calls around each open, read and
close): a perf profile of that bench has pthread_sigmask alone at ~22% of sriovd's time.
This bench measures the daemon's own cost, the way fleet.py measures start-up:

- gentree.py writes the host (default 64 PFs x 256 VFs, AER files on root ports and PFs)
  on tmpfs, and sriovd runs on it with --sysfs-root, no preload, --uevent-source udev;
- the uevents come the way systemd-udevd sends them: libudev's netlink format (the
  "libudev" header with magic 0xfeedcafe and the MurmurHash2 of the subsystem, which the
  monitor's socket filter checks) multicast on NETLINK_KOBJECT_UEVENT group 2 by root.
  Nothing else may listen there while it runs (no systemd-udevd clients: it refuses to run
  when /run/udev/control exists).
- the same messages as events.py: "change" with ERROR_EVENT=BEGIN_RECOVERY /
  SUCCESSFUL_RECOVERY (alternating, DEVICE_ONLINE 0/1) on the first PF, in batches that
  the daemon drains before the next one (netlink multicast has no flow control: a batch
  larger than the socket buffer would be dropped, ENOBUFS); a sentinel with an unknown
  ERROR_EVENT value ends each batch.

With --kind pf-change the events are plain "change" uevents on that PF, without
ERROR_EVENT: what udevadm trigger sends, and the kernel at the end of every enable and
disable. Those that leave the VF set as it was must cost the same at 8 VFs and at 256
(issue 9: "PF change uevent: O(1) unless the VF set changed"); compare --vfs 8 and 256.

Measured: sriovd's CPU per event (utime+stime from /proc, over all batches), events/s,
VmRSS / VmHWM, and the same JSON keys as events.py under results[].ingest.

Run: /usr/bin/python3 bench/events-native.py [--pfs 64] [--vfs 256] [--events 50000]
       [--batch 5000] [--history 1024] [--log-level info] [--kind error|pf-change]
Results: bench/results/events-native.json.  Needs root.
"""

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import benchlib as B  # noqa: E402
import gentree  # noqa: E402

ROOT = os.path.dirname(BENCH_DIR)
SRIOVD = os.environ.get('SRIOVD', os.path.join(ROOT, 'build', 'daemon', 'sriovd'))
NETLINK_KOBJECT_UEVENT = 15
UDEV_GROUP = 2
UDEV_MONITOR_MAGIC = 0xfeedcafe


def murmur2(data, seed=0):
    """systemd's string_hash32(): MurmurHash2, little-endian words."""
    m, r = 0x5bd1e995, 24
    length = len(data)
    h = (seed ^ length) & 0xffffffff
    i = 0
    while length - i >= 4:
        k = struct.unpack_from('<I', data, i)[0]
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def udev_message(props):
    """A device as systemd-udevd multicasts it (sd-device's monitor_netlink_header)."""
    body = b''.join(('%s=%s' % kv).encode() + b'\0' for kv in props.items())
    hdr_size = 40
    hdr = struct.pack('=8sIIIIIIII', b'libudev', socket.htonl(UDEV_MONITOR_MAGIC), hdr_size, hdr_size,
                      len(body), socket.htonl(murmur2(props['SUBSYSTEM'].encode())), 0, 0, 0)
    return hdr + body


def http_get(sock_path, path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(('GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' % path).encode())
    data = b''
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--pfs', type=int, default=64)
    ap.add_argument('--vfs', type=int, default=256)
    ap.add_argument('--events', type=int, default=50000)
    ap.add_argument('--batch', type=int, default=5000)
    ap.add_argument('--history', type=int, default=1024)
    ap.add_argument('--log-level', default='info')
    ap.add_argument('--kind', choices=['error', 'pf-change'], default='error',
                    help='AER recovery uevents (default), or plain PF change uevents')
    ap.add_argument('--name', default='events-native', help='results file bench/results/NAME.json')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('needs root (multicast on the udev netlink group)')
    if os.path.exists('/run/udev/control'):
        sys.exit('systemd-udevd runs here: its clients would get the bench\'s uevents')
    if not os.access(SRIOVD, os.X_OK):
        sys.exit('%s is missing: build first (meson compile -C build)' % SRIOVD)

    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix='sriov-events-native-', dir='/dev/shm')
    proc = None
    try:
        tree = os.path.join(work, 'tree')
        gentree.make_tree(tree, a.pfs, a.vfs, False)
        sysroot = os.path.join(tree, 'sys')
        pf = gentree.addr_str(1, 0, 0)
        devpath = os.path.realpath(os.path.join(sysroot, 'bus/pci/devices', pf))[len(sysroot):]
        sock = os.path.join(work, 'sriovd.sock')
        argv = [SRIOVD, '--sysfs-root', sysroot, '--socket', sock, '--state-dir', os.path.join(work, 'state'),
                '--runtime-dir', os.path.join(work, 'run'), '--config', os.path.join(work, 'none.conf'),
                '--uevent-source', 'udev', '--aer-poll-interval', '0', '--history-size', str(a.history),
                '--log-level', a.log_level]
        log = open(os.path.join(work, 'sriovd.log'), 'w')
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        B.wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, 120, interval=0.01,
                     what='sriovd to listen')
        if proc.poll() is not None:
            sys.exit('sriovd exited: see %s' % log.name)
        B.wait_until(lambda: http_get(sock, '/v1/config')[0] == 200, 60, what='sriovd to answer')

        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
        nl.bind((0, 0))
        base = {'ACTION': 'change', 'DEVPATH': devpath, 'SUBSYSTEM': 'pci', 'DRIVER': 'pf-drv',
                'PCI_SLOT_NAME': pf}
        seq = [1000]

        def msg(**extra):
            seq[0] += 1
            p = dict(base)
            p.update(extra)
            p['SEQNUM'] = str(seq[0])
            return udev_message(p)
        if a.kind == 'error':
            msgs = [msg(ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE='0'),
                    msg(ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE='1')]
        else:
            msgs = [msg(), msg()]

        def recorded():
            return json.loads(http_get(sock, '/v1/events?limit=1')[1])['recorded']

        st0 = B.proc_status(proc.pid)
        cpu0 = B.proc_cpu_s(proc.pid)
        rec0 = recorded()
        t0 = time.monotonic()
        sent = 0
        while sent < a.events:
            n = min(a.batch, a.events - sent)
            for i in range(n):
                nl.sendto(msgs[(sent + i) & 1], (0, UDEV_GROUP))
            sent += n
            marker = 'BENCH_SENTINEL_%d' % sent
            nl.sendto(msg(ERROR_EVENT=marker), (0, UDEV_GROUP))

            def seen():
                body = json.loads(http_get(sock, '/v1/events?limit=4')[1])
                return any(marker in e.get('message', '') for e in body['events'])
            B.wait_until(seen, 300, interval=0.005, what='batch ending at %d handled' % sent)
        t1 = time.monotonic()
        time.sleep(0.1)
        cpu1 = B.proc_cpu_s(proc.pid)
        st1 = B.proc_status(proc.pid)
        n_batches = (a.events + a.batch - 1) // a.batch
        # The sentinels and the API polls are in the CPU figure too: a few hundred of each.
        ingest = {'events': a.events, 'batches': n_batches, 'total_s': t1 - t0,
                  'events_per_s': a.events / (t1 - t0), 'daemon_cpu_s': cpu1 - cpu0,
                  'daemon_cpu_us_per_event': (cpu1 - cpu0) * 1e6 / a.events,
                  'rss_kib_before': st0['VmRSS'], 'rss_kib_after': st1['VmRSS'],
                  'hwm_kib_after': st1['VmHWM'], 'recorded': recorded() - rec0}
        overflow = 'ENOBUFS' in open(log.name).read() or 'dropped uevents' in open(log.name).read()
        res = {'pfs': a.pfs, 'vfs': a.vfs, 'kind': a.kind, 'history_size': a.history, 'log_level': a.log_level,
               'uevents_lost': overflow, 'ingest': ingest}
        B.print_machine(load_before)
        B.table(['host', 'events', 'events/s', 'sriovd CPU/event', 'RSS before -> after', 'VmHWM'],
                [['%d x %d' % (a.pfs, a.vfs), a.events, '%.0f' % ingest['events_per_s'],
                  '%.1f us' % ingest['daemon_cpu_us_per_event'],
                  '%.1f -> %.1f MiB' % (ingest['rss_kib_before'] / 1024, ingest['rss_kib_after'] / 1024),
                  '%.1f MiB' % (ingest['hwm_kib_after'] / 1024)]],
                title='%s uevent ingest without umockdev' % a.kind)
        if overflow:
            print('warning: sriovd saw lost uevents (ENOBUFS); lower --batch')
        print('results:', B.write_results(a.name, vars(a), [res], load_before))
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
