#!/usr/bin/env bash
# run-fuzzer.sh BINARY SEED_DIR SCRATCH_DIR SECONDS
# Runs one libFuzzer target for a bounded time over its committed seeds. New inputs go to a
# scratch corpus in the build tree so the repository's seeds only change by hand.
set -euo pipefail
bin=$1 seeds=$2 scratch=$3 seconds=$4
mkdir -p "$scratch"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$scratch/")
[[ -d $seeds ]] && exec "$bin" "${args[@]}" "$scratch" "$seeds"
exec "$bin" "${args[@]}" "$scratch"
