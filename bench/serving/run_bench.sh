#!/usr/bin/env bash
# Inference-server benchmarks, printed (no assertions):
#  1. KServe v2 gRPC round trip on `identity` at concurrency 1 (target p50 <= 150 us)
#  2. a real model with dynamic batching on vs off at concurrency 8 (target
#     >= 1.3x throughput), p99 for both. MODEL_DIR names a model folder in
#     Triton layout (an ncnn/ONNX image model with version 1/ and an input of
#     dims [1, C, H, W]); default models/realesr-animevideov3-x2 on 1x3x32x32
#     tiles (docs/serving.md says why). MODEL_DIR=none: the built-in `delay`
#     model stands in (say so when quoting).
# Usage: [MODEL_DIR=...] [SHAPE=1,3,32,32] bench/serving/run_bench.sh [path/to/imagen] [duration_s]
set -euo pipefail
IMAGEN=${1:-build/release/bin/imagen}
DUR=${2:-10}
MODEL_DIR=${MODEL_DIR:-models/realesr-animevideov3-x2}
[ -d "$MODEL_DIR" ] || MODEL_DIR=none
if [ "$MODEL_DIR" = none ]; then SHAPE=${SHAPE:-1,16}; else SHAPE=${SHAPE:-1,3,32,32}; fi
WARMUP=${WARMUP:-2}
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/repo/identity/1" "$tmp/repo/batched/1" "$tmp/repo/unbatched/1"
cat >"$tmp/repo/identity/config.pbtxt" <<'CFG'
backend: "imagen_test"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
CFG
if [ "$MODEL_DIR" != none ]; then
  for v in batched unbatched; do cp -r "$MODEL_DIR"/1/* "$tmp/repo/$v/1/"; done
  # The model's own config has max_batch_size 0 and a leading 1 in dims; the
  # batcher needs that dimension as the batch.
  base=$(grep -vE '^(name|max_batch_size|dynamic_batching)' "$MODEL_DIR/config.pbtxt" | sed -E 's/dims: \[ *1, */dims: [ /' || true)
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

# OpenMP threads that spin at barriers lose whole time slices to the other
# processes on a shared 2-core machine (2-4x slower runs); passive waits.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} "$IMAGEN" infer --model-repository "$tmp/repo" --http-port 0 --grpc-port 18001 --metrics-port 0 \
  --log-level warn >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "imagen infer:" "$tmp/log" && break; sleep 0.1; done
cat "$tmp/log"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared with other builds); batching model: $MODEL_DIR, shape $SHAPE; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}"
echo "== 1. gRPC round trip, identity, concurrency 1 (load $(cut -d' ' -f1 /proc/loadavg))"
"$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model identity --shape 1,16 --concurrency 1 --duration "$DUR"
echo "== 1b. HTTP round trip, identity, concurrency 1 (load $(cut -d' ' -f1 /proc/loadavg))"
HTTP_PORT=$(grep -oE 'HTTP [0-9.]+:[0-9]+' "$tmp/log" | cut -d: -f2)
"$IMAGEN" bench infer --url 127.0.0.1:$HTTP_PORT --protocol http --model identity --shape 1,16 --concurrency 1 --duration "$DUR"
for round in 1 2; do  # alternate, so machine-load drift hits both
  echo "== 2. dynamic batching OFF, concurrency 8 (round $round, load $(cut -d' ' -f1 /proc/loadavg))"
  "$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model unbatched --shape "$SHAPE" --concurrency 8 --duration "$DUR" --warmup "$WARMUP"
  echo "== 2. dynamic batching ON, concurrency 8 (round $round, load $(cut -d' ' -f1 /proc/loadavg))"
  "$IMAGEN" bench infer --url 127.0.0.1:18001 --protocol grpc --model batched --shape "$SHAPE" --concurrency 8 --duration "$DUR" --warmup "$WARMUP"
done
kill -TERM $pid; wait $pid || true
