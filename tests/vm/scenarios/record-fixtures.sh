#!/bin/bash
# Records umockdev fixtures of the real kernel's sysfs for the unit tests.
# Run from the host with scripts/record-fixtures.sh.  Writes to /out:
#   pf-0vfs.umockdev       root port + PF, SR-IOV off
#   pf-3vfs.umockdev       root port + PF + 3 VFs (nvme probe failed: no driver)
#   pf-3vfs-vfio.umockdev  same, VF 0 bound to vfio-pci (+ /dev/vfio/GROUP device)
#   pf-3vfs-aer.umockdev   same as pf-3vfs after a non-fatal UNSUP error injected
#                          into the root port (aer_* counts > 0, recovery failed)
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"
# umockdev-record runs `udevadm info`; the guest has no udev: use the stand-in.
export PATH=$VM_HARNESS/guest/record-bin:$PATH

P=$SYSFS_PCI/$PF
R=$SYSFS_PCI/$RP

# record NAME DEVICE...: umockdev-record into /out/NAME.umockdev
record() {
    local name=$1; shift
    if umockdev-record "$@" > "/out/.$name.tmp"; then
        mv "/out/.$name.tmp" "/out/$name.umockdev"
        pass "recorded $name.umockdev ($(grep -c '^P:' "/out/$name.umockdev") devices)"
    else
        fail "umockdev-record for $name"
    fi
}

# has NAME REGEX MSG: the record contains a line matching REGEX
has() {
    if grep -qE "$2" "/out/$1.umockdev"; then pass "$1: $3"; else fail "$1: no $3 (/$2/)"; fi
}

vfs_settled() {
    local i
    [ "$(count_virtfn)" -eq 3 ] || return 1
    for i in 0 1 2; do
        [ "$(driver_of "$(vf_addr $i)")" = none ] || return 1
    done
}

note "kernel $(uname -r), PF $PF, root port $RP"

# (a) SR-IOV off
assert_eq 0 "$(count_virtfn)" "VFs at boot"
record pf-0vfs "$P" "$R"
has pf-0vfs '^A: sriov_totalvfs=4' "sriov_totalvfs"
has pf-0vfs '^L: driver=.*/nvme$' "PF driver link"
has pf-0vfs '^L: iommu_group=' "iommu_group link"
has pf-0vfs '^A: aer_rootport_total_err_nonfatal=0' "aer counters at 0"

# (b) 3 VFs; the nvme driver probes each and gives up (controller offline)
check "enable 3 VFs" enable_vfs 3
check "3 VFs, nvme probe failed on each (no driver)" wait_for -t 60 vfs_settled
sleep 1
VF0=$(vf_addr 0) VF1=$(vf_addr 1) VF2=$(vf_addr 2)
record pf-3vfs "$P" "$R" "$SYSFS_PCI/$VF0" "$SYSFS_PCI/$VF1" "$SYSFS_PCI/$VF2"
has pf-3vfs "^L: virtfn0=../$VF0\$" "virtfn0 link"
has pf-3vfs "^L: virtfn2=../$VF2\$" "virtfn2 link"
has pf-3vfs "^L: physfn=../$PF\$" "physfn link"
has pf-3vfs '^A: sriov_numvfs=3' "sriov_numvfs=3"

# (d) VF 0 bound to vfio-pci
group=$(bind_vfio "$VF0")
if [ -n "$group" ] && wait_for -t 10 test -c "/dev/vfio/$group"; then
    pass "$VF0 bound to vfio-pci, group $group"
    record pf-3vfs-vfio "$P" "$R" "$SYSFS_PCI/$VF0" "$SYSFS_PCI/$VF1" "$SYSFS_PCI/$VF2" "/dev/vfio/$group"
    has pf-3vfs-vfio '^L: driver=.*/vfio-pci$' "vfio-pci driver link"
    has pf-3vfs-vfio "^N: vfio/$group\$" "/dev/vfio/$group node"
    has pf-3vfs-vfio '^A: driver_override=vfio-pci' "driver_override"
else
    fail "binding $VF0 to vfio-pci"
fi
# Back to the driverless state of (b) for the error injection.
sysfs_write "$SYSFS_PCI/$VF0/driver/unbind" "$VF0"
sysfs_write "$SYSFS_PCI/$VF0/driver_override" ""
check "VF 0 back without driver" vfs_settled

# (c) non-fatal error on the root port with 3 driverless VFs below it
reply=$(inject rp1 UNSUP)
assert_match "^OK" "$reply" "pcie_aer_inject_error rp1 UNSUP"
_counted() { [ "$(aer_count aer_rootport_total_err_nonfatal)" -gt 0 ]; }
check "aer_rootport_total_err_nonfatal > 0" wait_for -t 20 _counted
# Let the kernel's recovery (it fails: no error_detected on the VFs) finish.
_recovered() { dmesg | grep -qE 'device recovery (failed|successful)'; }
check "kernel recovery finished" wait_for -t 30 _recovered
dmesg | grep -E 'AER|recovery|error_detected' | tail -n 12
record pf-3vfs-aer "$P" "$R" "$SYSFS_PCI/$VF0" "$SYSFS_PCI/$VF1" "$SYSFS_PCI/$VF2"
has pf-3vfs-aer '^A: aer_rootport_total_err_nonfatal=[1-9]' "aer_rootport_total_err_nonfatal"
has pf-3vfs-aer '^A: aer_dev_nonfatal=.*UnsupReq [1-9]' "aer_dev_nonfatal UnsupReq"

check "disable VFs" disable_vfs
finish
