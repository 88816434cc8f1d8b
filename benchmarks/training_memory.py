"""Benchmark: what training runs leave in the memory of the process that ran them.

The app trains in a thread of its server, as the Train page's runs do: this
runs --runs short trainings one after another in one process, each in a new
thread with a new model (the Train page's default from scratch: layer norm,
batch 16), and prints the process's resident memory after each, once Python's
garbage and glibc's free lists are given back. Whatever grows from run to run
stays for the server's life: ui/limits.py refuses a run that would take the
server past its memory.

Usage:
    python benchmarks/training_memory.py [--runs 4] [--seconds 6]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import tempfile
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="training runs, 2-20 (default 4)")
    parser.add_argument("--seconds", type=float, default=6, help="each run's budget, 1-600 s (default 6)")
    args = parser.parse_args()
    if not 2 <= args.runs <= 20 or not 1 <= args.seconds <= 600:
        parser.error("--runs must be from 2 to 20 and --seconds from 1 to 600")

    from core.training import TrainConfig, TrainingProgress, train

    process, folder = psutil.Process(), tempfile.mkdtemp()
    after = []
    for run in range(args.runs):
        config = TrainConfig(minutes=args.seconds / 60, epochs=10_000, epoch_sequences=64, batch_size=16,
                             val_count=16, model_overrides={"layer_norm": True}, out=f"{folder}/run-{run}.keras")
        worker = threading.Thread(target=train, args=(config, TrainingProgress()))
        worker.start()
        worker.join()
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # what is left is held, not merely free in an arena
        after.append(process.memory_info().rss / 2**20)
        print(f"after run {run + 1}: {after[-1]:.0f} MB", flush=True)
    print(f"each run after the first kept {(after[-1] - after[0]) / (args.runs - 1):.0f} MB on average")


if __name__ == "__main__":
    main()
