# SPDX-License-Identifier: LGPL-2.1-or-later
"""simkernel: a simulated Linux PCI / SR-IOV kernel for sriovd's "sim" tests.

Built on a umockdev testbed (stdlib + gi UMockdev only).  A program started
under umockdev's preload with $UMOCKDEV_DIR pointing at the testbed sees the
testbed instead of the real /sys.  This module lays out a realistic sysfs tree
(root ports, SR-IOV PFs, VFs, drivers, IOMMU groups, AER counters) and runs a
watcher thread that reacts to writes of ``sriov_numvfs`` the way Linux 6.1 does
(see docs/kernel-testbed.md: what the real kernel did in the VM).

Usage::

    sim = SimKernel()
    sim.add_root_port('0000:00:02.0')
    sim.add_pf('0000:01:00.0', '0000:00:02.0', total_vfs=4, vf_driver='nvme')
    sim.start_daemon()
    sim.wait_ready()
    sim.write_numvfs('0000:01:00.0', 3)      # an administrator's echo 3 > ...
    rc, out, err = sim.ctl('status', '--json')
    sim.close()

What was checked on this machine (umockdev 0.17.16, systemd/libudev 252), see
test_simkernel.py:
  * a wrapped process (umockdev-wrapper) sees the testbed for opendir, open,
    read, readlink, realpath of /sys paths; relative symlinks inside the
    testbed resolve inside the testbed;
  * writes by a wrapped process land in the testbed file and raise
    IN_CLOSE_WRITE on an inotify watch held by this (unwrapped) process;
  * a libudev monitor on source "kernel" in a wrapped process gets its netlink
    socket turned into an AF_UNIX socket $UMOCKDEV_DIR/event<fd>; messages sent
    there in the kernel's format ("ACTION@DEVPATH\\0KEY=VAL\\0...") or in
    libudev's format are received with all their properties, and a
    subsystem filter ("pci") still works.

Why this module sends uevents itself instead of Testbed.uevent():
  * UMockdev.Testbed.uevent() sends non-blocking; when a listener's queue is
    full (net.unix.max_dgram_qlen is only 10 on this machine) umockdev 0.17.16
    aborts the whole test process ("sendmsg failed: Resource temporarily
    unavailable").  Seen with 50 quick events to a stopped listener.
  * it resolves the device through libudev in the *calling* process, so the
    test process itself must run under the preload.
  * properties set with set_property() persist in the uevent file, so an
    ERROR_EVENT= would leak into every later event of that device.
  Here every uevent is sent with a blocking sendto() (flow control instead of
  loss: the real kernel with sriovd's large receive buffer does not drop
  either), properties per event, kernel message format.  A listener that does
  not drain its queue within ``uevent_send_timeout`` seconds loses the event;
  the loss is recorded in ``dropped_uevents``.

Known differences from the real kernel (the VM tier is the reference):
  * A write to a plain file cannot fail: where the kernel returns EBUSY
    (VFs already enabled), ERANGE (above sriov_totalvfs), EINVAL (not a
    number), ENOENT (no PF driver) or an injected errno, the writer sees
    success.  The simulator records the write in ``rejected_writes`` and puts
    the previous count back into the file.
  * The real write blocks until every VF exists; here the write returns at
    once and the VFs appear afterwards (``per_vf_delay`` apart).  The file
    reads the new count from the moment of the write.  A writer may thus
    write again while the previous write is still being carried out (e.g.
    sriovd writes N as soon as the VFs of its 0 are gone, while the
    simulated sriov_disable has not returned yet): the newer value is never
    overwritten by the simulator's own update of the file (compared before
    rewriting), and it is carried out next, in order, as the kernel's
    device lock would.  Writes are told apart only by IN_CLOSE_WRITE and the
    file content: two writes landing before the simulator reads the first
    one are seen as one (the last value).  Use ``hang=True``
    (a FIFO with a full pipe: the writer's write() blocks) for a write that
    does not return.
  * There is one watcher thread: while it carries out a slow write of one PF
    (``per_vf_delay``, ``disable_delay``), writes to other PFs wait, where
    the kernel would run them in parallel (different device locks).  Use
    ``hang`` (the writer blocks, the watcher does not) to show parallelism.
  * While hung, readers of sriov_numvfs block too (the 6.1 kernel also blocks
    readers on the device lock) when no writer is blocked, but a reader that
    opens the FIFO while a writer is blocked reads NUL filler bytes (and may
    take the writer's bytes) instead of a count.  A reader under umockdev's
    preload blocked in open() holds the preload's process-wide lock.
  * The simulator learns the written value by reading the file after the
    writer closed it.  A writer that does not truncate (no O_TRUNC) and writes
    a shorter string without a newline over a longer one (e.g. "5" over
    "12\\n") leaves "52\\n" behind, which is what the simulator sees.  Writers
    should write "N\\n" (as echo does) or open with O_TRUNC.
  * Per VF the simulator emits add, change (``vf_change_event``) and, when a
    driver binds, bind; the order of the VF change/bind against the VM's
    recording is not verified.
"""

import ctypes
import errno
import glob
import http.client
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import gi
gi.require_version('UMockdev', '1.0')
from gi.repository import UMockdev  # noqa: E402

SRIOVD = os.environ.get('SRIOVD', '/work/main/build/daemon/sriovd')
SRIOVCTL = os.environ.get('SRIOVCTL', '/work/main/build/cli/sriovctl')
WRAPPER = shutil.which('umockdev-wrapper') or '/usr/bin/umockdev-wrapper'

# Sanitizer builds (scripts/test.sh's sanitizer tier: clang, ASan+UBSan or TSan).  Every
# program these tests start inherits the options through os.environ, also those started
# with a hand-made environment, and writes its reports as files into one folder per test
# process instead of a stderr that nobody reads.  A report fails the test that was
# running (SimKernel.close()) and the whole run (main()), even when the program's exit
# status went unnoticed.  A build without sanitizers ignores the variables.
#
# log_path is relative, and this process (so every child) works in that folder: with an
# absolute log_path the runtime stat()s and mkdir()s its parent folders while it starts,
# before umockdev's preload has looked up the libc functions it wraps, and the daemon
# dies at once (SIGSEGV calling NULL from the preload's mkdir(); clang 14, umockdev 0.17).
SANITIZER_DIR = tempfile.mkdtemp(prefix='sriovd-sanitizer.')
_LSAN_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lsan.supp')
os.chdir(SANITIZER_DIR)


def _sanitizer_options(name, extra):
    opts = ['log_path=%s' % name, 'halt_on_error=1'] + extra
    given = os.environ.get(name.upper() + '_OPTIONS')
    return ':'.join(opts + ([given] if given else []))   # the caller's own win


os.environ['ASAN_OPTIONS'] = _sanitizer_options('asan', [
    'detect_leaks=1', 'abort_on_error=0', 'exitcode=66', 'detect_stack_use_after_return=1',
    'strict_string_checks=1', 'check_initialization_order=1'])
os.environ['UBSAN_OPTIONS'] = _sanitizer_options('ubsan', ['print_stacktrace=1', 'exitcode=66'])
os.environ['LSAN_OPTIONS'] = _sanitizer_options('lsan', ['suppressions=' + _LSAN_SUPP, 'exitcode=66'])
os.environ['TSAN_OPTIONS'] = _sanitizer_options('tsan', ['exitcode=66', 'second_deadlock_stack=1'])
_sanitizer_seen = set()
# Set by scripts/test.sh for its sanitizer builds: memory measured as RSS means nothing
# there (ASan keeps 256 MiB of freed memory in quarantine to catch use-after-free).
SANITIZER = os.environ.get('SRIOVD_SANITIZER', '')

_FAULTS_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sim-faults.c')
_faults_so = None


def fault_preload():
    """sim-faults.c built for this test process (once): the library that
    start_daemon(faults=True) preloads.  The system compiler, no sanitizer: it is
    loaded into every program the daemon starts too."""
    global _faults_so
    if _faults_so is None:
        out = os.path.join(tempfile.mkdtemp(prefix='sriovd-sim-faults.'), 'sim-faults.so')
        subprocess.run([os.environ.get('SIM_CC', 'cc'), '-shared', '-fPIC', '-O2', '-o', out,
                        _FAULTS_SRC, '-ldl'], check=True, env=dict(os.environ, ASAN_OPTIONS='',
                                                                   LD_PRELOAD=''))
        _faults_so = out
    return _faults_so


