"""How a training run is followed while it runs: `TrainingProgress`, the state
it shares with the page, the command line or a notebook that watches it, and
the text bars on stderr (the command line's, and the ones `train`,
`train_refiner`, `evaluate` and `forecast` draw for a notebook or a script
with `bar=True`).

No Keras here: the pages and `python -m core --help` import it for nothing.
"""

from __future__ import annotations

import sys
import threading


class TrainingProgress:
    """What a running training shares with its watchers; safe across threads.

    The training thread writes through `update`; any other thread reads a
    consistent copy with `snapshot` and asks for a stop with `request_stop`.

    The snapshot's keys (`help()` shows these, not the source's comments):
        status: "starting", "training", "validating", "stopping", "done",
            "stopped", "failed", or "cancelled" (stopped before its first
            step ended, with nothing learned and nothing saved).
        device: where it runs, in words.
        epoch, batch: the epoch and the batch in it the run is on.
        sequences_seen: training sequences so far (a resumed run's total).
        elapsed: seconds since training began, validations included.
        ready_after: seconds of that before the first step had run (compiling
            it), when the time budget's clock starts.
        fraction: the share of its budget spent, 0 to 1.
        eta_seconds: the run's estimate of the seconds left, or None.
        sequences_per_second: the training speed, None until measured.
        loss: [(sequences_seen, training loss)], one per batch.
        val_mse: [(sequences_seen, validation MSE per frame)] in OpenSTL's
            units, one per epoch; a fine-tuning run's starts at 0.
        val_mse_start: a fine-tuning run's model's validation MSE before training.
        sample: (context, truth, prediction) of one validation sequence.
        validation: (forecasts done, total) while validating, else None.
        val_baselines: {baseline name: its validation MSE}, a scale for val_mse.
        error: "Type: message" of the error a failed run ended on, else None.
        time_up: whether the minutes ended the run (with epochs too, before they did).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state = {"status": "starting", "device": None, "epoch": 0, "batch": 0, "sequences_seen": 0,
                       "elapsed": 0.0, "ready_after": None, "fraction": 0.0, "eta_seconds": None,
                       "sequences_per_second": None, "loss": [], "val_mse": [], "val_mse_start": None,
                       "sample": None, "validation": None, "val_baselines": {}, "error": None, "time_up": False}

    def update(self, **changes):
        """Sets the given keys of the state (see the class docstring); `loss` and
        `val_mse` are histories, so their values are appended instead."""
        with self._lock:
            for key, value in changes.items():
                if key in ("loss", "val_mse"):
                    self._state[key] = self._state[key] + [value]
                else:
                    self._state[key] = value

    def snapshot(self) -> dict:
        """A consistent copy of the state (shallow: its lists are replaced, never changed, by `update`)."""
        with self._lock:
            return dict(self._state)

    def request_stop(self):
        """Asks the run to stop: it saves what it learned at the end of the batch it is on
        (or, before its first, stops with nothing saved)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether `request_stop` was called."""
        return self._stop.is_set()


def text_bar(total: int, desc: str, unit: str = "seq", **options):
    """A tqdm bar on stderr, sized to the window.

    Args:
        total: the count that fills it.
        desc: its label, e.g. "forecasting".
        unit: what it counts, e.g. "seq" or "batch".
        **options: tqdm's, e.g. `mininterval` or `bar_format`.

    Returns:
        The tqdm bar, to use as a context manager or to close.
    """
    from tqdm import tqdm  # on use: `python -m core --help` waited for it

    # At most a redraw a second: one per batch was 73 redraws in 50 batches, hundreds a second on a GPU.
    return tqdm(**{"total": total, "desc": desc, "unit": unit, "file": sys.stderr, "dynamic_ncols": True,
                   "mininterval": 1.0, **options})


# The bar counts thousandths of the budget: its rate ("‰/s") read as noise.
# The time left is the run's own estimate (`progress_words`): tqdm's counted the seconds spent compiling
# the first step at the rate of training, "00:10<07:00" for a one-minute run.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}{postfix}"


def progress_words(state: dict) -> str:
    """A `TrainingProgress` snapshot in one line, for a progress bar's tail."""
    speed = state["sequences_per_second"]
    # "nan" before the first validation read as a run that had diverged; "seq/s=0.0" before the speed was
    # measured (its first batches, or a run of one batch), as a stalled one.
    val = f"{state['val_mse'][-1][1]:.1f}" if state["val_mse"] else "not yet"
    left = state["eta_seconds"]
    words = [] if left is None or state["fraction"] >= 1 else [f"left={int(left) // 60}:{int(left) % 60:02d}"]
    words += [f"seen={state['sequences_seen']}", f"seq/s={'measuring' if speed is None else f'{speed:.1f}'}",
              f"val_mse={val}"]
    text = " ".join(words)
    if state["validation"]:
        text += " validating {}/{}".format(*state["validation"])
    return text


def stage_bars(**options):
    """A log for `core.refiner.train_refiner` that draws a text bar per stage
    (drawing, forecasting, each epoch's training) and a line per epoch's score.

    Args:
        **options: tqdm's, for every bar.

    Returns:
        (log, close): log(stage, done, total, val_mse) as `train_refiner` calls
        it, and close() to end a bar left open (by an error or Ctrl-C).
    """
    bars = {}

    def log(stage: str, done: int, total: int, val_mse: float | None) -> None:
        if stage == "epoch":
            print(f"epoch {done}/{total}: validation MSE {val_mse:.2f}", file=sys.stderr)
            return
        if stage not in bars:
            bars[stage] = text_bar(total, stage, "batch" if stage.startswith("training") else "seq", **options)
        bars[stage].update(done - bars[stage].n)
        if done == total:
            bars[stage].close()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return log, close


def training_bar(**options):
    """A `text_bar` for a training run, drawn by `draw_training`; `options` are tqdm's."""
    return text_bar(1000, "training", bar_format=BAR_FORMAT, **options)


def draw_training(bar, state: dict, now: bool = False) -> None:
    """Moves a `training_bar` to a `TrainingProgress` snapshot.

    Args:
        bar: from `training_bar`.
        state: `TrainingProgress.snapshot()`.
        now: redraws at once; otherwise tqdm redraws when its interval has passed.
    """
    # Named by the status: a run stopped at 20% ended on "training: 100%", as if it had trained its budget.
    bar.set_description_str(state["status"], refresh=False)
    bar.set_postfix_str(progress_words(state), refresh=False)
    bar.update(int(state["fraction"] * 1000) - bar.n)
    if now:
        bar.refresh()
