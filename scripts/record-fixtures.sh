#!/bin/bash
# scripts/record-fixtures.sh [FIXTURE_DIR]
#
# Re-records the umockdev fixtures of the unit tests from a real kernel: boots
# the Debian 6.1 kernel under QEMU (tests/vm), runs
# tests/vm/scenarios/record-fixtures.sh there, checks that umockdev loads each
# record and that the links the tests rely on are there, then copies
#   pf-0vfs.umockdev pf-3vfs.umockdev pf-3vfs-vfio.umockdev pf-3vfs-aer.umockdev
# into FIXTURE_DIR (default tests/fixtures).  Needs qemu-system-x86,
# busybox-static, cpio, kmod, umockdev, gir1.2-umockdev-1.0 and python3-gi.
# The VM cache is $SRIOV_VM_CACHE or build/vm-cache.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$repo/tests/fixtures}
cache=${SRIOV_VM_CACHE:-$repo/build/vm-cache}
fixtures=(pf-0vfs pf-3vfs pf-3vfs-vfio pf-3vfs-aer)

"$repo/tests/vm/prepare.sh" "$cache"

out=$(mktemp -d "${TMPDIR:-/tmp}/sriov-fixtures.XXXXXX")
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 "$repo/tests/vm/run-scenario" --vmdir "$cache" --repo "$repo" \
    --build "$repo/build" --out "$out" --log "$out/console.log" \
    ${SRIOV_VM_QUIET:+--quiet} "$repo/tests/vm/scenarios/record-fixtures.sh" || {
    echo "record-fixtures: the VM scenario failed; log: $out/console.log" >&2
    trap - EXIT
    exit 1
}

# Load each record into a umockdev testbed and check the layout.
/usr/bin/python3 - "$out" "${fixtures[@]}" <<'PY'
import os, sys
import gi
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev

out, names = sys.argv[1], sys.argv[2:]
PF, RP = "0000:01:00.0", "0000:00:02.0"
errors = 0

def expect(cond, msg):
    global errors
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        errors += 1

for name in names:
    path = os.path.join(out, name + ".umockdev")
    print(f"{name}.umockdev:")
    tb = UMockdev.Testbed.new()
    expect(tb.add_from_file(path), "umockdev_testbed_add_from_file loads it")
    sysd = os.path.join(tb.get_root_dir(), "sys")
    dev = lambda bdf: os.path.join(sysd, "bus/pci/devices", bdf)
    for bdf in (RP, PF):
        expect(os.path.islink(dev(bdf)) and os.path.isdir(dev(bdf)), f"sys/bus/pci/devices/{bdf} -> device dir")
        expect(os.readlink(os.path.join(dev(bdf), "subsystem")).endswith("bus/pci"), f"{bdf}/subsystem -> bus/pci")
        expect(os.path.basename(os.readlink(os.path.join(dev(bdf), "driver"))) in ("nvme", "pcieport"),
               f"{bdf}/driver link")
        expect(os.path.islink(os.path.join(dev(bdf), "iommu_group")), f"{bdf}/iommu_group link")
    expect(os.path.realpath(os.path.join(dev(PF), "..")) == os.path.realpath(dev(RP)), "PF is below the root port")
    nvfs = 0 if name == "pf-0vfs" else 3
    expect(open(os.path.join(dev(PF), "sriov_numvfs")).read().strip() == str(nvfs), f"sriov_numvfs = {nvfs}")
    for i in range(nvfs):
        vf = f"0000:01:00.{i + 1}"
        expect(os.readlink(os.path.join(dev(PF), f"virtfn{i}")) == f"../{vf}", f"virtfn{i} -> ../{vf}")
        expect(os.path.isdir(dev(vf)), f"sys/bus/pci/devices/{vf}")
        expect(os.readlink(os.path.join(dev(vf), "physfn")) == f"../{PF}", f"{vf}/physfn -> ../{PF}")
        drv = os.path.join(dev(vf), "driver")
        want = "vfio-pci" if (name == "pf-3vfs-vfio" and i == 0) else None
        got = os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None
        expect(got == want, f"{vf} driver {want}")
    total = int(open(os.path.join(dev(RP), "aer_rootport_total_err_nonfatal")).read())
    expect((total > 0) == (name == "pf-3vfs-aer"), f"root port aer_rootport_total_err_nonfatal = {total}")
    if name == "pf-3vfs-vfio":
        expect(os.path.exists(os.path.join(tb.get_root_dir(), "dev/vfio")), "dev/vfio/GROUP node")
    del tb  # its finalizer removes the testbed directory
sys.exit(1 if errors else 0)
PY

mkdir -p "$dest"
for f in "${fixtures[@]}"; do
    cp "$out/$f.umockdev" "$dest/$f.umockdev"
done
echo "record-fixtures: wrote ${fixtures[*]/%/.umockdev} to $dest"
