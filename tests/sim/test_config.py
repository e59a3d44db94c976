#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sim tests of sriovd's configuration file (sriovd.conf(5)): PF sections
applied at start (by address, by vendor:device id), to a PF that appears by
hotplug, a broken file at start, reloads (SIGHUP and sriovctl reload) that
keep the running configuration on errors, drift reported and repaired
(repair-drift), a restart after kill -9 in the middle of an enable, the
[daemon] section against the command line, and vf-driver binding.

The real sriovd runs under umockdev's preload against simkernel's testbed,
with a short settle window (--settle-quiet-ms 200) unless a test says
otherwise.  ConfigSimKernel adds /sys/bus/pci/drivers_probe (binding a
function to the driver its driver_override names) to SimKernel.
Run: /usr/bin/python3 tests/sim/test_config.py [NAME...]
(SRIOVD / SRIOVCTL select the binaries; SIM_SHOW_LOG=1 prints sriovd's log.)
"""
import fcntl
import json
import os
import re
import select
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel, _Inotify  # noqa: E402

RP1, PF1 = '0000:00:02.0', '0000:01:00.0'      # 1b36:0010, VFs bind to nvme
RP2, PF2 = '0000:00:03.0', '0000:02:00.0'      # 8086:1572
RP3, PF3 = '0000:00:04.0', '0000:03:00.0'      # 8086:1572 too (or hotplugged)
QUIET_MS = 200
QUIET = ['--settle-quiet-ms', str(QUIET_MS)]

HAVE_BINARIES = os.access(simkernel.SRIOVD, os.X_OK) and os.access(simkernel.SRIOVCTL, os.X_OK)
need_binaries = unittest.skipUnless(HAVE_BINARIES, 'sriovd/sriovctl not built (%s, %s)'
                                    % (simkernel.SRIOVD, simkernel.SRIOVCTL))

IN_OPEN = 0x00000020
F_SETPIPE_SZ = 1031
FILLER = b'\xff'
ADDR_RE = re.compile(r'[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]')


def vf_addrs(pf, n):
    return [simkernel.vf_address(pf, 1, 1, i) for i in range(n)]


class _SyncFifo:
    """A write-only attribute as a FIFO kept full: the writer's open()
    raises IN_OPEN, its write() blocks until the simulator drains it."""

    def __init__(self, path, addr, ino):
        self.path, self.addr = path, addr
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o200)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.fcntl(self.fd, F_SETPIPE_SZ, 4096)
        except OSError:
            pass
        self.fill()
        self.real = os.path.realpath(path)
        self.wd = ino.add(path, IN_OPEN)

    def fill(self):
        for n in (4096, 1024, 256, 64, 16, 4, 1):
            while True:
                try:
                    os.write(self.fd, FILLER * n)
                except BlockingIOError:
                    break

    def drain(self, until, wait=None):
        """Let the blocked writer(s) in and return what they wrote.  The pipe
        has one page-sized slot, which frees only once the filler is read;
        every writer blocked then gets in.  Refilled as soon as data came,
        so that a writer on its way blocks until the next round; wait() is
        called while no data came yet (until the monotonic time `until`)."""
        data = b''
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                data += chunk.replace(FILLER, b'')
                if data:
                    try:
                        data += os.read(self.fd, 65536).replace(FILLER, b'')
                    except BlockingIOError:
                        pass
                    break
                continue
            if time.monotonic() >= until:
                break
            select.select([self.fd], [], [], 0.002)
            if wait:
                wait()
        self.fill()
        return data

    def close(self, ino):
        if self.fd is not None:
            try:
                ino.rm(self.wd)
            except Exception:
                pass
            os.close(self.fd)
            self.fd = None


class ConfigSimKernel(SimKernel):
    """SimKernel plus, with probe=True, VF binding as Linux does it:
    ``driver_override`` of each VF and ``/sys/bus/pci/drivers_probe``;
    probing an unbound function binds it to the driver its driver_override
    names when that driver is registered (driver link, ``bind`` uevent).
    vfio-pci and pci-stub are registered, so sriovd runs no modprobe.

    The kernel's writes are synchronous: once drivers_probe returns, the
    driver link is there, and sriovd reads it right after.  A plain file
    cannot block its writer, so both attributes are FIFOs that this class
    keeps open read-write with a one-page pipe that is always full
    (_SyncFifo): a writer's open() raises IN_OPEN and its write() blocks
    until the simulator's one thread has taken the write.  A driver_override
    write is drained, read and recorded (``overrides``); a drivers_probe
    write is carried out first - every unbound function with a pending
    override is bound - and drained afterwards.  A writer reaches
    drivers_probe only after its override write was taken, by the same
    thread, so the prediction cannot miss it.  An address read from
    drivers_probe that was not bound beforehand is still bound and recorded
    in ``probe_anomalies`` (tests assert that list is empty).  ``probes``
    lists the addresses written, in order.  Nobody reads driver_override
    here (sriovd does not); ``driver_override(addr)`` tells its value."""

    def __init__(self, probe=False, **kw):
        self._probing = probe
        self._fifo_lock = threading.RLock()
        self._fifos = {}            # wd -> _SyncFifo
        self._ov_fifo = {}          # addr -> _SyncFifo of its driver_override
        self.overrides = {}         # addr -> driver name or None
        self.probes = []
        self.probe_anomalies = []
        self.probe_rescues = 0
        self._probe_fifo = None
        self._probe_thread = None
        self._probe_stop = False
        self._probe_busy = 0
        self._handle_lock = threading.Lock()
        if probe:
            self._probe_ino = _Inotify()
        super().__init__(**kw)
        if probe:
            for drv in ('vfio-pci', 'pci-stub'):
                self._ensure_driver(drv)
            with self._fifo_lock:
                self._probe_fifo = _SyncFifo(self._p('/sys/bus/pci/drivers_probe'), None,
                                             self._probe_ino)
                self._fifos[self._probe_fifo.wd] = self._probe_fifo
            self._probe_thread = threading.Thread(target=self._probe_loop, daemon=True,
                                                  name='config-sim-probe')
            self._probe_thread.start()

    # ---------------------------------------------------- driver_override
    def _create(self, dev, parent_syspath, attrs):
        super()._create(dev, parent_syspath, attrs)
        if self._probing and dev.role == 'vf':
            with self._fifo_lock:
                f = _SyncFifo(self._p(dev.devpath, 'driver_override'), dev.addr, self._probe_ino)
                self._fifos[f.wd] = f
                self._ov_fifo[dev.addr] = f
                self.overrides[dev.addr] = None

    def _disable(self, pf):
        gone = list(pf.vfs)
        super()._disable(pf)
        with self._fifo_lock:
            for addr in gone:
                f = self._ov_fifo.pop(addr, None)
                if f is not None:
                    self._fifos.pop(f.wd, None)
                    f.close(self._probe_ino)
                self.overrides.pop(addr, None)

    def driver_override(self, addr):
        if addr in self._ov_fifo:
            return self.overrides.get(addr)
        try:
            with open(self.path(addr, 'driver_override'), 'rb') as f:
                raw = f.read()
        except OSError:
            return None
        v = raw.split(b'\n', 1)[0].decode('latin-1').strip()
        return None if v in ('', '(null)') else v

    # ------------------------------------------------------------ the thread
    def _blocked_fifos(self):
        """Our FIFOs a daemon thread is blocked in write(2) on (x86-64
        syscall 1): a safety net for IN_OPEN events that inotify merged."""
        out = set()
        if self.proc is None or self.proc.poll() is not None:
            return out
        pid = self.proc.pid
        with self._fifo_lock:
            by_real = {f.real: f for f in self._fifos.values()}
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except OSError:
            return out
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/syscall' % (pid, tid)) as f:
                    fields = f.read().split()
                if len(fields) >= 2 and fields[0] == '1':
                    f = by_real.get(os.readlink('/proc/%d/fd/%d' % (pid, int(fields[1], 16))))
                    if f is not None:
                        out.add(f)
            except (OSError, ValueError):
                continue
        return out

    def _handle(self, fifos):
        # overrides first: a probe may be waiting for them
        with self._handle_lock:
            for f in sorted(fifos, key=lambda f: f is self._probe_fifo):
                if f is self._probe_fifo:
                    self._handle_probe()
                elif f.fd is not None:
                    self._handle_override(f)

    def _probe_loop(self):
        blocked_before = set()
        while not self._probe_stop:
            r, _, _ = select.select([self._probe_ino.fd], [], [], 0.1)
            if self._probe_stop:
                return
            if r:
                self._probe_busy += 1
                try:
                    with self._fifo_lock:
                        fifos = {self._fifos.get(wd) for wd, mask in self._probe_ino.read()
                                 if mask & IN_OPEN}
                    self._handle(fifos - {None})
                finally:
                    self._probe_busy -= 1
                blocked_before = set()
                continue
            blocked = self._blocked_fifos()
            again = blocked & blocked_before
            if again and not self._probe_ino.pending():
                self.probe_rescues += 1
                self._probe_busy += 1
                try:
                    self._handle(again)
                finally:
                    self._probe_busy -= 1
                blocked -= again
            blocked_before = blocked

    def _handle_override(self, f):
        data = f.drain(time.monotonic() + 1.0)
        if not data:
            return
        v = data.split(b'\n', 1)[0].decode('latin-1').strip()
        self.overrides[f.addr] = v or None

    def _predict_probe(self, bound):
        """Bind every unbound function whose driver_override names a
        registered driver (what drivers_probe of it will do)."""
        with self._lock:
            for dev in list(self.devices.values()):
                if dev.driver or dev.role == 'bridge':
                    continue
                ov = self.driver_override(dev.addr)
                if ov and os.path.isdir(self._p('/sys/bus/pci/drivers', ov)):
                    self._bind(dev, ov)
                    bound.append(dev.addr)

    def _handle_probe(self, flush=False):
        bound = []
        self._predict_probe(bound)
        data = self._probe_fifo.drain(time.monotonic() + (0.05 if flush else 1.0))
        asked = [a.lower() for a in ADDR_RE.findall(data.decode('latin-1'))]
        if data.strip() and not asked:
            self.probe_anomalies.append('drivers_probe: %r is no PCI address' % data)
        with self._lock:
            for a in asked:
                self.probes.append(a)
                dev = self.devices.get(a)
                if a in bound or dev is None or dev.driver:
                    continue
                ov = self.driver_override(a)
                if ov and os.path.isdir(self._p('/sys/bus/pci/drivers', ov)):
                    self._bind(dev, ov)
                    self.probe_anomalies.append('%s bound to %s after the write returned' % (a, ov))

    def wait_probe_idle(self, timeout=10.0):
        def idle():
            return self._probe_busy == 0 and self._probe_ino.pending() == 0
        self.wait_for(idle, timeout, interval=0.02, what='the binding simulator idle')
        # a writer that got into drivers_probe between the last read and the
        # refill: its address is read now
        with self._handle_lock:
            self._handle_probe(flush=True)

    # ------------------------------------------------------------ hotplug
    def hotplug(self, rp, pf, **pf_kw):
        """A root port and a PF below it appear (a hot-add or a rescan): the
        devices are created, then the kernel's add and bind uevents go out,
        port first."""
        bus = simkernel.parse_bdf(pf)[1]
        self.add_root_port(rp, secondary_bus=bus)
        self.add_pf(pf, rp, **pf_kw)
        for addr in (rp, pf):
            self.uevent(addr, 'add')
            if self.devices[addr].driver:
                self.uevent(addr, 'bind')

    def close(self):
        try:
            super().close()
        finally:
            self._probe_stop = True
            if self._probe_thread is not None:
                self._probe_thread.join(5)
            with self._fifo_lock:
                for f in self._fifos.values():
                    if f.fd is not None:
                        os.close(f.fd)
                        f.fd = None
                self._fifos = {}
            if self._probing:
                self._probe_ino.close()


class ConfigCase(unittest.TestCase):
    """A fresh simulated kernel per test; the daemon is started by the test."""

    probe = False

    def setUp(self):
        self.sim = ConfigSimKernel(probe=self.probe)
        self.addCleanup(self.cleanup)
        self.conf = os.path.join(self.sim.tmp, 'sriovd.conf')

    def cleanup(self):
        if os.environ.get('SIM_SHOW_LOG'):
            sys.stderr.write('\n--- sriovd log of %s ---\n%s' % (self.id(), self.sim.daemon_log()))
        self.sim.close()

    # ------------------------------------------------------------ helpers
    def log_tail(self, n=80):
        lines = self.sim.daemon_log().splitlines()
        return '\n--- sriovd log (last %d lines) ---\n%s' % (n, '\n'.join(lines[-n:]))

    def start(self, config, extra=QUIET, ready=True, **kw):
        self.sim.start_daemon(list(extra), config=config, **kw)
        if ready:
            self.sim.wait_ready(15)

    def write_conf(self, text, path=None):
        path = path or self.conf
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + '.tmp', 'w') as f:
            f.write(text)
        os.rename(path + '.tmp', path)
        return path

    def sriovd_pid(self):
        """The sriovd process: umockdev-wrapper (sh) and env exec it, so it
        normally keeps the wrapper's pid; else a child of it."""
        pid = self.sim.proc.pid

        def is_sriovd(p):
            try:
                return os.path.basename(os.readlink('/proc/%d/exe' % p)) == 'sriovd'
            except OSError:
                return False
        if SimKernel.wait_for(lambda: is_sriovd(pid) or self._child_sriovd(pid, is_sriovd), 5,
                              what='the sriovd process'):
            return pid if is_sriovd(pid) else self._child_sriovd(pid, is_sriovd)

    @staticmethod
    def _child_sriovd(ppid, is_sriovd):
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % name) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(')', 1)[1].split()[1]) == ppid and is_sriovd(int(name)):
                return int(name)
        return None

    def writes(self, pf):
        """Values the simulated kernel saw written to pf's sriov_numvfs."""
        out = []
        for addr, raw in self.sim.writes:
            if addr == pf:
                v, err = simkernel.kstrtou16(raw)
                out.append(v if not err else raw)
        return out

    def device(self, addr):
        st, _, body = self.sim.http('GET', '/v1/devices/' + addr)
        self.assertEqual(st, 200, body)
        return body['device']

    def config_json(self):
        rc, out, err = self.sim.ctl('config', '--json')
        self.assertEqual(rc, 0, 'sriovctl config --json: %r%s' % (err, self.log_tail()))
        return json.loads(out)

    def section(self, cfg, match):
        found = [s for s in cfg.get('pfs', []) if s.get('match') == match]
        self.assertEqual(len(found), 1, 'section %r in %s' % (match, json.dumps(cfg)[:2000]))
        return found[0]

    def operations(self, pf=None):
        st, _, body = self.sim.http('GET', '/v1/operations')
        self.assertEqual(st, 200, body)
        return [o for o in body['operations'] if pf is None or o['pf'] == pf]

    def events(self, kind=None, device=None):
        q = '?device=' + device if device else ''
        st, _, body = self.sim.http('GET', '/v1/events' + q)
        self.assertEqual(st, 200, body)
        return [e for e in body['events'] if kind is None or e['event'] == kind]

    def wait_vfs(self, pf, n, timeout=20):
        """Until sriovd shows n VFs on pf and no operation of pf is pending,
        and the simulated kernel is idle; returns the device."""
        last = {}

        def check():
            d = last['d'] = self.device(pf)
            return (d['sriov']['num_vfs'] == n and len(d['sriov']['vfs']) == n
                    and d['operations'] == [] and self.sim.device(pf).num_vfs == n)
        try:
            SimKernel.wait_for(check, timeout, interval=0.05, what='%d VFs on %s' % (n, pf))
        except TimeoutError as e:
            self.fail('%s; last %s; kernel writes %r%s' % (e, json.dumps(last.get('d'))[:2000],
                                                           self.writes(pf), self.log_tail()))
        self.sim.wait_idle()
        return self.device(pf)

    def wait_log(self, pattern, count=1, timeout=10):
        rx = re.compile(pattern)
        try:
            SimKernel.wait_for(lambda: len(rx.findall(self.sim.daemon_log())) >= count, timeout,
                               what='log %r x%d' % (pattern, count))
        except TimeoutError as e:
            self.fail('%s%s' % (e, self.log_tail()))

    def assert_running(self):
        self.assertIsNotNone(self.sim.proc)
        self.assertIsNone(self.sim.proc.poll(), 'sriovd exited' + self.log_tail())

    def assert_origin(self, value, path, line):
        self.assertEqual(value, '%s:%d' % (path, line))


