# shellcheck shell=bash
# Scenario 1, connection storm: N TLS connections, each a full handshake (no session resumption)
# then CONNECT/CONNACK, 50 at a time. Figure: the system under test's CPU per connection.
# The server key is EC P-256 or RSA 2048: mosquitto's from its configuration, edgehubd's issued
# from the demo PKI's EC or RSA Edge CA (its server key follows the Edge CA's type).
scenario_storm() {  # scenario_storm edgehubd|mosquitto ec|rsa CONNECTIONS
  local system=$1 kind=$2 n=$3 out
  if [[ $system == edgehubd ]]; then
    start_edgehubd "FROM /messages/* INTO \$upstream" "$kind"
  else
    start_mosquitto_a "$kind"
  fi
  out=$(loadgen storm "${SUT_ARGS[@]}" --connections "$n" --concurrency 50 --sut-pid "$SUT_PID")
  stop_sut
  check "storm $system $kind: all $n connected" "$(kv connections_ok <<<"$out")" -eq "$n"
  record "storm_${kind}_cpu_us_per_conn" "$system" "$(kv sut_cpu_us_per_conn <<<"$out")"
}
