#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sim tests of sriovd's foundation: start-up and systemd notification, the
device model as the status API shows it, following the kernel's SR-IOV
changes without a restart, API errors, sriovctl status, shutdown, scale.

The real sriovd runs under umockdev's preload against simkernel's testbed.
Run: /usr/bin/python3 tests/sim/test_status.py [NAME...]
(SRIOVD / SRIOVCTL select the binaries; SIM_SHOW_LOG=1 prints sriovd's log.)
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel  # noqa: E402

RP1, PF1 = '0000:00:02.0', '0000:01:00.0'      # VF probe fails (the NVMe case)
RP2, PF2 = '0000:00:03.0', '0000:02:00.0'      # VFs bind to their driver
ABSENT = '0000:09:00.0'

HAVE_BINARIES = os.access(simkernel.SRIOVD, os.X_OK) and os.access(simkernel.SRIOVCTL, os.X_OK)
need_binaries = unittest.skipUnless(HAVE_BINARIES, 'sriovd/sriovctl not built (%s, %s)'
                                    % (simkernel.SRIOVD, simkernel.SRIOVCTL))


def by_addr(body):
    return {d['address']: d for d in body['devices']}


class DaemonCase(unittest.TestCase):
    """Helpers shared by the test classes; self.sim is a SimKernel with a
    running daemon."""

    def log_tail(self, n=60):
        lines = self.sim.daemon_log().splitlines()
        return '\n--- sriovd log (last %d lines) ---\n%s' % (n, '\n'.join(lines[-n:]))

    def status(self, *args):
        rc, out, err = self.sim.ctl('status', '--json', *args)
        self.assertEqual(rc, 0, 'sriovctl status --json failed: %r%s' % (err, self.log_tail()))
        try:
            return json.loads(out)
        except ValueError:
            self.fail('sriovctl status --json printed no JSON: %r' % out[:500])

    def wait_status(self, pred, timeout=20, what='status'):
        """Poll the status API until pred(devices by address) holds."""
        last = {}

        def check():
            st, _, body = self.sim.http('GET', '/v1/devices')
            if st != 200:
                return False
            last['body'] = body
            return pred(by_addr(body))
        try:
            SimKernel.wait_for(check, timeout, interval=0.1, what=what)
        except TimeoutError as e:
            self.fail('%s\nlast body: %s%s' % (e, json.dumps(last.get('body'))[:3000],
                                               self.log_tail()))
        return by_addr(last['body'])

    @staticmethod
    def num_vfs_is(pf, n):
        def pred(devs):
            d = devs.get(pf)
            if not d or not d.get('sriov'):
                return False
            s = d['sriov']
            vf_entries = [x for x in devs.values() if x.get('role') == 'vf'
                          and (x.get('vf') or {}).get('pf') == pf]
            return s.get('num_vfs') == n and len(s.get('vfs') or []) == n and len(vf_entries) == n
        return pred


def make_sim():
    sim = SimKernel()
    sim.add_root_port(RP1)
    sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme', probe_fails=True)
    sim.add_root_port(RP2)
    sim.add_pf(PF2, RP2, total_vfs=4, vf_driver='nvme')
    return sim


@need_binaries
class TestStatus(DaemonCase):
    """One daemon for the whole class; tests leave every PF with 0 VFs."""

    @classmethod
    def setUpClass(cls):
        cls.sim = make_sim()
        # errors the root port saw before sriovd started
        cls.sim.bump_aer(RP1, 'nonfatal', 'UnsupReq')
        cls.sim.start_daemon()
        try:
            cls.sim.wait_ready(15)
        except Exception:
            cls.sim.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if os.environ.get('SIM_SHOW_LOG'):
            sys.stderr.write(cls.sim.daemon_log())
        cls.sim.close()

    def tearDown(self):
        # put the kernel back, whatever the test did
        for pf in (PF1, PF2):
            if self.sim.device(pf).num_vfs:
                self.sim.write_numvfs(pf, 0)

    def test_01_ready_and_status_notification(self):
        self.assertIn('READY=1', self.sim.notify_messages)
        line = self.sim.wait_notify(lambda l: l.startswith('STATUS='), timeout=10)
        self.assertGreater(len(line), len('STATUS='))
        self.assertTrue(os.path.exists(self.sim.socket_path))

    def test_02_initial_model(self):
        body = self.status()
        devs = by_addr(body)
        self.assertEqual(sorted(devs), sorted([RP1, PF1, RP2, PF2]), body)
        rp = devs[RP1]
        self.assertEqual(rp['role'], 'bridge')
        self.assertEqual(rp['vendor_id'], '1b36')
        self.assertEqual(rp['device_id'], '000c')
        self.assertEqual(rp['class'], '0x060400')
        self.assertEqual(rp['driver'], 'pcieport')
        self.assertEqual(rp['iommu_group'], self.sim.device(RP1).iommu_group)
        self.assertEqual(rp['upstream'], [])
        pf = devs[PF1]
        self.assertEqual(pf['role'], 'pf')
        self.assertEqual((pf['vendor_id'], pf['device_id'], pf['class']), ('1b36', '0010', '0x010802'))
        self.assertEqual(pf['driver'], 'nvme')
        self.assertEqual(pf['iommu_group'], self.sim.device(PF1).iommu_group)
        self.assertEqual(pf['upstream'], [RP1])
        want = {'total_vfs': 4, 'num_vfs': 0, 'offset': 1, 'stride': 1,
                'vf_device_id': '0010', 'drivers_autoprobe': True, 'vfs': []}
        self.assertEqual({k: pf['sriov'].get(k, 'MISSING') for k in want}, want)
        self.assertEqual(devs[PF2]['upstream'], [RP2])

    def test_03_json_is_the_api_body(self):
        st, hdrs, api = self.sim.http('GET', '/v1/devices')
        self.assertEqual(st, 200)
        self.assertIn('application/json', hdrs.get('content-type', ''))
        self.assertEqual(self.status(), api)

    def check_vfs(self, pf, n, driver):
        devs = self.wait_status(self.num_vfs_is(pf, n), what='%d VFs of %s' % (n, pf))
        sim_pf = self.sim.device(pf)
        self.assertEqual(devs[pf]['sriov']['num_vfs'], n)
        want = [{'index': i, 'address': a, 'driver': driver,
                 'iommu_group': self.sim.device(a).iommu_group}
                for i, a in enumerate(sim_pf.vfs)]
        keys = ('index', 'address', 'driver', 'iommu_group')   # extra members are fine
        self.assertEqual([{k: v.get(k, 'MISSING') for k in keys}
                          for v in devs[pf]['sriov']['vfs']], want)
        groups = {v['iommu_group'] for v in want} | {devs[pf]['iommu_group']}
        self.assertEqual(len(groups), n + 1, 'each VF has its own IOMMU group')
        for i, a in enumerate(sim_pf.vfs):
            v = devs[a]
            self.assertEqual(v['role'], 'vf')
            self.assertEqual(v['vf'], {'index': i, 'pf': pf})
            self.assertEqual(v['driver'], driver)
            self.assertEqual(v['device_id'], '0010')
            self.assertEqual(v['iommu_group'], self.sim.device(a).iommu_group)
            self.assertEqual(v['upstream'], [self.sim.device(pf).parent])
            self.assertNotIn('sriov', v)
        return devs

    def test_04_enable_and_disable_through_the_kernel(self):
        sim = self.sim
        sim.write_numvfs(PF1, 3)
        devs = self.check_vfs(PF1, 3, None)
        self.assertEqual([v['address'] for v in devs[PF1]['sriov']['vfs']],
                         ['0000:01:00.1', '0000:01:00.2', '0000:01:00.3'])
        sim.write_numvfs(PF2, 3)
        self.check_vfs(PF2, 3, 'nvme')
        sim.write_numvfs(PF1, 0)
        devs = self.wait_status(self.num_vfs_is(PF1, 0), what='0 VFs of ' + PF1)
        self.assertEqual(devs[PF1]['sriov']['vfs'], [])
        self.assertNotIn('0000:01:00.1', devs)
        sim.write_numvfs(PF2, 0)
        devs = self.wait_status(self.num_vfs_is(PF2, 0), what='0 VFs of ' + PF2)
        self.assertEqual(sorted(devs), sorted([RP1, PF1, RP2, PF2]))
        self.assertEqual(sim.rejected_writes, [])

    def test_05_short_enablement_is_what_the_kernel_did(self):
        sim = self.sim
        sim.set_behaviour(PF2, short_by=1)
        try:
            sim.write_numvfs(PF2, 4)
            self.check_vfs(PF2, 3, 'nvme')
        finally:
            sim.set_behaviour(PF2, short_by=0)

    def test_06_get_one_device(self):
        st, hdrs, body = self.sim.http('GET', '/v1/devices/' + PF1)
        self.assertEqual(st, 200, body)
        dev = body.get('device', body) if isinstance(body, dict) else None
        self.assertIsInstance(dev, dict, body)
        self.assertEqual(dev['address'], PF1)
        self.assertEqual(dev['role'], 'pf')
        self.assertEqual(dev, by_addr(self.status())[PF1])

    def assertApiError(self, method, path, status):
        st, hdrs, body = self.sim.http(method, path)
        self.assertEqual(st, status, '%s %s -> %s %r' % (method, path[:80], st, body))
        self.assertIsInstance(body, dict, '%s %s: error body is not JSON: %r' % (method, path[:80], body))
        self.assertIsInstance(body.get('error'), str, body)
        self.assertTrue(body['error'])
        self.assertEqual(body.get('code'), status, body)
        self.assertIn('application/json', hdrs.get('content-type', ''))
        return body

    def test_07_unknown_address_is_404(self):
        self.assertApiError('GET', '/v1/devices/' + ABSENT, 404)

    def test_08_malformed_addresses_are_400(self):
        for bad in ['garbage', '0000:01:00.9', '0000:01:20.0', '0000:1:00.0',
                    '0000:01:00.0x', '..%2F..%2Fetc', '%2E%2E', '..', '../../etc',
                    'A' * 4096, '%00', '0000:01:00.0%00', '0000%3A01%3A00.0%00',
                    '%ff%fe', '0000:01:00.-1', '%20']:
            with self.subTest(address=bad[:40]):
                self.assertApiError('GET', '/v1/devices/' + bad, 400)

    def test_09_huge_request_does_not_hurt(self):
        try:
            st, _, _ = self.sim.http('GET', '/v1/devices/' + 'A' * 70000, timeout=10)
            self.assertGreaterEqual(st, 400)
            self.assertLess(st, 500)
        except (ConnectionError, OSError, Exception) as e:  # closing is fine too
            if isinstance(e, AssertionError):
                raise
        st, _, _ = self.sim.http('GET', '/v1/devices')
        self.assertEqual(st, 200, 'daemon still answers')
        self.assertIsNone(self.sim.proc.poll())

    def test_10_unknown_paths_are_404(self):
        for path in ['/v1/nothing', '/', '/v2/devices', '/v1/devices/%s/nothing' % PF1, '/v1']:
            with self.subTest(path=path):
                self.assertApiError('GET', path, 404)

    def test_11_wrong_method_is_405(self):
        for method, path in [('POST', '/v1/devices'), ('DELETE', '/v1/devices'),
                             ('PUT', '/v1/devices/' + PF1)]:
            with self.subTest(method=method, path=path):
                self.assertApiError(method, path, 405)

    def test_12_aer_counters_with_kernel_names(self):
        devs = by_addr(self.status())
        aer = devs[RP1].get('aer')
        self.assertIsInstance(aer, dict, devs[RP1])
        want_cor = {n: 0 for n in simkernel.AER_CORRECTABLE}
        want_cor['total'] = 0
        self.assertEqual(aer['correctable'], want_cor)
        self.assertEqual(aer['nonfatal']['UnsupReq'], 1)
        self.assertEqual(aer['nonfatal']['total'], 1)
        self.assertEqual(set(aer['nonfatal']), set(simkernel.AER_UNCORRECTABLE) | {'total'})
        self.assertEqual(aer['fatal']['total'], 0)
        self.assertEqual(aer['rootport_total'], {'correctable': 0, 'nonfatal': 1, 'fatal': 0})
        self.assertNotIn('aer', devs[PF1], 'the PF has no AER files')

    def test_13_aer_counters_follow_error_events(self):
        """The kernel counts an error at the port and announces recovery with
        ERROR_EVENT uevents on the functions below it."""
        sim = self.sim
        sim.bump_aer(RP2, 'nonfatal', 'CmpltAbrt')
        sim.uevent(PF2, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE=0)
        sim.uevent(PF2, 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE=1)
        devs = self.wait_status(
            lambda d: (d[RP2].get('aer') or {}).get('nonfatal', {}).get('CmpltAbrt') == 1,
            what='CmpltAbrt 1 on ' + RP2)
        self.assertEqual(devs[RP2]['aer']['rootport_total']['nonfatal'], 1)
        self.assertIsNone(sim.proc.poll())

    def test_14_human_status(self):
        sim = self.sim
        sim.write_numvfs(PF2, 2)
        self.wait_status(self.num_vfs_is(PF2, 2), what='2 VFs of ' + PF2)
        rc, out, err = sim.ctl('status')
        self.assertEqual(rc, 0, err)
        for a in (PF2, '0000:02:00.1', '0000:02:00.2', PF1, RP1):
            self.assertIn(a, out)
        rc, out_all, err = sim.ctl('status', '--all')
        self.assertEqual(rc, 0, err)
        self.assertIn('0000:02:00.2', out_all)
        self.assertGreater(len(out_all.splitlines()), len(out.splitlines()) - 1)
        rc, one, err = sim.ctl('status', PF2)
        self.assertEqual(rc, 0, err)
        self.assertIn(PF2, one)
        self.assertNotIn(PF1, one)
        rc, one_json, err = sim.ctl('status', PF2, '--json')
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(one_json), sim.http('GET', '/v1/devices/' + PF2)[2])
        rc, _, err = sim.ctl('status', ABSENT)
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_15_daemon_still_healthy(self):
        self.assertIsNone(self.sim.proc.poll(), self.log_tail())
        self.assertEqual(self.sim.dropped_uevents, [])


