"""Inside the ConvLSTM: every gate and state of every cell, step by step.

`trace` runs the model's own `step` (the code that forecasts, not a copy of
it) one frame at a time in closed loop and keeps what each cell computed, so
a page can show the input, forget and output gates, the candidate, the cell
state and the hidden state as pictures over time; `digit_channel` picks the
channel of a cell in which the digits show.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras
import numpy as np

from core.data import pad_context, to_unit_float
from core.errors import InputError
from core.forecasting import check_context, check_horizon
from core.model import ConvLSTMForecaster

QUANTITIES = ("input", "forget", "candidate", "output", "cell", "hidden")


@dataclass(frozen=True)
class Trace:
    """What the model computed at each step of one forecast.

    Attributes:
        inputs: float32 (S, 64, 64), the frame fed at each step (true context
            frames, then the model's own predictions).
        predictions: float32 (S, 64, 64), the frame predicted at each step, as
            the model feeds it back: before `forecast` applies the refiner and
            the output floor, so they differ from its frames where the model
            has a refiner (up to 0.68 of a pixel's range on the shipped model's
            first 20 test sequences); `rollout(..., use_refiner=False)` gives them.
        context: how many steps read true frames.
        layers: per cell, {quantity: float32 (S, 16, 16, filters)} for the
            QUANTITIES "input", "forget", "candidate", "output" (the gates),
            "cell" (c) and "hidden" (h).
    """

    inputs: np.ndarray
    predictions: np.ndarray
    context: int
    layers: list


def digit_channel(traced: Trace, layer: int) -> int:
    """The channel of a cell's hidden state that follows the frames fed in most closely.

    Averaged over all channels, the gates are flat squares; a channel picked by its
    spread over time drifted from light to dark with the digit barely there, one
    picked by its spread over the picture was lit by the picture's edges.

    Args:
        traced: from `trace`.
        layer: the cell, from 0.

    Returns:
        The channel whose 16x16 maps correlate most (either sign) with each 4x4
        patch's brightness in the frames fed in, over all steps.

    Raises:
        InputError: `layer` is not one of the trace's cells.
    """
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(traced.layers):
        raise InputError(f"layer must be a cell's number from 0 to {len(traced.layers) - 1}; received {layer!r}")
    hidden = traced.layers[layer]["hidden"]
    size = hidden.shape[1]
    steps, height, width = traced.inputs.shape
    patches = traced.inputs.reshape(steps, size, height // size, size, width // size).mean(axis=(2, 4))
    patches = patches.ravel() - patches.mean()
    states = hidden.reshape(-1, hidden.shape[-1])
    states = states - states.mean(axis=0)
    spread = np.sqrt((states**2).sum(axis=0) * (patches**2).sum()) + 1e-12  # a constant channel correlates 0
    return int((np.abs(patches @ states) / spread).argmax())


def trace(model: ConvLSTMForecaster, frames: np.ndarray, horizon: int = 10) -> Trace:
    """Forecasts one sequence step by step and keeps every cell's tensors.

    Args:
        model: a patch ConvLSTM (the keras-io preset has no cells to show).
        frames: (T, 64, 64) or (1, T, 64, 64): one sequence's context frames,
            uint8 or float.
        horizon: frames to predict after the context.

    Returns:
        A `Trace` over context + horizon - 1 steps (the last prediction is
        not fed back).

    Raises:
        InputError: no Keras model, the keras-io model, or a horizon or frames
            `forecast` refuses.
    """
    if not isinstance(model, keras.Model):  # a path was called the keras-io model
        raise InputError(f"model must be a model from core.load_checkpoint or core.build_model; "
                         f"received {type(model).__name__}")
    if not isinstance(model, ConvLSTMForecaster):
        raise InputError("only the ConvLSTM preset can be looked inside; the keras-io model has no exposed cells")
    check_horizon(horizon)  # "3" and 2.0 were TypeErrors, 0 and -3 fewer steps without a word
    # Every gate at every step is kept: a 150-frame context, which forecast refuses, took gigabytes.
    frames = check_context(frames)
    if len(frames) > 1:  # the first was traced without a word
        raise InputError(f"frames must be one sequence; received {len(frames)}: pick one, e.g. frames[0]")
    context = pad_context(to_unit_float(frames), model.config.context)[..., None]
    states = model.initial_state(1)
    inputs, predictions = [], []
    layers = [{name: [] for name in QUANTITIES} for _ in model.cells]
    frame = context[:, 0]
    for t in range(context.shape[1] + horizon - 1):
        if t < context.shape[1]:
            frame = context[:, t]
        prediction, states, gates = model.step(frame, states, return_gates=True)
        inputs.append(np.asarray(frame)[0, ..., 0])
        predictions.append(np.asarray(prediction)[0, ..., 0])
        for record, gate, (h, c) in zip(layers, gates, states):
            for name in ("input", "forget", "candidate", "output"):
                record[name].append(np.asarray(gate[name], np.float32)[0])
            record["cell"].append(np.asarray(c, np.float32)[0])
            record["hidden"].append(np.asarray(h, np.float32)[0])
        frame = prediction
    stacked = [{name: np.stack(values) for name, values in record.items()} for record in layers]
    return Trace(np.stack(inputs).astype(np.float32), np.stack(predictions).astype(np.float32), context.shape[1], stacked)
