#!/usr/bin/env bash
# The side-by-side benchmark: edgehubd and a mosquitto bridge (the baseline) forwarding the same
# device traffic to the same broker B, measured in the same run (docs/performance.md).
#
#   bench/run.sh              the suite (under 10 minutes): scenarios 1, 2 and 4 three times,
#                             alternating which system goes first, then the rate ramp and the
#                             outage drain once; median and min-max of the runs
#   bench/run.sh --quick      a small version of every scenario once (< 60 s): checks the tooling
#                             and correctness (no loss, no duplicates outside the outage), never
#                             a timing; run by ctest as bench.quick
#   bench/run.sh --idle-10k   also scenario 4 at 10,000 connections (raises the open files limit)
#   bench/run.sh --only storm,steady,idle,ramp,drain   only these scenarios (for A/B work on one
#                             figure; the other rows print n/a)
#   bench/run.sh --rate N     the steady scenario at N msg/s instead of 5,000 (profiling a rate
#                             on the ramp)
#
# Binaries: EDGEHUBD, EDGEHUBCTL, LOADGEN, TLS_FLOOR, COMMIT_FLOOR, or BUILD_DIR (default
# build/release, what `make build` makes). Prints one table: figure, edgehubd, mosquitto, ratio,
# target. Exit status 1 if a correctness check failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/release}
EDGEHUBD=${EDGEHUBD:-$build/src/app/edgehubd}
EDGEHUBCTL=${EDGEHUBCTL:-$build/src/app/edgehubctl}
LOADGEN=${LOADGEN:-$build/bench/loadgen/loadgen}
TLS_FLOOR=${TLS_FLOOR:-$build/bench/tls_floor/tls_floor}
COMMIT_FLOOR=${COMMIT_FLOOR:-$build/bench/commit_floor/commit_floor}
quick=0 idle_10k=0 keep=0 reps=3 only=storm,steady,idle,ramp,drain steady_rate=
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --idle-10k) idle_10k=1 ;;
    --keep) keep=1 ;;
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --rate) steady_rate=$2; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--idle-10k] [--reps N] [--only LIST] [--rate N] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [[ ,$only, == *,$1,* ]]; }  # wanted SCENARIO: selected by --only
needed=("$EDGEHUBD" "$EDGEHUBCTL" "$LOADGEN")
wanted storm && needed+=("$TLS_FLOOR")
wanted steady && needed+=("$COMMIT_FLOOR")
for bin in "${needed[@]}"; do
  [[ -x $bin ]] || { echo "bench: $bin not built (make build, or set BUILD_DIR)" >&2; exit 2; }
done
command -v mosquitto >/dev/null || { echo "bench: mosquitto not installed (make deps)" >&2; exit 2; }
export EDGEHUBD EDGEHUBCTL LOADGEN
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgehub-bench.XXXXXX")
mkdir -p "$WORK/results"
failures=()
SUT_PID="" B_PID=""

# shellcheck source-path=SCRIPTDIR source=scenarios/lib.sh
source "$root/bench/scenarios/lib.sh"
for f in storm steady drain idle; do
  # shellcheck source=/dev/null
  source "$root/bench/scenarios/$f.sh"
done

