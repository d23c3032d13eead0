#!/usr/bin/env bash
# The one test command: tools, lint and type check, then every test (ava 8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-tools.sh
# npm puts node_modules/.bin first on the PATH: the `node` package pins Node 24 LTS whatever the machine has.
node scripts/check-node.mjs
npm run --silent lint
# ava's own summary says "N tests passed"; also print the plain "N passed, N failed" line.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx ava "$@" 2>&1 | tee "$log" || status=$?
# ava's summary leaves out the passes when something failed: count its per-test lines instead.
passed=$(grep -cE '^ +✔ ' "$log" || true)
failed=$(grep -oE '^ +[0-9]+ tests? failed' "$log" | grep -oE '[0-9]+' | tail -1 || true)
echo "ava: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
