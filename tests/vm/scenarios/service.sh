#!/bin/bash
# sriovd.service under a real systemd as PID 1 (run-scenario --systemd; meson
# passes it).  With a configuration asking for 2 VFs on vfio-pci: the unit
# reaches active after READY=1, STATUS= reaches systemd, the VFs exist and are
# bound to vfio-pci with their /dev/vfio nodes, and sriovctl agrees; the
# sandbox of the unit (ProtectSystem=strict, ProtectKernelTunables=yes with
# ReadWritePaths=/sys/devices /sys/bus/pci, the capability bounding set, the
# syscall filter) holds and denies nothing the daemon needs;
# `systemctl reload` with a broken configuration keeps it running and the
# journal names file, line and key; `systemctl stop` is clean.
# The unit is the generated build/systemd/sriovd.service with ExecStart= pointed
# at $BUILD's daemon; nothing else in it is changed. sriovd.socket (Requires=)
# holds the API socket and passes it; it outlives the stop.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

if [ "${VM_MODE:-}" != systemd ] || [ "$(cat /proc/1/comm)" != systemd ]; then
    fail "needs systemd as PID 1: run with run-scenario --systemd"
    finish
fi

UNIT=sriovd.service
CONF=/etc/sriovd/sriovd.conf
SOCK=/run/sriovd/sriovd.sock
GEN=$BUILD/systemd/sriovd.service
# Everything the daemon logged in this boot (the journal is in /run: quick).
jlog() { journalctl -u "$UNIT" -b --no-pager -o cat 2>/dev/null; }
prop() { systemctl show -p "$1" --value "$UNIT"; }
elapsed() { awk -v s="$1" '{printf "%.1f", $1 - s}' /proc/uptime; }
now() { cut -d' ' -f1 /proc/uptime; }
t_scenario=$(now)

# ---------------------------------------------------------------- install
# Installed as a package would: the binaries where the generated unit expects them (the
# guest's root is a writable overlay), the unit unchanged. Pointing ExecStart= into the
# build folder would break wherever that folder is hidden by the unit's own sandbox
# (PrivateTmp=yes hides a clone under /tmp).
[ -r "$GEN" ] || { fail "no generated unit $GEN (build first)"; finish; }
EXEC=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$GEN")
CTL_DEST=$(dirname "$(dirname "$EXEC")")/bin/sriovctl
note "install $SRIOVD as $EXEC, $SRIOVCTL as $CTL_DEST, and $GEN unchanged"
install -D -m 0755 "$SRIOVD" "$EXEC" && install -D -m 0755 "$SRIOVCTL" "$CTL_DEST" || fail "install the binaries"
install -m 0644 "$GEN" /etc/systemd/system/$UNIT
install -m 0644 "$BUILD/systemd/sriovd.socket" /etc/systemd/system/sriovd.socket || fail "install sriovd.socket"
SRIOVD=$EXEC
SRIOVCTL=$CTL_DEST
assert_eq "ExecStart=$EXEC" "$(grep '^ExecStart=' /etc/systemd/system/$UNIT)" "ExecStart of the installed unit"
# A clean slate: no state or configuration from the host's root.
rm -rf /var/lib/sriovd /etc/sriovd /run/sriovd
mkdir -p /etc/sriovd
cat > "$CONF" <<EOF
[pf "$PF"]
num-vfs = 2
vf-driver = vfio-pci
EOF
systemctl daemon-reload
note "systemd-analyze verify $UNIT (missing man pages are expected: not installed)"
systemd-analyze verify "/etc/systemd/system/$UNIT" /etc/systemd/system/sriovd.socket 2>&1 | sed 's/^/  /'
assert_eq 0 "$(count_virtfn)" "VFs before the start"

