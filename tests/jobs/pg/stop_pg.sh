#!/usr/bin/env bash
# Stops a server started by start_pg.sh DIR with `-m immediate` (no
# shutdown checkpoint: to the cluster this is a crash, and the next start
# replays the WAL) and removes DIR unless --keep.
#   stop_pg.sh DIR [--keep]
set -euo pipefail
dir=${1:?usage: stop_pg.sh DIR [--keep]}
bin=${IMAGEN_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -f "$dir/data/postmaster.pid" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  else
    "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  fi
fi
if [ "${2:-}" != "--keep" ]; then rm -rf "$dir"; fi
