"""Benchmark: how much memory the Evaluate page's evaluation adds to the server.

Runs one evaluation as the Evaluate page does (`ui.evaluations`, its worker
thread and the thread that runs every forecast) on the shipped checkpoint (or --checkpoint),
samples the process's resident memory every 20 ms while it runs, and prints
the memory before, the peak above it and the time taken. A class may train
and evaluate at once, and Community Cloud stops an app past about 2.7 GB.

Usage:
    python benchmarks/evaluation_memory.py [--count 1000] [--checkpoint FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="test sequences, 1-1000 (default 1000)")
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "convlstm.keras"),
                        help="a .keras file from `python -m core train` (default: the shipped model)")
    args = parser.parse_args()
    if not 1 <= args.count <= 1000:
        parser.error("--count must be from 1 to 1000")

    from core.checkpoints import load_checkpoint
    from core.data import moving_mnist
    from core.forecasting import forecast
    from ui.evaluations import Evaluations

    path = Path(args.checkpoint)
    model = load_checkpoint(path, compile=False, precision="auto")
    forecast(model, moving_mnist("test", 1)[:, :10], 10)  # traced, as on a server that has forecast once
    process = psutil.Process()
    before = peak = process.memory_info().rss / 2**20
    start = time.perf_counter()
    run = Evaluations().request(path, args.count, lambda _: model, ThreadPoolExecutor(1), owner="benchmark")
    while not run.finished:
        peak = max(peak, process.memory_info().rss / 2**20)
        time.sleep(0.02)
    if run.status != "done":
        sys.exit(f"the evaluation {run.status}: {run.error}")
    print(f"resident memory before: {before:.0f} MB")
    print(f"peak during the evaluation of {args.count} sequences: {peak:.0f} MB (+{peak - before:.0f} MB), "
          f"{time.perf_counter() - start:.1f} s; model MSE {run.results['model'].mse:.2f}")


if __name__ == "__main__":
    main()
