#!/usr/bin/env bash
# run-fuzzer.sh BINARY SEED_DIR SCRATCH_DIR SECONDS
# Runs one libFuzzer target for a bounded time over its committed seeds. New inputs go to a
# scratch corpus in the build tree so the repository's seeds only change by hand.
#
# The mutation seed is fixed (FUZZ_SEED, default 1) so that `make test` on a given commit explores
# the same inputs every time: a finding shows up on the commit that introduced it, not at random
# in a later CI run. Exploration with fresh seeds is tests/fuzz/run-long.sh's job.
set -euo pipefail
bin=$1 seeds=$2 scratch=$3 seconds=$4
mkdir -p "$scratch"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -seed="${FUZZ_SEED:-1}" -artifact_prefix="$scratch/")
[[ -d $seeds ]] && exec "$bin" "${args[@]}" "$scratch" "$seeds"
exec "$bin" "${args[@]}" "$scratch"
