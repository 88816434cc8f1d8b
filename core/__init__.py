"""ConvLSTM Studio's core: Moving MNIST, a ConvLSTM forecaster, training, metrics, media.

Usable from a notebook (`import core`), the command line (`python -m core`)
and the Streamlit pages. Modules, one concern each:

    data         the offline generator, the official file, users' arrays, preprocessing
    model        the ConvLSTM forecaster, its config and presets
    checkpoints  saving and loading a model with its config and record
    device       the processor or GPUs, and the precision that runs fastest there
    training     Model.fit with live progress and resumable checkpoints
    progress     the state a running training shares with its watchers, and text bars
    refiner      training a trained forecaster's refiner on its own forecasts
    forecasting  closed-loop forecasts
    metrics      MSE, MAE, SSIM, PSNR and the baselines
    media        GIFs and frame strips
    evaluation   a model against the baselines on many sequences
    model_card   the JSON card beside a checkpoint: what it is, saw and scores
    inspection   what each cell's gates and states hold while it forecasts
    files        writing outputs whole or not at all
    errors       the one-line errors every bad input gets
    cli          `python -m core`

A first forecast, shown in a notebook:

    import core
    from IPython.display import Image

    frames = core.moving_mnist("test", 8)          # uint8 (8, 20, 64, 64)
    model = core.load_checkpoint("checkpoints/convlstm.keras", compile=False, precision="auto")
    predicted = core.forecast(model, frames[:, :10], horizon=10)
    Image(data=core.comparison_gif(frames[0, :10], frames[0, 10:], predicted[0]))

Names load lazily, so `import core.data` does not pay for TensorFlow.
"""

import importlib

_EXPORTS = {
    "InputError": "core.errors",
    "moving_mnist": "core.data",
    "load_npy": "core.data",
    "load_official": "core.data",
    "split_context": "core.data",
    "to_unit_float": "core.data",
    "ModelConfig": "core.model",
    "build_model": "core.model",
    "load_checkpoint": "core.checkpoints",
    "save_checkpoint": "core.checkpoints",
    "forecast": "core.forecasting",
    "TrainConfig": "core.training",
    "TrainingProgress": "core.progress",
    "train": "core.training",
    "RefinerConfig": "core.refiner",
    "train_refiner": "core.refiner",
    "score": "core.metrics",
    "Scores": "core.metrics",
    "evaluate": "core.evaluation",
    "sequence_gif": "core.media",
    "comparison_gif": "core.media",
}

_MODULES = ("data", "model", "checkpoints", "device", "training", "refiner", "forecasting", "metrics", "media", "evaluation",
            "model_card", "inspection", "progress", "files", "errors", "cli")

__all__ = sorted(_EXPORTS)


# The modules that load no TensorFlow.
_LIGHT = ("core.errors", "core.files", "core.cli", "core.data", "core.metrics", "core.media",
          "core.progress", "core.model_card")


def __getattr__(name):
    # `core.data` after a bare `import core`, as the docstring above lists them
    module = _EXPORTS.get(name, f"core.{name}" if name in _MODULES else None)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    if module not in _LIGHT:
        # A notebook's first model cell printed 9 lines of TensorFlow's C++ log, a failed CUDA probe among them.
        from core.errors import quiet_tensorflow

        quiet_tensorflow()
    loaded = importlib.import_module(module)
    return getattr(loaded, name) if name in _EXPORTS else loaded


def __dir__():  # tab completion and help(core) in a notebook see the lazy names
    return sorted({*globals(), *_EXPORTS, *_MODULES})
