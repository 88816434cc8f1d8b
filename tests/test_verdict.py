"""The Forecast and Design pages' verdicts in words (ui/verdict.py), on the frames a
forecast trails black frames at; the pages' tests see only a few of its sentences."""

import numpy as np

from core.metrics import Scores
from ui.verdict import against_still, breakdown, frames_behind, head_to_head, standing, verdict, where

NONE = np.array([], int)


def test_a_forecast_ahead_everywhere_says_so_on_both_metrics():
    assert verdict(NONE, NONE, 10) == ("On MSE the forecast beats predicting black frames at every one of the 10 "
                                       "frames; on SSIM it beats them at every one of the 10 frames.")
    assert verdict(NONE, NONE, 1).endswith("on SSIM it beats them at the one predicted frame.")
    # Design has no chart or glossary beside it: its verdict says what the two scores are.
    assert verdict(NONE, NONE, 10, explained=True) == (
        "On MSE (the field's mean squared error, summed over a frame's pixels: lower is closer to the truth) the "
        "forecast beats predicting black frames at every one of the 10 frames; on SSIM (structural similarity: 1 is a perfect match) it beats them at every "
        "one of the 10 frames.")


def test_trailing_to_the_end_is_a_breakdown_and_one_bad_frame_is_not():
    assert breakdown(np.array([8, 9, 10]), 10) == 8
    assert breakdown(np.array([8, 9]), 10) is None  # ahead again at the last frame
    assert breakdown(np.array([3, 10]), 10) is None  # two bad frames, not a run to the end
    assert where(np.array([8, 9, 10]), 10, "better") == "from frame +8 on"
    assert where(np.array([1, 2, 3, 4, 5, 7]), 10, "better") == \
        "at 6 of the 10 frames (+1, +2, +3, +4, +5, ...) and better at the other 4"
    assert where(np.array([1, 2, 3, 4, 5, 6, 7, 8, 10]), 10, "lower").endswith("and lower at the other one")
    # Each metric says what the other frames are: "and not at the others" read as a second "no better".
    assert verdict(np.array([2, 5]), np.array([2, 5, 7]), 10) == (
        "On MSE the forecast is no better than predicting black frames at 2 of the 10 frames (+2, +5) and better at "
        "the other 8. On SSIM black frames score as high or higher at 3 of the 10 frames (+2, +5, +7) and lower at "
        "the other 7: a black frame matches the black background, which is most of the picture, and SSIM rewards "
        "that more than MSE does.")


def test_the_dashed_line_is_named_only_where_a_chart_draws_it():
    charted = verdict(np.array([8, 9, 10]), NONE, 10)
    assert charted.startswith("On MSE the forecast is no better than predicting black frames from frame +8 on (dashed "
                              "line): past that point it is no longer useful")
    assert "dashed" not in verdict(np.array([8, 9, 10]), NONE, 10, charted=False)


def test_ssim_alone_behind_is_explained_by_the_black_background():
    text = verdict(NONE, np.array([9, 10]), 10)
    assert ". On SSIM black frames score as high or higher from frame +9 on: a black frame matches the black background" in text
    # Behind on both: an untrained model's grey frames, which the background does not explain.
    both = verdict(np.array([4, 9, 10]), np.array([9, 10]), 10)
    assert both.endswith("On SSIM black frames score as high or higher from frame +9 on.")


def test_behind_at_the_last_frame_alone_has_nothing_past_it():
    # "from frame +30 on: past that point it is no longer useful", of a 30-frame forecast.
    assert verdict(np.array([30]), NONE, 30).startswith(
        "On MSE the forecast is no better than predicting black frames at the last frame, +30;")
    assert where(np.array([1]), 1, "better") == "at the one predicted frame"


def _scores(mse: float, ssim: float, per_frame: dict | None = None) -> Scores:
    return Scores(mse=mse, mae=0.0, ssim=ssim, psnr=0.0, per_frame=per_frame or {})


def test_black_frames_forecast_tie_black_frames_and_beat_nothing():
    # A diverged run forecasts black frames: it was said to beat them at every frame, on both metrics.
    frames = {"mse": np.array([229.7, 215.4, 220.0]), "ssim": np.array([0.78, 0.79, 0.77])}
    scores = {"model": _scores(221.7, 0.78, frames), "black frames": _scores(221.7, 0.78, frames)}
    behind, ssim_behind = frames_behind(scores, "mse"), frames_behind(scores, "ssim")
    assert verdict(behind, ssim_behind, 3) == (
        "On MSE the forecast is no better than predicting black frames from frame +1 on (dashed line): past that "
        "point it is no longer useful. On SSIM black frames score as high or higher from frame +1 on.")
    baselines = {"black frames": _scores(221.7, 0.78), "repeat last frame": _scores(296.0, 0.65)}
    assert standing("D", {"model": _scores(221.7, 0.78), **baselines}) == (
        "D does not beat black frames on MSE (its 221.7 against their 221.7) or black frames on SSIM (its 0.780 against their 0.780), "
        "so it is not yet useful.")


