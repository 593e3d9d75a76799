#!/usr/bin/python3
"""Image <-> .npy helpers and output comparisons for the engine benchmarks.

  imgtool.py isnet-input PHOTO OUT.npy            1x3x1024x1024, (rgb - 128) / 256
  imgtool.py sr-input PHOTO SIZE OUT.npy OUT.png  1x3xSxS in [0, 1] and the same pixels as PNG
  imgtool.py mask A.npy B.npy                     max abs / mean abs error, IoU at 0.5
  imgtool.py psnr OURS.npy PEER.png               PSNR in 8-bit RGB, leaving out values the
                                                  peer wrapped (its negatives come out as 255)
  imgtool.py same A.npy B.npy                     PSNR between two float images in [0, 1]
  imgtool.py perturb IN.npy OUT.npy REL           each value times (1 + REL * N(0,1)), seeded
"""
import sys

import numpy as np
from PIL import Image


def load_rgb(path, size):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)  # centre square crop, then resize
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return img.resize((size, size), Image.BICUBIC)


def main(argv):
    cmd = argv[1]
    if cmd == "isnet-input":
        a = np.asarray(load_rgb(argv[2], 1024), dtype=np.float32)
        x = ((a - 128.0) / 256.0).transpose(2, 0, 1)[None]
        np.save(argv[3], np.ascontiguousarray(x, dtype=np.float32))
    elif cmd == "sr-input":
        img = load_rgb(argv[2], int(argv[3]))
        img.save(argv[5])
        a = np.asarray(img, dtype=np.float32) / 255.0
        np.save(argv[4], np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32))
    elif cmd == "mask":
        a, b = np.load(argv[2]).astype(np.float64), np.load(argv[3]).astype(np.float64)
        assert a.shape == b.shape, (a.shape, b.shape)
        d = np.abs(a - b)
        ma, mb = a >= 0.5, b >= 0.5
        union = np.logical_or(ma, mb).sum()
        iou = np.logical_and(ma, mb).sum() / union if union else 1.0
        print(f"mask: max_abs={d.max():.3g} mean_abs={d.mean():.3g} iou@0.5={iou:.5f}")
    elif cmd == "psnr":
        ours = np.load(argv[2])[0].transpose(1, 2, 0) * 255.0
        peer = np.asarray(Image.open(argv[3]).convert("RGB"), dtype=np.float64)
        assert ours.shape == peer.shape, (ours.shape, peer.shape)
        ours8 = np.clip(np.rint(ours), 0, 255)
        # The peer's own negative values come out as 255: where ours is
        # negative, or where the peer wrote 255 and ours is dark (< 128).
        wrapped = (ours < 0) | ((peer == 255) & (ours8 < 128))
        keep = ~wrapped
        mse = np.mean((ours8[keep] - peer[keep]) ** 2)
        psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
        print(f"psnr: {psnr:.2f} dB over {keep.sum()} values; left out {wrapped.sum()} values the peer wrapped "
              f"(ours < 0, or peer 255 where ours < 128); max abs diff {np.abs(ours8[keep] - peer[keep]).max():.0f}")
    elif cmd == "same":
        a, b = np.load(argv[2]).astype(np.float64), np.load(argv[3]).astype(np.float64)
        assert a.shape == b.shape, (a.shape, b.shape)
        mse = np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2)
        psnr = float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
        print(f"same: psnr={psnr:.2f} dB max_abs={np.abs(a - b).max():.3g}")
    elif cmd == "perturb":
        x = np.load(argv[2])
        noise = np.random.default_rng(1).standard_normal(x.shape)
        np.save(argv[3], (x.astype(np.float64) * (1 + float(argv[4]) * noise)).astype(np.float32))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
