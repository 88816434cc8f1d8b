"""Writing a file so that a failed write leaves the disk as it was, and checking
before slow work that it can be written at all.

Outputs (checkpoints, arrays, GIFs) are written to a temporary file beside
their path and renamed into place. When the write fails (a full disk, a
folder that vanished), neither the temporary file nor the folders made for
the output may stay behind.
"""

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from core.errors import InputError


def write_atomically(writes: dict[str | Path, Callable[[Path], None]]) -> None:
    """Writes each output beside itself, then renames them all into place.

    A reader, or a crash, sees the old file or the complete new one, never a
    partial file; a write that fails leaves every output as it was (a GIF
    that could not be written used to take an earlier forecast with it): the
    renames start once every write has succeeded. A
    symlink stays a link: the file it points to is the one replaced.

    Args:
        writes: {path: write}; write(temporary) writes the whole output to
            `temporary` (`partial_path(path)`, with the same suffix).

    Raises:
        InputError: a write failed (a full disk, a folder that vanished).
    """
    targets = {path: resolved(path) for path in writes}
    try:
        with contextlib.ExitStack() as stack:
            for path, write in writes.items():
                stack.enter_context(written_beside(targets[path], partial_path(path)))
                write(partial_path(path))
            for path, target in targets.items():
                os.replace(partial_path(path), target)
    except OSError as error:
        # NumPy's short write to a full disk (or quota) has no errno, only "8192000 requested and 1048448 written".
        short = re.fullmatch(r"\d+ requested and \d+ written", str(error))
        reason = error.strerror or (f"{os.strerror(errno.ENOSPC)} (or over quota)" if short else error)
        raise InputError(f"cannot write {path}: {reason}") from None


def partial_path(path) -> Path:
    """Where `write_atomically` writes `path` first (a crash may leave it):
    hidden beside it as .STEM.partial.SUFFIX, the suffix kept for Keras."""
    target = resolved(path)
    return target.with_name(f".{target.stem}.partial{target.suffix}")


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


def resolved(path) -> Path:
    """The file that a write to `path` changes: a symlink's target, as a shell's
    `>` writes it, so that renaming the finished file into place keeps the link
    (it used to replace the link with a plain file). A leading `~` is the home
    folder: a notebook's "~/run.keras" went into a new folder named "~"."""
    return Path(os.path.realpath(os.path.expanduser(path)))


def check_output(path: str, suffix: str, option: str) -> None:
    """Refuses an output path that cannot be written, before any slow work.

    Args:
        path: the output file.
        suffix: the ending it must have, such as ".keras".
        option: its name in the messages (a CLI flag or a config field).

    Raises:
        InputError: a wrong suffix, a folder, a folder this user cannot write
            to, or a name too long for the file system.
    """
    if not path.endswith(suffix):
        raise InputError(f"{option} must end in {suffix}; received {path}")
    target = resolved(path)
    if Path(path).name == suffix:
        raise InputError(f"{option} needs a file name before {suffix}; received {path}")
    if target.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name")
    folder = target.parent
    while not folder.exists():  # missing folders are made; the first existing one must take them
        folder = folder.parent
    if not folder.is_dir() or not _can_make_files_in(folder):
        raise InputError(f"cannot write {path}: {folder} is not a folder this user can write to")
    # The output is first written beside itself as ".STEM.partial.SUFFIX", which a name
    # near the limit pushes past it: that failed after the work, naming the hidden file.
    limit = os.pathconf(folder, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255  # Windows has no pathconf
    longest = limit - len("..partial")
    # In bytes as the file system sees them: a name from a Latin-1 terminal is not UTF-8.
    if (size := len(os.fsencode(target.name))) > longest:
        raise InputError(f"{option}'s file name is too long: {size} bytes, at most {longest} here")
    # And each folder to make: one too long failed only after the work, with the folders before it made.
    for part in target.parent.relative_to(folder).parts:
        if (size := len(os.fsencode(part))) > limit:
            raise InputError(f"a folder name in {option} is too long: {size} bytes, at most {limit} here")


def _can_make_files_in(folder: Path) -> bool:
    # os.access tells root yes for /proc and /sys, where no file can be made: the
    # refusal came after the work. Making (and dropping) a nameless file is the test.
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
