"""The forecaster: closed loop, any horizon, safe checkpoints, the keras.io preset."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import ROOT, TINY

from core import data, metrics
from core.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
from core.errors import InputError
from core.forecasting import forecast
from core.model import ConvLSTMForecaster, ModelConfig, build_model, model_config, preset, with_output_floor, with_refiner


@pytest.fixture(scope="module")
def tiny_model():
    return build_model(ModelConfig(**TINY))


@pytest.mark.parametrize("context_length,horizon", [(10, 1), (10, 10), (10, 30), (2, 10), (15, 5)])
def test_forecast_shapes(tiny_model, test_sequences, context_length, horizon):
    predicted = forecast(tiny_model, test_sequences[:3, :context_length], horizon)
    assert predicted.shape == (3, horizon, 64, 64) and predicted.dtype == np.float32
    assert 0 <= predicted.min() and predicted.max() <= 1


def test_one_traced_rollout_serves_every_horizon(test_sequences):
    # A graph per horizon held 20 MB + 2.4 MB a frame for good: a class trying the horizon
    # slider took the server past Community Cloud's 2.7 GB within three visitors. The refiner
    # reads the forecast's length too, so the model has one.
    model = build_model(ModelConfig(**TINY, refiner_filters=4))
    for horizon in (1, 7, 10, 23):
        predicted = forecast(model, test_sequences[:2, :10], horizon)
        assert predicted.shape == (2, horizon, 64, 64)
        eager = keras.ops.convert_to_numpy(model.rollout(data.to_unit_float(test_sequences[:2, :10])[..., None], horizon))
        np.testing.assert_allclose(predicted, eager[..., 0], atol=1e-6)
    assert [graph.experimental_get_tracing_count() for graph in model._rollouts.values()] == [1]


def test_forecast_accepts_one_sequence_and_floats(tiny_model, test_sequences):
    as_uint8 = forecast(tiny_model, test_sequences[0, :10], 4)
    as_float = forecast(tiny_model, test_sequences[0, :10] / 255.0, 4)
    assert as_uint8.shape == (1, 4, 64, 64)
    np.testing.assert_allclose(as_uint8, as_float, atol=1e-5)


def test_forecast_draws_a_bar_for_a_notebook_and_forecasts_the_same(tiny_model, test_sequences, capsys):
    quiet = forecast(tiny_model, test_sequences[:5, :10], 3, batch_size=2)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(forecast(tiny_model, test_sequences[:5, :10], 3, batch_size=2, bar=True), quiet)
    assert "forecasting: 100%" in (shown := capsys.readouterr().err) and "5/5" in shown
    with pytest.raises(InputError, match="^bar must be True or False"):
        forecast(tiny_model, test_sequences[:1, :10], 3, bar=1)


def test_a_diverged_model_forecasts_black_frames_that_can_be_scored(test_sequences):
    # NaN weights (a learning rate too high) forecast NaN, which Forecast and Design then failed to score.
    model = build_model(preset("convlstm", **TINY))
    model.set_weights([np.full(w.shape, np.nan, w.dtype) if w.dtype.kind == "f" else w for w in model.get_weights()])
    predicted = forecast(model, test_sequences[:2, :10], 3)
    assert predicted.shape == (2, 3, 64, 64) and not predicted.any()
    scores = metrics.score(predicted, data.to_unit_float(test_sequences[:2, 10:13]))
    assert np.isfinite(scores.mse)


def test_forecast_refuses_bad_horizon(tiny_model, test_sequences):
    for horizon in (0, 101, 2.5, True):  # True forecast one frame
        with pytest.raises(InputError, match="horizon"):
            forecast(tiny_model, test_sequences[:1, :10], horizon)
    # Was "'bool' object is not callable", after the first batch's work.
    with pytest.raises(InputError, match="^progress must be a function or None; received bool$"):
        forecast(tiny_model, test_sequences[:1, :10], 10, progress=True)
    # A function of `done` alone was Python's TypeError, after the first batch's work.
    with pytest.raises(InputError, match=r"^progress is called as progress\(done, total\); received a function of \(done\)$"):
        forecast(tiny_model, test_sequences[:1, :10], 10, progress=lambda done: None)
    calls = []
    forecast(tiny_model, test_sequences[:1, :10], 2, progress=lambda *call: calls.append(call))  # any that takes two
    assert calls == [(1, 1)]
    for batch_size in (0, -1, 2.5, True):  # were "range() arg 3 must not be zero" and a failed concatenate
        with pytest.raises(InputError, match="batch_size must be a positive integer"):
            forecast(tiny_model, test_sequences[:1, :10], 10, batch_size)


def test_a_notebook_sees_no_tensorflow_log_while_it_builds_and_forecasts():
    # Its first model cell printed 9 lines of TensorFlow's C++ log (a failed CUDA probe among them), and 8
    # horizons two 680-character retracing warnings when each had a graph of its own. In a process of
    # its own, as a notebook's kernel is: under pytest, TensorFlow is loaded already and does not warn.
    script = ("import core\nmodel = core.build_model(core.ModelConfig(num_layers=1, filters=4, precision='float32'))\n"
              "frames = core.moving_mnist('test', 2)[:, :10]\n"
              "for horizon in range(1, 9):\n    core.forecast(model, frames, horizon)\nprint('done')")
    environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    # Each module that loads Keras, imported first by name as the README's list of modules invites:
    # `from core.model import ModelConfig` printed the log that `core.ModelConfig` hid.
    for first in ("checkpoints", "device", "forecasting", "inspection", "model", "refiner", "training"):
        result = subprocess.run([sys.executable, "-c", f"import core.{first}\n{script}"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300, env=environment)
        assert (result.stdout, result.stderr) == ("done\n", ""), first


def test_a_jax_machine_set_up_by_keras_json_imports_each_module_without_tensorflow(tmp_path):
    # Hiding TensorFlow's log imported TensorFlow before Keras: on a machine whose keras.json names JAX and
    # which has no TensorFlow (a stand-in that cannot be imported, here), `import core.model` failed.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('no TensorFlow here')\n")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    environment = {name: value for name, value in os.environ.items() if name != "KERAS_BACKEND"}
    environment.update(KERAS_HOME=str(tmp_path), PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    script = ("import core.model, core.checkpoints, core.forecasting\nimport keras, sys\n"
              "print(keras.backend.backend(), 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=environment)
    assert result.stdout.strip().splitlines()[-1:] == ["jax False"], result.stderr[-2000:]


def test_closed_loop_ignores_the_future(tiny_model, test_sequences):
    # Outside training the model never reads frames after the context: changing
    # them changes nothing, and the call agrees with the rollout used to forecast.
    frames = data.to_unit_float(test_sequences[:2])[..., None]
    scrambled = frames.copy()
    scrambled[:, 10:] = np.random.default_rng(0).random(scrambled[:, 10:].shape)
    a = tiny_model(frames[:, :-1]).numpy()
    b = tiny_model(scrambled[:, :-1]).numpy()
    np.testing.assert_array_equal(a, b)
    rolled = tiny_model.rollout(frames[:, :10], 10).numpy()
    np.testing.assert_allclose(rolled, a[:, 9:], atol=1e-6)


def test_in_mixed_precision_the_call_and_the_rollout_agree(test_sequences):
    # Convolutions in bfloat16, gates and cell state in float32: training's call
    # and forecasting's rollout must compute the same frames, also under a
    # global mixed policy, where Keras would round the weights a call reads.
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_model(ModelConfig(**{**TINY, "precision": "mixed_bfloat16"}, layer_norm=True))
        rng = np.random.default_rng(0)
        cell = model.cells[0]
        for weight in (cell.gamma, cell.beta, cell.conv.bias):
            weight.assign(rng.normal(1, 0.3, weight.shape))
        frames = data.to_unit_float(test_sequences[:2])[..., None]
        called = model(frames[:, :-1]).numpy()[:, 9:]
        np.testing.assert_allclose(model.rollout(frames[:, :10], 10).numpy(), called, atol=1e-6)
    finally:
        keras.config.set_dtype_policy(before)
    h, c, gates = cell.step(np.zeros((1, 16, 16, 16), "float32"), model.initial_state(1)[0], cell.step_weights(), True)
    dtype = keras.backend.standardize_dtype
    assert (dtype(h.dtype), dtype(c.dtype), {dtype(g.dtype) for g in gates.values()}) == ("bfloat16", "float32", {"float32"})


def test_teacher_forcing_feeds_the_true_frames(tiny_model, test_sequences):
    # With teacher forcing 1 every step past the context reads the true frame,
    # as stepping through the sequence frame by frame does.
    frames = data.to_unit_float(test_sequences[:2, :14])[..., None]
    tiny_model.teacher_forcing.assign(1.0)
    try:
        forced = tiny_model(frames, training=True).numpy()
    finally:
        tiny_model.teacher_forcing.assign(0.0)
    states, stepped = tiny_model.initial_state(2), []
    for t in range(14):
        prediction, states = tiny_model.step(frames[:, t], states)
        stepped.append(prediction.numpy())
    np.testing.assert_allclose(forced, np.stack(stepped, axis=1), atol=1e-6)
    assert np.abs(forced[:, 10:] - tiny_model(frames).numpy()[:, 10:]).max() > 1e-3  # not its own frames


def test_a_cell_step_adds_the_bias_before_normalising():
    # With a zero kernel each gate's pre-activation is its bias, the same over the
    # map, so the normalisation sees only the bias's spread over the gate's channels.
    cell = build_model(ModelConfig(**TINY, layer_norm=True)).cells[0]
    rng = np.random.default_rng(1)
    bias, gamma, beta = rng.normal(size=32), rng.uniform(0.5, 2, size=32), rng.normal(size=32)
    cell.conv.kernel.assign(np.zeros(cell.conv.kernel.shape))
    for weight, value in ((cell.conv.bias, bias), (cell.gamma, gamma), (cell.beta, beta)):
        weight.assign(value)
    c = rng.normal(size=(1, 16, 16, 8)).astype("float32")
    h, c_next, gates = cell.step(np.zeros((1, 16, 16, 16), "float32"), (np.zeros_like(c), c), cell.step_weights(), True)
    per_gate = bias.reshape(4, 8)
    z = ((per_gate - per_gate.mean(axis=1, keepdims=True)) / np.sqrt(per_gate.var(axis=1, keepdims=True) + 1e-5)
         * gamma.reshape(4, 8) + beta.reshape(4, 8))
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sigmoid(z[0]), sigmoid(z[1] + 1), np.tanh(z[2]), sigmoid(z[3])
    np.testing.assert_allclose(np.asarray(gates["forget"])[0, 5, 7], f, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c_next), f * c + i * g, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), o * np.tanh(f * c + i * g), atol=1e-5)
    # Called as a plain Keras layer, as a notebook would, it steps the same.
    np.testing.assert_allclose(np.asarray(cell(np.zeros((1, 16, 16, 16), "float32"), (np.zeros_like(c), c))[0]), h)


def test_predictions_are_causal(tiny_model, test_sequences):
    # The prediction after step t may not depend on inputs after t.
    frames = data.to_unit_float(test_sequences[:1])[..., None]
    changed = frames.copy()
    changed[:, 6:] = 0
    a, b = tiny_model(frames[:, :10]).numpy(), tiny_model(changed[:, :10]).numpy()
    np.testing.assert_array_equal(a[:, :6], b[:, :6])
    assert not np.array_equal(a[:, 6:], b[:, 6:])


def test_default_preset_size():
    model = build_model("convlstm")
    assert 100_000 < model.count_params() < 5_000_000


def test_keras_io_preset_matches_the_example():
    model = build_model("keras-io")
    # The keras.io page's model has about 747K parameters.
    assert abs(model.count_params() - 747_000) < 5_000
    predicted = forecast(model, data.moving_mnist("test", 1)[:, :5], 2)
    assert predicted.shape == (1, 2, 64, 64)


def test_config_validation():
    for patch in (5, 0, -4):  # -4 divides 64 too
        with pytest.raises(InputError, match="patch_size"):
            ModelConfig(patch_size=patch)
    with pytest.raises(InputError, match="unknown preset"):
        preset("resnet")
    with pytest.raises(InputError, match="^ModelConfig has no field layers; its fields are preset, num_layers, "):
        preset("convlstm", layers=3)  # a TypeError from the dataclass
    # The keras.io model is rebuilt layer by layer: a config claiming other sizes would misdescribe it.
    with pytest.raises(InputError, match="num_layers, precision"):
        preset("keras-io", num_layers=5, precision="mixed_bfloat16")
    assert preset("keras-io", filters=32).filters == 32
    assert preset("keras-io", output_floor=0.1).output_floor == 0.1  # acts after the model, so any model takes one
    with pytest.raises(InputError, match="precision must be one of float32, mixed_bfloat16, mixed_float16; "
                                         "received 'bfloat'"):  # failed deep in Keras
        ModelConfig(precision="bfloat")
    # Built from the keras-io preset's config, it was a ConvLSTM its recorded config did not describe.
    with pytest.raises(InputError, match="ConvLSTMForecaster builds the convlstm preset; received preset 'keras-io'"):
        ConvLSTMForecaster(preset("keras-io"))


def test_evaluating_sequences_too_long_to_forecast_says_so_in_evaluates_terms(tiny_model):
    from core.evaluation import evaluate

    long = data.moving_mnist("test", 1, length=200)
    # Was forecast's "horizon must be an integer from 1 to 100; received 190": evaluate has no horizon.
    with pytest.raises(InputError, match=r"frames have 190 frames after the 10 of context, and at most 100 are "
                                         r"forecast; shorten them, e.g. frames\[:, :110\]"):
        evaluate(tiny_model, long)
    with pytest.raises(InputError, match=r"if time is the first axis, as in mnist_test_seq.npy, use frames.swapaxes"):
        evaluate(tiny_model, long)
    # Time first, as np.load gives the official file: read as 20 sequences of 200 frames, it traced for 23 s.
    with pytest.raises(InputError, match=r"^frames have 200 frames of context, and at most 100 are read; if time is "):
        forecast(tiny_model, long)
    # Only the context given: it blamed the context ("between 1 and 9 frames; received 10"), which was not passed.
    with pytest.raises(InputError, match="^evaluation needs frames after the 10 context frames; the sequences have 10$"):
        evaluate(tiny_model, long[:, :10])
    assert evaluate(tiny_model, long[:, :110])["model"].per_frame["mse"].shape == (100,)
    # The context asked for is the context used: all frames after it are scored.
    scores = evaluate(tiny_model, long[:, :20], context=5)
    assert {name: score.per_frame["mse"].shape for name, score in scores.items()} == dict.fromkeys(scores, (15,))
    held = metrics.mse(np.broadcast_to(long[:, 4:5] / 255, (1, 15, 64, 64)), long[:, 5:20] / 255)
    assert scores["repeat last frame"].mse == pytest.approx(held)
    # One frame of context was blamed on the frames ("needs at least 2 frames ... received 1"); 10.0 was a TypeError.
    for context, message in ((1, "context must be at least 2 frames, to show motion; received 1"),
                             (10.0, "context must be a whole number; received 10.0")):
        with pytest.raises(InputError, match=f"^{message}$"):
            evaluate(tiny_model, long[:, :20], context=context)


def test_evaluation_scores_each_batch_as_the_whole_forecast_would_and_never_holds_it_whole(tiny_model, capsys):
    import tracemalloc

    from core.evaluation import evaluate, score_forecast

    frames = data.moving_mnist("test", 30)
    context, truth = data.split_context(frames)
    whole = score_forecast(context, truth, forecast(tiny_model, context, 10))
    # Lists were a TypeError from slicing; they are refused as forecast refuses them.
    with pytest.raises(InputError, match="^context must be a numpy array; received list"):
        score_forecast(context.tolist(), truth, forecast(tiny_model, context, 10))
    batched = evaluate(tiny_model, frames, batch_size=8)  # 8, 8, 8 and 6
    # With a bar for a notebook, whose cell was silent for the 25 s 300 sequences take: the same scores.
    assert evaluate(tiny_model, frames, batch_size=8, bar=True)["model"].summary() == batched["model"].summary()
    shown = capsys.readouterr().err
    assert "evaluating: 100%" in shown and "30/30" in shown
    with pytest.raises(InputError, match="^bar must be True or False"):
        evaluate(tiny_model, frames, bar="yes")
    from core.evaluation import scores_of_batches

    with pytest.raises(InputError, match="^batches is empty"):  # an IndexError
        scores_of_batches([])
    for name in whole:
        assert batched[name].summary() == pytest.approx(whole[name].summary(), rel=1e-9)
        for metric, curve in whole[name].per_frame.items():
            np.testing.assert_allclose(batched[name].per_frame[metric], curve, rtol=1e-9)
    # NumPy's arrays are traced, TensorFlow's are not. Kept whole to be scored at the end, 200 sequences'
    # forecast and truth in float32 were 66 MB, and 100 of them in float64 for each metric 33 MB more.
    frames = data.moving_mnist("test", 200)
    tracemalloc.start()
    try:
        evaluate(tiny_model, frames, batch_size=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB"


def test_a_short_context_is_padded_with_its_first_frame(tiny_model, test_sequences):
    short = test_sequences[:2, :3]
    np.testing.assert_allclose(forecast(tiny_model, short, 4), forecast(tiny_model, data.pad_context(short, 10), 4),
                               atol=1e-6)


def test_a_path_or_a_typo_instead_of_a_model_is_a_clear_error(tmp_path, tiny_model, test_sequences):
    with pytest.raises(InputError, match="model must be a loaded model, from core.load_checkpoint"):
        forecast("checkpoints/convlstm.keras", test_sequences[:1, :10], 2)
    save_checkpoint(tiny_model, tmp_path / "tiny.keras")
    with pytest.raises(InputError, match="precision must be one of"):
        load_checkpoint(tmp_path / "tiny.keras", compile=False, precision="bogus")


def test_a_checkpoint_that_cannot_be_written_leaves_the_old_one(tmp_path, tiny_model, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write"):
        save_checkpoint(tiny_model, blocker / "m.keras")
    path = save_checkpoint(tiny_model, tmp_path / "m.keras", {"note": "old"})
    before = path.read_bytes()

    def full_disk(self, filepath, *args, **kwargs):  # the disk fills up halfway through a save
        Path(filepath).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(tiny_model), "save", full_disk)
    with pytest.raises(InputError, match="No space left on device"):
        save_checkpoint(tiny_model, path, {"note": "new"})
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*partial*"))
    # The folders made for it go too: a failed export or training left an empty new/deeper/.
    with pytest.raises(InputError, match="No space left on device"):
        save_checkpoint(tiny_model, tmp_path / "new" / "deeper" / "m.keras")
    assert sorted(tmp_path.iterdir()) == [blocker, path]
    # A second run on the same path, starting, removes the first's half-written file: the record
    # alone was then written into a new archive and renamed into place, with no weights.
    monkeypatch.setattr(type(tiny_model), "save", lambda self, filepath, *args, **kwargs: None)
    with pytest.raises(InputError, match="No such file"):
        save_checkpoint(tiny_model, path, {"note": "new"})
    assert path.read_bytes() == before


def test_save_load_round_trip(tmp_path, tiny_model, test_sequences):
    path = save_checkpoint(tiny_model, tmp_path / "m.keras", {"note": "round trip"})
    loaded = load_checkpoint(path)
    assert loaded.studio_config == ModelConfig(**TINY)
    assert loaded.studio_info == {"note": "round trip"}
    np.testing.assert_allclose(
        forecast(loaded, test_sequences[:2, :10], 5), forecast(tiny_model, test_sequences[:2, :10], 5), atol=1e-6
    )
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file is gone
    # Arguments swapped were a TypeError from pathlib; no model was blamed on `info`.
    with pytest.raises(InputError, match="^path must be a file's path; received .* \\(the model comes first\\)$"):
        save_checkpoint(str(tmp_path / "n.keras"), tiny_model)
    with pytest.raises(InputError, match="^model must be a loaded model"):
        save_checkpoint(None, tmp_path / "n.keras")


def test_a_training_state_is_not_replaced_by_a_model_without_its_optimizer(tmp_path, tiny_model):
    # A notebook's save of a loaded model over a resumable run's state lost its optimizer without a word.
    import shutil

    from core.checkpoints import holds_optimizer

    state = tmp_path / "state.keras"
    shutil.copy(ROOT / "checkpoints" / "training" / "convlstm-state.keras", state)
    before = state.read_bytes()
    with pytest.raises(InputError, match=f"^{re.escape(str(state))} holds a training state with its optimizer"):
        save_checkpoint(tiny_model, state)
    assert state.read_bytes() == before and holds_optimizer(state)
    # A training run saves over its own state, with its optimizer.
    training = build_model(ModelConfig(**TINY))  # not the module's model, which other tests use uncompiled
    training.compile(optimizer="adam", loss="mse")
    training.fit(np.zeros((1, 3, 64, 64, 1), np.float32), np.zeros((1, 3, 64, 64, 1), np.float32), verbose=0)
    save_checkpoint(training, state)
    assert holds_optimizer(state) and state.read_bytes() != before


def test_the_keras_io_model_forecasts_each_next_frame_from_all_before_it(test_sequences):
    # Its Conv3D sees one step ahead, so each new frame is the last output of the
    # whole sequence so far; a slice one frame early returned the last context frame first.
    model = build_model(preset("keras-io", filters=2))
    context = test_sequences[:1, :10, :, :, None] / 255.0
    predicted = forecast(model, test_sequences[:1, :10], 2)
    first = keras.ops.convert_to_numpy(model(context, training=False))[:, -1:]
    second = keras.ops.convert_to_numpy(model(np.concatenate([context, first], axis=1), training=False))[:, -1]
    np.testing.assert_allclose(predicted[:, 0], first[:, 0, ..., 0], atol=1e-5)
    np.testing.assert_allclose(predicted[:, 1], second[..., 0], atol=1e-5)


def test_keras_io_round_trip(tmp_path):
    model = build_model("keras-io")
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "k.keras"))
    assert loaded.count_params() == model.count_params()
    for saved, read in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(read, saved)


def test_bad_checkpoints(tmp_path, tiny_model, monkeypatch):
    with pytest.raises(InputError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.keras")
    with pytest.raises(InputError, match=f"^{re.escape(str(tmp_path))} is a folder; give the checkpoint's .keras file in it$"):
        load_checkpoint(tmp_path)
    corrupted = tmp_path / "corrupted.keras"
    corrupted.write_bytes(b"PK\x03\x04 not really a zip" * 10)
    with pytest.raises(InputError, match="not a Keras checkpoint"):
        load_checkpoint(corrupted)
    # Root reads any file, so the refusal an ordinary user meets is simulated.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZipFile", refuse)
        with pytest.raises(InputError, match=r"^cannot read .*corrupted.keras: permission denied$"):
            load_checkpoint(corrupted)
    # A healthy archive whose weights were cut short.
    good = save_checkpoint(tiny_model, tmp_path / "good.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[:-2000])
    with pytest.raises(InputError):
        load_checkpoint(truncated)
    # Someone else's Keras model.
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(InputError, match="not a ConvLSTM Studio checkpoint"):
        load_checkpoint(tmp_path / "other.keras")


def test_lambda_layers_are_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((None, 64, 64, 1))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "lambda.keras"
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:  # disguise it as one of ours
        archive.writestr("studio.json", json.dumps({"config": dataclasses.asdict(preset("keras-io")), "info": {}}))
    assert read_checkpoint_info(path)[0].preset == "keras-io"
    with pytest.raises(InputError, match="cannot load"):
        load_checkpoint(path)


def _edited(path: Path, out: Path, edit) -> Path:
    """A copy of a .keras archive with each entry's bytes passed through edit(name, content)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, edit(item.filename, source.read(item)))
    return out


