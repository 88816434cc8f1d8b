"""The Evaluate page's background evaluations, without a browser."""

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

from core.checkpoints import load_checkpoint
from ui.evaluations import Evaluation, Evaluations
from ui.limits import Busy

CHECKPOINT = ROOT / "checkpoints" / "convlstm.keras"
pytestmark = pytest.mark.usefixtures("memory_to_spare")


def _wait(run, timeout=60):
    deadline = time.time() + timeout
    while not run.finished and time.time() < deadline:
        time.sleep(0.05)
    return run


def _until_forecasting(run, timeout=30):
    deadline = time.time() + timeout
    while run.status != "forecasting" and time.time() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def _busy(model_thread):
    """Keeps the forecasting thread busy, as a long forecast would, until the block ends."""
    gate = threading.Event()
    model_thread.submit(gate.wait)
    try:
        yield
    finally:  # a failure in the block left the thread waiting, and Python waits for it at exit: pytest never ended
        gate.set()


def test_a_load_that_fails_leaves_no_run_that_never_starts():
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)

    def broken(path):
        raise KeyboardInterrupt  # what a click during the load looks like to the script thread

    with pytest.raises(KeyboardInterrupt):
        evaluations.request(CHECKPOINT, 10, broken, model_thread, owner="a")
    assert evaluations.runs == {}


def test_queue_is_bounded_and_a_failed_run_restarts_only_when_asked():
    evaluations, model_thread = Evaluations(max_unfinished=1), ThreadPoolExecutor(1)
    with _busy(model_thread):
        first = evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread, owner="a")
        assert not first.finished
        assert evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread, owner="a") is first  # found, not queued twice
        with pytest.raises(Busy):
            evaluations.request(CHECKPOINT, 20, lambda path: None, model_thread, owner="a")
    assert _wait(first).status == "failed" and first.error  # None is no model: a one-line error, no traceback
    assert evaluations.done(CHECKPOINT, 10) is None  # a failed run has no table to draw
    assert evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread, owner="a") is first  # a rerun does not retry
    again = evaluations.request(CHECKPOINT, 10, lambda path: None, model_thread, owner="a", again=True)  # a click does
    assert again is not first and _wait(again).status == "failed"


def test_a_running_evaluation_has_no_table_yet_and_a_finished_one_is_not_redone():
    # The page draws its table from done(): a second tab that found the run still going
    # would draw it from no results (a traceback); a click on a finished run shows it again.
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
    with _busy(model_thread):
        run = evaluations.request(CHECKPOINT, 2, load_checkpoint, model_thread, owner="a")
        assert evaluations.done(CHECKPOINT, 2) is None
    assert _wait(run).status == "done" and evaluations.done(CHECKPOINT, 2) is run
    assert run.results["model"].mse < run.results["black frames"].mse / 2
    assert evaluations.request(CHECKPOINT, 2, load_checkpoint, model_thread, owner="a", again=True) is run


def test_a_browser_asks_for_one_evaluation_at_a_time():
    # One visitor clicking through four sequence counts filled the server's queue (others were told
    # "busy"), and the runs went on after the browser was closed.
    evaluations, model_thread = Evaluations(max_unfinished=2), ThreadPoolExecutor(1)
    with _busy(model_thread):
        running = evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="a")
        shared = evaluations.request(CHECKPOINT, 20, load_checkpoint, model_thread, owner="a")
        assert evaluations.request(CHECKPOINT, 20, load_checkpoint, model_thread, owner="b") is shared
        with pytest.raises(Busy):
            evaluations.request(CHECKPOINT, 30, load_checkpoint, model_thread, owner="c")
        _until_forecasting(running)
        # Asking again for the run it has (its page's next rerun) keeps it going.
        assert evaluations.withdraw("a", [CHECKPOINT], 64) == [] and not running.cancelled
        # "a" clicks Evaluate on 30 sequences: the run only "a" wanted is stopped, and said to be.
        assert evaluations.withdraw("a", [CHECKPOINT], 30) == [(str(CHECKPOINT), running)]
        latest = evaluations.request(CHECKPOINT, 30, load_checkpoint, model_thread, owner="a", again=True)
    assert _wait(latest).status == "done" and _wait(shared).status == "done"  # "b" still wanted it
    assert _wait(running).status == "cancelled" and running.done < 64  # stopped between its batches
    assert evaluations.done(CHECKPOINT, 64) is None
    assert evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="a") is running  # a rerun
    again = evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="a", again=True)  # a click
    assert again is not running and _wait(again).status == "done"


