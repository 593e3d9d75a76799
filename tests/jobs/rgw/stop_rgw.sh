#!/usr/bin/env bash
# Stops what start_rgw.sh DIR started (SIGKILL: the OSD keeps its data in
# memory, nothing needs flushing) and removes DIR.
set -uo pipefail
DIR=${1:?usage: stop_rgw.sh DIR}
[ -d "$DIR" ] || exit 0
pids=()
for f in "$DIR"/run/*.pid; do
  [ -f "$f" ] && pids+=("$(cat "$f")")
done
for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
for p in "${pids[@]}"; do
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
rm -rf "$DIR"
