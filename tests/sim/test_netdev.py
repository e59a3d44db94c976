#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sim tests of NIC identity (issue 10): a PF's and its VFs' network interfaces in status
(name, MAC, operstate, speed from sysfs net/), a [pf "IFNAME"] section that matches once
the PF's interface is renamed and one that names no interface (said, nothing changed),
bad per-VF values refused by a reload with nothing changed, and per-VF network settings
on a PF that has no interface (an NVMe PF).

The simulator gives network drivers (igb, igbvf, ...) a net/ethN folder at bind. Netlink
itself cannot be simulated by umockdev: the VF settings as the kernel reports them
(IFLA_VF_INFO), drift and reapply are covered by the unit tier (tests/unit/test-vfinfo.c,
the parser and the comparison) and the VM tier (tests/vm/scenarios/nic.sh, igb). Here
the kernel's VF list is never reported: sriovd checks that the interface answering is the
PF's own (IFLA_PARENT_DEV_NAME), and the simulator's ifindexes are not the host's.
Run: /usr/bin/python3 tests/sim/test_netdev.py [NAME...]
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from test_config import ConfigCase, need_binaries, RP1, PF1  # noqa: E402

RPN, PFN = '0000:00:04.0', '0000:04:00.0'      # igb: 8086:10c9, VFs 8086:10ca on igbvf


def add_igb(sim, autoprobe=True):
    sim.add_root_port(RPN, secondary_bus=4)
    return sim.add_pf(PFN, RPN, total_vfs=7, driver='igb', vendor='8086', device='10c9',
                      vf_device='10ca', offset=128, stride=2, vf_driver='igbvf',
                      klass='020000', autoprobe=autoprobe)


@need_binaries
class TestInterfaces(ConfigCase):
    def setUp(self):
        super().setUp()
        add_igb(self.sim)

    def wait_network(self, pred, timeout=10):
        last = {}

        def check():
            d = last['d'] = self.device(PFN)
            return pred(d)
        try:
            simkernel.SimKernel.wait_for(check, timeout, interval=0.1, what='network status')
        except TimeoutError as e:
            self.fail('%s: %s%s' % (e, last.get('d'), self.log_tail()))
        return last['d']

    def test_pf_and_vf_interfaces(self):
        sim = self.sim
        self.start('')
        pf = sim.device(PFN)
        mac = sim.read_attr(PFN, 'net/%s/address' % pf.netdev).strip()
        d = self.wait_network(lambda d: d['network'] and d['network']['mac'] is not None)
        self.assertEqual(d['netdevs'], [pf.netdev])
        net = d['network']
        self.assertEqual((net['ifname'], net['mac'], net['operstate'], net['speed_mbps']),
                         (pf.netdev, mac, 'up', 1000), net)
        # The simulator's ifindex is no interface of the running kernel that has this PF
        # as its parent: the VF list is not taken from whatever answers.
        self.assertFalse(net['vf_settings_reported'], net)

        rc, out, err = sim.ctl('enable', PFN, '--vfs', '2')
        self.assertEqual(rc, 0, (out, err, self.log_tail()))
        d = self.wait_vfs(PFN, 2)
        names = [sim.device(a).netdev for a in sim.device(PFN).vfs]
        self.assertEqual([v['netdev'] for v in d['sriov']['vfs']], names)
        self.assertEqual([v['driver'] for v in d['sriov']['vfs']], ['igbvf', 'igbvf'])
        v0 = d['network']['vfs'][0]
        self.assertEqual((v0['index'], v0['netdev'], v0['configured'], v0['kernel'], v0['refused'],
                          v0['drift'], v0['drifted']), (0, names[0], {}, None, [], False, []), v0)
        self.assertEqual(self.device(sim.device(PFN).vfs[0])['netdevs'], [names[0]])

        # sriovctl status names them too.
        rc, out, err = sim.ctl('status', PFN)
        self.assertEqual(rc, 0, err)
        self.assertIn('interface %s, MAC %s, up, 1000 Mbit/s' % (pf.netdev, mac), out)
        for n in names:
            self.assertRegex(out, r'igbvf .* %s\n' % re.escape(n))

        # Unbound: the VF's interface goes with its driver.
        sim.unbind(sim.device(PFN).vfs[1])
        d = self.wait_network(lambda d: d['sriov']['vfs'][1]['netdev'] is None)
        self.assertEqual(d['sriov']['vfs'][0]['netdev'], names[0])

    def test_renamed_interface_matches_its_section(self):
        """[pf "nicpf0"] while the PF is eth0: listed as unmatched, nothing written. After
        the rename (announced here by the PF's next uevent; the real kernel announces it
        on rtnetlink, see the VM tier) it matches and is applied."""
        sim = self.sim
        pf = sim.device(PFN)
        self.start('[pf "nicpf0"]\nnum-vfs = 2\n\n[pf "%s"]\nnum-vfs = 1\n' % PF1)
        cfg = self.config_json()
        self.assertEqual([u['match'] for u in cfg['unmatched']], ['nicpf0'], cfg)
        self.assertRegex(cfg['unmatched'][0]['message'],
                         r'^%s:1: \[pf "nicpf0"\] names no SR-IOV PF' % re.escape(self.conf))
        self.wait_log(r'names no SR-IOV PF')
        time.sleep(1)
        self.assertEqual(self.writes(PFN), [], 'an unmatched section changed the kernel')

        sim.rename_netdev(PFN, 'nicpf0')
        sim.uevent(PFN, 'change')
        self.wait_vfs(PFN, 2)
        self.assertEqual(self.writes(PFN), [2])
        self.wait_log(r'its network interface is now nicpf0 and matches \[pf "nicpf0"\]')
        self.assertEqual(self.config_json()['unmatched'], [])
        self.assertEqual(self.device(PFN)['network']['ifname'], 'nicpf0')
        del pf

    def test_rename_of_another_interface_keeps_the_match(self):
        sim = self.sim
        pf = sim.device(PFN)
        self.start('[pf "%s"]\nnum-vfs = 2\n' % pf.netdev)
        self.wait_vfs(PFN, 2)
        vf0 = sim.device(PFN).vfs[0]
        sim.rename_netdev(vf0, 'vfnet0')
        sim.uevent(vf0, 'change')
        self.wait_network(lambda d: d['sriov']['vfs'][0]['netdev'] == 'vfnet0')
        self.assertEqual(self.config_json()['unmatched'], [])
        rc, out, err = sim.ctl('reload')
        self.assertEqual(rc, 0, (out, err))
        time.sleep(1)
        self.assertEqual(self.writes(PFN), [2], 'the PF lost its section')


