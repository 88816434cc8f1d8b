"""Train: a short training run in a worker thread, with live curves and predictions."""

import time

import plotly.graph_objects as go
import streamlit as st

from core import media
from ui.jobs import collect_finished, new_checkpoint_path, registry
from ui.shared import SHIPPED, device_label, gif_ui, session_id, show_error

PRESETS = {"Fast ConvLSTM (recommended)": "convlstm", "keras.io example's model (slow, to compare)": "keras-io"}


def settings_ui():
    """The run's settings as a core TrainConfig (or None if invalid)."""
    from core.errors import InputError
    from core.training import TrainConfig

    left, right = st.columns(2)
    with left:
        preset_label = st.selectbox("Model", list(PRESETS), key="train_preset")
        preset = PRESETS[preset_label]
        start_options = ["From scratch"] + (["From the shipped model"] if preset == "convlstm" and SHIPPED.is_file() else [])
        start = st.radio("Start", start_options, horizontal=True, key="train_start",
                         help="From the shipped model, training fine-tunes what it already knows.")
        digits = st.radio("Digits per sequence", [1, 2], index=1, horizontal=True, key="train_digits",
                          help="One digit is easier: the model learns faster.")
    with right:
        budget = st.radio("Budget", ["Time", "Epochs"], horizontal=True, key="train_budget")
        if budget == "Time":
            minutes = st.slider("Minutes", 0.5, 10.0, 1.0, step=0.5, key="train_minutes")
            epochs = 10_000
        else:
            minutes = None
            epochs = st.slider("Epochs (256 sequences each)", 1, 40, 4, key="train_epochs")
        batch_size = st.select_slider("Batch size", [4, 8, 16, 32], value=16, key="train_batch")
        learning_rate = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 3e-3], value=1e-3,
                                         format_func=lambda v: f"{v:g}", key="train_lr")
    from_shipped = start == "From the shipped model"
    try:
        return TrainConfig(
            preset=preset, minutes=minutes, epochs=epochs, epoch_sequences=256, batch_size=batch_size,
            learning_rate=learning_rate, num_digits=digits, val_count=16,
            # A fresh model eases from teacher forcing into closed loop over the first half;
            # the shipped one already forecasts in closed loop.
            sampling_sequences=0 if from_shipped else None,
            init_from=str(SHIPPED) if from_shipped else None,
        )
    except InputError as error:
        show_error(error)
        return None


def curves(state) -> go.Figure:
    figure = go.Figure()
    if state["loss"]:
        seen, loss = zip(*state["loss"])
        figure.add_trace(go.Scatter(x=seen, y=loss, name="training loss (binary cross-entropy)", mode="lines"))
    if state["val_mse"]:
        seen, val = zip(*state["val_mse"])
        figure.add_trace(go.Scatter(x=seen, y=val, name="validation MSE (closed loop)", mode="lines+markers", yaxis="y2"))
    figure.update_layout(
        title="Learning curves", xaxis_title="sequences seen", height=380, margin={"t": 50, "b": 10},
        yaxis={"title": "training loss"}, yaxis2={"title": "validation MSE", "overlaying": "y", "side": "right"},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


@st.fragment(run_every=1.0)
def progress_ui():
    job = registry().latest(session_id())
    other = registry().running()
    if other is not None and other.owner != session_id():
        left = other.seconds_left()
        when = "has just started" if left is None else f"ends in about {left:.0f} s"
        st.info(f"Someone else is training right now; their run {when}. "
                "One run at a time keeps the server responsive: try again then.", icon=":material/hourglass_top:")
    if job is None:
        return
    state = job.progress.snapshot()
    if job.running:
        eta = state["eta_seconds"]
        text = f"{state['status']}: {state['sequences_seen']} sequences seen"
        if state["sequences_per_second"]:
            text += f", {state['sequences_per_second']:.1f} sequences/s"
        if eta is not None:
            text += f", about {eta:.0f} s left"
        st.progress(min(1.0, state["fraction"]), text=text)
        if st.button("Stop (keeps what was learned)", icon=":material/stop:", key="train_stop"):
            job.progress.request_stop()
    elif state["status"] == "failed":
        st.error(f"Training failed: {state['error']}")
    else:
        st.success(f"Training {state['status']} after {state['sequences_seen']} sequences "
                   f"({state['elapsed']:.0f} s). Saved as **{job.label}**: pick it on Forecast or Evaluate.")
        collect_finished()
    left, right = st.columns([3, 2])
    left.plotly_chart(curves(state), width="stretch", key="train_curves")
    with right:
        if state["sample"] is not None:
            context, truth, predicted = state["sample"]
            gif_ui(media.comparison_gif(context, truth, predicted, scale=3),
                   f"A fixed validation sequence, forecast after {state['val_mse'][-1][0]} sequences "
                   f"(MSE {state['val_mse'][-1][1]:.1f}).", "Prediction of a validation sequence during training")
        elif job.running:
            st.caption("The first prediction appears after the first epoch.")


st.title("Train")
st.markdown(
    "Train a model right here. Training runs in the background: you can switch pages and come back. "
    f"The validation score is a real closed-loop forecast (lower is better). Device: **{device_label()}**."
)
config = settings_ui()
running = registry().running()
if st.button("Start training", icon=":material/play_arrow:", type="primary", key="train_start_button", disabled=running is not None or config is None):
    label, out = new_checkpoint_path()
    config.out = str(out)
    try:
        registry().start(session_id(), label, out, config)
    except RuntimeError:
        st.warning("Another training run started just now; wait for it to finish.")
    time.sleep(0.2)
progress_ui()
