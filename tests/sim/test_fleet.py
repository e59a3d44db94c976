#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sim tests of sriovd's fleet face: Prometheus metrics (GET /metrics on the
API socket and the read-only TCP listener, checked with promtool and scraped
by a real Prometheus server), NFD feature labels (nfd-features-file), and live
configuration (inotify on sriovd.conf and sriovd.conf.d/, including the way a
Kubernetes ConfigMap swaps ..data).

The real sriovd runs under umockdev's preload against simkernel's testbed.
Run: /usr/bin/python3 tests/sim/test_fleet.py [NAME...]
(SRIOVD / SRIOVCTL select the binaries; SIM_SHOW_LOG=1 prints sriovd's log.)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel, _Inotify  # noqa: E402
from test_config import ConfigSimKernel  # noqa: E402

RP1, PF1 = '0000:00:02.0', '0000:01:00.0'
RP2, PF2 = '0000:00:03.0', '0000:02:00.0'
QUIET = ['--settle-quiet-ms', '200']

HAVE_BINARIES = os.access(simkernel.SRIOVD, os.X_OK) and os.access(simkernel.SRIOVCTL, os.X_OK)
need_binaries = unittest.skipUnless(HAVE_BINARIES, 'sriovd/sriovctl not built')
PROMTOOL = shutil.which('promtool')
PROMETHEUS = shutil.which('prometheus')

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
IN_MOVED_TO = 0x00000080


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """{(name, frozenset(labels.items())): float}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError('not an exposition line: %r' % line)
        labels = frozenset(LABEL_RE.findall(m.group(3) or ''))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    want = frozenset(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= ls]
    if len(found) != 1:
        raise KeyError('%s%r: %d samples' % (name, labels, len(found)))
    return found[0]


def tcp_request(port, method, path, body=None, timeout=5):
    import http.client
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        hdrs = {'Content-Type': 'application/json'} if body is not None else {}
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors='replace')
    finally:
        c.close()


class FleetCase(unittest.TestCase):
    def setUp(self):
        self.sim = ConfigSimKernel(probe=False)
        self.addCleanup(self.cleanup)
        self.conf = os.path.join(self.sim.tmp, 'sriovd.conf')
        self.dropins = self.conf + '.d'
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')

    def cleanup(self):
        if os.environ.get('SIM_SHOW_LOG'):
            sys.stderr.write('\n--- sriovd log of %s ---\n%s' % (self.id(), self.sim.daemon_log()))
        self.sim.close()

    def log_tail(self, n=60):
        return '\n--- sriovd log ---\n' + '\n'.join(self.sim.daemon_log().splitlines()[-n:])

    def start(self, config, ready=True):
        self.sim.start_daemon(QUIET, config=config)
        if ready:
            self.sim.wait_ready(15)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.join(os.path.dirname(path), '.tmp-' + os.path.basename(path))
        with open(tmp, 'w') as f:
            f.write(text)
        os.rename(tmp, path)

    def metrics_text(self):
        st, h, body = self.sim.http('GET', '/metrics')
        self.assertEqual(st, 200, body)
        self.assertEqual(h['content-type'].split(';')[0:2], ['text/plain', ' version=0.0.4'], h)
        self.assertIsInstance(body, str)
        return body

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def wait_metric(self, name, want, timeout=15, **labels):
        last = {}

        def check():
            try:
                last['v'] = value(self.metrics(), name, **labels)
            except KeyError as e:
                last['v'] = str(e)
                return False
            return last['v'] == want
        try:
            SimKernel.wait_for(check, timeout, interval=0.1, what='%s%r == %r' % (name, labels, want))
        except TimeoutError as e:
            self.fail('%s; last %r%s' % (e, last.get('v'), self.log_tail()))

    def wait_vfs(self, pf, n, timeout=20):
        def check():
            st, _, body = self.sim.http('GET', '/v1/devices/' + pf)
            d = body['device']
            return d['sriov']['num_vfs'] == n and d['operations'] == []
        SimKernel.wait_for(check, timeout, interval=0.05, what='%d VFs on %s' % (n, pf))
        self.sim.wait_idle()

    def promtool_check(self, text):
        r = subprocess.run([PROMTOOL, 'check', 'metrics'], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, 'promtool check metrics: %s%s' % (r.stdout, r.stderr))
        self.assertEqual((r.stdout + r.stderr).strip(), '', 'promtool has lint remarks')


@need_binaries
class TestMetrics(FleetCase):
    @unittest.skipUnless(PROMTOOL, 'promtool (Debian package prometheus) not installed')
    def test_01_after_enable_promtool_clean(self):
        """GET /metrics follows an enable; promtool finds nothing to say."""
        self.start('[pf "%s"]\nnum-vfs = 2\n' % PF1)
        self.wait_vfs(PF1, 2)
        text = self.metrics_text()
        self.promtool_check(text)
        s = parse_metrics(text)
        self.assertEqual(value(s, 'sriovd_build_info'), 1)
        for name, want in (('sriovd_pf_total_vfs', 4), ('sriovd_pf_requested_vfs', 2),
                           ('sriovd_pf_enumerated_vfs', 2), ('sriovd_pf_bound_vfs', 2),
                           ('sriovd_pf_usable_vfs', 2), ('sriovd_pf_drift', 0)):
            self.assertEqual(value(s, name, pf=PF1), want, name)
        self.assertEqual(value(s, 'sriovd_pf_enablement_result', pf=PF1, result='complete'), 1)
        self.assertEqual(value(s, 'sriovd_pf_enablement_result', pf=PF1, result='none'), 0)
        self.assertEqual(value(s, 'sriovd_operations_total', kind='enable', result='complete'), 1)
        self.assertEqual(value(s, 'sriovd_operation_duration_seconds_count', kind='enable'), 1)
        self.assertEqual(value(s, 'sriovd_operation_duration_seconds_bucket', kind='enable', le='+Inf'), 1)
        self.assertEqual(value(s, 'sriovd_hierarchy_kernel_can_recover', hierarchy=RP1), 1)
        self.assertEqual(value(s, 'sriovd_config_last_reload_successful'), 1)
        # per-VF series are off by default
        self.assertFalse([k for k in s if k[0].startswith('sriovd_vf_')])

        # a disable is its own kind; drift appears when the kernel changes behind sriovd
        st, _, body = self.sim.http('POST', '/v1/devices/%s/sriov' % PF1, {'num_vfs': 0})
        self.assertEqual(st, 200, body)
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_operations_total', kind='disable', result='complete'), 1)
        self.assertEqual(value(s, 'sriovd_pf_enumerated_vfs', pf=PF1), 0)
        self.sim.write_numvfs(PF1, 1)
        self.wait_metric('sriovd_pf_drift', 1, pf=PF1)

    def test_02_aer_error_and_recovery(self):
        """An AER error counts in the kernel's counters and as an error uevent;
        the kernel's recovery result per hierarchy; driverless VFs make the
        hierarchy unrecoverable by the kernel."""
        sim = self.sim
        sim.add_aer(RP1)
        sim.add_aer(PF1)
        self.start(None)
        sim.bump_aer(PF1, 'nonfatal', 'CmpltTO')
        sim.uevent(PF1, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE=0)
        sim.uevent(PF1, 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE=1)
        self.wait_metric('sriovd_aer_errors_total', 1, pci=PF1, severity='nonfatal')
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_aer_errors_total', pci=PF1, severity='fatal'), 0)
        self.assertEqual(value(s, 'sriovd_aer_rootport_errors_total', pci=RP1, severity='nonfatal'), 1)
        self.assertEqual(value(s, 'sriovd_error_uevents_total', pci=PF1, severity='nonfatal'), 1)
        self.assertGreaterEqual(value(s, 'sriovd_error_uevents_total', pci=PF1, severity='unknown'), 1)
        self.assertEqual(value(s, 'sriovd_kernel_recoveries_total', hierarchy=RP1, result='begun'), 1)
        # the tracker waits out its settle window before it calls the recovery done
        self.wait_metric('sriovd_kernel_recoveries_total', 1, hierarchy=RP1, result='succeeded')
        self.wait_metric('sriovd_hierarchy_recovering', 0, hierarchy=RP1)
        if PROMTOOL:
            self.promtool_check(self.metrics_text())

    def test_03_driverless_vfs_block_kernel_recovery_per_vf_series(self):
        sim = self.sim
        sim.add_root_port(RP2)
        sim.add_pf(PF2, RP2, total_vfs=4, vf_driver=None)
        self.start('[daemon]\nmetrics-per-vf = yes\n[pf "%s"]\nnum-vfs = 2\n' % PF2)
        self.wait_vfs(PF2, 2)
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_hierarchy_kernel_can_recover', hierarchy=RP2), 0)
        self.assertEqual(value(s, 'sriovd_hierarchy_blocking_functions', hierarchy=RP2), 2)
        self.assertEqual(value(s, 'sriovd_hierarchy_kernel_can_recover', hierarchy=RP1), 1)
        self.assertEqual(value(s, 'sriovd_pf_bound_vfs', pf=PF2), 0)
        self.assertEqual(value(s, 'sriovd_pf_enablement_result', pf=PF2, result='partial'), 1)
        vfs = sorted(dict(ls)['vf'] for (n, ls) in s if n == 'sriovd_vf_bound')
        self.assertEqual(vfs, [simkernel.vf_address(PF2, 1, 1, i) for i in range(2)])
        if PROMTOOL:
            self.promtool_check(self.metrics_text())

    def test_04_hung_write_counted_once(self):
        sim = self.sim
        self.start(None)
        sim.set_hang(PF1, True)
        st, _, body = sim.http('POST', '/v1/devices/%s/sriov' % PF1, {'num_vfs': 2, 'timeout_ms': 1000},
                               timeout=20)
        self.assertEqual(body['report']['hung'], True, body)
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_sysfs_writes_hung_total', attribute='sriov_numvfs'), 1)
        self.assertEqual(value(s, 'sriovd_operations_total', kind='enable', result='hung'), 1)
        self.assertEqual(value(s, 'sriovd_pf_enablement_result', pf=PF1, result='hung'), 1)
        sim.release_hang(PF1)
        self.wait_vfs(PF1, 2)
        time.sleep(0.5)
        s = self.metrics()
        # the late return is not a second operation
        self.assertEqual(sum(v for (n, ls), v in s.items() if n == 'sriovd_operations_total'
                             and ('kind', 'enable') in ls), 1)

    def test_05_tcp_listener_is_read_only(self):
        """Only GET /metrics and GET /healthz over TCP; nothing else, and in
        particular no state change."""
        port = free_port()
        self.start('[daemon]\nmetrics-listen = 127.0.0.1:%d\n' % port)
        st, h, body = tcp_request(port, 'GET', '/metrics')
        self.assertEqual(st, 200)
        self.assertTrue(h['content-type'].startswith('text/plain; version=0.0.4'), h)
        self.assertEqual(value(parse_metrics(body), 'sriovd_pf_total_vfs', pf=PF1), 4)
        self.assertEqual(tcp_request(port, 'GET', '/healthz')[0:3:2], (200, 'ok\n'))
        self.assertEqual(tcp_request(port, 'HEAD', '/metrics')[0], 200)
        refused = [
            ('POST', '/v1/devices/%s/sriov' % PF1, json.dumps({'num_vfs': 2}), 404),
            ('POST', '/v1/reload', '{}', 404),
            ('POST', '/v1/devices/%s/recover' % PF1, '{}', 404),
            ('GET', '/v1/devices', None, 404),
            ('GET', '/v1/config', None, 404),
            ('GET', '/', None, 404),
            ('GET', '/metrics/../v1/devices', None, 404),
            ('POST', '/metrics', '{}', 405),
            ('PUT', '/healthz', None, 405),
            ('DELETE', '/metrics', None, 405),
        ]
        for method, path, body, want in refused:
            got = tcp_request(port, method, path, body)[0]
            self.assertIn(got, (want, 413) if body else (want,), (method, path))
        time.sleep(0.5)
        self.assertEqual(self.sim.writes, [], 'a TCP request reached the kernel')
        # the Unix socket still is the API; /metrics there is read-only too
        self.assertEqual(self.sim.http('GET', '/v1/devices/' + PF1)[0], 200)
        self.assertEqual(self.sim.http('POST', '/metrics', {})[0], 405)
        self.assertEqual(self.sim.http('HEAD', '/metrics')[0], 200)

    def test_06_listener_follows_reload_and_bad_address_refused(self):
        port, port2 = free_port(), free_port()
        self.start('[daemon]\nmetrics-listen = 127.0.0.1:%d\n' % port)
        self.assertEqual(tcp_request(port, 'GET', '/healthz')[0], 200)
        self.write(self.conf, '[daemon]\nmetrics-listen = 127.0.0.1:%d\n' % port2)
        SimKernel.wait_for(lambda: self._answers(port2), 10, what='listener on the new port')
        self.assertFalse(self._answers(port), 'the old port still answers')
        # a host name is no listen address: the reload is refused, the listener stays
        self.write(self.conf, '[daemon]\nmetrics-listen = localhost:%d\n' % port)
        SimKernel.wait_for(lambda: value(self.metrics(), 'sriovd_config_last_reload_successful') == 0, 10,
                           what='the reload refused')
        self.assertIn('metrics-listen', self.sim.daemon_log())
        self.assertTrue(self._answers(port2))

    def test_08_healthz_not_ready_until_configuration_applied(self):
        """/healthz (the DaemonSet's probes) says 503 while the configured
        state is being applied at start, 200 once it is (READY=1)."""
        port = free_port()
        self.sim.set_hang(PF1, True)
        self.start('[daemon]\nmetrics-listen = 127.0.0.1:%d\n[pf "%s"]\nnum-vfs = 2\n' % (port, PF1),
                   ready=False)
        SimKernel.wait_for(lambda: self._status(port) is not None, 10, what='the listener')
        st, _, body = tcp_request(port, 'GET', '/healthz')
        self.assertEqual((st, body), (503, 'starting: applying the configuration\n'))
        self.assertEqual(value(parse_metrics(tcp_request(port, 'GET', '/metrics')[2]), 'sriovd_ready'), 0)
        self.sim.release_hang(PF1)
        self.sim.wait_ready(30)
        self.assertEqual(tcp_request(port, 'GET', '/healthz')[0:3:2], (200, 'ok\n'))
        self.assertEqual(value(self.metrics(), 'sriovd_ready'), 1)

    def test_09_ifname_label(self):
        """A PF with a network interface has an ifname label; one that gets its
        interface later has it after its next uevent."""
        self.sim.add_root_port(RP2)
        self.sim.add_pf(PF2, RP2, total_vfs=4, vf_driver='nvme')
        os.makedirs(self.sim.path(PF1, 'net', 'ens1f0'))
        self.start(None)
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_pf_total_vfs', pf=PF1, ifname='ens1f0'), 4)
        self.assertEqual(value(s, 'sriovd_pf_enablement_result', pf=PF1, ifname='ens1f0', result='none'), 1)
        self.assertFalse([ls for (n, ls) in s if n == 'sriovd_pf_total_vfs' and ('pf', PF2) in ls
                          and any(k == 'ifname' for k, _ in ls)])
        os.makedirs(self.sim.path(PF2, 'net', 'ens2f0'))
        self.sim.uevent(PF2, 'change')
        self.wait_metric('sriovd_pf_total_vfs', 4, pf=PF2, ifname='ens2f0')

    def _status(self, port):
        try:
            return tcp_request(port, 'GET', '/healthz', timeout=1)[0]
        except OSError:
            return None

    def _answers(self, port):
        try:
            return tcp_request(port, 'GET', '/healthz', timeout=1)[0] == 200
        except OSError:
            return False

    @unittest.skipUnless(PROMETHEUS, 'prometheus (Debian package prometheus) not installed')
    def test_07_real_prometheus_scrapes_the_listener(self):
        port, prom_port = free_port(), free_port()
        self.start('[daemon]\nmetrics-listen = 127.0.0.1:%d\n[pf "%s"]\nnum-vfs = 2\n' % (port, PF1))
        self.wait_vfs(PF1, 2)
        data = tempfile.mkdtemp(prefix='sriovd-prom.', dir=self.sim.tmp)
        cfg = os.path.join(data, 'prometheus.yml')
        with open(cfg, 'w') as f:
            f.write('global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n'
                    'scrape_configs:\n  - job_name: sriovd\n    static_configs:\n'
                    '      - targets: ["127.0.0.1:%d"]\n' % port)
        log = open(os.path.join(data, 'prometheus.log'), 'wb')
        prom = subprocess.Popen([PROMETHEUS, '--config.file=' + cfg, '--storage.tsdb.path=' + data + '/tsdb',
                                 '--web.listen-address=127.0.0.1:%d' % prom_port, '--log.level=warn'],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def stop():
            prom.terminate()
            try:
                prom.wait(20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
            log.close()
        self.addCleanup(stop)
        q = urllib.parse.quote('sriovd_pf_enumerated_vfs{pf="%s"}' % PF1)
        found = {}

        def query():
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/api/v1/query?query=%s' % (prom_port, q),
                                            timeout=2) as r:
                    res = json.load(r)
            except OSError:
                return False
            found['res'] = res
            return res.get('status') == 'success' and res['data']['result']
        try:
            SimKernel.wait_for(query, 60, interval=0.5, what='Prometheus has a sriovd series')
        except TimeoutError:
            with open(os.path.join(data, 'prometheus.log'), errors='replace') as f:
                self.fail('no series; last %r\n%s' % (found.get('res'), f.read()[-3000:]))
        series = found['res']['data']['result'][0]
        self.assertEqual(series['metric']['job'], 'sriovd')
        self.assertEqual(series['value'][1], '2')
        # and the target is healthy
        with urllib.request.urlopen('http://127.0.0.1:%d/api/v1/targets' % prom_port, timeout=5) as r:
            targets = json.load(r)['data']['activeTargets']
        self.assertEqual([t['health'] for t in targets], ['up'], targets)


@need_binaries
class TestBindMetrics(FleetCase):
    def setUp(self):
        self.sim = ConfigSimKernel(probe=True)
        self.addCleanup(self.cleanup)
        self.conf = os.path.join(self.sim.tmp, 'sriovd.conf')
        self.sim.add_root_port(RP1)
        self.sim.add_pf(PF1, RP1, total_vfs=4, vf_driver=None)

    def test_binds_counted_by_result(self):
        self.start('[pf "%s"]\nnum-vfs = 2\ndrivers-autoprobe = no\nvf-driver = vfio-pci\n' % PF1)
        self.wait_metric('sriovd_operations_total', 2, kind='bind', result='complete')
        vf = simkernel.vf_address(PF1, 1, 1, 0)
        st, _, body = self.sim.http('POST', '/v1/devices/%s/bind' % vf, {'driver': 'no-such-driver'})
        self.assertEqual(st, 409, body)
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_operations_total', kind='bind', result='failed'), 1)
        self.assertEqual(value(s, 'sriovd_operation_duration_seconds_count', kind='bind'), 3)
        self.assertEqual(value(s, 'sriovd_sysfs_writes_hung_total', attribute='bind'), 0)


@need_binaries
class TestRecoveryMetrics(unittest.TestCase):
    """sriovd's own recovery (simrecovery's kernel: remove, rescan, restore)."""

    def test_recovery_on_demand_counted(self):
        import test_recovery
        sim = test_recovery.make_sim()
        self.addCleanup(sim.close)
        pf = test_recovery.PF2
        sim.start_daemon()
        sim.wait_ready(15)
        st, _, body = sim.http('POST', '/v1/devices/%s/sriov' % pf, {'num_vfs': 2}, timeout=60)
        self.assertEqual(st, 200, body)
        st, _, body = sim.http('POST', '/v1/devices/%s/recover' % pf, {}, timeout=120)
        self.assertEqual((st, body.get('succeeded')), (200, True), body)
        st, _, text = sim.http('GET', '/metrics')
        s = parse_metrics(text)
        self.assertEqual(value(s, 'sriovd_recoveries_total', pf=pf, result='succeeded'), 1)
        self.assertEqual(value(s, 'sriovd_recoveries_total', pf=pf, result='failed'), 0)
        self.assertEqual(value(s, 'sriovd_pf_enumerated_vfs', pf=pf), 2)
        # PFs nobody recovered have no series
        self.assertFalse([ls for (n, ls) in s if n == 'sriovd_recoveries_total' and ('pf', pf) not in ls])
        if PROMTOOL:
            r = subprocess.run([PROMTOOL, 'check', 'metrics'], input=text, capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ''))


@need_binaries
class TestNfd(FleetCase):
    def setUp(self):
        super().setUp()
        self.features_d = os.path.join(self.sim.tmp, 'features.d')
        os.makedirs(self.features_d)
        self.nfd = os.path.join(self.features_d, 'sriovd')

    def read_nfd(self):
        with open(self.nfd) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].startswith('# +expiry-time='), lines)
        expiry = time.mktime(time.strptime(lines[0].split('=', 1)[1], '%Y-%m-%dT%H:%M:%SZ')) - time.timezone
        labels = dict(line.split('=', 1) for line in lines[1:] if not line.startswith('#'))
        return expiry, labels

    def wait_label(self, key, want, timeout=10):
        last = {}

        def check():
            try:
                last['l'] = self.read_nfd()[1]
            except FileNotFoundError:
                return False
            return last['l'].get(key) == want
        try:
            SimKernel.wait_for(check, timeout, interval=0.1, what='label %s=%s' % (key, want))
        except TimeoutError as e:
            self.fail('%s; labels %r%s' % (e, last.get('l'), self.log_tail()))

    def test_01_labels_follow_enable(self):
        key_re = re.compile(r'^sriovd\.io/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')
        val_re = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$')
        self.start('[daemon]\nnfd-features-file = %s\nnfd-expiry = 60\n[pf "%s"]\nnum-vfs = 2\n'
                   % (self.nfd, PF1))
        pid = 'sriovd.io/pci-0000-01-00.0'
        self.wait_label(pid + '.vfs', '2')
        expiry, labels = self.read_nfd()
        now = time.time()
        self.assertGreater(expiry, now + 30, 'expiry in the future')
        self.assertLessEqual(expiry, now + 61)
        self.assertEqual(labels, {'sriovd.io/ready': 'true', 'sriovd.io/kernel-can-recover': 'true',
                                  pid + '.vfs': '2', pid + '.usable-vfs': '2'})
        for k, v in labels.items():
            self.assertRegex(k, key_re)
            self.assertRegex(v, val_re)
        # only the file, no temporary dotfile left behind
        self.assertEqual(os.listdir(self.features_d), ['sriovd'])

        # an enable with many uevents: the file is rewritten a few times, not per uevent
        ino = _Inotify()
        wd = ino.add(self.features_d, IN_MOVED_TO)
        n_uevents = len(self.sim.uevents_sent)
        st, _, body = self.sim.http('POST', '/v1/devices/%s/sriov' % PF1, {'num_vfs': 4})
        self.assertEqual(st, 200, body)
        self.wait_label(pid + '.vfs', '4')
        time.sleep(1.5)
        events = []
        while True:
            got = ino.read()
            if not got:
                break
            events += got
        ino.close()
        renames = len([e for e in events if e[0] == wd])
        sent = len(self.sim.uevents_sent) - n_uevents
        self.assertGreater(sent, 6)
        self.assertGreaterEqual(renames, 1)
        self.assertLess(renames, sent / 2, 'rewritten per uevent (%d for %d uevents)' % (renames, sent))

    def test_02_refreshed_before_expiry_removed_when_unset(self):
        self.start('[daemon]\nnfd-features-file = %s\nnfd-expiry = 10\n' % self.nfd)
        self.wait_label('sriovd.io/ready', 'true')
        first, _ = self.read_nfd()
        # rewritten at half the expiry with a later expiry, though nothing changed
        SimKernel.wait_for(lambda: self.read_nfd()[0] > first, 12, interval=0.2, what='refresh')
        # reloading without the key removes the file: its labels go at once
        self.write(self.conf, '# no NFD\n')
        SimKernel.wait_for(lambda: not os.path.exists(self.nfd), 10, what='file removed')

    def test_04_by_interface_name(self):
        os.makedirs(self.sim.path(PF1, 'net', 'ens1f0'))
        self.start('[daemon]\nnfd-features-file = %s\n[pf "%s"]\nnum-vfs = 2\n' % (self.nfd, PF1))
        self.wait_label('sriovd.io/net-ens1f0.vfs', '2')
        labels = self.read_nfd()[1]
        self.assertEqual(labels['sriovd.io/net-ens1f0.usable-vfs'], '2')
        self.assertNotIn('sriovd.io/pci-0000-01-00.0.vfs', labels)

    def test_03_not_ready_while_short(self):
        """A PF short of its desired count makes the node not ready."""
        self.sim.add_root_port(RP2)
        self.sim.add_pf(PF2, RP2, total_vfs=4, vf_driver=None)
        self.start('[daemon]\nnfd-features-file = %s\n[pf "%s"]\nnum-vfs = 2\n' % (self.nfd, PF2))
        self.wait_vfs(PF2, 2)
        self.wait_label('sriovd.io/pci-0000-02-00.0.vfs', '2')
        labels = self.read_nfd()[1]
        self.assertEqual(labels['sriovd.io/ready'], 'false')
        self.assertEqual(labels['sriovd.io/kernel-can-recover'], 'false')


@need_binaries
class TestLiveConfig(FleetCase):
    def reloads(self):
        s = self.metrics()
        return (value(s, 'sriovd_config_reloads_total', result='success'),
                value(s, 'sriovd_config_reloads_total', result='failure'))

    def test_01_main_file_edit_applied(self):
        self.start('[pf "%s"]\nnum-vfs = 1\n' % PF1)
        self.wait_vfs(PF1, 1)
        self.write(self.conf, '[pf "%s"]\nnum-vfs = 3\n' % PF1)
        self.wait_vfs(PF1, 3)
        self.assertEqual(self.reloads(), (1, 0))
        self.assertIn('Configuration changed on disk', self.sim.daemon_log())
        # an in-place edit (not a rename) too
        with open(self.conf, 'w') as f:
            f.write('[pf "%s"]\nnum-vfs = 2\n' % PF1)
        self.wait_vfs(PF1, 2)

    def test_02_configmap_data_swap(self):
        """The kubelet's atomic writer: files are symlinks through ..data,
        which is renamed over to point at a new ..<timestamp> folder."""
        d = self.dropins
        os.makedirs(os.path.join(d, '..2026_12_04_21_00_00.1'))
        self.write(os.path.join(d, '..2026_12_04_21_00_00.1', '10-pf.conf'), '[pf "%s"]\nnum-vfs = 1\n' % PF1)
        os.symlink('..2026_12_04_21_00_00.1', os.path.join(d, '..data'))
        os.symlink('..data/10-pf.conf', os.path.join(d, '10-pf.conf'))
        self.start('# the PF is configured in the ConfigMap\n')
        self.wait_vfs(PF1, 1)
        new = os.path.join(d, '..2026_12_04_21_05_00.2')
        os.makedirs(new)
        self.write(os.path.join(new, '10-pf.conf'), '[pf "%s"]\nnum-vfs = 3\n' % PF1)
        os.symlink('..2026_12_04_21_05_00.2', os.path.join(d, '..data_tmp'))
        os.rename(os.path.join(d, '..data_tmp'), os.path.join(d, '..data'))
        shutil.rmtree(os.path.join(d, '..2026_12_04_21_00_00.1'))
        self.wait_vfs(PF1, 3)
        self.assertEqual(self.reloads(), (1, 0))
        st, _, cfg = self.sim.http('GET', '/v1/config')
        self.assertEqual(cfg['last_reload']['ok'], True, cfg)

    def test_03_broken_file_refused_whole(self):
        self.start('[pf "%s"]\nnum-vfs = 1\n' % PF1)
        self.wait_vfs(PF1, 1)
        bad = os.path.join(self.dropins, '20-bad.conf')
        # a good change and a bad line in the same file: nothing of it applies
        self.write(bad, '[pf "%s"]\nnum-vfs = 3\nrecovery = sometimes\n' % PF1)
        SimKernel.wait_for(lambda: self.reloads() == (0, 1), 10, what='the reload refused')
        s = self.metrics()
        self.assertEqual(value(s, 'sriovd_config_last_reload_successful'), 0)
        st, _, cfg = self.sim.http('GET', '/v1/config')
        last = cfg['last_reload']
        self.assertEqual(last['ok'], False, cfg)
        self.assertTrue(any('%s:3' % bad in e and 'recovery' in e for e in last['errors']), last)
        self.assertIn('%s:3' % bad, self.sim.daemon_log())
        time.sleep(1)
        self.assertEqual(self.sim.device(PF1).num_vfs, 1, 'the broken file was applied')
        self.assertIsNone(self.sim.proc.poll())
        # fixed: applied, and the status says so
        self.write(bad, '[pf "%s"]\nnum-vfs = 3\n' % PF1)
        self.wait_vfs(PF1, 3)
        self.assertEqual(self.reloads(), (1, 1))
        self.assertEqual(value(self.metrics(), 'sriovd_config_last_reload_successful'), 1)
        self.assertEqual(self.sim.http('GET', '/v1/config')[2]['last_reload']['errors'], [])

    def test_04_dotfiles_ignored_and_bursts_debounced(self):
        os.makedirs(self.dropins)
        self.start('[pf "%s"]\nnum-vfs = 1\n' % PF1)
        self.wait_vfs(PF1, 1)
        # an editor's swap file, a hidden file, a file not named *.conf: no reload,
        # and the reload below does not read them (they are not configuration at all)
        for name in ('.10-pf.conf.swp', '.hidden.conf', 'README', '10-pf.conf~'):
            with open(os.path.join(self.dropins, name), 'w') as f:
                f.write('this line is no configuration\n')
        time.sleep(1.5)
        self.assertEqual(self.reloads(), (0, 0))
        # a burst of saves is one reload
        for n in (2, 3, 2, 3, 2):
            self.write(os.path.join(self.dropins, '10-pf.conf'), '[pf "%s"]\nnum-vfs = %d\n' % (PF1, n))
            time.sleep(0.05)
        self.wait_vfs(PF1, 2)
        time.sleep(1)
        self.assertEqual(self.reloads(), (1, 0))
        self.assertEqual(self.sim.device(PF1).num_vfs, 2)

    def test_05_dropin_folder_created_later(self):
        self.start('[pf "%s"]\nnum-vfs = 1\n' % PF1)
        self.wait_vfs(PF1, 1)
        self.assertFalse(os.path.exists(self.dropins))
        tmp = self.dropins + '.new'
        os.makedirs(tmp)
        self.write(os.path.join(tmp, '10-pf.conf'), '[pf "%s"]\nnum-vfs = 2\n' % PF1)
        os.rename(tmp, self.dropins)
        self.wait_vfs(PF1, 2)
        # files added to it afterwards are seen too
        self.write(os.path.join(self.dropins, '20-pf.conf'), '[pf "%s"]\nnum-vfs = 3\n' % PF1)
        self.wait_vfs(PF1, 3)


if __name__ == '__main__':
    unittest.main(verbosity=2)