# ---------------------------------------------------------------- start
note "systemctl start $UNIT"
t0=$(now)
timeout 90 systemctl start "$UNIT"; rc=$?
note "systemctl start returned $rc after $(elapsed "$t0") s"
# Type=notify: start returns 0 only once READY=1 came.
assert_eq 0 "$rc" "systemctl start (returns after READY=1)"
assert_eq active "$(systemctl is-active "$UNIT")" "is-active"
assert_eq "running success 0" "$(prop SubState) $(prop Result) $(prop NRestarts)" "SubState Result NRestarts"
check "READY=1 after the API socket listens: $SOCK exists at once" test -S "$SOCK"
status_text=$(prop StatusText)
note "StatusText: $status_text"
assert_match '.+' "$status_text" "StatusText (STATUS= reached systemd)"
pid=$(prop MainPID)
assert_match '^[1-9][0-9]*$' "$pid" "MainPID"
assert_eq "$SRIOVD" "$(readlink /proc/"$pid"/exe)" "the main process is the build's daemon"
assert_eq active "$(systemctl is-active sriovd.socket)" "sriovd.socket pulled in (Requires=)"
check "the daemon serves the socket systemd passed (fd 3)" test -S /proc/"$pid"/fd/3

# ---------------------------------------------------------------- the configured state
two_on_vfio() {
    [ "$(count_virtfn)" = 2 ] || return 1
    local i a g
    for i in 0 1; do
        a=$(vf_addr $i) || return 1
        [ "$(driver_of "$a")" = vfio-pci ] || return 1
        g=$(iommu_group "$a") || return 1
        [ -c "/dev/vfio/$g" ] || return 1
    done
}
t0=$(now)
if wait_for -t 60 two_on_vfio; then
    pass "2 VFs, both on vfio-pci, with their /dev/vfio nodes ($(elapsed "$t0") s after READY)"
else
    fail "not 2 VFs on vfio-pci: numvfs $(cat $SYSFS_PCI/$PF/sriov_numvfs)," \
         "drivers $(for l in $SYSFS_PCI/$PF/virtfn*; do driver_of "$(basename "$(readlink "$l")")"; done | xargs)"
fi
assert_eq 2 "$(cat $SYSFS_PCI/$PF/sriov_numvfs)" "sriov_numvfs"
vfs=() groups=()
for i in 0 1; do
    a=$(vf_addr $i) && vfs+=("$a") && groups+=("$(iommu_group "$a")")
    note "VF $i: $a driver $(driver_of "$a") group ${groups[-1]} node $(ls -l /dev/vfio/"${groups[-1]}" 2>&1)"
done

synced() {
    local j
    j=$(ctl status "$PF" --json) || return 1
    [ "$(jq -r '.device.sriov.num_vfs' <<<"$j")" = 2 ] &&
    [ "$(jq -r '[.device.sriov.vfs[].driver] | join(" ")' <<<"$j")" = "vfio-pci vfio-pci" ]
}
wait_for -t 15 synced || fail "sriovctl status does not show 2 VFs on vfio-pci yet"
j=$(ctl status "$PF" --json)
echo "$j" | jq -c '.device.sriov | {num_vfs, desired_num_vfs, drift, vfs: [.vfs[] | {address, driver, iommu_group, vfio_device}]}'
assert_eq 2 "$(jq -r .device.sriov.num_vfs <<<"$j")" "sriovctl: num_vfs"
assert_eq "${vfs[*]}" "$(jq -r '[.device.sriov.vfs[].address] | join(" ")' <<<"$j")" "sriovctl: VF addresses = virtfn links"
assert_eq "vfio-pci vfio-pci" "$(jq -r '[.device.sriov.vfs[].driver] | join(" ")' <<<"$j")" "sriovctl: VF drivers"
assert_eq "${groups[*]}" "$(jq -r '[.device.sriov.vfs[].iommu_group] | join(" ")' <<<"$j")" "sriovctl: IOMMU groups"
assert_eq "/dev/vfio/${groups[0]} /dev/vfio/${groups[1]}" \
    "$(jq -r '[.device.sriov.vfs[].vfio_device] | join(" ")' <<<"$j")" "sriovctl: vfio_device nodes"
assert_eq false "$(jq -r .device.sriov.drift <<<"$j")" "sriovctl: no drift"
pf_conf() { ctl config --json | jq -r --arg pf "$PF" '.pfs[] | select(.match == $pf) | "\(.num_vfs) \(.vf_driver)"'; }
assert_eq "2 vfio-pci" "$(pf_conf)" "sriovctl config: num-vfs and vf-driver of [pf \"$PF\"]"
ctl status "$PF"
if jlog | grep -q "applying $CONF:1 (start)"; then
    pass "journal: the configuration was applied at start ($(jlog | grep -m1 "applying $CONF"))"
