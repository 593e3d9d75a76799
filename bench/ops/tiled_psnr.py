#!/usr/bin/python3
"""Tiled against untiled upscale with the real model: PSNR (target >= 45 dB).

Runs `imagen run upscale` on a crop of a photo once in one piece (--tile 0)
and once in small tiles, and compares the two outputs. Exits 1 under the
target. Usage: tiled_psnr.py IMAGEN MODELS_DIR PHOTOS_DIR [TILE] [SCALE] [MODEL]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

imagen, models, photos = sys.argv[1:4]
tile = sys.argv[4] if len(sys.argv) > 4 else "64"
scale = sys.argv[5] if len(sys.argv) > 5 else "2"
model = sys.argv[6] if len(sys.argv) > 6 else "realesr-animevideov3"
with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "in.png")
    Image.open(os.path.join(photos, "astronaut.png")).convert("RGB").crop((100, 40, 292, 200)).save(src)
    outs = {}
    for label, t in (("untiled", "0"), ("tiled", tile)):
        out = os.path.join(tmp, label + ".png")
        r = subprocess.run([imagen, "run", "upscale", src, "-o", out, "--repository", models, "--tile", t,
                            "--param", "scale=" + scale, "--param", "model=" + model], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{label}: imagen failed: {r.stderr.strip()}")
            sys.exit(1)
        print(f"{label} (--tile {t}): {r.stdout.strip()}")
        outs[label] = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
    mse = np.mean((outs["tiled"] - outs["untiled"]) ** 2)
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    print(f"{model} x{scale}, 192x160 crop, tiles of {tile}: PSNR tiled vs untiled {psnr:.2f} dB (target >= 45); "
          f"max abs diff {np.abs(outs['tiled'] - outs['untiled']).max():.0f}")
    sys.exit(0 if psnr >= 45 else 1)
