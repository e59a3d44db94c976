#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sim tests of sriovd's hardening (issue 12): object lifetimes, what a local
non-root user can and cannot do, bounded waits and caps.

Each test states the item of issue 12 it covers.  The real sriovd runs under
umockdev's preload against simkernel's testbed (see test_enable.py).
Run: /usr/bin/python3 tests/sim/test_harden.py [NAME...]
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simkernel  # noqa: E402
from simkernel import SimKernel  # noqa: E402
from test_enable import EnableCase, need_binaries, PF1, PF2, QUIET_MS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NOBODY = 65534


def drop_to_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


# Run as uid 65534: sends raw HTTP requests on connections it keeps open, and
# reports per connection the status line that came within `wait` seconds.
NOBODY_CLIENT = r'''
import json, socket, sys, time
sock_path, plan = sys.argv[1], json.loads(sys.argv[2])
out, held = [], []
def status_of(s, wait):
    s.settimeout(wait)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return 'waiting'
    except OSError as e:
        return 'error %d' % e.errno
    if not data:
        return 'closed'
    return int(data.split(b' ', 2)[1])
for step in plan:
    if step[0] == 'open':
        _, n, req, wait = step
        res = []
        for i in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            s.sendall(req.encode())
            res.append(status_of(s, wait))
            held.append(s)
        out.append(res)
    elif step[0] == 'close':
        for s in held:
            s.close()
        held = []
        time.sleep(step[1])
print(json.dumps(out))
'''

# Run as uid 65534: opens N connections (sending nothing) and keeps them; then
# reports how many were refused with 503 and how many stay open, and whether
# the open ones are closed by the daemon within `idle_wait` seconds.
NOBODY_FLOOD = r'''
import json, resource, select, socket, sys, time
sock_path, n, idle_wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks, refused, errors = [], 0, 0
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sock_path)
    except OSError:
        errors += 1
        s.close()
        continue
    socks.append(s)
    if len(socks) >= 256:
        # collect refusals as we go: a refused socket is readable at once
        keep = []
        for x in socks:
            r, _, _ = select.select([x], [], [], 0)
            if r and x.recv(4096).startswith(b'HTTP/1.1 503'):
                refused += 1
                x.close()
            else:
                keep.append(x)
        socks = keep
time.sleep(0.5)
keep = []
for x in socks:
    r, _, _ = select.select([x], [], [], 0)
    if r and x.recv(4096).startswith(b'HTTP/1.1 503'):
        refused += 1
        x.close()
    else:
        keep.append(x)
socks = keep
took = time.monotonic() - t0
print(json.dumps({'refused': refused, 'open': len(socks), 'errors': errors, 'took': took}), flush=True)
sys.stdin.readline()             # the test checks the daemon meanwhile
closed = 0
deadline = time.monotonic() + idle_wait
while socks and time.monotonic() < deadline:
    r, _, _ = select.select(socks, [], [], 0.5)
    for x in r:
        if x.recv(4096) == b'':
            closed += 1
            socks.remove(x)
print(json.dumps({'closed_by_daemon': closed, 'still_open': len(socks)}), flush=True)
'''


def proc_cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


