# shellcheck shell=bash
# Scenario 3, offline then drain: broker B is stopped, 10 devices publish N messages as fast as
# the system under test acknowledges them (ingest), then B comes back and a receiver on B waits
# for every one (drain). The receiver's session on B is made before the outage and restored by
# B's persistence, so it misses nothing the system under test sends the moment B is back. Figures: ingest rate, RSS and disk growth per queued message, drain rate
# (first to last arrival), loss (must be zero). Duplicates are allowed here only: a message whose
# upstream PUBACK was lost when B went away is sent again (at-least-once).
scenario_drain() {  # scenario_drain SYSTEM MESSAGES
  local system=$1 n=$2 devices=10 out disk_before=0 disk_after=0 receiver=drain-$RANDOM
  start_sut "$system"
  loadgen receive --receive "127.0.0.1:$B_PLAIN" --receiver-id "$receiver" --clean 0 \
    --subscribe-only 1 >/dev/null || { fail "drain $system: cannot subscribe on broker B"; stop_sut; return; }
  stop_pid "$B_PID"
  [[ -n $SUT_STATE ]] && disk_before=$(du -sk "$SUT_STATE" | cut -f1)
  out=$(loadgen publish "${SUT_ARGS[@]}" --connections "$devices" --rate 0 --count "$n" \
          --window 32 --sut-pid "$SUT_PID" --ack-timeout 300 --sent-file "$WORK/sent.txt")
  [[ -n $SUT_STATE ]] && disk_after=$(du -sk "$SUT_STATE" | cut -f1)
  check "drain $system: every message acknowledged while offline" "$(kv acked <<<"$out")" -eq "$n"
  record "drain_ingest_rate" "$system" "$(kv ack_rate <<<"$out")"
  record "drain_rss_bytes_per_queued" "$system" "$(awk -v a="$(kv sut_rss_after_kib <<<"$out")" \
    -v b="$(kv sut_rss_before_kib <<<"$out")" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')"
  record "drain_disk_bytes_per_queued" "$system" "$(awk -v a="$disk_after" -v b="$disk_before" \
    -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')"
  # The receiver first, retrying until B listens: it is back on B within milliseconds.
  loadgen receive --receive "127.0.0.1:$B_PLAIN" --receiver-id "$receiver" --clean 0 \
    --sent-file "$WORK/sent.txt" --timeout 200 --sut-pid "$SUT_PID" \
    >"$WORK/receiver.out" &
  local receiving=$!
  restart_broker_b
  wait "$receiving"
  out=$(cat "$WORK/receiver.out")
  stop_sut
  check "drain $system: nothing lost" "$(kv lost <<<"$out")" -eq 0
  # A resend from the upstream checkpoint repeats at most its unacknowledged window (100 per
  # identity, docs/upstream.md): more would be a bug.
  check "drain $system: duplicates within the resend window" "$(kv duplicates <<<"$out")" -le $((100 * devices))
  record "drain_rate" "$system" "$(kv drain_rate <<<"$out")"
  record "drain_resume_s" "$system" "$(kv first_arrival_s <<<"$out")"
  record "drain_duplicates" "$system" "$(kv duplicates <<<"$out")"
}
