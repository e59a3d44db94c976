#!/bin/bash
# Issue 3 on the real kernel: sriovctl enable/disable through sriovd, with exact reports.
# The emulated NVMe VFs are a real partial enablement: the kernel enumerates them, the
# nvme driver's probe fails (their secondary controllers are offline).
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

start_sriovd --log-level debug || { fail "sriovd did not start"; finish; }
pass "sriovd started"
autoprobe() { sysfs_write "$SYSFS_PCI/$PF/sriov_drivers_autoprobe" "$1"; }

note "enable --vfs 3 with drivers autoprobing: 3 enumerated, their nvme probe fails"
out=$(ctl enable "$PF" --vfs 3 --json); rc=$?
echo "$out" | jq -c '.report | {outcome, message, requested, enumerated, bound, usable}'
assert_eq 3 "$rc" "exit status (partial)"
assert_eq partial "$(jq -r .report.outcome <<<"$out")" "outcome"
assert_eq "3 3 0" "$(jq -r '.report | "\(.enumerated) \(.requested) \(.bound)"' <<<"$out")" "enumerated requested bound"
assert_eq "unbound unbound unbound" "$(jq -r '[.report.vfs[].state] | join(" ")' <<<"$out")" "per-VF states"
assert_eq "$(vf_addr 0) $(vf_addr 1) $(vf_addr 2)" "$(jq -r '[.report.vfs[].address] | join(" ")' <<<"$out")" "VF addresses = virtfn links"
assert_eq 3 "$(count_virtfn)" "sysfs has 3 VFs"
# No uevent tells a failed probe: the report waited the quiet window for all three, and says so.
assert_eq "quiet-window 3" "$(jq -r '.report | "\(.settled_by) \(.unsignalled_vfs)"' <<<"$out")" "settled by the quiet window, 3 VFs unsignalled"
ctl enable "$PF" --vfs 3; assert_eq 3 "$?" "the same count again: nothing written, the same partial state reported"

note "disable, then enable with autoprobe off and bring VFs 1 and 2 online with nvme-cli"
ctl disable "$PF"; assert_eq 0 "$?" "disable"
assert_eq 0 "$(count_virtfn)" "0 VFs in sysfs"
autoprobe 0 || fail "autoprobe off: $SYSFS_ERR"
out=$(ctl enable "$PF" --vfs 3 --json); rc=$?
assert_eq 0 "$rc" "with autoprobe off, 3 driverless VFs are what was asked: complete"
assert_eq "complete false" "$(jq -r '"\(.report.outcome) \(.report.drivers_autoprobe)"' <<<"$out")" "outcome, autoprobe"
# Autoprobe off: nothing is probed, so the VFs' add uevents and the PF's change tell it all.
assert_eq "kernel 0" "$(jq -r '.report | "\(.settled_by) \(.unsignalled_vfs)"' <<<"$out")" "settled when the kernel said, no quiet window"
ctrl=$(ls -d /sys/bus/pci/devices/$PF/nvme/nvme* | head -1); ctrl=/dev/$(basename "$ctrl")
for c in 1 2; do
    nvme virt-mgmt "$ctrl" -c $c -r 0 -n 2 -a 8 >/dev/null &&
    nvme virt-mgmt "$ctrl" -c $c -r 1 -n 1 -a 8 >/dev/null &&
    nvme virt-mgmt "$ctrl" -c $c -a 9 >/dev/null || fail "nvme virt-mgmt for controller $c"
    # With sriov_drivers_autoprobe 0 the kernel probes a VF only when driver_override
    # names a driver (pci_device_can_probe()).
    sysfs_write "$SYSFS_PCI/$(vf_addr $((c - 1)))/driver_override" nvme || fail "driver_override: $SYSFS_ERR"
    sysfs_write /sys/bus/pci/drivers_probe "$(vf_addr $((c - 1)))" || fail "drivers_probe: $SYSFS_ERR"
done
two_bound() {
    [ "$(ctl status "$PF" --json | jq -r '[.device.sriov.vfs[] | select(.driver == "nvme")] | length')" = 2 ]
}
if wait_for -t 30 two_bound; then pass "status: 2 VFs bound to nvme"; else fail "not 2 bound: $(ctl status "$PF")"; fi
assert_eq "nvme nvme null" "$(ctl status "$PF" --json | jq -r '[.device.sriov.vfs[].driver | tostring] | join(" ")')" "drivers per VF"
ctl status "$PF"

note "3 -> 2 goes through 0"
out=$(ctl enable "$PF" --vfs 2 --json); rc=$?
assert_eq 0 "$rc" "3 -> 2 succeeds"
assert_eq "2 3 2" "$(jq -r '.report | "\(.requested) \(.previous) \(.enumerated)"' <<<"$out")" "requested previous enumerated"
assert_eq 2 "$(count_virtfn)" "sysfs has 2 VFs"
grep -q "writing 0 to sriov_numvfs" /run/sriovd.log && pass "sriovd wrote 0 first" || fail "no write of 0 in the log"

note "--vfs 9 is refused before any write"
writes_before=$(grep -c "writing .* to sriov_numvfs" /run/sriovd.log)
err=$(ctl enable "$PF" --vfs 9 2>&1); rc=$?
assert_eq 1 "$rc" "refused"
assert_match "ERANGE" "$err" "the refusal explains ERANGE"
assert_match "at most 4" "$err" "the refusal names sriov_totalvfs"
assert_eq "$writes_before" "$(grep -c "writing .* to sriov_numvfs" /run/sriovd.log)" "no sriov_numvfs write"
assert_eq 2 "$(count_virtfn)" "still 2 VFs"

note "disable"
ctl disable "$PF"; assert_eq 0 "$?" "disable"
assert_eq 0 "$(count_virtfn)" "0 VFs"
assert_eq 0 "$(ctl status "$PF" --json | jq -r .device.sriov.num_vfs)" "status says 0"

note "--all-or-nothing on a partial result rolls back to 0"
autoprobe 1 || fail "autoprobe on: $SYSFS_ERR"
out=$(ctl enable "$PF" --vfs 3 --all-or-nothing --json); rc=$?
echo "$out" | jq -c '.report | {outcome, message, rolled_back, final_num_vfs}'
assert_eq 1 "$rc" "all-or-nothing partial exits 1"
assert_eq "true 0" "$(jq -r '.report | "\(.rolled_back) \(.final_num_vfs)"' <<<"$out")" "rolled back to 0"
assert_match "rolled back" "$(jq -r .report.message <<<"$out")" "the message says so"
assert_eq 0 "$(count_virtfn)" "0 VFs in sysfs after the rollback"

note "desired state persisted atomically"
# The all-or-nothing request above was rolled back: it is not desired, the previous count is.
assert_eq 0 "$(jq -r '.pfs[] | select(.pf == "'"$PF"'") | .num_vfs' "$SRIOVD_STATE_DIR/desired.json")" \
    "desired.json: a rolled-back request is not kept, the previous count is"
ctl enable "$PF" --vfs 1 >/dev/null
assert_eq 1 "$(jq -r '.pfs[] | select(.pf == "'"$PF"'") | .num_vfs' "$SRIOVD_STATE_DIR/desired.json")" "desired.json keeps the last request"
ctl disable "$PF" >/dev/null
finish