else
    fail "journal: no 'applying $CONF:1 (start)'"
fi

# ---------------------------------------------------------------- the sandbox, seen from inside
note "sandbox of PID $pid"
grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/"$pid"/status | sed 's/^/  /'
# CAP_NET_ADMIN (bit 12: uevent buffer, rtnetlink) and CAP_CHOWN (bit 0: vfio-owner).
assert_eq 0000000000001001 "$(awk '/^CapBnd:/ {print $2}' /proc/"$pid"/status)" "CapBnd = CAP_NET_ADMIN CAP_CHOWN only"
assert_eq 1 "$(awk '/^NoNewPrivs:/ {print $2}' /proc/"$pid"/status)" "NoNewPrivs"
assert_eq 2 "$(awk '/^Seccomp:/ {print $2}' /proc/"$pid"/status)" "Seccomp filter mode"
mnt_opt() { nsenter -t "$pid" -m -- findmnt -n -o OPTIONS --target "$1" | cut -d, -f1; }
for p in /sys/bus/pci /sys/devices; do assert_eq rw "$(mnt_opt $p)" "$p writable in the sandbox"; done
for p in /sys/kernel /sys/module /etc /usr; do
    assert_eq ro "$(mnt_opt $p)" "$p read-only in the sandbox"
done
nsenter -t "$pid" -m -- test ! -e /proc/sys && pass "/proc/sys absent in the sandbox (ProcSubset=pid)" ||
    fail "/proc/sys visible in the sandbox"
assert_eq rw "$(mnt_opt /var/lib/sriovd)" "/var/lib/sriovd (StateDirectory) writable"
assert_eq rw "$(mnt_opt /run/sriovd)" "/run/sriovd (RuntimeDirectory) writable"
# The doc's open question: a write outside the re-opened PCI part fails with EROFS.
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ -w "$thp" ]; then
    cur=$(sed -E 's/.*\[([a-z]+)\].*/\1/' "$thp")
    err=$(nsenter -t "$pid" -m -- sh -c "echo $cur > $thp" 2>&1) && fail "write to $thp in the daemon's mount namespace succeeded" ||
        assert_match "Read-only file system" "$err" "write to $thp in the daemon's mount namespace"
fi
# PrivateDevices=no, so that vfio-owner/vfio-group can chown /dev/vfio/N; the device
# cgroup (DevicePolicy=closed) still refuses to open it.
[ -e "/proc/$pid/root/dev/vfio" ] && pass "/dev/vfio visible to the daemon (for vfio-owner)" ||
    fail "/dev/vfio not visible to the daemon: vfio-owner cannot work"
assert_eq closed "$(prop DevicePolicy)" "DevicePolicy=closed"

# ---------------------------------------------------------------- reload with a broken configuration
note "systemctl reload with a broken configuration"
cat > "$CONF" <<EOF
[pf "$PF"]
num-vfs = many
vf-driver = vfio-pci
EOF
t0=$(now)
timeout 60 systemctl reload "$UNIT"; rc=$?
assert_eq 0 "$rc" "systemctl reload"
refused() { jlog | grep -q "Reload of $CONF failed"; }
wait_for -t 30 refused && pass "journal: reload refused ($(elapsed "$t0") s)" ||
    fail "journal: no 'Reload of $CONF failed'"
err_line=$(jlog | grep -F "$CONF:2:" | tail -n1)
note "journal: $err_line"
assert_match "$CONF:2: .*num-vfs.*" "$err_line" "journal error names file, line and key"
sleep 1
assert_eq active "$(systemctl is-active "$UNIT")" "still active after the broken reload"
assert_eq "$pid 0" "$(prop MainPID) $(prop NRestarts)" "same MainPID, no restart"
note "StatusText: $(prop StatusText)"
two_on_vfio && pass "still 2 VFs on vfio-pci (the running configuration stays)" ||
    fail "the VFs changed after the broken reload"
assert_eq "2 vfio-pci" "$(pf_conf)" "sriovctl config: the running num-vfs and vf-driver stay"
out=$(ctl reload 2>&1); rc=$?
note "sriovctl reload: rc $rc: $(echo "$out" | tr '\n' ' ')"
[ $rc -ne 0 ] && [[ "$out" == *"$CONF:2:"* ]] && pass "sriovctl reload refuses too, naming $CONF:2" ||
    fail "sriovctl reload with the broken file: rc $rc, $out"
