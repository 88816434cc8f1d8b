"""A forecast against the baselines, in words: where it is behind black frames, whether
it has broken down for good, and whether a still picture (the last context frame,
repeated) does as well (the Forecast and Design pages' verdicts); and a model's
scores over many sequences against both baselines (Evaluate's)."""

import numpy as np
import streamlit as st

from core.evaluation import score_forecast


@st.cache_data(max_entries=64, show_spinner=False)
def score_one(context: np.ndarray, truth: np.ndarray, prediction: np.ndarray) -> dict:
    """One sequence's scores, the forecast's and the baselines' (core.evaluation.score_forecast)."""
    return score_forecast(context[None], truth[None], prediction[None])


def frames_behind(scores: dict, metric: str) -> np.ndarray:
    """The predicted frames (1-based) that score no better than black frames on `metric`.

    A tie is no win: a diverged run forecasts black frames, which score exactly as
    black frames do, and was said to beat them at every frame.
    """
    model, black = scores["model"].per_frame[metric], scores["black frames"].per_frame[metric]
    return np.flatnonzero(model <= black if metric == "ssim" else model >= black) + 1


def breakdown(behind: np.ndarray, horizon: int) -> int | None:
    """The frame from which the forecast stays behind black frames to the end, if it does.

    One bad frame among good ones is not a breakdown: a 60-frame forecast that
    lost only frame 38 was called useless from there on.
    """
    return int(behind[0]) if len(behind) and behind[0] + len(behind) - 1 == horizon else None


def dashed_from(behind: np.ndarray, horizon: int) -> int | None:
    """The frame the MSE chart marks with a dashed line: the breakdown, where a frame lies past it."""
    start = breakdown(behind, horizon)
    return start if start is not None and start < horizon else None


def at_every(horizon: int) -> str:
    return "at the one predicted frame" if horizon == 1 else f"at every one of the {horizon} frames"


def verdict(behind: np.ndarray, ssim_behind: np.ndarray, scored: int, charted: bool = True,
            explained: bool = False) -> str:
    """How the forecast compares with black frames over its `scored` frames, in words,
    given the frames where it is behind them on MSE and on SSIM; `charted` when a
    per-frame chart beside it marks the breakdown with a dashed line; `explained`
    says what MSE and SSIM are, where nothing else on the page does."""
    # "Mean", then "summed" in the same sentence read as a contradiction: the field sums a frame's pixels.
    mse, ssim = ("MSE (the field's mean squared error, summed over a frame's pixels: lower is closer to the truth)",
                 "SSIM (structural similarity: 1 is a perfect match)") if explained else ("MSE", "SSIM")
    useless_from = dashed_from(behind, scored)
    if not len(behind):
        text = f"On {mse} the forecast beats predicting black frames {at_every(scored)}"
    elif useless_from is not None:
        text = (f"On {mse} the forecast is no better than predicting black frames from frame +{useless_from} on"
                + (" (dashed line)" * charted) + ": past that point it is no longer useful")
    else:
        text = f"On {mse} the forecast is no better than predicting black frames {where(behind, scored, 'better')}"
    if not len(ssim_behind):
        return text + f"; on {ssim} it beats them {at_every(scored)}."
    text += f". On {ssim} black frames score as high or higher {where(ssim_behind, scored, 'lower')}"
    if set(ssim_behind) <= set(behind):  # behind on both: the grey frames of an untrained model, not SSIM's way
        return text + "."
    return text + (": a black frame matches the black background, which is most of the picture, and SSIM rewards "
                   "that more than MSE does.")


def against_still(scores: dict) -> str:
    """Whether a forecast's averages (`score_one`'s) beat repeating the last context frame, in words:
    the verdict weighs it against black frames alone, and called a forecast of digits that barely
    moved a win where the still picture scored better on both metrics."""
    model, still = scores["model"], scores["repeat last frame"]
    numbers = f"MSE {model.mse:.1f} against its {still.mse:.1f}, SSIM {model.ssim:.3f} against its {still.ssim:.3f}"
    worse = [metric for metric in ("mse", "ssim") if _no_better(model, still, metric)]
    # Its own sentence, whatever the verdict before it said: "also" and "But" read against it there.
    if not worse:
        return f"Over all its frames the forecast beats repeating the last context frame, a still picture ({numbers})."
    if len(worse) == 2:
        return (f"Repeating the last context frame, a still picture, does as well or better on MSE and SSIM "
                f"({numbers}): on this sequence the forecast adds nothing over standing still.")
    ahead = "SSIM" if worse == ["mse"] else "MSE"
    return (f"Repeating the last context frame, a still picture, does as well or better on {worse[0].upper()} "
            f"({numbers}); the forecast is ahead of it on {ahead} only.")


