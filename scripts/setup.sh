#!/bin/bash
# Installs what sriovd needs to build and to run all three test tiers, from Debian's
# archive. Idempotent: installs only what is missing, runs apt-get update only then.
set -euo pipefail

packages=(
    # build
    gcc meson ninja-build pkg-config
    # sanitizer tier and libFuzzer targets (tests/fuzz/)
    clang libclang-rt-14-dev
    libpci-dev libudev-dev libsystemd-dev libevent-dev libjson-c-dev libinih-dev
    libnl-3-dev libnl-route-3-dev
    # unit and sim tiers
    libcmocka-dev umockdev libumockdev-dev gir1.2-umockdev-1.0 python3-gi python3
    valgrind curl jq socat bash-completion groff-base man-db
    # vm tier: the Debian kernel is fetched with apt-get download by tests/vm/prepare.sh
    qemu-system-x86 busybox-static cpio kmod nvme-cli pciutils systemd udev iproute2
    # fleet: promtool and a Prometheus server (sim tier), node for the manifest lint
    prometheus nodejs
)
# npm comes with NodeSource's nodejs; Debian ships it as its own package.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# QEMU 10 (igb, the SR-IOV NIC of the VM tier) comes from bookworm-backports.
"$(dirname "$0")/setup-qemu.sh"

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} packages present" >&2
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run as root (apt-get install)" >&2
    exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
