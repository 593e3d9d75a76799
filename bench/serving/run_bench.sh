#!/usr/bin/env bash
# Inference-server benchmarks, printed (no assertions):
#  1. KServe v2 gRPC round trip on `identity` at concurrency 1 (target p50 <= 150 us)
#  2. a batching model with dynamic batching on vs off at concurrency 8
#     (target >= 1.3x throughput), p99 for both. MODEL_DIR may name a real
#     model folder (Triton layout, e.g. an ncnn/ONNX model with version 1/);
#     without it the built-in `delay` model stands in (say so when quoting).
# Usage: bench/serving/run_bench.sh [path/to/imagen] [duration_s]
set -euo pipefail
IMAGEN=${1:-build/release/bin/imagen}
DUR=${2:-10}
SHAPE=${SHAPE:-1,16}
WARMUP=${WARMUP:-2}
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/repo/identity/1" "$tmp/repo/batched/1" "$tmp/repo/unbatched/1"
cat >"$tmp/repo/identity/config.pbtxt" <<'CFG'
backend: "imagen_test"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
CFG
if [ -n "${MODEL_DIR:-}" ]; then
  for v in batched unbatched; do cp -r "$MODEL_DIR"/1/* "$tmp/repo/$v/1/"; done
  base=$(grep -vE '^\s*(name|max_batch_size|dynamic_batching)' "$MODEL_DIR/config.pbtxt" || true)
  # A fixed preferred batch keeps the engine on one input shape.
  printf '%s\nmax_batch_size: 4\ndynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 5000 }\n' \
    "$base" >"$tmp/repo/batched/config.pbtxt"
  printf '%s\nmax_batch_size: 4\n' "$base" >"$tmp/repo/unbatched/config.pbtxt"
else
  # Stand-in: 4 ms fixed cost per execution + 0.5 ms per item (a model whose
  # per-call overhead batching amortises).
  for v in batched unbatched; do
    cat >"$tmp/repo/$v/config.pbtxt" <<'CFG'
backend: "imagen_test"
max_batch_size: 8
parameters { key: "test_model" value { string_value: "delay" } }
parameters { key: "execute_delay_us" value { string_value: "4000" } }
parameters { key: "execute_delay_per_item_us" value { string_value: "500" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
CFG
  done
  echo 'dynamic_batching { max_queue_delay_microseconds: 2000 }' >>"$tmp/repo/batched/config.pbtxt"
fi

"$IMAGEN" infer --model-repository "$tmp/repo" --http-port 0 --grpc-port 18001 --metrics-port 0 \
  --log-level warn >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "imagen infer:" "$tmp/log" && break; sleep 0.1; done
cat "$tmp/log"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared with other builds)"
echo "== 1. gRPC round trip, identity, concurrency 1"
"$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model identity --shape 1,16 --concurrency 1 --duration "$DUR"
echo "== 1b. HTTP round trip, identity, concurrency 1"
HTTP_PORT=$(grep -oE 'HTTP [0-9.]+:[0-9]+' "$tmp/log" | cut -d: -f2)
"$IMAGEN" bench infer --url 127.0.0.1:$HTTP_PORT --protocol http --model identity --shape 1,16 --concurrency 1 --duration "$DUR"
for round in 1 2; do  # alternate, so machine-load drift hits both
  echo "== 2. dynamic batching OFF, concurrency 8 (round $round)"
  "$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model unbatched --shape "$SHAPE" --concurrency 8 --duration "$DUR" --warmup "$WARMUP"
  echo "== 2. dynamic batching ON, concurrency 8 (round $round)"
  "$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model batched --shape "$SHAPE" --concurrency 8 --duration "$DUR" --warmup "$WARMUP"
done
kill -TERM $pid; wait $pid || true
