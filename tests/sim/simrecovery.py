# SPDX-License-Identifier: LGPL-2.1-or-later
"""simrecovery: SimKernel plus what PCIe error recovery needs from the kernel.

RecoverySimKernel extends simkernel.SimKernel (by subclassing; simkernel.py is
not changed) with, faithful to Linux 6.1 as seen in the VM
(docs kernel-testbed.md, "Injecting PCIe errors"):

  * ``remove`` (every function): the function and everything below it in
    sysfs leave: drivers unbound (``unbind`` uevents, deepest and newest
    first), then ``remove`` uevents in the same order.  A PF removed while
    its VFs exist leaves them *orphaned* on the bus (the VM, nvme PF): they
    stay, with a dangling ``physfn``; a later enable on the returned PF fails
    with ENOENT ("kobject_add_internal failed ... -EEXIST") while an orphan
    sits on a VF address.  ``orphans`` lists every VF ever orphaned: sriovd
    must never cause one.  (behaviour knob ``remove_disables_vfs=True``: the
    PF driver disables SR-IOV in its remove callback, as some NIC drivers do.)
  * ``rescan`` of a function rescans *the bus that function is on*
    (dev_rescan_store() calls pci_rescan_bus(pdev->bus)), descending into
    every bridge on it: the root port's own ``rescan`` thus rescans bus 0.
    ``/sys/bus/pci/rescan`` rescans everything.  Functions removed earlier
    (and still "plugged", see ``unplug()``) come back: ``add`` uevents for
    all of them, then ``bind`` for those whose driver probes; PFs with 0
    VFs, sriov_drivers_autoprobe 1, driver_override cleared, AER counters 0
    (a new struct pci_dev).  VFs never come back by a rescan.
  * ``reset`` of a function: logged; no uevent (pci_reset_function()).
  * ``driver_override`` (plain file) and ``/sys/bus/pci/drivers_probe``:
    probing an unbound function binds it to its driver_override driver when
    that driver is registered (creates the driver link, ``bind`` uevent).
    ``/sys/bus/pci/drivers/<drv>/unbind`` unbinds (``unbind`` uevent).
    vfio-pci is registered from the start, so sriovd runs no modprobe.
  * verbs playing the kernel's AER recovery uevent sequences on everything
    below a root port, bumping its AER counters as the kernel does:
    aer_nonfatal_ok(), aer_nonfatal_failed(), aer_fatal_sdn(), aer_nonfatal()
    (picks ok/failed from the drivers present, as pcie_do_recovery() would),
    each with old_kernel=True for kernels that send FAILED_RECOVERY only to
    the bridge.
  * ``write_log``: every write seen, in order: dicts with ``t``
    (time.monotonic()), ``addr`` (None for /sys/bus/pci files, the driver
    name for drivers/<drv>/unbind), ``attr``, ``value`` (str), ``result``
    ('ok' or an error name) and ``note``.  sriov_numvfs writes appear when
    the simulator takes them (also those of write_numvfs()/enable_vfs()).
  * failure injection: ``fail_write(addr, attr, times)``: the next writes
    of that attribute fail (the writer sees EPIPE, see below) and do
    nothing; ``unplug(addr)``: the function does not come back on rescans.

How writes are made synchronous (the kernel's are: when ``echo 1 > remove``
returns, the device and its uevents are gone; when drivers_probe returns,
the driver link is there).  Plain files cannot block a writer, so the
write-only attributes (remove, rescan, reset, /sys/bus/pci/rescan,
drivers_probe, drivers/*/unbind) are FIFOs that the simulator keeps open
read-write with a one-page pipe that is always full.  A writer's open()
succeeds and raises IN_OPEN; its write() blocks on the full pipe.  The
simulator then first lets the sriov_numvfs writes that came earlier finish
(a real ``echo 0 > sriov_numvfs`` has removed the VFs when it returns),
carries the write out, and only then drains the pipe, which lets the write
return; it reads the value the writer wrote, refills the pipe and checks the
value.  Known differences:
  * the action runs before the value is read: the simulator predicts it
    ("1" for remove/rescan/reset; for drivers_probe every unbound function
    with a pending driver_override; for unbind the function bound to that
    driver whose driver_override names another driver, or the only one).
    A value that differs from the prediction (e.g. "0" to remove) is
    carried out afterwards as far as possible and recorded in
    ``anomalies``; tests assert that list is empty.
  * an injected failure returns EPIPE (the simulator closes its end while
    the writer waits), not the errno the kernel would have returned.
  * rescan of bus 0 treats every host bridge and domain as one.
  * the ``add`` uevent of a function that comes back already carries
    DRIVER= (the driver is bound while the device is created).
"""