@need_binaries
class TestApplyAtStart(ConfigCase):
    def setUp(self):
        super().setUp()
        sim = self.sim
        sim.add_root_port(RP1)
        sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')
        sim.add_root_port(RP2)
        sim.add_pf(PF2, RP2, total_vfs=8, vendor='8086', device='1572', vf_device='154c',
                   vf_driver='nvme', klass='020000')
        sim.add_root_port(RP3)
        sim.add_pf(PF3, RP3, total_vfs=8, vendor='8086', device='1572', vf_device='154c',
                   vf_driver='nvme', klass='020000')

    def test_01_by_address(self):
        sim = self.sim
        self.start('# test\n'
                   '[pf "0000:01:00.0"]\n'
                   'num-vfs = 2\n')
        d = self.wait_vfs(PF1, 2)
        self.assertEqual(self.writes(PF1), [2], 'exactly one write of 2')
        self.assertEqual([v['address'] for v in d['sriov']['vfs']], vf_addrs(PF1, 2))
        self.assertEqual([v['driver'] for v in d['sriov']['vfs']], ['nvme', 'nvme'])
        self.assertEqual((d['sriov']['desired_num_vfs'], d['sriov']['drift']), (2, False), d)
        # through an operation, like an enable
        ops = self.operations(PF1)
        self.assertEqual(len(ops), 1, ops)
        self.assertEqual((ops[0]['num_vfs'], ops[0]['state'], ops[0]['report']['outcome']),
                         (2, 'done', 'complete'), ops[0])
        # the other PFs are not configured: nothing written
        self.assertEqual((self.writes(PF2), self.writes(PF3)), ([], []))
        self.assertEqual(self.operations(PF2) + self.operations(PF3), [])
        cfg = self.config_json()
        self.assertEqual(cfg['files'], [self.conf])
        s = self.section(cfg, PF1)
        self.assertEqual((s['match_kind'], s['num_vfs'], s['policy']), ('address', 2, 'best-effort'), s)
        self.assert_origin(s['source'], self.conf, 2)
        self.assert_origin(s['origins']['num_vfs'], self.conf, 3)
        self.assertEqual(list(s['origins']), ['num_vfs'], 'only set keys have an origin')
        self.assertEqual(len(cfg['pfs']), 1, cfg)
        self.assertEqual(cfg['effective']['config_file'], self.conf)
        # the log names the section's origin
        self.assertIn('%s:2' % self.conf, sim.daemon_log())
        # the desired count is kept as for an enable
        with open(os.path.join(sim.tmp, 'state', 'desired.json')) as f:
            state = json.load(f)
        self.assertEqual([(e['pf'], e['num_vfs']) for e in state['pfs']], [(PF1, 2)], state)
        self.assert_running()

    def test_13_api_answers_while_the_configuration_is_applied(self):
        """Issue 12, item 13: a restart with a configuration to apply that
        takes seconds (the VFs come 1 s apart). The API answers status at
        once, before READY=1, with the apply shown as operations in
        progress and the daemon saying it is still starting; once applied,
        READY=1 and the counts are the configured ones."""
        sim = self.sim
        for pf in (PF1, PF2, PF3):
            sim.set_behaviour(pf, per_vf_delay=1.0)
        t0 = time.monotonic()
        self.start('[pf "%s"]\nnum-vfs = 4\n[pf "8086:1572"]\nnum-vfs = 4\n' % PF1, ready=False)

        def answers():
            try:
                st, _, body = sim.http('GET', '/v1/devices?role=pf', timeout=1)
            except OSError:
                return None
            return body if st == 200 else None
        body = SimKernel.wait_for(answers, 10, interval=0.05, what='the API to answer')
        answered = time.monotonic() - t0
        self.assertNotIn('READY=1', sim.notify_messages, 'answered only once ready')
        self.assertEqual(body['daemon'], {'ready': False, 'applying_configuration': 3}, body['daemon'])
        ops = {d['address']: d['operations'] for d in body['devices']}
        for pf in (PF1, PF2, PF3):
            self.assertEqual(len(ops[pf]), 1, ops)
            self.assertEqual(ops[pf][0]['num_vfs'], 4)
            self.assertNotEqual(ops[pf][0]['state'], 'done', ops[pf])
        # the operator's view says so too
        rc, out, err = sim.ctl('status', timeout=10)
        self.assertEqual(rc, 0, out + err)
        self.assertIn('sriovd is starting: applying its configuration to', out)
        self.assertRegex(out, r'operation \d+: 4 VFs, (queued|locking|writing|settling)')
        self.assertNotIn('READY=1', sim.notify_messages)
        sim.wait_ready(60)
        self.assertGreater(time.monotonic() - t0, answered + 2.0,
                           'the apply was over before the first answer: the test shows nothing')
        for pf in (PF1, PF2, PF3):
            self.wait_vfs(pf, 4)
        st, _, body = sim.http('GET', '/v1/devices?role=pf')
        self.assertEqual(body['daemon'], {'ready': True, 'applying_configuration': 0})
        rc, out, err = sim.ctl('status')
        self.assertNotIn('sriovd is starting', out)
        self.assert_running()

    def test_02_by_vendor_device(self):
        """[pf "8086:1572"] takes every PF with that id, not PF1 (1b36:0010);
        hexadecimal digits in either case."""
        self.start('[pf "8086:1572"]\n'
                   'num-vfs = 3\n')
        for pf in (PF2, PF3):
            d = self.wait_vfs(pf, 3)
            self.assertEqual(self.writes(pf), [3], pf)
            self.assertEqual(d['sriov']['desired_num_vfs'], 3)
        self.assertEqual(self.writes(PF1), [])
        self.assertIsNone(self.device(PF1)['sriov']['desired_num_vfs'])
        s = self.section(self.config_json(), '8086:1572')
        self.assertEqual((s['match_kind'], s['num_vfs']), ('id', 3), s)
        self.assert_origin(s['source'], self.conf, 1)
        self.assert_origin(s['origins']['num_vfs'], self.conf, 2)

    def test_03_address_wins_over_vendor_device(self):
        """The most specific section applies alone: PF2 by address (1 VF,
        nothing from the id section), PF3 by id (4 VFs); upper-case hex."""
        self.start('[pf "8086:1572"]\n'
                   'num-vfs = 4\n'
                   'policy = all-or-nothing\n'
                   '\n'
                   '[pf "02:00.0"]\n'
                   'num-vfs = 1\n')
        self.wait_vfs(PF3, 4)
        self.wait_vfs(PF2, 1)
        self.assertEqual((self.writes(PF2), self.writes(PF3), self.writes(PF1)), ([1], [4], []))
        ops = {o['pf']: o for o in self.operations()}
        self.assertEqual(ops[PF2]['policy'], 'best-effort', 'settings are not combined across sections')
        self.assertEqual(ops[PF3]['policy'], 'all-or-nothing')

    def test_04_drop_in_overrides_main_file(self):
        """A drop-in's key replaces the main file's; the origin says so."""
        dropin = self.write_conf('[pf "0000:01:00.0"]\nnum-vfs = 3\n',
                                 self.conf + '.d/50-lab.conf')
        self.write_conf('x', self.conf + '.d/README')      # not *.conf: ignored
        self.start('[pf "0000:01:00.0"]\n'
                   'num-vfs = 1\n'
                   'policy = all-or-nothing\n')
        self.wait_vfs(PF1, 3)
        self.assertEqual(self.writes(PF1), [3])
        s = self.section(self.config_json(), PF1)
        self.assertEqual((s['num_vfs'], s['policy']), (3, 'all-or-nothing'), s)
        self.assert_origin(s['origins']['num_vfs'], dropin, 2)
        self.assert_origin(s['origins']['policy'], self.conf, 3)


