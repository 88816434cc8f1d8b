"""Inside the ConvLSTM: the gates and states of every cell, step by step."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import re
from pathlib import Path

import numpy as np
import streamlit as st

from core import media
from core.checkpoints import read_checkpoint_info
from core.errors import InputError
from ui.pictures import panels_ui
from ui.shared import (CONTEXT, checkpoint_ui, keep_values, load_model, run_model, sequence_ui, show_error, stacked,
                       test_sequence)

NAMES = {
    "input": "input gate i",
    "forget": "forget gate f",
    "candidate": "candidate g",
    "output": "output gate o",
    "cell": "cell state C",
    "hidden": "hidden state H",
}
EQUATIONS = [
    ("input", r"i_t = \sigma(W_i * [X_t, H_{t-1}] + b_i)", "how much of the new candidate to write"),
    ("forget", r"f_t = \sigma(W_f * [X_t, H_{t-1}] + b_f + 1)",
     "how much of the old memory to keep; the +1 starts it near 0.73, so memory is kept from the first "
     "steps of training"),
    ("candidate", r"g_t = \tanh(W_g * [X_t, H_{t-1}] + b_g)", "what could be written"),
    ("output", r"o_t = \sigma(W_o * [X_t, H_{t-1}] + b_o)", "how much of the memory to show"),
    ("cell", r"C_t = f_t \circ C_{t-1} + i_t \circ g_t",
     "the memory carried from step to step; some channels plainly follow where the digits are"),
    ("hidden", r"H_t = o_t \circ \tanh(C_t)",
     "read back by this cell at the next step, and by the cell above; the top cell's, by the frame decoder"),
]
GATES = ("input", "forget", "candidate", "output")


def with_layer_norm(equation: str) -> str:
    """A gate's equation as a model with layer normalisation computes it: LN around
    the convolution and bias (the forget gate's +1 comes after it)."""
    return re.sub(r"W_\w \* \[X_t, H_\{t-1\}\] \+ b_\w", lambda sum_: rf"\mathrm{{LN}}({sum_[0]})", equation)


# A trace of the shipped 3 x 64 model is about 22 MB and takes 0.3 s on 2 cores:
# three are kept, for the visitors exploring one sequence each (eight held 176 MB of
# a shared server's 2.7 GB for good). Kept once and only read, where cache_data
# would copy it on every rerun.
@st.cache_resource(max_entries=3, show_spinner="Running the model step by step...")
def traced(path: str, stamp: float, index: int):
    from core.inspection import trace

    model = load_model(Path(path))
    return run_model(trace, model, test_sequence(index).frames[0, :CONTEXT], 10)


def colours(quantity: str, values: np.ndarray) -> tuple:
    if quantity in ("input", "forget", "output"):
        return ("viridis", 0.0, 1.0)
    if quantity == "cell":
        reach = float(np.abs(values).max()) or 1.0
        return ("RdBu_r", -reach, reach)
    return ("RdBu_r", -1.0, 1.0)


def scale_words(scheme: tuple) -> str:
    """A colour scale in words, for a picture too small to carry its own bar."""
    name, low, high = scheme
    if name == "viridis":
        return f"dark purple {low:g} to yellow {high:g}"
    return f"blue {low:.2g}, white 0, red {high:.2g}"


def pick_channel(values: np.ndarray, channel) -> np.ndarray:
    """(S, 16, 16, F) -> (S, 16, 16): one channel, or the mean over all."""
    return values.mean(axis=-1) if channel == "mean" else values[..., channel]


st.title("Inside the ConvLSTM", anchor=False)
st.markdown(
    """
An LSTM (*long short-term memory*) is a network that reads a sequence one step at a time and
carries a memory from step to step. A ConvLSTM is an LSTM whose weights are **convolutions**:
small grids of learnt weights slid across the picture. Each 64x64 frame is first cut
into 4x4-pixel patches stacked as 16 channels, so each cell keeps a memory $C$ (its *cell state*) and a
hidden state $H$ that are small 16x16 images, one per channel (64 in each cell of the
shipped model), and each position stands for a 4x4 block of pixels. Three **gates**
decide, position by position, what to forget, what to write and what to show, and a
*candidate* $g$ offers what there is to write.
Because every gate is a convolution with a 3x3 kernel, each position only looks at its
neighbours: motion is handled *locally*, the way a digit moves a few pixels per frame,
and the same small rule works anywhere in the picture. Stacking cells lets the
memory see further, and a *frame decoder* (a 1x1 convolution and a sigmoid) turns the
top cell's $H$ back into a 64x64 frame. Below is what the shipped (or your) model
computes for one test sequence: the 10 context frames, then its own predictions fed back in.
"""
)
left, middle = st.columns(2)
with left:
    path = checkpoint_ui("inside_checkpoint")
with middle:
    index = sequence_ui("inside")

trace = None
if path is not None:
    try:
        trace = traced(str(path), path.stat().st_mtime, index)
    except InputError as error:  # not st.stop: the sidebar, drawn after the page, names the model picked
        show_error(error)
if trace is not None:
    layers = len(trace.layers)
    filters = trace.layers[0]["hidden"].shape[-1]
    # The file's record: with the trace cached and the model not, this loaded the whole model again.
    config = read_checkpoint_info(path)[0]
    keep_values(["inside_layer", "inside_quantity", "inside_channel", "inside_step"])
    channels = ["digits", "mean", *range(filters)]
    # A kept choice another model lacks (a third cell, a 60th channel) would stop the page.
    for key, options in (("inside_layer", range(1, layers + 1)), ("inside_channel", channels),
                         ("inside_step", range(len(trace.inputs)))):
        if st.session_state.get(key, options[0]) not in options:
            del st.session_state[key]
    # Defaults in session state, not in the widgets: keep_values may have put a value there.
    st.session_state.setdefault("inside_quantity", "cell")
    st.session_state.setdefault("inside_step", trace.context - 1)
    a, b, c = st.columns(3)
    layer = a.selectbox("Layer", range(1, layers + 1), format_func=lambda n: f"cell {n} of {layers}", key="inside_layer")
    quantity = b.selectbox("Tensor", list(NAMES), format_func=NAMES.get, key="inside_quantity")
    # The default: averaged over all channels, the gates were flat teal squares to a class. One per cell,
    # from what it outputs: picked per tensor, changing the tensor changed every picture's channel too.
    from core.inspection import digit_channel

    shows_digits = digit_channel(trace, layer - 1)
    # Short: at 1366 px the box cut "channel 52, which follows the digits most closely" after "most".
    # Without its number, which the caption under the pictures gives: a closed box kept showing the
    # number of the layer picked before (Streamlit redraws it only for another option, pull request 13788).
    words = {"digits": "the channel tracking the digits", "mean": "mean over all channels"}
    picked = c.selectbox("Channel", channels, key="inside_channel", format_func=lambda k: words.get(k, f"channel {k}"),
                         help=f"Channel {shows_digits} is the one of this cell whose hidden state H follows the frames "
                         "fed in most closely (the true ones, then the model's own), either way round: where it runs "
                         "against them, the digits show as low values on high. Every picture below shows that same "
                         "channel; pick another, or the mean over all of them, to see the same steps through it.")
    channel = shows_digits if picked == "digits" else picked  # one channel for every picture below
    channel_words = "mean over channels" if channel == "mean" else f"channel {channel}"

    values = pick_channel(trace.layers[layer - 1][quantity], channel)
    scheme = colours(quantity, values)
    panels = {
        "input frame": media.panel(trace.inputs, "input frame", trace.context, 4),
        NAMES[quantity]: media.panel(values, NAMES[quantity], trace.context, 16, scheme),
        # Named by the frame it predicts, the one after the frame fed in.
        "predicted frame": media.panel(trace.predictions, "predicted next frame", trace.context, 4, first=1),
    }
    panels_ui(panels,
              f"Step by step: the frame fed in, the {NAMES[quantity]} of cell {layer} ({channel_words}), and the frame "
              "predicted from it. "
              # A student asked why there are predictions during the context, which every other page leaves out.
              "The model predicts a next frame at every step; during the context these guesses are set aside (the "
              "true next frame comes in), after it each one is read back in: those are the forecast."
              + (" They are the forecaster's own frames, before the refiner that sharpens them on the Home, "
                 "Forecast and Design pages." if config.refiner_filters else ""),
              f"Animated heatmap of the {NAMES[quantity]} beside the input and predicted frames", fps=3,
              # Still, at the step the slider below picks: at its last frame it showed one moment beside
              # the slider and equations' another.
              still=st.session_state.inside_step)
    # As PNG: Streamlit sends an opaque PNG on as JPEG, which blurred the heatmaps' square cells.
    st.image(media.encode_png(media.colour_bar(scheme)), caption=f"Colour scale of the {NAMES[quantity]}",
             alt=f"Colour scale from {scheme[1]:.2g} to {scheme[2]:.2g}", output_format="PNG")

    st.header("The equations, each with a picture of its result", anchor=False)
    # Named as the animation above names its frames: "step 15" matched nothing on screen.
    # The slider and its frames stay in view while the equations scroll under them: at 1280 x 720
    # the slider ended 390 px above the first equation, so a teacher could not move it and show
    # the gates change. Not on a short or a narrow screen (a phone), where it would cover half of it.
    # Opaque in the theme's own colour (Settings offers dark too), and a focused picture's button
    # scrolled into view below it, not under it.
    background = "#0e1117" if st.context.theme.type == "dark" else "white"
    st.html(f"""<style>@media (min-height: 600px) and (min-width: 700px) {{
      [data-testid='stLayoutWrapper']:has(> .st-key-inside-step) {{
        position: sticky; top: 3.75rem; z-index: 2; background: {background};
      }}
      [data-testid='stMain'] {{ scroll-padding-top: 15rem; }}
    }}</style>""")
    # This step's two frames, held still beside it: they were only in the animation above, which never
    # stops, so a teacher could not show "this frame in, these gates, that frame out" at one moment.
    row = st.container(horizontal=True, vertical_alignment="center", key="inside-step")
    step = row.select_slider("Frame fed in", range(len(trace.inputs)), key="inside_step",
                             format_func=lambda t: media.frame_label(t, trace.context),
                             help="Context frames are true frames; future frames are the model's own predictions, "
                             "fed back.")
    when = media.frame_label(step, trace.context)
    pair = row.container(horizontal=True, width="content")  # on a phone the two wrap together, under the slider
    for frames, t, role in ((trace.inputs, step, "fed in"), (trace.predictions, step + 1, "predicted")):
        pair.image(media.encode_png(media.upscale(frames[step], 2)), width=128, output_format="PNG",
                   caption=f"{role.capitalize()}: {media.frame_label(t, trace.context)}", alt=f"The frame {role} at this step")
    st.caption(f"Cell {layer}, {channel_words}, reading "
               f"{when}. $*$ is a convolution, $\\circ$ an element-wise product; $\\sigma$ (the sigmoid) squashes any "
               "number into 0 to 1, like a dimmer, and $\\tanh$ into -1 to 1. $X_t$ is what this cell reads: "
               "for cell 1 the frame fed in (as patches), for a higher cell the $H_t$ of the cell below; $H_{t-1}$ "
               "is this cell's own hidden state from the step before. These are Shi et al.'s (2015) equations "
               "without their *peephole* terms (the memory feeding the gates directly), as in OpenSTL's ConvLSTM, "
               "plus this model's +1 in the forget gate, so that a new cell starts out keeping its memory"
               + (", and its layer normalisation ($\\mathrm{LN}$, below)." if config.layer_norm else "."))
    if step == 0:  # the forget gate's digit-shaped map read as the model forgetting digits it had not yet seen
        st.caption("At the first frame the memory $C_{t-1}$ and $H_{t-1}$ are still all zeros: the gates read the "
                   "frame alone, and the forget gate has nothing yet to keep or forget.")
    if config.layer_norm:
        st.caption(r"$\mathrm{LN}$ is layer normalisation: each gate's sum (and the candidate's) is brought to mean 0 "
                   "and variance 1 over the whole 16x16 map and all its channels, for this sequence and step, then "
                   "scaled and shifted by two learnt numbers per channel. It keeps them in the range where they learn "
                   "fastest: the shipped model learnt with it in 2.4 million sequences what 10.9 million without it did not.")
    # A gate's equation is about 390 px wide: in half a row of a 1024 px window it was cut,
    # so in a narrow cell it is set smaller (a container query: the cell's width, not the window's).
    # In a cell that narrow the heatmap goes above its words: beside them, at 820 px with
    # the sidebar, it was 63 px wide.
    st.html(f"""<style>
    [class*='st-key-inside-equation-'] {{ container-type: inline-size; }}
    /* Square cells, not smoothed: on a phone a 128 px heatmap is drawn 385 px wide. */
    [class*='st-key-inside-equation-'] img {{ image-rendering: pixelated; }}
    @container (max-width: 340px) {{
      .katex-display {{ font-size: 0.8em; }}
      {stacked("[data-testid='stHorizontalBlock']")}
    }}
    @container (max-width: 245px) {{ .katex-display {{ font-size: 0.58em; }} }}
    </style>""")
    # Two equations a row (the gates in pairs, then memory and output): one a row took
    # 1,840 px at 1920 px wide, so a projected class never saw all six at once.
    for row in (EQUATIONS[i : i + 2] for i in range(0, len(EQUATIONS), 2)):
        for (name, equation, meaning), column in zip(row, st.columns(2, gap="large")):
            if config.layer_norm and name in GATES:
                equation = with_layer_norm(equation)
            term = pick_channel(trace.layers[layer - 1][name], channel)
            scale = colours(name, term)
            picture = media.colourise(media.upscale(term[step], 8), scale)
            cell = column.container(key=f"inside-equation-{name}")  # sized for the style above
            cell.latex(equation)  # the column's whole width: beside its picture in half a row, a gate's was cut
            # Half and half, the colours in the words beside it: at a third, on a 1280 x 720 projector, a
            # picture was 118 px wide and its caption, with the colours, wrapped over five lines under it.
            left, right = cell.columns(2, vertical_alignment="center")
            left.image(media.encode_png(picture), caption=f"{NAMES[name]} at {when}",
                       alt=f"Heatmap of {NAMES[name]}", output_format="PNG")
            right.caption(f"{NAMES[name]}: {meaning}. Colours: {scale_words(scale)}.")
