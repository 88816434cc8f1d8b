"""Forecast: a real closed-loop forecast of a test sequence, beside the truth."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import media, metrics
from ui.shared import CONTEXT, checkpoint_ui, forecast_sequence, gif_ui, sequence_ui

MAX_HORIZON = 30


def per_frame_chart(name: str, curves: dict, better: str) -> go.Figure:
    figure = go.Figure()
    for label, values in curves.items():
        figure.add_trace(go.Scatter(x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name=label,
                                    line={"width": 4 if label == "model" else 2, "dash": "solid" if label == "model" else "dot"}))
    figure.update_layout(title=f"{name} per predicted frame ({better} is better)", xaxis_title="frames ahead",
                         yaxis_title=name, height=360, margin={"t": 50, "b": 10})
    return figure


st.title("Forecast")
st.markdown(
    "The model sees **only the first 10 frames** (blue). Every orange frame is predicted from the "
    "model's own previous prediction: a real closed-loop forecast, never fed the true future."
)
left, middle, right = st.columns([2, 2, 1])
with left:
    path = checkpoint_ui("forecast_checkpoint")
with middle:
    index = sequence_ui("forecast")
with right:
    horizon = st.slider("Frames to predict", 1, MAX_HORIZON, 10, key="forecast_horizon",
                        help="The model trained on 10; beyond that you see how far its idea of motion carries.")

if path is not None:
    context, truth, prediction, seconds = forecast_sequence(str(path), path.stat().st_mtime, index, horizon)
    panels = media.comparison_panels(context, truth, prediction, scale=4)
    gifs = {name: media.encode_gif(frames) for name, frames in panels.items()}

    st.caption(f"Forecast of {horizon} frames took {seconds * 1000:.0f} ms. Blue frame = context given to the model; "
               "orange = predicted in closed loop.")
    for column, (name, gif) in zip(st.columns(3), gifs.items()):
        with column:
            gif_ui(gif, name.capitalize(), f"Animated {name} of test sequence {index}")
            st.download_button(f"Download {name} GIF", gif, file_name=f"sequence-{index}-{name.replace(' ', '-')}.gif",
                               mime="image/gif", on_click="ignore", key=f"forecast_download_{name}", width="stretch")
    # Made only when asked for: encoding the wide GIF costs a tenth of a second on every pick.
    st.download_button("Download all three side by side (GIF)", lambda: media.encode_gif(media.side_by_side(panels)),
                       file_name=f"sequence-{index}-comparison.gif", mime="image/gif", on_click="ignore",
                       key="forecast_download_combined")

    st.image(media.frame_strip({"truth": np.concatenate([context, truth]), "prediction": prediction}, context=CONTEXT),
             caption="Frames 0-9: context. From frame 10: the model's forecast under the truth.",
             alt="Frame strip with the context, the true future and the predicted future")

    truth_unit, prediction_unit = truth[None] / 255.0, prediction[None]
    context_unit = context[None] / 255.0
    candidates = {"model": prediction_unit, **{name: make(context_unit, horizon) for name, make in metrics.BASELINES.items()}}
    scores = {name: metrics.score(values, truth_unit) for name, values in candidates.items()}
    left, right = st.columns(2)
    left.plotly_chart(per_frame_chart("MSE", {n: s.per_frame["mse"] for n, s in scores.items()}, "lower"),
                      width="stretch", key="forecast_mse")
    right.plotly_chart(per_frame_chart("SSIM", {n: s.per_frame["ssim"] for n, s in scores.items()}, "higher"),
                       width="stretch", key="forecast_ssim")
    st.caption("MSE is the squared error summed over the 64x64 pixels of a frame (values in [0, 1]), as the "
               "field reports it. The baselines: predicting black frames, and holding the last context frame still.")
