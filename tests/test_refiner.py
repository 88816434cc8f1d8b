"""The refiner's training (core/refiner.py): what it learns from, its loss, its batches, its settings."""

import re
from dataclasses import asdict

import keras
import numpy as np
import pytest
from conftest import TINY, tiny_run

from core import refiner
from core.checkpoints import read_checkpoint_info, save_checkpoint
from core.data import moving_mnist, to_unit_float
from core.errors import InputError
from core.metrics import per_sequence
from core.forecasting import forecast
from core.model import build_model, model_config, preset, with_output_floor
from core.refiner import RefinerConfig, _refiner_loss, _RefinerFrames, frame_ssim, train_refiner
from core.training import train


def test_a_refiner_learns_from_the_frozen_forecasters_forecasts_and_fine_tuning_keeps_it(tmp_path, monkeypatch,
                                                                                          capsys):
    made = []  # (raw forecast, last context frame, truth) of each set of frames the refiner learns or is scored on

    class Recorded(refiner._RefinerFrames):
        def __init__(self, raw, last, truth, *args, **kwargs):
            made.append((raw, last, truth))
            super().__init__(raw, last, truth, *args, **kwargs)

    monkeypatch.setattr(refiner, "_RefinerFrames", Recorded)
    source, _ = train(tiny_run(epochs=1))
    calls = []
    # With an output floor, as the shipped model has: the refiner learns to clean the forecast before it.
    refined = train_refiner(with_output_floor(source, 0.5),
                            RefinerConfig(filters=8, sequences=40, epochs=2, val_count=16, seed=0),
                            lambda *call: calls.append(call))
    # It reads the last frame the forecaster saw, as the shipped model's refiner does when it runs,
    # and the forecast of one frame more, unfloored (faint pixels kept).
    unfloored = with_output_floor(source, 0.0)
    for (raw, last, truth), frames in zip(made, (moving_mnist("train", 40, seed=0), moving_mnist("val", 16))):
        assert np.array_equal(last[..., 0], to_unit_float(frames[:, 9])) and np.array_equal(truth, frames[:, 10:])
        np.testing.assert_allclose(raw, forecast(unfloored, frames[:, :10], 11), atol=1e-5)
        assert ((raw > 0) & (raw < 0.5)).any()  # a tiny model forecasts grey: about 0.5
    # Each forecasting stage says when it begins: a bar begun at its first batch's end showed 704,925 seq/s.
    assert [call for call in calls if call[0].startswith("forecasting")] == [
        ("forecasting train sequences", 0, 40, None), ("forecasting train sequences", 32, 40, None),
        ("forecasting train sequences", 40, 40, None),
        ("forecasting val sequences", 0, 16, None), ("forecasting val sequences", 16, 16, None)]
    epochs = [(done, val) for stage, done, _, val in calls if stage == "epoch"]
    assert [done for done, _ in epochs] == [0, 1, 2]
    # Each epoch's batches report their progress (400 frames in batches of 64), then its score.
    # from 0 as it begins: a bar begun at the end of the first batch left that batch out.
    # Drawn with a bar too: 20,000 sequences took some 13 s in silence.
    assert [call for call in calls if call[0].startswith("drawing")] == [
        ("drawing train sequences", 0, 40, None), ("drawing train sequences", 40, 40, None),
        ("drawing val sequences", 0, 16, None), ("drawing val sequences", 16, 16, None)]
    stages = [stage for stage, *_ in calls if not stage.startswith(("drawing", "forecasting"))]
    assert stages == ["epoch", *["training, epoch 1/2"] * 8, "epoch", *["training, epoch 2/2"] * 8, "epoch"]
    assert [done for stage, done, total, _ in calls if stage == "training, epoch 2/2" and total == 7] == [*range(8)]
    assert epochs[-1][1] < 0.95 * epochs[0][1]  # a tiny model's grey forecasts: 813 -> 634 in one run
    assert refined.studio_info["refiner"]["val_mse_per_epoch"] == [val for _, val in epochs[1:]]
    assert model_config(refined).refiner_filters == 8
    for before, after in zip([*source.cells, source.head], [*refined.cells, refined.head]):
        for a, b in zip(before.get_weights(), after.get_weights()):
            np.testing.assert_array_equal(a, b)
    # Fine-tuning the forecaster (the Train page's "From the shipped model") leaves the refiner as trained.
    path = save_checkpoint(refined, tmp_path / "refined.keras")
    assert read_checkpoint_info(path)[1] == refined.studio_info  # saved with no info, it had an empty record
    tuned, _ = train(tiny_run(init_from=str(path), out=str(tmp_path / "tuned.keras"), epochs=1, model_overrides={}))
    assert model_config(tuned).refiner_filters == 8
    assert read_checkpoint_info(tmp_path / "tuned.keras")[1]["refiner"] == refined.studio_info["refiner"]
    for before, after in zip(refined.refiner, tuned.refiner):
        for a, b in zip(before.get_weights(), after.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(refined.head.get_weights()[0], tuned.head.get_weights()[0])
    # A notebook's resumed round goes on with the refiner's width and loss, as the CLI's does: it
    # was refused as "a refiner of 64 filters", and given 8, went on with squared error alone.
    refined.studio_info["refiner"]["ssim_weight"] = 20.0
    capsys.readouterr()
    # With bars, for a notebook whose cell was silent for the tens of minutes a default round takes.
    again = train_refiner(refined, RefinerConfig(sequences=8, epochs=1, val_count=8, seed=3, resume=True), bar=True)
    assert (again.studio_info["refiner"]["filters"], again.studio_info["refiner"]["ssim_weight"]) == (8, 20.0)
    shown = capsys.readouterr().err
    for stage in ("drawing train sequences: 100%", "forecasting val sequences: 100%", "training, epoch 1/1: 100%",
                  f"epoch 1/1: validation MSE {again.studio_info['refiner']['val_mse_per_epoch'][0]:.2f}"):
        assert stage in shown, shown
    with pytest.raises(InputError, match="^bar must be True or False"):
        train_refiner(refined, RefinerConfig(resume=True), bar="yes")
    with pytest.raises(InputError, match="resume needs a refiner of 16 filters; the model has one of 8"):
        train_refiner(refined, RefinerConfig(filters=16, resume=True))
    with pytest.raises(InputError, match="resume needs a refiner; the model has none"):
        train_refiner(source, RefinerConfig(resume=True))
    with pytest.raises(InputError, match="sequences must be from 1 to 20,000; received 0"):
        RefinerConfig(sequences=0)
    for weight in (-1.0, float("nan")):
        with pytest.raises(InputError, match="ssim_weight must be from 0 to 10,000"):
            RefinerConfig(ssim_weight=weight)
    with pytest.raises(InputError, match=r"received 10,000\.0001$"):  # six digits said 10000, as if in range
        RefinerConfig(ssim_weight=10_000.0001)
    # The seed's "3" was a TypeError from a comparison, its 2.5 passed; NumPy's filters were refused.
    for settings, message in [({"ssim_weight": "1"}, "ssim_weight must be a number; received '1'"),
                              ({"ssim_weight": True}, "ssim_weight must be a number; received True"),
                              ({"learning_rate": None}, "learning_rate must be a number; received None"),
                              ({"seed": "3"}, "seed must be a whole number; received '3'"),
                              ({"seed": 2.5}, "seed must be a whole number; received 2.5"),
                              ({"epochs": 2.0}, "epochs must be a whole number; received 2.0"),
                              ({"learning_rate": 10**400}, "learning_rate is too large to be a number")]:
        with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
            RefinerConfig(**settings)
    taken = RefinerConfig(filters=np.int64(8), learning_rate=np.float32(1e-3), ssim_weight=np.float32(2), seed=np.int64(5))
    assert asdict(taken) == {**asdict(RefinerConfig()), "filters": 8, "learning_rate": pytest.approx(1e-3),
                             "ssim_weight": 2.0, "seed": 5}
    assert {type(value) for value in asdict(taken).values()} <= {int, float, bool}  # Python's, for its JSON record


def _blurred_and_moved(frames):
    # Forecast-like frames: the truth shifted a pixel, blurred, with a faint haze.
    moved = np.roll(frames, 1, axis=-1)
    blurred = (moved + np.roll(moved, 1, axis=-2) + np.roll(moved, -1, axis=-2)) / 3
    return np.clip(blurred + 0.005, 0, 1).astype(np.float32)


def test_frame_ssim_and_the_refiner_loss_match_the_reported_metrics(test_sequences):
    truth = (test_sequences[:4, 10:] / 255).astype(np.float32)
    predicted = _blurred_and_moved(truth)
    ssim = keras.ops.convert_to_numpy(frame_ssim(predicted.reshape(-1, 64, 64, 1), truth.reshape(-1, 64, 64, 1)))
    expected = per_sequence(predicted, truth)["ssim"].reshape(-1)
    assert 0.3 < expected.min() < expected.max() < 0.95  # frames the check can tell apart
    np.testing.assert_allclose(ssim, expected, atol=1e-4)
    frames = [x.reshape(-1, 64, 64, 1) for x in (truth, predicted)]
    per_pixel = float(np.mean((truth - predicted) ** 2))
    assert float(keras.ops.mean(_refiner_loss(0.0)(*frames))) == pytest.approx(per_pixel, rel=1e-5)
    with_ssim = float(keras.ops.mean(_refiner_loss(50.0)(*frames)))
    assert with_ssim == pytest.approx(per_pixel + 50 * (1 - expected.mean()) / 4096, rel=1e-4)


def test_refiner_batches_are_the_models_inputs_and_an_epoch_draws_each_frame_once(test_sequences):
    model = build_model(preset("convlstm", **TINY, refiner_filters=4))
    truth = test_sequences[:3, 10:19]
    raw = _blurred_and_moved(test_sequences[:3, 10:] / 255)  # a frame more than the truth, as a rollout has
    last = (test_sequences[:3, 9] / 255).astype(np.float32)[..., None]
    # As the rollout refines: all of them, the last one dropped.
    expected = keras.ops.convert_to_numpy(model.refiner_inputs(raw[..., None], last)).reshape(3, 10, 64, 64, -1)
    expected = expected[:, :9].reshape(27, 64, 64, -1)
    in_order = _RefinerFrames(raw, last, truth, batch_size=7)
    inputs, targets = zip(*(in_order[i] for i in range(len(in_order))))
    np.testing.assert_array_equal(np.concatenate(inputs), expected)
    np.testing.assert_allclose(np.concatenate(targets)[..., 0], (truth / 255).reshape(-1, 64, 64), atol=1e-7)
    shuffled = _RefinerFrames(raw, last, truth, batch_size=7, rng=np.random.default_rng(0))
    for _ in range(2):
        frames = np.concatenate([shuffled[i][0] for i in range(len(shuffled))])
        assert not np.array_equal(frames, expected)
        order = [np.flatnonzero((expected == frame).all(axis=(1, 2, 3)))[0] for frame in frames]
        assert sorted(order) == list(range(27))
        shuffled.on_epoch_end()


def test_train_refiner_refuses_a_config_or_log_of_another_kind():
    # A dict failed as "'dict' object has no attribute 'resume'".
    model = build_model(preset("convlstm", **TINY))
    with pytest.raises(InputError, match="^config must be a core.RefinerConfig; received dict$"):
        train_refiner(model, {"filters": 8})
    with pytest.raises(InputError, match="^log must be a function or None; received bool$"):
        train_refiner(model, RefinerConfig(), log=True)
    with pytest.raises(InputError, match=r"^log is called as log\(stage, done, total, val_mse\); received a function of \(stage, done, total\)$"):
        train_refiner(model, RefinerConfig(), log=lambda stage, done, total: None)
