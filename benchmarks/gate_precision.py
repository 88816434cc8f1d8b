"""Benchmark: the cells' elementwise work in bfloat16 against float32.

Under mixed precision a cell's convolution runs in bfloat16, where the CPU has
bfloat16 units, but its gates and state update (sigmoid, tanh, multiplies on
the gate map) run in float32: on a CPU, TensorFlow's elementwise kernels in
bfloat16 ran several times slower than in float32, and a forecast runs 57 cell
steps of them. This times each operation on the shipped model's maps (batch 1,
16x16, 64 channels for one gate, 256 for all four), 4 x 57 in a row in one
compiled graph, about as many of a kind as a forecast's 57 cell steps run,
and prints microseconds per operation.

Usage:
    python benchmarks/gate_precision.py
    python benchmarks/gate_precision.py --repeats 100
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed graphs per operation, 5-1000 (default 30)")
    args = parser.parse_args()
    if not 5 <= args.repeats <= 1000:
        parser.error("--repeats must be from 5 to 1000")

    import tensorflow as tf
    from winograd import CHAIN, median_ms  # same directory: the median of one of 57 calls chained in a graph

    def four(operation):
        # Chains long enough that launching the graph does not count.
        return lambda x: operation(operation(operation(operation(x))))

    # Multiplies by a fixed map of values near 1, as f * c does: x * x would run to 0 or infinity.
    near_one = tf.random.stateless_uniform((1, 16, 16, 64), (0, 1), 0.9, 1.1)
    factors = {dtype: tf.cast(near_one, dtype) for dtype in (tf.bfloat16, tf.float32)}

    def multiply(x):
        return x * factors[x.dtype]

    operations = {
        "sigmoid, one gate (16x16x64)": (tf.sigmoid, 64),
        "tanh, one gate": (tf.tanh, 64),
        "multiply, one gate": (multiply, 64),
        "sigmoid, all four gates (16x16x256)": (tf.sigmoid, 256),
    }
    print(f"{os.cpu_count()} CPU cores; microseconds per operation, median of {args.repeats} chains of {4 * CHAIN}:")
    print(f"  {'':50} {'bfloat16':>9} {'float32':>9}")
    for name, (operation, channels) in operations.items():
        row = []
        for dtype in (tf.bfloat16, tf.float32):
            x = tf.cast(tf.random.stateless_normal((1, 16, 16, channels), seed=(0, 0)), dtype)
            row.append(1000 * median_ms(four(operation), x, args.repeats) / 4)
        print(f"  {name:50} {row[0]:9.1f} {row[1]:9.1f}")


if __name__ == "__main__":
    main()
