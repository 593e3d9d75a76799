#!/usr/bin/python3
"""remove_background's mask against the onnxruntime-node reference.

For each photo: `imagen run remove_background --param only_mask=true` gives
imagen's mask at the original size; the reference applies IMG.LY's
preprocessing in numpy (bilinear resize to 1024x1024, (p - 128) / 256),
runs the same model.onnx with onnxruntime-node (bench/ops/isnet_reference.mjs)
and upsamples its mask bilinearly to the original size. Both are thresholded
at 0.5 and compared by IoU (target >= 0.99). Prints figures; exits 1 when a
photo is under the target so tests/ops can use it as a check.
Usage: isnet_iou.py IMAGEN MODELS_DIR PHOTOS_DIR [model] [photo,photo,...]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

imagen, models, photos = sys.argv[1:4]
model = sys.argv[4] if len(sys.argv) > 4 else "isnet"
names = sys.argv[5].split(",") if len(sys.argv) > 5 else ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]
here = os.path.dirname(os.path.abspath(__file__))
worst = 1.0
with tempfile.TemporaryDirectory() as tmp:
    for name in names:
        src = os.path.join(photos, name)
        ours_path = os.path.join(tmp, "ours.png")
        r = subprocess.run([imagen, "run", "remove_background", src, "-o", ours_path, "--repository", models,
                            "--param", "only_mask=true", "--param", "model=" + model],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: imagen failed: {r.stderr.strip()}")
            sys.exit(1)
        ours = np.asarray(Image.open(ours_path).convert("L"), dtype=np.float32) / 255.0
        img = Image.open(src).convert("RGB")
        w, h = img.size
        x = np.asarray(img.resize((1024, 1024), Image.BILINEAR), dtype=np.float32)
        x = ((x - 128.0) / 256.0).transpose(2, 0, 1)[None].copy()
        x.tofile(os.path.join(tmp, "in.f32"))
        r = subprocess.run(["node", os.path.join(here, "isnet_reference.mjs"),
                            os.path.join(models, model, "1", "model.onnx"),
                            os.path.join(tmp, "in.f32"), os.path.join(tmp, "out.f32")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: onnxruntime-node failed: {r.stderr.strip()}")
            sys.exit(1)
        ref = np.fromfile(os.path.join(tmp, "out.f32"), dtype=np.float32).reshape(1024, 1024)
        ref = np.asarray(Image.fromarray(ref, mode="F").resize((w, h), Image.BILINEAR))
        a, b = ours > 0.5, ref > 0.5
        union = np.logical_or(a, b).sum()
        iou = 1.0 if union == 0 else np.logical_and(a, b).sum() / union
        worst = min(worst, iou)
        print(f"{name} {w}x{h}: IoU {iou:.4f} (subject {b.mean() * 100:.1f}% of the image); "
              f"mean |diff| {np.abs(ours - np.clip(ref, 0, 1)).mean():.4f}; {r.stdout.strip()}")
print(f"{model}: worst IoU {worst:.4f} (target >= 0.99)")
sys.exit(0 if worst >= 0.99 else 1)
