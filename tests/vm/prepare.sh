#!/bin/bash
# tests/vm/prepare.sh OUTDIR
#
# Prepares everything the VM test harness (tests/vm/run-scenario) needs to boot
# the Debian 6.1 kernel under QEMU:
#   OUTDIR/kernel/                 the kernel package unpacked with dpkg -x (no install)
#   OUTDIR/vmlinuz                 symlink to OUTDIR/kernel/boot/vmlinuz-VERSION
#   OUTDIR/kernel-version          VERSION, e.g. 6.1.0-56-amd64
#   OUTDIR/initramfs.cpio.gz       busybox-static as /init's shell + the boot modules
#   OUTDIR/kernel/lib/modules/VERSION  the full module tree (depmod'ed); run-scenario
#                                  exports it to the guest for modprobe in the chroot
#
# Idempotent and safe to run concurrently (flock on OUTDIR/.lock).  Work already
# done is skipped: stamps are keyed on the kernel version and on a hash of the
# init script and of this file, so editing tests/vm/init rebuilds the initramfs.
# Progress goes to stderr; nothing is printed on stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_script="$here/init"

log() { printf 'prepare.sh: %s\n' "$*" >&2; }
die() { printf 'prepare.sh: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

exec 9>"$outdir/.lock"
if ! flock -n 9; then
    log "waiting for another prepare.sh on $outdir"
    flock 9
fi

for tool in apt-cache apt-get dpkg depmod cpio gzip sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found (install the VM packages: qemu-system-x86 busybox-static cpio kmod)"
done
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=$(command -v busybox || true)
[ -n "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || die "busybox not found (apt-get install busybox-static)"
# The static build is required: the initramfs has no libc.
if LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>'; then
    die "$busybox is dynamically linked; install busybox-static"
fi

# ---------------------------------------------------------------- kernel package
resolve_pkg() {
    local pkg
    # The meta package's dependency is the current signed 6.1 kernel.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | head -n1)
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
              grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n1)
    fi
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
              grep -E '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | sort -V | tail -n1)
    fi
    printf '%s' "$pkg"
}

if [ -n "${SRIOV_VM_KERNEL_PKG:-}" ]; then
    pkg=$SRIOV_VM_KERNEL_PKG
else
    pkg=$(resolve_pkg)
    if [ -z "$pkg" ]; then
        log "kernel package not found in the apt lists; running apt-get update"
        apt-get update >&2 || die "apt-get update failed"
        pkg=$(resolve_pkg)
    fi
fi
[ -n "$pkg" ] || die "cannot find a linux-image-6.1.0-*-amd64 package"
kver=${pkg#linux-image-}
kver=${kver%-unsigned}
log "kernel package: $pkg (version $kver)"

kdir="$outdir/kernel"
kstamp="$outdir/.stamp-kernel-$pkg"
if [ -e "$kstamp" ] && [ -e "$kdir/boot/vmlinuz-$kver" ] && [ -e "$kdir/lib/modules/$kver/modules.dep" ]; then
    log "kernel $kver already unpacked in $kdir"
else
    rm -f "$outdir"/.stamp-kernel-* "$outdir"/.stamp-initramfs-*
    dl="$outdir/download"
    rm -rf "$dl" "$kdir"
    mkdir -p "$dl"
    # _apt must be able to write there, or apt-get warns and downloads as root.
    chmod 0777 "$dl" 2>/dev/null || true
    log "downloading $pkg"
    if ! (cd "$dl" && apt-get download "$pkg" >&2); then
        log "download failed; running apt-get update and retrying"
        apt-get update >&2 || die "apt-get update failed"
        (cd "$dl" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
    fi
    deb=$(ls "$dl"/*.deb | head -n1)
    log "unpacking $(basename "$deb") into $kdir"
    mkdir -p "$kdir"
    dpkg -x "$deb" "$kdir"
    [ -e "$kdir/boot/vmlinuz-$kver" ] || die "no boot/vmlinuz-$kver in $deb"
    log "depmod -b $kdir $kver"
    depmod -b "$kdir" "$kver"
    rm -rf "$dl"
    printf '%s\n' "$pkg" > "$outdir/kernel-package"
    touch "$kstamp"
fi
printf '%s\n' "$kver" > "$outdir/kernel-version.tmp" && mv -f "$outdir/kernel-version.tmp" "$outdir/kernel-version"
ln -sfn "kernel/boot/vmlinuz-$kver" "$outdir/vmlinuz"

# ---------------------------------------------------------------- initramfs
# Modules loaded by /init (their dependencies are added from modules.dep).
boot_modules=(
    virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    netfs fscache 9pnet 9pnet_virtio 9p
    overlay
    crct10dif_common crc-t10dif crc64 crc64-rocksoft crc64_rocksoft_generic t10-pi nvme-core nvme
    irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci
)

[ -f "$init_script" ] || die "missing $init_script"
ihash=$( { cat "$init_script" "${BASH_SOURCE[0]}"; printf '%s\n' "${boot_modules[@]}" "$busybox"; } |
         sha256sum | cut -c1-16)
istamp="$outdir/.stamp-initramfs-$kver-$ihash"
if [ -e "$istamp" ] && [ -s "$outdir/initramfs.cpio.gz" ]; then
    log "initramfs up to date ($outdir/initramfs.cpio.gz)"
    exit 0
fi

log "building initramfs for $kver (init hash $ihash)"
moddir="$kdir/lib/modules/$kver"
stage=$(mktemp -d "$outdir/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# modules.dep lines: "kernel/path/name.ko: kernel/dep1.ko kernel/dep2.ko"
declare -A want=()
lookup() { # module name -> relative path, with - and _ equivalent
    local n=${1//-/_}
    awk -F: -v n="$n" '{
        p = $1; b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b)
        if (b == n) { print p; exit }
    }' "$moddir/modules.dep"
}
add_module() {
    local rel=$1 dep
    [ -n "${want[$rel]:-}" ] && return 0
    want[$rel]=1
    for dep in $(awk -F: -v p="$rel" '$1 == p { print $2; exit }' "$moddir/modules.dep"); do
        add_module "$dep"
    done
}
for m in "${boot_modules[@]}"; do
    rel=$(lookup "$m")
    if [ -z "$rel" ]; then
        # Built into this kernel?  Then there is nothing to pack.
        if grep -qE "/${m//[-_]/[-_]}\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
            continue
        fi
        die "module $m not found in $moddir/modules.dep"
    fi
    add_module "$rel"
done

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,lower,newroot,mnt,etc,root} "$stage/lib/modules/$kver"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$stage/bin/$applet"
done
for rel in "${!want[@]}"; do
    mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
    cp "$moddir/$rel" "$stage/lib/modules/$kver/$rel"
done
cp "$moddir"/modules.builtin "$moddir"/modules.builtin.modinfo "$moddir"/modules.order "$stage/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$stage" "$kver"
install -m 0755 "$init_script" "$stage/init"
printf '%s\n' "$kver" > "$stage/etc/kernel-version"
printf '%s\n' "${boot_modules[@]}" > "$stage/etc/boot-modules"
# Device nodes the kernel needs before devtmpfs is mounted.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
     cpio --null -o -H newc --quiet --owner=0:0 | gzip -6 -n) > "$outdir/initramfs.cpio.gz.tmp"
mv -f "$outdir/initramfs.cpio.gz.tmp" "$outdir/initramfs.cpio.gz"
rm -f "$outdir"/.stamp-initramfs-*
touch "$istamp"
log "wrote $outdir/initramfs.cpio.gz ($(du -h "$outdir/initramfs.cpio.gz" | cut -f1), ${#want[@]} modules)"
