#!/bin/bash
# Runs libFuzzer over every target (or the ones named), one at a time at the lowest
# priority: the machine is shared. New inputs go to a work corpus outside the tree
# (FUZZ_WORK, default /tmp/sriovd-fuzz); a crash leaves FUZZ_WORK/<target>-crash-*,
# which belongs in tests/fuzz/<target>/ once fixed.
#   tests/fuzz/run-fuzzers.sh [-runs=N] [target...]     (default 10,000,000 runs each)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SRIOVD_FUZZ_BUILD_DIR:-$repo/build-fuzz}
work=${FUZZ_WORK:-/tmp/sriovd-fuzz}
runs=10000000
if [[ ${1:-} == -runs=* ]]; then runs=${1#-runs=}; shift; fi

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$repo" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dtests=enabled -Dwerror=true
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-address fuzz-aer fuzz-uevent fuzz-config fuzz-netlink fuzz-api-request fuzz-api-body fuzz-cli-response)
meson compile -C "$build" "${targets[@]}"

# -max_len: a little over the longest input each parser reads whole (a PCI address,
# a uevent buffer, a sysfs page, a few config lines, a request line, a body).
declare -A max_len=([fuzz-address]=64 [fuzz-aer]=4096 [fuzz-uevent]=2048 [fuzz-config]=2048
                    [fuzz-netlink]=256 [fuzz-api-request]=1024 [fuzz-api-body]=4096
                    [fuzz-cli-response]=1024)
mkdir -p "$work"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    echo "== $t: $runs runs" >&2
    # -jobs=1 runs one worker and logs to fuzz-0.log in the current directory
    (cd "$work" && nice -n 19 "$build/tests/fuzz/$t" -runs="$runs" -max_len="${max_len[$t]:-4096}" \
        -jobs=1 -workers=1 -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$work/$t-" "$work/$t" "$repo/tests/fuzz/$t" >/dev/null 2>&1 || true)
    mv "$work/fuzz-0.log" "$work/$t.log"
    grep -E '^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)' "$work/$t.log" >&2 || true
done
