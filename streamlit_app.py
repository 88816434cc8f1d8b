"""ConvLSTM Studio: the entry point. `streamlit run streamlit_app.py`

Builds the navigation over the pages and says, in the sidebar, which model and
device are in use. Everything a page computes comes from `core/`.
"""

import streamlit as st

from ui.pictures import ANIMATE
from ui.sessions import present_ui, remember_session_ui, session_folder
from ui.shared import SHIPPED, SHIPPED_LABEL, device_label, keras_loaded_ui, run_page

# An emoji, which the browser draws itself: a Material icon is fetched from fonts.gstatic.com,
# and on a classroom network with no internet the tab had none.
st.set_page_config(page_title="ConvLSTM Studio", page_icon="🎞️", layout="wide")

# The two pages that need no model: they open without loading TensorFlow.
home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
dataset = st.Page("pages/dataset.py", title="Dataset", icon=":material/grid_view:")
train = st.Page("pages/train.py", title="Train", icon=":material/model_training:")
pages = [
    home,
    dataset,
    train,
    st.Page("pages/forecast.py", title="Forecast", icon=":material/online_prediction:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/design.py", title="Design a sequence", icon=":material/draw:"),
    st.Page("pages/inside.py", title="Inside the ConvLSTM", icon=":material/neurology:"),
]
page = st.navigation(pages)
# Each page its own tab title: a screen reader announced "ConvLSTM Studio" on all seven.
st.set_page_config(page_title=f"{page.title} · ConvLSTM Studio")

# On a phone, a swipe that started on a slider's track moved the slider and did
# not scroll (Streamlit sets touch-action: none there), so Design's 11 sliders
# made the page hard to scroll. On touch screens the track lets touches through
# to the page and only the thumb (the nested element) is dragged, sideways; it takes
# touches 16 px around it, since a finger cannot find its 12 px alone.
# Links (the navigation, Home's cards) showed keyboard focus as a grey tint, 1.1:1
# against their background, and buttons, slider thumbs and tabs as a half-transparent
# halo, 2.1:1, number boxes and menus as a 1 px border turning orange, and a radio's option
# as a grey tint, 1.1:1, a toggle's as a tint of its label, 1.1:1, an expander's title as a
# halo, 2:1, and a text box's as a 1 px border: all get a solid ring in the theme's colour
# (5.0:1 on white). A picture's
# fullscreen button, reached by Tab, stayed invisible with its toolbar (shown on hover).
# A picture drawn for a phone, where Streamlit stacks columns, goes in a container keyed
# "narrow-..." beside the usual one in "wide-...": the screen's width picks one, which
# Streamlit does not tell a page (a long forecast's frame strip, Home's diagram).
# Pages start 4rem down, under the 60 px header bar, not Streamlit's 6rem: at 1280 x 720 Home's
# caption under its forecast began at y=712, Evaluate's charts at 692, just out of a projector's view.
st.html("""<style>@media (min-width: 641px) { [data-testid='stMainBlockContainer'] { padding-top: 4rem; } }
@media (pointer: coarse) {
  [data-testid='stSlider'] [style*='touch-action'] { touch-action: pan-y !important; pointer-events: none; }
  [data-testid='stSlider'] [style*='touch-action'] [style*='touch-action'] { pointer-events: auto; }
  [data-testid='stSlider'] [style*='touch-action'] [style*='touch-action']::before {
    content: ""; position: absolute; inset: -16px; }
}
a:focus-visible, button:focus-visible, [role='tab']:focus-visible, [data-testid='stSlider'] [data-focus-visible='true'],
[data-testid='stSelectbox'] div:has(> input:focus-visible), [data-testid='stNumberInputContainer']:has(input:focus-visible),
[data-testid='stRadio'] label:has(input:focus-visible), [data-testid='stCheckbox'] label:has(input:focus-visible),
summary:focus-visible, [data-testid='stTextInputRootElement']:has(input:focus-visible) {
  outline: 3px solid #b45309 !important; outline-offset: 2px; }
[data-testid='stElementToolbar']:focus-within { opacity: 1 !important; }
[class*='st-key-narrow-'] { display: none; }
@media (max-width: 640px) { [class*='st-key-wide-'] { display: none; } [class*='st-key-narrow-'] { display: block; } }
</style>""")

with st.sidebar:
    model_line, device_line = st.empty(), st.empty()
    remember_session_ui()
    # Every GIF loops for ever: one that cannot be paused is a barrier (WCAG 2.2.2), and a teacher could not
    # hold a frame to point at it. Drawn on every page, so the choice holds from page to page.
    st.toggle("Animate pictures", value=True, key=ANIMATE,
              help="Off: each animation is shown still, at its last frame. The frame strips show every frame.")
    # On every page, drawn before or after Start in another tab: a run whose browser is away gives way to those waiting.
    present_ui()


def sidebar_status() -> None:
    # Dataset and Train use no model: they named the one last picked elsewhere, which could be deleted by now.
    if page in (dataset, train):
        model_line.empty()
    else:
        model = SHIPPED_LABEL if page is home else st.session_state.get("chosen_checkpoint", SHIPPED_LABEL)
        missing = model == SHIPPED_LABEL and not SHIPPED.is_file()  # the page says so; this said "Shipped model"
        model_line.caption(f"**Model:** {'none (checkpoints/convlstm.keras is missing)' if missing else model}")
    device_line.caption(f"**Device:** {device_label()}")


# Drawn before the page, which may end early (st.stop), and again after it, to
# name the model the page just chose and the device once TensorFlow is loaded.
sidebar_status()
session_folder()  # every page view counts as a visit, which keeps this session's trained models
if page not in (home, dataset):
    keras_loaded_ui()
run_page(page)
sidebar_status()
