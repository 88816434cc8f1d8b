"""Benchmark: how fast a refiner round trains on this machine.

Runs one short round of `python -m core refine --resume` on the shipped
checkpoint, with its card's recipe (filters, batch, SSIM weight, learning
rate), and prints the seconds spent forecasting the training sequences and the
training batches per second from the 21st batch on (the first ones build the
graph). A full round (20,000 sequences, 2 epochs) trains 6,250 batches.

To compare with an older `core`, run the same file from a checkout of it:
    git worktree add /tmp/before <commit> && cp benchmarks/refiner_speed.py /tmp/before/benchmarks/
    python /tmp/before/benchmarks/refiner_speed.py

Usage:
    python benchmarks/refiner_speed.py [--sequences 1280] [--seed 300]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=1280, help="training sequences (10 frames each, 64 a batch)")
    parser.add_argument("--seed", type=int, default=300, help="one the shipped refiner's rounds did not use")
    args = parser.parse_args()
    if args.sequences < 320:  # 50 batches, enough to time from the 21st on
        parser.error("--sequences must be at least 320")

    from core import InputError, RefinerConfig, load_checkpoint, train_refiner
    from core.checkpoints import read_checkpoint_info

    checkpoint = ROOT / "checkpoints" / "convlstm.keras"
    recipe = read_checkpoint_info(checkpoint)[1]["refiner"]
    stamps: dict[str, list[float]] = {}

    def log(stage, done, total, val_mse):
        stamps.setdefault(stage.split(",")[0], []).append(time.perf_counter())

    started = time.perf_counter()
    try:  # a seed out of range or one of the shipped refiner's rounds
        config = RefinerConfig(filters=recipe["filters"], sequences=args.sequences, epochs=1,
                               batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"], val_count=32,
                               seed=args.seed, ssim_weight=recipe["ssim_weight"], resume=True)
        train_refiner(load_checkpoint(checkpoint), config, log)
    except InputError as error:
        parser.error(str(error))
    batches = stamps["training"]
    print(f"forecasting {args.sequences} sequences: {stamps['forecasting train sequences'][-1] - started:.1f} s "
          f"(with loading the model)")
    print(f"training: {(len(batches) - 21) / (batches[-1] - batches[20]):.2f} batches/s "
          f"over batches 21-{len(batches)} of {config.batch_size} frames")


if __name__ == "__main__":
    main()