assert_eq active "$(systemctl is-active "$UNIT")" "still active after sriovctl reload"

# ---------------------------------------------------------------- hardening measured
note "systemd-analyze security $UNIT"
sec=$(systemd-analyze security --no-pager "$UNIT" 2>&1)
echo "$sec" | grep -E '^[✗✓ ]*[✗]|Overall' | sed 's/^/  /' | tail -n 20
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for [^:]*: *\([0-9.]*\).*/\1/p')
note "overall exposure: $score"
assert_match '^[0-9]+\.[0-9]+$' "$score" "systemd-analyze security exposure measured"
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
    pass "exposure $score <= 2.0 (docs/systemd.md: 1.4 offline)"
else
    fail "exposure '$score' above 2.0"
fi

# ---------------------------------------------------------------- stop
note "systemctl stop $UNIT"
t0=$(now)
timeout 60 systemctl stop "$UNIT"; rc=$?
note "systemctl stop returned $rc after $(elapsed "$t0") s"
assert_eq 0 "$rc" "systemctl stop"
assert_eq inactive "$(systemctl is-active "$UNIT")" "is-active after stop"
assert_eq success "$(prop Result)" "Result after stop"
# A main process that exits non-zero (or by a signal) makes systemd log
# "Main process exited, code=..."; a clean exit 0 only "Deactivated successfully".
jlog | grep -q "Received SIGTERM, stopping" && pass "journal: the daemon saw SIGTERM" ||
    fail "journal: no 'Received SIGTERM, stopping'"
jlog | grep -q "Deactivated successfully" && pass "journal: Deactivated successfully" ||
    fail "journal: no 'Deactivated successfully'"
bad=$(jlog | grep -E "Main process exited|Failed with result|Watchdog timeout|code=(killed|dumped)")
[ -z "$bad" ] && pass "no abnormal exit, failure or watchdog timeout in the journal" || fail "journal: $bad"
check "socket $SOCK kept: sriovd.socket owns it" test -S "$SOCK"
assert_eq active "$(systemctl is-active sriovd.socket)" "sriovd.socket still listening after the stop"
check "/run/sriovd kept (RuntimeDirectoryPreserve=yes)" test -d /run/sriovd
! systemctl is-failed -q "$UNIT" && pass "not failed" || fail "$UNIT is failed"
note "after stop: $(count_virtfn) VFs, drivers $(for l in $SYSFS_PCI/$PF/virtfn*; do [ -L "$l" ] && driver_of "$(basename "$(readlink "$l")")"; done | xargs)"

# ---------------------------------------------------------------- the journal
note "journalctl -u $UNIT -p err (only the broken file's errors are expected)"
errs=$(journalctl -u "$UNIT" -b -p err --no-pager -o cat)
echo "$errs" | sed 's/^/  /'
unexpected=$(echo "$errs" | grep -v -e "^Reload of $CONF failed" -e "^$CONF:2: " | grep -v '^$')
[ -z "$unexpected" ] && pass "no unexpected errors in the journal" || fail "unexpected errors: $unexpected"
sandbox=$(jlog | grep -iE 'operation not permitted|read-only file system|permission denied|EPERM|EROFS|EACCES|seccomp')
[ -z "$sandbox" ] && pass "no sandbox denial (EPERM/EROFS/EACCES) logged by the daemon" ||
    fail "sandbox denials logged: $sandbox"
# Audit records (the kernel's, and those journald reads from the audit socket).
kern=$( { journalctl -k -b --no-pager -o cat; journalctl -b _TRANSPORT=audit --no-pager -o cat; } 2>/dev/null |
        grep -E 'type=1326|audit: .*(SECCOMP|seccomp|denied|DENIED)|apparmor="DENIED"')
[ -z "$kern" ] && pass "no audit/SECCOMP record in the kernel log or audit journal" || fail "audit: $kern"
note "journalctl -u $UNIT (last 40 lines)"
journalctl -u "$UNIT" -b --no-pager -o short-monotonic | tail -n 40

note "scenario took $(elapsed "$t_scenario") s, $(now) s after boot"
finish
