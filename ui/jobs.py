"""One training run at a time per server, in a worker thread that outlives clicks.

A Streamlit script is interrupted by any click or page change, so training
never runs in the script thread: `start` launches `core.training.train` in a
daemon thread that makes no `st.*` calls, and pages read its
`TrainingProgress` from a fragment. The registry is shared by all sessions
(a module-level object): two runs would share the same cores, so a visitor who
starts a run while another trains is put in line, and their run starts on its
own when the runs before it end.
"""

from __future__ import annotations

import collections
import dataclasses
import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ui.limits import LIMITS, Busy, ShortOfMemory, claim, fits, hold, release, resident_mb, work_going_on
from ui.sessions import session_id


@dataclass
class Job:
    """A training run and who started it."""

    owner: str
    label: str
    out: Path
    progress: object  # core.progress.TrainingProgress
    fine_tuning: bool = False  # started from another model's weights
    preset: str = "convlstm"  # core.model's preset: the keras.io model trains without scheduled sampling
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None
    settings: dict = field(default_factory=dict)  # the Train page's widget values it started from
    waiting: bool = False  # in line behind another run, not training yet
    held: bool = False  # at the head of the line, waiting for evaluations to give back their memory
    number: int = 0  # its owner's how-manieth run ("run 2")
    gave_way: bool = False  # stopped, or taken out of line, while its browser was away and others waited
    minutes: float | None = None  # its time budget, which the app always sets

    @property
    def running(self) -> bool:
        """Training, or waiting in line to: its settings are taken."""
        return self.thread is not None and self.thread.is_alive()


OWN_RUN = "this browser has a run going or in line already"


