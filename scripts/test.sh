#!/bin/bash
# Runs every test tier: unit (cmocka, plus the fuzz corpora replayed), sim (real sriovd
# against a umockdev simulated kernel), vm (the Debian kernel under QEMU with an emulated
# SR-IOV NVMe controller); then the sanitizer tier: unit and sim built with clang under
# ASan+UBSan (leak detection on), and the threaded sim tests under TSan.
# Sets up what it needs first.
#   scripts/test.sh                 everything
#   scripts/test.sh --suite unit    one tier of the main build (meson test arguments);
#                                   the sanitizer tier then runs only with SRIOVD_SANITIZERS=1
#   SRIOVD_SANITIZERS=0             skip the sanitizer tier
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
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"

sanitizers=${SRIOVD_SANITIZERS:-$([ $# -eq 0 ] && echo 1 || echo 0)}
[ "$sanitizers" = 1 ] || exit 0

# clang, not gcc: gcc's ASan runtime is a shared library that must come first in the
# library list, which umockdev's LD_PRELOAD breaks; clang links its runtimes statically.
# UBSan reports abort the program; the sim harness (tests/sim/simkernel.py) points every
# runtime's log_path into a folder it checks after each test.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$repo/tests/sim/lsan.supp
san_setup() {   # dir, sanitizer
    if [ ! -f "$1/build.ninja" ]; then
        CC=clang meson setup "$1" -Dwerror=true -Dtests=enabled -Db_sanitize="$2" -Db_lundef=false
    fi
    meson compile -C "$1"
}
san_setup build-asan address,undefined
SRIOVD_SANITIZER=address,undefined meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite sim

# TSan: the sim tests whose daemon runs worker threads under load (hung writes, lock
# files, concurrent clients, recovery jobs, kill -9 mid-write).
san_setup build-tsan thread
SRIOVD_SANITIZER=thread meson test -C build-tsan --print-errorlogs --num-processes 2 test_enable test_faults