@need_binaries
class TestAerBurst(DaemonCase):
    """Issue 9: error uevents read a function's AER files at most once per 100 ms
    window (daemon/sriovd-aer-reads.c).  The first error uevent carries the deltas;
    one that comes within the window reads nothing, and what grew meanwhile is
    recorded once, as AER_COUNTERS, when the window ends.  Nothing is lost or
    counted twice.  (The periodic poll is off here: it would record growth too.)"""

    WINDOW_S = 0.1

    def setUp(self):
        self.sim = make_sim()
        self.addCleanup(self.sim.close)
        self.sim.add_aer(PF2)
        self.sim.start_daemon(['--aer-poll-interval', '0'])
        self.sim.wait_ready(20)

    def events_since(self, seq):
        st, _, body = self.sim.http('GET', '/v1/events?since=%d' % seq)
        self.assertEqual(st, 200, body)
        return body['events']

    @staticmethod
    def t(e):
        # "2026-12-06T12:00:00.123456Z"
        hms = e['time'].split('T')[1].rstrip('Z')
        h, m, sec = hms.split(':')
        return int(h) * 3600 + int(m) * 60 + float(sec)

    @staticmethod
    def grown(e, kind, name):
        return ((e.get('aer_deltas') or {}).get(kind) or {}).get(name, 0)

    def test_burst_reads_once_per_window(self):
        sim = self.sim
        st, _, body = sim.http('GET', '/v1/events?limit=1')
        seq = body['recorded']
        sim.bump_aer(PF2, 'nonfatal', 'CmpltAbrt')
        sim.uevent(PF2, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE=0)
        first = SimKernel.wait_for(lambda: [e for e in self.events_since(seq) if e['event'] == 'BEGIN_RECOVERY'],
                                   10, interval=0.002, what='BEGIN_RECOVERY recorded')[0]
        self.assertEqual(self.grown(first, 'nonfatal', 'CmpltAbrt'), 1, first)
        # within the window: two more errors counted, and the next uevent
        sim.bump_aer(PF2, 'nonfatal', 'CmpltAbrt', 2)
        sim.uevent(PF2, 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE=1)
        second = SimKernel.wait_for(
            lambda: [e for e in self.events_since(seq) if e['event'] == 'SUCCESSFUL_RECOVERY'],
            10, interval=0.002, what='SUCCESSFUL_RECOVERY recorded')[0]
        gap = self.t(second) - self.t(first)
        if gap >= self.WINDOW_S:
            # A slow machine: the window had ended, so the uevent read at once.
            self.assertEqual(self.grown(second, 'nonfatal', 'CmpltAbrt'), 2, second)
            self.skipTest('the second uevent came %.3f s after the first: no burst' % gap)
        self.assertEqual(self.grown(second, 'nonfatal', 'CmpltAbrt'), 0,
                         'read again %.3f s after the first read: %r' % (gap, second))
        flushed = SimKernel.wait_for(
            lambda: [e for e in self.events_since(seq) if e['event'] == 'AER_COUNTERS' and e['device'] == PF2],
            5, interval=0.01, what='the growth recorded at the end of the window' + self.log_tail())
        self.assertEqual(len(flushed), 1, flushed)
        self.assertEqual(self.grown(flushed[0], 'nonfatal', 'CmpltAbrt'), 2, flushed[0])
        self.assertGreaterEqual(self.t(flushed[0]) - self.t(first), self.WINDOW_S - 0.002)
        # exact in total, and the model has the kernel's counter
        time.sleep(2 * self.WINDOW_S)
        total = sum(self.grown(e, 'nonfatal', 'CmpltAbrt') for e in self.events_since(seq)
                    if e['device'] == PF2)
        self.assertEqual(total, 3)
        st, _, body = sim.http('GET', '/v1/devices/' + PF2)
        self.assertEqual(body['device']['aer']['nonfatal']['CmpltAbrt'], 3)


