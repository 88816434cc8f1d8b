"""Benchmark: are the forecast digits still recognisable? A classifier reads them.

The issue asks that the digits stay recognisable over all 10 predicted frames,
which MSE and SSIM do not say: a blur can score well and read as nothing. The
generator knows where each digit is in every frame and what it is, so a digit
classifier (a small CNN trained here on the 4,000 training digits and copies
shifted on black by up to 3 pixels) reads the 28x28 window at each digit's true
place in the forecast and in the true frame. Where the two digits overlap, a
window holds both and may be misread even in the true frame; so the figure that
matters is how many of the digits read correctly in the true frame still read
correctly in the forecast ("kept"), per predicted frame.

Repeating the last context frame is the reference a forecast must beat: its
digits are sharp but in the wrong place.

Usage:
    python benchmarks/recognisable.py
    python benchmarks/recognisable.py --checkpoint checkpoints/training/convlstm-state.keras --count 200
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

SHIFT = 3  # pixels: a digit's window from the generator is exact, a forecast's digit may sit off it
MIN_COUNT = 50  # fewer can leave a frame with no digit read in the truth, and nothing to compare


def train_classifier(seed: int = 0):
    """A small CNN on the training digits, checked on the test digits (clean, centred)."""
    import keras

    from core.data import DIGIT_SIZE, mnist_digits

    keras.utils.set_random_seed(seed)
    images, labels = mnist_digits("train")
    rng = np.random.default_rng(seed)
    # Copies shifted on black (a roll would wrap ink near an edge round to the
    # far side), each image by its own offset, so that all 49 shifts are seen.
    padded = np.pad(images, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))[:, None]  # (n, 1, 34, 34)
    shifted = [windows_at(padded, rng.integers(0, 2 * SHIFT + 1, (len(images), 1, 1, 2)))[:, 0, 0] for _ in range(8)]
    x = np.concatenate([images, *shifted])[..., None].astype("float32") / 255
    y = np.tile(labels, 9)
    classifier = keras.Sequential([
        keras.Input((DIGIT_SIZE, DIGIT_SIZE, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])
    classifier.compile("adam", "sparse_categorical_crossentropy")
    classifier.fit(x, y, batch_size=128, epochs=6, shuffle=True, verbose=0)
    test_images, test_labels = mnist_digits("test")
    accuracy = float(np.mean(read(classifier, test_images / 255) == test_labels))
    return classifier, accuracy


def read(classifier, windows: np.ndarray) -> np.ndarray:
    """The classifier's digit for each (..., 28, 28) window in [0, 1]."""
    flat = windows.reshape(-1, *windows.shape[-2:], 1).astype("float32")
    return classifier.predict(flat, batch_size=1024, verbose=0).argmax(-1).reshape(windows.shape[:-2])


def windows_at(frames: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The 28x28 window at each digit's top-left corner: frames (N, T, 64, 64),
    positions (N, T, D, 2) -> (N, T, D, 28, 28)."""
    from core.data import DIGIT_SIZE

    n, length = positions.shape[:2]
    rows = positions[..., 0, None] + np.arange(DIGIT_SIZE)  # (N, T, D, 28)
    cols = positions[..., 1, None] + np.arange(DIGIT_SIZE)
    index = np.arange(n)[:, None, None, None, None], np.arange(length)[None, :, None, None, None]
    return frames[index[0], index[1], rows[..., :, None], cols[..., None, :]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "convlstm.keras"))
    parser.add_argument("--count", type=int, default=1000, help=f"test sequences, {MIN_COUNT}-1000 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="fixes the classifier's training (default %(default)s)")
    args = parser.parse_args()
    if not MIN_COUNT <= args.count <= 1000:
        parser.error(f"--count must be from {MIN_COUNT} to 1000; received {args.count}")

    from core.checkpoints import load_checkpoint
    from core.data import CONTEXT_FRAMES, sequence, split_context, to_unit_float
    from core.errors import InputError
    from core.forecasting import forecast
    from core.metrics import mse_per_frame, repeat_last

    try:
        model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    except InputError as error:
        parser.error(str(error))
    classifier, digit_accuracy = train_classifier(args.seed)
    drawn = [sequence("test", i) for i in range(args.count)]  # the bundled test set, with labels and places
    frames = np.concatenate([s.frames for s in drawn])
    labels = np.concatenate([s.labels for s in drawn])  # (N, D)
    places = np.concatenate([s.positions for s in drawn])[:, CONTEXT_FRAMES:]  # (N, 10, D, 2)
    context, truth = split_context(frames)
    guesses = {
        "truth": to_unit_float(truth),
        "forecast": forecast(model, context, truth.shape[1]),
        "repeat last": repeat_last(to_unit_float(context), truth.shape[1]),
    }
    correct = {name: read(classifier, windows_at(video, places)) == labels[:, None, :] for name, video in guesses.items()}
    readable = correct["truth"]
    frame_mse = mse_per_frame(guesses["forecast"], guesses["truth"])
    print(f"{args.checkpoint}, {args.count} test sequences; the classifier (seed {args.seed}) reads "
          f"{digit_accuracy:.1%} of the 1,000 test digits alone")
    print("digits read correctly at their true place, per predicted frame (kept: of those read in the true frame;"
          " both kept: of the sequences whose two digits are read in the true frame)")
    print(f"{'frame':>5} {'truth':>6} {'forecast':>9} {'kept':>6} {'repeat last kept':>17} {'both kept':>10} {'MSE':>6}")
    for t in range(truth.shape[1]):
        kept = {name: correct[name][:, t][readable[:, t]].mean() for name in ("forecast", "repeat last")}
        both = correct["forecast"][:, t].all(-1)[readable[:, t].all(-1)].mean()
        print(f"{t + 1:>5} {readable[:, t].mean():>6.1%} {correct['forecast'][:, t].mean():>9.1%} "
              f"{kept['forecast']:>6.1%} {kept['repeat last']:>17.1%} {both:>10.1%} {frame_mse[t]:>6.1f}")
    kept_all = correct["forecast"][readable].mean()
    print(f"  all {readable.mean():>6.1%} {correct['forecast'].mean():>9.1%} {kept_all:>6.1%} "
          f"{correct['repeat last'][readable].mean():>17.1%} {'':>10} {frame_mse.mean():>6.1f}")


if __name__ == "__main__":
    main()
