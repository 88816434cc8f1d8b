"""Benchmark: how fast training batches are drawn, by 1 to N threads.

A GPU trains the shipped 3 x 64 model far faster than one thread can draw
Moving MNIST sequences, so `--workers` threads draw them (Keras' `PyDataset`).
This prints, for each thread count, the sequences per second that
`core.training.TrainingSequences` delivers (generation, scaling to [0, 1],
input/target split), so a GPU run can pick `--workers` and see whether
drawing or the GPU is the limit. Threads only help where numpy releases the
GIL, so the figures also show how much of the work does.

Usage:
    python benchmarks/data_speed.py                 # 1 and 2 threads, batch 32
    python benchmarks/data_speed.py --threads 1 4 8 12 --batch-size 128
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


def sequences_per_second(threads: int, batch_size: int, seconds: float) -> float:
    from core.training import TrainingSequences

    datasets = [TrainingSequences(batch_size, 10**9, 2, seed) for seed in range(threads)]
    for dataset in datasets:
        dataset[0]  # loads the digits once, outside the timing
    drawn = [0] * threads
    stop = threading.Event()

    def draw(slot: int) -> None:
        while not stop.is_set():
            datasets[slot][drawn[slot]]
            drawn[slot] += 1

    workers = [threading.Thread(target=draw, args=(slot,)) for slot in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(drawn) * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"CPU: {os.cpu_count()} cores; batch {args.batch_size}, 20-frame sequences")
    for threads in args.threads:
        rate = sequences_per_second(threads, args.batch_size, args.seconds)
        print(f"{threads:>3} threads: {rate:,.0f} sequences/s")


if __name__ == "__main__":
    main()
