"""Evaluate: a model (or two) on many test sequences, against the baselines."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

from pathlib import Path

import pandas as pd
import streamlit as st

from core.checkpoints import read_checkpoint_info
from ui.charts import describe_curves, per_frame_chart
from ui.evaluations import evaluations
from ui.limits import LIMITS, Busy
from ui.sessions import session_id
from ui.shared import (BASELINES_EXPLAINED, SHIPPED_LABEL, SSIM_OF_BLACK, TEST_COUNT, bounded_slider, chart_ui,
                       checkpoint_ui, checkpoints, keep_values, load_model, model_thread, model_words_ui, put,
                       say_gone)
from ui.verdict import head_to_head, standing

TABLE_PLACES = {"mse": 1, "mae": 1, "ssim": 3, "psnr": 2}  # decimal places of each score in the table
# Which way is better, on each column: the words above the table said it, the table itself did
# not, for a class looking at it scrolled into view or a screen reader reading its cells (a review).
TABLE_HEADERS = {"mse": "MSE (lower is better)", "mae": "MAE (lower is better)", "ssim": "SSIM (higher is better)",
                 "psnr": "PSNR in dB (higher is better)"}


@st.fragment(run_every=1.0)
def progress_ui(runs: dict) -> None:
    """Redrawn every second until every evaluation asked for is finished."""
    if all(run.finished for run in runs.values()):
        st.rerun()  # once, to draw the results without the timer
    for name, run in runs.items():
        st.progress(run.fraction, text=run.describe(name, evaluations().ahead_of(run)))
    st.caption("The evaluation goes on if you change page: come back for the results.")


def announce_ui(runs: dict) -> None:
    """A toast when the evaluation a visitor watched ends: the table appeared
    without a word to a screen reader (a toast is read out as an alert, as a
    failure's error message already is)."""
    done = {name: run.results for name, run in runs.items() if run.status == "done"}
    if done:
        models = ", ".join(f"{name} {results['model'].mse:.1f}" for name, results in done.items())
        black = next(iter(done.values()))["black frames"].mse
        st.toast(f"Evaluation finished. MSE: {models}; black frames {black:.1f}.", icon=":material/check_circle:")


def results_ui(runs: dict, count: int) -> None:
    """The scores table and per-frame curves of finished evaluations."""
    failed = {name: run.error for name, run in runs.items() if run.status == "failed"}
    for name, error in failed.items():
        st.error(f"Evaluating {name} failed: {error}. Click Evaluate to try again.", icon=":material/error:")
    for name, run in runs.items():
        if run.status == "cancelled":  # from another tab of this browser
            st.info(f"The evaluation of {name} on {count:,} sequences stopped when this browser asked for another; "
                    "click Evaluate to run it.", icon=":material/info:")
    results = {name: run.results for name, run in runs.items() if run.status == "done"}
    if not results:
        return
    rows = {name: scores["model"] for name, scores in results.items()}
    baselines = next(iter(results.values()))
    rows.update({f"baseline: {name}": baselines[name] for name in ("black frames", "repeat last frame")})
    # An HTML table, not st.dataframe: four rows need no grid, whose canvas cost a
    # phone 1.5 MB of JavaScript and a keyboard user four Tab presses. Its cells hold
    # the formatted text, which a screen reader reads (it read 52.99505035435584).
    table = pd.DataFrame({"Model or baseline": list(rows),
                          **{TABLE_HEADERS[metric]: [getattr(s, metric) for s in rows.values()] for metric in TABLE_PLACES}})
    st.table(table.style.format({TABLE_HEADERS[metric]: f"{{:.{places}f}}" for metric, places in TABLE_PLACES.items()}),
             hide_index=True)
    st.caption(SSIM_OF_BLACK)  # beside the 0.77 it explains
    st.markdown(" ".join(standing(f"**{name}**", scores) for name, scores in results.items())
                + (" " + head_to_head(*((f"**{name}**", scores) for name, scores in results.items()))
                   if len(results) == 2 else ""))
    left, right = st.columns(2)
    for column, metric, better in ((left, "mse", "lower"), (right, "ssim", "higher")):
        curves = {name: scores.per_frame[metric] for name, scores in rows.items()}
        with column:
            chart_ui(per_frame_chart(metric.upper(), curves, better), key=f"evaluate_{metric}",
                     alt=describe_curves(metric.upper(), curves))
    # Per model: a sum would add the time of a run kept from an earlier click.
    took = [(f"{run.seconds:.0f} s" if run.seconds >= 1 else "under a second") + (f" for {name}" if len(runs) > 1 else "")
            for name, run in runs.items() if run.seconds is not None]
    # A class set 100 sequences' 51.7 beside the card's 50.1 and asked which was right.
    card = (f" The shipped model's card (docs/model-card.md) scores all {TEST_COUNT:,}, so its "
            "figures differ a little from these." if SHIPPED_LABEL in runs and count < TEST_COUNT else "")
    st.caption(f"{count:,} bundled test sequences (test digits only), 10 context -> 10 predicted frames"
               + (f"; scored in {' and '.join(took)}." if took else ".") + card)


st.title("Evaluate", anchor=False)
st.markdown("Forecast many test sequences from their first 10 frames, score the 10 predicted frames against the "
            "truth, and set the scores beside two baselines that no model should lose to: **a model is only useful "
            "if it beats both**.")
# Folded: seven lines of definitions pushed the results under the fold of a 1280 x 800 projector.
with st.expander("What do MSE, MAE, SSIM and PSNR mean, and what are the baselines?", icon=":material/help:"):
    st.markdown(
        "**MSE** (mean squared error) and **MAE** (mean absolute error) add up the errors of a frame's 4,096 "
        "pixels, as the field reports them (lower is better; divide by 4,096 for the mean per pixel); **SSIM** "
        "(structural similarity: 1 is a perfect match) and **PSNR** (peak signal-to-noise ratio, in dB: 10 log10 of "
        "1 over the mean squared error per pixel, so a smaller error scores higher) are higher-is-better. "
        + BASELINES_EXPLAINED
    )
SETTINGS = ["evaluate_checkpoint", "evaluate_compare", "evaluate_count"]
# A reload is a new session: it reopened on the defaults, and a long evaluation
# still going on the settings clicked was nowhere to be seen. The browser's id finds them.
if "evaluate_restored" not in st.session_state:  # once per session: later changes are the visitor's
    st.session_state.update(evaluations().last_click(session_id()), evaluate_restored=True)
# Coming back shows the last results, not the defaults, even if another page picked another model meanwhile.
keep_values(SETTINGS)
left, middle, right = st.columns([2, 3, 2])
with left:
    first = checkpoint_ui("evaluate_checkpoint")
with middle:
    available = checkpoints()
    others = ["(none)"] + [name for name, path in available.items() if path != first]
    compared = st.session_state.get("evaluate_compare")
    if compared not in others:  # a model since deleted, or the one picked on the left
        put("evaluate_compare", "(none)")  # and kept: the page reopened on the deleted one, toast and all
        if compared is not None and compared not in available:
            say_gone(compared, "no model is compared with it now")
    second_name = st.selectbox("Compare with", others, key="evaluate_compare",
                               help="Another model: the ones you train on the Train page appear here.")
    if second_name in available:
        model_words_ui(second_name, available[second_name])
chosen = {} if first is None else {st.session_state.evaluate_checkpoint: first}
if first is not None and second_name != "(none)":
    chosen[second_name] = available[second_name]
# The keras.io model forecasts about 9 s a sequence here: 1,000 would hold the server for hours.
slow = any(read_checkpoint_info(path)[0].preset == "keras-io" for path in chosen.values())
most = LIMITS.keras_io_evaluate_sequences if slow else LIMITS.evaluate_sequences
with right:
    count = bounded_slider("Test sequences", 10, most, key="evaluate_count", default=min(100, most),
                           name="sequences", step=10, help=f"At most {most}: the server is shared"
                           + (", and the keras.io model takes about 9 s a sequence." if slow else "."))

arrived = st.session_state.pop("evaluate_on_arrival", False)  # from the Train page's "Evaluate it": a click
if first is not None:
    clicked = st.button("Evaluate", type="primary", key="evaluate_run") or arrived
    request = (tuple(str(p) for p in chosen.values()), count)
    earlier = st.session_state.get("evaluate_request")
    if clicked:
        st.session_state.evaluate_request = request
    named = {str(path): name for name, path in available.items()}  # the models of runs asked for before
    if st.session_state.get("evaluate_request") == request:
        try:
            runs = {name: evaluations().request(path, count, load_model, model_thread(), owner=session_id(),
                                                again=clicked)
                    for name, path in chosen.items()}
        except Busy:
            # The run asked for before goes on, and its settings show it again.
            if clicked and earlier is not None:
                st.session_state.evaluate_request = earlier
            else:
                st.session_state.pop("evaluate_request")
            st.warning("The server is busy with other visitors' evaluations; try again in a minute.",
                       icon=":material/hourglass_top:")
        else:  # kept only once accepted: a reload after a busy refusal started a run no one asked for
            if clicked:  # and only then is the browser's earlier request dropped
                # It went without a word: back at its settings, the page offered to start it again.
                for stopped_path, stopped in evaluations().withdraw(session_id(), list(chosen.values()), count):
                    st.toast(f"Stopped scoring {named.get(stopped_path, Path(stopped_path).name)} on {stopped.total} "
                             "test sequences, for this evaluation.", icon=":material/cancel:")
                evaluations().remember(session_id(), {key: st.session_state[key] for key in [*SETTINGS, "evaluate_request"]})
            if all(run.finished for run in runs.values()):
                if st.session_state.pop("evaluate_watched", None) == request:
                    announce_ui(runs)
                elif clicked:  # scores shown already: the click changed nothing, and the button read as broken
                    # Short: the longer words were folded behind "view more".
                    st.toast(f"Already scored on these {count:,} sequences: a model scores the same every time.",
                             icon=":material/check_circle:")
                results_ui(runs, count)
            else:
                st.session_state.evaluate_watched = request
                progress_ui(runs)
    elif all(known := [evaluations().done(path, count) for path in chosen.values()]):
        # Scores the server already has (this browser's before a reload, or
        # another visitor's of the shipped model) show without a click.
        results_ui(dict(zip(chosen, known)), count)
    else:  # after a change of model or count, results that vanished without a word looked lost
        st.caption(f"Press Evaluate to score {' and '.join(chosen)} on {count:,} test sequences.")
    # A run asked for before a change of settings goes on out of sight: its progress
    # bar vanished, and the page read as if it had been dropped.
    if st.session_state.get("evaluate_request") != request and (hidden := evaluations().going(session_id())):
        scoring = " and ".join(f"{named.get(path, Path(path).name)} on {run.total} test sequences ({run.done} done)"
                               for path, run in hidden)
        st.caption(f"Still scoring {scoring}, as you asked before: put the settings back to watch it. Pressing "
                   "Evaluate gives it up for these settings.")
