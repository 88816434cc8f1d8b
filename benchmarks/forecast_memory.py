"""Benchmark: what forecasting many horizons leaves in memory.

Loads the shipped checkpoint as the app does, forecasts one test sequence at
every horizon from 1 to --most (the Forecast page's slider goes to 60), and
prints the process's resident memory after the first forecast and at the end.
The app keeps each model it loads for good, so whatever a horizon leaves
behind stays for every later visitor.

Usage:
    python benchmarks/forecast_memory.py [--most 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--most", type=int, default=60, help="the longest horizon, 2-100 (default 60)")
    args = parser.parse_args()
    if not 2 <= args.most <= 100:
        parser.error("--most must be from 2 to 100")

    from core.checkpoints import load_checkpoint
    from core.data import moving_mnist
    from core.forecasting import forecast

    model = load_checkpoint(ROOT / "checkpoints" / "convlstm.keras")
    frames = moving_mnist("test", 1)[:, :10]
    process = psutil.Process()
    forecast(model, frames, 1)
    first = process.memory_info().rss / 2**20
    start = time.perf_counter()
    for horizon in range(2, args.most + 1):
        forecast(model, frames, horizon)
    last = process.memory_info().rss / 2**20
    print(f"resident memory after a 1-frame forecast: {first:.0f} MB")
    print(f"after every horizon to {args.most}: {last:.0f} MB (+{last - first:.0f} MB, "
          f"{time.perf_counter() - start:.1f} s for the {args.most - 1} forecasts)")


if __name__ == "__main__":
    main()
