"""`python -m core`: see core/cli.py."""

import contextlib
import os
import sys
import tempfile

# core.cli imports only the standard library and core.errors: Keras and TensorFlow load below, or not at all.
from core.cli import EXIT_INTERRUPTED, KERAS_COMMANDS, STOPPED, main


def _quiet_tensorflow() -> None:
    """Imports TensorFlow and finds its devices with C++ start-up chatter hidden.

    TensorFlow's native libraries print lines of log (oneDNN notices, a failed
    CUDA probe on CPU machines) straight to file descriptor 2, before any Python
    setting can stop them; they would bury the one line a user needs. The text
    is shown if the import itself fails.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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


# With KERAS_BACKEND=jax (a GPU machine without TensorFlow) there is nothing to quiet.
on_tensorflow = (os.environ.get("KERAS_BACKEND") or "tensorflow") == "tensorflow"  # Keras reads "" as unset
try:
    if on_tensorflow and len(sys.argv) > 1 and sys.argv[1] in KERAS_COMMANDS:
        _quiet_tensorflow()
    code = main()
except KeyboardInterrupt:  # while TensorFlow loaded (seconds), before main() listens for Ctrl-C
    print(STOPPED, file=sys.stderr)
    code = EXIT_INTERRUPTED
if code == EXIT_INTERRUPTED:
    # A Keras fit or predict cut short by Ctrl-C hung TensorFlow's teardown at
    # exit (refine sat in garbage collection until killed). Outputs are written
    # whole or not at all by then, so the process ends without the teardown.
    with contextlib.suppress(OSError, ValueError):  # a closed pipe (| head) must not bring the hang back
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
sys.exit(code)
