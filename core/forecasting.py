"""Closed-loop forecasting: context frames in, predicted frames out.

`forecast` is the one entry point for the pages, the CLI and notebooks. It
never sees the future: only the context frames go in, and each predicted frame
is fed back to predict the next one.
"""

from __future__ import annotations

import contextlib
from typing import Callable

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras
import numpy as np

from core.data import FRAME_SIZE, MAX_CONTEXT, check_frames, pad_context, to_unit_float
from core.errors import InputError, as_bool, check_callback
from core.model import ConvLSTMForecaster, model_config
from core.progress import text_bar

MAX_HORIZON = 100
KERAS_IO_BATCH = 1  # sequences per forward pass for the keras.io model, whatever is asked


def check_horizon(horizon) -> None:
    """Raises InputError unless `horizon` is a whole number of frames from 1 to MAX_HORIZON."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 1 <= horizon <= MAX_HORIZON:
        # horizon=True forecast one frame
        raise InputError(f"horizon must be an integer from 1 to {MAX_HORIZON}; received {horizon!r}")


def check_context(frames) -> np.ndarray:
    """`frames` as `check_frames` gives them, as context for a forecast.

    Raises:
        InputError: what `check_frames` refuses, or more than MAX_CONTEXT frames
            (most likely an array with time first).
    """
    frames = check_frames(frames, "frames")
    if frames.shape[1] > MAX_CONTEXT:
        raise InputError(f"frames have {frames.shape[1]:,} frames of context, and at most {MAX_CONTEXT} are read; if "
                         "time is the first axis, as in mnist_test_seq.npy, use frames.swapaxes(0, 1)")
    return frames


def batch_size_for(model, asked: int) -> int:
    """The sequences per forward pass `forecast` uses for `model`: `asked`, or
    KERAS_IO_BATCH for the keras.io model, whatever was asked.

    Raises:
        InputError: `asked` is not a whole number from 1.
    """
    if isinstance(asked, bool) or not isinstance(asked, (int, np.integer)) or asked < 1:
        raise InputError(f"batch_size must be a positive integer; received {asked!r}")
    # The keras.io model re-runs the whole sequence on full frames for every
    # new frame: 32 sequences at once peaked at 7.0 GB, 4 at 1.6 GB, 1 at 1.0 GB.
    return asked if isinstance(model, ConvLSTMForecaster) else KERAS_IO_BATCH


def _compiled_rollout(model: ConvLSTMForecaster, context_frames: int):
    # One traced graph per context length, for every horizon (the horizon is a
    # tensor and the feedback a loop in the graph): re-tracing costs seconds, a
    # warm call of the traced graph a few milliseconds.
    cache = model.__dict__.setdefault("_rollouts", {})
    if context_frames in cache:
        return cache[context_frames]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        signature = [tf.TensorSpec((None, context_frames, FRAME_SIZE, FRAME_SIZE, 1), tf.float32),
                     tf.TensorSpec((), tf.int32)]
        cache[context_frames] = tf.function(model.rollout, input_signature=signature)
    else:
        # Other backends (JAX on a GPU machine) run it eagerly: a jitted
        # function would keep the weights it was traced with.
        cache[context_frames] = lambda x, horizon: model.rollout(keras.ops.convert_to_tensor(x), horizon)
    return cache[context_frames]


def is_warm(model, context_frames: int) -> bool:
    """Whether a forecast from this many context frames runs without first building its graph."""
    return not isinstance(model, ConvLSTMForecaster) or context_frames in model.__dict__.get("_rollouts", {})


def _keras_io_forecast(model, context: np.ndarray, horizon: int) -> np.ndarray:
    # The keras.io example's way: re-run the whole growing sequence for every
    # new frame and keep the last output (its Conv3D looks one step ahead, so
    # there is no state to carry over).
    sequence = context
    for _ in range(horizon):
        following = keras.ops.convert_to_numpy(model(sequence, training=False)[:, -1:])
        sequence = np.concatenate([sequence, following], axis=1)
    return sequence[:, context.shape[1] :]


def forecast(
    model,
    frames: np.ndarray,
    horizon: int = 10,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    bar: bool = False,
) -> np.ndarray:
    """Forecasts `horizon` frames after all of `frames`, in closed loop.

    Sequences shorter than the model's trained context are padded by repeating
    their first frame (see `core.data.pad_context`).

    Args:
        model: from `build_model` or `load_checkpoint`.
        frames: (N, T, 64, 64) or (T, 64, 64), uint8 0-255 or float 0-1,
            2 <= T <= 100; all T frames are context.
        horizon: frames to predict, 1 to 100 (any, not only the trained 10).
        batch_size: sequences per forward pass (bounds memory); always
            `KERAS_IO_BATCH` for the keras.io model.
        progress: called as progress(done, total) after each batch.
        bar: draws a text progress bar on stderr, for a notebook or a script
            (1,000 sequences take about 20 s on 2 cores).

    Returns:
        float32 (N, horizon, 64, 64) in [0, 1] (N = 1 for one sequence),
        pixels below the model's `output_floor` set to 0. The first call for
        each context length traces the rollout (a second or two).

    Raises:
        InputError: frames that are not sequences of 64x64 frames, or a
            horizon, batch size or progress of the wrong kind.
    """
    check_horizon(horizon)
    check_callback("progress", progress, "done, total")
    frames = check_context(frames)
    config = model_config(model)
    batch_size = batch_size_for(model, batch_size)
    total = len(frames)
    outputs = []
    with text_bar(total, "forecasting") if as_bool("bar", bar) else contextlib.nullcontext() as shown:
        for start in range(0, total, batch_size):
            chunk = pad_context(to_unit_float(frames[start : start + batch_size]), config.context)[..., None]
            if isinstance(model, ConvLSTMForecaster):
                predicted = keras.ops.convert_to_numpy(_compiled_rollout(model, chunk.shape[1])(chunk, int(horizon)))
            else:
                predicted = _keras_io_forecast(model, chunk, int(horizon))
            outputs.append(predicted[..., 0])
            done = min(start + batch_size, total)
            if shown is not None:  # tqdm's truth is its total's, not whether there is a bar
                shown.update(done - shown.n)
            if progress:
                progress(done, total)
    predicted = np.concatenate(outputs).astype(np.float32, copy=False)
    # A diverged model's NaN frames are black (the Train page tells it by its loss): scoring them was a traceback.
    np.nan_to_num(predicted, copy=False, nan=0.0)
    np.clip(predicted, 0.0, 1.0, out=predicted)  # in place: 1,000 sequences are 164 MB a copy
    # After the rollout, not inside it: the model reads back the raw frames it
    # was trained on (clearing those too measured the same trade, docs/training.md).
    return clear_below(predicted, config.output_floor)


def clear_below(predicted: np.ndarray, floor: float) -> np.ndarray:
    """Sets the pixels below `floor` to 0, in place (a model's `output_floor`).

    Args:
        predicted: a forecast, float 0-1, of any shape.
        floor: pixels below it become 0; 0 changes nothing.

    Returns:
        `predicted`.
    """
    predicted[predicted < floor] = 0.0
    return predicted
