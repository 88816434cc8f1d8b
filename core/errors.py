"""The one error type the project raises for anything a user did wrong, and
the check of the one setting read before any of our code runs (Keras' backend).

Pages show it with `st.error`, the CLI prints it on one line and exits with
status 2; anything else that escapes is a bug.
"""

import importlib


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
