"""The one error type the project raises for anything a user did wrong, and
the check of the one setting read before any of our code runs (the backend).

Pages show it with `st.error`, the CLI prints it on one line and exits with
status 2; anything else that escapes is a bug.
"""

import importlib.util
import os

# The backends core is tested on: TensorFlow everywhere, JAX on GPU machines
# that have no TensorFlow.
BACKENDS = ("tensorflow", "jax")


class InputError(ValueError):
    """A bad file, array, checkpoint or setting, with a one-line message."""


def check_backend() -> None:
    """Raises InputError unless `KERAS_BACKEND` names a backend core runs on
    that is installed; call it before Keras is first imported.

    Keras reads the variable on import and stops with a traceback on an unknown
    or missing backend, which would hide what to change.
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKENDS:
        raise InputError(f"KERAS_BACKEND is {backend!r}; ConvLSTM Studio runs on {' or '.join(map(repr, BACKENDS))}")
    if importlib.util.find_spec(backend) is None:
        raise InputError(f"KERAS_BACKEND is {backend!r}, but {backend} is not installed here")
