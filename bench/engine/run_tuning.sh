#!/usr/bin/env bash
# Kernel choice by measurement (src/engine/conv_tuning.h), before/after on one
# model: `imagen engine bench` with IMAGEN_ENGINE_TUNING=off (the static
# CPU-flag rule), then a first load that measures (retune, into a scratch
# cache), then later loads that read the cache (cached), alternating off and
# cached ROUNDS times so machine load hits both. Prints the CPU, the load
# and the per-layer decisions.
#   [ROUNDS=3] [RUNS=5] bench/engine/run_tuning.sh [MODEL.param] [SHAPE] [THREADS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${IMAGEN_BUILD_DIR:-$ROOT/build/release}
MODEL=${1:-$ROOT/models/realesr-animevideov3-x4/1/model.param}
SHAPE=${2:-data=1x3x256x256}
THREADS=${3:-2}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-5}
IMAGEN=$BUILD/bin/imagen
CACHE=$(mktemp -d)
trap 'rm -rf "$CACHE"' EXIT
bench() { XDG_CACHE_HOME=$CACHE IMAGEN_ENGINE_TUNING=$1 "$IMAGEN" engine bench "$MODEL" --shape "$SHAPE" \
  --runs "$RUNS" --threads "$THREADS" 2>&1 | grep -v '^engine tuning' | sed "s/^/$1: /"; }
echo "machine: $(nproc) cores, $(lscpu | grep 'Model name' | cut -d: -f2 | xargs), flags: $(grep -o -m1 'avx512f\|avx2' /proc/cpuinfo | head -1); load: $(uptime | sed 's/.*load/load/')"
echo "model: $MODEL $SHAPE, $THREADS threads, $RUNS runs after one warm-up"
start=$(date +%s.%N)
XDG_CACHE_HOME=$CACHE IMAGEN_ENGINE_TUNING=retune IMAGEN_ENGINE_PROFILE=1 "$IMAGEN" engine bench "$MODEL" \
  --shape "$SHAPE" --runs 1 --threads "$THREADS" 2>&1 | grep -E '^engine tuning|median' | sed 's/^/retune: /'
echo "retune (first load, measures every layer shape): $(/usr/bin/python3 -c "import time; print(f'{time.time() - $start:.1f}')") s wall"
for r in $(seq "$ROUNDS"); do
  bench off
  bench cached
done
echo "load after: $(uptime | sed 's/.*load/load/')"