def test_a_studio_json_that_does_not_match_the_weights_is_a_clear_error(tmp_path):
    path = save_checkpoint(build_model(ModelConfig(**{**TINY, "precision": "float32"})), tmp_path / "tiny.keras")

    def wider(name, content):  # someone's hand edit
        if name != "studio.json":
            return content
        card = json.loads(content)
        card["config"]["filters"] += 4
        return json.dumps(card)

    edited = _edited(path, tmp_path / "edited.keras", wider)
    # Another precision rebuilds the model from studio.json: that used to end in a traceback.
    with pytest.raises(InputError, match="describes another model"):
        load_checkpoint(edited, compile=False, precision="mixed_bfloat16")
    # Without a rebuild the edit was taken at its word, and export copied it on.
    for compile in (True, False):
        with pytest.raises(InputError, match="describes another model"):
            load_checkpoint(edited, compile=compile)
    # The keras.io model's width too; the sizes the example fixes are its own, whatever an older file
    # recorded (the CLI once wrote the ConvLSTM's): such files were called damaged.
    kio = save_checkpoint(build_model(preset("keras-io", filters=2)), tmp_path / "kio.keras")
    with pytest.raises(InputError, match="describes another model"):
        load_checkpoint(_edited(kio, tmp_path / "kio-wider.keras", wider), compile=False)

    def older(name, content):
        if name != "studio.json":
            return content
        card = json.loads(content)
        card["config"].update(kernel_size=3, patch_size=4, precision="mixed_bfloat16")
        return json.dumps(card)

    loaded = load_checkpoint(_edited(kio, tmp_path / "kio-older.keras", older), compile=False)
    assert loaded.studio_config == preset("keras-io", filters=2)

    def no_info(name, content):
        return json.dumps({**json.loads(content), "info": None}) if name == "studio.json" else content

    with pytest.raises(InputError, match=r"edited.keras has a damaged studio.json: its info is not a table"):
        load_checkpoint(_edited(path, tmp_path / "edited.keras", no_info))

    # Its rounds too, which a resumed round walks for their seeds ("continues"): each was a traceback.
    for record in ("x", {"seed": 4, "continues": 5}, {"seed": [7]}, {"seed": True}, {"continues": {"seed": "1"}}):
        def refiner_record(name, content):
            return json.dumps({**json.loads(content), "info": {"refiner": record}}) if name == "studio.json" else content

        with pytest.raises(InputError, match=r"edited.keras has a damaged studio.json: its refiner record is not a "
                                             r"table of rounds with whole-number seeds"):
            read_checkpoint_info(_edited(path, tmp_path / "edited.keras", refiner_record))

    # A resumed run adds to these as it saves: an "x" ended it in a traceback, after its training.
    for name, value, words in (("train_seconds", "x", "'x', not a count of seconds"),
                               ("sequences_seen", 2.5, "2.5, not a count of sequences"),
                               ("sequences_seen", -1, "-1, not a count of sequences"),
                               ("train_seconds", True, "True, not a count of seconds"),
                               ("train_seconds", float("inf"), "inf, not a count of seconds")):
        def edited_record(name_in_zip, content, name=name, value=value):
            if name_in_zip != "studio.json":
                return content
            card = json.loads(content)
            return json.dumps({**card, "info": {**card.get("info", {}), name: value}})

        with pytest.raises(InputError, match=f"edited.keras has a damaged studio.json: its {name} is {re.escape(words)}$"):
            read_checkpoint_info(_edited(path, tmp_path / "edited.keras", edited_record))
    train_seconds = lambda name_in_zip, content: content if name_in_zip != "studio.json" else json.dumps(
        {**json.loads(content), "info": {"train_seconds": 12.5, "sequences_seen": 64}})
    assert read_checkpoint_info(_edited(path, tmp_path / "edited.keras", train_seconds))[1]["train_seconds"] == 12.5

    def long_context(name, content):  # every input was padded to 100,000 frames: 24 GB, then the OOM killer
        if name != "studio.json":
            return content
        card = json.loads(content)
        card["config"]["context"] = 100_000
        return json.dumps(card)

    with pytest.raises(InputError, match=r"edited.keras has a damaged studio.json: context must be from 1 to 19; received 100,000"):
        load_checkpoint(_edited(path, tmp_path / "edited.keras", long_context))


