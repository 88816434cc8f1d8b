"""Checkpoints: one `.keras` file per model, with its `ModelConfig` and its
record (training history, a refiner's rounds) inside, written atomically and
loaded safely. A checkpoint carries its config, so loading needs nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path

from core.errors import quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras

from core.device import fast_precision
from core.errors import InputError, as_bool
from core.files import write_atomically
from core.model import (
    KERAS_IO_FIXED,
    MODEL_LOCK,
    ConvLSTMForecaster,
    ModelConfig,
    check_precision,
    model_config,
    with_precision,
)

STUDIO_ENTRY = "studio.json"  # our config inside the .keras archive


def save_checkpoint(model: keras.Model, path, info: dict | None = None) -> Path:
    """Writes a single `.keras` file atomically, with our config inside it.

    Keras writes to a temporary file beside the target, `studio.json` (the
    `ModelConfig` and `info`, e.g. training history) is added to the archive,
    and it is renamed into place (`core.files.write_atomically`): a reader, or
    a crash, sees the old file or the complete new one.

    Args:
        model: built by `build_model` or `load_checkpoint`.
        path: destination ending in `.keras`.
        info: JSON-serialisable facts to keep with the weights; by default
            the model's own `studio_info` (its training record, a refiner's).

    Returns:
        The path written.

    Raises:
        InputError: the path does not end in `.keras` or cannot be written,
            `info` is not a dict of JSON's types, or the path holds a training
            state (saved with its optimizer) that a model without one would replace.
    """
    if not isinstance(path, (str, os.PathLike)):  # save_checkpoint(path, model) was a TypeError from pathlib
        raise InputError(f"path must be a file's path; received {type(path).__name__} (the model comes first)")
    path = Path(path).expanduser()  # "~/run.keras" made a folder named "~"
    if path.suffix != ".keras":  # Path("dir/.keras").suffix is "": it read "end in .keras; received .keras"
        raise InputError(f"checkpoints are files named NAME.keras; received {path.name}")
    config = model_config(model)  # outside the try below: a non-model was blamed on `info`
    # Hours of a resumable run went without a word under a notebook's save of a loaded model (the CLI refuses it).
    if getattr(model, "optimizer", None) is None and holds_optimizer(path):
        raise InputError(f"{path} holds a training state with its optimizer, to resume from; saving a model without "
                         "one would replace it: pick another path, or delete the file first")
    # Checked before the weights are written: a list saved a file that load_checkpoint
    # refused, a notebook's np.float32 was a TypeError from json.
    if not isinstance(info, (dict, type(None))):
        raise InputError(f"info must be a dict; received {type(info).__name__}")
    if info is None:  # dropped, the refiner's record went, which a resumed round checks its seed against
        info = getattr(model, "studio_info", {})
    try:
        record = json.dumps({"config": dataclasses.asdict(config), "info": info}, indent=1)
    except (TypeError, ValueError) as error:
        raise InputError(f"info must hold only JSON's types (str, int, float, bool, None, list, dict): {error}") from None

    def write(temporary: Path) -> None:
        model.save(temporary)
        # Not ZipFile(temporary, "a"), which makes a new archive when the file is gone (another
        # run on this path starting removes it): renamed into place, that held no weights.
        with open(temporary, "r+b") as handle, zipfile.ZipFile(handle, "a") as archive:
            archive.writestr(STUDIO_ENTRY, record)

    write_atomically({path: write})  # a full disk or a folder that vanished leaves the old file
    return path


def holds_optimizer(path) -> bool:
    """Whether `path` is a .keras file saved with its optimizer (a training state,
    to resume from), read without loading it; False for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(json.loads(archive.read("config.json")).get("compile_config"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, AttributeError):  # none there, or another file
        return False


def read_checkpoint_info(path) -> tuple[ModelConfig, dict]:
    """Reads a checkpoint's config and info without loading its weights.

    Args:
        path: the `.keras` file.

    Returns:
        (its `ModelConfig`, its info: training history and facts for the card).

    Raises:
        InputError: missing, not a Keras archive, or not one of ours.
    """
    if not isinstance(path, (str, os.PathLike)):  # None or a file's bytes: a TypeError from Path
        raise InputError(f"path must be a file's path; received {type(path).__name__}")
    path = Path(path).expanduser()
    if path.is_dir():  # "no checkpoint at" a folder that was there sent people looking for it
        raise InputError(f"{path} is a folder; give the checkpoint's .keras file in it")
    if not path.is_file():
        # /dev/null, a pipe: "no checkpoint at" a path that was there, as for a folder
        raise InputError(f"{path} is not a file; give a checkpoint's .keras file" if path.exists()
                         else f"no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            record = json.loads(archive.read(STUDIO_ENTRY)) if STUDIO_ENTRY in names else None
    except PermissionError:  # as a file copied from another user's account can be
        raise InputError(f"cannot read {path}: permission denied") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise InputError(f"{path.name} is not a Keras checkpoint (corrupted or another file type)") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise InputError(f"{path.name} is a Keras file but not a ConvLSTM Studio checkpoint")
    info = record.get("info", {})
    if not isinstance(info, dict):  # a hand edit; resuming it ended in a traceback
        raise InputError(f"{path.name} has a damaged {STUDIO_ENTRY}: its info is not a table")
    # refine reads its loss there, and a resumed round walks the earlier rounds' seeds ("continues"):
    # a hand-edited "x", 5 or [7] ended in a traceback.
    rounds = info.get("refiner")
    while rounds:
        seed = rounds.get("seed") if isinstance(rounds, dict) else None
        if not isinstance(rounds, dict) or isinstance(seed, bool) or not isinstance(seed, (int, type(None))):
            raise InputError(f"{path.name} has a damaged {STUDIO_ENTRY}: its refiner record is not a table of "
                             "rounds with whole-number seeds")
        rounds = rounds.get("continues")
    # A resumed run adds to these when it saves: a hand-edited "x" ended it in a traceback, its training lost.
    for name in ("sequences_seen", "train_seconds"):
        value = info.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int if name == "sequences_seen" else (int, float)) \
                or not 0 <= value < float("inf"):
            raise InputError(f"{path.name} has a damaged {STUDIO_ENTRY}: its {name} is {value!r}, not a count "
                             f"of {'sequences' if name == 'sequences_seen' else 'seconds'}")
    recorded = record["config"]
    if recorded.get("preset") == "keras-io":
        # The example's fixed sizes, whatever an older file recorded: the CLI of 25-26 November and
        # a "preset" among model_overrides wrote others for the same layers.
        recorded = {**recorded, **KERAS_IO_FIXED}
    try:
        config = ModelConfig(**recorded)
    except TypeError:
        raise InputError(f"{path.name} has a config this version does not know") from None
    except InputError as error:  # say which file: the message alone read like an option of the command
        raise InputError(f"{path.name} has a damaged {STUDIO_ENTRY}: {error}") from None
    return config, info


def load_checkpoint(path, compile: bool = True, precision: str | None = None) -> keras.Model:
    """Loads one of our `.keras` checkpoints safely (safe_mode: no Lambda layers).

    Args:
        path: the `.keras` file.
        compile: restore the optimizer too (to resume training).
        precision: run the model in this precision instead of the one it was
            trained in (weights are float32 either way); "auto" picks
            `fast_precision()`. Only without `compile`; the keras-io model
            runs in float32 whatever is asked.

    Returns:
        The model, with `studio_config` (a `ModelConfig`) and `studio_info`.

    Raises:
        InputError: missing, corrupted, unsafe, or not a ConvLSTM Studio model;
            a `compile` that is not True or False; a precision with `compile`.
    """
    compile = as_bool("compile", compile)  # "no" loaded the optimizer, as True
    if precision and compile:
        # Silently ignored, it once passed a bfloat16 score off as float32.
        raise InputError("a precision needs compile=False (training resumes in its own precision)")
    if precision not in (None, "auto"):
        check_precision(precision)
    config, info = read_checkpoint_info(path)
    path = Path(path).expanduser()
    try:
        with MODEL_LOCK:
            model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for damaged or unsafe files
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        # Keras gives a damaged weights file's cause on the line after "... for object <Layer>:".
        first = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
        raise InputError(f"cannot load {Path(path).name}: {first[:300]}") from None
    # Keras rebuilds the model from its own record; an edited studio.json that
    # differs was taken at its word (and copied on by export), or failed in a rebuild.
    # Of the keras.io model only the width can differ (the example fixes the rest).
    built = model_config(model)
    if built != config if isinstance(model, ConvLSTMForecaster) else built.filters != config.filters:
        raise InputError(f"cannot load {Path(path).name}: its studio.json describes another model "
                         "than the weights it holds")
    if precision == "auto":
        precision = fast_precision()
    if precision and config.preset == "convlstm" and precision != config.precision:
        model = with_precision(model, precision)
        config = dataclasses.replace(config, precision=precision)
    model.studio_config, model.studio_info = config, info
    return model