@need_binaries
class TestHotplug(ConfigCase):
    def test_pf_appears_after_start(self):
        sim = self.sim
        sim.add_root_port(RP1)
        sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')
        self.start('[pf "0000:03:00.0"]\n'
                   'num-vfs = 2\n'
                   '\n'
                   '[pf "8086:1572"]\n'
                   'num-vfs = 1\n')
        time.sleep(0.5)
        self.assertEqual(sim.writes, [])
        st, _, _ = sim.http('GET', '/v1/devices/' + PF3)
        self.assertEqual(st, 404)
        # the section for the address wins over the id section at hotplug too
        sim.hotplug(RP3, PF3, total_vfs=4, vendor='8086', device='1572', vf_driver='nvme')
        d = self.wait_vfs(PF3, 2)
        self.assertEqual(self.writes(PF3), [2], 'exactly one write of 2')
        self.assertEqual([v['driver'] for v in d['sriov']['vfs']], ['nvme', 'nvme'])
        self.assertEqual(d['upstream'], [RP3])
        self.assertIn('appeared', sim.daemon_log())
        # a second PF by id
        sim.hotplug(RP2, PF2, total_vfs=4, vendor='8086', device='1572', vf_driver='nvme')
        self.wait_vfs(PF2, 1)
        self.assertEqual(self.writes(PF2), [1])
        self.assertEqual(self.writes(PF1), [])
        self.assertEqual(sim.dropped_uevents, [])
        self.assert_running()


