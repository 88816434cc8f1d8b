"""The exposed gates and states are the model's own: recomputing from them gives its forecast."""

import numpy as np
import pytest
from conftest import TINY
from keras import ops

from core import data
from core.errors import InputError
from core.forecasting import forecast
from core.inspection import QUANTITIES, Trace, digit_channel, trace
from core.model import ModelConfig, build_model


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(**{**TINY, "num_layers": 2}))


def test_trace_matches_the_forecast(model, test_sequences):
    result = trace(model, test_sequences[0, :10], horizon=6)
    assert result.inputs.shape == result.predictions.shape == (15, 64, 64)
    assert len(result.layers) == 2 and set(result.layers[0]) == set(QUANTITIES)
    assert result.layers[1]["forget"].shape == (15, 16, 16, 8)
    np.testing.assert_allclose(result.predictions[9:], forecast(model, test_sequences[:1, :10], 6)[0], atol=1e-5)
    # Closed loop: after the context each input is the previous prediction.
    np.testing.assert_array_equal(result.inputs[10:], result.predictions[9:-1])
    np.testing.assert_allclose(result.inputs[:10], test_sequences[0, :10] / 255, atol=1e-6)


def test_a_short_context_is_padded_as_the_forecast_pads_it(model, test_sequences):
    short = trace(model, test_sequences[0, :3], horizon=2)
    padded = trace(model, data.pad_context(test_sequences[:1, :3], 10)[0], horizon=2)
    assert short.inputs.shape == (11, 64, 64)
    np.testing.assert_allclose(short.predictions, padded.predictions, atol=1e-6)


def test_the_lstm_equations_hold_on_the_exposed_tensors(model, test_sequences):
    result = trace(model, test_sequences[1, :10], horizon=3)
    for layer in result.layers:
        i, f, g, o = layer["input"], layer["forget"], layer["candidate"], layer["output"]
        c, h = layer["cell"], layer["hidden"]
        previous = np.concatenate([np.zeros_like(c[:1]), c[:-1]])
        np.testing.assert_allclose(c, f * previous + i * g, atol=1e-5)  # c_t = f . c_{t-1} + i . g
        np.testing.assert_allclose(h, o * np.tanh(c), atol=1e-5)  # h_t = o . tanh(c_t)
        assert 0 <= i.min() and i.max() <= 1 and -1 <= g.min() and g.max() <= 1


def test_the_head_turns_the_top_hidden_state_into_the_prediction(model, test_sequences):
    result = trace(model, test_sequences[2, :10], horizon=2)
    top = result.layers[-1]["hidden"][4:5]
    frame = model._from_patches(ops.sigmoid(model.head(top)))
    np.testing.assert_allclose(np.asarray(frame)[0, ..., 0], result.predictions[4], atol=1e-5)


def test_the_digit_channel_is_the_one_that_follows_the_frames_fed_in(test_sequences):
    # Averaged over all channels the gates were flat squares; the spread over time picked a drifting channel.
    frames = data.to_unit_float(test_sequences[0])
    patches = frames.reshape(20, 16, 4, 16, 4).mean(axis=(2, 4))
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(20, 16, 16, 8)).astype(np.float32)
    hidden[..., 2] += np.linspace(-50, 50, 20)[:, None, None]  # drifts over time: the widest spread, not the digits
    hidden[..., 5] = 0.2 - 3 * patches + 0.1 * rng.normal(size=patches.shape)  # the digits, darker where brighter
    hidden[..., 6] = 1.0  # constant
    traced = Trace(frames, frames, 10, [{"hidden": hidden}])
    assert digit_channel(traced, 0) == 5
    for layer in (1, -1, 0.0, True):  # were an IndexError, the last cell's, a TypeError and cell 1's
        with pytest.raises(InputError, match=rf"^layer must be a cell's number from 0 to 0; received {layer!r}$"):
            digit_channel(traced, layer)


def test_keras_io_has_no_cells_to_show(test_sequences):
    with pytest.raises(InputError, match="keras-io"):
        trace(build_model("keras-io"), test_sequences[0, :10])
    # A path was called the keras-io model.
    with pytest.raises(InputError, match="^model must be a model from core.load_checkpoint or core.build_model; "
                                         "received str$"):
        trace("checkpoints/convlstm.keras", test_sequences[0, :10])


