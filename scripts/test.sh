#!/bin/bash
# Runs every test tier: unit (cmocka), sim (real sriovd against a umockdev simulated
# kernel), vm (the Debian kernel under QEMU with an emulated SR-IOV NVMe controller).
# Sets up what it needs first. Usage: scripts/test.sh [meson test args, e.g. --suite unit]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scripts/setup.sh
build=${SRIOVD_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dwerror=true -Dtests=enabled
fi
meson compile -C "$build"
# The VM tier boots a kernel per scenario under TCG: minutes, not seconds.
exec meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
