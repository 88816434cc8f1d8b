"""Benchmark: does a refiner that sees the whole frame correct more?

The shipped refiner's three 3x3 convolutions (two hidden, one out) on 4x4
patches see 7x7 patches (28 pixels) around each output patch, less than a
digit travels in ten frames. Dilated hidden convolutions (rates 1, 2, 4, 8;
with the output layer 33x33 patches, the whole 16x16-patch frame) would let
it find the sharp digit in the last context frame wherever the forecast has
moved it. This trains one refiner with the given hidden layers as `python -m
core refine` does (same data, loss, schedule and precision) and prints the
validation MSE after each epoch: `--dilations 1 1` is the shipped shape,
`1 1 1 1` as deep as `1 2 4 8` without the reach. Experimental: the refiner
is built by replacing `core.model.build_model` in this process only; `core` keeps
the shipped shape.

Usage:
    python benchmarks/refiner_reach.py --dilations 1 1
    python benchmarks/refiner_reach.py --dilations 1 2 4 8 --sequences 5000 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "training" / "convlstm-state.keras"))
    parser.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="the dilation rate of each hidden 3x3 layer; 1 1 is the shipped refiner's shape")
    parser.add_argument("--filters", type=int, default=128)
    parser.add_argument("--sequences", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--ssim-weight", type=float, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # At 16 or more every tap but the centre falls in the padding of the 16-patch-wide frame.
    if not all(1 <= rate <= 15 for rate in args.dilations):
        parser.error(f"--dilations must be from 1 to 15 (the frame is 16 patches wide); "
                     f"received {' '.join(map(str, args.dilations))}")

    from keras import layers

    import core.checkpoints
    import core.model
    from core.cli import as_flags
    from core.errors import InputError
    from core.refiner import RefinerConfig, train_refiner

    build = core.model.build_model

    class ReachForecaster(core.model.ConvLSTMForecaster):
        def __init__(self, config, **kwargs):
            super().__init__(dataclasses.replace(config, refiner_filters=0), **kwargs)
            self.config, precision = config, config.precision
            self.refiner = [
                *(layers.Conv2D(config.refiner_filters, 3, padding="same", dilation_rate=rate, activation="relu",
                                dtype=precision, name=f"refiner_{i}") for i, rate in enumerate(args.dilations)),
                layers.Conv2D(config.patch_size**2, 3, padding="same", kernel_initializer="zeros",
                              dtype=precision, name="refiner_out"),
            ]
            for layer in self.refiner:
                layer.trainable = False

    def build_reach(config):
        if isinstance(config, str) or not config.refiner_filters:
            return build(config)
        model = ReachForecaster(config, name="convlstm_forecaster")
        model.build()
        model.studio_config, model.studio_info = config, {}
        return model

    # `train_refiner` builds its refiner through `with_refiner`, which calls `build_model`.
    core.model.build_model = build_reach
    try:
        model = core.checkpoints.load_checkpoint(args.checkpoint, compile=False, precision="auto")
        config = RefinerConfig(filters=args.filters, sequences=args.sequences, epochs=args.epochs,
                               ssim_weight=args.ssim_weight, seed=args.seed)
        started = time.perf_counter()

        def log(stage, done, total, val_mse):
            if stage == "epoch":
                print(f"epoch {done}/{total}: validation MSE {val_mse:.3f} ({time.perf_counter() - started:.0f} s)",
                      flush=True)

        refined = train_refiner(model, config, log)
    except InputError as error:
        parser.error(as_flags(str(error)))
    finally:
        core.model.build_model = build
    params = sum(layer.count_params() for layer in refined.refiner)
    print(f"refiner dilations {' '.join(map(str, args.dilations))}, {args.filters} filters: {params:,} parameters")


if __name__ == "__main__":
    main()
