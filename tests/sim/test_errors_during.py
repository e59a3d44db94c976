#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A PCIe error that arrives while sriovd's own operation is in the kernel (writing, or
settling while the VFs come up) is recorded against that operation, and its report says so
(issue 4).

The simulated write is made slow with per-VF delays rather than with the FIFO hang: umockdev's
preload holds one global lock across every wrapped open(), so a writer blocked in open() of a
FIFO would stall every other sysfs access of the daemon - an artifact of the preload that the
real kernel does not have."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel  # noqa: E402

PF = '0000:01:00.0'
RP = '0000:00:02.0'


def wait_until(pred, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


class ErrorsDuringOperation(unittest.TestCase):
    def setUp(self):
        if not os.access(simkernel.SRIOVD, os.X_OK):
            self.skipTest('sriovd not built')
        self.sim = SimKernel()
        self.sim.add_root_port(RP)
        self.sim.add_pf(PF, RP, total_vfs=4, driver='nvme', vf_driver='nvme')
        self.sim.start_daemon(extra_args=['--settle-quiet-ms', '200'])
        self.sim.wait_ready()

    def tearDown(self):
        self.sim.stop_daemon()
        self.sim.close()

    def op(self, op_id):
        status, _, body = self.sim.http('GET', '/v1/operations/%d' % op_id)
        self.assertEqual(status, 200)
        return body

    def test_error_during_write_is_in_the_report(self):
        self.sim.set_behaviour(PF, per_vf_delay=0.7)
        status, _, body = self.sim.http('POST', '/v1/devices/%s/sriov?wait=0' % PF,
                                        {'num_vfs': 4, 'timeout_ms': 30000})
        self.assertEqual(status, 202)
        op_id = body['id']
        self.assertTrue(wait_until(lambda: self.op(op_id)['state'] in ('writing', 'settling')),
                        'the operation never reached the kernel')

        # The kernel reports an error on the PF while our write is still in it.
        self.sim.uevent(PF, 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE='0')
        self.assertTrue(wait_until(lambda: self.op(op_id).get('pcie_errors_during')),
                        'the error was not recorded against the operation: %s' % self.op(op_id))
        errs = self.op(op_id)['pcie_errors_during']
        self.assertEqual([(e['event'], e['device']) for e in errs], [('BEGIN_RECOVERY', PF)])
        self.sim.uevent(PF, 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE='1')

        status, _, done = self.sim.http('GET', '/v1/operations/%d?wait=1' % op_id, timeout=60)
        self.assertEqual(status, 200)
        self.assertEqual(done['state'], 'done')
        self.assertGreaterEqual(done['report']['pcie_errors_during_operation'], 1)
        self.assertEqual(done['report']['enumerated'], 4)

    def test_error_on_another_hierarchy_is_not_recorded(self):
        self.sim.add_root_port('0000:00:03.0')
        self.sim.add_pf('0000:02:00.0', '0000:00:03.0', total_vfs=4, driver='nvme', vf_driver='nvme')
        self.sim.uevent('0000:00:03.0', 'add')
        self.sim.uevent('0000:02:00.0', 'add')
        self.sim.set_behaviour(PF, per_vf_delay=0.7)
        status, _, body = self.sim.http('POST', '/v1/devices/%s/sriov?wait=0' % PF,
                                        {'num_vfs': 3, 'timeout_ms': 30000})
        self.assertEqual(status, 202)
        op_id = body['id']
        self.assertTrue(wait_until(lambda: self.op(op_id)['state'] in ('writing', 'settling')))
        self.sim.uevent('0000:02:00.0', 'change', ERROR_EVENT='BEGIN_RECOVERY', DEVICE_ONLINE='0')
        self.sim.uevent('0000:02:00.0', 'change', ERROR_EVENT='SUCCESSFUL_RECOVERY', DEVICE_ONLINE='1')
        status, _, done = self.sim.http('GET', '/v1/operations/%d?wait=1' % op_id, timeout=60)
        self.assertEqual(done['state'], 'done')
        self.assertNotIn('pcie_errors_during', done)
        self.assertNotIn('pcie_errors_during_operation', done['report'])


if __name__ == '__main__':
    simkernel.main()
