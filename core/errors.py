"""The one error type the project raises for anything a user did wrong, the
check of the one setting read before any of our code runs (Keras' backend), and
the check that a setting is a number.

Pages show it with `st.error`, the CLI prints it on one line and exits with
status 2; anything else that escapes is a bug.
"""

import contextlib
import importlib
import inspect
import json
import numbers
import operator
import os
import sys
import tempfile


class InputError(ValueError):
    """A bad file, array, checkpoint or setting, with a one-line message."""


def import_keras() -> None:
    """Imports Keras, raising InputError if it cannot load its backend.

    Keras picks the backend from `KERAS_BACKEND`, else `~/.keras/keras.json`,
    and stops with a traceback from deep inside its own package when that one
    is unknown or not installed; the traceback would hide what to change.

    Raises:
        InputError: naming Keras' reason and the backends core runs on; or
            naming a backend Keras loaded that core does not run on (numpy).
    """
    try:
        keras = importlib.import_module("keras")
    except (ImportError, ValueError) as error:
        raise InputError(f"Keras cannot load its backend ({error}); ConvLSTM Studio runs on "
                         "KERAS_BACKEND=tensorflow (the default) or jax") from None
    # Keras' own numpy backend (or torch, or openvino) loads, then fails deep in fit with a traceback.
    if keras.backend.backend() not in ("tensorflow", "jax"):
        raise InputError(f"Keras runs on its {keras.backend.backend()} backend here; ConvLSTM Studio runs on "
                         "KERAS_BACKEND=tensorflow (the default) or jax")


def as_number(name: str, value, whole: bool):
    """A setting's value as a Python int (`whole`) or float.

    NumPy's numbers and 0-d integer arrays are taken (a notebook's np.int64
    is a whole number, and a checkpoint's JSON record cannot hold one);
    strings, None and booleans are not (they failed later, deep inside NumPy
    or Keras).

    Raises:
        InputError: naming the setting and the value received.
    """
    wrong = InputError(f"{name} must be {'a whole number' if whole else 'a number'}; received {value!r}")
    if isinstance(value, bool):  # an int to Python; NumPy's booleans operator.index refuses
        raise wrong
    try:
        if whole or not isinstance(value, numbers.Real):
            # NumPy's integers and 0-d integer arrays, as they index.
            whole_value = operator.index(value)
            return whole_value if whole else float(whole_value)
        return float(value)
    except TypeError:
        raise wrong from None
    except OverflowError:  # float(10**400)
        raise InputError(f"{name} is too large to be a number") from None


def as_bool(name: str, value) -> bool:
    """A switch's value as Python's bool; NumPy's True (from a notebook's array
    of settings) is taken, as Python's, which a checkpoint's JSON can hold.

    Raises:
        InputError: for anything else ("no" was taken as True, a path as a switch).
    """
    import numpy as np  # here: core.cli imports this module, and NumPy would slow its --help

    if not isinstance(value, (bool, np.bool_)):
        # Both spellings: a notebook writes Python's, someone editing studio.json JSON's.
        raise InputError(f"{name} must be True or False (true or false in JSON); received {value!r}")
    return bool(value)


def check_range(name: str, value, least, most=None) -> None:
    """Raises InputError unless `least <= value <= most`.

    `most` None is no upper bound; a value of None (a setting left to be
    picked later) passes, and NaN is in no range.
    """
    if value is None or (value >= least and (most is None or value <= most)):
        return
    if most is None:
        bound = "not be negative" if least == 0 else f"be at least {_shown(least)}"
    else:
        bound = f"be from {_shown(least)} to {_shown(most)}"
    raise InputError(f"{name} must {bound}; received {_shown(value)}")


def _shown(number) -> str:
    # Ten digits of a float: at ":g"'s six, 10000.0001 read as inside "0 to 10,000".
    return f"{number:,}" if isinstance(number, numbers.Integral) else f"{number:,.10g}"


def check_callback(name: str, value, arguments: str) -> None:
    """Raises InputError unless `value` is None or a function that takes
    `arguments` ("done, total"): True, or a function of `done` alone, failed
    after the first batch's work, the second with Python's TypeError."""
    if value is None:
        return
    if not callable(value):
        raise InputError(f"{name} must be a function or None; received {type(value).__name__}")
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # some built-in functions do not say what they take
        return
    try:
        signature.bind(*arguments.split(", "))
    except TypeError:
        raise InputError(f"{name} is called as {name}({arguments}); received a function of {signature}") from None


def _configured_backend() -> str:
    """The backend Keras will load, read as Keras reads it without loading it: `KERAS_BACKEND`
    (empty is unset), else keras.json in `KERAS_HOME` or ~/.keras, else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    # A JAX machine set up by keras.json, with no TensorFlow, failed to import every module that loads Keras.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        with open(os.path.join(home, "keras.json")) as file:
            return str(json.load(file).get("backend") or "tensorflow")
    return "tensorflow"


def quiet_tensorflow() -> None:
    """Imports TensorFlow and finds its devices with C++ start-up chatter hidden.

    TensorFlow's native libraries print lines of log (oneDNN notices, a failed
    CUDA probe on CPU machines) straight to file descriptor 2, before any Python
    setting can stop them; they would bury the one line a user needs. The text
    is shown if the import itself fails. Nothing happens once TensorFlow is
    loaded, or with another Keras backend (JAX on a GPU machine without TensorFlow).
    """
    if "tensorflow" in sys.modules or _configured_backend() != "tensorflow":
        return
    # Errors still show after the import (a GPU out of memory); "3" hid them for the whole session.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except Exception:  # not Ctrl-C: the log would bury the line that says it stopped
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