def test_trace_refuses_a_horizon_and_a_context_forecast_refuses(model, test_sequences):
    for horizon in ("3", 2.0, 0, -3, 101):  # TypeErrors, and fewer steps than asked without a word
        with pytest.raises(InputError, match="^horizon must be an integer from 1 to 100"):
            trace(model, test_sequences[0, :10], horizon)
    # It kept every gate of 150 context steps, gigabytes for a 64-filter model, where forecast refuses them.
    with pytest.raises(InputError, match="^frames have 150 frames of context, and at most 100 are read"):
        trace(model, np.zeros((150, 64, 64), np.uint8), 1)
    with pytest.raises(InputError, match=r"^frames must be one sequence; received 2: pick one, e\.g\. frames\[0\]$"):
        trace(model, test_sequences[:2, :10], 1)  # the first was traced without a word


def test_designed_sequences_follow_the_standard_rules():
    digits = data.mnist_digits("test")[0][:2]
    made = data.design(digits, np.array([[0.5, 0.95], [0.1, 0.1]]), np.array([0.0, 90.0]), np.array([1.0, 2.0]), 5)
    assert made.frames.shape == (1, 5, 64, 64)
    # Digit 0 moves right from 0.95 of the range: clamped at 36 px, then bounces back by 3.6 px per frame.
    assert made.positions[0, :, 0, 1].tolist() == [36, 32, 28, 25, 21]
    # Digit 1 moves down at twice the standard speed: 0.3, 0.5, 0.7, 0.9, then clamped at 1.
    assert made.positions[0, :, 1, 0].tolist() == [10, 18, 25, 32, 36]
    with pytest.raises(InputError, match="length"):
        data.design(digits, np.zeros((2, 2)), np.zeros(2), np.ones(2), 1)
    # A notebook's slips failed inside NumPy (a broadcast, a reshape, a float as a count) or, for a NaN
    # angle, as "digit corners must lie in 0..36".
    right = {"start": np.zeros((2, 2)), "angle": np.zeros(2), "speed": np.ones(2), "length": 5}
    for slip, message in [({"start": np.zeros((3, 2))}, r"start must have shape \(2, 2\), one per digit; received shape \(3, 2\)"),
                          ({"angle": [np.nan, 0]}, r"angle must be finite numbers; received \[nan, 0.0\]"),
                          ({"speed": ["fast", 1]}, "speed must be numbers, one per digit; received \\['fast', 1\\]"),
                          ({"labels": [3, 8, 1]}, r"labels must have shape \(2,\), one per digit; received shape \(3,\)"),
                          ({"length": 10.5}, "length must be a whole number; received 10.5"),
                          ({"start": [[10, 20], [30, 5]]}, r"start must be fractions from 0 to 1 of the 36-pixel "
                                                           r"range; received \[\[10.0, 20.0\], \[30.0, 5.0\]\]"),
                          ({"labels": [3.7, 12]}, r"labels must be digits' classes, whole numbers from 0 to 9 "
                                                  r"\(-1: unknown\); received \[3.7, 12.0\]")]:
        with pytest.raises(InputError, match=f"^{message}$"):
            data.design(digits, **{**right, **slip})
    assert data.design(digits, **right, labels=np.array([3.0, -1])).labels.tolist() == [[3, -1]]
    # Scaled to 0-1 they vanished: cast to uint8, every pixel 0 or 1.
    with pytest.raises(InputError, match=r"^digits must be whole numbers from 0 to 255, as mnist_digits gives them "
                                         r"\(scaled to 0-1, multiply by 255\); received float64 from 0 to 1$"):
        data.design(digits / 255.0, **right)
    # A digit drawn in floats, as in np.zeros, is taken as it was before the check.
    np.testing.assert_array_equal(data.design(digits * 1.0, **right).frames, data.design(digits, **right).frames)
    for index, message in [(-1, "index must not be negative; received -1"),
                           (1.5, "index must be a whole number; received 1.5")]:
        with pytest.raises(InputError, match=f"^{message}$"):
            data.sequence("test", index)
