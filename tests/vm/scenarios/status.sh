#!/bin/bash
# Issue 2 on the real kernel: sriovd's model follows what sysfs shows, driven only by
# kernel uevents: VFs enabled and disabled behind its back through sysfs, their drivers
# (none: the NVMe VF probe fails), IOMMU groups, and the root port's AER counters.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

pf_json() { ctl status "$PF" --json | jq -c '.device'; }
dev_json() { ctl status "$1" --json | jq -c '.device'; }

start_sriovd --log-level debug || { fail "sriovd did not start"; finish; }
pass "sriovd started"

j=$(pf_json)
assert_eq pf "$(jq -r .role <<<"$j")" "PF role"
assert_eq "1b36 0010" "$(jq -r '.vendor_id + " " + .device_id' <<<"$j")" "PF ids"
assert_eq 4 "$(jq -r .sriov.total_vfs <<<"$j")" "total_vfs"
assert_eq 0 "$(jq -r .sriov.num_vfs <<<"$j")" "num_vfs before"
assert_eq "[\"$RP\"]" "$(jq -c .upstream <<<"$j")" "upstream chain"
assert_eq "$(iommu_group "$PF")" "$(jq -r .iommu_group <<<"$j")" "PF IOMMU group"
assert_eq "$(driver_of "$PF")" "$(jq -r .driver <<<"$j")" "PF driver"
assert_eq bridge "$(dev_json "$RP" | jq -r .role)" "root port role"

note "enable 3 VFs through sysfs, behind sriovd's back"
enable_vfs 3 || fail "enable through sysfs: $SYSFS_ERR"
vfs_settled() {
    [ "$(count_virtfn)" -eq 3 ] || return 1
    local i; for i in 0 1 2; do [ "$(driver_of "$(vf_addr $i)")" = none ] || return 1; done
}
wait_for -t 30 vfs_settled || fail "the VFs did not settle without a driver"
sriovd_matches_sysfs() {
    local j i a
    j=$(pf_json) || return 1
    [ "$(jq -r .sriov.num_vfs <<<"$j")" = "$(count_virtfn)" ] || return 1
    for i in $(seq 0 $(($(count_virtfn) - 1))); do
        a=$(vf_addr "$i")
        [ "$(jq -r ".sriov.vfs[$i].address" <<<"$j")" = "$a" ] || return 1
        [ "$(jq -r ".sriov.vfs[$i].index" <<<"$j")" = "$i" ] || return 1
        [ "$(jq -r ".sriov.vfs[$i].driver // \"none\"" <<<"$j")" = "$(driver_of "$a")" ] || return 1
        [ "$(jq -r ".sriov.vfs[$i].iommu_group" <<<"$j")" = "$(iommu_group "$a")" ] || return 1
    done
}
if wait_for -t 15 sriovd_matches_sysfs; then
    pass "sriovctl status --json matches sysfs: 3 VFs, addresses, indices, drivers (none), IOMMU groups"
else
    fail "sriovd and sysfs differ: $(pf_json)"
fi
vf1=$(vf_addr 1)
vj=$(dev_json "$vf1")
assert_eq vf "$(jq -r .role <<<"$vj")" "VF role of $vf1"
assert_eq "1 $PF" "$(jq -r '"\(.vf.index) \(.vf.pf)"' <<<"$vj")" "VF index and PF of $vf1"
assert_eq null "$(jq -r .driver <<<"$vj")" "VF driver is null (the nvme probe failed)"
ctl status
groups=$(pf_json | jq -r '[.sriov.vfs[].iommu_group] | unique | length')
assert_eq 3 "$groups" "each VF has its own IOMMU group"

note "a non-fatal error on the root port shows in its AER counters"
before=$(dev_json "$RP" | jq -r '.aer.nonfatal.total // 0')
sys_before=$(aer_count aer_dev_nonfatal)
inject rp1 UNSUP >/dev/null
wait_for -t 30 bash -c "[ \$(awk '\$1 ~ /^TOTAL_/ {print \$2}' $SYSFS_PCI/$RP/aer_dev_nonfatal) -gt $sys_before ]" ||
    fail "the kernel did not count the error"
aer_seen() { [ "$(dev_json "$RP" | jq -r '.aer.nonfatal.total // 0')" -gt "$before" ]; }
if wait_for -t 30 aer_seen; then
    pass "root port nonfatal total grew: $before -> $(dev_json "$RP" | jq -r '.aer.nonfatal.total')"
else
    fail "sriovd's root port AER counters did not grow: $(dev_json "$RP" | jq -c .aer)"
fi
assert_eq "$(aer_count aer_dev_nonfatal)" "$(dev_json "$RP" | jq -r '.aer.nonfatal.total')" "nonfatal total equals sysfs"
assert_eq "$(aer_count aer_rootport_total_err_nonfatal)" "$(dev_json "$RP" | jq -r '.aer.rootport_total.nonfatal')" \
    "aer_rootport_total_err_nonfatal"
assert_match '^[1-9]' "$(dev_json "$RP" | jq -r '.aer.nonfatal.UnsupReq')" "UnsupReq counted by its kernel name"
ctl events

note "disable through sysfs"
# The driverless VFs make the kernel's recovery fail, and sriovd then runs its own
# (remove-rescan), which restores the VFs it found: a write behind its back while that
# runs would be undone by its restore-vfs step. Let it finish first.
rec_done() { [ "$(pf_json | jq -r '.recovery.last.finished // false')" = true ]; }
if wait_for -t 60 rec_done; then
    pass "sriovd's own recovery finished: $(pf_json | jq -r .recovery.last.state)"
else
    note "no recovery of sriovd's own finished: $(pf_json | jq -c .recovery.last)"
fi
# After a failed recovery the VFs may be gone already or still there; 0 works either way.
disable_vfs || fail "disable through sysfs: $SYSFS_ERR"
gone() { [ "$(pf_json | jq -r .sriov.num_vfs)" = 0 ] && [ "$(pf_json | jq -r '.sriov.vfs | length')" = 0 ]; }
if wait_for -t 30 gone; then pass "sriovd reports 0 VFs after disabling"; else fail "still VFs: $(pf_json)"; fi
for a in 0000:01:00.1 0000:01:00.2 0000:01:00.3; do
    st=$(ctl status "$a" 2>&1); rc=$?
    [ $rc -ne 0 ] && [[ "$st" == *"No PCI function"* ]] && pass "$a is gone from the model" || fail "$a still known: $st"
done

finish
