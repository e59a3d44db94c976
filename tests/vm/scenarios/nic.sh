#!/bin/bash
# Issue 10 on the real kernel with a real SR-IOV NIC (QEMU's igb, run-scenario --nic):
# a [pf "IFNAME"] section that matches once the PF's interface is renamed, complete
# enablement on igbvf, every per-VF attribute applied and read back from the kernel, the
# refused ones (link-state: EOPNOTSUPP, min-tx-rate: EINVAL, a rate while the link is down:
# EINVAL) reported by name while the others stay, drift noticed within a second and
# re-applied with reapply = yes, settings back after VF re-creation and after a non-fatal
# AER error on the NIC, and the PF matched by address and by vendor:device id.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

[ -n "${NIC_PF:-}" ] || { skip "no NIC in this VM (run-scenario --nic)"; finish; }
modprobe igb && modprobe igbvf || { fail "modprobe igb igbvf"; finish; }
pf_if() { ls "$SYSFS_PCI/$NIC_PF/net" 2>/dev/null | head -n1; }
wait_for -t 20 test -n "$(pf_if)" || { fail "the igb PF has no netdev"; finish; }
IF0=$(pf_if)
pass "igb PF $NIC_PF has netdev $IF0 (sriov_totalvfs $(cat "$SYSFS_PCI/$NIC_PF/sriov_totalvfs"))"
ip link set "$IF0" up

CONF=/run/sriovd-nic.conf
write_conf() {
    cat > "$CONF" <<EOF
[pf "nicpf0"]
num-vfs = 3
reapply = $1
vf.0.mac = 02:00:00:00:00:10
vf.0.vlan = 100
vf.0.qos = 3
vf.0.spoof-check = no
vf.0.trust = yes
vf.0.max-tx-rate = 100
vf.1.mac = 02:00:00:00:00:11
vf.1.link-state = enable
vf.1.min-tx-rate = 10
$2
EOF
}
write_conf no ""
start_sriovd --config "$CONF" --log-level debug || { fail "sriovd did not start"; finish; }
pass "sriovd started"

pfj() { ctl status "$NIC_PF" --json; }
vfj() { pfj | jq -c ".device.network.vfs[$1]"; }
ipvf() { ip -j link show nicpf0 | jq -c ".[0].vfinfo_list[$1]"; }
events_since() { ctl events --json | jq -c --argjson s "$1" '[.events[] | select(.seq > $s)]'; }
last_seq() { ctl events --json | jq -r '.recorded'; }
has_event() { [ "$(events_since "$1" | jq --arg e "$2" --arg m "${3:-}" '[.[] | select(.event == $e and ((.message // "") | contains($m)))] | length')" -gt 0 ]; }

note "1. [pf \"nicpf0\"] matches nothing while the PF is $IF0: said, nothing changed"
assert_eq nicpf0 "$(ctl config --json | jq -r '.unmatched[0].match')" "sriovctl config lists the unmatched section"
grep -q 'names no SR-IOV PF' "${SRIOVD_LOG:-/run/sriovd.log}" && pass "the journal says so" || fail "no warning logged"
assert_eq 0 "$(count_virtfn "$NIC_PF")" "no VFs"
assert_eq "$IF0" "$(pfj | jq -r .device.network.ifname)" "status: the PF's interface"
assert_eq 52:54:00:12:34:56 "$(pfj | jq -r .device.network.mac)" "status: its MAC"
wait_for -t 5 bash -c "[ \"\$($SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -r .device.network.operstate)\" = up ]" &&
    pass "status: operstate up" || fail "operstate: $(pfj | jq -c .device.network)"
assert_eq 1000 "$(pfj | jq -r .device.network.speed_mbps)" "status: speed"

note "2. the rename makes it match: 3 VFs, all on igbvf, settings applied"
s=$(last_seq)
t0=$SECONDS
ip link set "$IF0" down && ip link set "$IF0" name nicpf0 && ip link set nicpf0 up
all_bound() { local i; [ "$(count_virtfn "$NIC_PF")" = 3 ] || return 1
              for i in 0 1 2; do [ "$(driver_of "$(vf_addr $i "$NIC_PF")")" = igbvf ] || return 1; done; }
if wait_for -t 30 all_bound; then pass "3 VFs bound to igbvf $((SECONDS - t0)) s after the rename"; else fail "VFs: $(ctl status "$NIC_PF")"; fi
wait_for -t 10 has_event "$s" VF_ATTRIBUTES || fail "no VF_ATTRIBUTES event"
# The enable reports once igbvf is bound, and the settings go out then, which can be
# before nicpf0's link is up: igb then refuses VF 0's rate too, and sriovd applies it
# again when the link comes up. The last attempt's event names VF 1 first.
rate0() { [ "$(ipvf 0 | jq -r .rate.max_tx)" = 100 ]; }
wait_for -t 20 rate0 || fail "VF 0's rate never applied: $(ipvf 0)"
msg=$(events_since "$s" | jq -r '[.[] | select(.event == "VF_ATTRIBUTES")][-1].message')
assert_match "failed; first: VF 1 (link-state|rate)" "$msg" "the event names the first refused attribute"
for i in 0 1 2; do
    n=$(vfj $i | jq -r .netdev)
    [ -n "$n" ] && [ "$n" != null ] && [ -e "/sys/class/net/$n" ] && pass "VF $i has interface $n" || fail "VF $i netdev '$n'"
