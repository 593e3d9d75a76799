#!/usr/bin/env bash
# Real-ESRGAN ×4 side by side: imagen's engine (ncnn importer + oneDNN) vs
# realesrgan-ncnn-vulkan from waifu2x@1.6.5 on Mesa lavapipe, same 256×256
# photograph, 2 threads each (LP_NUM_THREADS for lavapipe), in one run.
# Prints wall times, the speed-up, and the PSNR of imagen's output against the
# peer's, leaving out values the peer wrapped (it converts negative values to
# unsigned before clamping, so they come out as 255).
#   [SIZE=256] [PHOTO=chelsea.png] bench/engine/run_realesrgan.sh [realesr-animevideov3|realesrgan-x4plus-anime] [THREADS=2]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=${1:-realesr-animevideov3}
THREADS=${2:-2}
BUILD=${IMAGEN_BUILD_DIR:-$ROOT/build/release}
CACHE=$("$ROOT/bench/engine/prepare_models.sh")
PHOTOS=$(bash "$ROOT/tests/ops/fetch_test_photos.sh")
PKG=$CACHE/waifu2x/package/real-esrgan
SUFFIX=""
if [ "$NAME" = realesr-animevideov3 ]; then SUFFIX=-x4; fi
PARAM=$PKG/models/$NAME$SUFFIX.param
WORK=${KEEP_WORK:-$(mktemp -d)}
mkdir -p "$WORK"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
ninja -C "$BUILD" engine_compare >/dev/null
TOOL=$BUILD/bench/engine/engine_compare
SIZE=${SIZE:-256}
/usr/bin/python3 "$ROOT/bench/engine/imgtool.py" sr-input "$PHOTOS/${PHOTO:-chelsea.png}" "$SIZE" "$WORK/in.npy" "$WORK/in.png"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(uptime | sed 's/.*load/load/')"
echo "model: $NAME x4 ($PARAM), input ${SIZE}x${SIZE} from ${PHOTO:-chelsea.png}, $THREADS threads"
t0=$(date +%s.%N)
(cd "$PKG" && LP_NUM_THREADS=$THREADS ./realesrgan-ncnn-vulkan -i "$WORK/in.png" -o "$WORK/peer.png" -n "$NAME" -s 4 \
   -m models -j 1:1:1 >/dev/null 2>&1)
t1=$(date +%s.%N)
peer_s=$(/usr/bin/python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "peer: realesrgan-ncnn-vulkan (lavapipe) wall_s=$peer_s"
OURS=$("$TOOL" --model "$PARAM" --input data="$WORK/in.npy" --output "$WORK/ours.npy" --threads "$THREADS" --runs 2)
echo "$OURS"
ours_ms=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$OURS")
echo "speed-up peer/imagen: $(/usr/bin/python3 -c "print(f'{$peer_s * 1000 / $ours_ms:.2f}')")x (target >= 8)"
/usr/bin/python3 "$ROOT/bench/engine/imgtool.py" psnr "$WORK/ours.npy" "$WORK/peer.png"
echo "load after: $(uptime | sed 's/.*load/load/')"
