"""The one error type the project raises for anything a user did wrong, the
check of the one setting read before any of our code runs (Keras' backend), and
the check that a setting is a number.

Pages show it with `st.error`, the CLI prints it on one line and exits with
status 2; anything else that escapes is a bug.
"""

import importlib
import numbers


class InputError(ValueError):
    """A bad file, array, checkpoint or setting, with a one-line message."""


def import_keras() -> None:
    """Imports Keras, raising InputError if it cannot load its backend.

    Keras picks the backend from `KERAS_BACKEND`, else `~/.keras/keras.json`,
    and stops with a traceback from deep inside its own package when that one
    is unknown or not installed; the traceback would hide what to change.

    Raises:
        InputError: naming Keras' reason and the backends core runs on.
    """
    try:
        importlib.import_module("keras")
    except (ImportError, ValueError) as error:
        raise InputError(f"Keras cannot load its backend ({error}); ConvLSTM Studio runs on "
                         "KERAS_BACKEND=tensorflow (the default) or jax") from None


def as_number(name: str, value, whole: bool):
    """A setting's value as a Python int (`whole`) or float.

    NumPy's numbers are taken (a notebook's np.int64 is a whole number, and
    a checkpoint's JSON record cannot hold one); strings, None and booleans
    are not (they failed later, deep inside NumPy or Keras).

    Raises:
        InputError: naming the setting and the value received.
    """
    if not isinstance(value, numbers.Integral if whole else numbers.Real) or isinstance(value, bool):
        raise InputError(f"{name} must be {'a whole number' if whole else 'a number'}; received {value!r}")
    return int(value) if whole else float(value)
