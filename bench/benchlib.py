# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers of sriovd's benchmarks (bench/*.py).

The benchmarks drive the real sriovd and sriovctl against tests/sim/simkernel.py
(a umockdev testbed with a simulated kernel).  They measure; they assert nothing
about speed.  Results go to stdout as tables and to bench/results/<name>.json with
the machine's description (nproc, load average, kernel, date, git commit), because
other work may run on the same machine: read the load next to the numbers.

Needs Debian's /usr/bin/python3 (python3-gi, gir1.2-umockdev-1.0).
"""

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SRC_DIR, 'tests', 'sim'))

import simkernel  # noqa: E402
from simkernel import SimKernel  # noqa: E402

RESULTS_DIR = os.environ.get('SRIOV_BENCH_RESULTS', os.path.join(BENCH_DIR, 'results'))
CLK_TCK = os.sysconf('SC_CLK_TCK')


# ------------------------------------------------------------------ machine
def loadavg():
    with open('/proc/loadavg') as f:
        return [float(x) for x in f.read().split()[:3]]


def git_commit():
    try:
        out = subprocess.run(['git', '-C', SRC_DIR, 'rev-parse', 'HEAD'], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', '-C', SRC_DIR, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info():
    return {
        'nproc': os.cpu_count(),
        'cpu': cpu_model(),
        'loadavg': loadavg(),
        'kernel': platform.release(),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'git_commit': git_commit(),
        'python': sys.version.split()[0],
        'sriovd': simkernel.SRIOVD,
        'unix_max_dgram_qlen': read_int('/proc/sys/net/unix/max_dgram_qlen'),
        'journald': os.path.exists('/run/systemd/journal/socket'),
    }


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def write_results(name, params, results, load_before):
    """bench/results/<name>.json: machine, parameters, load before/after, results."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    doc = {'benchmark': name, 'machine': machine_info(), 'load_before': load_before,
           'load_after': loadavg(), 'params': params, 'results': results}
    path = os.path.join(RESULTS_DIR, name + '.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write('\n')
    os.rename(path + '.tmp', path)
    return path


def print_machine(load_before):
    m = machine_info()
    print('# machine: %s CPUs (%s), kernel %s, commit %s' % (m['nproc'], m['cpu'], m['kernel'],
                                                             m['git_commit']))
    print('# load average before: %.2f %.2f %.2f   (other work may share the machine)'
          % tuple(load_before))
    print('# journald: %s, net.unix.max_dgram_qlen: %s' % ('yes' if m['journald'] else 'no',
                                                           m['unix_max_dgram_qlen']))


# ------------------------------------------------------------------ tables
def table(headers, rows, title=None):
    """A plain text table; cells are str()'d, numbers right-aligned."""
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    out = []
    if title:
        out.append('')
        out.append(title)
    out.append('  '.join(h.rjust(w) for h, w in zip(headers, widths)))
    out.append('  '.join('-' * w for w in widths))
    for r in cells:
        out.append('  '.join(c.rjust(w) for c, w in zip(r, widths)))
    print('\n'.join(out))
    sys.stdout.flush()


def fmt(v):
    if v is None:
        return '-'
    if isinstance(v, float):
        if abs(v) >= 100:
            return '%.0f' % v
        if abs(v) >= 10:
            return '%.1f' % v
        return '%.2f' % v
    return str(v)


def median(xs):
    return statistics.median(xs) if xs else None


def p95(xs):
    if not xs:
        return None
    s = sorted(xs)
    # nearest rank
    k = max(0, min(len(s) - 1, int(round(0.95 * len(s) + 0.5)) - 1))
    return s[k]


# ------------------------------------------------------------------ processes
def proc_status(pid):
    """VmRSS, VmHWM (KiB) of a process."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM', 'VmSize', 'RssAnon', 'RssFile', 'Threads'):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_s(pid):
    """utime + stime of a process (all threads), seconds."""
    with open('/proc/%d/stat' % pid) as f:
        data = f.read()
    fields = data[data.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sriovd_pid(sim):
    """The sriovd process: umockdev-wrapper exec()s env, which exec()s sriovd, so
    it is normally the Popen pid; otherwise a child of it named sriovd."""
    pid = sim.proc.pid
    for _ in range(100):
        try:
            with open('/proc/%d/comm' % pid) as f:
                if f.read().strip() == 'sriovd':
                    return pid
        except FileNotFoundError:
            break
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % d) as f:
                    st = f.read()
                if int(st[st.rindex(')') + 2:].split()[1]) == pid and '(sriovd)' in st:
                    return int(d)
            except (OSError, ValueError):
                pass
        time.sleep(0.01)
    raise RuntimeError('cannot find the sriovd process below pid %d' % pid)


class LogCursor:
    """Reads what the daemon logged since the cursor was made."""

    def __init__(self, sim):
        self.path = sim.log_path
        try:
            self.off = os.path.getsize(self.path)
        except OSError:
            self.off = 0

    def read(self):
        with open(self.path, errors='replace') as f:
            f.seek(self.off)
            return f.read()


# ------------------------------------------------------------------ the simulator
class BenchSim(SimKernel):
    """SimKernel with what benchmarks need on top:

    * every uevent sent is time-stamped (time.monotonic()) in self.sent_times, so a
      benchmark knows when the simulated kernel sent its last VF event;
    * IOMMU groups are allocated from a counter instead of a scan of all devices
      (SimKernel._alloc_group is O(devices) per VF, i.e. O(N^2) for a VF storm:
      that is simulator cost, not sriovd's, and would blur the storm timings)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent_times = []
        self._next_group = 0

    def _alloc_group(self):
        while True:
            n = self._next_group
            self._next_group += 1
            if not os.path.exists(self._p('/sys/kernel/iommu_groups/%d' % n)):
                return n

    def _set_numvfs_file(self, pf, n):
        """Leave sriov_numvfs empty instead of holding the count.  sriovd writes "N"
        with one write(), without a newline and without O_TRUNC (fine on sysfs, where
        every write is a separate store), so in a plain file its "0" over the
        simulator's "64\\n" reads "04\\n": the simulator then sees a write of 4 and
        answers EBUSY.  sriovd never reads sriov_numvfs, so an empty file is enough."""
        if pf.numvfs_fd is None:
            return
        if pf.numvfs_expect is not None:
            cur = os.pread(pf.numvfs_fd, 4096, 0)
            if cur != pf.numvfs_expect:
                self.numvfs_rewrites_skipped += 1
                return
        os.ftruncate(pf.numvfs_fd, 0)
        if pf.numvfs_expect is not None:
            pf.numvfs_expect = b''

    def _send_uevent(self, dev, action, extra=None):
        super()._send_uevent(dev, action, extra)
        self.sent_times.append((time.monotonic(), action, dev.addr))

    # raw uevents, pre-built, for ingest benchmarks
    def build_uevent(self, addr, action='change', **extra):
        """The kernel-format message _send_uevent would send, with SEQNUM last as
        b'SEQNUM=%d\\0' so callers can vary it cheaply: returns (prefix bytes)."""
        dev = self.devices[addr]
        devpath = dev.devpath[len('/sys'):]
        props = {'ACTION': action, 'DEVPATH': devpath, 'SUBSYSTEM': 'pci'}
        props.update(self._uevent_props(dev))
        props.update({k: str(v) for k, v in extra.items()})
        body = b''.join(('%s=%s' % kv).encode() + b'\0' for kv in props.items())
        return ('%s@%s' % (action, devpath)).encode() + b'\0' + body


def start(sim, args=(), log_level='info', timeout=120):
    """Starts sriovd; returns (pid, seconds from exec to READY=1)."""
    t0 = time.monotonic()
    sim.start_daemon(list(args), log_level=log_level)
    sim.wait_ready(timeout)
    t1 = time.monotonic()
    return sriovd_pid(sim), t1 - t0


def timed_get(sim, path, timeout=120):
    """GET path on the API: (seconds, status, body bytes)."""
    conn = simkernel.UnixHTTPConnection(sim.socket_path, timeout=timeout)
    try:
        t0 = time.monotonic()
        conn.request('GET', path)
        resp = conn.getresponse()
        raw = resp.read()
        t1 = time.monotonic()
        return t1 - t0, resp.status, raw
    finally:
        conn.close()


def get_json(sim, path, timeout=120):
    _, status, raw = timed_get(sim, path, timeout)
    return status, json.loads(raw) if raw else None


def latency(sim, path, n):
    """n sequential GETs: dict with median/p95/min/max in ms and the body size."""
    times, size = [], None
    for _ in range(n):
        dt, status, raw = timed_get(sim, path)
        if status != 200:
            raise RuntimeError('GET %s: %d %s' % (path, status, raw[:200]))
        times.append(dt * 1000)
        size = len(raw)
    return {'n': n, 'median_ms': median(times), 'p95_ms': p95(times), 'min_ms': min(times),
            'max_ms': max(times), 'bytes': size}


def wall(argv, timeout=300, **kw):
    """(seconds, CompletedProcess)."""
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    return time.monotonic() - t0, r


def wait_until(pred, timeout, interval=0.002, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def check_binaries():
    for p in (simkernel.SRIOVD, simkernel.SRIOVCTL):
        if not os.access(p, os.X_OK):
            sys.exit('not built: %s (ninja -C build)' % p)


WROTE_RE = re.compile(r'PF (\S+): wrote (\d+) to sriov_numvfs in (\d+) ms')
