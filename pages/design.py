"""Design a sequence: place digits, aim them, and see whether the model follows."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import hashlib

import numpy as np
import streamlit as st

from core import data, media
from core.checkpoints import read_checkpoint_info
from ui.charts import describe_paths, paths_chart
from ui.pictures import comparison_ui, file_slug, forecast_strip_ui, picture_download_ui, wall_marks
from ui.shared import (CONTEXT, bounded_slider, chart_ui, checkpoint_ui, forecast_frames, horizon_limit, keep_values,
                       stack_below)
from ui.verdict import against_still, frames_behind, score_one, verdict

MAX_DIGITS = 3
# Situations worth trying, one click away: (digits as (class, example, row, col, angle, speed), length).
# At the dataset's speed, 1, but where a lesson is another speed: at 0.8, which it never trained on, the
# bounces' forecasts drifted (MSE 20 rising to 114 a frame), and a class blamed the bounce.
PRESETS = {
    "Bounce off a wall": ([(3, 0, 0.5, 0.0, 0, 1.0)], 20),
    # Apart through the context, through each other from +3 to +6, apart again by +7, at the dataset's
    # speed (slower ones it never trained on): at 0.5 on one row they met at context frame 10 and
    # overlapped from 7 to +3, so the given frames answered "will it predict the crossing?".
    "Two digits crossing": ([(1, 0, 0.3, 0.1, 340, 1.0), (7, 0, 0.9, 0.4, 220, 1.0)], 20),
    "A corner bounce as the context ends": ([(5, 0, 0.7, 0.7, 225, 1.0)], 20),
    "Three digits (more than in training)": ([(2, 0, 0.1, 0.2, 30, 1.0), (6, 1, 0.8, 0.5, 200, 1.0), (9, 2, 0.4, 0.9, 120, 1.0)], 20),
    "Slower than in training": ([(4, 0, 0.3, 0.2, 30, 0.5)], 20),
}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}


def outside_training(path, count: int, speeds: np.ndarray, predicted: int) -> str | None:
    """What a design asks of the model that it never trained on, in words; None where nothing.

    A class can then tell a model fooled by the unfamiliar from one that cannot follow a motion:
    a slow digit's drift was read as a model that cannot bounce.
    """
    trained = read_checkpoint_info(path)[1].get("num_digits", 2)
    unlike = []
    if count != trained:
        unlike.append(f"{NUMBER_WORDS[count]} digit{'s' * (count != 1)} (it trained on {NUMBER_WORDS[trained]})")
    odd = sorted({float(speed) for speed in speeds if speed != 1.0})
    if odd:  # every training digit moves 3.6 px a frame
        unlike.append(f"a speed of {' and '.join(f'{speed:g}' for speed in odd)} (it trained on 1 only)")
    if predicted > data.SEQUENCE_LENGTH - CONTEXT:
        unlike.append(f"{predicted} predicted frames (it trained on {data.SEQUENCE_LENGTH - CONTEXT})")
    if not unlike:
        return None
    return ("Unlike anything the model trained on: " + "; ".join(unlike) + ". Where it misses, that may be why, "
            "rather than the motion itself.")


@st.cache_data(show_spinner=False)
def gallery(digit: int) -> tuple[np.ndarray, bytes]:
    """The test digits of one class, and the first 20 numbered in a grid (a one-row
    strip of 20 shrank to unreadable numbers in a third of the page)."""
    images, labels = data.mnist_digits("test")
    chosen = images[labels == digit]
    return chosen, media.encode_png(media.numbered_grid(chosen[:20]))


def apply_preset(name: str) -> None:
    digits, length = PRESETS[name]
    st.session_state.design_count = len(digits)
    st.session_state.design_length = length
    for slot, (digit, example, row, col, angle, speed) in enumerate(digits):
        for key, value in zip(("class", "example", "row", "col", "angle", "speed"), (digit, example, row, col, angle, speed)):
            st.session_state[f"design_{key}_{slot}"] = value


def digit_ui(slot: int) -> tuple:
    """One digit's widgets; returns (image, start, angle, speed, class)."""
    # Defaults go into session state (not the widgets) so presets can set them.
    # Apart: two digits never touch over 20 frames, a third barely, and each bounces off a wall in
    # them. All three started on one row 11 px apart, and the first frames showed a "3" and a "7" as one blob.
    row, col, angle = ((0.5, 0.1, 260), (0.1, 0.7, 70), (1.0, 0.8, 180))[slot]
    defaults = {"class": (3 + 4 * slot) % 10, "example": 0, "row": row, "col": col, "angle": angle, "speed": 1.0}
    for name, value in defaults.items():
        st.session_state.setdefault(f"design_{name}_{slot}", value)
    digit = st.selectbox("Class", range(10), key=f"design_class_{slot}")
    images, strip = gallery(digit)
    # As PNG: Streamlit sends an opaque PNG on as JPEG, 3 times the bytes (8 KB against 23-27).
    st.image(strip, caption=f"Test digits of class {digit} (the model never trained on them)",
             alt=f"Thumbnails of test digits of class {digit}", output_format="PNG")
    example = st.slider("Which one", 0, 19, key=f"design_example_{slot}")
    # Frame 1 shows the digit one step on from here: a digit started at column 0 showed 7 px in.
    moved = ("As in the dataset, the digit moves one step before frame 1 is drawn, so frame 1 shows it a step "
             "along its direction (the star on the paths chart).")
    row = st.slider("Start: row (0 top, 1 bottom)", 0.0, 1.0, key=f"design_row_{slot}", help=moved)
    col = st.slider("Start: column (0 left, 1 right)", 0.0, 1.0, key=f"design_col_{slot}", help=moved)
    angle = st.slider("Direction (degrees; 0 right, 90 down)", 0, 359, key=f"design_angle_{slot}")
    # Fine steps: at 0.25 a preset's 0.8 could not be set again once dragged.
    speed = st.slider("Speed (1 = the dataset's 3.6 px per frame)", 0.25, 2.0, step=0.05, key=f"design_speed_{slot}")
    return images[example], (row, col), angle, speed, digit