@need_binaries
class TestBrokenAtStart(ConfigCase):
    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def start_broken(self, text, dropins=None):
        for name, body in (dropins or {}).items():
            self.write_conf(body, os.path.join(self.conf + '.d', name))
        self.start(text, ready=False)
        try:
            self.sim.proc.wait(15)
        except Exception:
            self.fail('sriovd kept running with a broken configuration' + self.log_tail())
        rc = self.sim.stop_daemon()
        self.assertNotIn('READY=1', self.sim.notify_messages)
        self.assertEqual(self.sim.writes, [], 'nothing may be applied')
        self.assertFalse(os.path.exists(self.sim.socket_path))
        return rc, self.sim.daemon_log()

    def test_bad_value_in_main_file(self):
        rc, log = self.start_broken('[pf "0000:01:00.0"]\n'
                                    'num-vfs = 2\n'
                                    'policy = sometimes\n')
        self.assertEqual(rc, 1, log)
        self.assertRegex(log, re.escape("%s:3: key 'policy'" % self.conf))
        self.assertIn('sometimes', log)
        self.assertIn('Refusing to start', log)

    def test_out_of_range_and_unknown_keys_all_named(self):
        rc, log = self.start_broken('[daemon]\n'
                                    'settle-quiet-ms = 5\n'
                                    '[pf "0000:01:00.0"]\n'
                                    'num-vfs = 70000\n'
                                    'colour = blue\n')
        self.assertEqual(rc, 1, log)
        for line, key in ((2, 'settle-quiet-ms'), (4, 'num-vfs'), (5, 'colour')):
            self.assertIn("%s:%d: key '%s'" % (self.conf, line, key), log)

    def test_broken_drop_in(self):
        rc, log = self.start_broken('[pf "0000:01:00.0"]\nnum-vfs = 2\n',
                                    {'50-lab.conf': '[pf "0000:01:00.0"]\n\nvf.2.vlan = 5000\n'})
        self.assertEqual(rc, 1, log)
        self.assertIn("%s.d/50-lab.conf:3: key 'vf.2.vlan'" % self.conf, log)

    def test_line_without_equals(self):
        rc, log = self.start_broken('[pf "0000:01:00.0"]\nnum-vfs 2\n')
        self.assertEqual(rc, 1, log)
        self.assertIn('%s:2:' % self.conf, log)