done
ctl status "$NIC_PF"
v0=$(ipvf 0)
assert_eq 02:00:00:00:00:10 "$(jq -r .address <<<"$v0")" "kernel: VF 0 MAC"
assert_eq "100 3" "$(jq -r '.vlan_list[0] | "\(.vlan) \(.qos)"' <<<"$v0")" "kernel: VF 0 VLAN and QoS"
assert_eq "false true" "$(jq -r '"\(.spoofchk) \(.trust)"' <<<"$v0")" "kernel: VF 0 spoof checking off, trust on"
assert_eq 100 "$(jq -r .rate.max_tx <<<"$v0")" "kernel: VF 0 max_tx_rate"
assert_eq 02:00:00:00:00:11 "$(ipvf 1 | jq -r .address)" "kernel: VF 1 MAC (applied although its link-state was refused)"
wait_for -t 5 bash -c "[ \"\$($SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -r '.device.network.vfs[0].kernel.mac')\" = 02:00:00:00:00:10 ]" &&
    pass "status: VF 0's kernel MAC" || fail "status VF 0: $(vfj 0)"
k0=$(vfj 0 | jq -c .kernel)
assert_eq '{"id":100,"qos":3,"proto":"802.1Q"} false true 100' \
    "$(jq -c .vlan <<<"$k0") $(jq -r '"\(.spoofchk) \(.trust) \(.rate.max_tx_rate)"' <<<"$k0")" "status: VF 0's kernel VLAN, spoofchk, trust, rate"
assert_eq false "$(vfj 0 | jq -r .drift)" "status: VF 0 not drifted"
r1=$(vfj 1 | jq -r '[.refused[] | "\(.attribute):\(.error)"] | sort | join(" ")')
assert_eq "link-state:EOPNOTSUPP rate:EINVAL" "$r1" "status: VF 1's refused attributes by name"
assert_eq false "$(vfj 1 | jq -r .drift)" "refused attributes are not drift"

note "3. another netdev renamed: the PF is still matched"
VF0_IF=$(vfj 0 | jq -r .netdev)
ip link set "$VF0_IF" name vfnet0
wait_for -t 3 bash -c "[ \"\$($SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -r '.device.network.vfs[0].netdev')\" = vfnet0 ]" &&
    pass "status follows the VF's rename ($VF0_IF -> vfnet0)" || fail "VF 0 netdev: $(vfj 0 | jq -r .netdev)"
assert_eq 0 "$(ctl config --json | jq '.unmatched | length')" "the section still matches"
assert_eq nicpf0 "$(pfj | jq -r .device.network.ifname)" "the PF's interface"

note "4. drift: a MAC changed behind sriovd's back, reapply = no"
s=$(last_seq)
t0=$(date +%s%N)
ip link set nicpf0 vf 0 mac 02:00:00:00:00:99
drifted() { [ "$(vfj 0 | jq -r '.drifted | join(",")')" = mac ]; }
if wait_for -t 5 drifted; then pass "status: VF 0 drifted [mac] after $(( ($(date +%s%N) - t0) / 1000000 )) ms"; else fail "no drift: $(vfj 0)"; fi
has_event "$s" VF_SETTINGS_DRIFT "not changed" && pass "a VF_SETTINGS_DRIFT event (not changed)" || fail "events: $(events_since "$s")"
sleep 1
assert_eq 02:00:00:00:00:99 "$(ipvf 0 | jq -r .address)" "reapply = no leaves the kernel's value"

note "5. reapply = yes: reload puts it back, and the next change behind its back is undone"
write_conf yes ""
ctl reload >/dev/null || fail "reload"
wait_for -t 10 bash -c "[ \"\$(ip -j link show nicpf0 | jq -r '.[0].vfinfo_list[0].address')\" = 02:00:00:00:00:10 ]" &&
    pass "reload re-applied VF 0's MAC" || fail "VF 0: $(ipvf 0)"
wait_for -t 5 bash -c "! $SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -e '.device.network.vfs[0].drift' >/dev/null" ||
    fail "still drifted"
s=$(last_seq)
t0=$(date +%s%N)
ip link set nicpf0 vf 0 vlan 200 qos 1
back() { [ "$(ipvf 0 | jq -r '.vlan_list[0] | "\(.vlan) \(.qos)"')" = "100 3" ]; }
if wait_for -t 10 back; then pass "VLAN 200 put back to 100/3 after $(( ($(date +%s%N) - t0) / 1000000 )) ms"; else fail "VF 0: $(ipvf 0)"; fi
has_event "$s" VF_SETTINGS_DRIFT "re-applying" && pass "a VF_SETTINGS_DRIFT event (re-applying)" || fail "events: $(events_since "$s")"

