# `imagen serve` as a user starts it: listens, answers /healthz and /metrics,
# creates the admin key once (mode 0600), and stops cleanly on SIGTERM.
IMAGEN=$1
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'cleanup_serve; rm -rf "$tmp"' EXIT

start_serve "$tmp/data" "$tmp/out1"
check "prints the admin key on first start" grep -q "imk_" "$tmp/out1"
check "admin key file has mode 0600" test "$(stat -c %a "$tmp/data/admin.key")" = 600
check "printed key equals the saved key" grep -qF "$(cat "$tmp/data/admin.key")" "$tmp/out1"

check "GET /healthz is 200 ok" test "$(curl -s "$SERVE_URL/healthz")" = '{"status":"ok"}'
code=$(curl -s -o "$tmp/nf" -w '%{http_code}' "$SERVE_URL/no/such/path")
check "unknown path is 404" test "$code" = 404
check "404 has a JSON error body" grep -q '"error":{"code":"not_found"' "$tmp/nf"
metrics=$(curl -s "$SERVE_URL/metrics")
check "/metrics has request counter by route" contains "$metrics" 'imagen_http_requests_total{code="200",method="GET",route="/healthz"}'
check "/metrics has job gauges" contains "$metrics" 'imagen_jobs{state="queued"}'
check "/metrics has build info" contains "$metrics" 'imagen_build_info{version='

kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
check "SIGTERM exits 0" test "$rc" -eq 0
SERVE_PID=

start_serve "$tmp/data" "$tmp/out2"
check "second start does not print the key again" bash -c "! grep -q imk_ '$tmp/out2'"
check "second start says where the key is" grep -q "admin.key" "$tmp/out2"
kill -INT "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
check "SIGINT exits 0" test "$rc" -eq 0
SERVE_PID=
finish