@need_binaries
class TestClientWithoutDaemon(unittest.TestCase):
    def setUp(self):
        self.sim = SimKernel()
        self.addCleanup(self.sim.close)

    def check_one_line(self, path):
        rc, out, err = self.sim.ctl('status', socket_path=path, timeout=15)
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, '')
        lines = err.strip('\n').split('\n')
        self.assertEqual(len(lines), 1, 'one line on stderr, got %r' % err)
        self.assertTrue(lines[0].strip())
        self.assertIn(path, lines[0], 'the message names the socket: %r' % err)

    def test_no_socket_file(self):
        self.check_one_line(os.path.join(self.sim.tmp, 'nobody.sock'))

    def test_stale_socket_file(self):
        path = os.path.join(self.sim.tmp, 'stale.sock')
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()                # the file stays, nobody listens
        self.check_one_line(path)


@need_binaries
class TestLifecycle(DaemonCase):
    def setUp(self):
        self.sim = make_sim()
        self.addCleanup(self.sim.close)

    def test_sigterm_stopping_and_socket_removed(self):
        sim = self.sim
        sim.start_daemon()
        sim.wait_ready(15)
        self.assertTrue(os.path.exists(sim.socket_path))
        rc = sim.stop_daemon(timeout=15)
        self.assertEqual(rc, 0, self.log_tail())
        self.assertIn('STOPPING=1', sim.notify_messages)
        self.assertLess(sim.notify_messages.index('READY=1'),
                        sim.notify_messages.index('STOPPING=1'))
        self.assertFalse(os.path.exists(sim.socket_path), 'socket file removed on exit')

    def test_vfs_enabled_before_start(self):
        sim = self.sim
        sim.write_numvfs(PF2, 2)
        sim.start_daemon()
        sim.wait_ready(15)
        devs = by_addr(self.status())
        self.assertEqual(devs[PF2]['sriov']['num_vfs'], 2)
        self.assertEqual([v['driver'] for v in devs[PF2]['sriov']['vfs']], ['nvme', 'nvme'])
        self.assertEqual(devs['0000:02:00.2']['vf'], {'index': 1, 'pf': PF2})