@need_binaries
class TestReload(ConfigCase):
    GOOD = '[pf "0000:01:00.0"]\nnum-vfs = 2\n'
    BROKEN = '[pf "0000:01:00.0"]\nnum-vfs = 3\npolicy = sometimes\n'

    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def check_old_config(self):
        s = self.section(self.config_json(), PF1)
        self.assertEqual((s['num_vfs'], s['policy']), (2, 'best-effort'), s)
        self.assert_origin(s['origins']['num_vfs'], self.conf, 2)
        self.assertEqual(self.writes(PF1), [2], 'the broken file changed the kernel')
        self.assertEqual(self.sim.device(PF1).num_vfs, 2)
        self.assert_running()

    def test_broken_reload_keeps_running_configuration(self):
        sim = self.sim
        self.start(self.GOOD)
        self.wait_vfs(PF1, 2)
        pid = self.sriovd_pid()

        # SIGHUP with a broken file
        self.write_conf(self.BROKEN)
        os.kill(pid, signal.SIGHUP)
        self.wait_log(r'Reload of %s failed' % re.escape(self.conf))
        self.wait_log(re.escape("%s:3: key 'policy'" % self.conf), count=1)
        sim.wait_notify(lambda l: l == 'RELOADING=1', 5)
        time.sleep(0.5)
        self.check_old_config()

        # sriovctl reload with the same file
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("%s:3: key 'policy' in [pf \"0000:01:00.0\"]" % self.conf, err)
        self.assertNotIn(':2:', err, 'only the broken line is named')
        rc, out, err = sim.ctl('reload', '--json')
        self.assertEqual(rc, 1, (out, err))
        body = json.loads(out)
        self.assertEqual(len(body['errors']), 1, body)
        self.assertTrue(body['errors'][0].startswith('%s:3: ' % self.conf), body)
        # the API itself: 422
        st, _, body = sim.http('POST', '/v1/reload', body={})
        self.assertEqual(st, 422, body)
        time.sleep(0.3)
        self.check_old_config()

        # a good main file with a broken drop-in: still refused, the drop-in named
        self.write_conf('[pf "0000:01:00.0"]\nnum-vfs = 3\n')
        dropin = self.write_conf('[daemon]\nhistory-size = 3\n', self.conf + '.d/10-x.conf')
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("%s:2: key 'history-size'" % dropin, err)
        self.check_old_config()

        # fixed: sriovctl reload applies the new count (0 first, then 3)
        os.unlink(dropin)
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err, self.log_tail()))
        self.wait_vfs(PF1, 3)
        self.assertEqual(self.writes(PF1), [2, 0, 3])
        s = self.section(self.config_json(), PF1)
        self.assertEqual(s['num_vfs'], 3, s)
        self.assertEqual(self.device(PF1)['sriov']['desired_num_vfs'], 3)

        # and SIGHUP with a good file
        self.write_conf('[pf "0000:01:00.0"]\n# fewer\nnum-vfs = 1\n')
        os.kill(pid, signal.SIGHUP)
        self.wait_vfs(PF1, 1)
        self.assertEqual(self.writes(PF1), [2, 0, 3, 0, 1])
        s = self.section(self.config_json(), PF1)
        self.assert_origin(s['origins']['num_vfs'], self.conf, 3)
        self.assertEqual(sim.proc.pid, pid)
        self.assert_running()

    def test_reload_removing_the_section_leaves_the_count(self):
        """A section removed: num-vfs unset, the count is left as it is."""
        sim = self.sim
        self.start(self.GOOD)
        self.wait_vfs(PF1, 2)
        self.write_conf('[daemon]\n')
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        self.assertEqual(self.config_json()['pfs'], [])
        time.sleep(1)
        self.assertEqual(self.writes(PF1), [2])
        self.assertEqual(sim.device(PF1).num_vfs, 2)


