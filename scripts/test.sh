#!/usr/bin/env bash
# The one test command: tools, lint and type check, then every test (ava 7).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-tools.sh
npm run --silent build:client
npm run --silent lint
npx ava "$@"
