# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes a sysfs tree of P SR-IOV PFs with V VFs each, laid out as the kernel lays it out.

    /usr/bin/python3 bench/gentree.py DIR [--pfs 64] [--vfs 256]

DIR/sys then holds, for every PF i (0-based):
  devices/pci0000:00/0000:00:RR.F              a root port (class 0x060400, AER root totals)
  devices/pci0000:00/0000:00:RR.F/0000:BB:00.0 the PF (bus BB = 2i+1; sriov_* attributes,
                                               virtfnN links, driver link)
  devices/pci0000:00/0000:00:RR.F/0000:BB:DD.F its VFs (routing ID = PF + offset 1 + stride 1 * n,
                                               so VF 255 lands on bus BB+1: the kernel's
                                               virtual bus), physfn links
  bus/pci/devices/ADDR                         links into devices/
  bus/pci/drivers/{pf-drv,vf-drv,vfio-pci}     the driver directories the links point to
  kernel/iommu_groups/N/devices/ADDR           one group per function
Every function has vendor, device, class and iommu_group; root ports and PFs have the three
aer_dev_* files (and root ports the aer_rootport_total_* ones). VFs have none by default, as
VFs without an AER capability (most of them); --vf-aer gives every VF the files too. Two
VFs out of three are bound (alternately vf-drv and vfio-pci); the third is driverless.
sriov_numvfs is written but sriovd never reads it.