st.title("Design a sequence", anchor=False)
keep_values(["design_count", "design_length"] + [f"design_{name}_{slot}" for slot in range(MAX_DIGITS)
                                                 for name in ("class", "example", "row", "col", "angle", "speed")])
st.markdown("Put up to three test digits on the canvas, aim them, and see whether the model predicts where they go. "
            "The frames come from the same generator as the dataset; the model sees the first 10 and forecasts the rest.")
# A row of buttons as wide as their names, wrapping in a narrow window: in four
# equal columns the longer names were cut ("Leaving the context at a c...").
presets = st.container(horizontal=True)
for name in PRESETS:
    presets.button(name, key=f"design_preset_{name}", on_click=apply_preset, args=(name,))

# The forecast on the left and the controls beside it, each digit's in a tab: with
# the digits' settings in a row under the forecast, a change at 1920 px was made
# 1,000 px below the picture it changed, and on a phone 15 sliders stood between.
# Columns stack on a phone with the forecast first, so the frame strip comes after
# both: in the forecast's column it put the sliders 1,900 px below the GIF on a
# phone. On a wider screen the forecast stays in view while the page scrolls: at
# 1366 x 768 the GIF had left the screen by the time the direction and speed sliders
# came into it. The paths chart comes after both. Below 1,100 px (a tablet, or a
# laptop's half screen) they stack too.
st.html("""<style>@media (min-width: 1101px) {
  [data-testid='stColumn']:has(.st-key-design-forecast) { position: sticky; top: 3.75rem; align-self: flex-start; }
}</style>""")
stack_below("design-forecast")
result, controls = st.columns([2, 1], gap="large")
with controls:
    path = checkpoint_ui("design_checkpoint")
    st.session_state.setdefault("design_count", 2)
    count = st.radio("Digits", [1, 2, 3], horizontal=True, key="design_count")
    longest = CONTEXT + min(30, horizon_limit(path) if path is not None else 30)
    length = bounded_slider("Frames (10 context + the rest predicted)", CONTEXT + 1, longest, key="design_length",
                            default=20, name="length")
    settings = []
    for slot, tab in enumerate(st.tabs([f"Digit {slot + 1}" for slot in range(count)])):
        with tab:
            settings.append(digit_ui(slot))
images, starts, angles, speeds, classes = (np.array(values) for values in zip(*settings))
sequence = data.design(images, starts, angles, speeds, length, classes)

with result:
    if path is not None:
        context, truth = sequence.frames[0, :CONTEXT], sequence.frames[0, CONTEXT:]
        prediction, *_ = forecast_frames(path, context, len(truth))
        with st.container(key="design-forecast"):
            # Truth and prediction only, as on Train: three panels in the forecast's two thirds of a
            # 1280 x 720 projector were 181 px tall, their labels 8 px; two are as large as Forecast's.
            # The verdict below scores the error.
            walls = wall_marks(sequence)
            gif = comparison_ui(media.comparison_panels(context, truth, prediction, scale=4, error=False, walls=walls),
                                "the designed sequence", bounces=bool(walls))
            # Named by its digits and their directions, and a mark of its frames for designs
            # those do not tell apart: with one name for every design, a teacher's second
            # download replaced the first, or came as "(1)".
            design_name = "-".join(f"{digit}-at-{angle}deg" for digit, angle in zip(classes, angles))
            mark = hashlib.blake2s(sequence.frames.tobytes(), digest_size=3).hexdigest()
            picture_download_ui("Download the GIF", gif, f"designed-{design_name}-{mark}-"
                                f"{file_slug(st.session_state.design_checkpoint)}.gif", "design_download")
        # In words too: a screen reader had only the GIF's alt text, and never learnt whether the model followed.
        scores = score_one(context, truth, prediction)
        frames_words = "the predicted frame" if len(truth) == 1 else f"the {len(truth)} predicted frames"
        # The verdict first, its terms explained: a class met "MSE" and "SSIM" here with no word of what they are.
        # The sum, not the mean, over a frame's pixels: 66 for pixels of at most 1 read as impossible.
        st.markdown(verdict(frames_behind(scores, "mse"), frames_behind(scores, "ssim"), len(truth), charted=False,
                            explained=True)
                    + f" Over {frames_words} the model's MSE is {scores['model'].mse:.1f} a frame (its 4,096 pixels' "
                    f"squared errors summed), black frames' {scores['black frames'].mse:.1f}. " + against_still(scores))
        unfamiliar = outside_training(path, count, speeds, len(truth))
        if unfamiliar:
            st.info(unfamiliar, icon=":material/science:")
# As wide as the forecast's column, under it: in the controls' third of the page it was cut at 1024 px.
with st.columns([2, 1], gap="large")[0]:
    chart_ui(paths_chart(sequence), key="design_paths", alt=describe_paths(sequence))
if path is not None:
    forecast_strip_ui(context, truth, prediction, sequence)  # a still view beside the looping GIF
