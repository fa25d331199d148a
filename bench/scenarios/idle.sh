# shellcheck shell=bash
# Scenario 4, idle memory: the system under test's RSS before any connection (idle RSS) and its
# growth per held TLS connection, N connections held for a few seconds after the last CONNACK.
scenario_idle() {  # scenario_idle edgehubd|mosquitto CONNECTIONS
  local system=$1 n=$2 out
  start_sut "$system"
  sleep 1  # let start-up allocations settle before the baseline
  out=$(loadgen idle "${SUT_ARGS[@]}" --connections "$n" --concurrency 50 --settle 3 \
          --sut-pid "$SUT_PID" --timeout 300)
  stop_sut
  check "idle $system: all $n held" "$(kv connections_held <<<"$out")" -eq "$n"
  record "idle_rss_mib" "$system" "$(awk '{printf "%.1f", $1 / 1024}' <<<"$(kv sut_rss_before_kib <<<"$out")")"
  record "idle_rss_kib_per_conn_$n" "$system" "$(kv sut_rss_kib_per_conn <<<"$out")"
}
