#!/bin/bash
# Issue 5 on the real kernel: binding VFs to vfio-pci and back through sriovd, with the
# IOMMU isolation check (the ICH9 functions of the q35 machine share one IOMMU group and
# are on host drivers: binding one of them to vfio-pci must be refused).
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

start_sriovd --log-level debug || { fail "sriovd did not start"; finish; }
pass "sriovd started"
modprobe -r vfio-pci 2>/dev/null || true

ctl enable "$PF" --vfs 2 >/dev/null
assert_eq 2 "$(count_virtfn)" "2 VFs"
vf=$(vf_addr 0)
group=$(iommu_group "$vf")

note "bind a VF to vfio-pci (the module is loaded on demand)"
out=$(ctl bind "$vf" vfio-pci --json); rc=$?
assert_eq 0 "$rc" "bind exits 0"
assert_eq vfio-pci "$(driver_of "$vf")" "the kernel says vfio-pci"
assert_eq "/dev/vfio/$group" "$(jq -r .vfio_device <<<"$out")" "the reply names the VFIO node"
[ -c "/dev/vfio/$group" ] && pass "/dev/vfio/$group exists" || fail "/dev/vfio/$group missing"
assert_eq "/dev/vfio/$group" "$(ctl status "$PF" --json | jq -r '.device.sriov.vfs[0].vfio_device')" "status shows the node"
assert_eq vfio-pci "$(cat "$SYSFS_PCI/$vf/driver_override")" "driver_override set"

note "unbind"
ctl unbind "$vf"; assert_eq 0 "$?" "unbind exits 0"
assert_eq none "$(driver_of "$vf")" "no driver"
assert_eq "(null)" "$(cat "$SYSFS_PCI/$vf/driver_override")" "driver_override cleared"
assert_eq null "$(ctl status "$vf" --json | jq -r .device.driver)" "status says no driver"

note "the isolation check: a function whose IOMMU group holds functions on host drivers"
victim=
for d in "$SYSFS_PCI"/*; do
    a=$(basename "$d"); g=$(iommu_group "$a") || continue
    [ "$(driver_of "$a")" = none ] && continue
    others=$(ls "/sys/kernel/iommu_groups/$g/devices" | grep -v "^$a\$" || true)
    for o in $others; do
        dr=$(driver_of "$o")
        if [ "$dr" != none ] && [ "$dr" != pcieport ] && [ "$dr" != vfio-pci ]; then victim=$a; other=$o; break 2; fi
    done
done
if [ -z "$victim" ]; then
    fail "no shared IOMMU group with host drivers found in this machine"
else
    before=$(driver_of "$victim")
    err=$(ctl bind "$victim" vfio-pci 2>&1); rc=$?
    assert_eq 1 "$rc" "binding $victim ($before) to vfio-pci is refused"
    assert_match "IOMMU group" "$err" "the refusal explains the group"
    assert_match "$other" "$err" "the refusal names $other"
    assert_eq "$before" "$(driver_of "$victim")" "$victim still on $before"
fi

note "bad input changes nothing"
err=$(ctl bind "$vf" 'vfio pci' 2>&1); assert_eq 1 "$?" "a driver name with a space is refused"
err=$(ctl bind 0000:01:00.9 vfio-pci 2>&1); assert_eq 2 "$?" "a malformed address is a usage error"
err=$(ctl bind 0000:05:00.0 vfio-pci 2>&1); assert_eq 1 "$?" "an absent function is refused"
assert_match "No PCI function" "$err" "and says so"
err=$(ctl bind "$vf" no-such-driver 2>&1); rc=$?
assert_eq 1 "$rc" "a driver that does not exist fails"
assert_match "load module" "$err" "at the module step"
assert_eq none "$(driver_of "$vf")" "the VF is unchanged"
ctl disable "$PF" >/dev/null
finish
