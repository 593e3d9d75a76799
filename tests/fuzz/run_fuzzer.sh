#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time over the committed corpus
# (read-only) plus a scratch corpus, and fails on any crash, leak, timeout
# or out-of-memory. A crash input is left in WORK/ to be turned into a
# regression input under corpus/.
#   run_fuzzer.sh BINARY CORPUS_DIR WORK_DIR SECONDS
set -euo pipefail
bin=$1 corpus=$2 work=$3 seconds=$4
if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
  echo "fuzz: corpus $corpus is missing or empty" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work/new"
cd "$work"
# Every committed input first (regressions), then fuzzing from them.
"$bin" -runs=0 "$corpus"
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$work/new" "$corpus"
