"""Benchmark: what layer normalisation adds to each cell step of a forecast.

A 10-frame forecast from 10 context frames steps each of the shipped model's
3 cells 20 times, so it normalises a (1, 16, 16, 256) gate map 60 times. This
times 60 chained calls of a 3 x 64 cell's `_normalise` in one compiled graph,
in the model's precision (mixed bfloat16 where the CPU has it), against the
plain cell's bias add in its place, and prints the medians. Run it on an older
commit (`git stash`, `git checkout <commit> -- core/model.py`) to compare
implementations: the call is the same.

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

FILTERS, SIZE, CALLS = 64, 16, 60  # the shipped cells' width, the patch grid, 3 cells x 20 steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed graphs per variant, 5-1000 (default 40)")
    args = parser.parse_args()
    if not 5 <= args.repeats <= 1000:
        parser.error("--repeats must be from 5 to 1000")

    import keras
    import tensorflow as tf

    from core.model import ConvLSTMCell, fast_precision

    precision = fast_precision()
    cell = ConvLSTMCell(FILTERS, 3, layer_norm=True, dtype=precision)
    cell.build((1, SIZE, SIZE, FILTERS))
    z = keras.ops.cast(keras.random.normal((1, SIZE, SIZE, 4 * FILTERS), seed=0) * 3 + 1, cell.compute_dtype)
    bias = keras.ops.cast(cell.conv.bias, cell.compute_dtype)
    variants = {"bias add (plain cell)": lambda x: x + bias, "layer norm": cell._normalise}
    # Each call feeds the next, scaled so that the values stay in range, as a rollout chains them.
    scale = keras.ops.cast(1.01, cell.compute_dtype)
    print(f"{CALLS} calls on a (1, {SIZE}, {SIZE}, {4 * FILTERS}) map in {precision}, "
          f"{os.cpu_count()} CPU cores; median of {args.repeats} graphs:")
    for name, step in variants.items():
        @tf.function
        def chain(x, step=step):
            for _ in range(CALLS):
                x = step(x) * scale
            return x

        chain(z)  # builds the graph
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            chain(z).numpy()
            times.append(time.perf_counter() - start)
        print(f"  {name}: {1000 * statistics.median(times):.2f} ms (min {1000 * min(times):.2f})")


if __name__ == "__main__":
    main()