@need_binaries
class TestDrift(ConfigCase):
    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def wait_event(self, kind, n, timeout=15):
        try:
            return SimKernel.wait_for(lambda: len(self.events(kind, PF1)) >= n and self.events(kind, PF1),
                                      timeout, interval=0.1, what='%d %s event(s)' % (n, kind))
        except TimeoutError as e:
            self.fail('%s; events %r%s' % (e, self.events(), self.log_tail()))

    def test_drift_reported_then_repaired(self):
        sim = self.sim
        self.start('[pf "0000:01:00.0"]\nnum-vfs = 2\n')
        self.wait_vfs(PF1, 2)
        self.assertEqual(self.events('DRIFT'), [])

        # behind sriovd's back; repair-drift off: reported once, not changed
        sim.write_numvfs(PF1, 0)
        t0 = time.monotonic()
        ev = self.wait_event('DRIFT', 1)[0]
        took = time.monotonic() - t0
        self.assertGreater(took, 2.0, 'DRIFT comes ~3 s after the burst, not per uevent')
        self.assertEqual(ev['device'], PF1)
        self.assertIn('0 VFs, 2 desired', ev['message'])
        self.assertIn('repair-drift off', ev['message'])
        d = self.device(PF1)['sriov']
        self.assertEqual((d['num_vfs'], d['desired_num_vfs'], d['drift']), (0, 2, True), d)
        time.sleep(1.5)
        self.assertEqual(self.writes(PF1), [2, 0], 'sriovd changed the count without repair-drift')
        self.assertEqual(len(self.events('DRIFT')), 1, self.events())
        self.assertEqual(self.operations(PF1)[0]['id'], 1, 'no new operation')
        self.assertEqual(len(self.operations(PF1)), 1)

        # repair-drift on: the reload applies the configuration (num-vfs 2) ...
        self.write_conf('[pf "0000:01:00.0"]\nnum-vfs = 2\nrepair-drift = yes\n')
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        self.wait_vfs(PF1, 2)
        self.assertEqual(self.writes(PF1), [2, 0, 2])
        # ... and drift after that is repaired by sriovd (once the drift
        # timer of the reload's own burst has passed)
        time.sleep(3.5)
        n_ops = len(self.operations(PF1))
        sim.write_numvfs(PF1, 0)
        sim.write_numvfs(PF1, 1)
        ev = self.wait_event('DRIFT', 2)[-1]
        self.assertIn('1 VFs, 2 desired', ev['message'])
        self.assertIn('repairing', ev['message'])
        self.wait_vfs(PF1, 2)
        self.assertEqual(self.writes(PF1), [2, 0, 2, 0, 1, 0, 2])
        ops = self.operations(PF1)
        self.assertEqual(len(ops), n_ops + 1, ops)
        self.assertEqual(ops[0]['report']['outcome'], 'complete', ops[0])
        d = self.device(PF1)['sriov']
        self.assertEqual((d['num_vfs'], d['desired_num_vfs'], d['drift']), (2, 2, False), d)
        # and it stays repaired: no loop of writes
        time.sleep(4)
        self.assertEqual(len(self.writes(PF1)), 7, self.writes(PF1))
        self.assert_running()


