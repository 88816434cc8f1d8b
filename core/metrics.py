"""Forecast quality exactly as the field reports it (OpenSTL, PredRNN), and the baselines.

All arrays are (N, T, 64, 64) floats in [0, 1]; a (T, 64, 64) array is one sequence.

- MSE: squared error SUMMED over the 64x64 pixels of a frame, averaged over
  sequences and frames: `((pred - true) ** 2).mean(axis=(0, 1)).sum()`.
  Divide by 4096 for a per-pixel figure.
- MAE: the same with absolute error.
- SSIM: per frame (scikit-image, data_range 1), averaged. OpenSTL clips
  predictions to [0, 1] first; `core.forecast` returns them clipped, and
  `score` refuses values outside it. OpenSTL's code, under the scikit-image
  it pins, took floats' range as 2, which scores higher: the shipped model's
  0.8778 is 0.8900 there (benchmarks/ssim_range.py, docs/model-card.md).
- PSNR: per frame `20 * log10(1 / sqrt(per-pixel MSE))`, averaged; a perfect
  frame counts as 100 dB instead of infinity.

Any model should be shown beside two trivial baselines: all-black frames, and
the last context frame repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data import check_unit_floats
from core.errors import InputError, as_number, check_range

PSNR_CAP_DB = 100.0


# Sequences scored at once: float64 copies of 1,000 sequences took 2.2 GB at
# the peak of an evaluation, more than a Community Cloud app has; 100 take 33 MB each.
CHUNK = 100
# scikit-image's default window, which the field's SSIM uses: smaller frames have no SSIM.
SSIM_WINDOW = 7


def _check_pair(pred: np.ndarray, true: np.ndarray) -> None:
    # No frames (truth[:, 20:]) failed in NumPy's mean.
    if np.shape(pred) != np.shape(true) or np.ndim(pred) != 4 or 0 in np.shape(pred):
        raise InputError(f"predictions and truth must both be (N, T, H, W), or (T, H, W) for one sequence, with "
                         "N, T, H, W >= 1; "
                         f"received {np.shape(pred)} and {np.shape(true)}")
    kinds = np.asarray(pred).dtype, np.asarray(true).dtype
    if any(kind.kind != "f" for kind in kinds):  # uint8 0-255 scored as 0-1 gives MSEs in the millions
        raise InputError(f"predictions and truth must be floats in [0, 1]; received {kinds[0]} and {kinds[1]} "
                         "(core.to_unit_float scales uint8 frames)")


def _one_or_many(pred, true) -> tuple:
    """A (T, H, W) array as one sequence, a batch of one: forecast, the media and the
    data functions all take one sequence, and the metrics refused it (forecast's
    (1, T, H, W) beside the true (T, H, W) too)."""
    return tuple(np.asarray(frames)[None] if np.ndim(frames) == 3 else frames for frames in (pred, true))


def _check_values(pred: np.ndarray, true: np.ndarray) -> None:
    # A scan of every value, which `mse_per_frame` leaves out: the refiner's validation
    # records a diverged round's NaN, and needs no check of frames it made itself.
    _check_pair(pred, true)
    check_unit_floats(pred, "predictions")
    check_unit_floats(true, "truth")


def _per_sequence(values, pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """`values(pred, true)`, which gives (n, T) for n sequences: computed `CHUNK`
    sequences at a time, in float64."""
    _check_pair(pred, true)
    chunks = [
        values(np.asarray(pred[i : i + CHUNK], np.float64), np.asarray(true[i : i + CHUNK], np.float64))
        for i in range(0, len(pred), CHUNK)
    ]
    return np.concatenate(chunks)


def _squared_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return ((pred - true) ** 2).sum(axis=(2, 3))


def _absolute_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.abs(pred - true).sum(axis=(2, 3))


def mse_per_frame(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of each frame's summed squared error: what the refiner's
    validation needs, without `score`'s scan of the values and its slow SSIM."""
    return _per_sequence(_squared_error, *_one_or_many(pred, true)).mean(axis=0)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """OpenSTL's MSE: per-frame sum over pixels, averaged over frames and sequences.

    Args and Raises: as for `score`.
    """
    pred, true = _one_or_many(pred, true)
    _check_values(pred, true)  # frames of 0-255 as floats scored 4,765,109.6, and a NaN scored NaN
    return float(mse_per_frame(pred, true).mean())


