"""The shipped checkpoint: it loads, forecasts well on held-out digits, fits its budget, and its card is true."""

import json
import os
import re
import subprocess
import sys

import imageio.v3 as iio
import pytest
from conftest import ROOT, run_cli

from core.checkpoints import load_checkpoint
from core.data import moving_mnist, split_context, to_unit_float
from core.forecasting import forecast
from core.metrics import black_frames, mse, repeat_last

SHIPPED = ROOT / "checkpoints" / "convlstm.keras"
CARD = ROOT / "checkpoints" / "convlstm.json"


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(SHIPPED, compile=False, precision="auto")


def test_shipped_model_beats_both_baselines_by_a_wide_margin(shipped):
    seen, truth = split_context(moving_mnist("test", 200))
    seen, truth = to_unit_float(seen), to_unit_float(truth)
    prediction = forecast(shipped, seen, 10)
    assert prediction.shape == truth.shape
    error = mse(prediction, truth)
    assert error <= 0.5 * mse(black_frames(seen, 10), truth)
    assert error <= 0.5 * mse(repeat_last(seen, 10), truth)


def test_shipped_model_fits_its_budget(shipped):
    assert shipped.count_params() <= 5_000_000
    assert SHIPPED.stat().st_size <= 20 * 2**20


def test_the_cards_numbers_come_back_from_the_cli(shipped):
    card = json.loads(CARD.read_text())
    assert card["checkpoint"] == "checkpoints/convlstm.keras"
    assert card["parameters"] == shipped.count_params()
    assert card["training"]["sequences_seen"] == shipped.studio_info["sequences_seen"]
    count = card["evaluation"]["sequences"]
    result = run_cli("evaluate", "--checkpoint", SHIPPED, "--count", count, "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("model", "black frames", "repeat last frame"):
        # bfloat16 and float32 CPUs round differently: the card holds to 1%.
        assert measured[name]["mse"] == pytest.approx(card["evaluation"][name]["mse"], rel=0.01)
        assert measured[name]["ssim"] == pytest.approx(card["evaluation"][name]["ssim"], abs=0.01)


def test_the_readmes_notebook_example_runs_as_written(tmp_path):
    # The first code a notebook user copies; a renamed argument would break it unseen.
    section = (ROOT / "README.md").read_text().split("## From a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "checkpoints").symlink_to(ROOT / "checkpoints")  # its paths are the repository's
    result = subprocess.run([sys.executable, "-c", code + "\nprint(scores['model'])"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("Scores(mse=")
    assert iio.imread(tmp_path / "one.gif", index=None).shape[0] == 20
