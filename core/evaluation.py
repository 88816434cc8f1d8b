"""A model against the two trivial baselines on many sequences, with OpenSTL's metrics."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np

from core.data import CONTEXT_FRAMES, check_frames, split_context, to_unit_float
from core.errors import InputError, as_bool, as_number, check_callback
from core.forecasting import MAX_HORIZON, batch_size_for, forecast
from core.metrics import BASELINES, Scores, per_sequence, scores_of
from core.progress import text_bar


def evaluate(
    model,
    frames: np.ndarray,
    context: int = CONTEXT_FRAMES,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    bar: bool = False,
) -> dict[str, Scores]:
    """Forecasts every sequence from its first `context` frames and scores the rest.

    Args:
        model: from `load_checkpoint` or `build_model`.
        frames: (N, T, 64, 64) sequences (or one, (T, 64, 64)), uint8 or float
            0-1; the T - context frames after the context are predicted.
        context: frames the model sees, at least 2.
        batch_size: sequences per forward pass.
        progress: called as progress(done, total) as each batch is forecast and scored.
        bar: draws a text progress bar on stderr, for a notebook or a script
            (1,000 sequences take about a minute on 2 cores, the keras.io
            model's about 9 s each).

    Returns:
        {"model": Scores, "black frames": Scores, "repeat last frame": Scores};
        MSE and MAE are summed over a frame's 4,096 pixels, as the field
        reports them (see `core.metrics`).

    Raises:
        InputError: frames that are not sequences of 64x64 frames, or no
            frames after the context.
    """
    # One frame of context passed here, then forecast refused "frames" of 1 frame, which had 20.
    if as_number("context", context, whole=True) < 2:
        raise InputError(f"context must be at least 2 frames, to show motion; received {context}")
    # split_context blamed the context, which the caller may not have passed. From the shape: split_context
    # checks the frames themselves, a scan of every pixel of float input.
    length = np.shape(frames)[-3] if isinstance(frames, np.ndarray) and frames.ndim in (3, 4) else None
    if length is not None and length <= context:
        raise InputError(f"evaluation needs frames after the {context} context frames; the sequences have {length}")
    seen, truth = split_context(frames, context)
    if truth.shape[1] > MAX_HORIZON:  # forecast's message named a horizon, which evaluate does not take
        # Slicing as advised scored nonsense when time came first, as in the official file.
        raise InputError(f"frames have {truth.shape[1]} frames after the {context} of context, and at most "
                         f"{MAX_HORIZON} are forecast; shorten them, e.g. frames[:, :{context + MAX_HORIZON}] "
                         "(if time is the first axis, as in mnist_test_seq.npy, use frames.swapaxes(0, 1))")
    check_callback("progress", progress, "done, total")
    rows = []
    # A notebook's cell was silent for the 25 s that 300 sequences take.
    with text_bar(len(seen), "evaluating") if as_bool("bar", bar) else contextlib.nullcontext() as shown:
        for done, row in scored_batches(model, seen, truth, batch_size):
            rows.append(row)
            if shown is not None:  # tqdm's truth is its total's, not whether there is a bar
                shown.update(done - shown.n)
            if progress:
                progress(done, len(seen))
    return scores_of_batches(rows)


def scored_batches(model, context: np.ndarray, truth: np.ndarray, batch_size: int = 32,
                   run: Callable = forecast) -> Iterator[tuple[int, dict]]:
    """`evaluate`'s work a batch at a time, for a caller that shows its progress
    or stops between batches; nothing is forecast until the next batch is asked for.

    Args:
        model: from `load_checkpoint` or `build_model`.
        context: (N, C, 64, 64) the frames the model sees, uint8 or float 0-1.
        truth: (N, H, 64, 64) the frames it forecasts, uint8 or float 0-1.
        batch_size: sequences per forward pass (the keras.io model takes one).
        run: called as `forecast` is, run(model, context, horizon, batch_size);
            e.g. a wrapper that runs it on another thread.

    Yields:
        (sequences done, the batch's rows): each sequence's metrics at each
        frame, the model's and the baselines', for `scores_of_batches`.
    """
    # Scored a batch at a time: the whole forecast and the truth in floats, scored at the end,
    # took the CLI's evaluation of 1,000 sequences to 1.60 GB at its peak, against 1.15 GB.
    step = batch_size_for(model, batch_size)
    for start in range(0, len(context), step):
        batch = slice(start, start + step)
        # As floats: forecast checks uint8 frames by their first sequence (the official file is large),
        # and a batch's first sequence of 0s and 1s failed late what the whole passed.
        seen = to_unit_float(context[batch])
        yield min(start + step, len(context)), _rows(seen, truth[batch], run(model, seen, truth.shape[1], step))


def score_forecast(context: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> dict[str, Scores]:
    """Scores a forecast and both baselines against the truth.

    Args:
        context: (N, C, 64, 64) the frames the model saw, uint8 or float 0-1.
        truth: (N, H, 64, 64) what happened next, uint8 or float 0-1.
        predicted: (N, H, 64, 64) the forecast, float 0-1.

    Returns:
        {"model": Scores, "black frames": Scores, "repeat last frame": Scores}.

    Raises:
        InputError: frames `core.data.check_frames` refuses, or a forecast
            `core.score` refuses against the truth.
    """
    # Lists were a TypeError from slicing; one sequence's (T, 64, 64) is taken as forecast takes it.
    context, truth = check_frames(context, "context", least=1), check_frames(truth, "truth", least=1)
    return scores_of_batches([_rows(context, truth, predicted)])


def _rows(context: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> dict[str, dict]:
    # Each sequence's metrics at each frame (core.metrics.per_sequence), before averaging.
    # The baselines need only the last context frame: 16 MB per 1,000 sequences instead of 164 MB.
    last, truth = to_unit_float(context[:, -1:]), to_unit_float(truth)
    return {"model": per_sequence(predicted, truth),
            **{name: per_sequence(baseline(last, truth.shape[1]), truth) for name, baseline in BASELINES.items()}}


def scores_of_batches(batches: list[dict[str, dict]]) -> dict[str, Scores]:
    """The scores of the sequences in `scored_batches`' rows, in their order: as `evaluate` returns them.

    Raises:
        InputError: no batches (an IndexError before).
    """
    if not batches:
        raise InputError("batches is empty: scores need at least one batch of scored_batches' rows")
    return {name: scores_of({metric: np.concatenate([batch[name][metric] for batch in batches])
                             for metric in rows}) for name, rows in batches[0].items()}
