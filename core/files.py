"""Writing a file so that a failed write leaves the disk as it was.

Outputs (checkpoints, arrays, GIFs) are written to a temporary file beside
their path and renamed into place. When the write fails (a full disk, a
folder that vanished), neither the temporary file nor the folders made for
the output may stay behind.
"""

import contextlib
from pathlib import Path


@contextlib.contextmanager
def written_beside(path: Path, temporary: Path):
    """Makes the missing folders of `path` for a write to `temporary`.

    On leaving, `temporary` is deleted if it is still there (the block renames
    it into place when it succeeds); if the block raised, so are the folders
    made here.

    Args:
        path: the output's final path.
        temporary: where the block writes first, in the same folder.
    """
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]  # deepest first
    succeeded = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield
        succeeded = True
    finally:
        # Not under a path that is a file, nor with a name too long to look up: those raise.
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        for folder in [] if succeeded else made:
            with contextlib.suppress(OSError):  # never made, or no longer empty
                folder.rmdir()
