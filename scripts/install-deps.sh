#!/usr/bin/env bash
# Installs what edgehubd needs to build, test and run its demo on Debian 12. Idempotent: with
# everything present it only checks (a few seconds) and never runs apt-get update.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ccache
  # libraries (design.md: the named dependencies, from Debian)
  libboost1.74-dev libboost-system1.74-dev libssl-dev libpaho-mqttpp-dev libpaho-mqtt-dev
  libqpid-proton-cpp12-dev libqpid-proton11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libsqlite3-dev libsystemd-dev
  # tests, fuzzing, benchmarks and tools they drive
  googletest libgtest-dev libgmock-dev libbenchmark-dev clang-14 libclang-rt-14-dev clang-format
  openssl sqlite3 mosquitto mosquitto-clients tinyproxy curl procps systemd iproute2
  # make package: CPack's DEB generator computes Depends with dpkg-shlibdeps
  dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Node.js may come from Debian or from another packaging of the same major version; only
# install Debian's when there is none at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} Debian packages present"
fi

# The end-to-end tests use the real Azure IoT device SDK, pinned by package-lock.json.
if [[ -f tests/e2e/package-lock.json ]]; then
  stamp=tests/e2e/node_modules/.lock-sha256
  want=$(sha256sum tests/e2e/package-lock.json | cut -d' ' -f1)
  if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "install-deps: npm ci in tests/e2e"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
fi
