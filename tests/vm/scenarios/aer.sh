#!/bin/bash
# Issue 4 on the real kernel: AER events, readiness, recovery driven from user space,
# parking idle VFs on vfio-pci, and an enable that waits for the kernel's recovery.
# Errors are injected on the root port through QEMU's monitor (vm-qmp).
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

start_sriovd --log-level debug || { fail "sriovd did not start"; finish; }
pass "sriovd started"
dmesg -C
events_json() { ctl events --json; }
last_seq() { events_json | jq -r '.recorded'; }
events_since() { ctl events --json | jq -c --argjson s "$1" '[.events[] | select(.seq > $s)]'; }
has_event() { [ "$(events_since "$1" | jq --arg e "$2" --arg d "${3:-}" '[.[] | select(.event == $e and ($d == "" or .device == $d))] | length')" -gt 0 ]; }

note "1. non-fatal error, no VFs: the kernel recovers"
s=$(last_seq)
inject rp1 UNSUP >/dev/null
if wait_for -t 30 has_event "$s" SUCCESSFUL_RECOVERY "$PF"; then pass "SUCCESSFUL_RECOVERY on the PF"; else fail "no SUCCESSFUL_RECOVERY: $(events_since "$s")"; fi
has_event "$s" BEGIN_RECOVERY "$PF" && pass "BEGIN_RECOVERY on the PF" || fail "no BEGIN_RECOVERY"
d=$(events_since "$s" | jq -r '[.[] | .aer_deltas.nonfatal.UnsupReq // 0] | add')
assert_eq 1 "$d" "the events carry the root port's counter delta (UnsupReq +1)"
assert_eq 1 "$(ctl status "$RP" --json | jq -r '.device.aer.nonfatal.UnsupReq')" "status shows the counter"
wait_for -t 15 bash -c "[ \"\$($SRIOVCTL --socket $SRIOVD_SOCKET status $RP --json | jq -r .device.hierarchy.state)\" = idle ]"
assert_eq 1 "$(ctl status "$RP" --json | jq -r '.device.hierarchy.kernel_recoveries.succeeded')" "one kernel recovery succeeded"
ctl events

note "2. three driverless VFs: readiness names them; the same error fails in the kernel; sriovd restores"
ctl enable "$PF" --vfs 3 >/dev/null; assert_eq 3 "$(count_virtfn)" "3 VFs"
b=$(ctl status "$RP" --json | jq -r '[.device.hierarchy.blocking_functions[].address] | join(" ")')
assert_eq "$(vf_addr 0) $(vf_addr 1) $(vf_addr 2)" "$b" "readiness names the driverless VFs before any error"
assert_eq false "$(ctl status "$RP" --json | jq -r .device.hierarchy.kernel_can_recover)" "kernel_can_recover"
s=$(last_seq)
inject rp1 UNSUP >/dev/null
if wait_for -t 60 has_event "$s" FAILED_RECOVERY "$PF"; then pass "the kernel's recovery failed"; else fail "no FAILED_RECOVERY: $(events_since "$s")"; fi
if wait_for -t 120 has_event "$s" RECOVERY_SUCCEEDED "$PF"; then pass "sriovd's recovery succeeded"; else fail "no RECOVERY_SUCCEEDED: $(events_since "$s" | jq -c '.[] | [.event, .message]')"; fi
assert_eq 3 "$(count_virtfn)" "the PF has its 3 VFs again"
assert_eq nvme "$(driver_of "$PF")" "the PF is bound to nvme again"
ctl status "$PF" --json | jq -c '.device.recovery.last | {state, succeeded, attempts, steps: [.steps[] | "\(.step):\(.ok)"]}'

note "3. fatal surprise-down: sriovd takes the PF and its VFs off the bus, rescans, restores"
s=$(last_seq)
inject rp1 SDN >/dev/null
if wait_for -t 60 has_event "$s" FAILED_RECOVERY "$PF"; then pass "FAILED_RECOVERY after surprise-down"; else fail "no FAILED_RECOVERY: $(events_since "$s")"; fi
if wait_for -t 120 has_event "$s" RECOVERY_SUCCEEDED "$PF"; then pass "sriovd's recovery succeeded"; else fail "no RECOVERY_SUCCEEDED: $(events_since "$s" | jq -c '.[] | [.event, .message]')"; fi
steps=$(ctl status "$PF" --json | jq -r '[.device.recovery.last.steps[] | select(.ok) | .step] | join(" ")')
assert_match "disable-vfs.*remove-pf.*rescan-port.*wait-pf.*restore-vfs.*verify" "$steps" "steps in order"
assert_eq 3 "$(count_virtfn)" "3 VFs restored"
w=$(dmesg | grep -E "WARNING|kobject_add_internal failed|BUG:" || true)
assert_eq "" "$w" "no kernel warning in dmesg"

note "4. parking: idle VFs on vfio-pci; the same non-fatal error then succeeds in the kernel"
ctl policy "$PF" --park-idle-vfs yes >/dev/null || fail "policy"
parked() { local i; for i in 0 1 2; do [ "$(driver_of "$(vf_addr $i)")" = vfio-pci ] || return 1; done; }
if wait_for -t 60 parked; then pass "the 3 VFs are parked on vfio-pci"; else fail "not parked: $(ctl status "$PF")"; fi
assert_eq true "$(ctl status "$RP" --json | jq -r .device.hierarchy.kernel_can_recover)" "kernel_can_recover after parking"
ls /dev/vfio/ | grep -q "$(iommu_group "$(vf_addr 0)")" && pass "/dev/vfio node present" || fail "no /dev/vfio node"
s=$(last_seq)
# An enable asked while the kernel recovers must wait, then complete.
coproc FOLLOW { "$SRIOVCTL" --socket "$SRIOVD_SOCKET" events --follow --json --since "$s"; }
inject rp1 UNSUP >/dev/null &
inject_pid=$!
state=none
while read -r -t 60 line <&"${FOLLOW[0]}"; do
    if [ "$(jq -r .event <<<"$line")" = BEGIN_RECOVERY ]; then
        state=$(ctl enable "$PF" --vfs 2 --no-wait --json | jq -r .state)
        break
    fi
done
kill "$FOLLOW_PID" 2>/dev/null; wait "$inject_pid" 2>/dev/null
assert_eq waiting-for-recovery "$state" "an enable asked during the kernel's recovery waits"
if wait_for -t 60 has_event "$s" SUCCESSFUL_RECOVERY "$PF"; then pass "SUCCESSFUL_RECOVERY with parked VFs"; else fail "no SUCCESSFUL_RECOVERY: $(events_since "$s")"; fi
has_event "$s" RECOVERY_START "$PF" && fail "sriovd started a recovery although the kernel recovered" || pass "nothing for sriovd to repair"
id=$(ctl status "$PF" --json | jq -r '.device.operations[0].id // empty')
[ -n "$id" ] && curl -s --unix-socket "$SRIOVD_SOCKET" "http://localhost/v1/operations/$id?wait=1" >/dev/null
two() { [ "$(count_virtfn)" = 2 ]; }
if wait_for -t 60 two; then pass "the waiting enable completed afterwards: 2 VFs"; else fail "enable did not complete: $(ctl status "$PF")"; fi
ctl status
if [ "$VM_FAILED" -gt 0 ]; then
    echo "---- sriovd log (recovery and errors)"
    grep -E "recovery|RECOVERY|err|warning|notice" /run/sriovd.log | tail -80
fi
finish
