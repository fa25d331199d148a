#!/usr/bin/env bash
# run-long.sh [-b BUILD_DIR] [-j JOBS] [-n] [DURATION]
#
# Long fuzzing campaign: runs every libFuzzer target of the fuzz build for DURATION each (one after
# the other; JOBS parallel workers per target), over its committed seeds plus a persistent scratch
# corpus, and reports executions and findings per target. DURATION is seconds or a number with
# s/m/h (default 1h, so a full campaign over the 10 targets is a night). Findings (crash-, leak-,
# timeout-, oom- files) stay in BUILD_DIR/fuzz-long/<target>/artifacts; reproduce one with
# `BUILD_DIR/tests/fuzz/<target> FILE`. Exit status: 0 without findings, 1 with, 2 on usage errors.
#
# The fuzz build is configured when missing (clang-14, EDGEHUB_FUZZ=ON) and brought up to date
# first, unless -n: then the targets already built there are run as they are.
set -euo pipefail
shopt -s nullglob

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"
jobs=1
build_first=1
while getopts "b:j:nh" opt; do
  case $opt in
    b) build=$(realpath -m "$OPTARG") ;;
    j) jobs=$OPTARG ;;
    n) build_first=0 ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
duration=${1:-1h}

if [[ ! $duration =~ ^([0-9]+)([smh]?)$ ]]; then
  echo "run-long.sh: DURATION must be seconds or N[smh], not '$duration'" >&2
  exit 2
fi
case ${BASH_REMATCH[2]} in
  h) seconds=$(( BASH_REMATCH[1] * 3600 )) ;;
  m) seconds=$(( BASH_REMATCH[1] * 60 )) ;;
  *) seconds=${BASH_REMATCH[1]} ;;
esac
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run-long.sh: JOBS must be a positive integer" >&2; exit 2; }

if (( build_first )); then
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DEDGEHUB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
  fi
  ninja -C "$build" edgehub_fuzzers >/dev/null
fi

mapfile -t targets < <(find "$build/tests/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x \
                        -printf '%f\n' | sort)
if (( ${#targets[@]} == 0 )); then
  echo "run-long.sh: no fuzz targets in $build/tests/fuzz" >&2
  exit 2
fi

echo "run-long.sh: ${#targets[@]} targets, ${seconds}s each, $jobs job(s) per target, $(date -u +%FT%TZ)"
results=()
total_findings=0
for t in "${targets[@]}"; do
  work="$build/fuzz-long/$t"
  mkdir -p "$work/corpus" "$work/artifacts" "$work/logs"
  seeds="$root/tests/fuzz/corpus/$t"
  dirs=("$work/corpus")
  [[ -d $seeds ]] && dirs+=("$seeds")
  before=$(find "$work/artifacts" -type f | wc -l)
  log="$work/logs/run-$(date -u +%Y%m%dT%H%M%SZ).log"
  echo "== $t: $log"
  # libFuzzer exits non-zero on a finding; the campaign goes on to the next target.
  set +e
  if (( jobs > 1 )); then
    (cd "$work/logs" && ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" -jobs="$jobs" -workers="$jobs" "${dirs[@]}" >"$log" 2>&1)
  else
    ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$log" 2>&1
  fi
  set -e
  # With -jobs each worker writes fuzz-N.log next to the main log; sum their stats.
  worker_logs=("$work"/logs/fuzz-*.log)
  execs=$(cat "$log" "${worker_logs[@]}" |
            awk '/stat::number_of_executed_units/ {n += $NF} END {print n + 0}')
  corpus=$(find "$work/corpus" -type f | wc -l)
  after=$(find "$work/artifacts" -type f | wc -l)
  findings=$(( after - before ))
  total_findings=$(( total_findings + findings ))
  results+=("$(printf '%-26s %14s %8s %9s' "$t" "$execs" "$corpus" "$findings")")
  rm -f "$work"/logs/fuzz-*.log
done

echo
printf '%-26s %14s %8s %9s\n' target executions corpus findings
printf '%s\n' "${results[@]}"
echo "total findings: $total_findings (artifacts under $build/fuzz-long/*/artifacts)"
(( total_findings == 0 ))