def _no_better(model, baseline, metric: str) -> bool:
    # A tie is no win: a diverged run's black frames tied black frames on SSIM, and were not listed. To the
    # places shown: the last frame repeated as a forecast beat itself by 1e-5, "301.1 against its 301.1".
    places = {"mse": 1, "ssim": 3}[metric]
    mine, theirs = (round(getattr(scores, metric), places) for scores in (model, baseline))
    return mine >= theirs if metric == "mse" else mine <= theirs


def where(behind: np.ndarray, horizon: int, otherwise: str) -> str:
    """The frames in `behind`, in words, and what the others are (`otherwise`, "better")
    when they are not simply the frames before."""
    start = breakdown(behind, horizon)
    if start == horizon:
        return "at the one predicted frame" if horizon == 1 else f"at the last frame, +{horizon}"
    if start is not None:
        return f"from frame +{start} on"
    listed = ", ".join(f"+{frame}" for frame in behind[:5]) + (", ..." if len(behind) > 5 else "")
    # "... and not at the others" read as a second "no better".
    rest = horizon - len(behind)
    return f"at {len(behind)} of the {horizon} frames ({listed}) and {otherwise} at the other {rest if rest > 1 else 'one'}"


def standing(name: str, scores: dict) -> str:
    """Whether a model's averages (`core.evaluation.score_forecast`'s) beat both baselines on MSE
    and SSIM, in words: the table alone left a class to find that a model which beat black frames
    on MSE scored an SSIM of 0.02 against their 0.7, while Train called its forecasts grey blurs."""
    model = scores["model"]
    # Its score first, and each named: "(172.8 against 292.9)", the baseline's first, read as the model's.
    behind = [f"{baseline} on {metric.upper()} (its {getattr(model, metric):.{places}f} against their "
              f"{getattr(scores[baseline], metric):.{places}f})"
              for baseline in ("black frames", "repeat last frame") for metric, places in (("mse", 1), ("ssim", 3))
              if _no_better(model, scores[baseline], metric)]
    if not behind:
        return f"{name} beats both baselines on MSE and on SSIM."
    listed = behind[0] if len(behind) == 1 else ", ".join(behind[:-1]) + " or " + behind[-1]
    return f"{name} does not beat {listed}, so it is not yet useful."


def head_to_head(first: tuple[str, dict], second: tuple[str, dict]) -> str:
    """Which of two models (name, `score_forecast`'s averages) forecasts the same sequences better,
    in words: each was set against the baselines alone, and a class compared two runs from the table."""
    (a, _), (b, _) = first, second
    places = {"mse": 1, "ssim": 3}
    # As shown: 50.12 against 50.14 was called better, "(50.1 against 50.1)".
    value = {metric: {name: round(getattr(scores["model"], metric), digits) for name, scores in (first, second)}
             for metric, digits in places.items()}

    def better(metric: str) -> str | None:  # lower MSE, higher SSIM; None for a tie
        x, y = value[metric][a], value[metric][b]
        if x == y:
            return None
        return a if (x < y) == (metric == "mse") else b

    def against(metric: str, name: str) -> str:
        digits = places[metric]
        return f"{value[metric][name]:.{digits}f} against {value[metric][b if name == a else a]:.{digits}f}"

    mse, ssim = better("mse"), better("ssim")
    if mse is not None and mse == ssim:
        return (f"{mse} forecasts these sequences better than {b if mse == a else a}: a lower MSE "
                f"({against('mse', mse)}) and a higher SSIM ({against('ssim', mse)}).")
    if mse is None and ssim is None:
        return f"{a} and {b} score the same on these sequences, to the places shown."
    return ("Neither forecasts these sequences better on both: "
            + (f"{mse} has the lower MSE ({against('mse', mse)})" if mse else "they tie on MSE") + ", "
            + (f"{ssim} the higher SSIM ({against('ssim', ssim)})" if ssim else "they tie on SSIM") + ".")