@need_binaries
class TestBadInput(ConfigCase):
    GOOD = '[pf "0000:04:00.0"]\nnum-vfs = 2\nvf.0.mac = 02:00:00:00:00:10\n'

    def setUp(self):
        super().setUp()
        add_igb(self.sim)

    def test_bad_vf_values_change_nothing(self):
        sim = self.sim
        self.start(self.GOOD)
        self.wait_vfs(PFN, 2)
        cases = [
            ('vf.0.mac = 01:00:5e:00:00:01', 'mac'),            # multicast
            ('vf.0.mac = ff:ff:ff:ff:ff:ff', 'mac'),            # broadcast
            ('vf.0.mac = 02:00:00:00:00', 'mac'),               # malformed
            ('vf.0.mac = 02:00:00:00:00:1g', 'mac'),
            ('vf.0.vlan = 4096', 'vlan'),
            ('vf.0.vlan = 100\nvf.0.qos = 8', 'qos'),
            ('vf.0.max-tx-rate = -1', 'max-tx-rate'),
        ]
        for line, key in cases:
            with self.subTest(line=line):
                self.write_conf('[pf "0000:04:00.0"]\nnum-vfs = 3\n' + line + '\n')
                rc, out, err = sim.ctl('reload')
                self.assertEqual(rc, 1, (line, out, err))
                self.assertRegex(err, r"%s:\d+: key 'vf\.0\.%s'" % (re.escape(self.conf), re.escape(key)))
                s = self.section(self.config_json(), PFN)
                self.assertEqual(s['num_vfs'], 2, 'the running configuration changed')
        time.sleep(0.5)
        self.assertEqual(self.writes(PFN), [2], 'a refused reload changed the kernel')

    def test_network_settings_on_a_pf_without_interface(self):
        """An NVMe PF has no netdev: its vf.N network settings are reported as not
        applicable; the count is applied, nothing else is attempted."""
        sim = self.sim
        sim.add_root_port(RP1)
        sim.add_pf(PF1, RP1, total_vfs=4, vf_driver='nvme')
        self.start('[pf "%s"]\nnum-vfs = 1\nvf.0.max-tx-rate = 100\n' % PF1)
        self.wait_vfs(PF1, 1)
        self.wait_log(r'PF %s: per-VF network settings configured, but the PF has no network interface'
                      % re.escape(PF1))
        self.assertIsNone(self.device(PF1)['network'])
        self.assertEqual(self.device(PF1)['netdevs'], [])


if __name__ == '__main__':
    unittest.main(verbosity=2)