cleanup() {
  stop_pid "$SUT_PID"
  stop_pid "$B_PID"
  if ((keep)); then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

record() { echo "$3" >>"$WORK/results/$1.$2"; }  # record FIGURE SYSTEM VALUE
fail() {  # fail WHAT: a failed correctness check
  failures+=("$1")
  echo "bench: FAILED: $1" >&2
}
check() {  # check WHAT VALUE -eq|-le|... EXPECTED: a correctness assertion
  if [[ -z $2 ]] || ! test "$2" "$3" "$4"; then fail "$1 (got '${2}', want $3 $4)"; fi
}
progress() { echo "bench: $(date -u +%T) $*" >&2; }

# OpenSSL's own server cost of one full handshake with edgehubd's TLS context, in memory (no
# sockets, no MQTT): the floor under the storm's CPU per connection, for any server using this
# OpenSSL. Recorded in the edgehubd column; its row's ratio is to mosquitto's whole connection.
tls_floor() {  # tls_floor ec|rsa
  local out
  out=$(taskset -c "$SUT_CPU" "$TLS_FLOOR" --key "$1" --handshakes "$storm_n" --rounds 1) ||
    { fail "tls_floor $1 did not run"; return; }
  record "tls_floor_$1_us" edgehubd "$(kv server_us_per_handshake <<<"$out")"
}

# The operating system's cost of one durable commit (4 pages written and fdatasync'd) on the
# filesystem holding the store: the floor under each group commit edgehubd makes.
commit_floor() {
  local out
  out=$(taskset -c "$SUT_CPU" "$COMMIT_FLOOR" --dir "$WORK" --pages 4 --commits 1000) ||
    { fail "commit_floor did not run"; return; }
  record commit_floor_cpu_us edgehubd "$(kv cpu_us_per_commit <<<"$out")"
  record commit_floor_wall_us edgehubd "$(kv wall_us_per_commit <<<"$out")"
}

# Alternate which system runs first in each round (A/B, B/A, ...).
order() { if (($1 % 2)); then echo edgehubd mosquitto; else echo mosquitto edgehubd; fi; }

if ((idle_10k)); then
  ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if ((quick)); then
  storm_n=100 rate=1000 seconds=3 drain_n=5000 idle_n=100 reps=1
else
  storm_n=2000 rate=5000 seconds=8 drain_n=200000 idle_n=1000
fi
rate=${steady_rate:-$rate}
identities=$storm_n
((idle_n > identities)) && identities=$idle_n
((idle_10k)) && identities=10000
progress "setting up the PKI and $identities identities in $WORK"
setup_pki "$identities"
start_broker_b

for ((round = 1; round <= reps; round++)); do
  for system in $(order "$round"); do
    if wanted storm; then
      progress "round $round/$reps: $system: connection storm ($storm_n)"
      scenario_storm "$system" ec "$storm_n"
      scenario_storm "$system" rsa "$storm_n"
      if [[ $system == edgehubd ]]; then tls_floor ec; tls_floor rsa; fi
    fi
    if wanted steady; then
      progress "round $round/$reps: $system: steady $rate msg/s"
      scenario_steady "$system" all "$rate" "$seconds"
      if [[ $system == edgehubd ]]; then
        scenario_steady edgehubd half "$rate" "$seconds"
        scenario_steady_amqp "$rate" "$seconds"
        commit_floor
      fi
    fi
    if wanted idle; then
      progress "round $round/$reps: $system: idle ($idle_n)"
      scenario_idle "$system" "$idle_n"
      if ((idle_10k)); then scenario_idle "$system" 10000; fi
    fi
  done
done
if ((!quick)) && wanted ramp; then
  for system in edgehubd mosquitto; do
    progress "$system: rate ramp"
    scenario_ramp "$system" 5 5000 6000 7000 8000 9000 10000 12500 15000 20000 25000 30000 40000 50000
  done
fi
for system in edgehubd mosquitto; do
  wanted drain || break
  progress "$system: offline then drain ($drain_n)"
  scenario_drain "$system" "$drain_n"
done

# --- the table ---------------------------------------------------------------------------------

summary() {  # summary FIGURE SYSTEM: "median [min-max]" or n/a
  local f="$WORK/results/$1.$2"
  [[ -s $f ]] || { echo "n/a"; return; }
  sort -g "$f" | awk '{ v[NR] = $1 } END {
    m = v[int((NR + 1) / 2)]
    if (NR == 1) printf "%.4g", m; else printf "%.4g [%.4g-%.4g]", m, v[1], v[NR] }'
}
median() {
  local f="$WORK/results/$1.$2"
  [[ -s $f ]] && sort -g "$f" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
row() {  # row LABEL FIGURE_EDGEHUBD FIGURE_MOSQUITTO TARGET
  local e m ratio=n/a
  e=$(median "$2" edgehubd) m=$(median "$3" mosquitto)
  if [[ -n $e && -n $m ]]; then ratio=$(awk -v e="$e" -v m="$m" 'BEGIN { if (m > 0) printf "%.2f", e / m; else print "n/a" }'); fi
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$(summary "$2" edgehubd)" "$(summary "$3" mosquitto)" "$ratio" "$4"
}

echo
echo "| figure | edgehubd | mosquitto | ratio | target |"
echo "|---|---|---|---|---|"
row "CPU µs per TLS connection setup, ECDSA P-256 ($storm_n)" storm_ec_cpu_us_per_conn storm_ec_cpu_us_per_conn "≤ 0.5"
row "CPU µs per TLS connection setup, RSA 2048 ($storm_n)" storm_rsa_cpu_us_per_conn storm_rsa_cpu_us_per_conn "-"
row "OpenSSL alone, server CPU µs per handshake, ECDSA (bench/tls_floor; ratio: to mosquitto's connection)" tls_floor_ec_us storm_ec_cpu_us_per_conn "floor"
row "OpenSSL alone, server CPU µs per handshake, RSA 2048 (as above)" tls_floor_rsa_us storm_rsa_cpu_us_per_conn "floor"
row "CPU µs per message, all-pass route, $rate msg/s" steady_all_cpu_us_per_msg steady_all_cpu_us_per_msg "≤ 0.8"
row "OS alone, CPU µs per durable commit, 4 pages + fdatasync (bench/commit_floor)" commit_floor_cpu_us - "floor"
row "OS alone, wall µs per durable commit (as above)" commit_floor_wall_us - "-"
row "CPU µs per ingested message, WHERE \$body.temp > 50 (50%)" steady_half_cpu_us_per_msg steady_all_cpu_us_per_msg "-"
row "CPU µs per message, devices over AMQP (mosquitto: its MQTT run)" steady_amqp_cpu_us_per_msg steady_all_cpu_us_per_msg "-"
row "latency p50 ms, all-pass, $rate msg/s" steady_all_p50_ms steady_all_p50_ms "-"
row "latency p99 ms, all-pass, $rate msg/s" steady_all_p99_ms steady_all_p99_ms "-"
row "latency p99 ms, WHERE temp > 50, $rate msg/s" steady_half_p99_ms steady_all_p99_ms "-"
row "latency p99 ms, devices over AMQP, $rate msg/s" steady_amqp_p99_ms steady_all_p99_ms "-"
((quick)) || row "highest rate msg/s with p99 < 50 ms" max_rate_p99_under_50ms max_rate_p99_under_50ms "≥ 1.0"
row "offline ingest msg/s ($drain_n queued)" drain_ingest_rate drain_ingest_rate "-"
row "RSS bytes per queued message" drain_rss_bytes_per_queued drain_rss_bytes_per_queued "-"
row "disk bytes per queued message" drain_disk_bytes_per_queued drain_disk_bytes_per_queued "-"
row "drain msg/s after the outage" drain_rate drain_rate "≥ 1.0"
row "seconds from B's return to the first delivery" drain_resume_s drain_resume_s "-"
row "duplicates after the outage (at-least-once)" drain_duplicates drain_duplicates "-"
row "idle RSS MiB, no connections (edgehubd: $identities identities loaded)" idle_rss_mib idle_rss_mib "< 15 MiB"
row "RSS KiB per idle TLS connection ($idle_n)" "idle_rss_kib_per_conn_$idle_n" "idle_rss_kib_per_conn_$idle_n" "≤ 1.0"
((idle_10k)) && row "RSS KiB per idle TLS connection (10000)" idle_rss_kib_per_conn_10000 idle_rss_kib_per_conn_10000 "≤ 1.0"
echo
echo "runs: $reps; SUT on CPU $SUT_CPU, load generator and broker B on CPU $LOAD_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if ((${#failures[@]})); then
  printf 'FAILED: %s\n' "${failures[@]}"
  # What the processes said, for a failure seen only in a CI log.
  for log in loadgen edgehubd bridge-a broker-b; do
    [[ -s $WORK/$log.log ]] || continue
    echo "--- last lines of $log.log"
    grep -v 'should not be run as root' "$WORK/$log.log" | tail -15
  done
  exit 1
fi
echo "correctness checks passed"
