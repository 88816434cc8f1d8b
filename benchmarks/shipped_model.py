"""Benchmark: the shipped checkpoint against its budget (5M parameters, 20 MB, 50 ms).

Loads `checkpoints/convlstm.keras` the way the app does (precision "auto"; see --precision) and
prints its parameters, file size, load time and the median of 30 (--forecasts) warm 10-frame
forecasts of one test sequence from 10 context frames, then that forecast's
FLOP rate next to the rate of its largest convolution alone (how much faster
it could get on this CPU).

With --layers, --filters, --refiner and --layer-norm it times an untrained model of that
size instead (speed does not depend on the weights), to see which sizes fit
the budget.
With --batch N it forecasts N sequences at once (what averaging N forecasts
of one sequence, e.g. over its mirror images, would cost).
With --against FILE it times that checkpoint too, the two models forecasting
in turn, so that both see the same minutes of a host whose speed wanders.
With --precision float32 it runs as on a CPU without bfloat16 units.

Usage:
    python benchmarks/shipped_model.py
    python benchmarks/shipped_model.py --layers 4 --filters 64
    python benchmarks/shipped_model.py --layers 3 --filters 64 --refiner 96
    python benchmarks/shipped_model.py --layers 3 --filters 64 --refiner 128 --layer-norm
    python benchmarks/shipped_model.py --batch 2
    python benchmarks/shipped_model.py --forecasts 300 --against old.keras   # e.g. from git show <commit>:checkpoints/convlstm.keras
    python benchmarks/shipped_model.py --precision float32
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

CHECKPOINT = ROOT / "checkpoints" / "convlstm.keras"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--filters", type=int, default=None)
    parser.add_argument("--refiner", type=int, default=0, help="width of the refiner of an untrained model (default 0, none)")
    parser.add_argument("--layer-norm", action="store_true", help="cells with layer normalisation (an untrained model)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per forecast, 1-32 (default 1)")
    parser.add_argument("--forecasts", type=int, default=30, help="timed forecasts, 10-1000 (default 30)")
    parser.add_argument("--against", help="another checkpoint, timed in turn with this model")
    parser.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"], default="auto",
                        help="arithmetic to run in (default auto, as the app: bfloat16 where the CPU has it)")
    args = parser.parse_args()
    if not 1 <= args.batch <= 32:  # forecast's batches hold 32: more would not be one forecast
        parser.error("--batch must be from 1 to 32")
    if not 10 <= args.forecasts <= 1000:
        parser.error("--forecasts must be from 10 to 1000")

    from core_speed import forward_flops  # same directory
    from cpu_ceiling import convolution_gflops

    from core.checkpoints import load_checkpoint
    from core.cli import as_flags
    from core.data import moving_mnist
    from core.device import fast_precision
    from core.errors import InputError
    from core.forecasting import forecast
    from core.model import build_model, model_config, preset

    # `is not None`, not truthiness: --layers 0 timed the shipped model.
    untrained = args.layers is not None or args.filters is not None or args.refiner != 0 or args.layer_norm
    precision = fast_precision() if args.precision == "auto" else args.precision
    start = time.perf_counter()
    if untrained:
        sizes = {"num_layers": 3 if args.layers is None else args.layers,
                 "filters": 64 if args.filters is None else args.filters, "refiner_filters": args.refiner,
                 "layer_norm": args.layer_norm}
        try:
            config = preset("convlstm", precision=precision, **sizes)
        except InputError as error:  # sizes outside ModelConfig's limits
            parser.error(as_flags(str(error)))
        model = build_model(config)
    else:
        model = load_checkpoint(CHECKPOINT, compile=False, precision=precision)
    load_seconds = time.perf_counter() - start
    try:
        other = load_checkpoint(args.against, compile=False, precision=precision) if args.against else None
    except InputError as error:
        parser.error(str(error))
    n, count = args.batch, args.forecasts
    test = moving_mnist("test", (count + 1) * n)[:, :10]
    models = [model] if other is None else [model, other]
    times = [[] for _ in models]
    for each in models:
        forecast(each, test[:n], 10)  # warm-up: builds the graph once
    for i in range(n, (count + 1) * n, n):
        for each, spent in zip(models, times):
            start = time.perf_counter()
            forecast(each, test[i : i + n], 10)
            spent.append(time.perf_counter() - start)
    times, other_times = times[0], times[-1]
    config = model_config(model)
    refiner = f", refiner {config.refiner_filters}" if config.refiner_filters else ""
    norm = ", layer norm" if config.layer_norm else ""
    print(f"CPU: {os.cpu_count()} cores; {config.num_layers} x {config.filters}{norm}{refiner}, "
          f"running in {config.precision}")
    print(f"parameters: {model.count_params():,} (budget 5,000,000)")
    if not untrained:
        print(f"file size: {CHECKPOINT.stat().st_size / 1e6:.2f} MB (budget 20 MB)")
        print(f"load: {load_seconds:.1f} s")
    what = "one sequence" if n == 1 else f"{n} sequences at once"
    print(f"10-frame forecast of {what}: median {1000 * statistics.median(times):.1f} ms, "
          f"min {1000 * min(times):.1f} ms, max {1000 * max(times):.1f} ms (budget 50 ms)")
    if other is not None:
        print(f"{args.against}, in turn with it: median {1000 * statistics.median(other_times):.1f} ms, "
              f"min {1000 * min(other_times):.1f} ms, max {1000 * max(other_times):.1f} ms")
    # How much faster a forecast could get here: its FLOP rate against that of its
    # largest convolution run alone at the same batch. The cells step once per
    # context frame, the last step predicting the first of the 10, then 9 more.
    gflop = n * forward_flops(config, steps=config.context + 10 - 1, refined=10) / 1e9
    rate = gflop / statistics.median(times)
    if precision != "mixed_bfloat16":  # the convolution below is timed in bfloat16 only
        print(f"that is {gflop:.1f} GFLOP at {rate:.0f} GFLOP/s")
        return
    alone = convolution_gflops(n, config.filters, seconds=5, backward=False)
    print(f"that is {gflop:.1f} GFLOP at {rate:.0f} GFLOP/s; the cells' largest convolution alone "
          f"(bfloat16, batch {n}): {alone:.0f} GFLOP/s, so {rate / alone:.0%} of it")


if __name__ == "__main__":
    main()
