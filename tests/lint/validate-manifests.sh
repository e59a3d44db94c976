#!/bin/bash
# The lint suite's Kubernetes test: every manifest in deploy/kubernetes/ is valid against
# the Kubernetes OpenAPI schema (kubernetes-models, plus a strict check for unknown fields
# through @kubernetes/client-node's models), and every manifest in tests/lint/bad/ is
# refused, so a validator that accepts everything fails here.
#
# What it needs (package.json, pinned) is installed from the npm registry into a cache
# folder, never into the tree: $SRIOVD_LINT_CACHE, default ~/.cache/sriovd-lint.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SRIOVD_LINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sriovd-lint}

command -v node >/dev/null || { echo "node is not installed (scripts/setup.sh installs nodejs)" >&2; exit 1; }
mkdir -p "$cache"
if ! cmp -s "$here/package.json" "$cache/package.json" || [ ! -d "$cache/node_modules/kubernetes-models" ]; then
    cp "$here/package.json" "$cache/package.json"
    echo "installing the validator into $cache" >&2
    (cd "$cache" && npm install --no-audit --no-fund --no-package-lock --silent) >&2 || {
        echo "npm install failed: the npm registry must be reachable once to fill $cache" >&2
        exit 1
    }
fi
cp "$here/validate-manifests.mjs" "$cache/validate-manifests.mjs"

shopt -s nullglob
good=("$repo"/deploy/kubernetes/*.yaml)
bad=("$here"/bad/*.yaml)
[ ${#good[@]} -gt 0 ] || { echo "no manifests in deploy/kubernetes/" >&2; exit 1; }
[ ${#bad[@]} -gt 0 ] || { echo "no negative cases in tests/lint/bad/" >&2; exit 1; }

rc=0
node "$cache/validate-manifests.mjs" "${good[@]}" || rc=1
node "$cache/validate-manifests.mjs" --expect-invalid "${bad[@]}" || rc=1
exit $rc
