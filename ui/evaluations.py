"""Evaluations that outlive clicks: scored in a worker thread, kept for the server.

Any click stops a Streamlit script, and a 1,000-sequence evaluation takes
half a minute or more on 2 cores, so the Evaluate page must not score in its own thread:
it would lose the work each time someone touched a widget or another page.
`request` starts the evaluation of a (checkpoint, modification time, count) in
a worker thread that makes no `st.*` calls, or finds it already started or
finished by any session; the page draws `Evaluation` from a fragment.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core import data
from ui.limits import LIMITS, Busy, claim, release, resident_mb, work_going_on

BATCH = 32  # sequences per forecast call: a Forecast visitor waits at most one batch (about 1 s)
REMEMBERED_BROWSERS = 1000  # a few small dicts each: the oldest are forgotten first


@dataclass
class Evaluation:
    """One model's evaluation on the first `total` bundled test sequences."""

    total: int
    done: int = 0
    status: str = "waiting"  # waiting, forecasting, done, failed or cancelled
    results: dict | None = None  # {"model": Scores, "black frames": Scores, "repeat last frame": Scores}
    error: str | None = None
    seconds: float | None = None  # from the start of the work to the scores
    owners: set = field(default_factory=set)  # the browsers that asked for it and still want it
    cancelled: bool = False  # no browser wants it any more: the worker stops at its next batch
    queued: float = field(default_factory=time.monotonic)  # the worker takes runs in this order

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def fraction(self) -> float:
        return 1.0 if self.finished else self.done / self.total

    def describe(self, name: str, ahead: int = 0) -> str:
        """A line on where the run is; `ahead`: the sequences other runs before it have left."""
        # A class's 8 runs of 1,000 wait minutes, which it did without a word. Not "other evaluations": a
        # teacher comparing two models took the first of their own for another class's.
        if self.status == "waiting" and ahead:
            return (f"{name}: queued ({self.total} sequences) behind {ahead:,} sequences asked for before it; "
                    "the server runs one evaluation at a time")
        if self.status == "waiting":  # "queued (... one evaluation at a time)" with nothing ahead read as a queue
            return f"{name}: starting ({self.total} sequences)"
        if self.status == "forecasting" and not self.done:  # "0/100" for seconds read as stuck
            return f"{name}: preparing {self.total} sequences (drawing them, then forecasting the first)"
        if self.status == "forecasting":
            return f"{name}: forecast and scored {self.done}/{self.total} sequences"
        if self.status == "cancelled":
            return f"{name}: stopped, as this browser asked for another evaluation since ({self.total} sequences)"
        return f"{name}: {self.status} ({self.total} sequences)"


