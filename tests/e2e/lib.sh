# Helpers for the e2e shell tests: assertions and a server started on a free
# loopback port and always stopped on exit.
set -euo pipefail
FAILS=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
contains() { [[ "$1" == *"$2"* ]]; }
finish() { if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi; echo "all checks passed"; }

# start_serve DATA_DIR LOG [args...]: starts `imagen serve` on port 0 and sets
# SERVE_PID and SERVE_URL from the line it prints.
start_serve() {
  local data=$1 log=$2; shift 2
  "$IMAGEN" serve --data-dir "$data" --listen 127.0.0.1:0 "$@" >"$log" 2>"$log.err" &
  SERVE_PID=$!
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$log" 2>/dev/null; then
      SERVE_URL=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
      return 0
    fi
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then cat "$log" "$log.err"; return 1; fi
    sleep 0.05
  done
  echo "server did not start"; cat "$log" "$log.err"; return 1
}
cleanup_serve() { if [ -n "${SERVE_PID:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null; then kill -9 "$SERVE_PID"; fi; }
trap cleanup_serve EXIT