def sanitizer_reports(new_only=True):
    """The text of every sanitizer report written so far (only those not returned
    before when new_only)."""
    out = []
    try:
        names = sorted(os.listdir(SANITIZER_DIR))
    except FileNotFoundError:
        return out
    for n in names:
        if new_only and n in _sanitizer_seen:
            continue
        _sanitizer_seen.add(n)
        with open(os.path.join(SANITIZER_DIR, n), errors='replace') as f:
            out.append('--- %s\n%s' % (n, f.read()))
    return out

# Kernel names (drivers/pci/pcie/aer.c, 6.1), in bit order.
AER_CORRECTABLE = ['RxErr', 'BadTLP', 'BadDLLP', 'Rollover', 'Timeout',
                   'NonFatalErr', 'CorrIntErr', 'HeaderOF']
AER_UNCORRECTABLE = ['Undefined', 'DLP', 'SDES', 'TLP', 'FCP', 'CmpltTO',
                     'CmpltAbrt', 'UnxCmplt', 'RxOF', 'MalfTLP', 'ECRC',
                     'UnsupReq', 'ACSViol', 'UncorrIntErr', 'BlockedTLP',
                     'AtomicOpBlocked', 'TLPBlockedErr', 'PoisonTLPBlocked']
AER_KINDS = {
    'correctable': ('aer_dev_correctable', AER_CORRECTABLE, 'TOTAL_ERR_COR',
                    'aer_rootport_total_err_cor'),
    'nonfatal': ('aer_dev_nonfatal', AER_UNCORRECTABLE, 'TOTAL_ERR_NONFATAL',
                 'aer_rootport_total_err_nonfatal'),
    'fatal': ('aer_dev_fatal', AER_UNCORRECTABLE, 'TOTAL_ERR_FATAL',
              'aer_rootport_total_err_fatal'),
}

# inotify through ctypes
_IN_CLOSE_WRITE = 0x00000008
_IN_IGNORED = 0x00008000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_libc = ctypes.CDLL(None, use_errno=True)


def parse_bdf(addr):
    """'0000:01:00.1' -> (domain, bus, device, function); ValueError if bad."""
    try:
        dom, bus, rest = addr.split(':')
        dev, fn = rest.split('.')
        d, b, s, f = int(dom, 16), int(bus, 16), int(dev, 16), int(fn, 16)
    except ValueError:
        raise ValueError('bad PCI address %r' % addr) from None
    if len(dom) != 4 or len(bus) != 2 or len(dev) != 2 or len(fn) != 1 \
            or s > 31 or f > 7:
        raise ValueError('bad PCI address %r' % addr)
    return d, b, s, f


def format_bdf(domain, bus, dev, fn):
    return '%04x:%02x:%02x.%x' % (domain, bus, dev, fn)


def routing_id(addr):
    _, b, s, f = parse_bdf(addr)
    return (b << 8) | (s << 3) | f


def vf_address(pf_addr, offset, stride, index):
    """Address of VF `index` (0-based) from the PF's routing id (PCIe SR-IOV
    First VF Offset / VF Stride arithmetic, as pci_iov_virtfn_bus/devfn)."""
    dom = parse_bdf(pf_addr)[0]
    rid = routing_id(pf_addr) + offset + index * stride
    return format_bdf(dom, (rid >> 8) & 0xffff, (rid >> 3) & 0x1f, rid & 7)


def kstrtou16(raw):
    """Parse like the kernel's kstrtou16(buf, 0): returns (value, 0) or
    (None, errno).  One trailing newline is accepted."""
    s = raw.decode('latin-1') if isinstance(raw, bytes) else raw
    # The file holds what the writer wrote over the previous content; a
    # writer that did not truncate leaves old bytes after its newline.
    s = s.split('\n', 1)[0]
    if s.startswith('+'):
        s = s[1:]
    if not s:
        return None, errno.EINVAL
    if s[:2].lower() == '0x':
        base, digits = 16, s[2:]
    elif s[0] == '0' and len(s) > 1:
        base, digits = 8, s[1:]
    else:
        base, digits = 10, s
    valid = '0123456789abcdef'[:base]
    if not digits or any(c not in valid for c in digits.lower()):
        return None, errno.EINVAL
    v = int(digits, base)
    if v > 0xffff:
        return None, errno.ERANGE
    return v, 0


class Device:
    """What the simulator knows about one PCI function."""

    def __init__(self, addr, devpath, role):
        self.addr = addr
        self.devpath = devpath          # '/sys/devices/...'
        self.role = role                # 'bridge' | 'pf' | 'vf' | 'other'
        self.parent = None              # address of the parent bridge
        self.driver = None
        self.iommu_group = None
        self.vendor = self.device = self.klass = None
        self.subsys_vendor = self.subsys_device = None
        self.aer = None                 # {'correctable': {...}, ...}
        self.aer_rootport = None        # {'correctable': n, ...} on root ports
        # bridges
        self.secondary_bus = self.subordinate_bus = None
        # PFs
        self.total_vfs = 0
        self.num_vfs = 0
        self.offset = self.stride = 1
        self.vf_device = None
        self.vf_driver = None
        self.vfs = []                   # VF addresses, index order
        self.behaviour = {}
        self.numvfs_fd = None
        self.numvfs_wd = None
        self.numvfs_expect = None       # file content of the write being carried out
        self.hung = False
        self.fifo_r = None              # hang: read end of the full FIFO
        self.fifo_fill = 0              # ... and how many filler bytes it holds
        self.op_lock = threading.Lock()
        # VFs
        self.pf = None
        self.vf_index = None

    def __repr__(self):
        return '<Device %s %s>' % (self.role, self.addr)


# Drivers that register a network interface when they bind (net/ethN appears
# before the bind uevent, as igb and igbvf do in the VM).
NET_DRIVERS = frozenset({'igb', 'igbvf', 'ixgbe', 'ixgbevf', 'i40e', 'iavf', 'ice',
                         'mlx5_core', 'bnxt_en'})

DEFAULT_BEHAVIOUR = {
    'probe_fails': False,      # VFs get no driver (the NVMe case in the VM)
    # 'silent': no bind; 'unbind': bind, then unbind at once; 'late-unbind': bind, and
    # unbind 0.3 s after the PF's change, as nvme does on 6.1 in the VM (its probe
    # returns before the controller is set up; a failed reset releases the device).
    'probe_fail_mode': 'silent',
    'short_by': 0,             # the PF driver enables N-k VFs and succeeds
    'per_vf_delay': 0.0,       # seconds between VFs
    'disable_delay': 0.0,      # the kernel sleeps 1 s in sriov_disable
    'hang': False,             # writes to sriov_numvfs block (a full FIFO)
    'fail_errno': 0,           # the PF driver's sriov_configure fails
    'vf_change_event': True,   # per VF: add, change, [bind]
    # Seconds after the PF's change uevent at which the VFs bind, as drivers with
    # asynchronous probing do (nvme: PROBE_PREFER_ASYNCHRONOUS); None binds each VF
    # right after its add, before the change, as synchronous probes do.
    'async_probe_delay': None,
}


