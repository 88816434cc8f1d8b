"""The one error type the project raises for anything a user did wrong.

Pages show it with `st.error`, the CLI prints it on one line and exits with
status 2; anything else that escapes is a bug.
"""


class InputError(ValueError):
    """A bad file, array, checkpoint or setting, with a one-line message."""
