"""Benchmark: would Winograd's convolution make room for the mirror average?

A forecast runs at its convolutions' rate (shipped_model.py), so averaging it
with its two mirror images (three forecasts) needs fewer multiplications per
convolution. Winograd's F(2x2, 3x3) computes a 3x3 convolution from 4x4 input
tiles with 16 multiplications per 2x2 outputs instead of 36: 2.25x fewer. This
times the cells' largest convolution (3x3, 16x16, 128 -> 256 channels,
bfloat16) both ways, 57 in a row inside one graph as in a forecast (19 steps x
3 cells), and Winograd's four parts alone: the tiles, their transform, the 16
matrix products, and the output transform. It also prints the largest
difference of each from a float32 convolution.

Usage:
    python benchmarks/winograd.py
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

CHANNELS, FILTERS, CHAIN = 128, 256, 57
# Lavin and Gray (2016): Y = A^T [(G g G^T) . (B^T d B)] A, per tile.
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)


def median_ms(body, x, runs: int = 50) -> float:
    """Median milliseconds of one `body`, over CHAIN calls in a row in one graph."""
    def chain(a):
        for _ in range(CHAIN):
            a = body(a)
        return a

    chained = tf.function(chain, autograph=False)
    for _ in range(5):
        chained(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        chained(x).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3 / CHAIN


def main() -> None:
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, CHANNELS, FILTERS)).astype(np.float32) * 0.05
    weights = tf.constant(kernel, tf.bfloat16)
    # The kernel's transform is done once, as it would be on loading a model.
    tiled = tf.constant(np.einsum("ai,ijcf,bj->abcf", G, kernel, G).reshape(16, CHANNELS, FILTERS), tf.bfloat16)
    inner, outer = tf.constant(np.kron(B_T, B_T), tf.bfloat16), tf.constant(np.kron(A_T, A_T), tf.bfloat16)

    def tiles(x):  # (B, 16, 16, C) -> (B * 64, 16, C): overlapping 4x4 tiles, stride 2
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return tf.reshape(tf.image.extract_patches(padded, [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID"),
                          (-1, 16, CHANNELS))

    def untile(y, batch):  # (4, B * 64, F) -> (B, 16, 16, F)
        y = tf.transpose(tf.reshape(y, (2, 2, batch, 8, 8, FILTERS)), (2, 3, 0, 4, 1, 5))
        return tf.reshape(y, (batch, 16, 16, FILTERS))

    def winograd(x):
        products = tf.matmul(tf.einsum("xk,nkc->xnc", inner, tiles(x)), tiled)
        return untile(tf.einsum("ox,xnf->onf", outer, products), x.shape[0])

    print(f"3x3 convolution, 16x16, {CHANNELS} -> {FILTERS} channels, bfloat16; ms per convolution, "
          f"median of 50 chains of {CHAIN}")
    for batch in (1, 3):
        x = tf.constant(rng.normal(size=(batch, 16, 16, CHANNELS)), tf.bfloat16)
        tile_x = tf.constant(rng.normal(size=(16, batch * 64, CHANNELS)), tf.bfloat16)
        product = tf.constant(rng.normal(size=(16, batch * 64, FILTERS)), tf.bfloat16)
        # Each part's output is cut back to its input's shape so that the chain runs on.
        times = {
            "direct": median_ms(lambda a: tf.nn.conv2d(a, weights, 1, "SAME")[..., :CHANNELS], x),
            "Winograd": median_ms(lambda a: winograd(a)[..., :CHANNELS], x),
            "  tiles": median_ms(lambda a: tf.reshape(tiles(a), (batch, 16, 16, 4 * CHANNELS))[..., :CHANNELS], x),
            "  their transform": median_ms(lambda t: tf.einsum("xk,knc->xnc", inner, t), tile_x),
            "  16 products": median_ms(lambda t: tf.matmul(t, tiled)[..., :CHANNELS], tile_x),
            "  output transform": median_ms(
                lambda m: tf.reshape(tf.tile(tf.reshape(untile(tf.einsum("ox,xnf->onf", outer, m), batch), [-1]), [4]),
                                     m.shape), product),
        }
        reference = tf.nn.conv2d(tf.cast(x, tf.float32), kernel, 1, "SAME").numpy()
        errors = {name: np.abs(tf.cast(f(x), tf.float32).numpy() - reference).max()
                  for name, f in (("direct", lambda a: tf.nn.conv2d(a, weights, 1, "SAME")), ("Winograd", winograd))}
        print(f"batch {batch}: " + ", ".join(f"{name.strip()} {ms:.2f}" for name, ms in times.items()))
        print(f"  largest difference from float32 (outputs up to {np.abs(reference).max():.1f}): "
              + ", ".join(f"{name} {error:.3f}" for name, error in errors.items()))


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not the whole run
    main()
