#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Self-test of the simulated kernel: needs no sriovd.

Checks what a program under umockdev's preload sees and receives, and that
the simulated kernel reacts to sriov_numvfs writes as kernel-testbed.md
describes.  Run: /usr/bin/python3 tests/sim/test_simkernel.py [NAME...]
"""
import errno
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RP = '0000:00:02.0'
PF = '0000:01:00.0'


def listener_path():
    """uevent-listen: from meson (UEVENT_LISTEN) or compiled on the fly."""
    p = os.environ.get('UEVENT_LISTEN')
    if p and os.access(p, os.X_OK):
        return p
    out = os.path.join(tempfile.gettempdir(), 'sriovd-sim-uevent-listen-%d' % os.getuid())
    src = os.path.join(HERE, 'uevent-listen.c')
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'libudev'],
                               capture_output=True, text=True, check=True).stdout.split()
        subprocess.run(['cc', '-O2', '-o', out + '.tmp', src] + flags, check=True)
        os.rename(out + '.tmp', out)
    return out


class Listener:
    """uevent-listen under the preload, collecting events in a thread."""

    def __init__(self, sim, count=0, timeout=20, source='kernel', subsystem='pci'):
        argv = [simkernel.WRAPPER, listener_path(), '--source', source,
                '--count', str(count), '--timeout', str(timeout)]
        if subsystem:
            argv += ['--subsystem', subsystem]
        self.p = subprocess.Popen(argv, env=sim.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        first = self.p.stdout.readline()
        assert first.strip() == 'LISTENING', (first, self.p.stderr.read())
        self.events = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.p.stdout:
            if line.startswith('EVENT '):
                parts = line.rstrip('\n').split(' ')
                props = dict(p.split('=', 1) for p in parts[4:] if '=' in p)
                self.events.append((parts[1], parts[2], props))

    def wait(self, n, timeout=10):
        SimKernel.wait_for(lambda: len(self.events) >= n, timeout,
                           what='%d uevents (have %r)' % (n, self.events))
        return self.events

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait()
        self._t.join(2)


class SimTestCase(unittest.TestCase):
    def setUp(self):
        self.sim = SimKernel()
        self.addCleanup(self.sim.close)
        self.sim.add_root_port(RP)

    def sh(self, script):
        r = self.sim.run_wrapped(['sh', '-c', script])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout


class TestWrappedView(SimTestCase):
    def test_attributes_and_links_as_seen_by_a_wrapped_program(self):
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=4, vf_driver='nvme')
        out = self.sh('ls /sys/bus/pci/devices; d=/sys/bus/pci/devices/%s;'
                      'for a in vendor device class sriov_totalvfs sriov_numvfs sriov_offset '
                      'sriov_stride sriov_vf_device sriov_drivers_autoprobe; do printf "%%s=" $a; cat $d/$a; done;'
                      'readlink $d; readlink $d/driver; readlink $d/iommu_group; readlink $d/subsystem;'
                      'realpath $d/driver; realpath $d/iommu_group; ls $d/iommu_group/devices;'
                      'readlink /sys/bus/pci/devices/%s/driver; cat $d/uevent' % (PF, RP))
        lines = out.splitlines()
        self.assertEqual(lines[:2], [RP, PF])
        kv = dict(l.split('=', 1) for l in lines[2:11])
        self.assertEqual(kv, {'vendor': '0x1b36', 'device': '0x0010', 'class': '0x010802',
                              'sriov_totalvfs': '4', 'sriov_numvfs': '0', 'sriov_offset': '1',
                              'sriov_stride': '1', 'sriov_vf_device': '0010',
                              'sriov_drivers_autoprobe': '1'})
        g = sim.device(PF).iommu_group
        self.assertEqual(lines[11:21], [
            '../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0',
            '../../../../bus/pci/drivers/nvme',
            '../../../../kernel/iommu_groups/%d' % g,
            '../../../../bus/pci',
            '/sys/bus/pci/drivers/nvme',
            '/sys/kernel/iommu_groups/%d' % g,
            PF,
            '../../../bus/pci/drivers/pcieport',
            'DRIVER=nvme',
            'PCI_CLASS=10802'])
        self.assertIn('PCI_ID=1B36:0010', lines)
        self.assertIn('PCI_SLOT_NAME=' + PF, lines)
        self.assertIn('MODALIAS=pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02', lines)
        # exact bytes, trailing newline included
        with open(sim.path(PF, 'vendor'), 'rb') as f:
            self.assertEqual(f.read(), b'0x1b36\n')
        with open(sim.path(PF, 'sriov_vf_device'), 'rb') as f:
            self.assertEqual(f.read(), b'0010\n')

    def test_root_port_attributes(self):
        out = self.sh('d=/sys/devices/pci0000:00/%s; cat $d/class $d/vendor $d/device '
                      '$d/secondary_bus_number $d/subordinate_bus_number '
                      '$d/aer_rootport_total_err_nonfatal' % RP)
        self.assertEqual(out.split(), ['0x060400', '0x1b36', '0x000c', '1', '1', '0'])

    def test_python_under_wrapper_sees_testbed(self):
        self.sim.add_pf(PF, RP)
        r = self.sim.run_wrapped([sys.executable, '-c',
                                  'import os; print(sorted(os.listdir("/sys/bus/pci/devices")));'
                                  'print(os.path.realpath("/sys/bus/pci/devices/%s/iommu_group"))' % PF])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("['%s', '%s']" % (RP, PF), r.stdout)


class TestEnable(SimTestCase):
    def test_enable_3_from_wrapped_writer(self):
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=4, vf_driver='nvme')
        lst = Listener(sim)
        self.addCleanup(lst.close)
        r = sim.write_numvfs(PF, 3)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '3\n')
        vfs = ['0000:01:00.1', '0000:01:00.2', '0000:01:00.3']
        self.assertEqual(sim.device(PF).vfs, vfs)
        groups = set()
        for i, vf in enumerate(vfs):
            self.assertEqual(os.readlink(sim.path(PF, 'virtfn%d' % i)), '../' + vf)
            self.assertEqual(os.readlink(sim.path(vf, 'physfn')), '../' + PF)
            self.assertEqual(os.readlink(sim.path(vf, 'driver')), '../../../../bus/pci/drivers/nvme')
            self.assertEqual(sim.read_attr(vf, 'device'), '0x0010\n')
            self.assertFalse(os.path.exists(sim.path(vf, 'sriov_numvfs')))
            groups.add(sim.device(vf).iommu_group)
        self.assertEqual(len(groups | {sim.device(PF).iommu_group}), 4)
        # the wrapped view agrees
        out = self.sh('ls /sys/bus/pci/devices | wc -l; cd /sys/bus/pci/devices/%s;'
                      'readlink virtfn2; readlink -f virtfn2/physfn; cat virtfn0/uevent | head -1' % PF)
        self.assertEqual(out.split(), ['5', '../0000:01:00.3', '/sys/devices/pci0000:00/0000:00:02.0/' + PF,
                                       'DRIVER=nvme'])
        # events: per VF add, change, bind; then change on the PF
        ev = lst.wait(10)
        got = [(a, n) for a, n, _ in ev]
        want = []
        for vf in vfs:
            want += [('add', vf), ('change', vf), ('bind', vf)]
        want.append(('change', PF))
        self.assertEqual(got, want)
        bind = ev[2][2]
        self.assertEqual(bind['DRIVER'], 'nvme')
        self.assertEqual(bind['SUBSYSTEM'], 'pci')
        self.assertEqual(bind['PCI_SLOT_NAME'], '0000:01:00.1')
        self.assertEqual(bind['DEVPATH'], '/devices/pci0000:00/0000:00:02.0/0000:01:00.1')
        self.assertNotIn('DRIVER', ev[0][2])   # add: not bound yet
        self.assertEqual(sim.rejected_writes, [])

        # disable: per VF unbind, remove; links and dirs go
        r = sim.write_numvfs(PF, 0)
        ev = lst.wait(16)[10:]
        self.assertEqual([(a, n) for a, n, _ in ev],
                         [(a, vf) for vf in vfs for a in ('unbind', 'remove')])
        self.assertNotIn('DRIVER', ev[0][2])
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '0\n')
        self.assertEqual(sorted(os.listdir(sim.path(RP))).count('0000:01:00.1'), 0)
        self.assertFalse([f for f in os.listdir(sim.path(PF)) if f.startswith('virtfn')])
        self.assertEqual(self.sh('ls /sys/bus/pci/devices').split(), [RP, PF])
        self.assertEqual(sorted(int(g) for g in os.listdir(sim._p('/sys/kernel/iommu_groups'))),
                         sorted([sim.device(RP).iommu_group, sim.device(PF).iommu_group]))

    def test_rejected_writes(self):
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=4)
        sim.write_numvfs(PF, 3)
        sim.write_numvfs(PF, 2)          # EBUSY in the kernel
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '3\n')
        sim.write_numvfs(PF, 9)          # ERANGE
        sim.write_numvfs(PF, 'x')        # EINVAL
        sim.write_numvfs(PF, 3)          # same count: a no-op success
        self.assertEqual([(w['value'], w['name']) for w in sim.rejected_writes],
                         [(b'2\n', 'EBUSY'), (b'9\n', 'ERANGE'), (b'x\n', 'EINVAL')])
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '3\n')
        self.assertEqual(len(sim.device(PF).vfs), 3)
        self.assertIn('pci %s: 3 VFs already enabled. Disable before enabling 2 VFs' % PF, sim.dmesg)

    def test_no_pf_driver_is_enoent(self):
        self.sim.add_pf(PF, RP, driver=None)
        self.sim.write_numvfs(PF, 2)
        self.assertEqual(self.sim.rejected_writes[0]['errno'], errno.ENOENT)
        self.assertEqual(self.sim.device(PF).vfs, [])

    def test_writer_without_truncate(self):
        """dd conv=notrunc: what a C writer without O_TRUNC does."""
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=16)
        self.sh('printf "12\\n" | dd of=/sys/bus/pci/devices/%s/sriov_numvfs conv=notrunc 2>/dev/null' % PF)
        sim.wait_idle()
        self.assertEqual(len(sim.device(PF).vfs), 12)
        self.sh('printf "0\\n" | dd of=/sys/bus/pci/devices/%s/sriov_numvfs conv=notrunc 2>/dev/null' % PF)
        sim.wait_idle()
        self.assertEqual(sim.device(PF).vfs, [])
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '0\n')

    def test_probe_fails_and_short(self):
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=8, vf_driver='nvme', probe_fails=True)
        lst = Listener(sim)
        self.addCleanup(lst.close)
        sim.write_numvfs(PF, 2)
        ev = lst.wait(5)
        self.assertEqual([a for a, _, _ in ev], ['add', 'change', 'add', 'change', 'change'])
        self.assertFalse(os.path.lexists(sim.path('0000:01:00.1', 'driver')))
        self.assertIsNone(sim.device('0000:01:00.1').driver)
        sim.write_numvfs(PF, 0)
        sim.set_behaviour(PF, probe_fails=False, short_by=3)
        sim.write_numvfs(PF, 5)
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '2\n')
        self.assertEqual(len(sim.device(PF).vfs), 2)
        self.assertEqual(sim.rejected_writes, [])
        self.assertIn('pci %s: 5 VFs requested; only 2 enabled' % PF, sim.dmesg)

    def test_vf_addresses_across_buses(self):
        sim = SimKernel()
        self.addCleanup(sim.close)
        sim.add_root_port(RP, subordinate_bus=0x10)
        sim.add_pf(PF, RP, total_vfs=2048, offset=4, stride=2)
        self.assertEqual(simkernel.vf_address(PF, 4, 2, 0), '0000:01:00.4')
        self.assertEqual(simkernel.vf_address(PF, 4, 2, 2), '0000:01:01.0')
        self.assertEqual(simkernel.vf_address(PF, 4, 2, 126), '0000:02:00.0')
        t = time.monotonic()
        sim.write_numvfs(PF, 300)
        took = time.monotonic() - t
        vfs = sim.device(PF).vfs
        self.assertEqual(len(vfs), 300)
        self.assertEqual(vfs[126], '0000:02:00.0')
        # all VFs are siblings of the PF, whatever their bus
        self.assertTrue(os.path.isdir(sim.path(RP, '0000:02:00.0')))
        sys.stderr.write('[300 VFs in %.2fs] ' % took)

    def test_bus_range_is_enforced(self):
        self.sim.add_pf(PF, RP, total_vfs=512)   # root port: bus 01 only
        self.sim.write_numvfs(PF, 300)
        self.assertEqual(self.sim.rejected_writes[0]['errno'], errno.ENOMEM)


class TestHang(SimTestCase):
    def test_hung_write_blocks_until_released(self):
        sim = self.sim
        sim.add_pf(PF, RP, total_vfs=4, vf_driver='nvme', hang=True)
        w = subprocess.Popen([simkernel.WRAPPER, 'sh', '-c',
                              'echo 2 > /sys/bus/pci/devices/%s/sriov_numvfs; echo done $?' % PF],
                             env=sim.env, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.assertIsNone(w.poll(), 'the writer should be blocked')
        self.assertEqual(sim.device(PF).vfs, [])
        self.assertEqual(sim.release_hang(PF), 2)
        self.assertEqual(w.communicate(timeout=5)[0].strip(), 'done 0')
        self.assertEqual(len(sim.device(PF).vfs), 2)
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '2\n')
        # back to a normal attribute, watched again
        sim.write_numvfs(PF, 0)
        self.assertEqual(sim.device(PF).vfs, [])

    def test_release_without_writer(self):
        sim = self.sim
        sim.add_pf(PF, RP, hang=True)
        self.assertIsNone(sim.release_hang(PF, timeout=0.3))
        self.assertEqual(sim.read_attr(PF, 'sriov_numvfs'), '0\n')


class TestUeventsAndAer(SimTestCase):
    def test_event_properties_are_per_event(self):
        sim = self.sim
        sim.add_pf(PF, RP)
        lst = Listener(sim)
        self.addCleanup(lst.close)
        sim.uevent(PF, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE=0)
        sim.uevent(PF, 'change')
        ev = lst.wait(2)
        self.assertEqual(ev[0][2]['ERROR_EVENT'], 'BEGIN_RECOVERY')
        self.assertEqual(ev[0][2]['DEVICE_ONLINE'], '0')
        self.assertEqual(ev[0][2]['DRIVER'], 'nvme')
        self.assertNotIn('ERROR_EVENT', ev[1][2])
        self.assertGreater(int(ev[1][2]['SEQNUM']), int(ev[0][2]['SEQNUM']))

    def test_udev_source_and_libudev_format(self):
        """The libudev wire format reaches "udev" monitors as well."""
        sim = SimKernel(uevent_format='udev')
        self.addCleanup(sim.close)
        sim.add_root_port(RP)
        lst = Listener(sim, source='udev')
        self.addCleanup(lst.close)
        sim.uevent(RP, 'change', FOO='bar')
        self.assertEqual(lst.wait(1)[0][2]['FOO'], 'bar')

    def test_burst_is_not_lost(self):
        """More events than net.unix.max_dgram_qlen while the listener is
        stopped: the sender waits instead of dropping (or aborting)."""
        import signal
        sim = self.sim
        lst = Listener(sim)
        self.addCleanup(lst.close)
        os.kill(lst.p.pid, signal.SIGSTOP)
        threading.Timer(0.5, os.kill, (lst.p.pid, signal.SIGCONT)).start()
        for i in range(100):
            sim.uevent(RP, 'change', N=i)
        ev = lst.wait(100)
        self.assertEqual([int(e[2]['N']) for e in ev], list(range(100)))
        self.assertEqual(sim.dropped_uevents, [])

    def test_aer_files(self):
        sim = self.sim
        sim.add_pf(PF, RP)
        sim.bump_aer(RP, 'nonfatal', 'UnsupReq')
        sim.bump_aer(RP, 'nonfatal', 'CmpltAbrt')
        sim.bump_aer(RP, 'nonfatal', 'TLP')
        out = self.sh('cd /sys/bus/pci/devices/%s; cat aer_dev_nonfatal; echo; '
                      'cat aer_rootport_total_err_nonfatal aer_rootport_total_err_cor' % RP)
        lines = out.splitlines()
        self.assertEqual(lines[0], 'Undefined 0')
        self.assertIn('UnsupReq 1', lines)
        self.assertIn('CmpltAbrt 1', lines)
        self.assertEqual(lines[len(simkernel.AER_UNCORRECTABLE)], 'TOTAL_ERR_NONFATAL 3')
        self.assertEqual(lines[-2:], ['3', '0'])
        with open(sim.path(RP, 'aer_dev_correctable')) as f:
            cor = f.read().splitlines()
        self.assertEqual([l.split()[0] for l in cor], simkernel.AER_CORRECTABLE + ['TOTAL_ERR_COR'])
        # a device below the root port with its own AER: the port counts it
        sim.add_aer(PF)
        sim.bump_aer(PF, 'correctable', 'BadTLP', 2)
        self.assertEqual(sim.read_attr(RP, 'aer_rootport_total_err_cor'), '2\n')
        self.assertFalse(os.path.exists(sim.path(PF, 'aer_rootport_total_err_cor')))
        with self.assertRaises(ValueError):
            sim.bump_aer(RP, 'fatal', 'RxErr')


class TestParsing(unittest.TestCase):
    def test_kstrtou16(self):
        k = simkernel.kstrtou16
        for raw, want in [(b'3\n', (3, 0)), (b'3', (3, 0)), (b'0x10\n', (16, 0)),
                          (b'010', (8, 0)), (b'', (None, errno.EINVAL)),
                          (b'-1\n', (None, errno.EINVAL)), (b'70000', (None, errno.ERANGE)),
                          (b' 3', (None, errno.EINVAL)), (b'3\n\n', (3, 0))]:
            self.assertEqual(k(raw), want, raw)


if __name__ == '__main__':
    simkernel.main()
