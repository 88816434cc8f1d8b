"""Home: what the app does, a one-click forecast, a picture of forecasting, and a card for each page."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import numpy as np
import streamlit as st

from core import media
from ui.pictures import (BOUNCES_EXPLAINED, ERROR_EXPLAINED, INPUT_EXPLAINED, forecast_strip_ui, panels_ui, wall_marks,
                         widths_ui)
from ui.shared import (CONTEXT, SHIPPED, SHIPPED_LABEL, TEST_COUNT, TEST_SET_SOURCE, forecast_sequence,
                       keras_loaded_ui, test_sequence, timing_words)


@st.cache_data(show_spinner=False)
def concept_picture(shown: int, stacked: bool) -> bytes:
    frames = test_sequence(3).frames[0]
    return media.concept_diagram(frames[:CONTEXT], frames[CONTEXT:], shown=shown, stacked=stacked)


def open_forecast_on(index: int) -> None:
    """The Forecast page opens on test sequence `index`, not on a file's sequence sent there before."""
    st.session_state.picked_sequence = index
    st.session_state.forecast_wanted = TEST_SET_SOURCE


st.title("ConvLSTM Studio", anchor=False)
st.markdown(
    """
Watch a **Convolutional LSTM** learn to predict how handwritten digits move.
Each *Moving MNIST* sequence is 20 frames of two digits bouncing around a 64x64
box. The model reads the first **10 frames** (the *context*) and then predicts
the next 10 **on its own**: every predicted frame is fed back in to predict the
one after (a *closed-loop* forecast; it never sees the real future).
"""
)
# First after the words: on a projector at 1280 x 720 the button sat at y=958, below the
# page cards and the diagram, and the class watched the teacher scroll to find it.
st.header("Try it now", anchor=False)  # h2 under the title: a screen reader's outline skipped a level
if not SHIPPED.is_file():
    st.error("The shipped model checkpoints/convlstm.keras is missing, so this demo cannot run.")
elif st.button("Forecast a random test sequence with the shipped model", icon=":material/online_prediction:", type="primary", key="home_forecast"):
    st.session_state.home_index = int(np.random.default_rng().integers(TEST_COUNT))
    open_forecast_on(st.session_state.home_index)
if SHIPPED.is_file() and "home_index" in st.session_state:
    keras_loaded_ui()
    index = st.session_state.home_index
    context, truth, prediction, seconds, built = forecast_sequence(SHIPPED, index, 10)
    sequence = test_sequence(index, CONTEXT + len(truth))
    walls = wall_marks(sequence)
    panels_ui(
        media.comparison_panels(context, truth, prediction, scale=4, walls=walls),
        f"Test sequence {index}: ground truth, closed-loop prediction and error (forecast in "
        f"{timing_words(seconds, built)}). {INPUT_EXPLAINED} {ERROR_EXPLAINED}"
        + (f" {BOUNCES_EXPLAINED}" if walls else ""),
        "Animated comparison of the true and predicted frames of a test sequence.",
    )
    forecast_strip_ui(context, truth, prediction, sequence)  # a still view beside the looping GIF
    if st.button("Explore more forecasts on the Forecast page", icon=":material/arrow_forward:", key="home_more"):
        # With the model used here: a link opened this sequence with a run picked there before (a grey blur
        # where Home showed digits). Asked for on the click, or Evaluate, visited first, took the wish.
        st.session_state.checkpoint_wanted = SHIPPED_LABEL
        open_forecast_on(index)  # again: a sequence picked on another page since took its place
        st.switch_page("pages/forecast.py")

# Under its own heading: under "Try it now", right below a forecast, its sequence read as that forecast's.
st.header("How it forecasts", anchor=False)
# On a phone, two frames a side and stacked, where Streamlit stacks columns: with four in
# a row the picture's words were 4 px high, with two in a row 6 px; stacked they are 10.
# Both are sent (the narrow one adds 11 KB), and the screen's width picks one.
widths_ui({"wide": concept_picture(4, stacked=False), "narrow": concept_picture(2, stacked=True)}, "concept",
          "How the model forecasts: context frames in, the next frames out (drawn here with the true next frames, "
          "the ones it tries to predict).",
          "The last of the ten context frames flow into a ConvLSTM box, which outputs the next frames; each predicted "
          "frame is fed back in.")

st.header("The pages", anchor=False)
# Links, not bullets: on a phone the page menu is a small icon, and a teacher looked for the pages named here.
PAGES = (
    ("dataset", "Dataset", "Look at sequences as animations and frame by frame, and at how they are prepared."),
    ("train", "Train", "Train a model for a minute or two and watch the loss fall. From scratch, a minute shows "
     "it learning, not digits: its forecasts stay grey. From the shipped model: clear digits for a few frames."),
    ("forecast", "Forecast", "Pick a test sequence and compare truth and prediction side by side."),
    ("evaluate", "Evaluate", "Score a model on many test sequences against two simple baselines."),
    ("design", "Design a sequence", "Place and aim digits yourself (bounces, crossings, three digits) and see "
     "whether the model follows."),
    ("inside", "Inside the ConvLSTM", "Watch the gates and memory of each cell, next to their equations."),
)
# One card per page, three to a row: a link's label does not wrap, and cut the longer lines off mid-word.
# The whole card opens its page (the link's area stretched over it): on a phone a
# tap on the description did nothing, and only the title was a target.
st.html("""<style>
[class*='st-key-home-card-'] { position: relative; }
[class*='st-key-home-card-'] [data-testid='stElementContainer'] { position: static; }
[class*='st-key-home-card-'] a::after { content: ''; position: absolute; inset: 0; z-index: 1; }
</style>""")
for row in (PAGES[:3], PAGES[3:]):
    for column, (page, name, words) in zip(st.columns(3), row):
        with column.container(border=True, height="stretch", key=f"home-card-{page}"):
            st.page_link(f"pages/{page}.py", label=f"**{name}**", icon=":material/arrow_forward:")
            st.caption(words)