def test_precision_can_change_at_load(tmp_path, test_sequences):
    model = build_model(ModelConfig(**{**TINY, "precision": "mixed_bfloat16"}))
    path = save_checkpoint(model, tmp_path / "bf16.keras")
    as_float32 = load_checkpoint(path, compile=False, precision="float32")
    assert as_float32.studio_config.precision == "float32" and as_float32.compute_dtype == "float32"
    # The same weights: predictions agree to bfloat16's precision.
    np.testing.assert_allclose(
        forecast(as_float32, test_sequences[:2, :10], 3), forecast(model, test_sequences[:2, :10], 3), atol=0.03
    )
    with pytest.raises(InputError, match="compile=False"):
        load_checkpoint(path, precision="float32")  # compiled, it ran in bfloat16 regardless


def test_arguments_of_the_wrong_type_are_one_line_errors(tiny_model, tmp_path):
    # From a notebook these were an AttributeError or a TypeError from deep inside.
    with pytest.raises(InputError, match=r"config must be a ModelConfig or a preset's name \(convlstm, keras-io\); received NoneType"):
        build_model(None)
    with pytest.raises(InputError, match="received dict$"):
        build_model({"filters": 8})
    for path in (None, b"PK"):
        with pytest.raises(InputError, match=f"path must be a file's path; received {type(path).__name__}$"):
            load_checkpoint(path)
    with pytest.raises(InputError, match="^compile must be True or False .*; received 'no'$"):  # "no" was True
        load_checkpoint("checkpoints/convlstm.keras", compile="no")
    # A list saved a file load_checkpoint refused; NumPy's float32 was json's TypeError.
    for info, message in (([1], "info must be a dict; received list"),
                          ({"mse": np.float32(1)}, "info must hold only JSON's types .*float32")):
        with pytest.raises(InputError, match=message):
            save_checkpoint(tiny_model, tmp_path / "x.keras", info)
    for name in ("x.h5", ".keras"):  # the second read "checkpoints end in .keras; received .keras"
        with pytest.raises(InputError, match=f"^checkpoints are files named NAME.keras; received {name}$"):
            save_checkpoint(tiny_model, tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_an_output_floor_clears_only_the_faint_pixels_and_survives_saving(tmp_path, tiny_model, test_sequences):
    raw = forecast(tiny_model, test_sequences[:2, :10], 3)
    floor = float(np.median(raw))
    floored = with_output_floor(tiny_model, floor)
    path = save_checkpoint(floored, tmp_path / "floored.keras")
    assert read_checkpoint_info(path)[0].output_floor == floor
    cleared = forecast(load_checkpoint(path, compile=False), test_sequences[:2, :10], 3)
    faint = raw < floor
    assert 0.3 < faint.mean() < 0.7
    assert not cleared[faint].any()
    np.testing.assert_array_equal(cleared[~faint], raw[~faint])


@pytest.mark.parametrize("floor, message", [(-0.1, "at least 0 and below 1; received -0.1"),
                                             (1.0, "at least 0 and below 1; received 1.0"),
                                             (float("nan"), "at least 0 and below 1; received nan"),
                                             # a hand-edited "0.1" read "received 0.1", as if that were refused
                                             ("0.1", "a number; received '0.1'"), (True, "a number; received True")])
def test_output_floors_outside_0_to_1_are_refused(floor, message):
    with pytest.raises(InputError, match=f"output_floor must be {re.escape(message)}$"):
        ModelConfig(output_floor=floor)


def test_checkpoints_from_before_the_output_floor_load_without_one(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "tiny.keras")

    def without_floor(name, content):
        content = content.replace(b', "output_floor": 0.0', b"").replace(b',\n  "output_floor": 0.0', b"")
        assert name not in ("studio.json", "config.json") or b"output_floor" not in content
        return content

    older = _edited(path, tmp_path / "older.keras", without_floor)
    assert load_checkpoint(older, compile=False).studio_config.output_floor == 0


def test_layer_norm_normalises_each_gate_and_survives_saving(tmp_path, test_sequences):
    model = build_model(ModelConfig(**TINY, layer_norm=True))
    cell = model.cells[0]
    rng = np.random.default_rng(0)
    # Four gates on different scales, as an untrained convolution gives them.
    z = rng.normal(size=(2, 16, 16, 4, 8)) * np.array([1, 5, 0.1, 20])[:, None] + np.array([3, -2, 0, 7])[:, None]

    def normalised():
        _, _, gamma, beta = cell.step_weights()
        out = cell._normalise(keras.ops.convert_to_tensor(z.reshape(2, 16, 16, 32), "float32"), gamma, beta)
        return np.asarray(out).reshape(2, 16, 16, 4, 8)

    gates = normalised()
    np.testing.assert_allclose(gates.mean(axis=(1, 2, 4)), 0, atol=1e-4)
    np.testing.assert_allclose(gates.std(axis=(1, 2, 4)), 1, atol=1e-3)  # a little under: the epsilon
    gamma, beta = rng.uniform(0.5, 2, size=32), rng.normal(size=32)
    cell.gamma.assign(gamma)
    cell.beta.assign(beta)
    mean, var = z.mean(axis=(1, 2, 4), keepdims=True), z.var(axis=(1, 2, 4), keepdims=True)
    expected = (z - mean) / np.sqrt(var + 1e-5) * gamma.reshape(4, 8) + beta.reshape(4, 8)
    np.testing.assert_allclose(normalised(), expected, atol=1e-3)

    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "ln.keras"))
    assert loaded.studio_config.layer_norm
    np.testing.assert_allclose(
        forecast(loaded, test_sequences[:2, :10], 3), forecast(model, test_sequences[:2, :10], 3), atol=1e-6
    )
    with pytest.raises(InputError, match=r"layer_norm must be True or False \(true or false in JSON\)"):
        ModelConfig(layer_norm="yes")
    # NumPy's True was refused, where every number setting takes NumPy's numbers.
    assert ModelConfig(layer_norm=np.True_).layer_norm is True


