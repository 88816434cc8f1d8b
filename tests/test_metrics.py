"""Metrics on hand-computed cases, in OpenSTL's units."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from core import data, metrics
from core.errors import InputError


def _pair():
    # Two sequences of two 64x64 frames. Only sequence 0, frame 0 is wrong:
    # a 2x2 block predicted 0.5 where the truth is 0.
    true = np.zeros((2, 2, 64, 64))
    pred = true.copy()
    pred[0, 0, :2, :2] = 0.5
    return pred, true


def test_mse_and_mae_sum_over_pixels_and_average_over_frames():
    pred, true = _pair()
    # Frame (0, 0): squared errors sum to 4 * 0.25 = 1, absolute to 4 * 0.5 = 2.
    assert metrics.mse_per_frame(pred, true).tolist() == [0.5, 0.0]
    assert metrics.mse(pred, true) == pytest.approx(0.25)
    scores = metrics.score(pred, true)
    assert scores.per_frame["mse"].tolist() == [0.5, 0.0] and scores.mse == pytest.approx(0.25)
    assert scores.per_frame["mae"].tolist() == [1.0, 0.0] and scores.mae == pytest.approx(0.5)
    assert metrics.mse(pred, true) == pytest.approx(((pred - true) ** 2).mean(axis=(0, 1)).sum())


def test_psnr_per_frame_and_its_cap():
    pred, true = _pair()
    # Per-pixel MSE of the wrong frame: 1 / 4096, so PSNR = 20 log10(64) = 36.12 dB;
    # the three perfect frames count as 100 dB.
    wrong = 20 * np.log10(64)
    assert metrics.score(pred, true).per_frame["psnr"] == pytest.approx([(wrong + 100) / 2, 100.0])


def test_ssim_identical_and_different():
    rng = np.random.default_rng(0)
    true = rng.random((1, 2, 64, 64))
    assert metrics.score(true, true).per_frame["ssim"] == pytest.approx([1.0, 1.0])
    assert metrics.score(1 - true, true).per_frame["ssim"].max() < 0
    # scikit-image's, frame by frame, with the data range of [0, 1] floats.
    blurred = (true + np.roll(true, 1, axis=-1)) / 2
    assert metrics.score(blurred, true).per_frame["ssim"] == pytest.approx(
        [structural_similarity(blurred[0, i], true[0, i], data_range=1.0) for i in range(2)])


def test_score_collects_all_four():
    pred, true = _pair()
    scores = metrics.score(pred, true)
    assert scores.mse == pytest.approx(0.25) and scores.mae == pytest.approx(0.5)
    assert set(scores.per_frame) == {"mse", "mae", "ssim", "psnr"}
    # Each of the summary's four (what the CLI's JSON and the model card print) from its own curve.
    assert scores.summary() == pytest.approx({name: curve.mean() for name, curve in scores.per_frame.items()})


def test_baselines():
    context = np.arange(2 * 3 * 64 * 64, dtype=np.float32).reshape(2, 3, 64, 64) / 1e5
    black = metrics.black_frames(context, 4)
    assert black.shape == (2, 4, 64, 64) and not black.any()
    last = metrics.repeat_last(context, 4)
    assert last.shape == (2, 4, 64, 64) and (last == context[:, -1:]).all()
    assert (metrics.repeat_last(context.tolist(), 4) == last).all()  # a list was a TypeError
    # One sequence: black_frames failed as "not enough values to unpack", repeat_last gave (3, 4, 64).
    for baseline in metrics.BASELINES.values():
        with pytest.raises(InputError, match=r"^context must be \(N, C, H, W\) with N, C >= 1 \(one sequence: "
                                             r"context\[None\]\); received shape \(3, 64, 64\)$"):
            baseline(context[0], 4)
        # These failed inside NumPy.
        for horizon, message in ((-1, "must be at least 1; received -1"), (2.5, "must be a whole number; received 2.5")):
            with pytest.raises(InputError, match=f"^horizon {message}$"):
                baseline(context, horizon)


def test_mismatched_shapes_are_refused():
    with pytest.raises(InputError, match="received"):
        metrics.mse(np.zeros((1, 2, 64, 64)), np.zeros((1, 3, 64, 64)))
    # No sequences, no frames (truth[:, 20:]) and frames smaller than SSIM's 7x7 window failed inside NumPy or scikit-image.
    for shape, message in [((0, 2, 64, 64), r"with N, T, H, W >= 1; received \(0, 2, 64, 64\)"),
                           ((1, 0, 64, 64), r"with N, T, H, W >= 1; received \(1, 0, 64, 64\)"),
                           ((1, 2, 6, 64), r"SSIM needs frames of at least 7x7; received \(1, 2, 6, 64\)")]:
        with pytest.raises(InputError, match=message):
            metrics.score(np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    assert metrics.mse(np.zeros((1, 1, 4, 4), np.float32), np.ones((1, 1, 4, 4), np.float32)) == 16  # no window
    # One sequence, as forecast and the media functions take it, is a batch of one (it was refused).
    pred, true = _pair()
    assert metrics.score(pred[0], true[0]).summary() == metrics.score(pred[:1], true[:1]).summary()
    assert metrics.mse(pred[0], true[0]) == metrics.mse(pred[:1], true[:1])
    assert metrics.mse(pred[:1], true[0]) == metrics.mse(pred[:1], true[:1])  # forecast's (1, T, H, W) beside it
    assert metrics.mse_per_frame(pred[0], true[0]).tolist() == metrics.mse_per_frame(pred[:1], true[:1]).tolist()
    with pytest.raises(InputError, match=r"\(T, H, W\) for one sequence"):
        metrics.mse(pred[0], true)


def test_uint8_truth_is_refused_not_scored_as_if_in_0_1():
    # moving_mnist returns uint8, so score(prediction, frames[:, 10:]) is the natural
    # notebook call: it scored MSEs in the millions without a word.
    truth = data.moving_mnist("test", 2)[:, 10:]
    with pytest.raises(InputError, match="received float32 and uint8 .*to_unit_float"):
        metrics.score(np.zeros(truth.shape, np.float32), truth)
    assert metrics.score(np.zeros(truth.shape, np.float32), data.to_unit_float(truth)).mse > 0


def test_float_0_255_and_nan_frames_are_refused_not_scored():
    truth = data.to_unit_float(data.moving_mnist("test", 2)[:, 10:])
    with pytest.raises(InputError, match=r"truth: floats must lie in \[0, 1\]; found 0 to 255 \(divide 0-255"):
        metrics.score(truth, truth * 255)  # scored an MSE in the millions
    with pytest.raises(InputError, match="NaN or infinite values in predictions"):
        metrics.score(np.full_like(truth, np.nan), truth)  # scored NaN everywhere
    # mse alone, which docs/training.md calls, scored them: 4,765,109.6 and NaN.
    with pytest.raises(InputError, match=r"predictions: floats must lie in \[0, 1\]; found 0 to 255"):
        metrics.mse(truth * 255, truth)
    with pytest.raises(InputError, match="NaN or infinite values in predictions"):
        metrics.mse(np.full_like(truth, np.nan), truth)
    scores = metrics.score(truth, truth)
    # Its repr printed every per-frame curve: 2,311 characters in a notebook.
    assert repr(scores) == "Scores(mse=0.00, mae=0.00, ssim=1.0000, psnr=100.00, per_frame: 10 frames)"


def test_many_sequences_are_scored_in_chunks_with_the_same_result():
    # 250 sequences cross two chunk boundaries; one error per sequence, each in
    # a different place, so a chunk scored twice or skipped changes the mean.
    rng = np.random.default_rng(1)
    true = rng.random((250, 2, 64, 64)).astype(np.float32)
    pred = true.copy()
    pred[np.arange(250), 1, np.arange(250) % 64, 0] = np.linspace(0.0, 1.0, 250, dtype=np.float32)
    errors = (pred.astype(np.float64) - true) ** 2
    assert metrics.CHUNK < 250
    assert metrics.mse_per_frame(pred, true) == pytest.approx(errors.sum(axis=(2, 3)).mean(axis=0))
    ssim = metrics.score(pred, true).per_frame["ssim"]
    assert ssim[0] == pytest.approx(1.0) and ssim[1] < 1.0
