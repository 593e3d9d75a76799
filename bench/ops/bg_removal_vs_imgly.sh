#!/usr/bin/env bash
# Background removal end to end (decode, infer, encode RGBA PNG, one photo at
# a time) with `imagen run` against @imgly/background-removal-node@1.4.5, in
# one run, same model (ISNet medium fp16 / small int8), same photos.
# Usage: bench/ops/bg_removal_vs_imgly.sh [IMAGEN]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGEN=${1:-$ROOT/build/release/bin/imagen}
PHOTOS=$(bash "$ROOT/tests/ops/fetch_test_photos.sh")
set -- astronaut.png chelsea.png coffee.png rocket.jpg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg) (other engineers' builds share the cores)"
for model in medium small; do
  name=isnet
  [ $model = small ] && name=isnet-small
  total=0
  for p in "$@"; do
    out=$("$IMAGEN" run remove_background "$PHOTOS/$p" -o "$tmp/$p.png" --repository "$ROOT/models" \
          --param model=$name --repeat 2 2>&1) || { echo "imagen $name failed: $out"; continue 2; }
    s=$(grep "per image" <<<"$out" | awk '{for(i=1;i<=NF;i++) if($i=="s" && $(i+1)=="per") print $(i-1)}')
    total=$(awk -v a="$total" -v b="$s" 'BEGIN{print a+b}')
  done
  imagen_rate=$(awk -v t="$total" -v n=$# 'BEGIN{printf "%.3f", n/t}')
  echo "imagen $name: $# photos, $(awk -v t="$total" 'BEGIN{printf "%.2f", t}') s = $imagen_rate photos/s (RGBA PNG)"
  peer=$(cd "$ROOT" && node bench/ops/imgly_peer.mjs $model $(printf "$PHOTOS/%s " "$@") 2>&1 | tail -1)
  echo "$peer"
  peer_rate=$(grep -o "= [0-9.]* photos/s" <<<"$peer" | awk '{print $2}')
  [ -n "$peer_rate" ] && awk -v a="$imagen_rate" -v b="$peer_rate" -v m=$model \
    'BEGIN{printf "ratio (%s): imagen / imgly-node = %.2fx (target >= 2x)\n", m, a/b}'
done