def test_a_model_loaded_with_plain_keras_still_forecasts(tmp_path, tiny_model, test_sequences):
    path = save_checkpoint(tiny_model, tmp_path / "plain.keras")
    plain = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(forecast(plain, test_sequences[:1, :10], 2), forecast(tiny_model, test_sequences[:1, :10], 2),
                               atol=1e-6)


def test_an_untrained_refiner_changes_nothing_and_a_trained_one_survives_saving(tmp_path, tiny_model, test_sequences):
    context = test_sequences[:2, :10]
    refined = with_refiner(tiny_model, 4)
    assert refined.count_params() > tiny_model.count_params()
    # The training record goes with it: without it a resume restarted at 1e-3 and at 0 sequences.
    trained = build_model(ModelConfig(**TINY))
    trained.studio_info = {"learning_rate": 3e-4, "sequences_seen": 123}
    trained.sequences_seen.assign(123)
    assert with_refiner(trained, 4).studio_info == trained.studio_info
    assert int(with_refiner(trained, 4).sequences_seen.numpy()) == 123
    # Its last layer starts at zero: the forecast is the forecaster's, at any horizon.
    np.testing.assert_allclose(forecast(refined, context, 12), forecast(tiny_model, context, 12), atol=1e-6)
    out = refined.refiner[-1]
    out.kernel.assign(np.random.default_rng(0).normal(0, 0.1, out.kernel.shape))
    path = save_checkpoint(refined, tmp_path / "refined.keras")
    loaded = load_checkpoint(path, compile=False)
    assert loaded.studio_config.refiner_filters == 4
    corrected = forecast(loaded, context, 12)
    np.testing.assert_allclose(corrected, forecast(refined, context, 12), atol=1e-6)
    assert np.abs(corrected - forecast(tiny_model, context, 12)).max() > 0.01
    # A frame is the same whatever the horizon: the last one read itself as the frame after it, and
    # frame +1 of a 1-frame forecast was visibly not frame +1 of a 10-frame one.
    for horizon in (1, 5):
        np.testing.assert_allclose(forecast(loaded, context, horizon), corrected[:, :horizon], atol=1e-6)
    # The raw forecast is still there for whoever asks, and is what the model reads back.
    raw = keras.ops.convert_to_numpy(loaded.rollout(context[..., None] / 255.0, 12, use_refiner=False))[..., 0]
    np.testing.assert_allclose(raw, forecast(tiny_model, context, 12), atol=1e-5)
    assert with_refiner(loaded, 0).studio_config.refiner_filters == 0 and not with_refiner(loaded, 0).refiner
    with pytest.raises(InputError, match="only a convlstm model can have a refiner"):
        with_refiner(build_model("keras-io"), 4)
    with pytest.raises(InputError, match="refiner_filters must be from 0 to 512; received -1"):
        ModelConfig(refiner_filters=-1)
    with pytest.raises(InputError, match="refiner_filters must be 0 for the keras-io preset; received 4"):
        ModelConfig(preset="keras-io", refiner_filters=4)
    # As a hand-edited studio.json may have them: they passed, then failed deep inside Keras.
    for name, value in [("refiner_filters", True), ("filters", 8.5), ("num_layers", "3")]:
        with pytest.raises(InputError, match=f"{name} must be a whole number; received {re.escape(repr(value))}$"):
            ModelConfig(**{name: value})
    # A notebook's NumPy sizes were refused as "must be a whole number; received np.int64(8)".
    taken = ModelConfig(filters=np.int64(8), output_floor=np.float32(0.25))
    assert (taken.filters, taken.output_floor) == (8, 0.25) and type(taken.filters) is int


