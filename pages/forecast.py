"""Forecast: a real closed-loop forecast of a test sequence, beside the truth."""

import numpy as np
import streamlit as st

from core import media, metrics
from ui.charts import per_frame_chart
from ui.limits import LIMITS
from ui.shared import CONTEXT, bounded, checkpoint_ui, forecast_sequence, gif_ui, sequence_ui


@st.cache_data(max_entries=64, show_spinner=False)
def score_forecast(path: str, stamp: float, index: int, horizon: int) -> dict:
    context, truth, prediction, _ = forecast_sequence(path, stamp, index, horizon)
    return metrics.with_baselines(context[None] / 255.0, truth[None] / 255.0, prediction[None])



st.title("Forecast")
st.markdown(
    "The model sees **only the first 10 frames** (blue). Every orange frame is predicted from the "
    "model's own previous prediction: a real closed-loop forecast, never fed the true future."
)
left, middle, right = st.columns([2, 3, 2])
with left:
    path = checkpoint_ui("forecast_checkpoint")
with middle:
    index = sequence_ui("forecast")
with right:
    bounded("forecast_horizon", 1, LIMITS.horizon)
    horizon = st.slider("Frames to predict", 1, LIMITS.horizon, 10, key="forecast_horizon",
                        help="The model trained on 10. Beyond that you see how far its idea of motion carries; "
                        "the true frames come from the same generator, continued.")

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

    scores = score_forecast(str(path), path.stat().st_mtime, index, horizon)
    worse = np.flatnonzero(scores["model"].per_frame["mse"] > scores["black frames"].per_frame["mse"])
    breakdown = int(worse[0]) + 1 if len(worse) else None
    left, right = st.columns(2)
    left.plotly_chart(per_frame_chart("MSE", {n: s.per_frame["mse"] for n, s in scores.items()}, "lower", breakdown),
                      width="stretch", key="forecast_mse")
    right.plotly_chart(per_frame_chart("SSIM", {n: s.per_frame["ssim"] for n, s in scores.items()}, "higher"),
                       width="stretch", key="forecast_ssim")
    if breakdown is None:
        st.caption(f"The forecast beats predicting black frames at every one of the {horizon} frames.")
    else:
        st.caption(f"From frame +{breakdown} (dashed line) the forecast is worse than predicting black frames: "
                   "past that point it is no longer useful.")
    st.caption("MSE is the squared error summed over the 64x64 pixels of a frame (values in [0, 1]), as the "
               "field reports it. The baselines: predicting black frames, and holding the last context frame still.")
