#!/usr/bin/env bash
# `imagen engine run|bench` on a node-test model and on broken inputs: clear
# errors and non-zero exits, never a crash.
set -u
IMAGEN=$1
NODE=/usr/share/libonnx-testdata/data/node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # expect <exit code> <substring of stderr+stdout> <command...>
  local code=$1 want=$2
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code || "$out" != *"$want"* ]]; then
    echo "FAILED: $* -> rc $rc (want $code), output: $out (want '$want')"
    fail=1
  fi
}

# A truncated model.
head -c 40 "$NODE/test_relu/model.onnx" >"$tmp/trunc.onnx"
expect 1 "truncated or corrupt" "$IMAGEN" engine bench "$tmp/trunc.onnx" --runs 1
# Unknown format and missing file.
expect 1 "unknown model format" "$IMAGEN" engine bench "$tmp/model.txt" --runs 1
expect 1 "No such file" "$IMAGEN" engine bench "$tmp/none.onnx" --runs 1

# A real run: Relu on a hand-written .npy (3 floats: -1, 0.5, 2).
printf '\x93NUMPY\x01\x00\x76\x00' >"$tmp/x.npy"
printf "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" >>"$tmp/x.npy"
printf '%*s\n' $((0x76 - 57 - 1)) '' >>"$tmp/x.npy"
printf '\x00\x00\x80\xbf\x00\x00\x00\x3f\x00\x00\x00\x40' >>"$tmp/x.npy"
# test_relu declares x as 3x4x5: a 3-element input is a shape mismatch naming the input.
expect 1 "input 'x': shape 3 does not match" "$IMAGEN" engine run "$NODE/test_relu/model.onnx" --input "x=$tmp/x.npy" --output-dir "$tmp/out"
expect 1 "unknown input 'nope'" "$IMAGEN" engine run "$NODE/test_relu/model.onnx" --input "nope=$tmp/x.npy" --output-dir "$tmp/out"
expect 1 "bad magic" "$IMAGEN" engine run "$NODE/test_relu/model.onnx" --input "x=$tmp/trunc.onnx" --output-dir "$tmp/out"
# The same header with shape (3, 4, 5) and 60 values of -1.0: Relu gives zeros.
sed 's/(3,)/(3, 4, 5)/' <(head -c 128 "$tmp/x.npy") | head -c 127 >"$tmp/x345.npy"
printf '\n' >>"$tmp/x345.npy"
for _ in $(seq 60); do printf '\x00\x00\x80\xbf' >>"$tmp/x345.npy"; done
expect 0 "y FP32 3x4x5" "$IMAGEN" engine run "$NODE/test_relu/model.onnx" --input "x=$tmp/x345.npy" --output-dir "$tmp/out"
if [[ $(stat -c %s "$tmp/out/y.npy" 2>/dev/null) != 368 ]] || [[ -n $(tail -c 240 "$tmp/out/y.npy" | tr -d '\0') ]]; then
  echo "FAILED: y.npy should hold 60 zero floats after a 128-byte header"
  fail=1
fi
# Bench on the real model prints the figures.
expect 0 "median" "$IMAGEN" engine bench "$NODE/test_relu/model.onnx" --runs 2 --threads 1
exit $fail
