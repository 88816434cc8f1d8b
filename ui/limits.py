"""The limits that keep one shared server alive, in one place.

On Streamlit Community Cloud every visitor shares one process with about
2.7 GB of memory and a core or two (elsewhere the server may use half the
computer's memory); these bound what a single visitor can ask for. Widgets
show them in their help text. The upload limit itself is Streamlit's
`server.maxUploadSize` in .streamlit/config.toml, read from there.
"""

import contextlib
import ctypes
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

CLOUD_MEMORY_MB = 2700
MEMORY_VARIABLE = "CONVLSTM_STUDIO_MEMORY_MB"


class Busy(RuntimeError):
    """The server already runs as many jobs of this kind as it allows; try again later."""


class ShortOfMemory(RuntimeError):
    """Another training run would take the server past its memory."""


def resident_mb() -> float:
    """This server process's resident memory in MB (0 where Linux's /proc is not there),
    once the C library has given back what it holds free."""
    with contextlib.suppress(OSError, AttributeError):  # glibc's; elsewhere nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


def on_community_cloud(source: Path = Path(__file__)) -> bool:
    """Whether the app whose `source` this is runs on Streamlit Community Cloud,
    which clones an app's repository into /mount/src/ (its tracebacks show the path)."""
    return source.resolve().is_relative_to("/mount/src")


def machine_mb(root: Path = Path("/")) -> int:
    """The memory this process's machine has, or its cgroup (a container's, a
    service's) allows it where that is less, in MB; 0 where neither can be read.
    `root` holds proc/ and sys/ (a test gives a folder of its own)."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # Windows has no sysconf
        physical = 0
    limits = [physical] if physical > 0 else []
    limits += _cgroup_limits(root)
    return min(limits) // 2**20 if limits else 0


def _cgroup_limits(root: Path) -> list[int]:
    """The memory limits, in bytes, of this process's cgroup and those above it, v2's and v1's:
    a limit set on the process's own (a service's MemoryMax) is not on the mount's root."""
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:  # "0::/path" (v2), "4:memory:/path" (v1)
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            mount, name = root / "sys/fs/cgroup", "memory.max"
        elif "memory" in parts[1].split(","):
            mount, name = root / "sys/fs/cgroup/memory", "memory.limit_in_bytes"
        else:
            continue
        own = mount / parts[2].lstrip("/")
        for folder in (own, *own.parents):
            if not folder.is_relative_to(mount):
                break
            with contextlib.suppress(OSError, ValueError):  # none there, or "max" (v2): no limit
                found.append(int((folder / name).read_text().strip()))
    return found