def test_a_cancelled_run_still_in_its_batch_goes_on_for_whoever_asks_again():
    # It ended "cancelled" for the visitor who clicked it again, told another click had stopped it.
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
    with _busy(model_thread):
        run = evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="a")
        _until_forecasting(run)
        evaluations.withdraw("a", [], 10)
        assert evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="b", again=True) is run
    assert _wait(run).status == "done" and run.done == 64


def test_a_queued_run_says_how_many_sequences_are_ahead_of_it():
    # "queued" alone, for minutes behind a class's runs of 1,000.
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
    with _busy(model_thread):
        first = evaluations.request(CHECKPOINT, 64, load_checkpoint, model_thread, owner="a")
        second = evaluations.request(CHECKPOINT, 20, load_checkpoint, model_thread, owner="b")
        third = evaluations.request(CHECKPOINT, 30, load_checkpoint, model_thread, owner="c")
        assert (evaluations.ahead_of(first), evaluations.ahead_of(second), evaluations.ahead_of(third)) == (0, 64, 84)
        assert third.describe("Shipped model", 84) == ("Shipped model: queued (30 sequences) behind 84 sequences "
                                                       "asked for before it; the server runs one evaluation at a time")
        assert third.describe("Shipped model") == "Shipped model: starting (30 sequences)"
        evaluations.withdraw("b", [], 10)  # cancelled before it starts: no longer ahead of anyone
        assert evaluations.ahead_of(third) == 64
    assert _wait(third).status == "done" and evaluations.ahead_of(third) == 0


def test_a_run_says_what_it_does_before_its_first_sequences_are_scored():
    # "0/100" stood for seconds while the test sequences were drawn and the first batch forecast, and read as
    # a stuck run.
    run = Evaluation(total=100, status="forecasting")
    assert run.describe("Run 1") == "Run 1: preparing 100 sequences (drawing them, then forecasting the first)"
    run.done = 50
    assert run.describe("Run 1") == "Run 1: forecast and scored 50/100 sequences"


def test_a_cancel_during_the_last_batch_keeps_the_finished_results():
    # Its scores were all there, and thrown away as "cancelled".
    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
    with _busy(model_thread):
        run = evaluations.request(CHECKPOINT, 10, load_checkpoint, model_thread, owner="a")  # one batch
        _until_forecasting(run)
        evaluations.withdraw("a", [], 10)
    assert _wait(run).status == "done" and run.done == 10 and evaluations.done(CHECKPOINT, 10) is run


def test_finished_runs_of_deleted_checkpoints_are_dropped_at_the_next_request(tmp_path):
    # One entry per (file, time, count) was kept for good, a class's deleted runs' included.
    import shutil

    evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
    copy = tmp_path / "run-1.keras"
    shutil.copy(CHECKPOINT, copy)
    gone = _wait(evaluations.request(copy, 10, load_checkpoint, model_thread, owner="a"))
    assert gone.status == "done"
    copy.unlink()  # its session's folder swept
    kept = _wait(evaluations.request(CHECKPOINT, 10, load_checkpoint, model_thread, owner="a"))
    assert kept.status == "done" and [key[0] for key in evaluations.runs] == [str(CHECKPOINT)]