def _psnr(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    pixel_mse = ((pred - true) ** 2).mean(axis=(2, 3))
    return 20 * np.log10(1.0 / np.sqrt(np.maximum(pixel_mse, 10 ** (-PSNR_CAP_DB / 10))))


def _ssim(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    from skimage.metrics import structural_similarity

    values = np.empty(pred.shape[:2])
    for i in range(pred.shape[0]):
        for t in range(pred.shape[1]):
            values[i, t] = structural_similarity(pred[i, t], true[i, t], data_range=1.0)
    return values


def _check_ssim_window(pred: np.ndarray) -> None:
    if np.ndim(pred) == 4 and min(np.shape(pred)[2:]) < SSIM_WINDOW:  # scikit-image's ValueError otherwise
        raise InputError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW}; received {np.shape(pred)}")


@dataclass(frozen=True, repr=False)
class Scores:
    """Averages over sequences and frames, and the per-frame curves behind them.

    Attributes:
        mse, mae, ssim, psnr: the four numbers the field reports; MSE and MAE
            per frame are summed over its 4,096 pixels (0-1 values), so
            MSE 56 is a mean squared error of 0.014 a pixel.
        per_frame: {"mse", "mae", "ssim", "psnr"} -> (T,) curves over the horizon.
    """

    mse: float
    mae: float
    ssim: float
    psnr: float
    per_frame: dict

    def summary(self) -> dict:
        """The four numbers, without the curves: {"mse", "mae", "ssim", "psnr"} -> float."""
        return {"mse": self.mse, "mae": self.mae, "ssim": self.ssim, "psnr": self.psnr}

    def __repr__(self) -> str:  # the curves' arrays ran to 2,000 characters in a notebook
        frames = len(self.per_frame["mse"]) if "mse" in self.per_frame else 0
        return (f"Scores(mse={self.mse:.2f}, mae={self.mae:.2f}, ssim={self.ssim:.4f}, psnr={self.psnr:.2f}, "
                f"per_frame: {frames} frames)")


def score(pred: np.ndarray, true: np.ndarray) -> Scores:
    """All four metrics and their per-frame curves for predictions against truth.

    Args:
        pred: (N, T, 64, 64) floats in [0, 1], or one sequence's (T, 64, 64).
        true: the same shape, floats in [0, 1] (`core.to_unit_float` scales uint8 frames).

    Returns:
        `Scores`: the means over sequences and frames, and `per_frame` curves of length T.

    Raises:
        InputError: shapes that differ, integer frames, or values outside [0, 1].
    """
    return scores_of(per_sequence(pred, true))


def per_sequence(pred: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Each sequence's four metrics at each frame, to score many sequences a batch
    at a time: `scores_of` averages batches' rows joined along the first axis.

    Args and Raises: as for `score`.

    Returns:
        {"mse", "mae", "ssim", "psnr"} -> (N, T) float64.
    """
    pred, true = _one_or_many(pred, true)
    _check_values(pred, true)
    _check_ssim_window(pred)
    return {name: _per_sequence(values, pred, true) for name, values in
            (("mse", _squared_error), ("mae", _absolute_error), ("ssim", _ssim), ("psnr", _psnr))}


def scores_of(rows: dict[str, np.ndarray]) -> Scores:
    """`Scores` from `per_sequence`'s rows (of one batch, or of many joined)."""
    curves = {name: rows[name].mean(axis=0) for name in ("mse", "mae", "ssim", "psnr")}
    return Scores(per_frame=curves, **{name: float(curve.mean()) for name, curve in curves.items()})


def black_frames(context: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: predict nothing. (N, horizon, H, W) zeros for (N, C, H, W) `context`."""
    _check_horizon(horizon)
    n, _, h, w = _context_shape(context)
    return np.zeros((n, horizon, h, w), np.float32)


def repeat_last(context: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: the last context frame, held still. (N, horizon, H, W), a read-only
    view, for (N, C, H, W) `context`, in its own scale (0-1 for `score`)."""
    _check_horizon(horizon)
    _context_shape(context)
    last = np.asarray(np.asarray(context)[:, -1:], np.float32)  # the last frame only: 1,000 whole contexts are 164 MB
    return np.broadcast_to(last, (last.shape[0], horizon, *last.shape[2:]))


def _check_horizon(horizon) -> None:
    # -1 and 2.5 failed inside NumPy.
    check_range("horizon", as_number("horizon", horizon, whole=True), 1)


def _context_shape(context) -> tuple:
    # One sequence's (C, H, W) failed as "not enough values to unpack", a list as a TypeError.
    shape = np.shape(context)
    if len(shape) != 4 or 0 in shape[:2]:
        raise InputError(f"context must be (N, C, H, W) with N, C >= 1 (one sequence: context[None]); "
                         f"received shape {shape}")
    return shape


BASELINES = {"black frames": black_frames, "repeat last frame": repeat_last}
