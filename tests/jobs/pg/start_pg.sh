#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server for tests and benchmarks and prints
# its URI (also written to DIR/uri).
#   start_pg.sh DIR [extra postgres -c settings ...]
# The cluster lives in DIR (created, owned by the `postgres` system user,
# because initdb and postgres refuse to run as root). It listens on a private
# Unix socket in DIR and on a free loopback port; fsync stays on (durability
# tests rely on it) but shared_buffers is small. Stop it with stop_pg.sh DIR.
# Run again on a stopped DIR, it restarts that cluster on the same port
# (crash-recovery tests). Exits 3 with a message naming what is missing when
# PostgreSQL is not installed.
set -euo pipefail

dir=${1:?usage: start_pg.sh DIR [postgres -c settings]}
shift
bin=${IMAGEN_PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in initdb pg_ctl postgres; do
  if [ ! -x "$bin/$tool" ]; then
    echo "start_pg.sh: $bin/$tool not found: install the Debian package postgresql-15 (./run installs it)" >&2
    exit 3
  fi
done

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "start_pg.sh: running as root needs the 'postgres' system user (created by postgresql-common)" >&2
      exit 3
    fi
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
chmod 0700 "$dir"

if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_pg "$bin/initdb" -D "$dir/data" -U imagen --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
fi

# A free loopback port, chosen by the kernel. Another process may take it
# before the server binds; then pg_ctl fails and we try the next one.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A restart (DIR already has a port) keeps its port, so clients reconnect.
started=0
for attempt in 1 2 3 4 5; do
  if [ "$attempt" -eq 1 ] && [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(free_port); fi
  if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o "-k $dir -p $port \
      -c listen_addresses=127.0.0.1 -c shared_buffers=32MB -c fsync=on -c synchronous_commit=on \
      -c max_connections=200 -c unix_socket_permissions=0777 $*" start >/dev/null; then
    started=1
    break
  fi
done
if [ "$started" -ne 1 ]; then
  tail -n 30 "$dir/log" >&2 || true
  echo "start_pg.sh: the server did not start (log: $dir/log)" >&2
  exit 1
fi

echo "$port" >"$dir/port"
uri="postgresql://imagen@127.0.0.1:$port/postgres"
echo "$uri" >"$dir/uri"
echo "postgresql://imagen@/postgres?host=$dir&port=$port" >"$dir/socket_uri"
chmod 0644 "$dir/uri" "$dir/socket_uri" "$dir/port"
echo "$uri"
