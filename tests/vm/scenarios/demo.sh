#!/bin/bash
# The README's demo (scripts/demo.sh): sriovd on a real kernel with an
# emulated SR-IOV NVMe controller.  About a minute under QEMU TCG.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

# The PF's object, from {"devices":[...]} (status) or {"device":{...}} (status ADDRESS).
PICK_PF='(if has("devices") then .devices[] elif has("device") then .device else . end) | select(.address == $pf)'

# num_vfs of the PF as sriovd reports it (JSON; the text output if --json fails).
pf_num_vfs() {
    if [ "$JSON_OK" = 1 ]; then
        ctl status "$PF" --json 2>/dev/null |
            jq -r --arg pf "$PF" "$PICK_PF | .sriov.num_vfs" 2>/dev/null
    else
        ctl status "$PF" 2>/dev/null | sed -n 's/.*VFs: \([0-9]*\) of.*/\1/p'
    fi
}
vfs_driverless() {
    local i
    [ "$(count_virtfn)" -eq 3 ] || return 1
    for i in 0 1 2; do [ "$(driver_of "$(vf_addr $i)")" = none ] || return 1; done
}

say "sriovd demo: Linux $(uname -r) under QEMU, SR-IOV NVMe PF $PF below root port $RP"
if ! start_sriovd --log-level info; then
    fail "sriovd did not start"
    finish
fi
pass "sriovd listening on $SRIOVD_SOCKET"

say "1. What sriovd sees at start"
run "$SRIOVCTL" --socket "$SRIOVD_SOCKET" status
JSON_OK=0
if ctl status --json 2>/dev/null | jq -e '.devices' >/dev/null 2>&1; then
    JSON_OK=1
    echo "(the PF only; --json lists every PCI function)"
    run "$SRIOVCTL" --socket "$SRIOVD_SOCKET" status --json | jq --arg pf "$PF" "$PICK_PF"
else
    fail "sriovctl status --json does not print JSON: $(ctl status --json 2>&1 | head -c 200)"
fi

say "2. Enable 3 VFs through sysfs (not through sriovd): the daemon follows the kernel's uevents"
run sysfs_write "/sys/bus/pci/devices/$PF/sriov_numvfs" 3 || fail "enabling VFs: $SYSFS_ERR"
wait_for -t 30 vfs_driverless
_three() { [ "$(pf_num_vfs)" = 3 ]; }
if wait_for -t 15 _three; then pass "sriovd reports num_vfs 3"; else fail "sriovd did not report 3 VFs"; fi
echo "(The VFs have no driver: QEMU's NVMe secondary controllers stay offline until resources are assigned, so the nvme driver's probe of each VF fails: requested 3, 3 enumerated, 0 usable.)"
run "$SRIOVCTL" --socket "$SRIOVD_SOCKET" status
if [ "$JSON_OK" = 1 ]; then
    run "$SRIOVCTL" --socket "$SRIOVD_SOCKET" status "$PF" --json |
        jq -c --arg pf "$PF" "$PICK_PF | .sriov.vfs[]"
fi

say "3. Disable the VFs"
run sysfs_write "/sys/bus/pci/devices/$PF/sriov_numvfs" 0 || fail "disabling VFs: $SYSFS_ERR"
_zero() { [ "$(pf_num_vfs)" = 0 ]; }
if wait_for -t 15 _zero; then pass "sriovd reports num_vfs 0"; else fail "sriovd still reports VFs"; fi
run "$SRIOVCTL" --socket "$SRIOVD_SOCKET" status

S=(--socket "$SRIOVD_SOCKET")
say "4. Enable through sriovd: ordered with everything else on the hierarchy, reported exactly"
run "$SRIOVCTL" "${S[@]}" enable "$PF" --vfs 3
rc=$?
[ "$rc" = 3 ] && pass "exit status 3: partial (VFs enumerated, their driver probe failed)" || fail "enable exit status $rc"
run "$SRIOVCTL" "${S[@]}" enable "$PF" --vfs 9
[ $? = 1 ] && pass "9 VFs refused before any write" || fail "9 VFs not refused"

say "5. A PCIe error on the root port: with driverless VFs the kernel's recovery fails, sriovd recovers"
seq=$("$SRIOVCTL" "${S[@]}" events --json | jq -r .recorded)
inject rp1 UNSUP >/dev/null
_recovered() { "$SRIOVCTL" "${S[@]}" events --json --since "$seq" | jq -e '[.events[] | select(.event == "RECOVERY_SUCCEEDED")] | length > 0' >/dev/null; }
if wait_for -t 90 _recovered; then pass "sriovd restored the PF and its 3 VFs"; else fail "no recovery"; fi
run "$SRIOVCTL" "${S[@]}" events --since "$seq"
run "$SRIOVCTL" "${S[@]}" recover "$PF" >/dev/null   # on demand too: the same steps
run "$SRIOVCTL" "${S[@]}" status "$PF"

say "6. Park idle VFs on vfio-pci: the same error is now recovered by the kernel itself"
run "$SRIOVCTL" "${S[@]}" policy "$PF" --park-idle-vfs yes >/dev/null
_parked() { [ "$(driver_of "$(vf_addr 0)")" = vfio-pci ] && [ "$(driver_of "$(vf_addr 2)")" = vfio-pci ]; }
wait_for -t 60 _parked && pass "VFs parked on vfio-pci" || fail "VFs not parked"
seq=$("$SRIOVCTL" "${S[@]}" events --json | jq -r .recorded)
inject rp1 UNSUP >/dev/null
_ok() { "$SRIOVCTL" "${S[@]}" events --json --since "$seq" | jq -e '[.events[] | select(.event == "KERNEL_RECOVERY_SUCCEEDED")] | length > 0' >/dev/null; }
if wait_for -t 60 _ok; then pass "the kernel recovered on its own"; else fail "the kernel did not recover"; fi
run "$SRIOVCTL" "${S[@]}" events --since "$seq"
run "$SRIOVCTL" "${S[@]}" disable "$PF"

say "7. Stop sriovd"
if stop_sriovd; then pass "sriovd stopped cleanly"; else fail "sriovd exit status $?"; fi
echo "---- sriovd log (last 15 lines)"
tail -n 15 "${SRIOVD_LOG:-/run/sriovd.log}"
finish
