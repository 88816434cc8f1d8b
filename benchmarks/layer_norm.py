"""Benchmark: what layer normalisation adds to the cell steps of a forecast.

A 10-frame forecast from 10 context frames steps each of the shipped model's
3 cells 19 times (10 context frames, then 9 of its own predictions fed back),
57 cell steps at batch 1. This times 57 chained steps of one 3 x 64 cell
(its convolution from 128 channels, the gates and the state update) in one
compiled graph, in the model's precision (mixed bfloat16 where the CPU has
it), with and without layer normalisation, and prints the medians. As a
rollout does, it casts the cell's weights once (`step_weights`) for all the
steps. Cells before session 28 had no `step`: to time one of them, run that
commit's own copy of this script (`git show <commit>:benchmarks/layer_norm.py`)
with its `core/model.py`.

Usage:
    python benchmarks/layer_norm.py
    python benchmarks/layer_norm.py --repeats 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FILTERS, SIZE, STEPS = 64, 16, 57  # the shipped cells' width, the patch grid, 3 cells x 19 steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed graphs per variant, 5-1000 (default 40)")
    args = parser.parse_args()
    if not 5 <= args.repeats <= 1000:
        parser.error("--repeats must be from 5 to 1000")

    import keras
    import tensorflow as tf

    from core.device import fast_precision
    from core.model import ConvLSTMCell

    precision = fast_precision()
    print(f"{STEPS} steps of a {FILTERS}-filter cell on a {SIZE}x{SIZE} map, batch 1, in {precision}, "
          f"{os.cpu_count()} CPU cores; median of {args.repeats} graphs:")
    for layer_norm in (False, True):
        cell = ConvLSTMCell(FILTERS, 3, layer_norm=layer_norm, dtype=precision)
        cell.build((1, SIZE, SIZE, FILTERS))
        x = keras.ops.cast(keras.random.normal((1, SIZE, SIZE, FILTERS), seed=0), cell.compute_dtype)

        @tf.function
        def steps(x, cell=cell):
            weights = cell.step_weights()
            h, c = keras.ops.zeros_like(x), keras.ops.zeros(x.shape, "float32")
            for _ in range(STEPS):  # as in a stack, each step's output is the next one's input
                h, c = cell.step(x, (h, c), weights)
                x = h
            return h

        steps(x)  # builds the graph
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            steps(x).numpy()
            times.append(time.perf_counter() - start)
        name = "with layer norm" if layer_norm else "plain"
        print(f"  {name}: {1000 * statistics.median(times):.2f} ms (min {1000 * min(times):.2f})")


if __name__ == "__main__":
    main()
