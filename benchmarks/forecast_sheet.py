"""Look, not only measure: a sheet of test forecasts under their true frames.

The issue asks that the digits stay recognisable over all 10 predicted
frames, which no metric says. This forecasts consecutive sequences of the
bundled test set with a checkpoint and draws, for each, the 10 true frames
after the context and the 10 predicted ones under them, in one PNG.

Usage:
    python benchmarks/forecast_sheet.py --out docs/test-forecasts.png
    python benchmarks/forecast_sheet.py --checkpoint runs/mine.keras --first 100 --count 8 --out sheet.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MAX_SHOWN = 20  # rows beyond this shrink each frame too far to judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "convlstm.keras"))
    parser.add_argument("--first", type=int, default=20, help="first test sequence, 0-999 (default %(default)s)")
    parser.add_argument("--count", type=int, default=10, help=f"sequences shown, 1-{MAX_SHOWN} (default %(default)s)")
    parser.add_argument("--out", required=True, help="the PNG to write")
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_SHOWN or not 0 <= args.first <= 1000 - args.count:
        parser.error(f"--count must be from 1 to {MAX_SHOWN} and --first + --count at most 1000; "
                     f"received {args.first} and {args.count}")
    if not args.out.endswith(".png"):
        parser.error(f"--out must end in .png; received {args.out}")

    from core.checkpoints import load_checkpoint
    from core.data import moving_mnist, split_context
    from core.errors import InputError
    from core.forecasting import forecast
    from core.media import frame_strip

    try:
        model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    except InputError as error:
        parser.error(str(error))
    sequences = moving_mnist("test", args.first + args.count)[args.first :]
    context, truth = split_context(sequences)
    predicted = forecast(model, context, truth.shape[1])
    rows = {}
    for i, (true, guess) in enumerate(zip(truth, predicted)):
        rows[f"{args.first + i}: truth"] = true
        rows[f"{args.first + i}: forecast"] = guess
    image = frame_strip(rows, per_line=truth.shape[1])
    tmp = Path(args.out).with_suffix(".tmp")  # written whole or not at all
    tmp.write_bytes(image)
    tmp.replace(args.out)
    print(f"wrote {args.out}: test sequences {args.first}-{args.first + args.count - 1}, "
          f"frames 1-{truth.shape[1]} after the context, truth above each forecast")


if __name__ == "__main__":
    main()