import errno
import fcntl
import os
import re
import select
import socket
import threading
import time

from simkernel import SimKernel, _Inotify, kstrtou16, vf_address

IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_OPEN = 0x00000020
IN_IGNORED = 0x00008000
F_SETPIPE_SZ = 1031
PAGE = 4096
FILLER = b'\xff'
ADDR_RE = re.compile(r'[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]')

ERROR_EVENTS = ('BEGIN_RECOVERY', 'SUCCESSFUL_RECOVERY', 'FAILED_RECOVERY')
DEVICE_ONLINE = {'BEGIN_RECOVERY': 0, 'SUCCESSFUL_RECOVERY': 1, 'FAILED_RECOVERY': 0}


def kstrtoul(raw):
    """The kernel's kstrtoul(buf, 0) for remove/rescan/reset: (value, 0) or
    (None, errno)."""
    s = raw.decode('latin-1') if isinstance(raw, bytes) else raw
    if s.endswith('\n'):
        s = s[:-1]
    if s.startswith('+'):
        s = s[1:]
    if not s:
        return None, errno.EINVAL
    try:
        if s[:2].lower() == '0x':
            return int(s[2:], 16), 0
        if s[0] == '0' and len(s) > 1:
            return int(s[1:], 8), 0
        if not s.isdigit():
            return None, errno.EINVAL
        return int(s, 10), 0
    except ValueError:
        return None, errno.EINVAL


class _SyncAttr:
    """A write-only attribute as a FIFO kept full (see the module doc)."""

    def __init__(self, path, addr, attr, predict, act, check):
        self.path, self.addr, self.attr = path, addr, attr
        self.predict, self.act, self.check = predict, act, check
        self.fd = None
        self.wd = None
        self.active = False
        self.dead = False
        self.fail = 0               # writes still to fail
        self.opens = 0
        # writes of other openers read along with this one (address-valued
        # attributes only): their own IN_OPEN, if not merged by inotify,
        # comes right after and finds its write done
        self.credit = 0
        self.credit_until = 0.0


