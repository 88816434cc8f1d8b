"""Benchmark: the shipped model's SSIM on the scale this project scores it, and on OpenSTL's.

`core.metrics` scores SSIM with scikit-image's `data_range=1`, the range of
the 0-1 frames. OpenSTL's `metric()` (openstl/core/metrics.py) calls
`structural_similarity(pred, true, multichannel=True)` with no `data_range`,
on float32 frames, under the scikit-image its requirements pin (<= 0.19.3),
which then takes the range of the float dtype, -1 to 1: `data_range=2`.
Current scikit-image refuses floats without one, so it is passed here. A wider
range shrinks SSIM's constants' share and raises every score a little; the
model card's comparison with OpenSTL's published 0.929 needs its number on
that scale.

Usage:
    python benchmarks/ssim_range.py
    python benchmarks/ssim_range.py --count 100
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def mean_ssim(pred: np.ndarray, true: np.ndarray, data_range: float) -> float:
    """SSIM per frame with `data_range`, averaged over sequences and frames, as core.metrics averages it."""
    from skimage.metrics import structural_similarity

    return float(np.mean([structural_similarity(p, t, data_range=data_range)
                          for p, t in zip(pred.reshape(-1, 64, 64), true.reshape(-1, 64, 64))]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "convlstm.keras"))
    parser.add_argument("--count", type=int, default=1000, help="bundled test sequences (default %(default)s)")
    args = parser.parse_args()

    import core
    from core import metrics

    frames = core.moving_mnist("test", args.count)
    context, truth = core.split_context(frames)
    truth = core.to_unit_float(truth)
    model = core.load_checkpoint(args.checkpoint, compile=False, precision="auto")
    forecasts = {"model": core.forecast(model, context, 10, bar=True),
                 "black frames": metrics.black_frames(context, 10),
                 "repeat last frame": metrics.repeat_last(core.to_unit_float(context), 10)}
    print(f"{args.count} bundled test sequences, 10 -> 10, {Path(args.checkpoint).name}")
    print(f"{'':20} {'SSIM, data_range 1 (ours)':>26} {'data_range 2 (OpenSTL)':>24}")
    for name, pred in forecasts.items():
        print(f"{name:20} {mean_ssim(pred, truth, 1.0):26.4f} {mean_ssim(pred, truth, 2.0):24.4f}")


if __name__ == "__main__":
    main()
