# shellcheck shell=bash
# Scenario 2, steady QoS 1 telemetry: 256-byte JSON bodies over TLS from 50 devices at a fixed
# total rate, forwarded to broker B and received there. Figures: the system under test's CPU per
# message and the end-to-end latency (send to arrival at the receiver on B).
#   all:  FROM /messages/* INTO $upstream (mosquitto's bridge does the same)
#   half: ... WHERE $body.temp > 50, half the messages pass (even sequence numbers); mosquitto
#         cannot filter on the body, so its column is its all-pass run.
STEADY_DEVICES=${STEADY_DEVICES:-50}

steady_run() {  # steady_run SYSTEM all|half RATE SECONDS: prints the load generator's output
  local system=$1 route=$2 rate=$3 seconds=$4 expect=all
  local query="FROM /messages/* INTO \$upstream"
  if [[ $route == half ]]; then
    query="FROM /messages/* WHERE \$body.temp > 50 INTO \$upstream"
    expect=even
  fi
  start_sut "$system" "$([[ $system == edgehubd ]] && echo "$query")"
  local b_before t0=$EPOCHREALTIME
  b_before=$(cpu_us "$B_PID")
  loadgen publish "${SUT_ARGS[@]}" --connections "$STEADY_DEVICES" --rate "$rate" \
    --duration "$seconds" --warmup 1 --window 32 --receive "127.0.0.1:$B_PLAIN" \
    --receiver-id "receiver-$RANDOM" --expect "$expect" --sut-pid "$SUT_PID" || true
  # Broker B shares the load generator's core: its share tells whether that core was the limit.
  awk -v b="$(( $(cpu_us "$B_PID") - b_before ))" -v t="$(awk -v a="$t0" -v z="$EPOCHREALTIME" 'BEGIN { print z - a }')" \
    'BEGIN { printf "broker_b_cpu_share=%.2f\n", b / 1e6 / t }'
  stop_sut
}

scenario_steady() {  # scenario_steady SYSTEM all|half RATE SECONDS
  local system=$1 route=$2 rate=$3 seconds=$4 out
  out=$(steady_run "$@")
  check "steady $system $route: nothing lost" "$(kv lost <<<"$out")" -eq 0
  check "steady $system $route: no duplicates" "$(kv duplicates <<<"$out")" -eq 0
  check "steady $system $route: everything acknowledged" "$(kv acked <<<"$out")" -eq "$(kv sent <<<"$out")"
  record "steady_${route}_cpu_us_per_msg" "$system" "$(kv sut_cpu_us_per_msg <<<"$out")"
  record "steady_${route}_p50_ms" "$system" "$(kv latency_p50_ms <<<"$out")"
  record "steady_${route}_p99_ms" "$system" "$(kv latency_p99_ms <<<"$out")"
}

# The highest total rate whose p99 stays under 50 ms with nothing lost and the offered rate
# reached, stepping up from the first rate given.
scenario_ramp() {  # scenario_ramp SYSTEM SECONDS RATE...
  local system=$1 seconds=$2 best=0 out rate; shift 2
  for rate in "$@"; do
    out=$(steady_run "$system" all "$rate" "$seconds")
    echo "ramp $system $rate msg/s: p99 $(kv latency_p99_ms <<<"$out") ms, sent at $(kv send_rate <<<"$out")/s, lost $(kv lost <<<"$out"), SUT $(kv sut_cpu_us_per_msg <<<"$out") µs/msg, load core: loadgen $(kv loadgen_cpu_us_per_msg <<<"$out") µs/msg + broker B $(kv broker_b_cpu_share <<<"$out") of a core" >&2
    awk -v p99="$(kv latency_p99_ms <<<"$out")" -v got="$(kv send_rate <<<"$out")" \
        -v lost="$(kv lost <<<"$out")" -v rate="$rate" \
        'BEGIN { exit !(p99 != "" && p99 < 50 && lost == 0 && got >= 0.95 * rate) }' || break
    best=$rate
  done
  record "max_rate_p99_under_50ms" "$system" "$best"
}

# The same telemetry from devices speaking AMQP (SASL PLAIN with their SAS token, one sender
# link each): edgehubd only, mosquitto has no AMQP; the table sets it against mosquitto's MQTT run.
scenario_steady_amqp() {  # scenario_steady_amqp RATE SECONDS
  local rate=$1 seconds=$2 out
  start_sut edgehubd
  out=$(loadgen publish-amqp --target "127.0.0.1:$SUT_AMQP_PORT" --ca "$CA" --sni "$GW_HOST" \
          --key "$DEVICE_KEY" --hub "$HUB_HOST" --connections "$STEADY_DEVICES" --rate "$rate" \
          --duration "$seconds" --warmup 1 --window 32 --receive "127.0.0.1:$B_PLAIN" \
          --receiver-id "receiver-$RANDOM" --sut-pid "$SUT_PID")
  stop_sut
  check "steady amqp: nothing lost" "$(kv lost <<<"$out")" -eq 0
  check "steady amqp: no duplicates" "$(kv duplicates <<<"$out")" -eq 0
  check "steady amqp: everything accepted" "$(kv acked <<<"$out")" -eq "$(kv sent <<<"$out")"
  record "steady_amqp_cpu_us_per_msg" edgehubd "$(kv sut_cpu_us_per_msg <<<"$out")"
  record "steady_amqp_p99_ms" edgehubd "$(kv latency_p99_ms <<<"$out")"
}
