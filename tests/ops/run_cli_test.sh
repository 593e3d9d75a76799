#!/usr/bin/env bash
# `imagen run` as a user runs it: the pure-libvips operations on a real
# photo, and clear refusals (non-zero exit, a message naming the problem)
# for bad operations, parameters and inputs.
set -uo pipefail
IMAGEN=$1
PHOTOS=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_fail NEEDLE CMD...: CMD must exit non-zero and print NEEDLE.
expect_fail() {
  local needle=$1 out rc
  shift
  out=$("$@" 2>&1) && fail "succeeded: $* :: $out"
  grep -qi -- "$needle" <<<"$out" || fail "message of '$*' lacks '$needle': $out"
  echo "ok: refused ($needle)"
}

out=$("$IMAGEN" run style_comic "$PHOTOS/chelsea.png" -o "$tmp/comic.png" 2>&1) || fail "style_comic: $out"
grep -Eq "in [0-9.]+ s" <<<"$out" || fail "no time printed: $out"
head -c 8 "$tmp/comic.png" | od -c | grep -q "P   N   G" || fail "comic.png is not a PNG"
echo "ok: $out"

out=$("$IMAGEN" run style_aged "$PHOTOS/rocket.jpg" -o "$tmp/aged.jpg" --param seed=3 --param scratches=true \
      --param quality=80 2>&1) || fail "style_aged: $out"
head -c 3 "$tmp/aged.jpg" | od -An -tx1 | grep -q "ff d8 ff" || fail "aged.jpg is not a JPEG"
"$IMAGEN" run style_aged "$PHOTOS/rocket.jpg" -o "$tmp/aged2.jpg" --param seed=3 --param scratches=true \
  --param quality=80 >/dev/null 2>&1 || fail "style_aged second run"
cmp -s "$tmp/aged.jpg" "$tmp/aged2.jpg" || fail "style_aged is not deterministic for a seed"
echo "ok: $out (deterministic)"

printf '' >"$tmp/empty.jpg"
echo "this is text" >"$tmp/text.png"
expect_fail "unknown operation\|not found\|known" "$IMAGEN" run sharpen "$PHOTOS/chelsea.png" -o "$tmp/x.png"
expect_fail "parameter 'strength'" "$IMAGEN" run style_comic "$PHOTOS/chelsea.png" -o "$tmp/x.png" --param strength=9
expect_fail "unknown parameter 'colour'" "$IMAGEN" run style_comic "$PHOTOS/chelsea.png" -o "$tmp/x.png" --param colour=1
expect_fail "empty" "$IMAGEN" run style_comic "$tmp/empty.jpg" -o "$tmp/x.png"
expect_fail "not an image" "$IMAGEN" run style_aged "$tmp/text.png" -o "$tmp/x.png"
expect_fail "jpeg.*\(premature\|truncated\|corrupt\)" "$IMAGEN" run style_aged "$PHOTOS/truncated.jpg" -o "$tmp/x.png"
expect_fail "megapixels" "$IMAGEN" run style_aged "$PHOTOS/astronaut.png" -o "$tmp/x.png" --max-megapixels 0
expect_fail "cannot read" "$IMAGEN" run style_aged "$tmp/missing.png" -o "$tmp/x.png"
[ -e "$tmp/x.png" ] && fail "a refused run wrote an output"
echo "PASS"
