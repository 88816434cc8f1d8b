"""`python -m core`: see core/cli.py."""

import contextlib
import os
import signal
import sys

# core.cli imports only the standard library, core.errors, core.files and core.progress: Keras and
# TensorFlow load below, or not at all.
from core.cli import EXIT_INTERRUPTED, KERAS_COMMANDS, STOPPED, main, parser
from core.errors import quiet_tensorflow

# A file name that is not UTF-8 arrives as surrogates: printed to a strict stdout
# (PYTHONIOENCODING=utf-8) it raised a traceback after the file was written.
sys.stdout.reconfigure(errors="backslashreplace")


def _load_tensorflow() -> None:
    # A Ctrl-C is noted while TensorFlow loads, and acted on after: with JAX installed, TensorFlow
    # imports it, and one that landed in JAX's garbage-collection callback was printed as "Exception
    # ignored" (into the hidden log) and lost, so the command ran to its end and exited 0. A second
    # Ctrl-C stops the load itself.
    pressed = []

    def noted(*_):
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    previous = signal.signal(signal.SIGINT, noted)
    try:
        quiet_tensorflow()
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


try:
    if len(sys.argv) > 1 and sys.argv[1] in KERAS_COMMANDS:
        # --help and usage errors end here: they waited the 6 s of TensorFlow's loading.
        parser().parse_args()
        _load_tensorflow()
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
# Any other outcome is decided and its files written: a Ctrl-C in TensorFlow's teardown
# (about a second) turned a finished forecast's exit status into 130, "nothing written".
# Ignored, not handled: Python puts its default back for its own handlers as it shuts down.
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.exit(code)
