"""The ConvLSTM forecaster, its config and presets, and variants of a model (a refiner, a precision).

Our model works on 4x4 patches (space-to-depth, 64x64x1 -> 16x16x16, as OpenSTL
does), which makes every convolution 16x cheaper than on full frames. A stack of
ConvLSTM cells reads one frame per step; a 1x1 convolution and a sigmoid turn the
top hidden state into the next frame. After the context frames the model feeds
back its own prediction (closed loop), in training as in use, so what is trained
is what is shown. Scheduled sampling eases training in: early on the true frame
is fed back with probability `teacher_forcing`, which the training loop lowers
to zero.

A refiner may follow the rollout: three small convolutions, on the same patches,
that correct each finished frame from it, its neighbours in the forecast and
the last context frame. It is trained afterwards on the frozen forecaster's
own forecasts (`core.refiner.train_refiner`), and the forecaster still reads
back its raw frames, so it changes what is shown, never what is fed back.

The "keras-io" preset rebuilds the keras.io example's full-frame model so users
can compare the two on the same data.

Both models map next-frame inputs (B, T, 64, 64, 1) to predictions of the frame
after each input, (B, T, 64, 64, 1) in [0, 1].
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras
from keras import layers, ops

from core.data import CONTEXT_FRAMES, FRAME_SIZE, SEQUENCE_LENGTH
from core.errors import InputError, as_bool, as_number, check_range

PACKAGE = "convlstm_studio"
# Keras keeps scopes (dtype policy, deserialisation, state tracking) in global
# state while it builds, loads or compiles a model; two threads doing that at
# once (a page loading a model while training starts) made compile fail with
# "cannot add new elements of state". One lock makes those steps take turns
# (the app's own cause is in ui.shared; the lock is for any threaded host).
MODEL_LOCK = threading.RLock()
# The refiner's "how far ahead" input is t / 10, capped at 0.9: fixed, whatever a
# model's context, since the shipped refiner was trained on that scale.
REFINER_AHEAD_SCALE = SEQUENCE_LENGTH - CONTEXT_FRAMES
# Far above anything that trains in a session, far below what fills the memory:
# 100,000 layers took 23 GB before building, 100,000 filters a traceback.
MAX_LAYERS, MAX_FILTERS, MAX_KERNEL = 8, 512, 15
REFINER_INPUTS = 5  # per pixel: the frame, the frames before and after it, the last context frame, how far ahead


# Keras dtype policies the cells are built for: they keep their gates and
# states in float32 under a mixed policy. mixed_float16 runs, but does not
# train (core.training refuses it): the forecaster's own policy is float32,
# so Keras would not scale its float16 gradients.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def check_precision(precision: str) -> None:
    """Raises `InputError` unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:  # a typo failed 14 frames deep in Keras
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; received {precision!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; checkpoints carry it.

    Attributes:
        preset: "convlstm" (ours) or "keras-io" (the keras.io example's model).
        num_layers: stacked ConvLSTM cells.
        filters: hidden channels per cell.
        kernel_size: spatial kernel of the cells' convolutions.
        patch_size: side of the square patches folded into channels.
        context: frames fed as truth before the model runs on its own.
        precision: a Keras dtype policy in PRECISIONS; bfloat16 runs 1.5-1.7x
            float32's speed where the CPU has bf16 instructions (AVX512-BF16,
            AMX), and on GPUs. It sets
            the convolutions' arithmetic; the cells' gates and states stay
            float32.
        output_floor: forecast pixels below this are drawn black (0). Where
            the model is unsure it predicts a faint haze, the mean of where a
            digit might be; clearing it costs a little MSE and gains SSIM,
            which rewards a clean black background (docs/training.md). Set
            on export; a model fine-tuned from a checkpoint keeps its floor;
            0 keeps the raw output.
        refiner_filters: width of the refiner that corrects the finished
            forecast; 0 for none. Set by `core.refiner.train_refiner`.
        layer_norm: normalise each gate's pre-activation over its map (one
            group per gate) before the nonlinearity, as the layer-normalised
            LSTM of Ba et al. (2016) does; see docs/training.md for what it
            buys here.
    """

    preset: str = "convlstm"
    num_layers: int = 3
    filters: int = 48
    kernel_size: int = 3
    patch_size: int = 4
    context: int = CONTEXT_FRAMES
    precision: str = "mixed_bfloat16"
    output_floor: float = 0.0
    refiner_filters: int = 0
    layer_norm: bool = False

    def __post_init__(self):
        if self.preset not in ("convlstm", "keras-io"):
            raise InputError(f"preset must be 'convlstm' or 'keras-io'; received {self.preset!r}")
        check_precision(self.precision)
        # A hand-edited studio.json's 8.5 or true passed, then failed deep in Keras.
        for name in ("num_layers", "filters", "kernel_size", "patch_size", "context", "refiner_filters"):
            object.__setattr__(self, name, as_number(name, getattr(self, name), whole=True))
        # Training sequences have 20 frames, hence a context of at most 19 (a hand-edited
        # 100,000 padded every input to that many frames and filled 24 GB).
        for name, least, most in (("num_layers", 1, MAX_LAYERS), ("filters", 1, MAX_FILTERS),
                                  ("kernel_size", 1, MAX_KERNEL), ("patch_size", 1, FRAME_SIZE),
                                  ("context", 1, SEQUENCE_LENGTH - 1), ("refiner_filters", 0, MAX_FILTERS)):
            check_range(name, getattr(self, name), least, most)
        object.__setattr__(self, "output_floor", as_number("output_floor", self.output_floor, whole=False))
        if not 0 <= self.output_floor < 1:
            raise InputError(f"output_floor must be at least 0 and below 1; received {self.output_floor}")
        object.__setattr__(self, "layer_norm", as_bool("layer_norm", self.layer_norm))
        if FRAME_SIZE % self.patch_size:
            raise InputError(f"patch_size must divide {FRAME_SIZE}; received {self.patch_size}")
        if self.refiner_filters and self.preset != "convlstm":
            raise InputError(f"refiner_filters must be 0 for the {self.preset} preset; received {self.refiner_filters}")
        # build_keras_io follows the example layer by layer: a config claiming other sizes
        # (a hand-edited studio.json, a "preset" among overrides) misdescribed the model built.
        fixed = sorted(name for name, value in KERAS_IO_FIXED.items() if getattr(self, name) != value)
        if self.preset == "keras-io" and fixed:
            raise InputError("the keras-io preset rebuilds the keras.io example, so only filters (and the output "
                             f"floor) can change; received {', '.join(fixed)}")


# What the keras.io example fixes; its width and an output floor (which acts after the model) are free.
KERAS_IO_FIXED = {"num_layers": 3, "kernel_size": 5, "patch_size": 1, "precision": "float32", "context": 10,
                  "refiner_filters": 0, "layer_norm": False}


PRESETS = {
    # Our default for training here: 3 cells of 48 filters, 3x3 kernels: 40 sequences/s,
    # 1.5x faster than 3 x 64 (26/s) at the same depth; see docs/training.md. The shipped
    # checkpoint is 3 x 64 with layer_norm and a 128-filter refiner (its studio.json).
    "convlstm": ModelConfig(),
    # The keras.io example, on full 64x64 frames (about 747K parameters).
    "keras-io": ModelConfig(preset="keras-io", filters=64, **KERAS_IO_FIXED),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A named preset's config, with any fields overridden.

    Args:
        name: a key of `PRESETS`.
        **overrides: `ModelConfig` fields to change; the keras-io preset takes
            only `filters` and `output_floor`.

    Returns:
        The `ModelConfig`.

    Raises:
        InputError: an unknown name or field, or a field the keras-io preset fixes.
    """
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    known = [field.name for field in dataclasses.fields(ModelConfig)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:  # preset("convlstm", layers=3) was a TypeError from the dataclass
        raise InputError(f"ModelConfig has no field {', '.join(unknown)}; its fields are {', '.join(known)}")
    return dataclasses.replace(PRESETS[name], **overrides)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvLSTMCell(layers.Layer):
    """One ConvLSTM step (Shi et al. 2015, without peepholes).

    All four gates come from one convolution over [input, hidden], which is one
    large matrix product instead of eight small ones:

        z = W * [x, h] + b                  (then normalised, with layer_norm)
        i, f, g, o = split(z, 4)            in this channel order
        i, o = sigmoid(i), sigmoid(o)       f = sigmoid(f + 1)      g = tanh(g)
        c' = f . c + i . g                  h' = o . tanh(c')

    Args:
        filters: channels of the hidden and cell states.
        kernel_size: side of the square convolution kernel.
        layer_norm: normalise each gate's pre-activation (mean 0, variance 1
            over its whole map, then a learnt scale and offset per channel).

    Call arguments:
        x: (B, H, W, C) input of this step.
        state: (h, c), each (B, H, W, filters).
        return_gates: also return the gate activations (for "Inside the ConvLSTM").

    Returns:
        (h', c'), or (h', c', {"input", "forget", "output", "candidate"}):
        h' in the compute dtype, c' and the gates in float32.

    Calling the cell as a Keras layer (`cell(x, state)`) takes one step. The
    forecaster calls `step` instead, the same with weights from `step_weights`,
    cast once per sequence rather than once per step.
    """

    def __init__(self, filters: int, kernel_size: int, layer_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.layer_norm = layer_norm
        self.conv = layers.Conv2D(4 * filters, kernel_size, padding="same", dtype=self.dtype_policy, name="gates")

    def build(self, input_shape):
        self.conv.build(input_shape[:-1] + (input_shape[-1] + self.filters,))
        if self.layer_norm:
            self.gamma = self.add_weight(shape=(4 * self.filters,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(4 * self.filters,), initializer="zeros", name="beta")

    def step_weights(self):
        """The weights as `step` takes them, cast once for all the steps of a sequence.

        Returns:
            (kernel, bias, gamma, beta): the kernel in the compute dtype, the
            rest float32 (gamma and beta None without layer normalisation).
        """
        kernel = ops.cast(self.conv.kernel, self.compute_dtype)
        bias = ops.cast(self.conv.bias, "float32")
        if not self.layer_norm:
            return kernel, bias, None, None
        gates = (1, 4, self.filters)
        gamma, beta = (ops.reshape(ops.cast(weight, "float32"), gates) for weight in (self.gamma, self.beta))
        return kernel, bias, gamma, beta

    def _normalise(self, z, gamma, beta):
        """Normalises each gate of z (float32, bias added): gamma and beta (1, 4, filters).

        Only per-channel means see the whole map; the statistics, gamma and
        beta meet on (B, 4F) vectors and fold into one scale and one shift per
        channel. Reducing over positions and a gate's channels in one step ran
        several times slower on a 2-core CPU, and writing the arithmetic out on
        the map took 9 passes over it.
        """
        batch, height, width, channels = ops.shape(z)
        flat = ops.reshape(z, (batch, height * width, channels))
        gates = (batch, 4, self.filters)
        mean = ops.mean(ops.reshape(ops.mean(flat, axis=1), gates), axis=-1, keepdims=True)
        square = ops.mean(ops.reshape(ops.mean(ops.square(flat), axis=1), gates), axis=-1, keepdims=True)
        scale = gamma * ops.rsqrt(ops.maximum(square - ops.square(mean), 0.0) + 1e-5)
        shift = beta - mean * scale
        per_channel = (batch, 1, 1, channels)
        return z * ops.reshape(scale, per_channel) + ops.reshape(shift, per_channel)

    def call(self, x, state, return_gates=False):
        return self.step(x, state, self.step_weights(), return_gates)

    def step(self, x, state, weights, return_gates=False):
        """`call` with the weights from `step_weights`, which a rollout casts once."""
        h, c = state
        kernel, bias, gamma, beta = weights
        # The kernel is cast by hand, the Conv2D layer only holding it: Keras'
        # autocasting slipped to float32 beside Streamlit's thread (see ui.shared).
        dtype = self.compute_dtype
        inputs = ops.concatenate([ops.cast(x, dtype), ops.cast(h, dtype)], axis=-1)
        # The gates and the cell state in float32: on a CPU, TensorFlow's
        # bfloat16 sigmoid took 5-6x, tanh and multiplies 2-3x, float32's time
        # (benchmarks/gate_precision.py), a fifth of a forecast.
        z = ops.cast(ops.conv(inputs, kernel, padding="same"), "float32") + bias
        z = self._normalise(z, gamma, beta) if self.layer_norm else z
        i, f, g, o = ops.split(z, 4, axis=-1)
        # A forget gate that starts near 1 keeps the cell memory from the first steps.
        i, f, g, o = ops.sigmoid(i), ops.sigmoid(f + 1.0), ops.tanh(g), ops.sigmoid(o)
        c = f * ops.cast(c, "float32") + i * g
        h = ops.cast(o * ops.tanh(c), dtype)
        if return_gates:
            return h, c, {"input": i, "forget": f, "output": o, "candidate": g}
        return h, c

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "layer_norm": self.layer_norm}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvLSTMForecaster(keras.Model):
    """Patch-based stacked ConvLSTM that forecasts in closed loop.

    Args:
        config: a `ModelConfig` (or its dict) with preset "convlstm".

    Call arguments:
        frames: (B, T, 64, 64, 1) in [0, 1]; frames[:, t] is the input of step t.
        training: in training, a step past the context is fed the true frame
            with probability `teacher_forcing`, else its own last prediction;
            otherwise always its own prediction, so only frames[:, :context] matter.

    Returns:
        (B, T, 64, 64, 1): the prediction of the frame after each step.

    `call` is what training runs, without the refiner (trained afterwards, on
    the forecaster's own forecasts); `rollout` is what forecasting runs.
    """

    def __init__(self, config, **kwargs):
        # float32 whatever the global policy: its layers carry the config's
        # precision, and under a mixed policy Keras would hand `call` (training)
        # weights rounded to bfloat16, but not `rollout` (forecasting).
        super().__init__(dtype="float32", **kwargs)
        self.config = config if isinstance(config, ModelConfig) else ModelConfig(**config)
        cfg = self.config
        if cfg.preset != "convlstm":  # its sizes would build a ConvLSTM that config does not describe
            raise InputError(f"ConvLSTMForecaster builds the convlstm preset; received preset {cfg.preset!r} "
                             "(build_model builds the keras-io one)")
        self.cells = [
            ConvLSTMCell(cfg.filters, cfg.kernel_size, cfg.layer_norm, dtype=cfg.precision, name=f"convlstm_{i}")
            for i in range(cfg.num_layers)
        ]
        self.head = layers.Conv2D(cfg.patch_size**2, 1, dtype=cfg.precision, name="head")
        self.refiner = []
        if cfg.refiner_filters:
            width = cfg.refiner_filters
            # The last layer starts at zero, so an untrained refiner changes nothing.
            self.refiner = [
                layers.Conv2D(width, 3, padding="same", activation="relu", dtype=cfg.precision, name="refiner_0"),
                layers.Conv2D(width, 3, padding="same", activation="relu", dtype=cfg.precision, name="refiner_1"),
                layers.Conv2D(cfg.patch_size**2, 3, padding="same", kernel_initializer="zeros",
                              dtype=cfg.precision, name="refiner_out"),
            ]
            # Trained only by `train_refiner`, on the frozen forecaster: fine-tuning the
            # forecaster (whose loss never reaches these) leaves them as they are.
            for layer in self.refiner:
                layer.trainable = False
        # Training state that must survive a resume, so it lives in the checkpoint.
        self.teacher_forcing = self.add_weight(shape=(), initializer="zeros", trainable=False, name="teacher_forcing")
        self.sequences_seen = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="int64", name="sequences_seen"
        )
        self.seed = keras.random.SeedGenerator(0)

    def build(self, input_shape=None):
        p, size = self.config.patch_size, FRAME_SIZE // self.config.patch_size
        channels = p * p
        for cell in self.cells:
            cell.build((None, size, size, channels))
            channels = cell.filters
        self.head.build((None, size, size, channels))
        channels = REFINER_INPUTS * p * p
        for layer in self.refiner:
            layer.build((None, size, size, channels))
            channels = layer.filters
        self.built = True

    # Space-to-depth and back: (B, 64, 64, C) <-> (B, 16, 16, 16 C) for patch 4.
    def _to_patches(self, frame, channels=1):
        p, n = self.config.patch_size, FRAME_SIZE // self.config.patch_size
        x = ops.reshape(frame, (-1, n, p, n, p, channels))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, n, n, p * p * channels))

    def _from_patches(self, x):
        p, n = self.config.patch_size, FRAME_SIZE // self.config.patch_size
        x = ops.transpose(ops.reshape(x, (-1, n, n, p, p)), (0, 1, 3, 2, 4))
        return ops.reshape(x, (-1, FRAME_SIZE, FRAME_SIZE, 1))

    # The same for whole sequences, (B, T, 64, 64, 1) <-> (B, T, 16, 16, 16): a
    # rollout stays in patches and converts all its frames at once, which
    # saved 38 small transposes a forecast.
    def _sequence_to_patches(self, frames):
        x = self._to_patches(ops.reshape(frames, (-1, FRAME_SIZE, FRAME_SIZE, 1)))
        return ops.reshape(x, (-1, frames.shape[1], *x.shape[1:]))

    def _sequence_from_patches(self, x):
        return ops.reshape(self._from_patches(x), (-1, ops.shape(x)[1], FRAME_SIZE, FRAME_SIZE, 1))

    def initial_state(self, batch):
        """Zero (h, c) for each cell, for `batch` sequences: h in the compute dtype, c in float32."""
        size = FRAME_SIZE // self.config.patch_size
        shape = (batch, size, size, self.config.filters)
        return [(ops.zeros(shape, dtype=cell.compute_dtype), ops.zeros(shape, dtype="float32")) for cell in self.cells]

    def step(self, frame, states, return_gates=False):
        """One time step of the stacked cells, as "Inside the ConvLSTM" traces it.

        Args:
            frame: (B, 64, 64, 1) in [0, 1], this step's input.
            states: one (h, c) per cell, as `initial_state` makes them.
            return_gates: also return each cell's gate activations.

        Returns:
            (prediction, states), or (prediction, states, gates): the
            prediction of the next frame, (B, 64, 64, 1); the cells' new
            states; a list with each cell's {"input", "forget", "output",
            "candidate"} maps.
        """
        weights = [cell.step_weights() for cell in self.cells]
        prediction, states, gates = self._step(self._to_patches(frame), states, weights, return_gates)
        prediction = self._from_patches(prediction)
        return (prediction, states, gates) if return_gates else (prediction, states)

    def _step(self, x, states, weights, return_gates=False):
        # `step` on patches, with each cell's `step_weights`.
        new_states, gates = [], []
        for cell, state, cell_weights in zip(self.cells, states, weights):
            out = cell.step(x, state, cell_weights, return_gates=return_gates)
            x, c = out[0], out[1]
            new_states.append((x, c))
            if return_gates:
                gates.append(out[2])
        return ops.sigmoid(ops.cast(self.head(x), "float32")), new_states, gates

    def call(self, frames, training=False):
        steps = frames.shape[1]
        patches = self._sequence_to_patches(frames)
        weights = [cell.step_weights() for cell in self.cells]
        states = self.initial_state(ops.shape(frames)[0])
        predictions = []
        for t in range(steps):
            x = patches[:, t]
            if t >= self.config.context:
                own = predictions[-1]
                if training:
                    coin = keras.random.uniform((ops.shape(frames)[0], 1, 1, 1), seed=self.seed)
                    x = ops.where(coin < self.teacher_forcing, x, own)
                else:
                    x = own
            prediction, states, _ = self._step(x, states, weights)
            predictions.append(prediction)
        return self._sequence_from_patches(ops.stack(predictions, axis=1))

    def rollout(self, context, horizon: int, use_refiner: bool = True):
        """Closed-loop forecast: reads all context frames, then feeds back its own.

        Args:
            context: (B, C, 64, 64, 1) in [0, 1], C >= 1.
            horizon: frames to predict (any number, not only the trained one),
                an int or a scalar int32 tensor.
            use_refiner: correct the forecast with the refiner, where the model has one.

        Returns:
            (B, horizon, 64, 64, 1); frame t is the same whatever the horizon.
        """
        if not self.refiner or not use_refiner:
            return self._closed_loop(context, horizon)
        # The refiner reads each frame's successor, so one frame more is forecast and dropped:
        # the last frame read itself instead, and frame +1 of a 1-frame forecast differed from
        # frame +1 of a 10-frame one, visibly (which also scored the 10th 0.2 worse).
        return self.refine(self._closed_loop(context, horizon + 1), context[:, -1])[:, :horizon]

    def _closed_loop(self, context, horizon):
        patches = self._sequence_to_patches(context)
        weights = [cell.step_weights() for cell in self.cells]
        states = self.initial_state(ops.shape(context)[0])
        for t in range(context.shape[1]):
            prediction, states, _ = self._step(patches[:, t], states, weights)
        # The feedback is a loop in the graph, not a copy of the step per frame: a
        # traced rollout then serves every horizon. One graph per horizon held
        # 20 MB + 2.4 MB a frame each, for good, and a class trying horizons
        # took the app past Community Cloud's memory within three visitors.
        # Frame t is written where the buffer's time index is t.
        when = ops.reshape(ops.arange(horizon), (1, -1, 1, 1, 1))
        first = ops.expand_dims(prediction, 1)
        predictions = ops.where(when == 0, first, ops.zeros_like(first))

        def feed_back(t, carry):
            predictions, prediction, states = carry
            prediction, states, _ = self._step(prediction, states, weights)
            return ops.where(when == t, ops.expand_dims(prediction, 1), predictions), prediction, states

        predictions = ops.fori_loop(1, horizon, feed_back, (predictions, prediction, states))[0]
        return self._sequence_from_patches(predictions)

    def refine(self, predictions, last_context):
        """Corrects a finished forecast with the refiner.

        Args:
            predictions: (B, H, 64, 64, 1) raw forecast in [0, 1]. The last
                frame has no successor to read, so a caller forecasts one frame
                more than it needs and drops the last, as `rollout` does.
            last_context: (B, 64, 64, 1), the frame before the forecast.

        Returns:
            (B, H, 64, 64, 1) in [0, 1].
        """
        corrected = self.refine_frames(self.refiner_inputs(predictions, last_context))
        return ops.reshape(corrected, (-1, ops.shape(predictions)[1], FRAME_SIZE, FRAME_SIZE, 1))

    def refiner_inputs(self, predictions, last_context):
        """What the refiner reads for each frame of a forecast.

        Per pixel: the frame, the frames before and after it (the last context
        frame before the first, the last frame repeated after it, as the
        refiner was trained on 10 frames; `rollout` gives it a real one), the last
        context frame, which shows the digits' shapes sharply, and how far
        ahead the frame lies (frames past the trained horizon read as its last).

        Args:
            predictions: (B, H, 64, 64, 1) raw forecast in [0, 1].
            last_context: (B, 64, 64, 1).

        Returns:
            (B * H, 64, 64, REFINER_INPUTS), frame by frame.
        """
        horizon = ops.shape(predictions)[1]
        last = ops.expand_dims(ops.cast(last_context, "float32"), 1)
        predictions = ops.cast(predictions, "float32")
        before = ops.concatenate([last, predictions[:, :-1]], axis=1)
        after = ops.concatenate([predictions[:, 1:], predictions[:, -1:]], axis=1)
        ahead = ops.minimum(ops.arange(horizon, dtype="float32"), REFINER_AHEAD_SCALE - 1) / REFINER_AHEAD_SCALE
        ahead = ops.zeros_like(predictions) + ops.reshape(ahead, (1, -1, 1, 1, 1))
        inputs = ops.concatenate([predictions, before, after, ops.zeros_like(predictions) + last, ahead], axis=-1)
        return ops.reshape(inputs, (-1, FRAME_SIZE, FRAME_SIZE, REFINER_INPUTS))

    def refine_frames(self, inputs):
        """The refiner on single frames: (N, 64, 64, REFINER_INPUTS) from
        `refiner_inputs` -> (N, 64, 64, 1); its output is added to the frame's logit."""
        x = ops.cast(self._to_patches(inputs, REFINER_INPUTS), self.compute_dtype)
        for layer in self.refiner:
            x = layer(x)
        frame = ops.clip(inputs[..., :1], 1e-4, 1 - 1e-4)
        return ops.sigmoid(ops.log(frame) - ops.log(1 - frame) + self._from_patches(ops.cast(x, "float32")))

    def get_config(self):
        return {"config": dataclasses.asdict(self.config), "name": self.name}


