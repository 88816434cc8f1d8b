"""Benchmark: what an output floor trades, MSE for SSIM, on validation sequences.

Forecasts the sequences once with the raw output (floor 0), then scores the
forecast with the pixels below each floor cleared, as `core.forecasting`
does for a checkpoint exported with `--output-floor`. Choose the floor here,
on validation digits, never on the test set the model card reports.

Usage:
    python benchmarks/output_floor.py
    python benchmarks/output_floor.py --checkpoint checkpoints/training/convlstm-state.keras --floors 0.05 0.08
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "convlstm.keras"))
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--floors", type=float, nargs="+", default=[0, 0.03, 0.05, 0.06, 0.07, 0.08, 0.1, 0.15])
    args = parser.parse_args()
    from core.cli import MAX_SEQUENCES  # light: no TensorFlow

    # Checked before the minute of loading and forecasting that a bad value would waste.
    if not 1 <= args.count <= MAX_SEQUENCES:
        parser.error(f"--count must be from 1 to {MAX_SEQUENCES:,}; received {args.count}")
    if not all(0 <= floor < 1 for floor in args.floors):
        parser.error(f"--floors must be at least 0 and below 1; received {' '.join(map(str, args.floors))}")

    from core.checkpoints import load_checkpoint
    from core.data import moving_mnist, split_context, to_unit_float
    from core.errors import InputError
    from core.forecasting import clear_below, forecast
    from core.metrics import score
    from core.model import with_output_floor

    try:
        model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    except InputError as error:
        parser.error(str(error))
    shipped_floor = model.studio_config.output_floor
    model = with_output_floor(model, 0.0)
    context, truth = split_context(moving_mnist(args.split, args.count))
    raw = forecast(model, context, truth.shape[1])
    truth = to_unit_float(truth)
    print(f"{args.checkpoint} (output floor {shipped_floor}), {args.count} {args.split} sequences, "
          f"{context.shape[1]} -> {truth.shape[1]} frames")
    print(f"{'floor':>6} {'MSE':>7} {'MAE':>7} {'SSIM':>7} {'PSNR':>6}")
    for floor in args.floors:
        scores = score(clear_below(raw.copy(), floor), truth)
        print(f"{floor:>6.2f} {scores.mse:>7.2f} {scores.mae:>7.1f} {scores.ssim:>7.4f} {scores.psnr:>6.2f}")


if __name__ == "__main__":
    main()