class Evaluations:
    """The server's evaluations, one at a time, each kept once finished."""

    # Each browser has one request at a time (`withdraw`), so the bound is for a
    # class clicking at once: 8 runs of at most 1,000 sequences wait 5 minutes at worst.
    def __init__(self, max_unfinished: int = 8):
        self.lock = threading.Lock()
        self.runs: dict[tuple, Evaluation] = {}
        self.last_clicks: dict[str, dict] = {}  # browser id -> the page's settings at its last click, newest last
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluate")
        self.max_unfinished = max_unfinished  # a queue any visitor can grow would hold the CPU for hours

    def request(
        self, path: Path, count: int, load: Callable[[Path], object], model_thread: Executor, *, owner: str,
        again: bool = False,
    ) -> Evaluation:
        """The evaluation of the checkpoint `path` on `count` test sequences, started
        now unless one is already running or done; `again` restarts a failed or
        cancelled one.

        Args:
            path: the checkpoint; a new modification time is a new evaluation.
            count: the first `count` sequences of the bundled test set.
            load: returns the model in `path`; called (in the caller's thread) only to start.
            model_thread: the executor that runs every forecast on this server.
            owner: the browser asking, which keeps the run from `withdraw`.
            again: start over if the last try failed or was cancelled (a click, not a rerun).

        Returns:
            The `Evaluation`, updated by the worker thread as it goes.

        Raises:
            Busy: `max_unfinished` evaluations are already waiting or running.
        """
        key = (str(path), path.stat().st_mtime, count)

        def kept() -> Evaluation | None:  # the run to show, unless a click retries a failed one
            run = self.runs.get(key)
            return None if run is None or (again and run.status in ("failed", "cancelled")) else run

        with self.lock:
            if run := kept():
                return self._claim(run, owner)
        # Loaded outside the lock: it takes seconds, and a click during it stops
        # this script, which must leave no run behind that never starts.
        model = load(path)
        with self.lock:
            if run := kept():
                return self._claim(run, owner)
            # A cancelled run still going stops at its next batch, about a second.
            if sum(not (other.finished or other.cancelled) for other in self.runs.values()) >= self.max_unfinished:
                raise Busy("busy")
            # Finished runs of files deleted or retrained since can never be shown again: without this
            # the server kept one per (file, time, count) for good, a class's trained runs included.
            self.runs = {other: run for other, run in self.runs.items() if not run.finished or _current(*other[:2])}
            run = self.runs[key] = Evaluation(count, owners={owner})
            self.worker.submit(_work, run, model, model_thread, self.lock)
            return run

    @staticmethod
    def _claim(run: Evaluation, owner: str) -> Evaluation:
        # A run cancelled but still in its batch goes on for whoever asks for it again
        # (the worker looks under the same lock): it ended "cancelled" for them too.
        if not run.finished:
            run.owners.add(owner)
            run.cancelled = False
        return run

    def ahead_of(self, run: Evaluation) -> int:
        """The sequences that the runs the worker takes before `run` have still to score."""
        with self.lock:
            return sum(other.total - other.done for other in self.runs.values()
                       if other.queued < run.queued and not (other.finished or other.cancelled))

    def withdraw(self, owner: str, keep: list[Path], count: int) -> list[tuple[str, Evaluation]]:
        """Drops this browser from its unfinished evaluations other than those of
        the checkpoints `keep` on `count` sequences, as it asks for those.

        One visitor clicking through four sequence counts filled the server's
        queue, and the runs went on after their browser was closed. A run that
        no other browser wants is cancelled: it never starts, or stops at its
        next batch.

        Returns:
            (checkpoint path, evaluation) of those cancelled, for the page to say so;
            not those another browser still wants, which go on.
        """
        wanted = {(str(path), path.stat().st_mtime, count) for path in keep}
        cancelled = []
        with self.lock:
            for key, run in self.runs.items():
                if key in wanted or run.finished or owner not in run.owners:
                    continue
                run.owners.discard(owner)
                if not run.owners:
                    run.cancelled = True
                    cancelled.append((key[0], run))
                    if run.status == "waiting":
                        run.status = "cancelled"
        return cancelled

    def remember(self, owner: str, settings: dict) -> None:
        """Keeps a browser's Evaluate settings at its last click, for its page after a reload."""
        with self.lock:
            self.last_clicks.pop(owner, None)
            self.last_clicks[owner] = settings
            while len(self.last_clicks) > REMEMBERED_BROWSERS:
                del self.last_clicks[next(iter(self.last_clicks))]

    def last_click(self, owner: str) -> dict:
        """The settings `remember` kept for this browser; empty if none."""
        with self.lock:
            return dict(self.last_clicks.get(owner, {}))

    def done(self, path: Path, count: int) -> Evaluation | None:
        """The finished evaluation of the checkpoint `path` on `count` sequences, if there is one."""
        with self.lock:
            run = self.runs.get((str(path), path.stat().st_mtime, count))
            return run if run is not None and run.status == "done" else None

    def going(self, owner: str) -> list[tuple[str, Evaluation]]:
        """(checkpoint path, evaluation) of this browser's evaluations still waiting or being scored."""
        with self.lock:
            return [(key[0], run) for key, run in self.runs.items()
                    if owner in run.owners and not (run.finished or run.cancelled)]


def _work(run: Evaluation, model, model_thread: Executor, lock: threading.Lock) -> None:
    from core.evaluation import scored_batches, scores_of_batches
    from core.forecasting import forecast

    started = time.perf_counter()
    try:
        with lock:
            if run.cancelled:
                return
            run.status = "forecasting"
        if not claim(id(run), LIMITS.evaluate_peak_mb, resident_mb(), short=True):
            # The page adds "Click Evaluate to try again."
            run.error, run.status = ("the server had too little memory left for it beside the training run going "
                                     "on, which may need it until it ends" if work_going_on() else
                                     "the server had too little memory left for it"), "failed"
            return
        context, truth = data.split_context(data.moving_mnist("test", run.total))
        # Each batch goes through the thread that runs every forecast, so a
        # visitor's forecast slips in between batches, and TensorFlow never
        # builds the same graph from two threads at once. Scored batch by batch:
        # kept whole and scored at the end, 1,000 sequences took the server 687 MB
        # up at the peak, against 260 (benchmarks/evaluation_memory.py), beside
        # whatever a training run holds.
        rows = []
        for done, row in scored_batches(model, context, truth, BATCH,  # keras.io: one sequence, seconds long
                                        lambda *call: model_thread.submit(forecast, *call).result()):
            rows.append(row)
            run.done = done
            with lock:  # before the next batch, which is not forecast till the loop asks for it; after
                if run.cancelled and done < run.total:  # the last, the results stand
                    run.status = "cancelled"
                    return
        run.results = scores_of_batches(rows)
        run.seconds, run.status = time.perf_counter() - started, "done"
    except Exception as error:  # the page shows it in one line; the log gets the traceback
        logging.getLogger(__name__).exception("evaluation failed")
        run.error, run.status = f"{type(error).__name__}: {error}", "failed"
    finally:
        release(id(run), resident_mb())  # while the run lives: its id is not another's yet


_EVALUATIONS = Evaluations()  # server state, not a cache: see ui.jobs.registry


def evaluations() -> Evaluations:
    return _EVALUATIONS


def _current(path: str, stamp: float) -> bool:
    """Whether the checkpoint at `path` is still there, with the modification time `stamp`."""
    try:
        return Path(path).stat().st_mtime == stamp
    except OSError:
        return False