def build_keras_io(config: ModelConfig) -> keras.Model:
    """The keras.io example's model (next-frame, full frames, teacher forced).

    ConvLSTM2D(64, 5x5) -> BN -> ConvLSTM2D(64, 3x3) -> BN -> ConvLSTM2D(64, 1x1)
    -> Conv3D(1, 3x3x3, sigmoid), all "same"-padded and returning sequences. The
    Conv3D lets the output at step t see step t+1: it is not causal, which is
    why it can only forecast by re-running the growing sequence.
    """
    f = config.filters
    inputs = keras.Input((None, FRAME_SIZE, FRAME_SIZE, 1))
    x = layers.ConvLSTM2D(f, 5, padding="same", return_sequences=True, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(f, 3, padding="same", return_sequences=True, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(f, 1, padding="same", return_sequences=True, activation="relu")(x)
    outputs = layers.Conv3D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs, name="keras_io")


def build_model(config: ModelConfig | str = "convlstm") -> keras.Model:
    """Builds an untrained model.

    Args:
        config: a `ModelConfig`, or the name of one of `PRESETS`.

    Returns:
        The model, with `studio_config` (its `ModelConfig`) and an empty `studio_info`.

    Raises:
        InputError: an unknown preset name, or neither a name nor a ModelConfig.
    """
    if isinstance(config, str):
        config = preset(config)
    elif not isinstance(config, ModelConfig):  # None or a dict failed with an AttributeError
        raise InputError(f"config must be a ModelConfig or a preset's name ({', '.join(PRESETS)}); "
                         f"received {type(config).__name__}")
    with MODEL_LOCK:
        if config.preset == "keras-io":
            model = build_keras_io(config)
        else:
            model = ConvLSTMForecaster(config, name="convlstm_forecaster")
            model.build()
    model.studio_config, model.studio_info = config, {}
    return model


def model_config(model: keras.Model) -> ModelConfig:
    """The config a model was built from (also for one loaded with plain Keras).

    Args:
        model: from `build_model` or `load_checkpoint`, or a ConvLSTM Studio
            model that `keras.saving.load_model` loaded.

    Returns:
        Its `ModelConfig`.

    Raises:
        InputError: not a model, or not one of ours.
    """
    if not isinstance(model, keras.Model):  # a checkpoint's path failed on a missing attribute
        raise InputError(f"model must be a loaded model, from core.load_checkpoint(path) or core.build_model(); "
                         f"received {type(model).__name__}")
    if hasattr(model, "studio_config"):
        return model.studio_config
    if isinstance(model, ConvLSTMForecaster):
        return model.config
    if model.name == "keras_io":  # its width, from its first cell: the preset's 64 described a 16-filter one
        first = next(layer for layer in model.layers if isinstance(layer, layers.ConvLSTM2D))
        return dataclasses.replace(PRESETS["keras-io"], filters=first.filters)
    raise InputError(f"{model.name} is not a ConvLSTM Studio model")


def _rebuild(model: keras.Model, config: ModelConfig) -> keras.Model:
    # The same weights and studio_info in a model built from another config
    # (precision, output floor); ValueError where the sizes differ.
    rebuilt = build_model(config)
    rebuilt.set_weights(model.get_weights())
    rebuilt.studio_info = getattr(model, "studio_info", {})
    return rebuilt


def with_output_floor(model: keras.Model, floor: float) -> keras.Model:
    """The same model, with forecast pixels below `floor` set to 0 (see `ModelConfig`).

    Args:
        model: from `build_model` or `load_checkpoint`.
        floor: from 0 (the raw output) to below 1.

    Returns:
        A new model with the same weights and `studio_info`, for forecasting
        and saving (it has no optimizer).

    Raises:
        InputError: the floor is not a number from 0 to below 1.
    """
    return _rebuild(model, dataclasses.replace(model_config(model), output_floor=floor))


def with_refiner(model: keras.Model, filters: int) -> keras.Model:
    """The same forecaster with a new, untrained refiner (see `ModelConfig`).

    An untrained refiner changes nothing; `core.refiner.train_refiner` trains it.

    Args:
        model: a convlstm model from `build_model` or `load_checkpoint`.
        filters: the refiner's width; 0 for none.

    Returns:
        A new model with the forecaster's weights and `studio_info`.

    Raises:
        InputError: a keras-io model, or a width outside 0-512.
    """
    if not isinstance(model, ConvLSTMForecaster):
        raise InputError("only a convlstm model can have a refiner")
    refined = build_model(dataclasses.replace(model_config(model), refiner_filters=filters))
    for source, target in zip([*model.cells, model.head], [*refined.cells, refined.head]):
        target.set_weights(source.get_weights())
    refined.sequences_seen.assign(model.sequences_seen)
    refined.teacher_forcing.assign(model.teacher_forcing)
    refined.studio_info = getattr(model, "studio_info", {})
    return refined


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """The same model, running in another precision (weights are float32 in both).

    Args:
        model: from `build_model` or `load_checkpoint`.
        precision: a Keras dtype policy, e.g. "float32" or "mixed_bfloat16".

    Returns:
        A new model with the same weights and `studio_info` (no optimizer).

    Raises:
        InputError: a keras-io model (the example fixes its precision), or an
            unknown precision.
    """
    return _rebuild(model, dataclasses.replace(model_config(model), precision=precision))