@need_binaries
class TestKillDuringApply(ConfigCase):
    CONF = '[pf "0000:01:00.0"]\nnum-vfs = 3\n'

    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def desired(self):
        with open(os.path.join(self.sim.tmp, 'state', 'desired.json')) as f:
            state = json.load(f)
        return {e['pf']: e['num_vfs'] for e in state['pfs']}

    def kill_while_writing(self):
        sim = self.sim
        sim.set_hang(PF1, True)
        # READY may wait for the configured operation: not waited for here
        self.start(self.CONF, ready=False)
        try:
            op = SimKernel.wait_for(
                lambda: [o for o in self.operations(PF1)
                         if o['state'] == 'writing' and (o.get('write_in_flight') or {}).get('value') == 3],
                10, what='the write of 3 in flight')[0]
        except TimeoutError as e:
            self.fail('%s: %r%s' % (e, self.operations(), self.log_tail()))
        self.assertEqual(self.desired(), {PF1: 3}, 'persisted before the write')
        pid = self.sriovd_pid()
        os.kill(pid, signal.SIGKILL)
        rc = sim.stop_daemon()
        self.assertEqual(rc, -signal.SIGKILL)
        return op

    def restart_and_check(self, writes_expected, drift_at_start):
        sim = self.sim
        self.start(self.CONF)
        d = self.wait_vfs(PF1, 3)
        ops = self.operations(PF1)
        self.assertEqual(len(ops), 1, ops)
        self.assertEqual(ops[0]['report']['outcome'], 'complete', ops[0])
        time.sleep(0.5)
        sim.wait_idle()
        self.assertEqual(self.writes(PF1), writes_expected)
        self.assertEqual(self.desired(), {PF1: 3})
        d = self.device(PF1)['sriov']
        self.assertEqual((d['num_vfs'], d['desired_num_vfs'], d['drift']), (3, 3, False), d)
        rc, out, err = sim.ctl('status', '--json')
        self.assertEqual(rc, 0, err)
        st = {x['address']: x for x in json.loads(out)['devices']}
        self.assertEqual((st[PF1]['sriov']['num_vfs'], st[PF1]['sriov']['drift']), (3, False))
        # the restart's own start-up report: drift only when the kernel had
        # another count than the desired one
        restart_log = sim.daemon_log().split('Found ')[-1]
        if drift_at_start:
            self.assertIn('drift, desired 3 VFs, the kernel has 0', restart_log)
        else:
            self.assertNotIn('drift', restart_log)
        return ops[0]

    def test_kernel_completed_the_write(self):
        """kill -9 while the write of 3 is in the kernel; the kernel completes
        it (a killed writer in sriov_numvfs_store() still enables); the new
        daemon finds 3 VFs: it writes nothing."""
        sim = self.sim
        self.kill_while_writing()
        # the killed writer's bytes never reached the pipe; the kernel's side
        # of the story: the pending write of 3 completes
        if sim.release_hang(PF1, timeout=1.0) is None:
            self.assertEqual(sim.enable_vfs(PF1, 3), 3)
        sim.wait_idle()
        self.assertEqual(sim.device(PF1).num_vfs, 3)
        self.assertEqual(self.writes(PF1), [3])
        op = self.restart_and_check([3], drift_at_start=False)
        self.assertEqual((op['report']['previous'], op['report']['requested']), (3, 3), op)

    def test_write_never_reached_the_kernel(self):
        """kill -9 while the write is blocked before the kernel took it: the
        kernel still has 0; the new daemon applies 3 with one write."""
        sim = self.sim
        self.kill_while_writing()
        self.assertIsNone(sim.release_hang(PF1, timeout=1.0))
        sim.wait_idle()
        self.assertEqual(sim.device(PF1).num_vfs, 0)
        self.assertEqual(self.writes(PF1), [])
        op = self.restart_and_check([3], drift_at_start=True)
        self.assertEqual((op['report']['previous'], op['report']['requested']), (0, 3), op)


