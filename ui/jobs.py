"""One training run at a time per server, in a worker thread that outlives clicks.

A Streamlit script is interrupted by any click or page change, so training
never runs in the script thread: `start` launches `core.training.train` in a
daemon thread that makes no `st.*` calls, and pages read its
`TrainingProgress` from a fragment. The registry is shared by all sessions
(a module-level object), so a second visitor is told that someone is training and when
the run will end instead of starting a second one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ui.limits import LIMITS, Busy, ShortOfMemory, resident_mb
from ui.shared import session_id


@dataclass
class Job:
    """A training run and who started it."""

    owner: str
    label: str
    out: Path
    progress: object  # core.training.TrainingProgress
    budget_seconds: float | None
    fine_tuning: bool = False  # started from another model's weights
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None
    settings: dict = field(default_factory=dict)  # the Train page's widget values it started from

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def seconds_left(self) -> float | None:
        state = self.progress.snapshot()
        if not state["loss"]:  # compiling its first batch: the budget's clock has not started
            return None
        eta = state["eta_seconds"]
        if eta is not None:
            return eta
        if self.budget_seconds is not None:
            return max(0.0, self.started + self.budget_seconds - time.time())
        return None


class Registry:
    """The server's training runs: at most one running; finished ones wait to be collected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: list[Job] = []
        self.started = 0  # runs started by this server: its first costs the most memory

    def running(self) -> Job | None:
        with self.lock:
            return next((job for job in self.jobs if job.running), None)

    def start(self, owner: str, folder: Path, config) -> Job:
        """Starts `config` in a worker thread as `owner`'s next run, saved in
        `folder`; raises Busy if a run is going on, ShortOfMemory if it would
        take the server past its memory."""
        from core.training import TrainingProgress, train

        if not self.has_memory_for(config):
            raise ShortOfMemory("short of memory")
        with self.lock:
            if any(job.running for job in self.jobs):
                raise Busy("busy")
            # Numbered here, not in session state: the owner's other tabs and
            # reloads are sessions of their own, whose "run 1" would overwrite this one's.
            # A cancelled run saved nothing: the next one takes its number, and its place, where a
            # leftover entry would have offered the new run's file as soon as its first epoch was saved.
            self.jobs = [job for job in self.jobs
                         if job.owner != owner or job.progress.snapshot()["status"] != "cancelled"]
            number = 1 + sum(job.owner == owner for job in self.jobs)
            label, out = f"Trained here: run {number}", folder / f"run-{number}.keras"
            # Recycled: a new model trained in a fresh one would leave TensorFlow's copy of its
            # training step in the server for good (about 175 MB a run, benchmarks/training_memory.py).
            config = dataclasses.replace(config, out=str(out), recycle=True)
            progress = TrainingProgress()
            job = Job(owner, label, out, progress, None if config.minutes is None else config.minutes * 60,
                      fine_tuning=config.init_from is not None)
            job.thread = threading.Thread(target=self._work, args=(train, config, progress), daemon=True)
            self.jobs.append(job)
            self.started += 1
            job.thread.start()
            return job

    def has_memory_for(self, config) -> bool:
        """Whether the server has the memory for a training run of `config` (a
        `core.TrainConfig`) at its peak."""
        from core.training import has_recycled_model

        if has_recycled_model(config):  # its training step is traced already, the keras.io model's too
            peak = LIMITS.repeat_train_peak_mb
        elif config.preset == "keras-io":
            peak = LIMITS.keras_io_train_peak_mb
        elif self.started:
            peak = LIMITS.train_peak_mb
        else:
            peak = LIMITS.first_fine_tuning_peak_mb if config.init_from else LIMITS.first_train_peak_mb
        return resident_mb() + peak <= LIMITS.server_memory_mb

    @staticmethod
    def _work(train, config, progress) -> None:
        try:
            train(config, progress)
        except Exception:  # train() records it in progress["error"] for the page; the log gets the traceback
            logging.getLogger(__name__).exception("training failed")

    def forget(self, folder: Path) -> bool:
        """Asks the run writing into `folder` to stop (it does within a batch)
        and drops the finished ones; True once none is left running there.

        It does not wait: callers may hold up a page, or Streamlit's event loop.
        """
        with self.lock:
            mine = [job for job in self.jobs if job.out.parent == folder]
            for job in mine:
                job.progress.request_stop()
            self.jobs = [job for job in self.jobs if job not in mine or job.running]
            return not any(job.running for job in mine)

    def latest(self, owner: str) -> Job | None:
        with self.lock:
            return next((job for job in reversed(self.jobs) if job.owner == owner), None)

    def finished(self, owner: str) -> list[Job]:
        with self.lock:
            return [job for job in self.jobs if job.owner == owner and not job.running]


# Server state, not a cache: in st.cache_resource, the app menu's "Clear
# cache" dropped it while a run went on, and a second run then started beside
# the orphaned one, whose model no picker ever offered.
_REGISTRY = Registry()


def registry() -> Registry:
    return _REGISTRY


def collect_finished(folder: Path) -> None:
    """Adds this session's finished runs to its checkpoint list (pages call it
    with the session's folder), keeping only the newest few: older files are
    deleted."""
    own = folder.resolve()
    # Only files of the session's own folder: a crafted state ("../", another
    # session's folder) never reaches someone else's checkpoint. And after an idle
    # hour the folder is swept and runs are numbered from 1 again in a new one:
    # the old folder's entries would hide the new runs of the same label.
    trained = st.session_state["trained"] = {
        label: path for label, path in st.session_state.get("trained", {}).items() if Path(path).resolve().parent == own}
    for job in registry().finished(session_id()):
        if job.out.is_file() and job.label not in trained:  # a run keep_newest dropped has no file
            trained[job.label] = str(job.out)
    keep_newest(trained, LIMITS.checkpoints_per_session)


def keep_newest(trained: dict, limit: int) -> None:
    """Deletes the oldest checkpoints of `trained` ({label: path}, oldest first)
    beyond `limit`, files and entries."""
    while len(trained) > limit:
        Path(trained.pop(next(iter(trained)))).unlink(missing_ok=True)

