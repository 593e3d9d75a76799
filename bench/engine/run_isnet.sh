#!/usr/bin/env bash
# ISNet (background removal) side by side: imagen's engine vs onnxruntime-node
# 1.30, same photograph, same thread count, in one run. Prints latency, the
# ratio, peak RSS, and how close the masks are (max/mean abs error, IoU@0.5)
# in the default (fast) precision and in the exact fp32 mode.
#   bench/engine/run_isnet.sh [medium|small] [THREADS=2] [RUNS=3]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VARIANT=${1:-medium}
THREADS=${2:-2}
RUNS=${3:-3}
BUILD=${IMAGEN_BUILD_DIR:-$ROOT/build/release}
CACHE=$("$ROOT/bench/engine/prepare_models.sh")
PHOTOS=$(bash "$ROOT/tests/ops/fetch_test_photos.sh")
MODEL=$CACHE/isnet_$VARIANT.onnx
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -d "$ROOT/tools/npm/node_modules/onnxruntime-node" ] || \
  (cd "$ROOT/tools/npm" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
ninja -C "$BUILD" engine_compare >/dev/null
TOOL=$BUILD/bench/engine/engine_compare
/usr/bin/python3 "$ROOT/bench/engine/imgtool.py" isnet-input "$PHOTOS/astronaut.png" "$WORK/in.npy"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(uptime | sed 's/.*load/load/')"
echo "model: ISNet $VARIANT ($MODEL), input 1x3x1024x1024 from astronaut.png, $THREADS threads, $RUNS runs"
ORT=$(node "$ROOT/bench/engine/ort_peer.js" "$MODEL" input "$WORK/in.npy" "$WORK/ort.npy" "$THREADS" "$RUNS")
echo "$ORT"
FAST=$("$TOOL" --model "$MODEL" --input input="$WORK/in.npy" --output "$WORK/fast.npy" --threads "$THREADS" --runs "$RUNS" --precision fast)
echo "$FAST"
EXACT=$("$TOOL" --model "$MODEL" --input input="$WORK/in.npy" --output "$WORK/exact.npy" --threads "$THREADS" --runs 1 --precision exact)
echo "$EXACT"
ort_ms=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$ORT")
fast_ms=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$FAST")
echo "ratio imagen/ort (median latency): $(/usr/bin/python3 -c "print(f'{$fast_ms / $ort_ms:.3f}')") (target <= 0.67)"
echo -n "fast  vs ort: "; /usr/bin/python3 "$ROOT/bench/engine/imgtool.py" mask "$WORK/fast.npy" "$WORK/ort.npy"
echo -n "exact vs ort: "; /usr/bin/python3 "$ROOT/bench/engine/imgtool.py" mask "$WORK/exact.npy" "$WORK/ort.npy"
if [ "$VARIANT" = small ]; then
  # A dynamically quantised model rounds activations to 8 bits at every layer,
  # so a few-ulp change of the input moves onnxruntime's own output: this is
  # the floor no other implementation can go below.
  /usr/bin/python3 "$ROOT/bench/engine/imgtool.py" perturb "$WORK/in.npy" "$WORK/in_p.npy" 1e-6
  node "$ROOT/bench/engine/ort_peer.js" "$MODEL" input "$WORK/in_p.npy" "$WORK/ort_p.npy" "$THREADS" 1 >/dev/null
  echo -n "ort vs ort with the input x (1 + 1e-6 N(0,1)): "
  /usr/bin/python3 "$ROOT/bench/engine/imgtool.py" mask "$WORK/ort_p.npy" "$WORK/ort.npy"
fi
echo "load after: $(uptime | sed 's/.*load/load/')"
