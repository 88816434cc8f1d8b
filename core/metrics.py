"""Forecast quality exactly as the field reports it (OpenSTL, PredRNN), and the baselines.

All arrays are (N, T, 64, 64) floats in [0, 1].

- MSE: squared error SUMMED over the 64x64 pixels of a frame, averaged over
  sequences and frames: `((pred - true) ** 2).mean(axis=(0, 1)).sum()`.
  Divide by 4096 for a per-pixel figure.
- MAE: the same with absolute error.
- SSIM: per frame (scikit-image, data_range 1), predictions clipped to [0, 1], averaged.
- PSNR: per frame `20 * log10(1 / sqrt(per-pixel MSE))`, averaged; a perfect
  frame counts as 100 dB instead of infinity.

Any model should be shown beside two trivial baselines: all-black frames, and
the last context frame repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError

PSNR_CAP_DB = 100.0


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape or pred.ndim != 4:
        raise InputError(f"predictions and truth must both be (N, T, H, W); received {pred.shape} and {true.shape}")
    return pred, true


def mse_per_frame(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of each frame's summed squared error."""
    pred, true = _check_pair(pred, true)
    return ((pred - true) ** 2).sum(axis=(2, 3)).mean(axis=0)


def mae_per_frame(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of each frame's summed absolute error."""
    pred, true = _check_pair(pred, true)
    return np.abs(pred - true).sum(axis=(2, 3)).mean(axis=0)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """OpenSTL's MSE: per-frame sum over pixels, averaged over frames and sequences."""
    return float(mse_per_frame(pred, true).mean())


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """OpenSTL's MAE: per-frame sum over pixels, averaged over frames and sequences."""
    return float(mae_per_frame(pred, true).mean())


def psnr_per_frame(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of each frame's PSNR in dB (capped at 100)."""
    pred, true = _check_pair(pred, true)
    pixel_mse = ((pred - true) ** 2).mean(axis=(2, 3))
    values = 20 * np.log10(1.0 / np.sqrt(np.maximum(pixel_mse, 10 ** (-PSNR_CAP_DB / 10))))
    return values.mean(axis=0)


def ssim_per_frame(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of each frame's SSIM (scikit-image, data_range 1)."""
    from skimage.metrics import structural_similarity

    pred, true = _check_pair(pred, true)
    pred = np.clip(pred, 0.0, 1.0)
    values = np.empty(pred.shape[:2])
    for i in range(pred.shape[0]):
        for t in range(pred.shape[1]):
            values[i, t] = structural_similarity(pred[i, t], true[i, t], data_range=1.0)
    return values.mean(axis=0)


@dataclass(frozen=True)
class Scores:
    """Averages over sequences and frames, and the per-frame curves behind them.

    Attributes:
        mse, mae, ssim, psnr: the four numbers the field reports.
        per_frame: {"mse", "mae", "ssim", "psnr"} -> (T,) curves over the horizon.
    """

    mse: float
    mae: float
    ssim: float
    psnr: float
    per_frame: dict

    def summary(self) -> dict:
        return {"mse": self.mse, "mae": self.mae, "ssim": self.ssim, "psnr": self.psnr}


def score(pred: np.ndarray, true: np.ndarray) -> Scores:
    """All four metrics and their per-frame curves for predictions against truth."""
    curves = {
        "mse": mse_per_frame(pred, true),
        "mae": mae_per_frame(pred, true),
        "ssim": ssim_per_frame(pred, true),
        "psnr": psnr_per_frame(pred, true),
    }
    means = {name: float(curve.mean()) for name, curve in curves.items()}
    return Scores(per_frame=curves, **means)


def black_frames(context: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: predict nothing. (N, horizon, H, W) zeros."""
    n, _, h, w = context.shape
    return np.zeros((n, horizon, h, w), np.float32)


def repeat_last(context: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: the last context frame, held still. (N, horizon, H, W)."""
    return np.repeat(np.asarray(context[:, -1:], np.float32), horizon, axis=1)


BASELINES = {"black frames": black_frames, "repeat last frame": repeat_last}


def with_baselines(context: np.ndarray, truth: np.ndarray, prediction: np.ndarray) -> dict[str, Scores]:
    """Scores a forecast and both baselines against the truth.

    Args:
        context: (N, C, H, W) the frames the model saw, in [0, 1].
        truth: (N, H', H, W) what happened next, in [0, 1].
        prediction: (N, H', H, W) the model's forecast.

    Returns:
        {"model": Scores, "black frames": Scores, "repeat last frame": Scores}.
    """
    horizon = truth.shape[1]
    results = {"model": score(prediction, truth)}
    for name, baseline in BASELINES.items():
        results[name] = score(baseline(context, horizon), truth)
    return results
