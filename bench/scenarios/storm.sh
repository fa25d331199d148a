# shellcheck shell=bash
# Scenario 1, connection storm: N TLS connections, each a full handshake (no session resumption)
# then CONNECT/CONNACK, 50 at a time. Figure: the system under test's CPU per connection.
# edgehubd always serves an EC P-256 certificate (issued from its Edge CA), so the RSA row has
# mosquitto only.
scenario_storm() {  # scenario_storm edgehubd|mosquitto ec|rsa CONNECTIONS
  local system=$1 kind=$2 n=$3 out
  start_sut "$system" "$([[ $system == mosquitto ]] && echo "$kind")"
  out=$(loadgen storm "${SUT_ARGS[@]}" --connections "$n" --concurrency 50 --sut-pid "$SUT_PID")
  stop_sut
  check "storm $system $kind: all $n connected" "$(kv connections_ok <<<"$out")" -eq "$n"
  record "storm_${kind}_cpu_us_per_conn" "$system" "$(kv sut_cpu_us_per_conn <<<"$out")"
}