@need_binaries
class TestHarden(EnableCase):
    def as_nobody(self, plan, timeout=120):
        os.chmod(self.sim.tmp, 0o711)   # let uid 65534 reach the 0666 socket
        r = subprocess.run(['/usr/bin/python3', '-c', NOBODY_CLIENT, self.sim.socket_path, json.dumps(plan)],
                           capture_output=True, text=True, timeout=timeout, preexec_fn=drop_to_nobody)
        self.assertEqual(r.returncode, 0, r.stderr + self.log_tail())
        return json.loads(r.stdout)

    def hung_op(self, pf, n=2, timeout_ms=500):
        """An operation whose write to sriov_numvfs hangs in the kernel."""
        self.sim.set_hang(pf, True)
        st, _, op = self.post(pf, {'num_vfs': n, 'wait': False, 'timeout_ms': timeout_ms})
        self.assertEqual(st, 202, op)
        self.wait_op(op['id'], lambda o: o.get('write_in_flight', {}).get('hung') is (timeout_ms < 10000)
                     or (timeout_ms >= 10000 and 'write_in_flight' in o), what='the write in flight')
        return op['id']

    # ---------------------------------------------------------------- item 1
    def test_01_slow_operation_finishing_after_64_newer_ones(self):
        """Item 1: an operation that ends after 64 newer ones finished is not
        freed while it is being finished, and is kept for GET afterwards."""
        sim = self.sim
        slow = self.hung_op(PF1)
        for i in range(66):
            st, _, o = self.post(PF2, {'num_vfs': 0, 'wait': True})
            self.assertEqual(st, 200, o)
            self.assertEqual(o['state'], 'done', o)
        self.assertEqual(sim.release_hang(PF1), 2)
        o = self.wait_op(slow, lambda x: x['state'] == 'done', what='the slow operation done')
        self.assertIn('hung_write_returned', o)
        self.assertIsNone(sim.proc.poll(), 'sriovd died' + self.log_tail())
        st, _, body = sim.http('GET', '/v1/operations')
        self.assertEqual(st, 200, body)
        done = [x['id'] for x in body['operations'] if x['state'] == 'done']
        self.assertIn(slow, done)
        self.assertLessEqual(len(done), 64, 'finished operations are still trimmed')

    # ---------------------------------------------------------------- item 9
    def listening_socket(self, kind=socket.SOCK_STREAM):
        """What sriovd.socket gives the service: a socket bound to the API
        path, owned by someone other than the daemon (here the test)."""
        if os.path.lexists(self.sim.socket_path):
            os.unlink(self.sim.socket_path)
        s = socket.socket(socket.AF_UNIX, kind)
        self.addCleanup(s.close)
        s.bind(self.sim.socket_path)
        if kind == socket.SOCK_STREAM:
            s.listen(128)
        return s

    def start_activated(self, sock):
        self.sim.start_daemon(['--settle-quiet-ms', str(QUIET_MS)], listen_socket=sock)
        self.sim.wait_ready(15)

    def test_09a_socket_activation_serves_and_leaves_the_socket(self):
        """Item 9: started with a listening socket passed as systemd does
        (LISTEN_FDS), sriovd serves the API on it, does not unlink it when it
        stops, and a new instance serves on the same socket at once."""
        sim = self.sim
        self.assertEqual(sim.stop_daemon(), 0, self.log_tail())
        sock = self.listening_socket()
        ino = os.stat(sim.socket_path).st_ino
        self.start_activated(sock)
        rc, out, err = sim.ctl('status', '--json')
        self.assertEqual(rc, 0, err + self.log_tail())
        self.assertIn(PF1, out)
        self.enable_ok(PF1, 2)
        self.assertEqual(sim.stop_daemon(), 0, self.log_tail())
        self.assertEqual(os.stat(sim.socket_path).st_ino, ino, 'the socket file systemd owns is left alone')
        self.start_activated(sock)
        t0 = time.monotonic()
        rc, out, err = sim.ctl('--timeout', '5', 'status')
        self.assertEqual(rc, 0, err + self.log_tail())
        self.assertLess(time.monotonic() - t0, 5)
        self.assertNotIn('Another sriovd', sim.daemon_log())

    def test_09b_new_instance_serves_while_the_old_one_cannot(self):
        """Item 9: an instance that can no longer run (stopped with a write
        hung in the kernel, as a process whose worker is stuck in D state
        after SIGKILL) keeps its copy of the listening socket. A new instance
        binding the path itself refuses ('Another sriovd is listening'); one
        given the inherited socket serves at once, and goes on serving after
        the old one is killed."""
        sim = self.sim
        self.assertEqual(sim.stop_daemon(), 0, self.log_tail())
        sock = self.listening_socket()
        self.start_activated(sock)
        self.hung_op(PF1)
        old = sim.detach_daemon()
        self.addCleanup(lambda: (old.poll() is None and old.kill(), old.wait()))
        os.kill(old.pid, signal.SIGSTOP)
        # on its own socket, as before socket activation: refused
        sim.start_daemon(['--settle-quiet-ms', str(QUIET_MS)])
        self.assertEqual(sim.proc.wait(15), 1, self.log_tail())
        self.assertIn('Another sriovd is listening', sim.daemon_log())
        sim.detach_daemon()
        # on the inherited socket: serves at once, next to the stopped one
        t0 = time.monotonic()
        self.start_activated(sock)
        rc, out, err = sim.ctl('--timeout', '5', 'status', '--json')
        self.assertEqual(rc, 0, err + self.log_tail())
        self.assertLess(time.monotonic() - t0, 10)
        old.kill()
        old.wait()
        rc, out, err = sim.ctl('--timeout', '5', 'status', '--json')
        self.assertEqual(rc, 0, err + self.log_tail())
        self.assertIn(PF2, out)

    def test_09c_inherited_socket_of_the_wrong_kind_refused(self):
        """Item 9: an inherited fd that is not a listening Unix stream socket
        stops the start with a message that says what is wrong."""
        sim = self.sim
        self.assertEqual(sim.stop_daemon(), 0, self.log_tail())
        sock = self.listening_socket(socket.SOCK_DGRAM)
        sim.start_daemon(listen_socket=sock)
        self.assertEqual(sim.proc.wait(15), 1, self.log_tail())
        sim.detach_daemon()
        self.assertIn('not a listening Unix stream socket', sim.daemon_log())

    def test_09d_sriovctl_timeout(self):
        """Item 9: sriovctl gives up on a daemon that accepts and never
        answers: one line, exit status 6, within the --timeout given; bad
        --timeout values are usage errors (2)."""
        path = os.path.join(self.sim.tmp, 'mute.sock')
        mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(mute.close)
        mute.bind(path)
        mute.listen(8)
        accepted = []

        def accept_and_sit():
            try:
                while True:
                    accepted.append(mute.accept()[0])  # read nothing, answer nothing
            except OSError:
                pass
        threading.Thread(target=accept_and_sit, daemon=True).start()
        for args in (['status'], ['events', '--follow']):
            t0 = time.monotonic()
            rc, out, err = self.sim.ctl('--timeout', '1', *args, socket_path=path, timeout=20)
            took = time.monotonic() - t0
            self.assertEqual(rc, 6, (args, out, err))
            self.assertEqual(err, 'sriovctl: sriovd did not answer within 1 s on %s (see --timeout)\n' % path)
            self.assertGreater(took, 0.9)
            self.assertLess(took, 5)
        self.assertEqual(len(accepted), 2)
        for bad in ('0', '-1', 'soon', '1e9', 'nan'):
            rc, out, err = self.sim.ctl('--timeout', bad, 'status', socket_path=path)
            self.assertEqual(rc, 2, (bad, err))
            self.assertIn("--timeout needs seconds from 0.001 to 86400, not '%s'" % bad, err)

    # --------------------------------------------------------------- item 12
    def test_12b_sriovctl_distrusts_the_reply(self):
        """Item 12: the CLI's reply parser does not trust the peer. A server
        on the socket path sends hostile heads and bodies: sriovctl says in
        one line that the reply is not sriovd's and exits 4 - no crash, no
        body taken from a reply whose head is broken."""
        path = os.path.join(self.sim.tmp, 'hostile.sock')
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(srv.close)
        srv.bind(path)
        srv.listen(8)
        replies = [
            b'HTTP/1.0 200 OK\r\nX\0: y\r\nContent-Length: 2\r\n\r\n{}',          # NUL in the head
            b'HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 90\r\n\r\n{}',  # two lengths
            b'HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n{"devices":[]}',
            b'HTTP/1.0 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
            b'HTTP/1.0 2000 OK\r\n\r\n{}',
            b'HTTP/1.0 200 OK\r\nContent-Length: 40\r\n\r\n{"devices":[]}',           # shorter than said
            b'HTTP/1.0 200 OK\r\nContent-Length: 16\r\n\r\n{"devices":[]}\0x',       # NUL in the body
            b'HTTP/1.0 200 OK\r\n' + b'A: ' + b'a' * 70000 + b'\r\n\r\n{}',           # endless head
            b'SSH-2.0-OpenSSH_9.2\r\n\r\n',
        ]

        def serve():
            for reply in replies:
                try:
                    c = srv.accept()[0]
                except OSError:
                    return
                c.settimeout(5)
                try:
                    c.recv(65536)
                    c.sendall(reply)
                except OSError:
                    pass
                c.close()
        threading.Thread(target=serve, daemon=True).start()
        for reply in replies:
            rc, out, err = self.sim.ctl('--timeout', '5', 'status', '--json', socket_path=path, timeout=20)
            self.assertEqual((rc, out), (4, ''), (reply[:60], out, err))
            self.assertRegex(err, r'^sriovctl: the reply on .* is (not sriovd\'s \(malformed HTTP\)|too large); '
                             r'nothing was done with it\n$', reply[:60])
        # and a well-formed reply still works: the check is not a refusal of everything
        good = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(good.close)
        gpath = os.path.join(self.sim.tmp, 'good.sock')
        good.bind(gpath)
        good.listen(1)

        def serve_good():
            c = good.accept()[0]
            c.recv(65536)
            body = b'{"devices":[]}\n'
            c.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
            c.close()
        threading.Thread(target=serve_good, daemon=True).start()
        rc, out, err = self.sim.ctl('--timeout', '5', 'status', '--json', socket_path=gpath, timeout=20)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {'devices': []})

    # ---------------------------------------------------------------- item 7
    def test_07_shutdown_starts_no_queued_write(self):
        """Item 7: SIGTERM while an enable hangs in the kernel and another
        enable and a VF bind wait behind its PF lock: tearing down the hung
        operation releases that lock, which must grant nobody.  The queued
        bind never writes driver_override, nothing more reaches
        sriov_numvfs, the daemon exits 0 at once (the hung write does not
        hold it) and, under ASan, no worker touches freed memory."""
        sim = self.sim
        self.enable_ok(PF1, 2)
        vf0 = simkernel.vf_address(PF1, 1, 1, 0)
        override = sim.read_attr(vf0, 'driver_override')
        hung = self.hung_op(PF1, n=3)          # writes 0 first: that write hangs
        st, _, queued = self.post(PF1, {'num_vfs': 4, 'wait': False})
        self.assertEqual(st, 202, queued)
        # a bind that waits for the PF (shared) behind the hung operation (exclusive)
        bind = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(bind.close)
        bind.connect(sim.socket_path)
        body = json.dumps({'driver': 'vfio-pci'}).encode()
        bind.sendall(b'POST /v1/devices/%s/bind HTTP/1.1\r\nHost: localhost\r\n'
                     b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s'
                     % (vf0.encode(), len(body), body))
        self.wait_op(queued['id'], lambda o: o['state'] == 'queued' and 'waiting_for' in o, what='queued')
        time.sleep(0.5)                         # the bind has no status of its own to wait for
        self.assertEqual(self.get_op(hung)['state'], 'writing')
        self.assertEqual(sim.read_attr(vf0, 'driver_override'), override)

        t0 = time.monotonic()
        rc = sim.stop_daemon(timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, 'sriovd exit status %r%s' % (rc, self.log_tail()))
        self.assertLess(took, 10, 'the hung write held the exit')
        # the kernel finally returns: nobody is left to go on
        sim.release_hang(PF1, timeout=1)
        time.sleep(0.5)
        self.assertEqual(sim.read_attr(vf0, 'driver_override'), override,
                         'the queued bind ran during the stop' + self.log_tail())
        self.assertNotIn(4, self.writes(PF1), 'the queued enable wrote during the stop')
        self.assertEqual(sim.device(vf0).driver, 'nvme')
        log = sim.daemon_log()
        after = log[log.rindex('stopping'):]
        self.assertNotIn('driver_override', after)
        self.assertNotIn('writing', after)
        # The hung write's thread still reads the operation and the sysfs handle:
        # the exit leaves them alive rather than freeing them under it.
        self.assertIn('exiting without freeing what they use', after, self.log_tail())

    # ---------------------------------------------------------------- item 8
    def test_08_hung_autoprobe_write(self):
        """Item 8: an enable with drivers_autoprobe whose write to
        sriov_drivers_autoprobe hangs is reported hung (not failed) naming
        that file, counted under it in the metrics, shown in flight; when the
        kernel returns, the operation ends without writing sriov_numvfs, and
        the daemon still answers.  (sriovctl enable has no autoprobe option:
        the request goes through the API; sriovctl's exit status 5 follows
        the report's hung.)"""
        sim = self.sim
        sim.stop_daemon()
        sim.start_daemon(['--settle-quiet-ms', '200'], faults=True)
        sim.wait_ready(15)
        sim.hang_writes(PF1, 'sriov_drivers_autoprobe')
        t0 = time.monotonic()
        st, _, o = self.post(PF1, {'num_vfs': 2, 'drivers_autoprobe': False, 'wait': True, 'timeout_ms': 1000},
                             timeout=30)
        self.assertEqual(st, 200, o)
        self.assertLess(time.monotonic() - t0, 10)
        rep = o['report']
        self.assertTrue(rep['hung'], rep)
        self.assertEqual(rep.get('hung_file'), 'sriov_drivers_autoprobe', rep)
        self.assertIn('sriov_drivers_autoprobe', rep['message'])
        self.assertIn('hung', rep['message'])
        self.assertNotIn('sriov_numvfs', rep['message'])
        self.assertEqual(o['state'], 'writing', o)
        self.assertEqual((o['write_in_flight']['file'], o['write_in_flight']['hung']),
                         ('sriov_drivers_autoprobe', True), o)
        log = sim.daemon_log()
        self.assertIn('writing 0 to sriov_drivers_autoprobe has not returned', log)
        self.assertNotIn('sriov_numvfs has not returned', log)
        st, _, metrics = sim.http('GET', '/metrics')
        self.assertEqual(st, 200, metrics)
        hung = [ln for ln in metrics.splitlines() if ln.startswith('sriovd_sysfs_writes_hung_total{')]
        self.assertEqual(sorted(hung), ['sriovd_sysfs_writes_hung_total{attribute="bind"} 0',
                                        'sriovd_sysfs_writes_hung_total{attribute="remove-rescan-reset"} 0',
                                        'sriovd_sysfs_writes_hung_total{attribute="sriov_drivers_autoprobe"} 1',
                                        'sriovd_sysfs_writes_hung_total{attribute="sriov_numvfs"} 0'])
        self.assertIn('sriovd_operations_total{kind="enable",result="hung"} 1', metrics.splitlines())

        self.assertIn('hang /%s/sriov_drivers_autoprobe' % PF1, sim.faults_fired())
        sim.release_writes(PF1, 'sriov_drivers_autoprobe')
        o = self.wait_op(o['id'], lambda x: x['state'] == 'done', what='the hung operation done')
        self.assertIn('hung_write_returned', o)
        self.assertNotIn('write_in_flight', o)
        self.assertTrue(o['report']['hung'], o)
        time.sleep(0.5)
        self.assertEqual(self.writes(PF1), [], 'sriov_numvfs written after the hung autoprobe write')
        self.assertEqual(sim.read_attr(PF1, 'sriov_drivers_autoprobe').strip(), '0')
        self.assertEqual(self.sim_vfs(PF1), 0)
        self.assertIn('not going on', sim.daemon_log())
        # still served: the PF is free again
        self.enable_ok(PF1, 1)

    # --------------------------------------------------------------- item 10
    def test_10_wait_slots_bounded_per_uid_and_freed(self):
        """Item 10: GET /v1/operations/{id}?wait=1 slots are bounded per uid
        (the 9th waiting request of uid 65534 gets 503 at once) and are
        given back when the client goes away (40 waiters that come and go
        in turn never exhaust the 32 slots of an operation)."""
        op = self.hung_op(PF1, timeout_ms=60000)
        req = 'GET /v1/operations/%d?wait=1 HTTP/1.1\r\nHost: x\r\n\r\n' % op
        res = self.as_nobody([['open', 9, req, 1.0], ['close', 0.5], ['open', 8, req, 1.0]])
        self.assertEqual(res[0], ['waiting'] * 8 + [503], res)
        self.assertEqual(res[1], ['waiting'] * 8, 'closed waiters give their slots back: %r' % (res,))
        # root is not bound by the per-uid cap, only by the operation's slots,
        # which closed clients give back
        for i in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(0.3)
            s.connect(self.sim.socket_path)
            s.sendall(req.encode())
            try:
                data = s.recv(4096)
                self.fail('waiter %d was answered at once: %r' % (i, data[:200]))
            except socket.timeout:
                pass
            s.close()
        self.assertEqual(self.sim.release_hang(PF1), 2)
        o = self.get_op(op, wait=True)
        self.assertEqual(o['state'], 'done', o)

    # ---------------------------------------------------------------- item 3
    def lock_dir(self):
        return os.path.join(self.sim.tmp, 'run', 'locks')

    def test_03a_lock_files_closed_to_other_users(self):
        """Item 3: the lock folder is 02750 and its files 0640, created for
        every PF and VF sriovd sees; uid 65534 cannot open one (so cannot
        flock it)."""
        d = self.lock_dir()
        self.enable_ok(PF1, 2)
        self.assertEqual(os.stat(d).st_mode & 0o7777, 0o2750)
        names = sorted(os.listdir(d))
        for name in ('hierarchy-0000:00:02.0.lock', 'pf-%s.lock' % PF1, 'pf-%s.lock' % PF2,
                     'vf-%s.lock' % simkernel.vf_address(PF1, 1, 1, 0)):
            self.assertIn(name, names)
        for name in names:
            self.assertEqual(os.stat(os.path.join(d, name)).st_mode & 0o777, 0o640, name)
        os.chmod(self.sim.tmp, 0o711)
        os.chmod(os.path.join(self.sim.tmp, 'run'), 0o755)
        code = ('import fcntl, sys\n'
                'try:\n'
                '    f = open(sys.argv[1])\n'
                '    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)\n'
                '    print("locked")\n'
                'except PermissionError:\n'
                '    print("denied")\n')
        r = subprocess.run(['/usr/bin/python3', '-c', code, os.path.join(d, 'pf-%s.lock' % PF1)],
                           capture_output=True, text=True, timeout=30, preexec_fn=drop_to_nobody)
        self.assertEqual(r.stdout.strip(), 'denied', r.stderr)

    def test_03b_lock_file_wait_is_bounded_reported_and_holds_no_locks(self):
        """Item 3: an operation that finds a PF's lock file held waits for
        it (state waiting-for-lock-file, naming the holder's pid) without
        holding sriovd's in-process locks - an unbind of one of the PF's VFs
        completes meanwhile - and gives up at its deadline with a clear
        report, writing nothing."""
        sim = self.sim
        self.enable_ok(PF1, 2)
        path = os.path.join(self.lock_dir(), 'pf-%s.lock' % PF1)
        holder = subprocess.Popen(['/usr/bin/python3', '-c',
                                   'import fcntl, sys, time\n'
                                   'f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX)\n'
                                   'print("locked", flush=True); time.sleep(120)\n', path],
                                  stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), 'locked')
            t0 = time.monotonic()
            st, _, op = self.post(PF1, {'num_vfs': 3, 'wait': False, 'timeout_ms': 5000})
            self.assertEqual(st, 202, op)
            o = self.wait_op(op['id'], lambda x: x['state'] == 'waiting-for-lock-file', timeout=5,
                             what='waiting-for-lock-file')
            self.assertEqual(o.get('lock_holder_pid'), holder.pid, o)
            self.assertIn(path, o['waiting_for'])
            # the PF's in-process lock is not held: a VF unbind goes through now
            vf0 = simkernel.vf_address(PF1, 1, 1, 0)
            # (the simulator does not carry out unbind writes: 409, driver still there;
            # what counts is that the request reached the kernel at once)
            st, _, body = sim.http('POST', '/v1/devices/%s/unbind' % vf0, body={}, timeout=10)
            self.assertIn(st, (200, 409), body)
            self.assertEqual((body['action'], body['hung']), ('unbind', False), body)
            self.assertLess(time.monotonic() - t0, 3.5, 'the unbind waited for the lock file')
            self.assertEqual(self.get_op(op['id'])['state'], 'waiting-for-lock-file')
            o = self.get_op(op['id'], wait=True, timeout=30)
            took = time.monotonic() - t0
            self.assertGreater(took, 4.5)
            self.assertLess(took, 15)
            rep = o['report']
            self.assertEqual(rep['outcome'], 'failed', rep)
            self.assertIn('lock file', rep['message'])
            self.assertIn('process %d' % holder.pid, rep['message'])
            self.assertEqual(self.writes(PF1), [2], 'nothing written while the lock file was held')
        finally:
            holder.kill()
            holder.wait()
        # once the holder is gone, the same request goes through
        self.enable_ok(PF1, 3)

    # ---------------------------------------------------------------- item 4
    def test_04a_connection_flood_by_a_local_user(self):
        """Item 4: uid 65534 opening 10,000 connections gets 64, the rest a
        503 at once; root is still served, the journal is not flooded, and
        the idle connections are closed by sriovd after its idle timeout."""
        sim = self.sim
        os.chmod(sim.tmp, 0o711)
        cpu0 = proc_cpu_seconds(sim.proc.pid)
        p = subprocess.Popen(['/usr/bin/python3', '-c', NOBODY_FLOOD, sim.socket_path, '10000', '20'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=drop_to_nobody)
        try:
            first = json.loads(p.stdout.readline() or 'null')
            self.assertIsNotNone(first, p.stderr.read() if p.poll() is not None else 'no output')
            self.assertEqual(first['open'], 64, first)
            self.assertEqual(first['refused'] + first['errors'], 10000 - 64, first)
            # root is served while uid 65534 holds its connections
            t0 = time.monotonic()
            rc, out, err = sim.ctl('status', '--json')
            self.assertEqual(rc, 0, err)
            self.assertLess(time.monotonic() - t0, 5)
            log = sim.daemon_log()
            self.assertLess(sum('Refusing API connections' in l for l in log.splitlines()), 10,
                            'refusals are logged rate-limited')
            p.stdin.write('\n')
            p.stdin.flush()
            second = json.loads(p.stdout.readline() or 'null')
            self.assertEqual(second, {'closed_by_daemon': 64, 'still_open': 0},
                             'idle connections are closed by sriovd')
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
        self.assertLess(proc_cpu_seconds(sim.proc.pid) - cpu0, 15)
        self.assertIsNone(sim.proc.poll(), self.log_tail())

    def test_04b_out_of_file_descriptors_backs_off(self):
        """Item 4: with its fd limit reached, sriovd's listener pauses and
        retries with a backoff instead of spinning on EMFILE and logging
        every failure, and serves again once fds are free."""
        import resource
        sim = self.sim
        pid = sim.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (120, hard))
        socks = []
        try:
            for i in range(300):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(sim.socket_path)
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    break
                socks.append(s)
            time.sleep(0.5)
            lines0 = len(sim.daemon_log().splitlines())
            cpu0 = proc_cpu_seconds(pid)
            time.sleep(3)
            cpu = proc_cpu_seconds(pid) - cpu0
            new_lines = sim.daemon_log().splitlines()[lines0:]
            self.assertLess(cpu, 0.5, 'sriovd used %.2f s of CPU in 3 s at EMFILE' % cpu)
            self.assertLess(len(new_lines), 20, 'log flooded at EMFILE: %r' % new_lines[:20])
            self.assertIn('pausing accept()', sim.daemon_log())
        finally:
            for s in socks:
                s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        SimKernel.wait_for(lambda: sim.ctl('status', timeout=10)[0] == 0, 20, interval=0.5,
                           what='sriovd serving again')

    # --------------------------------------------------------------- item 12
    def test_12_events_limit_zero_refused(self):
        """Item 12: limit=0 does not bypass the history cap."""
        st, _, body = self.sim.http('GET', '/v1/events?limit=0')
        self.assertApiError(st, body, 400, 'limit=0')
        st, _, body = self.sim.http('GET', '/v1/events?limit=1')
        self.assertEqual(st, 200, body)


if __name__ == '__main__':
    unittest.main(verbosity=2)
