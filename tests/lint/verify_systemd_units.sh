#!/usr/bin/env bash
# Runs `systemd-analyze verify` on systemd/edgehubd.service exactly as committed. verify also
# checks that ExecStart= binaries exist, so it runs against a scratch root that holds the
# system's unit tree, our unit, and the built binaries at the paths the unit names.
# usage: verify_systemd_units.sh SOURCE_DIR EDGEHUBD_BINARY
set -euo pipefail
src=$(cd "${1:?source dir}" && pwd) bin=${2:?edgehubd binary}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$bin" "$root/usr/bin/edgehubd"
cp /bin/kill "$root/bin/kill"
cp "$src/systemd/edgehubd.service" "$root/etc/systemd/system/"
systemd-analyze verify --root="$root" edgehubd.service
grep -q '^Type=notify$' "$src/systemd/edgehubd.service"
grep -q '^WatchdogSec=' "$src/systemd/edgehubd.service"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$src/systemd/edgehubd.service"
# The sysusers and tmpfiles entries must parse too.
systemd-sysusers --dry-run "$src/systemd/edgehubd.sysusers.conf" >/dev/null 2>&1 ||
  { echo "systemd-sysusers rejects edgehubd.sysusers.conf"; exit 1; }
echo "systemd units verified"
