"""Benchmark: why the pages open on test sequence `ui.shared.FIRST_SEQUENCE`.

Forecasts the first 300 (--count) test sequences with the shipped checkpoint, loaded as the
app loads it, and prints the median MSE, then for sequence 0, the first sequence and every
other sequence whose digits stay apart (centres at least 22 px apart in all 20 frames, as
28 px digits' ink is about 20 px wide), are of two classes and bounce at least twice in the
forecast: its MSE and rank (1 = best), the closest its digits come, and where they bounce.

Usage:
    python benchmarks/first_sequence.py
    python benchmarks/first_sequence.py --count 1000
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

from core import data, metrics  # noqa: E402
from core.checkpoints import load_checkpoint  # noqa: E402
from core.forecasting import forecast  # noqa: E402
from ui.charts import describe_bounces  # noqa: E402
from ui.shared import FIRST_SEQUENCE, SHIPPED  # noqa: E402

APART = 22  # px between the digits' centres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="test sequences to rank (default 300)")
    count = parser.parse_args().count
    model = load_checkpoint(SHIPPED, compile=False, precision="auto")
    sequences = [data.sequence("test", i) for i in range(count)]
    frames = np.concatenate([s.frames for s in sequences])
    truth = frames[:, data.CONTEXT_FRAMES:] / 255.0
    mse = metrics.per_sequence(forecast(model, frames[:, : data.CONTEXT_FRAMES], 10), truth)["mse"]
    mse = mse.reshape(count, -1).mean(1)
    rank = mse.argsort().argsort() + 1
    print(f"Shipped model on test sequences 0-{count - 1}: median MSE {np.median(mse):.1f}")
    for i, sequence in enumerate(sequences):
        centres = sequence.positions[0] + data.DIGIT_SIZE / 2  # (T, 2 digits, 2)
        closest = np.linalg.norm(centres[:, 0] - centres[:, 1], axis=-1).min()
        bounces = sum(t >= data.CONTEXT_FRAMES for t, _, _ in data.walls_hit(sequence))
        candidate = closest >= APART and bounces >= 2 and len(set(sequence.labels[0])) == 2
        if i in (0, FIRST_SEQUENCE) or candidate:
            mark = " <- FIRST_SEQUENCE" if i == FIRST_SEQUENCE else ""
            print(f"sequence {i}: MSE {mse[i]:.1f}, rank {rank[i]} of {count}; digits {sequence.labels[0].tolist()} "
                  f"at least {closest:.0f} px apart; {bounces} bounces in the forecast{mark}")
            print(f"    {describe_bounces(sequence)}")


if __name__ == "__main__":
    main()
