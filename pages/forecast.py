"""Forecast: a real closed-loop forecast of a test sequence (or one sent from the Dataset page), beside the truth."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import functools

import streamlit as st

from core import data, media
from core.checkpoints import read_checkpoint_info
from ui.charts import describe_curves, per_frame_chart
from ui.limits import LIMITS
from ui.pictures import comparison_ui, file_slug, forecast_strip_ui, picture_download_ui, wall_marks
from ui.shared import (BASELINES_EXPLAINED, CONTEXT, OUTSIDE_SEQUENCE, SSIM_OF_BLACK, TEST_SET_SOURCE, bounded_slider,
                       chart_ui, checkpoint_ui, context_length, forecast_frames, forecast_sequence, horizon_limit,
                       keep_values, sequence_ui, test_sequence, timing_words)
from ui.verdict import against_still, dashed_from, frames_behind, score_one, verdict


def source_ui() -> dict | None:
    """The sequence sent from the Dataset page, if that is what to forecast; None for the test set."""
    outside = st.session_state.get(OUTSIDE_SEQUENCE)
    wanted = st.session_state.pop("forecast_wanted", None)
    if not outside:
        return None
    options = [TEST_SET_SOURCE, outside["label"]]
    if wanted in options:
        st.session_state.forecast_source = wanted
    elif st.session_state.get("forecast_source") not in options:
        st.session_state.forecast_source = TEST_SET_SOURCE
    choice = st.radio("Sequence from", options, key="forecast_source", horizontal=True,
                      format_func=lambda option: option[:1].upper() + option[1:],  # "your file, ..." mid-sentence
                      help="Pick any sequence on the Dataset page (bundled, official or your own file) and press "
                      "'Forecast this sequence' there.")
    return outside if choice != TEST_SET_SOURCE else None


def panel_gif(context, truth, prediction, walls: dict, panel: str) -> bytes:
    """One panel of `core.media.comparison_panels` as a GIF, drawn again for its download."""
    # At twice the page's scale, as Dataset's: a slide blurred the 262 px panel. Not a long forecast's:
    # 70 frames of three 8x panels are 165 MB of the shared server's memory for a moment.
    scale = 8 if len(context) + len(prediction) <= data.SEQUENCE_LENGTH else 4
    return media.encode_gif(media.comparison_panels(context, truth, prediction, scale=scale, walls=walls)[panel])


st.title("Forecast", anchor=False)
st.markdown(
    "The model sees **only the first 10 frames** (blue). It predicts frame +1 from them, and every later orange "
    "frame from its own previous prediction and the memory it built over the context: a real closed-loop "
    "forecast, never fed the true future."
)
# Coming back from another page shows the same forecast, as Evaluate and Design do.
keep_values(["forecast_horizon", "forecast_source"])
left, middle, right = st.columns([2, 3, 2])
with left:
    path = checkpoint_ui("forecast_checkpoint")
with middle:
    outside = source_ui()
    index = sequence_ui("forecast") if outside is None else None
with right:
    most = horizon_limit(path) if path is not None else LIMITS.horizon
    horizon = bounded_slider("Frames to predict", 1, most, key="forecast_horizon", default=10,
                             name="frames to predict",
                             help="The model trained on 10. Beyond that you see how far its idea of motion carries; "
                             "the true frames come from the same generator, continued."
                             + ("" if most == LIMITS.horizon else f" At most {most} with the slow keras.io model."))

if path is not None:
    sequence = None  # a file's sequence, whose bounces are not known
    if outside is None:
        name, slug = f"test sequence {index}", f"test-sequence-{index}"
        context, truth, prediction, seconds, built = forecast_sequence(path, index, horizon)
        sequence = test_sequence(index, CONTEXT + horizon)
    else:
        name, slug = outside["label"], outside["slug"]
        frames = outside["frames"]
        known = context_length(len(frames))
        context, truth = frames[:known], frames[known : known + horizon]
        prediction, seconds, built = forecast_frames(path, context, horizon)
        if known < CONTEXT:
            st.info(f"This sequence has only {len(frames)} frames: the model gets the first {known}, with the first "
                    f"one repeated in front to make {CONTEXT} (see 'Padding' on the Dataset page), and the last one "
                    "is kept to score the forecast on.")
        if len(truth) < horizon:  # a short sequence too: its ground truth GIF says "no data" after its last frame
            st.info(f"The sequence ends {len(truth)} frame{'s' * (len(truth) != 1)} after the context: the forecast "
                    "goes on past the data (the ground truth and the error say 'no data' there), and only those "
                    "frames are scored.")
    walls = wall_marks(sequence)
    panels = media.comparison_panels(context, truth, prediction, scale=4, walls=walls)

    config = read_checkpoint_info(path)[0]
    floor = config.output_floor
    # The name, here too: after an out-of-range number the input box can go on showing it, not the one drawn.
    st.caption(f"Forecast of {horizon} frame{'s' * (horizon != 1)} of {name} took {timing_words(seconds, built)}. Blue frame = context given to the model; "
               "orange = the frames after it: the true ones in the ground truth, predicted in closed loop in the "
               "prediction."
               + (" A small refiner then corrects each predicted frame from its neighbours and the last context "
                  "frame (the model still reads back its own uncorrected frames)." if config.refiner_filters else "")
               + (f" Predicted pixels fainter than {floor * 100:g}% are drawn black: this model's output floor, which clears "
                  "the grey haze it predicts where it is unsure (Inside the ConvLSTM shows the raw output)."
                  if floor else ""))
    combined = comparison_ui(panels, name, bounces=bool(walls))
    # The verdict and its charts next to the picture: under the downloads and the strip they were
    # 1,300 px down, below the fold of a projector.
    scores = score_one(context, truth, prediction[: len(truth)])
    behind, ssim_behind = frames_behind(scores, "mse"), frames_behind(scores, "ssim")
    useless_from = dashed_from(behind, len(truth))  # marked only where the verdict says so
    # Body text, not a caption: the lesson's conclusion was 14 px of grey, washed out on a projector.
    st.markdown(verdict(behind, ssim_behind, len(truth)) + " " + against_still(scores))
    left, right = st.columns(2)
    for column, metric, better, mark in ((left, "MSE", "lower", useless_from), (right, "SSIM", "higher", None)):
        curves = {name: score.per_frame[metric.lower()] for name, score in scores.items()}
        with column:
            chart_ui(per_frame_chart(metric, curves, better, mark), key=f"forecast_{metric.lower()}",
                     alt=describe_curves(metric, curves))
    st.caption("MSE (mean squared error), as the field reports it, adds up the squared errors of a frame's "
               "4,096 pixels (values in [0, 1]): divide by 4,096 for the mean per pixel. SSIM (structural "
               "similarity) compares local shapes, 1 is a perfect match. " + SSIM_OF_BLACK + " " + BASELINES_EXPLAINED)
    # "Download" in each label: a screen reader names the button by its label alone ("Prediction").
    # Functions, called on a click: given bytes, the browser fetched the shown GIF a second time at
    # every pick (155 KB, 3 s on a slow phone link), and each panel's was encoded for nothing. They
    # hold the frames, not the panels: Streamlit keeps them until the visitor's next run, and the
    # panels are 13 MB at 10 frames, 47 MB at 60 (the frames, as floats, 0.5 and 2.1 MB).
    downloads = {"comparison": ("Download all three", combined),
                 **{panel: (f"Download {panel}", functools.partial(panel_gif, context, truth, prediction, walls, panel))
                    for panel in panels}}
    # Which model and how far: a 10- and a 60-frame forecast, or the shipped model's and a run's, had one name.
    model_slug = file_slug(st.session_state.forecast_checkpoint)
    st.caption("Animated GIFs, to keep or show elsewhere:")
    # As wide as their names, wrapping when narrow: in four equal columns at 820 px each was cut ("Predicti...").
    with st.container(horizontal=True):
        for file, (label, gif) in downloads.items():
            picture_download_ui(label, gif, f"{slug}-{horizon}-frames-{model_slug}-{file.replace(' ', '-')}.gif",
                                f"forecast_download_{file}")

    forecast_strip_ui(context, truth, prediction, sequence)