@need_binaries
class TestScale(DaemonCase):
    N = 2000

    def setUp(self):
        self.sim = SimKernel()
        self.addCleanup(self.sim.close)
        self.sim.add_root_port(RP1, subordinate_bus=0x0f)
        self.sim.add_pf(PF1, RP1, total_vfs=2048, vf_driver='nvme', probe_fails=True)

    def test_2000_vfs(self):
        sim = self.sim
        sim.start_daemon(log_level='info')
        sim.wait_ready(15)
        t0 = time.monotonic()
        sim.write_numvfs(PF1, self.N, timeout=240)
        t1 = time.monotonic()
        devs = self.wait_status(self.num_vfs_is(PF1, self.N), timeout=120,
                                what='%d VFs in status' % self.N)
        t2 = time.monotonic()
        vfs = devs[PF1]['sriov']['vfs']
        self.assertEqual([v['index'] for v in vfs], list(range(self.N)))
        self.assertEqual([v['address'] for v in vfs], sim.device(PF1).vfs)
        self.assertEqual(vfs[-1]['address'], '0000:08:1a.0')
        self.assertEqual(len({v['iommu_group'] for v in vfs}), self.N)
        self.assertEqual(sim.dropped_uevents, [])
        sys.stderr.write('[kernel %.1fs, status complete %.1fs later] ' % (t1 - t0, t2 - t1))
        sim.write_numvfs(PF1, 0, timeout=240)
        self.wait_status(self.num_vfs_is(PF1, 0), timeout=120, what='0 VFs in status')
        self.assertIsNone(sim.proc.poll(), self.log_tail())


if __name__ == '__main__':
    simkernel.main()