@need_binaries
class TestDaemonSection(ConfigCase):
    CONF = ('[daemon]\n'
            'settle-quiet-ms = 150\n'
            'history-size = 32\n'
            'aer-poll-interval = 0\n'
            'log-level = warning\n')

    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def effective(self):
        return self.config_json()['effective']

    def capacity(self):
        st, _, body = self.sim.http('GET', '/v1/events')
        self.assertEqual(st, 200, body)
        return body['capacity']

    def test_file_values_apply(self):
        sim = self.sim
        self.start(self.CONF, extra=(), log_level=None)
        eff = self.effective()
        self.assertEqual((eff['settle_quiet_ms'], eff['history_size'], eff['aer_poll_interval']),
                         (150, 32, 0), eff)
        self.assertEqual(self.capacity(), 32)
        d = self.config_json()['daemon']
        self.assertEqual((d['settle_quiet_ms'], d['history_size'], d['log_level']), (150, 32, 'warning'), d)
        self.assert_origin(d['origins']['history_size'], self.conf, 3)
        # log-level warning from the file: no info messages after the load
        rc, out, err = sim.ctl('enable', PF1, '--vfs', '1', '--json')
        self.assertEqual(rc, 0, (out, err))
        log = sim.daemon_log()
        self.assertNotIn('sriovd[info]', log)
        self.assertNotIn('sriovd[debug]', log)

    def test_command_line_wins(self):
        sim = self.sim
        self.start(self.CONF, extra=['--settle-quiet-ms', '250', '--history-size', '64'],
                   log_level='debug')
        eff = self.effective()
        self.assertEqual((eff['settle_quiet_ms'], eff['history_size'], eff['aer_poll_interval']),
                         (250, 64, 0), eff)
        self.assertEqual(self.capacity(), 64)
        rc, out, err = sim.ctl('enable', PF1, '--vfs', '2', '--json')
        self.assertEqual(rc, 0, (out, err))
        self.assertIn('sriovd[debug]', sim.daemon_log(), 'log-level debug from the command line')
        # a reload keeps the command line's values too
        self.write_conf(self.CONF.replace('150', '300'))
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        eff = self.effective()
        self.assertEqual(eff['settle_quiet_ms'], 250, eff)
        self.assertEqual(self.config_json()['daemon']['settle_quiet_ms'], 300)
        n = sim.daemon_log().count('sriovd[debug]')
        rc, out, err = sim.ctl('enable', PF1, '--vfs', '1', '--json')
        self.assertEqual(rc, 0, (out, err))
        self.assertGreater(sim.daemon_log().count('sriovd[debug]'), n, 'debug still on after reload')

    def test_reload_changes_settle_quiet_ms(self):
        sim = self.sim
        self.start(self.CONF, extra=(), log_level=None)
        self.write_conf(self.CONF.replace('150', '300'))
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        self.assertEqual(self.effective()['settle_quiet_ms'], 300)
        self.assertEqual(self.capacity(), 32)


@need_binaries
class TestVfDriver(ConfigCase):
    probe = True

    def setUp(self):
        super().setUp()
        self.sim.add_root_port(RP1)
        # the VFs get no driver from the kernel: sriovd binds them
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver=None)

    def wait_drivers(self, want, timeout=20):
        last = {}

        def check():
            d = last['d'] = self.device(PF1)
            log = self.sim.daemon_log()
            # the daemon's binds have returned, not only the simulator's part
            return [v['driver'] for v in d['sriov']['vfs']] == want and all(
                '%s is now bound to %s' % (a, drv) in log for a, drv in zip(vf_addrs(PF1, len(want)), want))
        try:
            SimKernel.wait_for(check, timeout, interval=0.1, what='VF drivers %r' % want)
        except TimeoutError as e:
            self.fail('%s; last %s; probes %r anomalies %r%s'
                      % (e, json.dumps(last.get('d'))[:2000], self.sim.probes,
                         self.sim.probe_anomalies, self.log_tail()))
        self.sim.wait_probe_idle()
        return last['d']

    def test_vf_driver_vfio_pci(self):
        sim = self.sim
        self.start('[pf "0000:01:00.0"]\n'
                   'num-vfs = 3\n'
                   'drivers-autoprobe = no\n'
                   'vf-driver = vfio-pci\n'
                   'vf.2.driver = pci-stub\n')
        vfs = vf_addrs(PF1, 3)
        d = self.wait_drivers(['vfio-pci', 'vfio-pci', 'pci-stub'])
        self.assertEqual(self.writes(PF1), [3])
        self.assertEqual(sim.read_attr(PF1, 'sriov_drivers_autoprobe').strip(), '0')
        self.assertFalse(d['sriov']['drivers_autoprobe'], d)
        ops = self.operations(PF1)
        self.assertEqual(len(ops), 1, ops)
        self.assertEqual((ops[0]['report']['outcome'], ops[0]['report']['drivers_autoprobe']),
                         ('complete', False), ops[0])
        self.assertNotIn('binding', sim.daemon_log().split('is now bound')[-1])
        self.assertNotRegex(sim.daemon_log(), r'Binding .* failed')
        self.assertEqual(sorted(sim.probes), sorted(vfs), 'one probe per VF')
        self.assertEqual(sim.probe_anomalies, [])
        for v, addr in zip(d['sriov']['vfs'], vfs):
            group = sim.device(addr).iommu_group
            self.assertEqual(v['iommu_group'], group)
            want = '/dev/vfio/%d' % group if v['driver'] == 'vfio-pci' else None
            self.assertEqual(v.get('vfio_device'), want, v)
            self.assertEqual(sim.device(addr).driver, v['driver'])
            self.assertEqual(sim.driver_override(addr), v['driver'])
            vf = self.device(addr)
            self.assertEqual((vf['driver'], vf.get('vfio_device')), (v['driver'], want), vf)
        rc, out, err = sim.ctl('status', '--json')
        self.assertEqual(rc, 0, err)
        st = {x['address']: x for x in json.loads(out)['devices']}
        self.assertEqual([st[PF1]['sriov']['vfs'][i].get('vfio_device') for i in range(3)],
                         ['/dev/vfio/%d' % sim.device(a).iommu_group for a in vfs[:2]] + [None])
        # nothing more happens: no rebinding loop
        n = len(sim.probes)
        time.sleep(1.5)
        self.assertEqual(len(sim.probes), n)
        self.assert_running()

    def test_vf_driver_after_reload(self):
        """VFs already there get the driver when a reload adds vf-driver."""
        sim = self.sim
        self.start('[pf "0000:01:00.0"]\nnum-vfs = 2\n')
        self.wait_vfs(PF1, 2)
        self.assertEqual([v['driver'] for v in self.device(PF1)['sriov']['vfs']], [None, None])
        self.write_conf('[pf "0000:01:00.0"]\nnum-vfs = 2\nvf-driver = vfio-pci\n')
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        self.wait_drivers(['vfio-pci', 'vfio-pci'])
        self.assertEqual(self.writes(PF1), [2], 'the same count writes nothing')
        self.assertNotRegex(sim.daemon_log(), r'Binding .* failed')
        self.assertEqual(sim.probe_anomalies, [])


if __name__ == '__main__':
    simkernel.main()
