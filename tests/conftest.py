"""Shared fixtures: a tiny model and a briefly trained checkpoint, built once per run."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))

# A model small enough to train in seconds; the tests check behaviour, not quality.
TINY = {"num_layers": 1, "filters": 8, "precision": "float32"}


def tiny_run(**changes):
    """The TrainConfig of two short epochs of a TINY model, with `changes`."""
    from core.training import TrainConfig

    settings = dict(minutes=None, epochs=2, epoch_sequences=32, batch_size=8, model_overrides=TINY, val_count=8, seed=0)
    return TrainConfig(**{**settings, **changes})


def run_cli(*args, timeout=300, env=None):
    """Runs `python -m core ARGS` in a fresh process, as a user would, with
    `env`'s variables added to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )


@pytest.fixture(scope="session", autouse=True)
def temporary_files_under_pytest(tmp_path_factory):
    """Temporary files of this process and its children go under pytest's folder.

    The app makes a folder per session in the temporary folder and removes it
    an hour after the session's last visit, which a test run never waits for:
    each run left about a hundred, some with checkpoints (0.9 GB after a few
    dozen runs). Pytest deletes its own folders of older runs.
    """
    folder = str(tmp_path_factory.mktemp("tmp"))
    before = os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = folder, folder
    yield
    tempfile.tempdir = None
    if before is None:
        os.environ.pop("TMPDIR")
    else:
        os.environ["TMPDIR"] = before


@pytest.fixture
def memory_to_spare(monkeypatch):
    """This process holds every earlier test's models: the server's memory is
    not what the app's tests check, except where one sets it. Nor does work an
    earlier test left going claim any of it (ui.limits)."""
    import ui.evaluations
    import ui.jobs
    import ui.limits

    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: 0.0)
    monkeypatch.setattr(ui.evaluations, "resident_mb", lambda: 0.0)
    monkeypatch.setattr(ui.limits, "_PLEDGES", {})


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny model trained for two short epochs with the real CLI."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny.keras"
    result = run_cli(
        "train", "--epochs", 2, "--epoch-sequences", 32, "--batch-size", 8, "--layers", 1, "--filters", 8,
        "--precision", "float32", "--out", path, "--json",
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="session")
def test_sequences():
    from core.data import moving_mnist

    return moving_mnist("test", 8)


def pytest_terminal_summary(terminalreporter):
    shots = ROOT / "test-artifacts" / "screenshots"
    if shots.is_dir():
        terminalreporter.write_line(f"screenshots of every page: {shots}")