class RecoverySimKernel(SimKernel):
    """SimKernel with remove/rescan/reset/bind and AER recovery verbs."""

    SYNC_DEVICE_ATTRS = ('remove', 'rescan', 'reset')

    def __init__(self, *args, **kw):
        # set before SimKernel.__init__ starts its watcher thread
        self.write_log = []
        self.anomalies = []
        self.orphans = []
        self.removed = {}           # addr -> spec, functions removed and still plugged
        self.unplugged = set()
        self.no_error_handlers = set()   # drivers without pci_error_handlers
        self._specs = {}            # addr -> (kind, parent, kwargs) as first added
        self._sync = {}             # wd -> _SyncAttr
        self._sync_by_path = {}
        self._plain = {}            # wd -> (addr, attr, path)
        self._wlog_lock = threading.Lock()
        self._rbusy = 0
        self._rstop = False
        self._rerror = None
        self._rino = _Inotify()
        self._rwake_r, self._rwake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        super().__init__(*args, **kw)
        self._make_sync(self._p('/sys/bus/pci/rescan'), None, 'bus/pci/rescan',
                        predict=lambda: b'1', act=self._act_bus_rescan,
                        check=self._check_bool)
        self._make_sync(self._p('/sys/bus/pci/drivers_probe'), None,
                        'bus/pci/drivers_probe', predict=self._predict_probe,
                        act=self._act_probe, check=self._check_probe)
        self._ensure_driver('vfio-pci')
        self._rthread = threading.Thread(target=self._rwatch_loop, daemon=True,
                                         name='simrecovery-watcher')
        self._rthread.start()

    # ------------------------------------------------------------ the log
    def _log_write(self, addr, attr, value, result='ok', note='', t=None):
        if isinstance(value, bytes):
            value = value.decode('latin-1')
        # value None: the write is being carried out, its value not read yet
        e = {'t': time.monotonic() if t is None else t, 'addr': addr,
             'attr': attr, 'value': value, 'result': result, 'note': note}
        with self._wlog_lock:
            self.write_log.append(e)
        return e

    def writes_of(self, addr=None, attr=None, since=0.0):
        """write_log entries filtered by address and attribute."""
        with self._wlog_lock:
            return [e for e in self.write_log
                    if (addr is None or e['addr'] == addr)
                    and (attr is None or e['attr'] == attr) and e['t'] >= since]

    def _anomaly(self, text):
        self.anomalies.append(text)
        self.dmesg.append('simrecovery: ' + text)

    # ------------------------------------------------- device bookkeeping
    def add_root_port(self, addr='0000:00:02.0', **kw):
        self._specs.setdefault(addr, ('bridge', kw.get('parent'), dict(kw)))
        return super().add_root_port(addr, **kw)

    def add_pf(self, addr, root_port, **kw):
        self._specs.setdefault(addr, ('pf', root_port, dict(kw)))
        return super().add_pf(addr, root_port, **kw)

    def add_device(self, addr, parent, **kw):
        self._specs.setdefault(addr, ('other', parent, dict(kw)))
        return super().add_device(addr, parent, **kw)

    def _create(self, dev, parent_syspath, attrs):
        super()._create(dev, parent_syspath, attrs)
        for attr in self.SYNC_DEVICE_ATTRS:
            act = {'remove': self._act_remove, 'rescan': self._act_rescan,
                   'reset': self._act_reset}[attr]
            self._make_sync(self._p(dev.devpath, attr), dev.addr, attr,
                            predict=lambda: b'1', act=act, check=self._check_bool)
        path = self._p(dev.devpath, 'driver_override')
        wd = self._rino.add(path, IN_CLOSE_WRITE)
        self._plain[wd] = (dev.addr, 'driver_override', path)

    def _ensure_driver(self, drv):
        dpath = super()._ensure_driver(drv)
        path = self._p(dpath, 'unbind')
        if path not in self._sync_by_path:
            self._make_sync(path, drv, 'unbind',
                            predict=lambda d=drv: self._predict_unbind(d),
                            act=lambda sa, v, d=drv: self._act_unbind(d, v),
                            check=lambda v, p, d=drv: self._check_unbind(d, v, p))
        return dpath

    def functions_below(self, bridge):
        """Functions below a bridge in sysfs (not the bridge), oldest first."""
        out = []
        for d in list(self.devices.values()):
            p = self.devices.get(d.parent) if d.parent else None
            while p is not None:
                if p.addr == bridge:
                    out.append(d)
                    break
                p = self.devices.get(p.parent) if p.parent else None
        return out

    def _subtree(self, top):
        """top and what sysfs has below it; a PF's VFs are its siblings."""
        return [top] + self.functions_below(top.addr)

    def root_port_of(self, addr):
        d = self.devices[addr]
        while d.parent:
            d = self.devices[d.parent]
        return d.addr

    def driver_override(self, addr):
        try:
            with open(self.path(addr, 'driver_override')) as f:
                v = f.read().strip()
        except OSError:
            return None
        return None if v in ('', '(null)') else v

    def unplug(self, addr, unplugged=True):
        """An unplugged function does not come back on a rescan (a device
        that stopped answering config reads)."""
        if unplugged:
            self.unplugged.add(addr)
        else:
            self.unplugged.discard(addr)

    # --------------------------------------------------- synchronous FIFOs
    def _fill(self, fd):
        for n in (PAGE, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1):
            while True:
                try:
                    os.write(fd, FILLER * n)
                except BlockingIOError:
                    break

    def _make_sync(self, path, addr, attr, predict, act, check):
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o200)
        sa = _SyncAttr(path, addr, attr, predict, act, check)
        sa.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.fcntl(sa.fd, F_SETPIPE_SZ, PAGE)
        except OSError:
            pass
        self._fill(sa.fd)
        sa.wd = self._rino.add(path, IN_OPEN | IN_ATTRIB)
        self._sync[sa.wd] = sa
        self._sync_by_path[path] = sa
        return sa

    def _drop_sync(self, sa):
        self._sync.pop(sa.wd, None)
        if self._sync_by_path.get(sa.path) is sa:
            del self._sync_by_path[sa.path]
        self._rino.rm(sa.wd)
        if sa.fd is not None:
            os.close(sa.fd)
            sa.fd = None

    def fail_write(self, addr, attr, times=1):
        """The next `times` writes of addr's attr (addr None: /sys/bus/pci
        files, attr 'bus/pci/rescan'; a driver name and 'unbind') fail."""
        for sa in self._sync.values():
            if sa.addr == addr and sa.attr == attr:
                sa.fail = times
                return
        raise KeyError('%s %s is not a simulated write-only attribute' % (addr, attr))

    def _drain(self, sa, timeout=5.0, grace=0.05):
        """Let the blocked writer in and return what it wrote.  Writers
        that were blocked together (their IN_OPEN may have been merged into
        one event) all get in during the grace period after the first."""
        data = b''
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = os.read(sa.fd, 65536)
            except BlockingIOError:
                chunk = b''
            if chunk:
                data += chunk.replace(FILLER, b'')
                continue
            if data:
                deadline = min(deadline, time.monotonic() + grace)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select([sa.fd], [], [], min(left, 0.05))
        self._fill(sa.fd)
        return data

    def _blocked_writers(self):
        """Threads of the daemon blocked in write(2) on one of our FIFOs
        (x86-64 syscall numbers): a safety net for IN_OPEN events that
        inotify merged.  Returns {(tid, path)}."""
        out = set()
        if self.proc is None or self.proc.poll() is not None:
            return out
        pid = self.proc.pid
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except OSError:
            return out
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/syscall' % (pid, tid)) as f:
                    fields = f.read().split()
            except OSError:
                continue
            if len(fields) < 2 or fields[0] != '1':
                continue
            try:
                path = os.readlink('/proc/%d/fd/%d' % (pid, int(fields[1], 16)))
            except (OSError, ValueError):
                continue
            if path in self._sync_by_path:
                out.add((tid, path))
        return out

    def _wait_numvfs_idle(self, timeout=30.0):
        """sriov_numvfs writes that came before this write are carried out
        first (a real sriov_numvfs write has returned only when done)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if self._busy == 0 and self._ino.pending() == 0:
                quiet += 1
                if quiet >= 2:
                    return True
            else:
                quiet = 0
            time.sleep(0.002)
        self._anomaly('sriov_numvfs writes still running after %ss' % timeout)
        return False

    def _handle_open(self, sa):
        sa.opens += 1
        sa.active = True
        try:
            if sa.attr not in ('bus/pci/drivers_probe', 'unbind'):
                # remove/rescan/reset: the topology changes after every
                # earlier sriov_numvfs write is done (binding needs not)
                self._wait_numvfs_idle()
            t = time.monotonic()
            if sa.credit and t < sa.credit_until:
                sa.credit -= 1
                return
            sa.credit = 0
            if sa.fail:
                sa.fail -= 1
                self._inject_failure(sa, t)
                return
            # logged at the open, in order with the other writes; the value
            # is filled in once read
            entry = self._log_write(sa.addr, sa.attr, None, t=t)
            predicted = sa.predict()
            done = None
            if predicted is not None:
                with self._lock:
                    done = sa.act(sa, predicted)
            data = self._drain(sa)
            entry['value'] = data.decode('latin-1')
            if sa.attr in ('bus/pci/drivers_probe', 'unbind'):
                # one entry per write when several writers got in together
                addrs = ADDR_RE.findall(entry['value'])
                if len(addrs) > 1:
                    entry['value'] = addrs[0]
                    for a in addrs[1:]:
                        self._log_write(sa.addr, sa.attr, a, t=t, note='same drain')
                    sa.credit = len(addrs) - 1
                    sa.credit_until = time.monotonic() + 1.0
            if not data:
                entry['result'] = 'no-data'
                self._anomaly('%s %s opened, nothing written within 5 s'
                              % (sa.addr, sa.attr))
                return
            with self._lock:
                note = sa.check(data, done)
            if note:
                entry['note'] = note
        finally:
            sa.active = False
            if sa.dead:
                self._drop_sync(sa)

    def _inject_failure(self, sa, t):
        """Close the only reader while the writer waits: it gets EPIPE."""
        path, addr, attr = sa.path, sa.addr, sa.attr
        self._drop_sync(sa)
        self._log_write(addr, attr, '', result='EPIPE', note='injected failure', t=t)
        if os.path.lexists(path):
            new = self._make_sync(path, addr, attr, sa.predict, sa.act, sa.check)
            new.fail = sa.fail

    def _rwatch_loop(self):
        try:
            while not self._rstop:
                r, _, _ = select.select([self._rino.fd, self._rwake_r], [], [], 0.25)
                if self._rwake_r in r:
                    try:
                        os.read(self._rwake_r, 64)
                    except BlockingIOError:
                        pass
                if self._rino.fd not in r:
                    self._rescue_blocked()
                    continue
                self._rbusy += 1
                try:
                    for wd, mask in self._rino.read():
                        if self._rstop:
                            break
                        sa = self._sync.get(wd)
                        if sa is not None:
                            if mask & IN_OPEN and not sa.dead:
                                self._handle_open(sa)
                            if mask & (IN_ATTRIB | IN_IGNORED):
                                self._sync_maybe_gone(sa)
                            continue
                        pl = self._plain.get(wd)
                        if pl is None:
                            continue
                        if mask & IN_IGNORED:
                            del self._plain[wd]
                        elif mask & IN_CLOSE_WRITE:
                            try:
                                with open(pl[2], 'rb') as f:
                                    v = f.read()
                            except OSError:
                                continue
                            self._log_write(pl[0], pl[1], v)
                finally:
                    self._rbusy -= 1
        except Exception as e:  # surfaced by wait_recovery_idle()/close()
            import traceback
            self._rerror = traceback.format_exc()
            self._anomaly('simrecovery watcher died: %r' % e)

    def _rescue_blocked(self):
        # Seen blocked twice, 0.25 s apart, with no event queued after the
        # look (its IN_OPEN came before its write, so it was consumed).
        seen = self._blocked_writers()
        if not seen or self._rino.pending():
            self._blocked_seen = set()
            return
        again = seen & getattr(self, '_blocked_seen', set())
        self._blocked_seen = seen - again
        for _tid, path in again:
            sa = self._sync_by_path.get(path)
            if sa is not None and not sa.dead:
                self.dmesg.append('simrecovery: writer blocked on %s without an '
                                  'event (merged IN_OPEN): handled' % path)
                self._rbusy += 1
                try:
                    self._handle_open(sa)
                finally:
                    self._rbusy -= 1

    def _sync_maybe_gone(self, sa):
        try:
            gone = sa.fd is None or os.fstat(sa.fd).st_nlink == 0
        except OSError:
            gone = True
        if gone:
            sa.dead = True
            if not sa.active:
                self._drop_sync(sa)

    def wait_recovery_idle(self, timeout=30.0):
        """Both watchers idle."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if self._rerror:
                raise RuntimeError('simrecovery watcher died:\n' + self._rerror)
            if self._rbusy == 0 and self._rino.pending() == 0 and \
                    self._busy == 0 and self._ino.pending() == 0:
                quiet += 1
                if quiet >= 3:
                    return True
            else:
                quiet = 0
            time.sleep(0.02)
        raise TimeoutError('simulated kernel still busy after %ss' % timeout)

    # ------------------------------------------------------------- checks
    def _check_bool(self, data, done):
        v, err = kstrtoul(data)
        if err:
            self._anomaly('%r written to a remove/rescan/reset attribute: the kernel '
                          'answers EINVAL and does nothing, the simulator acted' % data)
            return 'EINVAL in the kernel'
        if v == 0:
            self._anomaly('0 written to a remove/rescan/reset attribute: the kernel does '
                          'nothing, the simulator acted')
            return 'no-op in the kernel'
        return ''

    # -------------------------------------------------------- remove
    def _spec_for(self, dev):
        kind, parent, kw = self._specs.get(dev.addr, (dev.role, dev.parent, {}))
        kw = dict(kw)
        if dev.role == 'pf':
            for k in list(kw):
                if k in dev.behaviour:
                    del kw[k]
            kw.update(dev.behaviour)
            kw['hang'] = False
            kw['autoprobe'] = True
        kw['iommu_group'] = dev.iommu_group
        if dev.role == 'bridge':
            kw['secondary_bus'] = dev.secondary_bus
            kw['subordinate_bus'] = dev.subordinate_bus
            kw['parent'] = dev.parent
        return {'kind': 'pf' if dev.role == 'pf' else kind, 'addr': dev.addr,
                'parent': dev.parent, 'kw': kw}

    def _act_remove(self, sa, value):
        return self.remove_function(sa.addr) if sa.addr in self.devices else None

    def remove_function(self, addr):
        """echo 1 > remove, as pci_stop_and_remove_bus_device_locked()."""
        with self._lock:
            top = self.devices[addr]
            if top.role == 'pf' and top.vfs and top.behaviour.get('remove_disables_vfs'):
                self._disable(top)
            sub = self._subtree(top)
            if top.role == 'pf' and top.vfs:
                for a in top.vfs:
                    self.orphans.append(a)
                self.dmesg.append('pci %s: removed with %d VFs enabled: VFs %s orphaned'
                                  % (addr, len(top.vfs), ', '.join(top.vfs)))
            order = list(reversed(sub))
            for d in order:
                self._unbind(d)
            for d in order:
                if d.role != 'vf':
                    self.removed[d.addr] = self._spec_for(d)
                else:
                    self.removed.pop(d.addr, None)
                if d.role == 'pf':
                    self._unwatch_numvfs(d)
                self._send_uevent(d, 'remove')
                self._iommu_detach(d)
                for sa in list(self._sync.values()):
                    if sa.addr == d.addr:
                        sa.dead = True
                        if not sa.active:
                            self._drop_sync(sa)
                self.tb.remove_device(d.devpath)
                del self.devices[d.addr]
            # the removed PF's VFs that went with a bridge are gone; orphans
            # of this PF stay in self.devices
            return [d.addr for d in order]

    # -------------------------------------------------------- rescan
    def _in_scope(self, parent, scope):
        p = parent
        while True:
            if p == scope:
                return True
            if p is None or p not in self.devices:
                return False
            p = self.devices[p].parent

    def rescan(self, scope=None, whole=False):
        """Rescan the bus below `scope` (a bridge address; None: bus 0 of
        the root ports) and every bridge found on it; whole=True: all."""
        with self._lock:
            added = []
            progress = True
            while progress:
                progress = False
                for addr, spec in list(self.removed.items()):
                    if addr in self.unplugged or addr in self.devices:
                        continue
                    p = spec['parent']
                    if p is not None and p not in self.devices:
                        continue
                    if not whole and not self._in_scope(p, scope):
                        continue
                    self._readd(spec)
                    del self.removed[addr]
                    added.append(addr)
                    progress = True
            for a in added:
                self._send_uevent(self.devices[a], 'add')
            for a in added:
                if self.devices[a].driver:
                    self._send_uevent(self.devices[a], 'bind')
            return added

    def _readd(self, spec):
        kw = dict(spec['kw'])
        if spec['kind'] == 'bridge':
            SimKernel.add_root_port(self, spec['addr'], **kw)
        elif spec['kind'] == 'pf':
            SimKernel.add_pf(self, spec['addr'], spec['parent'], **kw)
        else:
            SimKernel.add_device(self, spec['addr'], spec['parent'], **kw)

    def _act_rescan(self, sa, value):
        dev = self.devices.get(sa.addr)
        if dev is None:
            return None
        return self.rescan(scope=dev.parent)

    def _act_bus_rescan(self, sa, value):
        return self.rescan(whole=True)

    def _act_reset(self, sa, value):
        return 'reset' if sa.addr in self.devices else None

    # ---------------------------------------------------- drivers_probe
    def _probe_candidates(self):
        out = []
        for d in list(self.devices.values()):
            if d.driver or d.role == 'bridge':
                continue
            ov = self.driver_override(d.addr)
            if ov and os.path.isdir(self._p('/sys/bus/pci/drivers', ov)):
                out.append((d.addr, ov))
        return out

    def _predict_probe(self):
        return self._probe_candidates() or None

    def _act_probe(self, sa, cands):
        bound = []
        for addr, drv in cands:
            d = self.devices.get(addr)
            if d is not None and not d.driver:
                self._bind(d, drv)
                bound.append(addr)
        return bound

    def _check_probe(self, data, bound):
        bound = bound or []
        asked = ADDR_RE.findall(data.decode('latin-1'))
        notes = []
        if not asked:
            self._anomaly('drivers_probe: %r is no PCI address (the kernel: ENODEV)' % data)
            return 'ENODEV in the kernel'
        for a in asked:
            a = a.lower()
            if a in bound:
                continue
            d = self.devices.get(a)
            if d is None:
                notes.append('%s: no such device (ENODEV)' % a)
                continue
            if d.driver:
                continue        # already bound: the kernel does nothing
            ov = self.driver_override(a)
            if ov and os.path.isdir(self._p('/sys/bus/pci/drivers', ov)):
                self._bind(d, ov)
                if len(asked) == 1:
                    self._anomaly('drivers_probe %s: bound after the write returned '
                                  '(not predicted)' % a)
                # Several writers drained together (sriovd binds different VFs in
                # parallel, as it may): one was opened after the prediction; the
                # kernel would have bound it within its own write. Not an anomaly.
                notes.append('%s bound late' % a)
            else:
                notes.append('%s: no driver takes it' % a)
        for a in bound:
            if a not in [x.lower() for x in asked]:
                self._anomaly('drivers_probe: bound %s, but the write named %s'
                              % (a, asked))
        return '; '.join(notes)

    # ------------------------------------------------------ driver unbind
    def _predict_unbind(self, drv):
        bound = [d for d in self.devices.values() if d.driver == drv]
        moving = [d for d in bound if self.driver_override(d.addr) not in (None, drv)]
        if len(moving) == 1:
            return moving[0].addr
        if len(bound) == 1:
            return bound[0].addr
        return None

    def _act_unbind(self, drv, addr):
        d = self.devices.get(addr)
        if d is not None and d.driver == drv:
            self._unbind(d)
            return addr
        return None

    def _check_unbind(self, drv, data, done):
        asked = [a.lower() for a in ADDR_RE.findall(data.decode('latin-1'))]
        if done is not None and asked == [done]:
            return ''
        for a in asked:
            d = self.devices.get(a)
            if d is not None and d.driver == drv:
                self._unbind(d)
                self._anomaly('%s/unbind %s: unbound after the write returned' % (drv, a))
        if done is not None and done not in asked:
            self._anomaly('%s/unbind: unbound %s, but the write named %s' % (drv, done, asked))
        return 'not predicted'

    # --------------------------------------------------- sriov_numvfs
    def _process_write_locked(self, pf, raw):
        self._log_write(pf.addr, 'sriov_numvfs', raw)
        n, err = kstrtou16(raw)
        if not err and n and n <= pf.total_vfs and pf.num_vfs == 0 and pf.driver:
            want = max(0, n - pf.behaviour['short_by'])
            clash = [a for a in (vf_address(pf.addr, pf.offset, pf.stride, i)
                                 for i in range(want)) if a in self.devices]
            if clash:
                self.writes.append((pf.addr, raw))
                return self._reject(pf, raw, errno.ENOENT,
                                    'kobject_add_internal failed for %s with -EEXIST, '
                                    "don't try to register things with the same name "
                                    'in the same directory' % clash[0])
        return super()._process_write_locked(pf, raw)

    # ------------------------------------------------------ AER verbs
    def _has_handlers(self, d):
        return d.driver is not None and d.driver not in self.no_error_handlers

    def _ers(self, addr, kind, **extra):
        props = {'ERROR_EVENT': kind, 'DEVICE_ONLINE': DEVICE_ONLINE[kind]}
        props.update(extra)
        self.uevent(addr, 'change', **props)

    def kernel_can_recover(self, rp):
        """What pcie_do_recovery() would find: every function below has a
        driver with error handlers."""
        return all(self._has_handlers(d) for d in self.functions_below(rp))

    def _recovery(self, rp, ok, old_kernel):
        below = self.functions_below(rp)
        for d in below:
            if self._has_handlers(d):
                self._ers(d.addr, 'BEGIN_RECOVERY')
        if ok:
            for d in below:
                self._ers(d.addr, 'SUCCESSFUL_RECOVERY')
        elif old_kernel:
            self._ers(rp, 'FAILED_RECOVERY')
        else:
            for d in below:
                self._ers(d.addr, 'FAILED_RECOVERY')

    def aer_nonfatal_ok(self, rp, name='UnsupReq'):
        """An uncorrected non-fatal error the kernel recovers from (every
        function below rp has error handlers): BEGIN on each function that
        has them, SUCCESSFUL on each function below."""
        self.bump_aer(rp, 'nonfatal', name)
        self._recovery(rp, True, False)

    def aer_nonfatal_failed(self, rp, name='UnsupReq', old_kernel=False):
        """The same error with a driverless function below: BEGIN on the
        functions with handlers, FAILED on every function below (Debian 6.1)
        or, old_kernel, on rp only."""
        self.bump_aer(rp, 'nonfatal', name)
        self._recovery(rp, False, old_kernel)

    def aer_nonfatal(self, rp, name='UnsupReq', old_kernel=False):
        if self.kernel_can_recover(rp):
            self.aer_nonfatal_ok(rp, name)
            return True
        self.aer_nonfatal_failed(rp, name, old_kernel)
        return False

    def aer_fatal_sdn(self, rp, old_kernel=False):
        """Surprise down (uncorrected fatal): the link reset fails, the
        recovery fails (VM: BEGIN on the PF, FAILED on the PF and its VFs)."""
        self.bump_aer(rp, 'fatal', 'SDES')
        self._recovery(rp, False, old_kernel)

    # ------------------------------------------------------- the storm
    def storm(self, plan, chunk_cb=None):
        """Send uevents fast: plan is an iterable of (address, ERROR_EVENT
        value) (DEVICE_ONLINE as the kernel pairs it).  Blocking sends
        (flow control).  Returns the number sent; losses go to
        dropped_uevents."""
        cache = {}
        socks = self.listeners()
        sent = 0
        for addr, kind in plan:
            head = cache.get(addr)
            if head is None:
                dev = self.devices[addr]
                devpath = dev.devpath[len('/sys'):]
                props = {'ACTION': 'change', 'DEVPATH': devpath, 'SUBSYSTEM': 'pci'}
                props.update(self._uevent_props(dev))
                head = cache[addr] = (('change@%s' % devpath).encode() + b'\0'
                                      + b''.join(('%s=%s' % kv).encode() + b'\0'
                                                 for kv in props.items()))
            self._seqnum += 1
            msg = head + ('ERROR_EVENT=%s\0DEVICE_ONLINE=%d\0SEQNUM=%d\0'
                          % (kind, DEVICE_ONLINE[kind], self._seqnum)).encode()
            for s in socks:
                try:
                    self._sender.sendto(msg, s)
                except (socket.timeout, BlockingIOError):
                    self.dropped_uevents.append(('change', addr, s))
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            sent += 1
            if chunk_cb and sent % 1000 == 0:
                chunk_cb(sent)
        return sent

    # ------------------------------------------------------- teardown
    def close(self):
        if self.proc is not None:
            self.stop_daemon()
        self._rstop = True
        try:
            os.write(self._rwake_w, b'x')
        except OSError:
            pass
        self._rthread.join(30)
        for sa in list(self._sync.values()):
            self._drop_sync(sa)
        super().close()
        self._rino.close()
        os.close(self._rwake_r)
        os.close(self._rwake_w)