def test_an_evaluation_and_a_training_run_fit_the_server_together_or_the_later_is_refused(tmp_path, monkeypatch):
    # Each was checked alone: a class that trained and evaluated at once could pass Community Cloud's 2.7 GB.
    import core.training
    import ui.evaluations
    import ui.jobs
    import ui.limits
    from core.training import TrainConfig
    from ui.limits import LIMITS, claim, fits, release

    monkeypatch.setattr(ui.limits, "_PLEDGES", {})
    now = [LIMITS.server_memory_mb - LIMITS.train_peak_mb - LIMITS.evaluate_peak_mb + 50]
    monkeypatch.setattr(ui.evaluations, "resident_mb", lambda: now[0])
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: now[0])
    registry, training = ui.jobs.Registry(), object()
    registry.started["convlstm"] = 1  # a later run of a new kind: train_peak_mb
    config = TrainConfig(model_overrides={"num_layers": 1, "filters": 3, "layer_norm": True})
    assert registry.has_memory_for(config)
    assert claim(id(training), LIMITS.train_peak_mb, now[0])  # as the registry does when a run starts
    try:
        assert not fits(LIMITS.evaluate_peak_mb, now[0]) and fits(LIMITS.evaluate_peak_mb - 50, now[0])
        now[0] += LIMITS.train_peak_mb  # the run at its peak: what it pledged, it now holds, and is counted once
        assert not fits(LIMITS.evaluate_peak_mb, now[0]) and fits(LIMITS.evaluate_peak_mb - 50, now[0])
        evaluations, model_thread = Evaluations(), ThreadPoolExecutor(1)
        run = _wait(evaluations.request(CHECKPOINT, 2, load_checkpoint, model_thread, owner="a"))
        assert run.status == "failed" and run.error == ("the server had too little memory left for it beside the "
                                                        "training run going on, which may need it until it ends")
    finally:
        release(id(training), now[0])
    now[0] -= LIMITS.train_peak_mb  # the run ended, and gave back what it took
    # And the other way round: a run is refused while an evaluation may still take its peak.
    assert claim("evaluation", LIMITS.evaluate_peak_mb, now[0], short=True)
    try:
        assert not registry.has_memory_for(config)
    finally:
        release("evaluation", now[0])
    assert registry.has_memory_for(config)
    again = _wait(evaluations.request(CHECKPOINT, 2, load_checkpoint, model_thread, owner="a", again=True))
    assert again.status == "done" and fits(LIMITS.evaluate_peak_mb, now[0])  # its claim ended with it
    # The registry claims a run's peak when it starts, until it leaves the line.
    gate = threading.Event()
    monkeypatch.setattr(core.training, "train", lambda config, progress: gate.wait(30))
    job = registry.start("visitor", tmp_path, config)
    try:
        assert not fits(LIMITS.evaluate_peak_mb, now[0])
    finally:
        gate.set()
        job.thread.join(30)
    assert fits(LIMITS.evaluate_peak_mb, now[0])


def test_growth_is_credited_once_and_what_ended_work_left_is_not_an_evaluations(monkeypatch):
    import ui.limits
    from ui.limits import LIMITS, claim, fits, release

    monkeypatch.setattr(ui.limits, "_PLEDGES", {})
    most, start = LIMITS.server_memory_mb, 1000
    assert claim("training", 800, start)
    assert claim("evaluation", 300, start + 500, short=True)  # the training 500 MB up by then
    now = start + 800 + 200  # the training at its peak, the evaluation 200 MB up: 100 MB may still come
    assert fits(most - now - 100, now) and not fits(most - now - 99, now)
    now = start + 400 + 200  # the training ended, and left 400 MB behind
    release("training", now)
    # Not the evaluation's: it may still take its whole peak. Taken off, a new run could pass the memory.
    assert fits(most - now - 300, now) and not fits(most - now - 299, now)
    release("evaluation", now)
    assert fits(most - now, now) and not fits(most - now + 1, now)


