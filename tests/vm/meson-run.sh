#!/bin/bash
# tests/vm/meson-run.sh NAME SCENARIO REPO BUILD [RUN-SCENARIO OPTIONS...]
# Meson test wrapper: prepares the VM kernel + initramfs (cached in
# BUILD/vm-cache or $SRIOV_VM_CACHE) and runs one scenario with run-scenario.
# The console log goes to BUILD/meson-logs/vm-NAME.log, /out to BUILD/vm-out/NAME.
# Options after BUILD go to run-scenario as they are (e.g. --systemd).
# Exits 77 (skipped) when QEMU is not installed.
set -uo pipefail
[ $# -ge 4 ] || { echo "usage: $0 NAME SCENARIO REPO BUILD [RUN-SCENARIO OPTIONS...]" >&2; exit 2; }
name=$1 scenario=$2 repo=$3 build=$4
shift 4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "SKIP: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
    exit 77
fi

cache=${SRIOV_VM_CACHE:-$build/vm-cache}
"$here/prepare.sh" "$cache" || { echo "prepare.sh $cache failed" >&2; exit 1; }

log=$build/meson-logs/vm-$name.log
out=$build/vm-out/$name
rm -rf "$out"
mkdir -p "$out" "$(dirname "$log")"
start=$SECONDS
/usr/bin/python3 "$here/run-scenario" --quiet --vmdir "$cache" --repo "$repo" --build "$build" \
    --out "$out" --log "$log" ${SRIOV_VM_TIMEOUT:+--timeout "$SRIOV_VM_TIMEOUT"} "$@" "$scenario"
rc=$?
# The scenario's own verdicts, for meson's test log.
grep -aE '^(PASS|FAIL|SKIP): |^[0-9]+ passed, [0-9]+ failed' "$log" || true
echo "vm-$name: exit $rc in $((SECONDS - start)) s; console log: $log"
exit "$rc"