class Registry:
    """The server's training runs: one trains, a few wait in line behind it, and
    finished ones wait to be collected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.turn = threading.Condition(self.lock)  # notified whenever a run leaves the line
        self.jobs: list[Job] = []
        self.line: list[Job] = []  # unfinished runs, in the order they were started: the first trains
        # Runs started by this server, by preset: its first ConvLSTM costs the most memory, and
        # a run of another kind after one far less; a keras.io run before it changes neither.
        self.started: collections.Counter = collections.Counter()
        self.swept: dict[str, int] = {}  # {owner: their highest run number that `forget` dropped}
        self.seen: dict[str, float] = {}  # {owner of a run in line: when a page of theirs last ran}

    def saw(self, owner: str, now: float | None = None) -> None:
        """Notes that `owner` is here (a page of theirs ran), and stops the run training
        for a browser away for `LIMITS.away_seconds` while someone waits: a browser
        closed mid-run held the one training slot for up to 10 minutes, for no one."""
        now = time.time() if now is None else now
        with self.lock:
            if owner in self.seen:
                self.seen[owner] = now
            head = self.line[0] if self.line else None
            if (head is not None and not head.waiting and not head.progress.stop_requested
                    and self._away(head.owner, now) and self._someone_waits(now)):
                head.gave_way = True
                head.progress.request_stop()  # saved as any stopped run is, for its owner's return

    def _away(self, owner: str, now: float) -> bool:
        return now - self.seen.get(owner, now) > LIMITS.away_seconds

    def _someone_waits(self, now: float) -> bool:
        """Whether a run behind the head of the line has its browser here (under the lock)."""
        return any(not self._away(job.owner, now) for job in self.line[1:])

    def running(self) -> Job | None:
        """The run at the head of the line: training, or about to."""
        with self.lock:
            return self.line[0] if self.line else None

    def ahead_of(self, job: Job) -> list[Job]:
        """The runs in line before `job`, the one training first."""
        with self.lock:
            return self.line[:self.line.index(job)] if job in self.line else []

    def waiting(self) -> int:
        """How many runs wait in line behind the one training."""
        with self.lock:
            return max(0, len(self.line) - 1)

    def line_is_full(self) -> bool:
        with self.lock:
            return len(self.line) > LIMITS.waiting_runs

    def start(self, owner: str, folder: Path, config) -> Job:
        """Starts `config` in a worker thread as `owner`'s next run, saved in
        `folder`, at once or, while another run trains, when the runs before it
        end. Raises Busy if the line is full or `owner` has a run in it already,
        ShortOfMemory if it would take the server past its memory."""
        from core.progress import TrainingProgress
        from core.training import train

        with self.lock:
            if any(job.owner == owner for job in self.line):  # two tabs of one browser, Start in both
                raise Busy(OWN_RUN)
            if len(self.line) > LIMITS.waiting_runs:
                raise Busy("busy")
            # Numbered here, not in session state: the owner's other tabs and
            # reloads are sessions of their own, whose "run 1" would overwrite this one's.
            # A cancelled run saved nothing: the next one takes its number, and its place, where a
            # leftover entry would have offered the new run's file as soon as its first epoch was saved.
            # So did a run that never left the line (cancelled there, or refused at its turn).
            self.jobs = [job for job in self.jobs if job.owner != owner or not self._left_nothing(job)]
            # After the idle hour's sweep too: a "run 1" again, in a new folder, took the place
            # of the swept run 1 on every page that had it picked, without a word.
            number = 1 + max([self.swept.get(owner, 0)] + [job.number for job in self.jobs if job.owner == owner])
            label, out = f"Trained here: run {number}", folder / f"run-{number}.keras"
            # Recycled: a new model trained in a fresh one would leave TensorFlow's copy of its
            # training step in the server for good (about 175 MB a run, benchmarks/training_memory.py).
            config = dataclasses.replace(config, out=str(out), recycle=True)
            progress = TrainingProgress()
            job = Job(owner, label, out, progress, fine_tuning=config.init_from is not None, preset=config.preset,
                      waiting=bool(self.line), number=number, minutes=config.minutes)
            # While a run trains, the server's memory includes that run's working set: a run
            # put in line is checked when its turn comes instead.
            if not self.line and not self._claim_memory(job, config):
                raise ShortOfMemory("short of memory")
            job.thread = threading.Thread(target=self._work, args=(job, train, config), daemon=True)
            # Started first: a thread that failed to start would have held the head of the line for
            # good. It waits for this lock before it looks at the line.
            try:
                job.thread.start()
            except BaseException:
                release(id(job), resident_mb())
                raise
            self.jobs.append(job)
            self.line.append(job)
            self.seen[owner] = time.time()
            return job

    @staticmethod
    def _left_nothing(job: Job) -> bool:
        status = job.progress.snapshot()["status"]
        return status == "cancelled" or (status == "failed" and job.waiting)

    def has_memory_for(self, config) -> bool:
        """Whether the server has the memory for a training run of `config` (a
        `core.TrainConfig`) at its peak, beside any evaluation going on."""
        return fits(self._peak_mb(config), resident_mb())

    def _claim_memory(self, job: Job, config) -> bool:
        """Counts the memory of `job` at its peak as taken until it leaves the line,
        if the server has it beside the work going on; False, and nothing counted, if not."""
        return claim(id(job), self._peak_mb(config), resident_mb())

    def _peak_mb(self, config) -> int:
        from core.training import has_recycled_model

        if has_recycled_model(config):  # its training step is traced already, the keras.io model's too
            return LIMITS.repeat_train_peak_mb
        if config.preset == "keras-io":
            return LIMITS.keras_io_train_peak_mb
        if self.started["convlstm"]:
            plain = not config.init_from and not config.model_overrides.get("layer_norm")
            return LIMITS.plain_train_peak_mb if plain else LIMITS.train_peak_mb
        return LIMITS.first_fine_tuning_peak_mb if config.init_from else LIMITS.first_train_peak_mb

    def _work(self, job: Job, train, config) -> None:
        try:
            with self.turn:
                # A stop asked while it waits (its Cancel, or its session swept) takes it out of line.
                while self.line[0] is not job and not job.progress.stop_requested:
                    self.turn.wait(0.5)
                now = time.time()
                # Its browser closed, or long asleep; alone in line, it trains for no one's cost.
                if job.waiting and self._away(job.owner, now) and self._someone_waits(now):
                    job.gave_way = True
                    job.progress.request_stop()
            if job.waiting and not job.progress.stop_requested:
                gc.collect()  # the last run's model and batches, before the memory is read
                # An evaluation's memory comes back within a minute or so: a run that waited
                # its turn for up to an hour waits for that too, at the head of the line.
                while not job.progress.stop_requested:
                    alone = not work_going_on(besides=id(job))  # before the claim: an evaluation ending between
                    if self._claim_memory(job, config):
                        break
                    if alone and not work_going_on(besides=id(job)):
                        job.progress.update(status="failed", error=(
                            "when its turn came, the server had too little memory left for it (TensorFlow keeps "
                            "memory for each kind of model trained here), so nothing was trained."))
                        return
                    # Its peak counted meanwhile: evaluations asked for later wait for it, where each
                    # one after another claimed the memory first, and the run never started.
                    hold(id(job), self._peak_mb(config), resident_mb())
                    job.held = True
                    time.sleep(0.5)
                job.held = False
            with self.lock:
                # Under the lock that ends its wait: a stop asked until now leaves the line untrained,
                # where train() would compile the model first, with every run behind it waiting.
                if job.progress.stop_requested:
                    job.progress.update(status="cancelled")
                    return
                job.waiting, job.started = False, time.time()  # its clock starts now, not when it was queued
                self.started[config.preset] += 1
            train(config, job.progress)
        except Exception as error:  # train() records its own in progress["error"]; the log gets the traceback
            logging.getLogger(__name__).exception("training failed")
            if job.progress.snapshot()["status"] == "starting":  # before train() could: "saved" said the page
                job.progress.update(status="failed", error=f"{type(error).__name__}: {error}".removesuffix(": "))
        finally:
            release(id(job), resident_mb())  # while the job lives: its id is not another's yet
            with self.turn:
                self.line.remove(job)
                self.seen.pop(job.owner, None)  # one run in line per owner
                self.turn.notify_all()

    def forget(self, folder: Path) -> bool:
        """Asks the run writing into `folder` to stop (it does within a batch)
        and drops the finished ones; True once none is left running there.

        It does not wait: callers may hold up a page, or Streamlit's event loop.
        """
        with self.lock:
            mine = [job for job in self.jobs if job.out.parent == folder]
            for job in mine:
                job.progress.request_stop()
                if not job.running:
                    self.swept[job.owner] = max(self.swept.get(job.owner, 0), job.number)
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

