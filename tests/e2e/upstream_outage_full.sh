#!/usr/bin/env bash
# The issue's full-length upstream outage (10 minutes of mosquitto down under steady load), which
# `make test` runs shortened to 60 s. Usage: tests/e2e/upstream_outage_full.sh [BUILD_DIR]
# (UPSTREAM_OUTAGE_SECONDS overrides the length.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
export EDGEHUBD_BINARY=$build/src/app/edgehubd EDGEHUBCTL_BINARY=$build/src/app/edgehubctl
export UPSTREAM_OUTAGE_SECONDS=${UPSTREAM_OUTAGE_SECONDS:-600}
cd "$here"
exec node --test --test-reporter=spec --test-name-pattern='outage' upstream_mqtt.test.mjs
