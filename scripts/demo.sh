#!/bin/bash
# scripts/demo.sh: build sriovd and watch it manage SR-IOV on a real Linux
# kernel, in a QEMU (TCG) guest with an emulated SR-IOV NVMe controller.
# Takes about a minute after the build; needs root for apt-get only.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ -x scripts/setup.sh ]; then
    scripts/setup.sh
else
    # Packages for the VM (scripts/setup.sh, when present, installs these and the build deps).
    pkgs=(qemu-system-x86 busybox-static cpio kmod jq)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "demo: installing ${missing[*]}" >&2
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
fi

[ -f build/build.ninja ] || meson setup build
meson compile -C build
tests/vm/prepare.sh build/vm-cache
exec /usr/bin/python3 tests/vm/run-scenario --vmdir build/vm-cache --repo "$repo" --build "$repo/build" \
    --out build/vm-out/demo --timeout 300 tests/vm/scenarios/demo.sh
