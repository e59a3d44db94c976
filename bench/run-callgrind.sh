#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Instruction counts of bench-model's phases under callgrind (repeatable, unlike time
# on a shared machine). Each phase is bracketed in model.c by CALLGRIND_ZERO_STATS and
# CALLGRIND_DUMP_STATS_AT("<phase> n=<N> ops=<ops>"); this script runs the program under
# valgrind --tool=callgrind, reads the "totals:" (Ir) of each dump and prints
# instructions per operation. Results: bench/results/model-callgrind.json.
#
# Usage: bench/run-callgrind.sh [BENCH-MODEL] [bench-model args, e.g. --sizes 1024]
#   BENCH-MODEL defaults to build/bench/bench-model.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
exe=${1:-$src/build/bench/bench-model}
[ $# -gt 0 ] && shift
results=${SRIOV_BENCH_RESULTS:-$here/results}

if [ ! -x "$exe" ]; then
        echo "run-callgrind: $exe not built (ninja -C build bench/bench-model)" >&2
        exit 1
fi
command -v valgrind >/dev/null || { echo "run-callgrind: valgrind not installed" >&2; exit 1; }

out=$(mktemp -d "${TMPDIR:-/tmp}/bench-callgrind.XXXXXX")
trap 'rm -rf "$out"' EXIT

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# callgrind: $exe $*   (load average $load; instruction counts do not depend on it)"
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out.%p" \
        "$exe" --reps 1 "$@" >"$out/stdout" 2>"$out/stderr" || {
        cat "$out/stderr" >&2
        exit 1
}

mkdir -p "$results"
/usr/bin/python3 - "$out" "$results/model-callgrind.json" "$src" "$@" <<'EOF'
import glob, json, os, platform, re, subprocess, sys, datetime
out, dest, src = sys.argv[1:4]
rows = []
for path in glob.glob(os.path.join(out, 'cg.out.*')):
    desc = total = None
    with open(path, errors='replace') as f:
        for line in f:
            if line.startswith('desc: Trigger: Client Request: '):
                desc = line.split(': ', 2)[2].replace('Client Request: ', '').strip()
            elif line.startswith('totals:') or line.startswith('summary:'):
                total = int(line.split()[1])
    m = re.match(r'(\S+) n=(\d+) ops=(\d+)$', desc or '')
    if not m or total is None:
        continue   # the final dump at exit, or the tree building
    phase, n, ops = m.group(1), int(m.group(2)), int(m.group(3))
    rows.append({'n_vfs': n, 'phase': phase, 'ops': ops, 'instructions': total,
                 'instructions_per_op': total / ops if ops else None})
order = ['scan', 'scan-nonames', 'refresh-vf', 'refresh-pf', 'resync-pf', 'forget-vf', 'add-vf',
         'json-build', 'json-string', 'json-pf']
rows.sort(key=lambda r: (r['n_vfs'], order.index(r['phase']) if r['phase'] in order else 99))
if not rows:
    sys.exit('run-callgrind: no phase dumps found (built without valgrind/callgrind.h?)')
print('%6s  %-13s  %6s  %14s  %12s' % ('N VFs', 'phase', 'ops', 'instructions', 'instr/op'))
print('%6s  %-13s  %6s  %14s  %12s' % ('-' * 6, '-' * 13, '-' * 6, '-' * 14, '-' * 12))
for r in rows:
    print('%6d  %-13s  %6d  %14d  %12.0f' % (r['n_vfs'], r['phase'], r['ops'], r['instructions'],
                                            r['instructions_per_op']))
try:
    commit = subprocess.run(['git', '-C', src, 'rev-parse', 'HEAD'], capture_output=True,
                            text=True).stdout.strip()
except OSError:
    commit = None
doc = {'benchmark': 'model-callgrind',
       'machine': {'nproc': os.cpu_count(), 'loadavg': list(os.getloadavg()),
                   'kernel': platform.release(),
                   'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                   'git_commit': commit},
       'params': {'tool': 'valgrind --tool=callgrind', 'counter': 'Ir', 'args': sys.argv[4:]},
       'results': rows}
with open(dest, 'w') as f:
    json.dump(doc, f, indent=1)
    f.write('\n')
print('results: %s' % dest)
EOF
