# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fleet-host scale: sriovd on 64 PFs x 256 VFs (16,512 functions) beside a bare C scan.

    /usr/bin/python3 bench/fleet.py [--pfs 64] [--vfs 256] [--requests 10] [--clients 100]

The tree is written by bench/gentree.py into a tmpfs (/dev/shm), laid out as the kernel
lays it out, and sriovd runs on it with --sysfs-root (no umockdev preload: the costs are
sriovd's own). In the same run, build/bench/bench-bare-scan reads the same attributes once
with plain system calls: the physical limit. Printed, and written to bench/results/fleet.json:

  startup      exec -> first API answer, and its ratio to the bare scan
  devices      GET /v1/devices (whole host): median/p95, body size, ratio to the bare scan
  pf           GET /v1/devices/{pf} with 256 VFs: median/p99
  status       `sriovctl status` whole host: median
  rss          VmRSS idle, after the whole-host GETs, VmHWM
  clients      N clients at once, each polling GET /v1/devices/{pf} over a fresh connection
               every --poll-interval seconds (random phase): p50/p99 latency, failures

Speed is measured here, never asserted.
"""

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import gentree  # noqa: E402

SRIOVD = os.environ.get('SRIOVD', os.path.join(SRC_DIR, 'build', 'daemon', 'sriovd'))
SRIOVCTL = os.environ.get('SRIOVCTL', os.path.join(SRC_DIR, 'build', 'cli', 'sriovctl'))
BARE = os.environ.get('BARE_SCAN', os.path.join(SRC_DIR, 'build', 'bench', 'bench-bare-scan'))


# The reply lands in one buffer kept across requests, its pages already touched: a
# client that allocated a fresh 1 MiB bytes object per recv() and joined them (this
# bench until 2026-12-07) spent 30-60 ms of its own on an 8 MB reply, more than sriovd
# took to build and send it, and the figure measured Python.
_recv_buf = bytearray(b'\0' * (16 << 20))   # b'\0' * n is memset: its pages are touched here


def http_get(sock_path, path, timeout=60):
    """One GET over a fresh connection (as sriovctl does). Returns (status, body bytes)."""
    global _recv_buf
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(('GET %s HTTP/1.1\r\nHost: sriovd\r\nConnection: close\r\n\r\n' % path).encode())
    n = 0
    while True:
        if len(_recv_buf) - n < (1 << 20):
            _recv_buf.extend(bytes(len(_recv_buf)))
        with memoryview(_recv_buf) as mv:
            got = s.recv_into(mv[n:], 1 << 20)
        if not got:
            break
        n += got
    s.close()
    end = _recv_buf.find(b'\r\n\r\n', 0, n)
    head = bytes(_recv_buf[:end]) if end >= 0 else b''
    body = bytes(_recv_buf[end + 4:n]) if end >= 0 else b''
    status = int(head.split(b' ', 2)[1]) if head else 0
    if b'transfer-encoding: chunked' in head.lower():
        out, pos = [], 0
        while pos < len(body):
            eol = body.index(b'\r\n', pos)
            size = int(body[pos:eol], 16)
            if size == 0:
                break
            out.append(body[eol + 2:eol + 2 + size])
            pos = eol + 2 + size + 2
        body = b''.join(out)
    return status, body


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def proc_kib(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return None


def proc_cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def bare_scan_s(sysroot, reps=3):
    out = subprocess.run([BARE, sysroot, str(reps)], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1].split('=')[1]) / 1e6


async def client_loop(sock_path, path, n, period, lat, failures, rng):
    """One poller: a GET over a fresh connection every `period` seconds (random phase)."""
    await asyncio.sleep(rng.random() * period)
    next_t = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        try:
            r, w = await asyncio.open_unix_connection(sock_path)
            w.write(('GET %s HTTP/1.1\r\nHost: sriovd\r\nConnection: close\r\n\r\n' % path).encode())
            data = await r.read()
            w.close()
            if not data.startswith(b'HTTP/1.1 200'):
                failures.append(data[:40])
            else:
                lat.append(time.perf_counter() - t)
        except OSError as e:
            failures.append(str(e))
        next_t += period
        await asyncio.sleep(max(0, next_t - time.perf_counter()))


async def clients(sock_path, path, n_clients, n_each, period):
    import random
    lat, failures = [], []
    rng = random.Random(1)
    await asyncio.gather(*(client_loop(sock_path, path, n_each, period, lat, failures, rng)
                           for _ in range(n_clients)))
    return lat, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--pfs', type=int, default=64)
    ap.add_argument('--vfs', type=int, default=256)
    ap.add_argument('--requests', type=int, default=10, help='whole-host GETs (default 10)')
    ap.add_argument('--clients', type=int, default=100)
    ap.add_argument('--poll-interval', type=float, default=1.0, help='seconds between one client\'s GETs (default 1)')
    ap.add_argument('--vf-aer', action='store_true', help='AER counter files on every VF too (gentree.py)')
    ap.add_argument('--tree', help='an existing gentree.py directory to reuse')
    ap.add_argument('--json', default=os.path.join(BENCH_DIR, 'results', 'fleet.json'))
    a = ap.parse_args()

    for b in (SRIOVD, SRIOVCTL, BARE):
        if not os.access(b, os.X_OK):
            sys.exit('%s is missing: build first (meson compile -C build)' % b)

    work = tempfile.mkdtemp(prefix='sriov-fleet-', dir='/dev/shm')
    tree_dir = a.tree or os.path.join(work, 'tree')
    if not a.tree:
        t, _ = timed(lambda: gentree.make_tree(tree_dir, a.pfs, a.vfs, a.vf_aer))
        print('tree: %d PFs x %d VFs written in %.1f s' % (a.pfs, a.vfs, t))
    sysroot = os.path.join(tree_dir, 'sys')
    sock = os.path.join(work, 'sriovd.sock')
    pf = gentree.addr_str(1, 0, 0)
    res = {'pfs': a.pfs, 'vfs': a.vfs, 'vf_aer': a.vf_aer or None, 'load_before': os.getloadavg(),
           'sriovd': SRIOVD}

    bare_before = bare_scan_s(sysroot)
    argv = [SRIOVD, '--sysfs-root', sysroot, '--socket', sock, '--state-dir', os.path.join(work, 'state'),
            '--runtime-dir', os.path.join(work, 'run'), '--config', os.path.join(work, 'none.conf'),
            '--uevent-source', 'kernel', '--aer-poll-interval', '0', '--log-level', 'notice']
    log = open(os.path.join(work, 'sriovd.log'), 'w')
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                if http_get(sock, '/v1/config', timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                sys.exit('sriovd exited: see %s' % log.name)
            time.sleep(0.002)
        startup = time.perf_counter() - t0
        bare_after = bare_scan_s(sysroot)
        bare = min(bare_before, bare_after)
        rss_idle = proc_kib(proc.pid, 'VmRSS')
        res['bare_scan_s'] = bare
        res['startup'] = {'s': startup, 'ratio_to_bare_scan': startup / bare}

        times, size = [], 0
        cpu0 = proc_cpu_s(proc.pid)
        for _ in range(a.requests):
            dt, (st, body) = timed(lambda: http_get(sock, '/v1/devices'))
            assert st == 200, st
            times.append(dt)
            size = len(body)
        cpu = (proc_cpu_s(proc.pid) - cpu0) / a.requests
        res['devices'] = {'median_s': statistics.median(times), 'p95_s': pct(times, 95), 'bytes': size,
                          'daemon_cpu_s_per_request': cpu,
                          'bare_scan_over_get': bare / statistics.median(times)}
        rss_after = proc_kib(proc.pid, 'VmRSS')
        hwm = proc_kib(proc.pid, 'VmHWM')

        pf_times = [timed(lambda: http_get(sock, '/v1/devices/' + pf))[0] for _ in range(200)]
        res['pf'] = {'median_ms': statistics.median(pf_times) * 1e3, 'p99_ms': pct(pf_times, 99) * 1e3}

        st_times = []
        env = dict(os.environ, SRIOVD_SOCKET=sock)
        for _ in range(5):
            dt, r = timed(lambda: subprocess.run([SRIOVCTL, 'status'], env=env, capture_output=True))
            assert r.returncode == 0, r.stderr
            st_times.append(dt)
        res['status'] = {'median_ms': statistics.median(st_times) * 1e3, 'lines': r.stdout.count(b'\n')}

        lat, failures = asyncio.run(clients(sock, '/v1/devices/' + pf, a.clients, 20, a.poll_interval))
        res['clients'] = {'n': a.clients, 'poll_interval_s': a.poll_interval,
                          'requests': len(lat) + len(failures), 'failures': len(failures),
                          'p50_ms': statistics.median(lat) * 1e3, 'p99_ms': pct(lat, 99) * 1e3}
        res['rss'] = {'idle_kib': rss_idle, 'after_gets_kib': rss_after,
                      'after_all_kib': proc_kib(proc.pid, 'VmRSS'), 'hwm_kib': proc_kib(proc.pid, 'VmHWM'),
                      'hwm_after_gets_kib': hwm}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    res['load_after'] = os.getloadavg()
    try:
        res['git_commit'] = subprocess.run(['git', '-C', SRC_DIR, 'rev-parse', '--short', 'HEAD'],
                                           capture_output=True, text=True).stdout.strip()
    except OSError:
        pass

    d, s, p, c, m = res['devices'], res['startup'], res['pf'], res['clients'], res['rss']
    print('%d PFs x %d VFs, load %.1f -> %.1f' % (a.pfs, a.vfs, res['load_before'][0], res['load_after'][0]))
    print('bare C scan                      %8.0f ms' % (bare * 1e3))
    print('start-up to first API answer     %8.0f ms   %.2fx the bare scan' % (s['s'] * 1e3, s['ratio_to_bare_scan']))
    print('GET /v1/devices (whole host)     %8.1f ms   p95 %.1f ms, %.1f MiB, daemon CPU %.1f ms, '
          '%.1fx faster than a fresh scan' % (d['median_s'] * 1e3, d['p95_s'] * 1e3, d['bytes'] / 2**20,
                                               d['daemon_cpu_s_per_request'] * 1e3, d['bare_scan_over_get']))
    print('GET /v1/devices/PF (%d VFs)      %8.2f ms   p99 %.2f ms' % (a.vfs, p['median_ms'], p['p99_ms']))
    print('sriovctl status (whole host)     %8.0f ms   %d lines' % (res['status']['median_ms'], res['status']['lines']))
    print('%d clients polling GET PF every %.1f s: p50 %.2f ms  p99 %.2f ms  %d requests, %d failed' %
          (c['n'], a.poll_interval, c['p50_ms'], c['p99_ms'], c['requests'], c['failures']))
    print('RSS idle %.1f MiB, after %d whole-host GETs %.1f MiB, at the end %.1f MiB, VmHWM %.1f MiB' %
          (m['idle_kib'] / 1024, a.requests, m['after_gets_kib'] / 1024, m['after_all_kib'] / 1024,
           m['hwm_kib'] / 1024))
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    import json
    with open(a.json, 'w') as f:
        json.dump({'bench': 'fleet', 'results': [res]}, f, indent=2)
    if not a.tree:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
