#!/bin/bash
# The udev uevent source on the real kernel (issue 10): a real systemd as PID 1 with
# systemd-udevd running (run-scenario --systemd --nic), sriovd with uevent-source = udev
# and then auto. Shown: enable, bind and AER events arrive through udev; sriovd gets each
# one only after udev's rules ran (a rule's RUN+= that takes a second finishes before
# sriovd logs the event); the VF interfaces udev renamed are the names in status.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

if [ "${VM_MODE:-}" != systemd ] || [ "$(cat /proc/1/comm)" != systemd ]; then
    fail "needs systemd as PID 1: run with run-scenario --systemd"
    finish
fi
[ -n "${NIC_PF:-}" ] || { skip "no NIC in this VM (run-scenario --nic)"; finish; }
if ! wait_for -t 30 bash -c '[ "$(systemctl is-active systemd-udevd)" = active ]'; then
    fail "systemd-udevd is not running (is Debian's udev package installed on the host?)"
    finish
fi
pass "systemd-udevd is active ($(udevadm --version))"
udevadm settle -t 60
modprobe igb; modprobe igbvf
udevadm settle -t 30
wait_for -t 20 test -d "$SYSFS_PCI/$NIC_PF/net" || { fail "the igb PF has no netdev"; finish; }
PFIF=$(ls "$SYSFS_PCI/$NIC_PF/net" | head -n1)
pass "the PF's interface, as udev named it: $PFIF"
ip link set "$PFIF" up

# A rule that takes a second on each VF's bind, and says when it is done.
mkdir -p /etc/udev/rules.d
cat > /etc/udev/rules.d/70-sriovd-test.rules <<'EOF'
ACTION=="bind", SUBSYSTEM=="pci", DRIVER=="igbvf", RUN+="/bin/sh -c 'sleep 1; date +%%s%%N > /run/udev-bind-done.%k'"
EOF
udevadm control --reload
rm -f /run/udev-bind-done.*

UNIT=sriovd-udev-test
SOCK=/run/sriovd-udev/sriovd.sock
start_unit() {
    mkdir -p /run/sriovd-udev /run/sriovd-udev-state
    rm -f "$SOCK"
    # Type=notify: systemd-run returns after READY=1; stderr goes to the journal.
    systemd-run --quiet --unit "$UNIT" -p Type=notify \
        "$SRIOVD" --uevent-source "$1" --socket "$SOCK" --state-dir /run/sriovd-udev-state \
        --runtime-dir /run/sriovd-udev --log-level debug || return 1
}
stop_unit() { systemctl stop "$UNIT" 2>/dev/null; systemctl reset-failed "$UNIT" 2>/dev/null; }
jlog() { journalctl -u "$UNIT" -b --no-pager -o cat; }
# Realtime (µs) of the first journal line of the unit matching a regex.
jtime() { journalctl -u "$UNIT" -b --no-pager -o json | jq -r --arg re "$1" 'select(.MESSAGE | test($re)) | .__REALTIME_TIMESTAMP' | head -n1; }
uctl() { "$SRIOVCTL" --socket "$SOCK" "$@"; }

note "1. uevent-source = udev: an enable and the VFs' binds come through udev"
start_unit udev || { fail "sriovd did not start"; finish; }
jlog | grep -q "Listening to udev uevents" && pass "sriovd listens to udev's events" || fail "$(jlog | head -5)"
uctl enable "$NIC_PF" --vfs 2 >/dev/null; rc=$?
assert_eq 0 "$rc" "enable --vfs 2: complete (the PF's change and the VFs' add and bind arrived)"
udevadm settle -t 30
for i in 0 1; do
    vf=$(vf_addr $i "$NIC_PF")
    done_ns=$(cat "/run/udev-bind-done.$vf" 2>/dev/null)
    seen_us=$(jtime "^(<7>)?uevent bind $vf")
    if [ -z "$done_ns" ] || [ -z "$seen_us" ]; then
        fail "VF $vf: rule done '${done_ns}', sriovd saw bind '${seen_us}'"
        continue
    fi
    if [ "$seen_us" -ge $((done_ns / 1000)) ]; then
        pass "VF $vf: sriovd got 'bind' $(( (seen_us - done_ns / 1000) / 1000 )) ms after udev's RUN finished"
    else
        fail "VF $vf: sriovd got 'bind' $(( (done_ns / 1000 - seen_us) / 1000 )) ms before udev's rule finished"
    fi
    n=$(uctl status "$NIC_PF" --json | jq -r ".device.network.vfs[$i].netdev")
    assert_eq "$(ls "$SYSFS_PCI/$vf/net" | head -n1)" "$n" "VF $i's interface in status is udev's name"
done
assert_eq "$PFIF" "$(uctl status "$NIC_PF" --json | jq -r .device.network.ifname)" "the PF's interface in status"

note "2. uevent-source = auto picks udev; AER events arrive through it"
stop_unit
start_unit auto || { fail "sriovd did not start"; finish; }
jlog | grep "Listening to" | tail -n1
[ "$(jlog | grep -c 'Listening to udev uevents')" -ge 2 ] && pass "auto chose udev (/run/udev/control exists)" ||
    fail "auto: $(jlog | grep 'Listening to' | tail -n1)"
inject "$NIC_RP" UNSUP >/dev/null
has_recovery() { uctl events --json | jq -e '[.events[] | select(.event == "SUCCESSFUL_RECOVERY")] | length > 0' >/dev/null; }
if wait_for -t 60 has_recovery; then pass "SUCCESSFUL_RECOVERY arrived through udev"; else fail "events: $(uctl events --json | jq -c '[.events[] | .event]')"; fi
uctl events --json | jq -c '[.events[] | [.event, .device]]'
stop_unit
finish
