#!/bin/bash
# Harness self-test: the emulated SR-IOV NVMe PF under the real kernel, sysfs
# VF enablement, AER injection through QMP, vfio-pci binding.  No sriovd.
# shellcheck source=tests/vm/lib.sh
. "${VM_LIB:-$REPO/tests/vm/lib.sh}"

P=/sys/bus/pci/devices/$PF
note "PF $PF under root port $RP, kernel $(uname -r)"

check "PF $PF exists" test -d "$P"
assert_eq "1b36" "$(sed 's/^0x//' "$P/vendor")" "PF vendor"
assert_eq "0010" "$(sed 's/^0x//' "$P/device")" "PF device"
assert_eq "${VM_VFS:-4}" "$(cat "$P/sriov_totalvfs")" "sriov_totalvfs"
assert_eq "0" "$(cat "$P/sriov_numvfs")" "sriov_numvfs at boot"
assert_eq "$RP" "$(basename "$(dirname "$(readlink -f "$P")")")" "root port is the PF's parent"

# ---- enable 3 VFs
check "echo 3 > sriov_numvfs" enable_vfs 3
assert_eq 3 "$(count_virtfn)" "virtfn links"
for i in 0 1 2; do
    vf=$(vf_addr $i)
    assert_eq "$PF" "$(basename "$(readlink "$SYSFS_PCI/$vf/physfn")")" "virtfn$i ($vf) physfn"
done

# ---- kernel errors from sriov_numvfs
if enable_vfs 9; then
    fail "echo 9 > sriov_numvfs succeeded"
else
    assert_match "Numerical result out of range" "$SYSFS_ERR" "echo 9 error (ERANGE)"
fi
if enable_vfs 2; then
    fail "echo 2 > sriov_numvfs with 3 enabled succeeded"
else
    assert_match "Device or resource busy" "$SYSFS_ERR" "echo 2 while 3 enabled (EBUSY)"
fi
assert_eq 3 "$(count_virtfn)" "virtfn links after refused writes"

# ---- disable
check "echo 0 > sriov_numvfs" disable_vfs
assert_eq 0 "$(count_virtfn)" "virtfn links after disabling"

# ---- AER injection through QMP
before=$(aer_count aer_rootport_total_err_nonfatal)
reply=$(inject rp1 UNSUP)
assert_match "^OK" "$reply" "QMP reply to pcie_aer_inject_error"
_nonfatal_grew() { [ "$(aer_count aer_rootport_total_err_nonfatal)" -gt "$before" ]; }
if wait_for -t 20 _nonfatal_grew; then
    pass "aer_rootport_total_err_nonfatal $before -> $(aer_count aer_rootport_total_err_nonfatal)"
else
    fail "aer_rootport_total_err_nonfatal stayed at $before"
fi
assert_match "UnsupReq [1-9]" "$(cat "$SYSFS_PCI/$RP/aer_dev_nonfatal")" "aer_dev_nonfatal UnsupReq"

# ---- vfio-pci
check "echo 1 > sriov_numvfs" enable_vfs 1
vf=$(vf_addr 0)
group=$(bind_vfio "$vf")
if [ -n "$group" ]; then
    pass "$vf bound to vfio-pci, IOMMU group $group"
    check "/dev/vfio/$group exists" wait_for -t 10 test -c "/dev/vfio/$group"
else
    fail "binding $vf to vfio-pci (driver: $(driver_of "$vf"), $SYSFS_ERR)"
fi
check "disable VFs with one bound to vfio-pci" disable_vfs
assert_eq 0 "$(count_virtfn)" "virtfn links at the end"

finish
