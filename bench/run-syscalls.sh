#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# System calls per operation of bench-model's phases (the model's per-uevent cost is
# mostly system calls, which callgrind does not see). Runs bench-model once under
# strace with $BENCH_SYSCALL_MARKERS (each phase between access("/@bench/begin/<phase>")
# and access("/@bench/end/<phase>")), counts the calls in each phase and prints calls
# per operation and the most frequent ones. Results: bench/results/model-syscalls.json.
#
# Usage: bench/run-syscalls.sh [BENCH-MODEL] [bench-model args, default --sizes 1024]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
exe=${1:-$src/build/bench/bench-model}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- --sizes 1024
results=${SRIOV_BENCH_RESULTS:-$here/results}

[ -x "$exe" ] || { echo "run-syscalls: $exe not built" >&2; exit 1; }
command -v strace >/dev/null || { echo "run-syscalls: strace not installed" >&2; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/bench-syscalls.XXXXXX")
trap 'rm -rf "$out"' EXIT

BENCH_SYSCALL_MARKERS=1 strace -qq -o "$out/trace" "$exe" --reps 1 "$@" >"$out/stdout" 2>"$out/stderr" || {
        cat "$out/stderr" >&2
        exit 1
}
mkdir -p "$results"
/usr/bin/python3 - "$out/trace" "$out/stdout" "$results/model-syscalls.json" "$@" <<'EOF'
import collections, json, os, platform, re, sys, datetime
trace, stdout, dest = sys.argv[1:4]
ops = {}
n_vfs = []
for line in open(stdout):
    m = re.match(r'\s*(\d+)\s+(\S+)\s+(\d+)\s', line)
    if m:
        ops[(int(m.group(1)), m.group(2))] = int(m.group(3))
        if int(m.group(1)) not in n_vfs:
            n_vfs.append(int(m.group(1)))
rows, cur, counts, run = [], None, None, -1
seen_phases = set()
for line in open(trace):
    m = re.search(r'access\("/@bench/(begin|end)/([^"]+)"', line)
    if m:
        what, phase = m.groups()
        if what == 'begin':
            if phase == 'scan':
                run += 1
            cur, counts = phase, collections.Counter()
        elif cur == phase:
            n = n_vfs[run] if 0 <= run < len(n_vfs) else None
            o = ops.get((n, phase), 1)
            total = sum(counts.values())
            rows.append({'n_vfs': n, 'phase': phase, 'ops': o, 'syscalls': total,
                         'syscalls_per_op': total / o,
                         'top_per_op': {k: round(v / o, 2) for k, v in counts.most_common(8)}})
            cur = None
        continue
    if cur is not None:
        m = re.match(r'(\w+)\(', line)
        if m:
            counts[m.group(1)] += 1
print('%6s  %-13s  %6s  %10s  %8s  %s' % ('N VFs', 'phase', 'ops', 'syscalls', 'per op', 'most frequent (per op)'))
print('%6s  %-13s  %6s  %10s  %8s  %s' % ('-' * 6, '-' * 13, '-' * 6, '-' * 10, '-' * 8, '-' * 22))
for r in rows:
    top = ' '.join('%s=%g' % kv for kv in list(r['top_per_op'].items())[:6])
    print('%6s  %-13s  %6d  %10d  %8.1f  %s' % (r['n_vfs'], r['phase'], r['ops'], r['syscalls'],
                                                r['syscalls_per_op'], top))
doc = {'benchmark': 'model-syscalls',
       'machine': {'nproc': os.cpu_count(), 'loadavg': list(os.getloadavg()),
                   'kernel': platform.release(),
                   'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')},
       'params': {'tool': 'strace', 'args': sys.argv[4:]}, 'results': rows}
with open(dest, 'w') as f:
    json.dump(doc, f, indent=1)
    f.write('\n')
print('results: %s' % dest)
EOF
