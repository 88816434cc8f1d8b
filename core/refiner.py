"""The refiner's training: a trained forecaster's own forecasts, turned into the truth.

`train_refiner` freezes a trained convlstm forecaster, forecasts training
sequences with it once, and trains its refiner (`core.model.with_refiner`, a
small network applied to each forecast frame) to map those forecasts to the
true frames, with squared error and, given a weight, an SSIM term. Memory caps the sequences
held at once, so a refiner sees more in rounds (`RefinerConfig.resume`).

Usage from a notebook:

    model = core.load_checkpoint("runs/mine.keras")
    config = core.RefinerConfig(filters=128, sequences=500, epochs=2, ssim_weight=20)  # the shipped refiner's kind
    refined = core.train_refiner(model, config)
    core.save_checkpoint(refined, "runs/mine-refined.keras")
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras
import numpy as np

from core import data
from core.errors import InputError, as_bool, as_number, check_callback, check_range
from core.device import describe_device
from core.forecasting import forecast
from core.metrics import mse_per_frame
from core.model import MAX_FILTERS, REFINER_AHEAD_SCALE, model_config, with_output_floor, with_refiner
from core.progress import stage_bars
from core.training import MAX_BATCH_SIZE, UNSCALED

# The refiner's batches are built as they are drawn, from raw forecasts and
# truth that take 0.22 MB a sequence (ready-made inputs took 1 MB: 4,000 + 1,000
# sequences peaked at 13.9 GB; 12,000 + 1,000 now peak at 6.3 GB).
MAX_REFINER_SEQUENCES = 20_000
MAX_REFINER_VAL_SEQUENCES = 5_000  # scored whole after every epoch
VAL_BATCH_FRAMES = 256


@dataclass(frozen=True)
class RefinerConfig:
    """Training a refiner on a frozen forecaster's forecasts.

    Attributes:
        filters: the refiner's width, 1-512 (its `ModelConfig.refiner_filters`);
            None: the model's refiner's with `resume`, else 64.
        sequences: training sequences (training digits), forecast once and
            reused every epoch, 1 to MAX_REFINER_SEQUENCES.
        epochs: passes over them; the step size follows one cosine to 0 over all.
        batch_size: frames per step, drawn from all the sequences.
        learning_rate: Adam's first step size.
        val_count: validation sequences (held-out digits) scored after each
            epoch, 1 to MAX_REFINER_VAL_SEQUENCES.
        seed: draws the training sequences and fixes the refiner's first
            weights and the order of the frames (it also calls
            `keras.utils.set_random_seed`, which seeds Python's, NumPy's and
            the backend's global generators); None takes the split's standard
            sequences, fresh weights and a fresh order. Not 1 or 2, which
            draw the validation and test sets' motions; a resumed round needs
            one that no earlier round used (None counts as 0).
        ssim_weight: weight of each frame's (1 - SSIM) in the loss, next to
            its squared error summed over the pixels (the MSE metric's unit).
            Squared error alone leaves a faint haze where a digit might be,
            which SSIM punishes hard on a black background; 0 trains on
            squared error alone. None: the earlier round's with `resume`, else 0.
        resume: train the model's own refiner further (on this round's
            sequences) instead of a new one; it must have a refiner (of
            `filters`, where given). Memory caps the sequences held at once
            (MAX_REFINER_SEQUENCES), so more are seen in rounds, one file
            to the next.
    """

    filters: int | None = None
    sequences: int = 4000
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_count: int = 1000
    seed: int | None = None
    ssim_weight: float | None = None
    resume: bool = False

    def __post_init__(self):
        # A notebook's NumPy numbers are stored as Python's: the refiner's JSON record cannot hold them.
        for name in ("filters", "sequences", "epochs", "batch_size", "val_count", "seed", "learning_rate", "ssim_weight"):
            if getattr(self, name) is not None or name not in ("seed", "filters", "ssim_weight"):
                whole = name not in ("learning_rate", "ssim_weight")
                object.__setattr__(self, name, as_number(name, getattr(self, name), whole))
        for name, least, most in (("filters", 1, MAX_FILTERS), ("sequences", 1, MAX_REFINER_SEQUENCES),
                                  ("epochs", 1, 1000), ("batch_size", 1, MAX_BATCH_SIZE),
                                  ("val_count", 1, MAX_REFINER_VAL_SEQUENCES),
                                  ("seed", 0, 2**32 - 1),  # keras.utils.set_random_seed's range
                                  ("ssim_weight", 0, 10_000)):
            check_range(name, getattr(self, name), least, most)
        if not 0 < self.learning_rate < 1:
            raise InputError(f"learning_rate must be between 0 and 1; received {self.learning_rate}")
        object.__setattr__(self, "resume", as_bool("resume", self.resume))
        if self.seed in (data.SPLIT_SEEDS["val"], data.SPLIT_SEEDS["test"]):
            # Each sequence's stream is seeded by (seed, index) alone, whatever the split.
            raise InputError(f"seed {self.seed} draws the motions of the validation set (seed "
                             f"{data.SPLIT_SEEDS['val']}) or the test set ({data.SPLIT_SEEDS['test']}); pick another")


class _RefinerFit(keras.Model):
    # Fits only the refiner, on single frames drawn from all sequences (batches
    # of whole sequences, ten frames of the same digits each, learnt more slowly).
    def __init__(self, forecaster):
        super().__init__(name="refiner_fit")
        self.forecaster = forecaster

    def call(self, inputs):
        return self.forecaster.refine_frames(inputs)


class _RefinerFrames(keras.utils.PyDataset):
    # Batches of single forecast frames, (refiner inputs, true frame), in a
    # shuffled order when `rng` is given, else in order. `raw` has one frame
    # more than `truth`, the successor of its last, as a rollout forecasts it.
    def __init__(self, raw, last, truth, batch_size: int, rng: np.random.Generator | None = None):
        super().__init__()
        # A copy of the truth: a view would keep the whole sequences' context frames alive.
        self.raw, self.last, self.truth = raw, last, np.ascontiguousarray(truth)
        self.batch_size, self.rng = batch_size, rng
        self.order = np.arange(truth.shape[0] * truth.shape[1])
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.order) / self.batch_size)

    def __getitem__(self, index):
        sequence, t = np.divmod(self.order[index * self.batch_size : (index + 1) * self.batch_size], self.truth.shape[1])
        # The model's `refiner_inputs` for frame t alone, gathered in NumPy: running it on
        # the whole sequences did ten times the work and trained 3.9 batches/s against
        # 4.7 on 2 cores (docs/training.md). A test checks the two agree.
        last = self.last[sequence, ..., 0]
        before = np.where((t == 0)[:, None, None], last, self.raw[sequence, np.maximum(t - 1, 0)])
        after = self.raw[sequence, t + 1]
        ahead = np.minimum(t, REFINER_AHEAD_SCALE - 1).astype(np.float32) / np.float32(REFINER_AHEAD_SCALE)
        frame = self.raw[sequence, t]
        inputs = np.stack([frame, before, after, last, np.broadcast_to(ahead[:, None, None], frame.shape)], axis=-1)
        return inputs.astype(np.float32), data.to_unit_float(self.truth[sequence, t])[..., None]

    def on_epoch_end(self):
        if self.rng is not None:
            self.rng.shuffle(self.order)


def frame_ssim(x, y):
    """SSIM of each frame, as `core.metrics` scores it (scikit-image's defaults:
    7x7 uniform window, sample covariances, data range 1), in Keras ops so a
    loss can use it.

    Args:
        x, y: (N, 64, 64, 1) in [0, 1].

    Returns:
        (N,) SSIM per frame.
    """
    c1, c2, window = 0.01**2, 0.03**2, 7

    def pool(t):
        return keras.ops.average_pool(t, window, 1, "valid")

    mean_x, mean_y = pool(x), pool(y)
    unbiased = window**2 / (window**2 - 1)
    var_x = unbiased * (pool(x * x) - mean_x**2)
    var_y = unbiased * (pool(y * y) - mean_y**2)
    cov = unbiased * (pool(x * y) - mean_x * mean_y)
    ssim = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return keras.ops.mean(ssim, axis=(1, 2, 3))


def _refiner_loss(ssim_weight: float):
    # Divided by the frame's pixels so that weight 0 is Keras' "mse", which
    # the first refiners were trained with.
    pixels = data.FRAME_SIZE**2

    def loss(true, predicted):
        predicted = keras.ops.cast(predicted, "float32")
        squared = keras.ops.sum(keras.ops.square(true - predicted), axis=(1, 2, 3))
        if ssim_weight:
            squared = squared + ssim_weight * (1 - frame_ssim(predicted, true))
        return squared / pixels

    return loss


def _check_fresh_seed(seed: int | None, earlier: dict | None) -> None:
    # A resumed round on the sequences of an earlier one would learn nothing new.
    used = set()
    while earlier:
        used.add(data.SPLIT_SEEDS["train"] if earlier.get("seed") is None else earlier["seed"])
        earlier = earlier.get("continues")
    drawn = data.SPLIT_SEEDS["train"] if seed is None else seed
    if drawn in used:
        raise InputError(f"seed {drawn}{' (the default)' * (seed is None)} draws the sequences an earlier "
                         "round of this refiner trained on "
                         f"(seeds used: {', '.join(map(str, sorted(used)))}); pick another")


@contextlib.contextmanager
def _only_refiner_trainable(model: keras.Model):
    # The forecaster stays as it was trained; afterwards the refiner is frozen
    # again, as ConvLSTMForecaster.__init__ leaves it.
    frozen = [*model.cells, model.head]
    for layer in frozen:
        layer.trainable = False
    for layer in model.refiner:
        layer.trainable = True
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = True
        for layer in model.refiner:
            layer.trainable = False


def train_refiner(model: keras.Model, config: RefinerConfig = RefinerConfig(),
                  log: Callable[[str, int, int, float | None], None] | None = None, bar: bool = False) -> keras.Model:
    """Trains a refiner for a trained convlstm forecaster, which stays frozen.

    The forecaster forecasts `config.sequences` training sequences once; the
    refiner then learns to turn each of those forecasts into the truth, with a
    squared-error loss and, given `config.ssim_weight`, an SSIM term. A model
    that has a refiner already gets a new one, unless `config.resume`.

    Args:
        model: a trained convlstm model (from `load_checkpoint` or `train`).
        config: the refiner's width and its training.
        log: called as log(stage, done, total, val_mse) while drawing and
            forecasting sequences ("drawing train sequences", "forecasting
            train sequences", then the same of "val", with val_mse None), after each training batch ("training, epoch e/E", batches
            done of the epoch's, val_mse None) and after each epoch ("epoch");
            each stage but "epoch" is first called with 0 done as it begins;
            the first "epoch" call, (0, epochs), scores the model as it came
            (unrefined unless resumed).
        bar: draws a text bar per stage on stderr and a line per epoch, for
            a notebook or a script (the default round takes tens of minutes
            on 2 cores, which passed in silence).

    Returns:
        A new model: the forecaster's weights and output floor with the
        trained refiner; its `studio_info` gains a "refiner" record, which
        keeps a resumed refiner's earlier record as "continues".

    Raises:
        InputError: a keras-io model, a config that is no RefinerConfig, or
            `resume` without a refiner of `config.filters` or with the seed
            of an earlier round.
    """
    if not isinstance(config, RefinerConfig):  # a dict failed as "'dict' object has no attribute 'resume'"
        raise InputError(f"config must be a core.RefinerConfig; received {type(config).__name__}")
    check_callback("log", log, "stage, done, total, val_mse")
    if not as_bool("bar", bar):
        return _train_refiner(model, config, log or (lambda *_: None))
    shown, close = stage_bars()

    def both(*called) -> None:
        shown(*called)
        if log:
            log(*called)

    try:
        return _train_refiner(model, config, both)
    finally:  # a bar left open by an error would print after its message
        close()


def _train_refiner(model: keras.Model, config: RefinerConfig, log: Callable) -> keras.Model:
    started = time.perf_counter()
    if model_config(model).precision == "mixed_float16":  # trained as it is, its float16 gradients went unscaled
        raise InputError(UNSCALED)
    had = model_config(model).refiner_filters
    if config.resume and (not had or config.filters not in (None, had)):
        raise InputError(f"resume needs a refiner{f' of {config.filters} filters' * (config.filters is not None)}; "
                         "the model has " + (f"one of {had}" if had else "none"))
    earlier = getattr(model, "studio_info", {}).get("refiner") if config.resume else None
    # A resumed round goes on with its refiner's width and loss, unless told otherwise.
    config = replace(config, filters=config.filters or (had if config.resume else 64),
                     ssim_weight=(config.ssim_weight if config.ssim_weight is not None
                                  else (earlier or {}).get("ssim_weight", 0.0)))
    _check_fresh_seed(config.seed, earlier)
    if config.seed is not None:  # before the refiner's first weights are drawn
        keras.utils.set_random_seed(config.seed)
    refined = with_refiner(model, config.filters)
    if config.resume:
        for source, target in zip(model.refiner, refined.refiner):
            target.set_weights(source.get_weights())
    # The refiner acts on the raw rollout, before any earlier refiner and the output floor.
    raw_model = with_output_floor(with_refiner(model, 0), 0.0)
    rng = np.random.default_rng(config.seed)
    sets = {}
    for split, count in (("train", config.sequences), ("val", config.val_count)):
        # A bar here too: 20,000 sequences take some 13 s to draw, which passed in silence.
        drawing = f"drawing {split} sequences"
        log(drawing, 0, count, None)
        context, truth = data.split_context(data.moving_mnist(split, count, seed=config.seed if split == "train" else None,
                                                              progress=lambda done, total: log(drawing, done, total, None)))
        stage = f"forecasting {split} sequences"
        log(stage, 0, count, None)  # its start: a bar begun at the first batch's end showed 704,925 seq/s
        # One frame more, as a rollout gives the refiner: the last frame's successor.
        raw = forecast(raw_model, context, truth.shape[1] + 1, progress=lambda done, total: log(stage, done, total, None))
        last = data.to_unit_float(context[:, -1])[..., None]
        # Validation needs no shuffling, and larger batches score it in fewer steps.
        sets[split] = (_RefinerFrames(raw, last, truth, config.batch_size, rng) if split == "train"
                       else _RefinerFrames(raw, last, truth, VAL_BATCH_FRAMES))
    val, total = sets["val"], config.epochs

    def val_mse(frames: np.ndarray) -> float:
        # Unchecked: a round that diverges scores NaN, recorded as such, not refused as a bad input.
        return float(mse_per_frame(frames.reshape(val.truth.shape), data.to_unit_float(val.truth)).mean())

    fit = _RefinerFit(refined)
    before = val_mse(fit.predict(val, verbose=0)[..., 0] if config.resume else val.raw[:, :-1])
    log("epoch", 0, total, before)
    with _only_refiner_trainable(refined):
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, total * len(sets["train"]))
        fit.compile(keras.optimizers.Adam(schedule), _refiner_loss(config.ssim_weight))
        scores, steps = [], len(sets["train"])

        def begun(epoch, logs=None):  # as the forecasting stages: a bar begun after the first batch left it out
            log(f"training, epoch {epoch + 1}/{total}", 0, steps, None)

        def trained(batch, logs=None):
            log(f"training, epoch {len(scores) + 1}/{total}", batch + 1, steps, None)

        def score(epoch, logs=None):
            scores.append(val_mse(fit.predict(val, verbose=0)[..., 0]))
            log("epoch", epoch + 1, total, scores[-1])

        fit.fit(sets["train"], epochs=total, verbose=0,
                callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=begun, on_train_batch_end=trained,
                                                             on_epoch_end=score)])
    refined.studio_info = {**refined.studio_info, "refiner": {
        **asdict(config), "val_mse_before": before, "val_mse_per_epoch": scores,
        "train_seconds": round(time.perf_counter() - started, 1), "device": describe_device(),
        **({"continues": earlier} if earlier else {}),
    }}
    return refined
