"""Benchmark: our ConvLSTM against the keras.io example's model, on this machine.

Measures, each model in its own process so peak memory is its own:
- training speed in 20-frame sequences per second (19 input frames, 19 targets),
  after warm-up batches, with data generation included;
- a warm 10-frame forecast of one sequence from 10 context frames: ours in
  closed loop, the keras.io model the keras.io example's way (re-running the
  whole growing sequence once per new frame);
- FLOPs per training sequence (convolutions counted analytically; a training
  step is taken as 3x the forward pass) and the FLOP/s achieved;
- peak resident memory.

Usage:
    python benchmarks/core_speed.py            # prints a markdown table
    python benchmarks/core_speed.py --json     # the same figures as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SETTINGS = {
    # preset: (batch size, timed batches, timed forecasts); keras.io trains with batch 5.
    "convlstm": (16, 20, 30),
    "keras-io": (5, 4, 3),
}


def forward_flops(config, steps: int, refined: int = 0) -> float:
    """Multiply-adds x 2 of the convolutions over `steps` frames of one sequence,
    and of the refiner (if the model has one) over `refined` predicted frames."""
    if config.preset == "keras-io":
        pixels, f = 64 * 64, config.filters
        per_step = 0.0
        channels = 1
        for kernel in (5, 3, 1):  # each ConvLSTM2D: input and recurrent convolutions, 4 gates
            per_step += 2 * pixels * (channels + f) * 4 * f * kernel**2
            channels = f
        head = 2 * pixels * f * 1 * 27  # Conv3D 3x3x3 to one channel
        return steps * (per_step + head)
    side = 64 // config.patch_size
    pixels, f, channels = side * side, config.filters, config.patch_size**2
    per_step = 0.0
    for _ in range(config.num_layers):
        per_step += 2 * pixels * (channels + f) * 4 * f * config.kernel_size**2
        channels = f
    per_step += 2 * pixels * f * config.patch_size**2
    from core.model import REFINER_INPUTS

    w, patch = config.refiner_filters, config.patch_size**2
    per_frame = 2 * pixels * 9 * (REFINER_INPUTS * patch * w + w * w + w * patch)  # three 3x3 convolutions
    return steps * per_step + refined * per_frame


def measure(name: str) -> dict:
    import keras
    import numpy as np

    from core import data
    from core.forecasting import forecast
    from core.model import build_model, model_config

    batch, batches, forecasts = SETTINGS[name]
    model = build_model(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    rng = np.random.default_rng(0)

    def batch_of_sequences():
        frames = data.to_unit_float(data.generate("train", batch, rng).frames)[..., None]
        return frames[:, :-1], frames[:, 1:]

    for _ in range(2):  # warm-up: graph building and the first allocations
        model.train_on_batch(*batch_of_sequences())
    start = time.perf_counter()
    for _ in range(batches):
        model.train_on_batch(*batch_of_sequences())
    train_speed = batch * batches / (time.perf_counter() - start)

    test = data.moving_mnist("test", forecasts + 1)
    forecast(model, test[:1, :10], 10)  # warm-up
    times = []
    for i in range(forecasts):
        start = time.perf_counter()
        forecast(model, test[i + 1 : i + 2, :10], 10)
        times.append(time.perf_counter() - start)

    flops = 3 * forward_flops(model_config(model), steps=19)
    return {
        "model": name,
        "parameters": model.count_params(),
        "precision": model_config(model).precision,
        "batch_size": batch,
        "train_sequences_per_second": train_speed,
        "forecast_ms": 1000 * statistics.median(times),
        "train_gflops_per_sequence": flops / 1e9,
        "achieved_gflops_per_second": flops * train_speed / 1e9,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=list(SETTINGS), help="measure one model alone (the script runs each so in a fresh process)")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only)))
        return
    rows = []
    for name in SETTINGS:
        out = subprocess.run(
            [sys.executable, __file__, "--only", name], capture_output=True, text=True, check=True
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    ours, theirs = rows
    ratios = {
        "train_speedup": ours["train_sequences_per_second"] / theirs["train_sequences_per_second"],
        "forecast_speedup": theirs["forecast_ms"] / ours["forecast_ms"],
    }
    if args.json:
        print(json.dumps({"rows": rows, **ratios}, indent=1))
        return
    print(f"CPU: {os.cpu_count()} cores")
    print("| model | params | precision | train seq/s (batch) | 10-frame forecast, 1 seq | train GFLOP/seq | GFLOP/s | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['parameters']:,} | {r['precision']} | {r['train_sequences_per_second']:.2f} ({r['batch_size']}) "
            f"| {r['forecast_ms']:.1f} ms | {r['train_gflops_per_sequence']:.1f} | {r['achieved_gflops_per_second']:.0f} "
            f"| {r['peak_memory_mb']:.0f} MB |"
        )
    print(f"\ntraining: {ratios['train_speedup']:.1f}x faster; forecast: {ratios['forecast_speedup']:.0f}x faster")


if __name__ == "__main__":
    main()
