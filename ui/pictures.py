"""The pictures the pages show: GIFs (still, where the visitor turned animations
off), frame strips with their bounces marked, pictures drawn for a phone's
width, and their download buttons, with the words that explain them.

Drawing is `core.media`'s; this module decides how a page shows it.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from core import data, media
from ui.charts import describe_bounces

# The middle panel is titled "model input" during the context: captions named it "prediction" only.
INPUT_EXPLAINED = "During the context the prediction panel shows the frames the model was given."
# Said beside every picture that marks them: under the strip alone, a class watching the GIF took its flash
# for a glitch.
BOUNCES_EXPLAINED = "A cyan bar on a frame marks the wall a digit bounces off in it."
# The error panel has no colour bar of its own, and a class read its colours as a heat map of the digits.
ERROR_EXPLAINED = ("In the error panel, black is right and brighter is further off, through purple and orange up to "
                   "pale yellow: off by the full brightness.")


def file_slug(text: str) -> str:
    """`text` as part of a download's file name: "Trained here: run 2" -> "trained-here-run-2"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def picture_download_ui(label: str, data, file_name: str, key: str) -> None:
    """A button that downloads a picture (GIF or PNG, by `file_name`): its bytes, or a
    function that draws them.

    Sent as a function, called on a click: given bytes, the browser fetched them a
    second time at every run of the page.
    """
    st.download_button(label, data if callable(data) else lambda: data, file_name=file_name,
                       mime=f"image/{file_name.rsplit('.', 1)[1]}", on_click="ignore", key=key,
                       icon=":material/download:")


ANIMATE = "animate"  # the sidebar's toggle: off, every GIF is shown still


def gif_ui(gif: bytes, caption: str, alt: str, still: int | None = None) -> None:
    """Shows a GIF so that it plays (st.image plays GIF bytes at their own width),
    or, still, where the visitor turned animations off, its frame `still` (from 0:
    the one a slider below picks) or, for None, its last."""
    # Moving pictures that cannot be paused distract some students and stop a teacher pointing at a frame.
    if st.session_state.get(ANIMATE, True):
        st.image(gif, caption=caption, alt=alt)
    else:
        where = "at its last frame" if still is None else "at the frame picked below"
        # PNG: "auto" sent an RGB still as a JPEG, which blurred the digits' pixels.
        st.image(media.gif_still(gif, -1 if still is None else still),
                 caption=f"{caption} Shown still, {where}: animations are off (sidebar).",
                 alt=f"{alt.rstrip('.')}, still {where}", output_format="PNG")


def wall_marks(sequence: data.Sequences | None) -> dict:
    """{frame: walls} where the digits of a generated sequence bounce, for `core.media.frame_strip`;
    empty for a file's sequence, whose motion is not known."""
    marks = {}
    for t, _, wall in data.walls_hit(sequence) if sequence is not None else ():
        marks.setdefault(t, []).append(wall)
    return marks


def bounces_words(sequence: data.Sequences | None, context: int) -> str:
    """A strip's caption's words on `wall_marks`: what the bars mean, and where the digits bounce."""
    # Named frame by frame: a teacher looking for how the model takes a bounce had to find one in the GIF.
    if sequence is None:
        return ""
    # The bars explained only where some are drawn: before "No digit bounces" the words read as if one were missing.
    bars = f" {BOUNCES_EXPLAINED}" if sequence.bounces.any() else ""
    return f"{bars} {describe_bounces(sequence, context)}"


def forecast_strip_ui(context: np.ndarray, truth: np.ndarray, prediction: np.ndarray,
                      sequence: data.Sequences | None = None) -> None:
    """The frames of a forecast side by side, under the true ones: a still view
    beside the GIF (which loops unless animations are off), to compare frame by
    frame. The bounces of `sequence`, the generated sequence forecast (if it is
    one), are marked and named."""
    # Ten frames a line, the context on a line of its own; past 20 frames, twenty a line: 60 at ten a
    # line were taller than a projected screen. On a phone five a line: at ten the 870 px strip was
    # shown in 358, numbers 4 px high; at five, 495 px, they are 7. Both are sent (the narrow one
    # takes 0.05 s to draw for 10 frames, 0.2 s for 60, cached), and the screen's width picks one
    # (CSS in streamlit_app.py).
    ten = data.CONTEXT_FRAMES
    lines = {"wide": 2 * ten if len(context) + len(prediction) > 2 * ten else ten, "narrow": ten // 2}
    walls = wall_marks(sequence)
    widths_ui({width: _strip(context, truth, prediction, per_line, walls) for width, per_line in lines.items()},
              "strip", f"Frames 1-{len(context)}: context. From +1 on: the model's forecast under the ground truth."
              + bounces_words(sequence, len(context)),
              "Frame strip with the context, the true future and the predicted future")


def widths_ui(pictures: dict, name: str, caption: str, alt: str) -> None:
    """Shows {"wide": bytes, "narrow": bytes} in containers keyed "wide-`name`" and
    "narrow-`name`": the screen's width shows one (CSS in streamlit_app.py), which
    Streamlit does not tell a page."""
    for width, picture in pictures.items():
        with st.container(key=f"{width}-{name}"):
            st.image(picture, caption=caption, alt=alt)


# Cached: a 60-frame strip takes 0.4-0.8 s to draw, once a screen width, not at every click on the page.
@st.cache_data(max_entries=8, show_spinner=False)
def _strip(context: np.ndarray, truth: np.ndarray, prediction: np.ndarray, per_line: int, walls: dict) -> bytes:
    # Named as the GIF's panels are: "truth" here and "ground truth" there read as two things.
    strips = {"ground truth": np.concatenate([context, truth]), "prediction": prediction}
    return media.frame_strip(strips, context=len(context), starts={"ground truth": 0, "prediction": len(context)},
                             per_line=per_line, walls=walls)


def on_a_phone() -> bool:
    """Whether the browser says it is a phone's ("Mobi" in its User-Agent, as MDN advises).

    For pictures too heavy to send in both layouts for the screen's width to pick
    from (streamlit_app.py): both GIFs of a 60-frame forecast came to 1.6 MB, and
    encoding the second doubled the page's run to 0.8 s.
    """
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def panels_ui(panels: dict, caption: str, alt: str, fps: float = 4.0, still: int | None = None) -> bytes:
    """Shows in-step panels (`core.media.panel`) as one GIF, and returns its bytes;
    `still` as for `gif_ui`.

    One GIF, not one per panel: separate images start playing as each arrives,
    and the truth showed +2 beside a prediction at +1. Side by side, or two to a
    row on a phone, where side by side shrank their labels to 6 px.
    """
    gif = media.encode_gif(media.in_rows(panels, 2) if on_a_phone() else media.side_by_side(panels), fps)
    gif_ui(gif, caption, alt, still)
    return gif


def comparison_ui(panels: dict, subject: str, bounces: bool = False) -> bytes:
    """Shows a forecast's panels (`core.media.comparison_panels`) in step, as
    `panels_ui` does, and returns the GIF's bytes; `bounces`: its walls are marked."""
    words = f"{' | '.join(panels).capitalize()}, frame by frame in step. {INPUT_EXPLAINED}"
    words += f" {ERROR_EXPLAINED}" if "absolute error" in panels else ""
    return panels_ui(panels, words + (f" {BOUNCES_EXPLAINED}" if bounces else ""),
                     f"Animated {', '.join(panels)} of {subject}, in step")