note "6. a rate while the link is down: EINVAL, by name; the rest stays"
ip link set nicpf0 down
write_conf yes "vf.2.max-tx-rate = 50"
s=$(last_seq)
ctl reload >/dev/null || fail "reload"
wait_for -t 10 bash -c "$SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -e '.device.network.vfs[2].refused[] | select(.attribute == \"rate\" and .error == \"EINVAL\")' >/dev/null" &&
    pass "VF 2's rate refused with EINVAL while nicpf0 is down" || fail "VF 2: $(vfj 2)"
assert_eq 02:00:00:00:00:10 "$(ipvf 0 | jq -r .address)" "VF 0's MAC stays"
ip link set nicpf0 up
# The link comes up: what was refused for want of it is applied then.
rate2() { [ "$(ipvf 2 | jq -r .rate.max_tx)" = 50 ]; }
if wait_for -t 20 rate2; then pass "nicpf0 up: VF 2's rate 50 applied then"; else fail "VF 2 after link up: $(ipvf 2) $(vfj 2)"; fi
wait_for -t 10 bash -c "[ \"\$($SRIOVCTL --socket $SRIOVD_SOCKET status $NIC_PF --json | jq -c '[.device.network.vfs[2].refused[].attribute]')\" = '[]' ]" &&
    pass "VF 2's refusal is gone" || fail "VF 2: $(vfj 2)"

note "7. VF re-creation through sriovctl: the settings come back"
out=$(ctl enable "$NIC_PF" --vfs 2 --json); rc=$?
assert_eq 0 "$rc" "enable --vfs 2 (through 0) complete"
# igbvf binds in the VFs' probe: every outcome is told by a uevent, no quiet window.
assert_eq "kernel 0" "$(jq -r '.report | "\(.settled_by) \(.unsignalled_vfs)"' <<<"$out")" "settled when the kernel said"
note "enable --vfs 2 reported after $(jq -r .report.elapsed_ms <<<"$out") ms"
wait_for -t 10 bash -c "[ \"\$(ip -j link show nicpf0 | jq -r '.[0].vfinfo_list[0].address')\" = 02:00:00:00:00:10 ]" &&
    pass "VF 0's MAC is back on the new VF" || fail "VF 0: $(ipvf 0)"
assert_eq "100 3" "$(ipvf 0 | jq -r '.vlan_list[0] | "\(.vlan) \(.qos)"')" "VF 0's VLAN is back"
assert_eq 02:00:00:00:00:11 "$(ipvf 1 | jq -r .address)" "VF 1's MAC is back"

note "8. a non-fatal AER error on the NIC's root port: the kernel recovers, the settings stay"
s=$(last_seq)
inject "$NIC_RP" UNSUP >/dev/null
if wait_for -t 60 has_event "$s" SUCCESSFUL_RECOVERY; then pass "SUCCESSFUL_RECOVERY (igb and igbvf have error handlers)"; else fail "no recovery: $(events_since "$s" | jq -c '[.[] | .event]')"; fi
sleep 1
assert_eq 02:00:00:00:00:10 "$(ipvf 0 | jq -r .address)" "VF 0's MAC after recovery"
assert_eq "true" "$(ipvf 0 | jq -r .trust)" "VF 0's trust after recovery"
assert_eq false "$(vfj 0 | jq -r .drift)" "no drift after recovery"

note "9. the same PF matched by address, then by vendor:device id"
printf '[pf "%s"]\nnum-vfs = 1\nvf.0.mac = 02:00:00:00:00:20\n' "$NIC_PF" > "$CONF"
ctl reload >/dev/null || fail "reload"
wait_for -t 20 bash -c "[ \"\$(ip -j link show nicpf0 | jq -r '.[0].vfinfo_list | length') \$(ip -j link show nicpf0 | jq -r '.[0].vfinfo_list[0].address')\" = '1 02:00:00:00:00:20' ]" &&
    pass "[pf \"$NIC_PF\"]: 1 VF with its MAC" || fail "by address: $(ip -j link show nicpf0 | jq -c '.[0].vfinfo_list')"
printf '[pf "8086:10c9"]\nnum-vfs = 2\nvf.1.mac = 02:00:00:00:00:21\n' > "$CONF"
ctl reload >/dev/null || fail "reload"
wait_for -t 20 bash -c "[ \"\$(ip -j link show nicpf0 | jq -r '.[0].vfinfo_list[1].address // empty')\" = 02:00:00:00:00:21 ]" &&
    pass "[pf \"8086:10c9\"]: 2 VFs, VF 1 with its MAC" || fail "by id: $(ip -j link show nicpf0 | jq -c '.[0].vfinfo_list')"

grep -E "VF_SETTINGS_DRIFT|interfaces now|matches \[pf" "${SRIOVD_LOG:-/run/sriovd.log}" | tail -n 8
finish
