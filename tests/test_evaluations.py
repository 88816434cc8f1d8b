"""The Evaluate page's background evaluations, without a browser."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROOT

from ui.evaluations import Evaluations
from ui.limits import Busy

CHECKPOINT = ROOT / "checkpoints" / "convlstm.keras"


def _wait(run, timeout=60):
    deadline = time.time() + timeout
    while not run.finished and time.time() < deadline:
        time.sleep(0.05)
    return run


def test_a_load_that_fails_leaves_no_run_that_never_starts():
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)

    def broken(path):
        raise KeyboardInterrupt  # what a click during the load looks like to the script thread

    with pytest.raises(KeyboardInterrupt):
        evaluations.request(CHECKPOINT, 10, broken, model_thread)
    assert evaluations.runs == {}


def test_queue_is_bounded_and_a_failed_run_restarts_only_when_asked():
    evaluations, model_thread = Evaluations(max_unfinished=1), ThreadPoolExecutor(1)
    gate = threading.Event()
    model_thread.submit(gate.wait)  # keeps the forecasting thread busy, as a long forecast would
    try:
        first = evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread)
        assert not first.finished
        assert evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread) is first  # found, not queued twice
        with pytest.raises(Busy):
            evaluations.request(CHECKPOINT, 20, lambda path: None, model_thread)
    finally:  # a failure above left the thread waiting, and Python waits for it at exit: pytest never ended
        gate.set()
    assert _wait(first).status == "failed" and first.error  # None is no model: a one-line error, no traceback
    assert evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread) is first  # a rerun does not retry
    again = evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread, again=True)  # a click does
    assert again is not first and _wait(again).status == "failed"
