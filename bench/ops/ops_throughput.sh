#!/usr/bin/env bash
# Images per second for each operation with `imagen run` on the sample
# photographs (scikit-image data, see tests/ops/fetch_test_photos.sh).
# Each photo is processed REPEAT+1 times in one process; the first run
# (model load, warm-up) is reported separately and the rest averaged.
# Model operations need `imagen models fetch` and a serving backend that
# runs the models; their failure is printed, not hidden.
# Usage: bench/ops/ops_throughput.sh [IMAGEN] [REPEAT] [OP_REGEX] [PHOTOS...]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGEN=${1:-$ROOT/build/release/bin/imagen}
REPEAT=${2:-3}
ONLY=${3:-.}
shift $(($# < 3 ? $# : 3))
LIST=("$@")
[ ${#LIST[@]} -eq 0 ] && LIST=(astronaut.png chelsea.png coffee.png rocket.jpg)
PHOTOS=$(bash "$ROOT/tests/ops/fetch_test_photos.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "photos: ${LIST[*]:-} (astronaut 512x512, chelsea 451x300, coffee 600x400, rocket 427x640); $REPEAT timed runs each after one warm-up"
run() {  # op, extra args...
  local op=$1 total=0 n=0 line
  shift
  grep -Eq -- "$ONLY" <<<"$op $*" || return 0
  for photo in "${LIST[@]}"; do
    out=$("$IMAGEN" run "$op" "$PHOTOS/$photo" -o "$tmp/out" --repeat $((REPEAT + 1)) --repository "$ROOT/models" "$@" 2>&1)
    if [ $? -ne 0 ]; then
      echo "$op $*: FAILED on $photo: $(tail -1 <<<"$out")"
      return
    fi
    line=$(grep "per image" <<<"$out")
    total=$(awk -v t="$total" -v s="$(awk '{for(i=1;i<=NF;i++) if($i=="s" && $(i+1)=="per") print $(i-1)}' <<<"$line")" \
      'BEGIN{print t+s}')
    n=$((n + 1))
  done
  awk -v t="$total" -v n="$n" -v op="$op" -v a="$*" \
    'BEGIN{printf "%-18s %-34s %7.3f s/image  %7.2f images/s\n", op, a, t/n, n/t}'
}
run style_comic
run style_aged --param scratches=true
run style_aged --param format=png
run remove_background --param model=isnet
run remove_background --param model=isnet-small
run upscale --param scale=2
run upscale --param scale=4
run enhance --param strength=1
