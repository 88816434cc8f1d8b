"""Evaluate: a model (or two) on many test sequences, against the baselines."""

import threading

import numpy as np
import streamlit as st

from core import data
from ui.charts import per_frame_chart
from ui.limits import LIMITS
from ui.shared import CONTEXT, bounded, checkpoint_ui, checkpoints, keep_values, load_model


@st.cache_resource
def results_cache() -> tuple[dict, threading.Lock]:
    """Evaluations already run on this server, by (checkpoint, modification time, count)."""
    return {}, threading.Lock()


@st.cache_data(max_entries=4, show_spinner=False)
def test_set(count: int) -> np.ndarray:
    return data.moving_mnist("test", count)


def evaluate_ui(path, count: int, name: str) -> dict:
    from core.evaluation import evaluate

    cache, lock = results_cache()
    key = (str(path), path.stat().st_mtime, count)
    with lock:
        if key in cache:
            return cache[key]
    bar = st.progress(0.0, text=f"Evaluating {name} on {count} sequences...")
    model = load_model(path)
    def report(done: int, total: int) -> None:
        text = f"{name}: forecast {done}/{total} sequences" if done < total else f"{name}: scoring (SSIM) {total} sequences..."
        bar.progress(0.8 * done / total, text=text)

    results = evaluate(model, test_set(count), CONTEXT, progress=report)
    bar.empty()
    with lock:
        cache[key] = results
    return results


st.title("Evaluate")
st.markdown(
    "Forecast many test sequences from their first 10 frames and score the 10 predicted frames. "
    "**MSE** and **MAE** sum the error over the 64x64 pixels of a frame (lower is better); **SSIM** "
    "(structure, 1 is perfect) and **PSNR** (dB) are higher-is-better. A model is only useful if it beats "
    "both baselines: black frames, and the last context frame held still."
)
keep_values(["evaluate_compare", "evaluate_count"])  # coming back shows the last results, not the defaults
left, middle, right = st.columns([2, 3, 2])
with left:
    first = checkpoint_ui("evaluate_checkpoint", "Model")
with middle:
    available = checkpoints()
    others = ["(none)"] + [name for name, path in available.items() if path != first]
    if st.session_state.get("evaluate_compare") not in others:  # a model since deleted, or the one picked on the left
        st.session_state.pop("evaluate_compare", None)
    second_name = st.selectbox("Compare with", others, key="evaluate_compare")
with right:
    bounded("evaluate_count", 10, LIMITS.evaluate_sequences)
    count = st.slider("Test sequences", 10, LIMITS.evaluate_sequences, 100, step=10, key="evaluate_count",
                      help=f"At most {LIMITS.evaluate_sequences}: the server is shared.")

if first is not None:
    chosen = {st.session_state.evaluate_checkpoint: first}
    if second_name != "(none)":
        chosen[second_name] = available[second_name]
    if st.button("Evaluate", type="primary", key="evaluate_run"):
        st.session_state.evaluate_request = (tuple(str(p) for p in chosen.values()), count)
    if st.session_state.get("evaluate_request") == (tuple(str(p) for p in chosen.values()), count):
        results = {name: evaluate_ui(path, count, name) for name, path in chosen.items()}
        rows = {name: scores["model"] for name, scores in results.items()}
        baselines = next(iter(results.values()))
        rows.update({f"baseline: {name}": baselines[name] for name in ("black frames", "repeat last frame")})
        st.dataframe(
            {"": list(rows), **{metric.upper(): [getattr(s, metric) for s in rows.values()]
                                 for metric in ("mse", "mae", "ssim", "psnr")}},
            hide_index=True, width="stretch",
            column_config={"MSE": st.column_config.NumberColumn(format="%.1f"),
                           "MAE": st.column_config.NumberColumn(format="%.1f"),
                           "SSIM": st.column_config.NumberColumn(format="%.3f"),
                           "PSNR": st.column_config.NumberColumn(format="%.2f")},
        )
        left, right = st.columns(2)
        for column, metric, better in ((left, "mse", "lower"), (right, "ssim", "higher")):
            curves = {name: scores.per_frame[metric] for name, scores in rows.items()}
            column.plotly_chart(per_frame_chart(metric.upper(), curves, better), width="stretch", key=f"evaluate_{metric}")
        st.caption(f"{count} bundled test sequences (test digits only), 10 context -> 10 predicted frames.")