class _Inotify:
    def __init__(self):
        self.fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, 'inotify_init1: ' + os.strerror(e))

    def add(self, path, mask=_IN_CLOSE_WRITE):
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, 'inotify_add_watch %s: %s' % (path, os.strerror(e)))
        return wd

    def rm(self, wd):
        _libc.inotify_rm_watch(self.fd, wd)

    def read(self):
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, i = [], 0
        while i + 16 <= len(buf):
            wd, mask, _cookie, ln = struct.unpack_from('iIII', buf, i)
            out.append((wd, mask))
            i += 16 + ln
        return out

    def pending(self):
        import fcntl
        import termios
        b = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, b)
        return struct.unpack('i', b)[0]

    def close(self):
        os.close(self.fd)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__('localhost', timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class SimKernel:
    """A umockdev testbed plus a simulated kernel that reacts to writes."""

    def __init__(self, uevent_format='kernel', uevent_send_timeout=10.0):
        self.tb = UMockdev.Testbed.new()
        self.root = self.tb.get_root_dir()
        self.sys = self.tb.get_sys_dir()
        self.tmp = tempfile.mkdtemp(prefix='sriovd-sim.')
        self.uevent_format = uevent_format
        self.uevent_send_timeout = uevent_send_timeout
        self.devices = {}
        self._next_eth = 0
        self._next_ifindex = 100000
        self.rejected_writes = []   # dicts: address, value, errno, name
        self.writes = []            # every write seen: (address, raw bytes)
        self.numvfs_rewrites_skipped = 0  # newer writes not clobbered (see _set_numvfs_file)
        self._fifo_keep = []        # (fd, filler) of replaced FIFOs with a blocked writer
        self.dmesg = []             # what the kernel would have logged
        self.uevents_sent = []      # (action, address, props dict)
        self.dropped_uevents = []
        self._lock = threading.RLock()
        self._seqnum = 1000
        self._busy = 0
        self._handled = 0           # writes carried out (or rejected)
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.settimeout(uevent_send_timeout)
        self._ino = _Inotify()
        self._wd = {}               # wd -> pf address
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._stop = False
        self._watcher_error = None
        self._next_bus = 1
        for d in ('bus/pci/devices', 'bus/pci/drivers', 'kernel/iommu_groups'):
            os.makedirs(self._p('/sys/' + d), exist_ok=True)
        for f in ('bus/pci/drivers_probe', 'bus/pci/rescan',
                  'bus/pci/drivers_autoprobe'):
            self._write(self._p('/sys/' + f), '1\n' if 'autoprobe' in f else '')
        self._watcher = threading.Thread(target=self._watch_loop, daemon=True,
                                         name='simkernel-watcher')
        self._watcher.start()
        # daemon state
        self.proc = None
        self.notify_messages = []   # list of lines, in arrival order
        self._notify_cond = threading.Condition()
        self._notify_sock = None
        self.socket_path = os.path.join(self.tmp, 'sriovd.sock')
        self.log_path = os.path.join(self.tmp, 'sriovd.log')
        self.faults_dir = os.path.join(self.tmp, 'faults')   # see sim-faults.c
        os.makedirs(self.faults_dir)

    # ------------------------------------------------------------------ paths
    def _p(self, syspath, *names):
        """Host path of a sysfs path ('/sys/...') inside the testbed."""
        return os.path.join(self.root + syspath, *names)

    def path(self, addr, *names):
        """Host path of a device's directory or one of its attributes."""
        return self._p(self.devices[addr].devpath, *names)

    @staticmethod
    def _write(path, text):
        with open(path, 'w') as f:
            f.write(text)

    def _symlink(self, from_syspath, name, target_syspath):
        link = self._p(from_syspath, name)
        rel = os.path.relpath(target_syspath, from_syspath)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(rel, link)

    def read_attr(self, addr, name):
        with open(self.path(addr, name)) as f:
            return f.read()

    def device(self, addr):
        return self.devices[addr]

    @property
    def env(self):
        """Environment for a program that must see the testbed."""
        e = dict(os.environ)
        e['UMOCKDEV_DIR'] = self.root
        return e

    # ---------------------------------------------------------------- uevents
    def _uevent_props(self, dev):
        props = {}
        try:
            with open(self._p(dev.devpath, 'uevent')) as f:
                for line in f:
                    k, _, v = line.rstrip('\n').partition('=')
                    if k:
                        props[k] = v
        except FileNotFoundError:
            pass
        return props

    def _modalias_props(self, dev):
        cls = int(dev.klass, 16)
        p = {}
        if dev.driver:
            p['DRIVER'] = dev.driver
        p['PCI_CLASS'] = '%X' % cls
        p['PCI_ID'] = '%s:%s' % (dev.vendor.upper(), dev.device.upper())
        p['PCI_SUBSYS_ID'] = '%s:%s' % (dev.subsys_vendor.upper(),
                                         dev.subsys_device.upper())
        p['PCI_SLOT_NAME'] = dev.addr
        p['MODALIAS'] = 'pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X' % (
            int(dev.vendor, 16), int(dev.device, 16), int(dev.subsys_vendor, 16),
            int(dev.subsys_device, 16), cls >> 16, (cls >> 8) & 0xff, cls & 0xff)
        return p

    def _refresh_uevent_file(self, dev):
        p = self._modalias_props(dev)
        self._write(self._p(dev.devpath, 'uevent'),
                    ''.join('%s=%s\n' % kv for kv in p.items()))

    def _send_uevent(self, dev, action, extra=None):
        with self._lock:
            self._seqnum += 1
            devpath = dev.devpath[len('/sys'):]
            props = {'ACTION': action, 'DEVPATH': devpath, 'SUBSYSTEM': 'pci'}
            props.update(self._uevent_props(dev))
            if extra:
                props.update({k: str(v) for k, v in extra.items()})
            props['SEQNUM'] = str(self._seqnum)
            body = b''.join(('%s=%s' % kv).encode() + b'\0' for kv in props.items())
            if self.uevent_format == 'kernel':
                msg = ('%s@%s' % (action, devpath)).encode() + b'\0' + body
            else:
                msg = _libudev_header(len(body), 'pci') + body
            self.uevents_sent.append((action, dev.addr, props))
            for sock in glob.glob(os.path.join(self.root, 'event[0-9]*')):
                try:
                    self._sender.sendto(msg, sock)
                except ConnectionRefusedError:
                    # the monitor was closed: clean up, as umockdev does
                    try:
                        os.unlink(sock)
                    except OSError:
                        pass
                except FileNotFoundError:
                    pass
                except (socket.timeout, BlockingIOError):
                    self.dropped_uevents.append((action, dev.addr, sock))

    def uevent(self, addr, action='change', **props):
        """Send a uevent for a device with extra properties for this event
        only, e.g. uevent(pf, 'change', ERROR_EVENT='BEGIN_RECOVERY',
        DEVICE_ONLINE=0)."""
        self._send_uevent(self.devices[addr], action, props)

    def listeners(self):
        """Event sockets of monitors opened by wrapped processes."""
        return glob.glob(os.path.join(self.root, 'event[0-9]*'))

    # ------------------------------------------------------- building devices
    def _alloc_group(self):
        used = {d.iommu_group for d in self.devices.values()
                if d.iommu_group is not None}
        n = 0
        while n in used or os.path.exists(self._p('/sys/kernel/iommu_groups/%d' % n)):
            n += 1
        return n

    def _iommu_attach(self, dev, group):
        gpath = '/sys/kernel/iommu_groups/%d' % group
        os.makedirs(self._p(gpath, 'devices'), exist_ok=True)
        if not os.path.exists(self._p(gpath, 'type')):
            self._write(self._p(gpath, 'type'), 'DMA\n')
            self._write(self._p(gpath, 'reserved_regions'),
                        '0x00000000fee00000 0x00000000feefffff msi\n')
        self._symlink(gpath + '/devices', dev.addr, dev.devpath)
        self._symlink(dev.devpath, 'iommu_group', gpath)
        dev.iommu_group = group

    def _iommu_detach(self, dev):
        if dev.iommu_group is None:
            return
        gpath = '/sys/kernel/iommu_groups/%d' % dev.iommu_group
        try:
            os.unlink(self._p(gpath, 'devices', dev.addr))
        except FileNotFoundError:
            pass
        if not os.listdir(self._p(gpath, 'devices')):
            shutil.rmtree(self._p(gpath))
        dev.iommu_group = None

    def _ensure_driver(self, drv):
        dpath = '/sys/bus/pci/drivers/' + drv
        if not os.path.isdir(self._p(dpath)):
            os.makedirs(self._p(dpath))
            for f in ('bind', 'unbind', 'new_id', 'remove_id', 'uevent'):
                self._write(self._p(dpath, f), '')
        return dpath

    def _bind(self, dev, drv, event=True):
        dpath = self._ensure_driver(drv)
        self._symlink(dpath, dev.addr, dev.devpath)
        self._symlink(dev.devpath, 'driver', dpath)
        dev.driver = drv
        self._refresh_uevent_file(dev)
        # A network driver registers its interface in probe, before the bind
        # uevent (seen with igb/igbvf in the VM).
        if drv in NET_DRIVERS:
            self._add_netdev(dev)
        if event:
            self._send_uevent(dev, 'bind')

    def _add_netdev(self, dev, name=None):
        """net/NAME with the attributes sriovd reads.  Names follow the
        kernel's ethN; the ifindex is far above any real one of the host, so
        that a netlink query of it finds nothing (netlink cannot be
        simulated; the VM tier covers it)."""
        if name is None:
            name = getattr(dev, 'netdev_name', None) or 'eth%d' % self._next_eth
            self._next_eth += 1
        dev.netdev = name
        d = self._p(dev.devpath, 'net', name)
        os.makedirs(d, exist_ok=True)
        self._next_ifindex += 1
        mac = '52:54:00:%02x:%02x:%02x' % (self._next_ifindex >> 16 & 0xff,
                                           self._next_ifindex >> 8 & 0xff,
                                           self._next_ifindex & 0xff)
        for attr, value in (('address', mac), ('operstate', 'up'), ('speed', '1000'),
                            ('ifindex', str(self._next_ifindex))):
            self._write(os.path.join(d, attr), value + '\n')

    def _remove_netdev(self, dev):
        name = getattr(dev, 'netdev', None)
        if name:
            shutil.rmtree(self._p(dev.devpath, 'net'), ignore_errors=True)
            dev.netdev = None

    def rename_netdev(self, addr, new_name):
        """ip link set NAME name NEW: the folder is renamed (no uevent on the
        PCI device; the kernel announces it on rtnetlink only)."""
        dev = self.devices[addr]
        os.rename(self._p(dev.devpath, 'net', dev.netdev), self._p(dev.devpath, 'net', new_name))
        dev.netdev = new_name

    def set_netdev_attr(self, addr, name, value):
        dev = self.devices[addr]
        self._write(self._p(dev.devpath, 'net', dev.netdev, name), value)

    def _unbind(self, dev, event=True):
        if not dev.driver:
            return
        self._remove_netdev(dev)
        for p in (self._p('/sys/bus/pci/drivers', dev.driver, dev.addr),
                  self._p(dev.devpath, 'driver')):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        dev.driver = None
        self._refresh_uevent_file(dev)
        if event:
            self._send_uevent(dev, 'unbind')

    def _common_attrs(self, dev, revision='0x02'):
        return {
            'vendor': '0x%s\n' % dev.vendor,
            'device': '0x%s\n' % dev.device,
            'class': '0x%s\n' % dev.klass,
            'subsystem_vendor': '0x%s\n' % dev.subsys_vendor,
            'subsystem_device': '0x%s\n' % dev.subsys_device,
            'revision': revision + '\n',
            'numa_node': '-1\n',
            'enable': '1\n',
            'irq': '0\n',
            'driver_override': '(null)\n',
            'local_cpulist': '0-1\n',
            'msi_bus': '1\n',
            'd3cold_allowed': '1\n',
            'broken_parity_status': '0\n',
            'consistent_dma_mask_bits': '64\n',
            'dma_mask_bits': '64\n',
            'remove': '', 'rescan': '', 'reset': '',
        }

    def _create(self, dev, parent_syspath, attrs):
        """Create the device directory through umockdev (it adds the
        subsystem link and /sys/bus/pci/devices/<addr>)."""
        dev.klass = dev.klass.lower()
        props = self._modalias_props(dev)
        flat_attrs = []
        for k, v in attrs.items():
            flat_attrs += [k, v]
        flat_props = []
        for k, v in props.items():
            flat_props += [k, v]
        made = self.tb.add_device('pci', dev.addr, parent_syspath, flat_attrs,
                                  flat_props)
        assert made == dev.devpath, (made, dev.devpath)
        # umockdev stores attribute values verbatim; files without content
        # (remove, rescan, reset) are write-only in sysfs, fine here.
        self.devices[dev.addr] = dev

    def add_host_bridge(self, domain=0, bus=0):
        hp = '/sys/devices/pci%04x:%02x' % (domain, bus)
        if not os.path.isdir(self._p(hp)):
            os.makedirs(self._p(hp))
            self._write(self._p(hp, 'uevent'), '')
        return hp

    def add_root_port(self, addr='0000:00:02.0', parent=None, vendor='1b36',
                      device='000c', driver='pcieport', iommu_group=None,
                      secondary_bus=None, subordinate_bus=None, aer=True,
                      klass='060400'):
        """A PCIe root port (parent=None) or a downstream/switch port below
        the bridge `parent`.  Root ports get AER files by default."""
        dom, bus = parse_bdf(addr)[:2]
        if parent is None:
            ppath = self.add_host_bridge(dom, bus)
        else:
            ppath = self.devices[parent].devpath
        if secondary_bus is None:
            secondary_bus = max(self._next_bus, bus + 1)
        if subordinate_bus is None:
            subordinate_bus = secondary_bus
        self._next_bus = max(self._next_bus, subordinate_bus + 1)
        dev = Device(addr, ppath + '/' + addr, 'bridge')
        dev.parent = parent
        dev.vendor, dev.device, dev.klass = vendor, device, klass
        dev.subsys_vendor, dev.subsys_device = '0000', '0000'
        dev.secondary_bus, dev.subordinate_bus = secondary_bus, subordinate_bus
        attrs = self._common_attrs(dev, '0x00')
        attrs['secondary_bus_number'] = '%d\n' % secondary_bus
        attrs['subordinate_bus_number'] = '%d\n' % subordinate_bus
        self._create(dev, ppath, attrs)
        self._iommu_attach(dev, self._alloc_group() if iommu_group is None
                           else iommu_group)
        if driver:
            self._bind(dev, driver, event=False)
        if aer:
            self.add_aer(addr, rootport=(parent is None))
        return dev

    def add_pf(self, addr, root_port, total_vfs=4, driver='nvme', vendor='1b36',
               device='0010', vf_device='0010', offset=1, stride=1,
               iommu_group=None, autoprobe=True, vf_driver=None, klass='010802',
               subsys_vendor='1af4', subsys_device='1100', **behaviour):
        """An SR-IOV physical function below the bridge `root_port`.
        behaviour: see DEFAULT_BEHAVIOUR."""
        parent = self.devices[root_port]
        dev = Device(addr, parent.devpath + '/' + addr, 'pf')
        dev.parent = root_port
        dev.vendor, dev.device, dev.klass = vendor, device, klass
        dev.subsys_vendor, dev.subsys_device = subsys_vendor, subsys_device
        dev.total_vfs, dev.offset, dev.stride = total_vfs, offset, stride
        dev.vf_device, dev.vf_driver = vf_device, vf_driver
        unknown = set(behaviour) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise TypeError('unknown behaviour knobs: %s' % ', '.join(sorted(unknown)))
        dev.behaviour = dict(DEFAULT_BEHAVIOUR, **behaviour)
        attrs = self._common_attrs(dev)
        attrs.update({
            'sriov_totalvfs': '%d\n' % total_vfs,
            'sriov_numvfs': '0\n',
            'sriov_offset': '%d\n' % offset,
            'sriov_stride': '%d\n' % stride,
            'sriov_vf_device': '%s\n' % vf_device,
            'sriov_drivers_autoprobe': '%d\n' % (1 if autoprobe else 0),
        })
        self._create(dev, parent.devpath, attrs)
        self._iommu_attach(dev, self._alloc_group() if iommu_group is None
                           else iommu_group)
        if driver:
            self._bind(dev, driver, event=False)
        self._watch_numvfs(dev)
        if dev.behaviour['hang']:
            self.set_hang(addr, True)
        return dev

    def add_device(self, addr, parent, vendor='8086', device='100e',
                   klass='020000', driver=None, iommu_group=None):
        """A plain (non-SR-IOV) function below a bridge."""
        p = self.devices[parent]
        dev = Device(addr, p.devpath + '/' + addr, 'other')
        dev.parent = parent
        dev.vendor, dev.device, dev.klass = vendor, device, klass
        dev.subsys_vendor, dev.subsys_device = vendor, '0000'
        self._create(dev, p.devpath, self._common_attrs(dev))
        self._iommu_attach(dev, self._alloc_group() if iommu_group is None
                           else iommu_group)
        if driver:
            self._bind(dev, driver, event=False)
        return dev

    def set_behaviour(self, addr, **knobs):
        dev = self.devices[addr]
        unknown = set(knobs) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise TypeError('unknown behaviour knobs: %s' % ', '.join(sorted(unknown)))
        hang = knobs.pop('hang', None)
        dev.behaviour.update(knobs)
        if hang is not None:
            self.set_hang(addr, hang)

    # -------------------------------------------------------------------- AER
    def _aer_text(self, counters, names, total_name):
        lines = ['%s %d\n' % (n, counters.get(n, 0)) for n in names]
        lines.append('%s %d\n' % (total_name, counters.get('total', 0)))
        return ''.join(lines)

    def _write_aer(self, dev):
        for kind, (fname, names, total, rpfile) in AER_KINDS.items():
            self._write(self._p(dev.devpath, fname),
                        self._aer_text(dev.aer[kind], names, total))
            if dev.aer_rootport is not None:
                self._write(self._p(dev.devpath, rpfile),
                            '%d\n' % dev.aer_rootport[kind])

    def add_aer(self, addr, rootport=None):
        """Give a device aer_dev_{correctable,nonfatal,fatal}; root ports
        (rootport=True, default: a bridge without parent bridge) also get
        aer_rootport_total_err_{cor,nonfatal,fatal}."""
        dev = self.devices[addr]
        if rootport is None:
            rootport = dev.role == 'bridge' and dev.parent is None
        dev.aer = {k: {'total': 0} for k in AER_KINDS}
        if rootport:
            dev.aer_rootport = {k: 0 for k in AER_KINDS}
        self._write_aer(dev)

    def bump_aer(self, addr, kind, name, n=1):
        """Count n errors `name` of `kind` ('correctable'|'nonfatal'|'fatal')
        reported by device addr; the root port above (or the device itself,
        when it is a root port with AER) counts them in its rootport total."""
        if kind not in AER_KINDS:
            raise ValueError(kind)
        if name not in AER_KINDS[kind][1]:
            raise ValueError('%s is not a kernel %s error name' % (name, kind))
        with self._lock:
            dev = self.devices[addr]
            if dev.aer is None:
                raise ValueError('%s has no AER capability' % addr)
            c = dev.aer[kind]
            c[name] = c.get(name, 0) + n
            c['total'] += n
            self._write_aer(dev)
            up = dev
            while up is not None and up.aer_rootport is None:
                up = self.devices.get(up.parent) if up.parent else None
            if up is not None:
                up.aer_rootport[kind] += n
                self._write_aer(up)

    # ------------------------------------------------------ the SR-IOV kernel
    def _watch_numvfs(self, pf):
        path = self.path(pf.addr, 'sriov_numvfs')
        # The simulator's own writes go through this fd, which stays open, so
        # they never raise IN_CLOSE_WRITE: only other writers do.
        pf.numvfs_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        pf.numvfs_wd = self._ino.add(path)
        self._wd[pf.numvfs_wd] = pf.addr

    def _unwatch_numvfs(self, pf):
        if pf.numvfs_wd is not None:
            self._wd.pop(pf.numvfs_wd, None)
            self._ino.rm(pf.numvfs_wd)
            pf.numvfs_wd = None
        if pf.numvfs_fd is not None:
            os.close(pf.numvfs_fd)
            pf.numvfs_fd = None

    def _set_numvfs_file(self, pf, n):
        """Make sriov_numvfs read n - unless another write landed in the
        file since the write being carried out was read (pf.numvfs_expect):
        then that newer write, whose IN_CLOSE_WRITE is queued, must not be
        clobbered (the real kernel serialises writers on the device lock and
        carries each one out; a lost write would look like a daemon bug)."""
        if pf.numvfs_fd is None:
            return
        data = b'%d\n' % n
        if pf.numvfs_expect is not None:
            cur = os.pread(pf.numvfs_fd, 4096, 0)
            if cur != pf.numvfs_expect:
                self.numvfs_rewrites_skipped += 1
                return
            # The file already reads what the write left (the usual case: N written,
            # N VFs came up): do not rewrite it. Between the compare above and a
            # rewrite a newer write can land (sriovd writes N the moment the VFs of
            # its 0 are gone) and would be clobbered: lost, as the kernel never loses
            # one. Only an outcome that differs from the write takes that window.
            # With or without the newline: sriovd writes "4", not "4\n", and rewriting only
            # to add the newline opened that same window.
            if cur in (data, data.rstrip(b'\n')):
                return
        os.ftruncate(pf.numvfs_fd, 0)
        os.pwrite(pf.numvfs_fd, data, 0)
        if pf.numvfs_expect is not None:
            pf.numvfs_expect = data

    def _watch_loop(self):
        try:
            while not self._stop:
                r, _, _ = select.select([self._ino.fd, self._wake_r], [], [], 1.0)
                if self._wake_r in r:
                    try:
                        os.read(self._wake_r, 64)
                    except BlockingIOError:
                        pass
                if self._ino.fd not in r:
                    continue
                self._busy += 1
                try:
                    for wd, mask in self._ino.read():
                        addr = self._wd.get(wd)
                        if addr is None or not (mask & _IN_CLOSE_WRITE):
                            continue
                        pf = self.devices[addr]
                        raw = os.pread(pf.numvfs_fd, 4096, 0)
                        self._process_write(pf, raw, expect=raw)
                finally:
                    self._busy -= 1
        except Exception as e:  # surfaced by wait_idle()/close()
            import traceback
            self._watcher_error = traceback.format_exc()
            sys.stderr.write('simkernel watcher died: %r\n%s' % (e, self._watcher_error))

    def _reject(self, pf, raw, err, msg=None):
        self.rejected_writes.append({'address': pf.addr, 'value': raw,
                                     'errno': err,
                                     'name': errno.errorcode.get(err, str(err))})
        if msg:
            self.dmesg.append('pci %s: %s' % (pf.addr, msg))
        self._set_numvfs_file(pf, pf.num_vfs)
        return -err

    def _process_write(self, pf, raw, expect=None):
        """React to `raw` written to pf's sriov_numvfs, as
        sriov_numvfs_store() in drivers/pci/iov.c (6.1) does.  Returns the
        new count or -errno.  `expect`: the file content this write was read
        from (default: the content now); the file is rewritten afterwards
        only while it still holds that (see _set_numvfs_file)."""
        with pf.op_lock:
            if expect is None and pf.numvfs_fd is not None:
                expect = os.pread(pf.numvfs_fd, 4096, 0)
            pf.numvfs_expect = expect
            try:
                return self._process_write_locked(pf, raw)
            finally:
                pf.numvfs_expect = None
                self._handled += 1

    def _process_write_locked(self, pf, raw):
        self.writes.append((pf.addr, raw))
        b = pf.behaviour
        n, err = kstrtou16(raw)
        if err:
            return self._reject(pf, raw, err)
        if n > pf.total_vfs:
            return self._reject(pf, raw, errno.ERANGE)
        if n == pf.num_vfs:
            self._set_numvfs_file(pf, n)
            return n
        if not pf.driver:
            return self._reject(pf, raw, errno.ENOENT,
                                'no driver bound to device; cannot configure SR-IOV')
        if n == 0:
            self._disable(pf)
            return 0
        if pf.num_vfs:
            return self._reject(pf, raw, errno.EBUSY,
                                '%d VFs already enabled. Disable before enabling %d VFs'
                                % (pf.num_vfs, n))
        if b['fail_errno']:
            return self._reject(pf, raw, b['fail_errno'])
        want = max(0, n - b['short_by'])
        last_bus = (routing_id(vf_address(pf.addr, pf.offset, pf.stride, want - 1))
                    >> 8) if want else 0
        parent = self.devices.get(pf.parent)
        if want and parent is not None and parent.subordinate_bus is not None \
                and last_bus > parent.subordinate_bus:
            return self._reject(pf, raw, errno.ENOMEM,
                                "can't enable %d VFs (bus %02x out of range of [bus %02x-%02x])"
                                % (want, last_bus, parent.secondary_bus,
                                   parent.subordinate_bus))
        self._enable(pf, want)
        if want != n:
            self.dmesg.append('pci %s: %d VFs requested; only %d enabled'
                              % (pf.addr, n, want))
        return want

    def _read_autoprobe(self, pf):
        try:
            with open(self.path(pf.addr, 'sriov_drivers_autoprobe')) as f:
                return kstrtou16(f.read().strip())[0] not in (None, 0)
        except OSError:
            return True

    def _enable(self, pf, n):
        b = pf.behaviour
        autoprobe = self._read_autoprobe(pf)
        for i in range(n):
            if self._stop:
                return
            with self._lock:
                vf = self._create_vf(pf, i)
                self._send_uevent(vf, 'add')
                if b['vf_change_event']:
                    self._send_uevent(vf, 'change')
                if autoprobe and pf.vf_driver and b['async_probe_delay'] is None:
                    if not b['probe_fails']:
                        self._bind(vf, pf.vf_driver)
                    elif b['probe_fail_mode'] == 'unbind':
                        self._bind(vf, pf.vf_driver)
                        self._unbind(vf)
                    elif b['probe_fail_mode'] == 'late-unbind':
                        self._bind(vf, pf.vf_driver)
            if b['per_vf_delay']:
                time.sleep(b['per_vf_delay'])
        with self._lock:
            pf.num_vfs = n
            self._set_numvfs_file(pf, n)
            self._send_uevent(pf, 'change')
        if autoprobe and pf.vf_driver and b['probe_fails'] and b['probe_fail_mode'] == 'late-unbind':
            threading.Timer(0.3, self._late_unbind, args=(list(pf.vfs),)).start()
        if autoprobe and pf.vf_driver and b['async_probe_delay'] is not None and not b['probe_fails']:
            # The write returns; the probes finish later, on another thread.
            threading.Timer(b['async_probe_delay'], self._async_probe, args=(pf, list(pf.vfs))).start()

    def _late_unbind(self, addrs):
        with self._lock:
            for addr in addrs:
                vf = self.devices.get(addr)
                if not self._stop and vf is not None and vf.driver is not None:
                    self._unbind(vf)

    def _async_probe(self, pf, addrs):
        with self._lock:
            for addr in addrs:
                vf = self.devices.get(addr)
                if not self._stop and vf is not None and vf.driver is None:
                    self._bind(vf, pf.vf_driver)

    def _create_vf(self, pf, i):
        addr = vf_address(pf.addr, pf.offset, pf.stride, i)
        parent_syspath = os.path.dirname(pf.devpath)
        vf = Device(addr, parent_syspath + '/' + addr, 'vf')
        vf.parent = pf.parent
        vf.pf, vf.vf_index = pf.addr, i
        vf.vendor, vf.device, vf.klass = pf.vendor, pf.vf_device, pf.klass
        vf.subsys_vendor, vf.subsys_device = pf.subsys_vendor, pf.subsys_device
        self._create(vf, parent_syspath, self._common_attrs(vf))
        self._symlink(vf.devpath, 'physfn', pf.devpath)
        self._symlink(pf.devpath, 'virtfn%d' % i, vf.devpath)
        self._iommu_attach(vf, self._alloc_group())
        pf.vfs.append(addr)
        return vf

    def _disable(self, pf):
        b = pf.behaviour
        for i, addr in enumerate(list(pf.vfs)):
            if self._stop:
                return
            with self._lock:
                vf = self.devices[addr]
                for link in (self._p(pf.devpath, 'virtfn%d' % i),
                             self._p(vf.devpath, 'physfn')):
                    try:
                        os.unlink(link)
                    except FileNotFoundError:
                        pass
                self._unbind(vf)
                self._send_uevent(vf, 'remove')
                self._iommu_detach(vf)
                self.tb.remove_device(vf.devpath)
                del self.devices[addr]
        pf.vfs = []
        if b['disable_delay']:
            time.sleep(b['disable_delay'])
        with self._lock:
            pf.num_vfs = 0
            self._set_numvfs_file(pf, 0)

    def enable_vfs(self, addr, n):
        """What the kernel does on a write, without a writer (returns count
        or -errno).  Prefer write_numvfs(), which writes like an admin."""
        pf = self.devices[addr]
        return self._process_write(pf, b'%d\n' % n)

    # ------------------------------------------------------------- the hang
    def set_hang(self, addr, hang=True):
        """Replace sriov_numvfs with a FIFO whose pipe is full: a writer's
        open() returns, its write() blocks, as a write stuck in the kernel
        does.  set_hang(addr, False) without release_hang() restores the
        plain file (a blocked writer stays blocked until release_hang()).

        Why a full pipe and not a FIFO without reader: umockdev's preload
        holds one process-wide mutex across every path call it redirects
        (open, stat, readlink, opendir...), so a writer blocked in open()
        would freeze every other thread of the program under test that
        touches a path, which a hung sysfs write does not do.  write() on an
        open fd is not redirected, so blocking there hangs only the writer."""
        pf = self.devices[addr]
        path = self.path(addr, 'sriov_numvfs')
        with pf.op_lock:
            pf.behaviour['hang'] = hang
            if hang and not pf.hung:
                self._unwatch_numvfs(pf)
                if pf.fifo_r is not None:
                    # an earlier hang still blocks its writer: keep it blocked
                    self._fifo_keep.append((pf.fifo_r, pf.fifo_fill))
                    pf.fifo_r = None
                os.unlink(path)
                self._make_full_fifo(pf, path)
                pf.hung = True
            elif not hang and pf.hung:
                self._restore_plain(pf)

    def _make_full_fifo(self, pf, path):
        import fcntl
        os.mkfifo(path, 0o644)
        r = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        w = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        n = 0
        try:
            try:
                fcntl.fcntl(w, getattr(fcntl, 'F_SETPIPE_SZ', 1031), 4096)
            except OSError:
                pass
            for size in (4096, 1):
                try:
                    while True:
                        n += os.write(w, b'\0' * size)
                except BlockingIOError:
                    pass
        finally:
            # no writer of ours stays: the pipe keeps the filler, a reader
            # sees EOF once the real writer is gone
            os.close(w)
        pf.fifo_r, pf.fifo_fill = r, n

    def _drain_fifo(self, r, fill, timeout):
        """Read the filler, then what a writer writes until it closes (or
        `timeout`); returns the writer's bytes (b'' when none came)."""
        data = b''
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = os.read(r, 65536)
            except BlockingIOError:
                chunk = None           # a writer has it open, nothing written yet
            if chunk:
                skip = min(fill, len(chunk))
                fill -= skip
                data += chunk[skip:]
                continue
            if chunk == b'' and data:
                break                  # EOF after the writer closed
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        return data

    def _restore_plain(self, pf):
        path = self.path(pf.addr, 'sriov_numvfs')
        tmp = path + '.sim-restore'
        self._write(tmp, '%d\n' % pf.num_vfs)
        os.rename(tmp, path)
        pf.hung = False
        self._watch_numvfs(pf)

    @staticmethod
    def _peek_blocked_write(fifo_st):
        """The bytes a thread blocked in write(2) on the FIFO is writing, read
        from /proc (root: /proc/PID/syscall and /proc/PID/mem), or None."""
        if os.uname().machine != 'x86_64':
            return None             # write is syscall 1 on x86_64 only
        me = os.getpid()
        for pid in os.listdir('/proc'):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                fds = os.listdir('/proc/%s/fd' % pid)
            except OSError:
                continue
            mine = set()
            for fd in fds:
                try:
                    st = os.stat('/proc/%s/fd/%s' % (pid, fd))
                except OSError:
                    continue
                if (st.st_ino, st.st_dev) == (fifo_st.st_ino, fifo_st.st_dev):
                    mine.add(int(fd))
            if not mine:
                continue
            try:
                tids = os.listdir('/proc/%s/task' % pid)
            except OSError:
                continue
            for tid in tids:
                try:
                    with open('/proc/%s/task/%s/syscall' % (pid, tid)) as f:
                        fields = f.read().split()
                    if len(fields) < 4 or fields[0] != '1' or int(fields[1], 16) not in mine:
                        continue
                    buf, count = int(fields[2], 16), int(fields[3], 16)
                    with open('/proc/%s/mem' % pid, 'rb') as m:
                        m.seek(buf)
                        return m.read(min(count, 4096))
                except (OSError, ValueError, OverflowError):
                    continue
        return None

    def release_hang(self, addr, timeout=10.0, rehang=False):
        """Let a write stuck on the FIFO return, as the kernel finally would:
        the write is carried out first (VFs created, uevents sent) while the
        writer is still blocked - its bytes are read from /proc - then
        sriov_numvfs becomes a plain file again and the writer's write()
        returns.  Without /proc access the writer returns first and the
        write is carried out right after.  Returns the new count, -errno, or
        None when no writer came within `timeout`."""
        pf = self.devices[addr]
        if pf.fifo_r is None:
            raise RuntimeError('%s is not hung' % addr)
        r, fill = pf.fifo_r, pf.fifo_fill
        path = self.path(addr, 'sriov_numvfs')
        peeked = None
        result = None
        try:
            try:
                fifo_st = os.fstat(r)
                deadline = time.monotonic() + timeout
                while peeked is None and time.monotonic() < deadline:
                    peeked = self._peek_blocked_write(fifo_st)
                    if peeked is None:
                        time.sleep(0.02)
            except OSError:
                peeked = None
            if peeked:
                result = self._process_write(pf, peeked)
            with pf.op_lock:
                if pf.hung and os.path.exists(path):
                    self._restore_plain(pf)
            data = self._drain_fifo(r, fill, timeout if not peeked else 5.0)
        finally:
            os.close(r)
            pf.fifo_r = None
        if peeked and data and data != peeked:
            raise RuntimeError('release_hang: the writer wrote %r, /proc showed %r' % (data, peeked))
        if data and not peeked:
            result = self._process_write(pf, data)
        if rehang:
            self.set_hang(addr, True)
        else:
            pf.behaviour['hang'] = False
        return result

    # -------------------------------------------------------- binding by hand
    def bind_vf(self, addr, driver):
        """Bind a function to a driver with a bind uevent (as drivers_probe
        would after driver_override/virt-mgmt)."""
        with self._lock:
            dev = self.devices[addr]
            if dev.driver:
                self._unbind(dev)
            self._bind(dev, driver)

    def unbind(self, addr):
        with self._lock:
            self._unbind(self.devices[addr])

    # ------------------------------------------------------------ waiting
    def wait_idle(self, timeout=30.0):
        """Wait until every write seen so far has been carried out."""
        deadline = time.monotonic() + timeout
        stable = 0
        while time.monotonic() < deadline:
            if self._watcher_error:
                raise RuntimeError('simkernel watcher died:\n' + self._watcher_error)
            if self._busy == 0 and self._ino.pending() == 0:
                stable += 1
                if stable >= 3:
                    return True
            else:
                stable = 0
            time.sleep(0.02)
        raise TimeoutError('simulated kernel still busy after %ss' % timeout)

    @staticmethod
    def wait_for(pred, timeout=10.0, interval=0.05, what='condition'):
        """Poll pred() (the test side: the daemon is a black box) until it
        returns a true value; returns that value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            try:
                v = pred()
                if v:
                    return v
            except Exception as e:  # keep polling; report the last one
                last_exc = e
            if time.monotonic() >= deadline:
                raise TimeoutError('timed out after %ss waiting for %s (last error: %r)'
                                   % (timeout, what, last_exc))
            time.sleep(interval)

    # ------------------------------------------------------- administrators
    def run_wrapped(self, argv, timeout=30, **kw):
        """Run a program under the umockdev preload (it sees the testbed)."""
        return subprocess.run([WRAPPER] + list(argv), env=self.env,
                              capture_output=True, text=True, timeout=timeout, **kw)

    def write_numvfs(self, addr, n, wait=True, timeout=30):
        """echo n > /sys/bus/pci/devices/<addr>/sriov_numvfs from a process
        under the preload, then (wait=True) wait until the simulated kernel
        has carried it out.  Returns the shell's result."""
        before = self._handled
        r = self.run_wrapped(['sh', '-c', 'echo %s > /sys/bus/pci/devices/%s/sriov_numvfs'
                              % (n, addr)], timeout=timeout)
        if wait and r.returncode == 0:
            self.wait_for(lambda: self._handled > before or self._watcher_error,
                          timeout, interval=0.01, what='the kernel to take the write of %s' % n)
            self.wait_idle(timeout)
        return r

    # ---------------------------------------------------------- the daemon
    def _notify_loop(self, sock):
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                continue
            with self._notify_cond:
                self.notify_messages.extend(
                    line for line in data.decode(errors='replace').split('\n') if line)
                self._notify_cond.notify_all()

    # ------------------------------------------------------ fault injection
    def fail_writes(self, addr, attr, err, times=1, skip=0):
        """After `skip` writes that go through, the next `times` writes by the
        daemon to addr's attr fail with errno `err` and change nothing (needs
        start_daemon(faults=True))."""
        import fcntl
        with open(os.path.join(self.faults_dir, 'write-errors'), 'a') as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write('/%s/%s %d %d %d\n' % (addr, attr, err, times, skip))

    def hang_writes(self, addr, attr):
        """The daemon's writes to addr's attr block, as a store() stuck in the
        kernel, until release_writes() (needs start_daemon(faults=True)).
        For any attribute, e.g. sriov_drivers_autoprobe; unlike set_hang()
        the file stays a plain file that reads as before."""
        with open(os.path.join(self.faults_dir, 'write-hangs'), 'a') as f:
            f.write('/%s/%s\n' % (addr, attr))

    def release_writes(self, addr, attr):
        """Let the writes hung by hang_writes() go through (into the file)."""
        path = os.path.join(self.faults_dir, 'write-hangs')
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if ln != '/%s/%s' % (addr, attr)]
        self._write(path + '.tmp', ''.join(ln + '\n' for ln in lines))
        os.rename(path + '.tmp', path)

    def uevent_overflow(self):
        """The daemon's next receive on its uevent socket fails with ENOBUFS, as
        after the kernel dropped uevents for it (needs faults=True)."""
        self._write(os.path.join(self.faults_dir, 'enobufs'), '')

    def faults_fired(self):
        try:
            with open(os.path.join(self.faults_dir, 'fired')) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def start_daemon(self, extra_args=(), config=None, log_level='debug',
                     env=None, uevent_source='kernel', faults=False, listen_socket=None):
        """listen_socket: a socket object passed as systemd does (socket
        activation): fd 3, LISTEN_FDS=1, LISTEN_PID the daemon's pid."""
        if self.proc is not None:
            raise RuntimeError('daemon already running')
        if not os.access(SRIOVD, os.X_OK):
            raise FileNotFoundError('sriovd not built: %s' % SRIOVD)
        if self._notify_sock is None:
            npath = os.path.join(self.tmp, 'notify.sock')
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(npath)
            self._notify_sock = s
            self.notify_path = npath
            threading.Thread(target=self._notify_loop, args=(s,), daemon=True,
                             name='notify-reader').start()
        with self._notify_cond:
            self.notify_messages = []
        for d in ('state', 'run'):
            os.makedirs(os.path.join(self.tmp, d), exist_ok=True)
        argv = [WRAPPER, SRIOVD, '--socket', self.socket_path,
                '--state-dir', os.path.join(self.tmp, 'state'),
                '--runtime-dir', os.path.join(self.tmp, 'run'),
                '--uevent-source', uevent_source]
        if log_level:
            argv += ['--log-level', log_level]
        if config is not None:
            cpath = os.path.join(self.tmp, 'sriovd.conf')
            self._write(cpath, config)
            argv += ['--config', cpath]
        argv += list(extra_args)
        e = self.env
        e['NOTIFY_SOCKET'] = self.notify_path
        if faults:
            # before umockdev's library, not after as umockdev-wrapper would put it:
            # umockdev calls libc's functions straight from libc.so.6, never the next
            # preloaded ones (the wrapper only sets LD_PRELOAD and execs)
            e['SIM_FAULTS_DIR'] = self.faults_dir
            argv[:1] = ['env', 'LD_PRELOAD=' + ':'.join(
                p for p in (fault_preload(), 'libumockdev-preload.so.0', e.get('LD_PRELOAD')) if p)]
        if env:
            e.update(env)
        pass_fds = ()
        if listen_socket is not None:
            # every wrapper below execs: the pid set here is the daemon's
            argv[:0] = [sys.executable, '-c', LISTEN_FDS_WRAPPER, str(listen_socket.fileno())]
            pass_fds = (listen_socket.fileno(),)
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(argv, env=e, stdin=subprocess.DEVNULL, pass_fds=pass_fds,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.daemon_argv = argv
        return self.proc

    def detach_daemon(self):
        """Hand the daemon process to the caller (who reaps it), so that another
        can be started next to it."""
        p, self.proc = self.proc, None
        if getattr(self, '_log', None) is not None:
            self._log.close()
        return p

    def daemon_log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_notify(self, pred, timeout=10.0):
        """Wait for a notify line for which pred(line) is true; returns it.
        Raises if the daemon exits first or on timeout."""
        deadline = time.monotonic() + timeout
        with self._notify_cond:
            seen = 0
            while True:
                for line in self.notify_messages[seen:]:
                    if pred(line):
                        return line
                seen = len(self.notify_messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('no matching notify message in %ss; got %r\n--- sriovd log:\n%s'
                                       % (timeout, self.notify_messages, self.daemon_log()))
                if self.proc is not None and self.proc.poll() is not None:
                    # the exit may race with the last datagrams: one last look
                    self._notify_cond.wait(0.2)
                    for line in self.notify_messages[seen:]:
                        if pred(line):
                            return line
                    raise RuntimeError('sriovd exited with %s; notify %r\n--- sriovd log:\n%s'
                                       % (self.proc.returncode, self.notify_messages,
                                          self.daemon_log()))
                self._notify_cond.wait(min(left, 0.2))

    def wait_ready(self, timeout=10.0):
        self.wait_notify(lambda l: l == 'READY=1', timeout)
        # the API socket must be there once READY=1 is sent
        if not os.path.exists(self.socket_path):
            raise AssertionError('READY=1 sent but %s does not exist' % self.socket_path)

    def stop_daemon(self, timeout=10.0, sig=signal.SIGTERM):
        """Signal the daemon and wait; returns its exit status (SIGKILL after
        `timeout`, then the status is the negative signal number)."""
        if self.proc is None:
            return None
        p = self.proc
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.killed = True
        self.proc = None
        self._log.close()
        return p.returncode

    def ctl(self, *args, socket_path=None, timeout=30):
        """Run sriovctl --socket <sock> args...; returns (rc, stdout, stderr)."""
        r = subprocess.run([SRIOVCTL, '--socket', socket_path or self.socket_path]
                           + list(args), capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def http(self, method, path, body=None, headers=None, timeout=10):
        """One HTTP/1.1 request on the API socket; returns
        (status, headers (lower-case names), parsed JSON or text)."""
        conn = UnixHTTPConnection(self.socket_path, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                hdrs.setdefault('Content-Type', 'application/json')
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            h = {k.lower(): v for k, v in resp.getheaders()}
            text = raw.decode(errors='replace')
            try:
                data = json.loads(text) if text else None
            except ValueError:
                data = text
            return resp.status, h, data
        finally:
            conn.close()

    def raw_request(self, data, timeout=10):
        """Send raw bytes on the API socket; return everything read until
        the daemon closes or `timeout`."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.socket_path)
            s.sendall(data)
            out = b''
            while True:
                try:
                    c = s.recv(65536)
                except socket.timeout:
                    break
                if not c:
                    break
                out += c
                if b'\r\n\r\n' in out:
                    head, _, rest = out.partition(b'\r\n\r\n')
                    for line in head.split(b'\r\n'):
                        if line.lower().startswith(b'content-length:'):
                            if len(rest) >= int(line.split(b':')[1]):
                                return out
            return out
        finally:
            s.close()

    # ------------------------------------------------------------- teardown
    def close(self):
        try:
            self.wait_idle(60)
        except (TimeoutError, RuntimeError) as e:
            sys.stderr.write('simkernel: closing while busy: %s\n' % e)
        if self.proc is not None:
            self.stop_daemon()
        # unblock any writer left on a FIFO (its write returns)
        fifos = [(d.fifo_r, d.fifo_fill) for d in self.devices.values()
                 if d.fifo_r is not None] + self._fifo_keep
        for fd, fill in fifos:
            try:
                self._drain_fifo(fd, fill, 0.05)
            finally:
                os.close(fd)
        for d in self.devices.values():
            d.fifo_r = None
        self._fifo_keep = []
        self._stop = True
        os.write(self._wake_w, b'x')
        self._watcher.join(30)
        self._ino.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        for dev in self.devices.values():
            if dev.numvfs_fd is not None:
                os.close(dev.numvfs_fd)
                dev.numvfs_fd = None
        self._sender.close()
        if self._notify_sock is not None:
            self._notify_sock.close()
        reports = sanitizer_reports()
        if os.environ.get('SIM_KEEP') or reports:
            sys.stderr.write('SIM_KEEP: sriovd files kept in %s\n' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        # the testbed removes its own directory when it is finalized
        self.tb = None
        if reports:
            raise AssertionError('sanitizer reports (sriovd log in %s):\n%s'
                                 % (self.tmp, '\n'.join(reports)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Runs argv[2:] with the listening socket argv[1] as systemd passes it (sd_listen_fds(3)).
LISTEN_FDS_WRAPPER = r'''
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))
os.execvp(sys.argv[2], sys.argv[2:])
'''


def _murmur2(s):
    """MurmurHash2 as libudev uses for its subsystem socket filter."""
    data = s.encode()
    m, M = 0x5bd1e995, 0xffffffff
    h = len(data) & M
    i, n = 0, len(data)
    while n >= 4:
        k = int.from_bytes(data[i:i + 4], 'little')
        k = (k * m) & M
        k ^= k >> 24
        k = (k * m) & M
        h = (h * m) & M
        h ^= k
        i += 4
        n -= 4
    if n == 3:
        h ^= data[i + 2] << 16
    if n >= 2:
        h ^= data[i + 1] << 8
    if n >= 1:
        h ^= data[i]
        h = (h * m) & M
    h ^= h >> 13
    h = (h * m) & M
    h ^= h >> 15
    return h


def _libudev_header(body_len, subsystem):
    hs = 40
    return (b'libudev\0' + struct.pack('>I', 0xfeedcafe)
            + struct.pack('=III', hs, hs, body_len)
            + struct.pack('>IIII', _murmur2(subsystem), 0, 0, 0))


# ------------------------------------------------------------ test running
def main():
    """Run the calling module's unittest tests; print 'N passed, N failed'
    (', N skipped' when any) as the last line; exit 1 on failure, 77 (meson's
    skip) when every test was skipped."""
    import __main__
    suite = unittest.defaultTestLoader.loadTestsFromModule(__main__)
    argv = sys.argv[1:]
    if argv:
        # run only tests whose id contains one of the given words
        def flat(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from flat(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in flat(suite)
                                   if any(a in t.id() for a in argv))
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    # reports of programs that ended after their test (each was shown once already)
    late = sanitizer_reports()
    if late:
        print('sanitizer reports after the tests ended:\n' + '\n'.join(late))
        failed += 1
    if not sanitizer_reports(new_only=False):
        shutil.rmtree(SANITIZER_DIR, ignore_errors=True)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped - len(res.expectedFailures)
    line = '%d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    sys.stdout.flush()
    print(line)
    if failed:
        sys.exit(1)
    if res.testsRun and skipped == res.testsRun:
        sys.exit(77)
    sys.exit(0)
