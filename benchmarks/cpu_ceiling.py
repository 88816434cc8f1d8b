"""Benchmark: how close training the shipped model runs to this CPU's limit.

Training speed decides how far a CPU session gets, so before looking for a
faster way to train, this measures how much room there is. It times, in the
model's own precision (mixed bfloat16 here):
- the cells' largest convolution alone (3x3, 16x16, 128 -> 256 channels, the
  shipped model's batch), forward and backward, the work that dominates a step;
- whole training steps of the shipped architecture (3 x 64, batch 32) on drawn
  Moving MNIST batches, as `python -m core train` runs them;
and prints the FLOP rates of both (multiply-adds x 2, counted analytically as
in core_speed.py), their ratio, and what the training speed means in sequences
per session.

Usage:
    python benchmarks/cpu_ceiling.py
    python benchmarks/cpu_ceiling.py --layers 4 --filters 64 --batch-size 32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core_speed import forward_flops  # noqa: E402  (same directory)


def convolution_gflops(batch: int, filters: int, seconds: float, backward: bool = True) -> float:
    """GFLOP/s of one cell's gate convolution in bfloat16: forward and both
    gradients, as in training, or with backward=False forward only, as in a forecast."""
    import tensorflow as tf

    x = tf.Variable(tf.cast(tf.random.normal((batch, 16, 16, 2 * filters)), tf.bfloat16))
    kernel = tf.Variable(tf.cast(tf.random.normal((3, 3, 2 * filters, 4 * filters)), tf.bfloat16))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.conv2d(x, kernel, 1, "SAME")
        return tape.gradient(y, [x, kernel], output_gradients=tf.ones_like(y)) if backward else [y]

    step()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        grads = step()
        runs += 1
    grads[0].numpy()
    flops = (3 if backward else 1) * 2 * batch * 16 * 16 * 2 * filters * 4 * filters * 9  # a gradient costs a forward
    return flops * runs / (time.perf_counter() - start) / 1e9


def training_speed(layers: int, filters: int, batch: int, seconds: float) -> tuple[float, float]:
    """(sequences/s, GFLOP per sequence) of training steps on drawn batches."""
    import keras
    import numpy as np

    from core import data
    from core.device import fast_precision
    from core.model import build_model, model_config, preset

    model = build_model(preset("convlstm", num_layers=layers, filters=filters, precision=fast_precision()))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
    rng = np.random.default_rng(0)

    def batch_of_sequences():
        frames = data.to_unit_float(data.generate("train", batch, rng).frames)[..., None]
        return frames[:, :-1], frames[:, 1:]

    for _ in range(2):  # graph building and first allocations
        model.train_on_batch(*batch_of_sequences())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.train_on_batch(*batch_of_sequences())
        steps += 1
    speed = steps * batch / (time.perf_counter() - start)
    return speed, 3 * forward_flops(model_config(model), steps=19) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="time spent on each measurement")
    args = parser.parse_args()

    convolution = convolution_gflops(args.batch_size, args.filters, args.seconds / 4)
    speed, per_sequence = training_speed(args.layers, args.filters, args.batch_size, args.seconds)
    achieved = speed * per_sequence
    print(f"CPU: {os.cpu_count()} cores")
    print(f"cells' convolution alone (forward + backward, bfloat16): {convolution:.0f} GFLOP/s")
    print(
        f"training {args.layers} x {args.filters}, batch {args.batch_size}: {speed:.1f} sequences/s x "
        f"{per_sequence:.1f} GFLOP = {achieved:.0f} GFLOP/s, {achieved / convolution:.0%} of the convolution's rate"
    )
    print(f"at this speed: {speed * 3600:,.0f} sequences per hour, {1e6 / speed / 3600:.1f} hours per million")


if __name__ == "__main__":
    main()