def test_a_model_is_called_useful_only_when_it_beats_both_baselines_on_both_metrics():
    baselines = {"black frames": _scores(172.8, 0.706), "repeat last frame": _scores(296.0, 0.650)}
    assert standing("A", {"model": _scores(50.1, 0.878), **baselines}) == (
        "A beats both baselines on MSE and on SSIM.")
    # Ahead of black frames on MSE, as a fresh run's grey blur can be, far behind on SSIM.
    assert standing("B", {"model": _scores(160.5, 0.017), **baselines}) == (
        "B does not beat black frames on SSIM (its 0.017 against their 0.706) or repeat last frame on SSIM (its "
        "0.017 against their 0.650), so it is not yet useful.")
    assert standing("C", {"model": _scores(180.0, 0.800), **baselines}) == (
        "C does not beat black frames on MSE (its 180.0 against their 172.8), so it is not yet useful.")
    # A lead too small to show is no win: "172.8 against their 172.8" was called beating them.
    assert standing("E", {"model": _scores(172.76, 0.800), **baselines}) == (
        "E does not beat black frames on MSE (its 172.8 against their 172.8), so it is not yet useful.")


def test_two_models_are_compared_with_each_other_on_both_metrics():
    # Each was set against the baselines alone: a class compared two runs from the table.
    baselines = {"black frames": _scores(172.8, 0.706), "repeat last frame": _scores(296.0, 0.650)}
    shipped, run = ("S", {"model": _scores(50.1, 0.878), **baselines}), ("R", {"model": _scores(52.4, 0.870), **baselines})
    expected = "S forecasts these sequences better than R: a lower MSE (50.1 against 52.4) and a higher SSIM (0.878 against 0.870)."
    assert head_to_head(shipped, run) == head_to_head(run, shipped) == expected
    sharper = ("T", {"model": _scores(55.0, 0.890), **baselines})
    assert head_to_head(shipped, sharper) == ("Neither forecasts these sequences better on both: S has the lower MSE "
                                              "(50.1 against 55.0), T the higher SSIM (0.890 against 0.878).")
    same_mse = ("U", {"model": _scores(50.1, 0.900), **baselines})
    assert head_to_head(shipped, same_mse) == ("Neither forecasts these sequences better on both: they tie on MSE, "
                                               "U the higher SSIM (0.900 against 0.878).")
    assert head_to_head(shipped, ("V", shipped[1])) == "S and V score the same on these sequences, to the places shown."
    # A difference too small to show is no win: 50.12 against 50.14 read "a lower MSE (50.1 against 50.1)".
    close = ("W", {"model": _scores(50.14, 0.8779), **baselines})
    assert head_to_head(("S", {"model": _scores(50.12, 0.8781), **baselines}), close) == (
        "S and W score the same on these sequences, to the places shown.")


def test_a_forecast_a_still_picture_beats_is_told_so_on_a_real_sequence():
    # The verdict weighed black frames alone, and called a forecast of digits that barely moved a win.
    from core import data
    from core.evaluation import score_forecast

    frames = data.moving_mnist("test", 1)
    context, truth = frames[:, :10], frames[:, 10:]
    still = score_forecast(context, truth, np.repeat(context[:, -1:], 10, axis=1) / 255.0)
    assert against_still(still).startswith(
        "Repeating the last context frame, a still picture, does as well or better on MSE and SSIM (MSE ")
    assert against_still(still).endswith("): on this sequence the forecast adds nothing over standing still.")
    perfect = score_forecast(context, truth, truth / 255.0)
    assert perfect["model"].mse < 1e-9 < perfect["repeat last frame"].mse
    assert against_still(perfect) == (
        "Over all its frames the forecast beats repeating the last context frame, a still picture (MSE 0.0 against its "
        f"{perfect['repeat last frame'].mse:.1f}, SSIM 1.000 against its {perfect['repeat last frame'].ssim:.3f}).")
    # Behind on one metric only: "adds nothing over standing still" was said of a forecast 117 ahead on MSE.
    behind_on_mse = against_still({**perfect, "model": _scores(perfect["repeat last frame"].mse + 1, 1.0)})
    assert "better on MSE (" in behind_on_mse and behind_on_mse.endswith("; the forecast is ahead of it on SSIM only.")
    behind_on_ssim = against_still({**perfect, "model": _scores(1.0, 0.1)})
    assert "better on SSIM (" in behind_on_ssim and behind_on_ssim.endswith("ahead of it on MSE only.")
