"""Benchmark: what training runs leave in the memory of the process that ran them.

The app trains in a thread of its server, as the Train page's runs do: this
runs --runs short trainings one after another in one process, each in a new
thread with a new model (the Train page's default from scratch: layer norm,
batch 16), and prints the process's resident memory after each, once Python's
garbage and glibc's free lists are given back. Whatever grows from run to run
stays for the server's life. With --recycle each run trains in the model the
last one left (TrainConfig.recycle, as the app's server does), with new weights;
with --from-shipped each fine-tunes the shipped model, as the Train page's
"From the shipped model" does; with --keras-io each trains the keras.io
example's model at batch 1, as the Train page does.

Usage:
    python benchmarks/training_memory.py [--runs 4] [--seconds 6] [--recycle] [--from-shipped | --keras-io]
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
    parser.add_argument("--recycle", action="store_true", help="reuse the last run's model (TrainConfig.recycle)")
    parser.add_argument("--from-shipped", action="store_true", help="fine-tune checkpoints/convlstm.keras")
    parser.add_argument("--keras-io", action="store_true", help="train the keras.io example's model at batch 1")
    args = parser.parse_args()
    if not 2 <= args.runs <= 20 or not 1 <= args.seconds <= 600:
        parser.error("--runs must be from 2 to 20 and --seconds from 1 to 600")
    if args.from_shipped and args.keras_io:
        parser.error("--from-shipped and --keras-io are two kinds of run: choose one")

    from core.progress import TrainingProgress
    from core.training import FINE_TUNING_LEARNING_RATE, TrainConfig, train

    # As the Train page asks: a new model with layer norm, the shipped one closed loop at its small
    # rate, or the keras.io model one sequence a batch (the most a shared server allows).
    if args.from_shipped:
        start = dict(init_from=str(ROOT / "checkpoints/convlstm.keras"), sampling_sequences=0,
                     learning_rate=FINE_TUNING_LEARNING_RATE, batch_size=16, val_count=16)
    elif args.keras_io:
        start = dict(preset="keras-io", batch_size=1, val_count=4)
    else:
        start = dict(model_overrides={"layer_norm": True}, batch_size=16, val_count=16)

    process, folder = psutil.Process(), tempfile.mkdtemp()
    after = []
    for run in range(args.runs):
        config = TrainConfig(minutes=args.seconds / 60, epochs=10_000, epoch_sequences=64,
                             out=f"{folder}/run-{run}.keras", recycle=args.recycle, **start)
        worker = threading.Thread(target=train, args=(config, TrainingProgress()))
        worker.start()
        peak = process.memory_info().rss / 2**20
        while worker.is_alive():
            peak = max(peak, process.memory_info().rss / 2**20)
            worker.join(0.2)
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # what is left is held, not merely free in an arena
        after.append(process.memory_info().rss / 2**20)
        print(f"run {run + 1}: peak {peak:.0f} MB, after it {after[-1]:.0f} MB", flush=True)
    print(f"each run after the first kept {(after[-1] - after[0]) / (args.runs - 1):.0f} MB on average")


if __name__ == "__main__":
    main()