It is used by bench/fleet.py and can be imported (make_tree()).
"""

import argparse
import os
import sys

AER_COR = ['RxErr', 'BadTLP', 'BadDLLP', 'Rollover', 'Timeout', 'NonFatalErr', 'CorrIntErr',
           'HeaderOF']
AER_NONFATAL = ['Undefined', 'DLP', 'SDES', 'TLP', 'FCP', 'CmpltTO', 'CmpltAbrt', 'UnxCmplt',
                'RxOF', 'MalfTLP', 'ECRC', 'UnsupReq', 'ACSViol', 'UncorrIntErr', 'BlockedTLP',
                'AtomicOpBlocked', 'TLPBlockedErr', 'PoisonTLPBlocked']
AER_TOTAL = {'correctable': 'TOTAL_ERR_COR', 'nonfatal': 'TOTAL_ERR_NONFATAL',
             'fatal': 'TOTAL_ERR_FATAL'}

PF_VENDOR, PF_DEVICE, VF_DEVICE = 0x8086, 0x1593, 0x1889     # an E810-like NIC
ROOT_VENDOR, ROOT_DEVICE = 0x8086, 0x347a


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _aer_text(names, total_key, counts=None):
    counts = counts or {}
    lines = ['%s %d' % (n, counts.get(n, 0)) for n in names]
    lines.append('%s %d' % (total_key, sum(counts.values())))
    return '\n'.join(lines) + '\n'


def addr_str(bus, dev, fn, domain=0):
    return '%04x:%02x:%02x.%x' % (domain, bus, dev, fn)


def rid_to_addr(rid):
    return addr_str(rid >> 8, (rid >> 3) & 0x1f, rid & 7)


class Tree:
    def __init__(self, root, vf_aer=False):
        self.root = root
        self.sys = os.path.join(root, 'sys')
        self.next_group = 0
        self.pfs = []           # (root port, pf, [vf addresses])
        self.vf_aer = vf_aer

    def _function(self, parent_rel, addr, vendor, device, cls, driver=None, extra=None, aer=True):
        rel = os.path.join(parent_rel, addr)
        d = os.path.join(self.sys, rel)
        os.mkdir(d)
        _write(os.path.join(d, 'vendor'), '0x%04x\n' % vendor)
        _write(os.path.join(d, 'device'), '0x%04x\n' % device)
        _write(os.path.join(d, 'class'), '0x%06x\n' % cls)
        if aer:
            _write(os.path.join(d, 'aer_dev_correctable'), _aer_text(AER_COR, AER_TOTAL['correctable']))
            _write(os.path.join(d, 'aer_dev_nonfatal'), _aer_text(AER_NONFATAL, AER_TOTAL['nonfatal']))
            _write(os.path.join(d, 'aer_dev_fatal'), _aer_text(AER_NONFATAL, AER_TOTAL['fatal']))
        depth = rel.count('/') + 1
        up = '../' * depth
        group = self.next_group
        self.next_group += 1
        gdir = os.path.join(self.sys, 'kernel/iommu_groups/%d/devices' % group)
        os.makedirs(gdir)
        os.symlink('../../../../' + rel, os.path.join(gdir, addr))
        os.symlink(up + 'kernel/iommu_groups/%d' % group, os.path.join(d, 'iommu_group'))
        os.symlink('../../../' + rel, os.path.join(self.sys, 'bus/pci/devices', addr))
        if driver:
            os.symlink(up + 'bus/pci/drivers/' + driver, os.path.join(d, 'driver'))
        for k, v in (extra or {}).items():
            _write(os.path.join(d, k), v)
        return rel

    def build(self, n_pfs, n_vfs):
        for sub in ('devices/pci0000:00', 'bus/pci/devices', 'kernel/iommu_groups'):
            os.makedirs(os.path.join(self.sys, sub), exist_ok=True)
        for drv in ('pcieport', 'pf-drv', 'vf-drv', 'vfio-pci'):
            os.makedirs(os.path.join(self.sys, 'bus/pci/drivers', drv), exist_ok=True)
        for i in range(n_pfs):
            rp = addr_str(0, 1 + i // 4, i % 4)         # 16 slots x 4 functions: 64 root ports
            rp_rel = self._function('devices/pci0000:00', rp, ROOT_VENDOR, ROOT_DEVICE, 0x060400,
                                    'pcieport', {'aer_rootport_total_err_cor': '0\n',
                                                 'aer_rootport_total_err_fatal': '0\n',
                                                 'aer_rootport_total_err_nonfatal': '0\n'})
            bus = 2 * i + 1
            pf = addr_str(bus, 0, 0)
            pf_rel = self._function(rp_rel, pf, PF_VENDOR, PF_DEVICE,
                                    0x020000, 'pf-drv',
                                    {'sriov_totalvfs': '%d\n' % n_vfs, 'sriov_numvfs': '%d\n' % n_vfs,
                                     'sriov_offset': '1\n', 'sriov_stride': '1\n',
                                     'sriov_vf_device': '%04x\n' % VF_DEVICE,
                                     'sriov_drivers_autoprobe': '1\n'})
            pf_dir = os.path.join(self.sys, pf_rel)
            vfs = []
            for n in range(n_vfs):
                vf = rid_to_addr((bus << 8) + 1 + n)
                driver = (None, 'vf-drv', 'vfio-pci')[n % 3]
                self._function(rp_rel, vf, PF_VENDOR, VF_DEVICE, 0x020000, driver, aer=self.vf_aer)
                os.symlink('../' + vf, os.path.join(pf_dir, 'virtfn%d' % n))
                os.symlink('../' + pf, os.path.join(self.sys, rp_rel, vf, 'physfn'))
                vfs.append(vf)
            self.pfs.append((rp, pf, vfs))
        return self


def make_tree(root, n_pfs, n_vfs, vf_aer=False):
    os.makedirs(root, exist_ok=True)
    return Tree(root, vf_aer).build(n_pfs, n_vfs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('dir')
    ap.add_argument('--pfs', type=int, default=64)
    ap.add_argument('--vfs', type=int, default=256)
    ap.add_argument('--vf-aer', action='store_true', help='AER counter files on every VF too')
    a = ap.parse_args()
    if a.pfs < 1 or a.pfs > 64 or a.vfs < 0 or a.vfs > 256:
        sys.exit('--pfs 1..64, --vfs 0..256')
    if os.path.exists(os.path.join(a.dir, 'sys')):
        sys.exit('%s/sys exists already' % a.dir)
    t = make_tree(a.dir, a.pfs, a.vfs, a.vf_aer)
    print('%s/sys: %d PFs x %d VFs, %d functions' % (a.dir, a.pfs, a.vfs,
                                                     len(t.pfs) * (a.vfs + 2)))


if __name__ == '__main__':
    main()
