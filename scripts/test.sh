#!/usr/bin/env bash
# `make test`: builds and runs every test tier in three configurations.
#   release  -Werror, RelWithDebInfo: every tier (unit, component, integration, e2e, lint)
#   asan     -Werror, AddressSanitizer + UndefinedBehaviorSanitizer: unit, component, integration
#   fuzz     clang-14 libFuzzer: each fuzz target for a short run over its committed corpus
# Every stage runs even when an earlier one fails; the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc)
ctest_jobs=${EDGEHUB_CTEST_JOBS:-$jobs}
failed=()
start=$(date +%s)

stage() {  # stage NAME TARGET CONFIGURE_ARGS... -- CTEST_ARGS...
  local name=$1 target=$2; shift 2
  local cfg=() ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do cfg+=("$1"); shift; done
  shift || true
  ctest_args=("$@")
  local dir="$build/$name"
  echo "=== [$name] configure and build"
  if ! cmake -S . -B "$dir" -G Ninja "${launcher[@]}" "${cfg[@]}" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; failed+=("$name (configure)"); return
  fi
  if ! cmake --build "$dir" -j "$jobs" --target "$target"; then failed+=("$name (build)"); return; fi
  echo "=== [$name] test"
  if ! (cd "$dir" && ctest --output-on-failure -j "$ctest_jobs" "${ctest_args[@]}"); then
    failed+=("$name (tests)")
  fi
}

# ccache (installed by install-deps.sh) makes a rebuild on the same machine cheap; a cold cache
# costs nothing but the cache writes.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  # Paths relative to the checkout, so a clone in another folder (CI) reuses the same objects.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  # Debug builds would otherwise hash the build directory too (it is in the debug info).
  export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
fi

mkdir -p "$build"
stage release all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEHUB_WERROR=ON -- -LE fuzz
stage asan all -DCMAKE_BUILD_TYPE=Debug -DEDGEHUB_WERROR=ON "-DEDGEHUB_SANITIZE=address;undefined" \
  -DEDGEHUB_BENCH=OFF -- -L "unit|component|integration"
stage fuzz edgehub_fuzzers -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEHUB_FUZZ=ON -DEDGEHUB_BENCH=OFF \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -- -L fuzz

echo "=== make test finished in $(( $(date +%s) - start )) s"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all stages passed"
