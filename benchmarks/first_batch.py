"""Benchmark: how long a Train page run waits for its first batch, and what its budget then trains.

The first batch of a run compiles the training step; on 2 CPU cores that took
most of the page's shortest budget when the clock counted it. This starts the
Train page's run from scratch (3 x 48, batch 16, epochs of 256 sequences, 16
validation sequences), with and without layer normalisation, and prints when
the first batch ended, when the run ended (its last validation and no save
included), the sequences it trained and its validation MSE.

Usage:
    python benchmarks/first_batch.py                 # the page's shortest budget, 0.5 minutes
    python benchmarks/first_batch.py --minutes 1
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def one_run(minutes: float, layer_norm: bool) -> str:
    from core.progress import TrainingProgress
    from core.training import TrainConfig, train

    progress = TrainingProgress()
    config = TrainConfig(minutes=minutes, epoch_sequences=256, batch_size=16, val_count=16, learning_rate=1e-3,
                         sampling_sequences=None, model_overrides={"layer_norm": layer_norm})
    began, first = time.perf_counter(), None
    run = threading.Thread(target=train, args=(config, progress))
    run.start()
    while run.is_alive():
        if first is None and progress.snapshot()["loss"]:
            first = time.perf_counter() - began
        time.sleep(0.05)
    state = progress.snapshot()
    return (f"layer norm {'on ' if layer_norm else 'off'}: first batch done at {first:.1f} s, run ended at "
            f"{time.perf_counter() - began:.1f} s, {state['sequences_seen']} sequences, "
            f"validation MSE {state['val_mse'][-1][1]:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=0.5, help="the run's time budget (default 0.5)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {args.minutes:g}-minute budget")
    for layer_norm in (True, False):
        print(one_run(args.minutes, layer_norm), flush=True)


if __name__ == "__main__":
    main()