def test_a_run_whose_turn_comes_during_an_evaluation_waits_for_its_memory(tmp_path, monkeypatch):
    # It failed for good, told that the memory would never come back: a run that had waited up to an hour.
    import core.training
    import ui.jobs
    import ui.limits
    from core.training import TrainConfig
    from ui.limits import LIMITS, claim, release

    monkeypatch.setattr(ui.limits, "_PLEDGES", {})
    now = [LIMITS.server_memory_mb - LIMITS.train_peak_mb - LIMITS.evaluate_peak_mb - 100]
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: now[0])
    gates, trained = {"a": threading.Event(), "b": threading.Event()}, []

    def train(config, progress):
        trained.append(config.out)
        gates[Path(config.out).parent.name].wait(30)

    monkeypatch.setattr(core.training, "train", train)
    registry = ui.jobs.Registry()
    registry.started["convlstm"] = 1
    config = TrainConfig(model_overrides={"num_layers": 1, "filters": 3, "layer_norm": True})  # train_peak_mb's kind
    first = registry.start("a", tmp_path / "a", config)
    second = registry.start("b", tmp_path / "b", config)
    assert claim("evaluation", LIMITS.evaluate_peak_mb, now[0], short=True)
    try:
        now[0] += 200  # what the first run leaves behind
        gates["a"].set()
        first.thread.join(30)
        deadline = time.time() + 30
        while not second.held and time.time() < deadline:
            time.sleep(0.05)
        assert second.held and second.waiting and second.progress.snapshot()["status"] == "starting"
        assert len(trained) == 1
        # Its peak counts while it waits: evaluations asked for one after another each claimed the
        # memory first, and the run never started.
        assert not claim("a later evaluation", LIMITS.evaluate_peak_mb, now[0], short=True)
    finally:
        release("evaluation", now[0])
    deadline = time.time() + 30
    while len(trained) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(trained) == 2 and not second.waiting  # it trains once the evaluation ended
    gates["b"].set()
    second.thread.join(30)
    # With no evaluation to wait for, a run that does not fit at its turn fails, and says why.
    gates.update(c=threading.Event(), d=threading.Event())
    third, fourth = registry.start("c", tmp_path / "c", config), registry.start("d", tmp_path / "d", config)
    now[0] = LIMITS.server_memory_mb
    gates["c"].set()
    third.thread.join(30)
    fourth.thread.join(30)
    assert fourth.progress.snapshot()["status"] == "failed" and not fourth.held


def test_a_run_whose_evaluation_ends_during_its_claim_still_trains(tmp_path, monkeypatch):
    # The evaluation gave its memory back between the run's failed claim and its look at the work
    # going on: with nothing left to wait for, the run was failed for memory that had just come back.
    import core.training
    import ui.jobs
    import ui.limits
    from core.training import TrainConfig

    monkeypatch.setattr(ui.limits, "_PLEDGES", {})
    gate, trained = threading.Event(), []
    monkeypatch.setattr(core.training, "train", lambda config, progress: trained.append(config.out) or gate.wait(30))
    registry = ui.jobs.Registry()
    config = TrainConfig(model_overrides={"num_layers": 1, "filters": 3})
    first = registry.start("a", tmp_path / "a", config)
    evaluating = [True]

    def claim_as_the_evaluation_ends(job, config):
        if evaluating[0]:
            evaluating[0] = False
            return False
        return True

    monkeypatch.setattr(ui.jobs, "work_going_on", lambda besides: evaluating[0])
    monkeypatch.setattr(registry, "_claim_memory", claim_as_the_evaluation_ends)
    second = registry.start("b", tmp_path / "b", config)
    gate.set()
    first.thread.join(30)
    second.thread.join(30)
    assert second.progress.snapshot()["status"] != "failed" and trained == [str(first.out), str(second.out)]