def test_evaluation_reads_its_frames_as_a_whole_not_batch_by_batch(tiny_model):
    # uint8 frames are told apart from thresholded 0/1 ones by their first sequence: each batch's
    # first was read, and a dark sequence starting a later batch failed after the earlier batches' work.
    from core.evaluation import evaluate

    frames = data.moving_mnist("test", 6)
    frames[4] = frames[4] > 128
    scores = evaluate(tiny_model, frames, batch_size=2)
    assert np.isfinite(scores["model"].mse)


def test_a_path_from_the_home_folder_is_read_and_written_there(tmp_path, tiny_model, monkeypatch):
    # A notebook's save_checkpoint(model, "~/run.keras") wrote into a new folder named "~" in the working
    # folder, and load_checkpoint("~/run.keras") said there was no checkpoint at a path that had one.
    from core.data import load_npy
    from core.files import check_output

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    assert save_checkpoint(tiny_model, "~/run.keras") == tmp_path / "home" / "run.keras"
    assert (tmp_path / "home" / "run.keras").is_file() and not (tmp_path / "~").exists()
    assert model_config(load_checkpoint("~/run.keras", compile=False)) == model_config(tiny_model)
    check_output("~/later.keras", ".keras", "out")  # a training run's --out, checked before it trains
    # A run's out and init_from too: "~/run.keras" was resumed, and guarded, as ./~/run.keras, so a new
    # run replaced the file in the home folder.
    from core.training import TrainConfig, train

    config = TrainConfig(out="~/run.keras", model_overrides=TINY)
    assert config.out == str(tmp_path / "home" / "run.keras")
    assert TrainConfig(init_from="~/run.keras").init_from == config.out
    with pytest.raises(InputError, match="already exists"):
        train(config)
    np.save(tmp_path / "home" / "frames.npy", np.zeros((1, 2, 64, 64), np.uint8))
    assert load_npy("~/frames.npy").shape == (1, 2, 64, 64)