def memory_allowed_mb() -> int:
    """The most memory the server lets itself reach: Community Cloud's on Community
    Cloud; elsewhere half the machine's, or Community Cloud's if that is more; or
    what the environment variable `MEMORY_VARIABLE` says."""
    # A teacher running the app on a laptop with 16 GB was held to Community Cloud's 2.7 GB, which let
    # a class train only one of the Train page's kinds of run (the memory each leaves does not come back).
    default = CLOUD_MEMORY_MB if on_community_cloud() else max(CLOUD_MEMORY_MB, machine_mb() // 2)
    value = os.environ.get(MEMORY_VARIABLE, "").strip()
    if not value:
        return default
    if value.isdigit() and int(value) >= 1000:
        return int(value)
    # Read once, as the server starts: its log is where whoever started it looks.
    logging.getLogger(__name__).warning("%s=%r is not a whole number of MB from 1000 up; keeping %d MB",
                                        MEMORY_VARIABLE, value, default)
    return default


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what one visitor can ask of the server."""

    train_minutes: float = 10.0
    train_epochs: int = 40
    # Validated and saved after each: 15-24 s of the ConvLSTM at the 10.8-17.4
    # sequences/s measured on 2 cores (pages/train.py, docs/training.md).
    epoch_sequences: int = 256
    batch_sizes: tuple = (4, 8, 16, 32)
    # The keras.io model works on full frames: a server training it peaked at
    # 1.7 GB at batch 1, 2.4 GB at 2 and 3.7 GB at 4 (docs/benchmarks.md).
    keras_io_batch_sizes: tuple = (1,)
    # An epoch (epoch_sequences) takes about 4 minutes of the keras.io model at
    # the 1.1 sequences/s measured in docs/benchmarks.md.
    keras_io_train_epochs: int = 2
    evaluate_sequences: int = 1000
    keras_io_evaluate_sequences: int = 20  # about 9 s a sequence on 2 cores: 3 minutes
    horizon: int = 60
    # The keras.io model forecasts by re-running the growing sequence: 20 frames
    # cost 2.7x its 10 (about 13 s here), 60 frames 16x, while every other
    # visitor's forecasts wait in the same queue.
    keras_io_horizon: int = 20
    checkpoints_per_session: int = 3
    # Runs in line behind the one training (one per visitor): a run is at most
    # train_minutes, or train_epochs of 15-24 s each, so the last waits an hour at worst.
    waiting_runs: int = 4
    # A browser closed mid-run kept the one training slot, or its place in line, for
    # up to 10 minutes a run with no one watching. Its pages say it is here every
    # second or so (every minute on another page, or in a tab the browser throttles):
    # away this long, its run gives way to those waiting (ui/jobs.py).
    away_seconds: float = 300.0
    # Community Cloud stops an app past about 2.7 GB, every visitor's work with it,
    # so a run that would pass it at its peak is refused. TensorFlow keeps each
    # new model's traced training step for good (benchmarks/training_memory.py),
    # so the server recycles one model per kind of run (ui/jobs.py). Measured
    # through the app on a server that had opened every page (docs/benchmarks.md):
    # its first run took it from 974-983 MB up by 1,091-1,094 at the peak (the default
    # run) or 1,264 (from the shipped model); a new kind of run after another,
    # by 215 (no layer norm) or 687 (from the shipped model); a run of a kind
    # trained before, by 39-76. The keras.io model adds about 900 MB the first time
    # and 42-57 MB a repeat (`benchmarks/training_memory.py --keras-io --recycle`).
    server_memory_mb: int = field(default_factory=memory_allowed_mb)
    first_train_peak_mb: int = 1200
    first_fine_tuning_peak_mb: int = 1400
    train_peak_mb: int = 800
    # A new kind from scratch without layer norm: its +215 (+229 in a review) came
    # under the 800 of the others, and the refusal left a class one kind of run.
    plain_train_peak_mb: int = 350
    repeat_train_peak_mb: int = 150
    keras_io_train_peak_mb: int = 1000
    # The Evaluate page's worker on 1,000 sequences: 260 MB above the server at its
    # peak, 147 of them for any count; on the keras.io model's 20, 6 MB
    # (benchmarks/evaluation_memory.py).
    evaluate_peak_mb: int = 300
    # Frames per uploaded sequence: the page draws each sequence as a GIF and a
    # strip; 900 frames would pass matplotlib's size limit, and a 100 MB upload
    # (25,000 frames) would take gigabytes as a GIF.
    sequence_frames: int = 200

    @property
    def upload_mb(self) -> int:
        return int(st.get_option("server.maxUploadSize"))


LIMITS = Limits()


# Work under way and what it may still take: a training run and an evaluation
# started apart each fitted, and together could pass the server's memory.
# {work: [the server's MB when it started, its peak above that, short]}
_PLEDGES: dict = {}
_PLEDGES_LOCK = threading.Lock()


def fits(peak_mb: float, now: float) -> bool:
    """Whether work that takes `peak_mb` above the server's `now` MB fits beside
    the work under way (`claim`), at all their peaks."""
    with _PLEDGES_LOCK:
        return _fits(peak_mb, now)


def _fits(peak_mb: float, now: float, besides=None) -> bool:
    # What the work under way may still take: its peaks, less what the server has grown since the
    # first of it started, counted once (per work, growth one had caused was taken off each).
    others = [pledge for work, pledge in _PLEDGES.items() if work != besides]
    pledged = max(0.0, min(start for start, *_ in others) + sum(peak for _, peak, _ in others) - now) if others else 0.0
    return now + pledged + peak_mb <= LIMITS.server_memory_mb


def claim(work, peak_mb: float, now: float, short: bool = False) -> bool:
    """Counts `peak_mb` above `now` MB as taken by `work` until `release(work)`,
    if it `fits` beside the other work (what `hold` counted for `work` is
    replaced); False, and nothing new counted, if not.

    `short` work (an evaluation: seconds, not minutes) counts its whole peak again
    from the moment other work ends: what that work left behind is not what this one took.
    """
    with _PLEDGES_LOCK:
        if not _fits(peak_mb, now, besides=work):
            return False
        _PLEDGES[work] = [now, peak_mb, short]
        return True


def hold(work, peak_mb: float, now: float) -> None:
    """Counts `peak_mb` for `work` waiting for the memory, fitting or not, until it
    `claim`s it or is `release`d: work asked for meanwhile waits for it, not it for them."""
    with _PLEDGES_LOCK:
        _PLEDGES.setdefault(work, [now, peak_mb, False])


def release(work, now: float) -> None:
    """Ends what `claim` counted for `work` (none is fine); the server is at `now` MB."""
    with _PLEDGES_LOCK:
        if _PLEDGES.pop(work, None) is not None:
            for pledge in _PLEDGES.values():
                if pledge[2]:
                    pledge[0] = max(pledge[0], now)


def work_going_on(besides=None) -> bool:
    """Whether any work but `besides` has memory counted (`claim`, `hold`)."""
    with _PLEDGES_LOCK:
        return any(work != besides for work in _PLEDGES)
