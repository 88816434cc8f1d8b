"""What the pages share: how pages are run, the data and models they offer,
cached calls into `core`, and the widgets several pages use (who the visitor
is lives in `ui.sessions`, the pictures pages show in `ui.pictures`).

Compute functions are cached and take plain values; functions ending in `_ui`
draw widgets and return what the user chose (the split used by Streamlit's
demo-self-driving app). TensorFlow is imported only inside the functions that
need a model, so the home and dataset pages open fast.
"""

from __future__ import annotations

import contextvars
import gc
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import streamlit as st

from core import data
from core.errors import InputError, import_keras
from ui import sessions
from ui.limits import LIMITS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "convlstm.keras"
SHIPPED_LABEL = "Shipped model"  # short: a longer name was cut in the model pickers
TEST_COUNT = 1000  # the bundled test set: sequences 0-999 of the test split
# The sequence every page opens on. Not 0: its digits overlap in the context, so its paths and
# Inside's gates were hard to tell apart, and its forecast was the 8th worst of the first 300
# (MSE 91.6; median 46.6). In 96 the two digits stay apart, bounce three times in the forecast,
# and its MSE, 36.1, is 72nd of those 300: clear, not the best (benchmarks/first_sequence.py).
FIRST_SEQUENCE = 96
CONTEXT = data.CONTEXT_FRAMES
# Students asked how a still picture can score worse than nothing. "Usually": at the first predicted
# frames of some sequences (177 of the 1,000 test sequences at +1) it beats black frames.
BASELINES_EXPLAINED = ("The baselines: predicting black frames, and holding the last context frame still, which "
                       "usually scores even worse than black frames: its digits stand where the true ones have left, "
                       "so each costs twice, where it is missing and where it is drawn.")
# Black frames' SSIM is 0.77 on the model card: against "1 is a perfect match" alone, a review read it as a fair forecast.
SSIM_OF_BLACK = ("Most of a frame is black background, so even black frames score an SSIM of about 0.77: judge it "
                 "against the baselines, not against 1.")
# Session-state key of a sequence the Dataset page sends to the Forecast page:
# {"label": str, "slug": str (for file names), "frames": (T, 64, 64) array}. One sequence, not the file, so a
# session keeps at most 6.5 MB (LIMITS.sequence_frames of float64) rather than a copy of someone's upload.
OUTSIDE_SEQUENCE = "outside_sequence"
TEST_SET_SOURCE = "Bundled test set"


def _keep_keras_state() -> None:
    """Stops Streamlit from calling `keras.backend.clear_session()` after every run.

    Streamlit does it after each script and fragment run, from the script's
    thread, and for every thread at once: it replaces Keras' per-thread state
    (dtype policy, name scopes), clears TensorFlow's kernel cache and runs a
    full garbage collection. A training run watched on Train (redrawn every
    second) went at 5 sequences/s instead of 12, and a Forecast pick took 0.64 s
    instead of 0.34 s (docs/benchmarks.md). Models here are loaded once and
    cached, so there is no per-run Keras state to clear. Matplotlib is still
    closed as before.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def close_figures_only() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    if hasattr(script_runner, "_clean_problem_modules"):  # private: a later Streamlit may drop it
        script_runner._clean_problem_modules = close_figures_only


_keep_keras_state()


def focus_ui(selector: str) -> None:
    """Moves the keyboard's focus to the first element matching the CSS
    `selector` once it is drawn, if focus fell to the page (as from a button
    disabled once pressed); a visitor who has moved on keeps their place.

    Give it something a key press cannot set off: a mouse click leaves focus
    on the page as well, and a Space meant to scroll pressed a focused Stop.
    Streamlit cannot move focus; each script runs in the page's global scope,
    hence the function around it.
    """
    # Once the script run has ended: the last run's elements stay drawn till then, and a
    # target focused (so scrolled to) above them moved down with the page as they went.
    st.html(f"""<script>(() => {{
      let tries = 0;
      const timer = setInterval(() => {{
        // A page that never settles (one rerun after another) gets its focus after 10 s all the same.
        const settled = ++tries > 100 || document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']");
        const target = settled && document.querySelector({json.dumps(selector)});
        if (target || tries > 150) clearInterval(timer);
        if (target && (document.activeElement === document.body || document.activeElement === null)) {{
          target.setAttribute("tabindex", "-1");
          target.focus();
        }}
      }}, 100);
    }})();</script>""", unsafe_allow_javascript=True)


# --- Page routing -------------------------------------------------------------------

# Set while streamlit_app.py runs a page: per script run (a thread's context), so
# per session, unlike Streamlit's own process-wide record of which mode it is in.
_RUN_BY_ENTRY_POINT = contextvars.ContextVar("run_by_entry_point", default=False)


def run_page(page) -> None:
    """Runs the page `st.navigation` chose, marked as run by the entry point."""
    token = _RUN_BY_ENTRY_POINT.set(True)
    try:
        page.run()
    finally:
        _RUN_BY_ENTRY_POINT.reset(token)


def through_entry_point() -> None:
    """Sends a page that Streamlit ran on its own through `streamlit_app.py`.

    Until `st.navigation` first runs in any session, a fresh server treats
    `pages/` as an old-style page folder: the first visitor who opens a page's
    own URL (a shared link to /forecast) gets that page run alone, with file
    names in the sidebar and no layout or loading notice, and so does every
    rerun of that session. Such a run is sent to the entry point instead, in
    the same run (a rerun would drop a button click); the entry point's
    `st.navigation` ends the old mode and runs this page again. Call it first
    in every page.
    """
    if _RUN_BY_ENTRY_POINT.get():
        return
    entry = ROOT / "streamlit_app.py"
    exec(compile(entry.read_text(), str(entry), "exec"), {"__name__": "__main__", "__file__": str(entry)})
    st.stop()


def keras_loaded_ui() -> None:
    """Imports Keras (and so TensorFlow) with a notice on screen, the first time
    after a server start that a page needs a model: the import takes seconds.

    Not st.spinner: its timer thread needs the GIL, which loading TensorFlow's
    libraries holds, so it would appear only once they are loaded.
    """
    notice = st.empty()
    if "keras" not in sys.modules:
        backend = {"tensorflow": "TensorFlow", "jax": "JAX"}.get(os.environ.get("KERAS_BACKEND") or "tensorflow",
                                                                "Keras")
        notice.info(f"Loading {backend} (once, after the server starts)...", icon=":material/hourglass_top:")
        time.sleep(0.2)  # lets the server send the notice before the import holds the GIL
    # Every time, not once: a backend refused after it loaded (Keras' numpy) stays loaded, and the
    # next page's run went on with it, to fail deep inside training.
    try:
        import_keras()
    except InputError as error:
        notice.error(f"{error}. Restart the app with one of those.", icon=":material/error:")
        st.stop()
    notice.empty()


def device_label() -> str:
    """The device models run on, once a page has imported TensorFlow (pages
    without a model do not pay for it just to say so)."""
    if "tensorflow" in sys.modules:
        from core.device import describe_device

        return describe_device()
    return f"CPU, {os.cpu_count()} cores (a GPU shows here once a model is loaded)"


# --- Data -------------------------------------------------------------------------

# The server's one download of the official file (a thread, and its error), kept
# out of st.cache_resource, which "Clear cache" empties (see ui.jobs.registry).
OFFICIAL_DOWNLOAD = {"thread": None, "error": None}
_DOWNLOAD_LOCK = threading.Lock()


def start_download(job: dict) -> None:
    """Starts downloading the official file in a thread kept in `job`, unless one runs."""
    def work():
        try:
            data.official_path(download=True)
        except Exception as error:  # anything else ended the thread unseen: the page offered the button again
            job["error"] = str(error) if isinstance(error, InputError) else f"The download failed: {error}"

    # Two visitors clicking at the same moment both saw no download going and
    # started two threads writing the same 819 MB file.
    with _DOWNLOAD_LOCK:
        if job["thread"] is not None and job["thread"].is_alive():
            return
        job["error"] = None
        job["thread"] = threading.Thread(target=work, daemon=True)
        job["thread"].start()


# Streamlit keys this cache by the function's source, and keeps it through a code update on a
# running server (Community Cloud takes a push without a restart): when `data.Sequences` gains a
# field, change the words here too, or the old entries come back without it (an AttributeError).
@st.cache_data(max_entries=512, show_spinner=False)
def test_sequence(index: int, length: int = data.SEQUENCE_LENGTH) -> data.Sequences:
    """Sequence `index` of the bundled test set, `length` frames long (longer
    than 20 continues the same motion, for long forecasts), with its digits'
    classes, positions and bounces."""
    return data.sequence("test", index, length=length)


def uploaded_frames(file_id: str, upload, name: str) -> np.ndarray:
    """A validated upload (read-only), checked once per file rather than on every rerun.

    Raises:
        InputError: the file is refused (the same error on every rerun, from the cache).
    """
    checked = _checked_upload(file_id, upload, name)
    if isinstance(checked, str):
        raise InputError(checked)
    return checked


# cache_resource, not cache_data: a 100 MB upload is read once and shared
# read-only, where cache_data would hand every rerun a fresh unpickled copy.
# A refusal is kept too, as its message: raised, it was not cached, and a refused
# 100 MB file was copied and read again on every click of the page. (The error
# itself would keep the file's bytes alive in its traceback.)
@st.cache_resource(max_entries=2, show_spinner="Checking the file...")
def _checked_upload(file_id: str, _upload, name: str) -> np.ndarray | str:
    try:
        frames = data.load_npy(_upload.getvalue(), name=name, mmap=False)
    except InputError as error:
        return str(error)
    frames.flags.writeable = False
    if frames.shape[1] > LIMITS.sequence_frames:
        return (f"{name} has {frames.shape[1]} frames per sequence; the app shows at most "
                f"{LIMITS.sequence_frames} (cut the sequences shorter, or split them)")
    return frames


def sequence_ui(key: str) -> int:
    """Picks a test sequence by number or at random; remembers the Dataset page's pick."""
    state_key = f"{key}_index"
    if state_key not in st.session_state:
        st.session_state[state_key] = st.session_state.get("picked_sequence", FIRST_SEQUENCE)
    index = index_ui(f"Test sequence (0-{TEST_COUNT - 1})", TEST_COUNT, state_key)
    remember_pick(index)
    return index


def remember_pick(index: int) -> None:
    """Keeps the test sequence just picked on any page: the others open on it, Forecast too, even
    after a file's sequence was sent there (its source radio kept that one)."""
    if st.session_state.get("picked_sequence") != index:  # a pick, not a page shown again on the same one
        st.session_state.forecast_wanted = TEST_SET_SOURCE
    st.session_state.picked_sequence = index


def index_ui(label: str, count: int, key: str) -> int:
    """A number from 0 to `count` - 1, typed or drawn with a Random button beside it;
    one typed outside them is put back inside, with a toast."""
    # The box is given no bounds: a number typed past them stayed in it, red and never sent,
    # and hid the number Random drew next (Chromium). Session state can hold any number too.
    if st.session_state.get(key) in (-1, count):  # a step past an end (- at 0), which the box no longer stops
        put(key, min(max(st.session_state[key], 0), count - 1))
    bounded(key, 0, count - 1, "the sequence number")
    # One row sized to its content, where columns of fixed shares cut the button's
    # label to "Ran..." in a narrow column.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    index = row.number_input(label, step=1, key=key)
    row.button("Random", icon=":material/casino:", key=f"{key}_random", on_click=_draw_index, args=(key, count))
    return int(index)


def _draw_index(key: str, count: int) -> None:
    # A callback runs before the script, so the number input is drawn with the draw.
    st.session_state[key] = int(np.random.default_rng().integers(count))


def context_length(length: int) -> int:
    """How many frames of a `length`-frame sequence a model gets as context: the
    10 it trained with, or all but the last of a shorter sequence, which is kept
    to score the forecast on. Dataset and Forecast split a sequence alike."""
    return min(CONTEXT, length - 1)


# --- Models -------------------------------------------------------------------------


@st.cache_resource(max_entries=6, show_spinner="Loading the model...")
def _load(path: str, stamp: float):
    from core.checkpoints import load_checkpoint

    model = load_checkpoint(path, compile=False, precision="auto")
    # TensorFlow, Keras and Streamlit leave millions of long-lived objects, and a
    # full garbage collection over them cost 0.2 s in the middle of a forecast.
    # Freezing them once loaded keeps later collections short. Unfreezing first
    # lets this collection free the models evicted since the last load: a model
    # that has forecast is held in a cycle (its compiled rollouts refer to it),
    # which only a full collection breaks, and frozen objects are never collected.
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return model


def load_model(path: Path):
    """The model in `path`, loaded once for all users (never mutate it).

    The file's modification time is part of the key, so a retrained file reloads.
    """
    return _load(str(path), Path(path).stat().st_mtime)


def checkpoints() -> dict[str, Path]:
    """Checkpoints this session may use: the shipped one and its own trainings."""
    from ui.jobs import collect_finished

    own = Path(sessions.session_folder()).resolve()  # looked up in its module: a test's stand-in applies here too
    collect_finished(own)
    found = {SHIPPED_LABEL: SHIPPED} if SHIPPED.is_file() else {}
    for label, path in st.session_state.get("trained", {}).items():  # all in `own` now
        path = Path(path).resolve()
        if path.suffix == ".keras" and path.is_file():
            found[label] = path
    return found


def chart_ui(figure, *, key: str, alt: str) -> None:
    """Draws a Plotly chart across its column, described by `alt` for screen
    readers, without Plotly's toolbar: on a phone its icons covered the title."""
    st.plotly_chart(figure, width="stretch", key=key, alt=alt, config={"displayModeBar": False})


def stacked(row: str) -> str:
    """CSS that lays the rows matched by the selector `row` out as one column.

    One column without wrapping: with flex-direction alone, Streamlit's wrapping
    rows put the columns in two lines side by side.
    """
    return (f"{row} {{ flex-flow: column nowrap !important; }}\n"
            f"{row} > [data-testid='stColumn'] {{ width: 100% !important; flex: 0 0 auto !important; }}")


def stack_below(key: str) -> None:
    """Stacks the columns of the row that holds the container `key` in a window
    narrower than 1,100 px, as Streamlit stacks every row below 640 px: beside the
    sidebar on a tablet, a row of a picture and its controls left each too narrow
    to use (Design's GIF 293 px wide, its sliders 130)."""
    row = f"[data-testid='stHorizontalBlock']:has(> [data-testid='stColumn'] .st-key-{key})"
    st.html(f"<style>@media (max-width: 1100px) {{\n{stacked(row)}\n}}</style>")


def keep_values(keys) -> None:
    """Keeps these widgets' values when their page is left and puts them back on return.

    Streamlit drops a widget's value when its page is not the one running, so a
    page would reopen on its defaults. Call it before the widgets are drawn: the
    values in session state then are the ones the user last set.
    """
    kept = st.session_state.setdefault("kept_values", {})
    for key in keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def bounded(key: str, low, high, name: str) -> None:
    """Puts a widget's stored value back inside [low, high] before it is drawn.

    Session state can hold any value (a stale one, or one set from code);
    a widget given an out-of-range value would stop the page with a traceback.
    The toast calls the setting `name`.
    """
    value = st.session_state.get(key)
    if value is not None and not low <= value <= high:
        put(key, min(max(value, low), high))
        st.toast(f"{name.capitalize()} was {value}; the limit is {low} to {high}.")


def put(key: str, value) -> None:
    """Sets a widget's value from code, in what `keep_values` keeps too: it kept the
    value the run began with, and the page reopened on that, toasts and all."""
    st.session_state[key] = value
    kept = st.session_state.get("kept_values", {})
    if key in kept:
        kept[key] = value


def bounded_slider(label: str, low, high, *, key: str, default, name: str, **kwargs):
    """`st.slider` that reopens on the visitor's last value, put back inside
    [low, high] (with a toast naming the setting `name`) where it is not, and
    given back once the range holds it again, unless the visitor moved it meanwhile.

    The default goes into session state, not the slider: `keep_values` may have
    put a value there, and a widget given both logs a warning on every return.
    """
    st.session_state.setdefault(key, default)
    # A look at the keras.io model cut 60 frames to 20, and they stayed 20 back on the shipped one.
    memory = f"{key}_before_limit"
    asked, limited = st.session_state.get(memory, (None, None))
    if st.session_state[key] != limited:
        st.session_state.pop(memory, None)
    elif low <= asked <= high:
        put(key, asked)
        del st.session_state[memory]
    value = st.session_state[key]
    bounded(key, low, high, name)
    if st.session_state[key] != value:
        st.session_state[memory] = (value if asked is None else asked, st.session_state[key])
    # Set again, as from code, when the bounds change: Streamlit then makes a new slider (another model's
    # limit), which opened at its minimum, 15 frames becoming 1, with the value in range. Only then: set on
    # every run, it undid the presses of a held arrow key that arrived while the page ran (29 gave 24).
    if st.session_state.get(f"{key}_bounds") != (low, high):
        st.session_state[f"{key}_bounds"] = (low, high)
        st.session_state[key] = st.session_state[key]
    return st.slider(label, low, high, key=key, **kwargs)


def horizon_limit(path: Path) -> int:
    """The most frames a visitor may forecast with this checkpoint."""
    from core.checkpoints import read_checkpoint_info

    return LIMITS.keras_io_horizon if read_checkpoint_info(path)[0].preset == "keras-io" else LIMITS.horizon


def checkpoint_ui(key: str) -> Path | None:
    """A checkpoint picker; None (with a message) if there is none at all."""
    options = checkpoints()
    if not options:
        st.error("No model is available: checkpoints/convlstm.keras is missing and nothing was trained here yet.")
        st.session_state.pop("chosen_checkpoint", None)  # the sidebar named it still
        return None
    names = list(options)
    previous = st.session_state.get(key, st.session_state.get("chosen_checkpoint"))
    # Asked for by a button on another page (Train's "Forecast with it"): it wins over the model last picked here.
    wanted = st.session_state.pop("checkpoint_wanted", None)
    default = wanted if wanted in names else st.session_state.get("chosen_checkpoint")
    if wanted in names or st.session_state.get(key) not in names:
        put(key, default if default in names else names[0])  # and kept: the page reopened on a deleted one
        if previous is not None and previous not in names and wanted not in names:  # not asked for another
            say_gone(previous, f"**{st.session_state[key]}** is picked instead")
    choice = st.selectbox("Model", names, key=key, help="The shipped model (checkpoints/convlstm.keras, trained for "
                          "this app), or one you trained on the Train page.")
    model_words_ui(choice, options[choice])
    st.session_state.chosen_checkpoint = choice
    return options[choice]


def model_words_ui(name: str, path: Path) -> None:
    """Under a model picker, how a run trained here started and what it saw: a class with
    "Trained here: run 1" and "run 2" could not tell the fine-tuned one from the other. Not in
    the picker's own text, which a projector's 190 px cut off before it."""
    from core.checkpoints import read_checkpoint_info

    if name == SHIPPED_LABEL:
        return
    try:
        info = read_checkpoint_info(path)[1]
    except InputError:  # deleted since the list was made: the pickers say so
        return
    model = "The keras.io model" if info.get("preset") == "keras-io" else "A ConvLSTM"
    # Its own sequences: the shipped model's 2.4 million came before a fine-tuning run's count.
    start = "fine-tuned here from the shipped model" if info.get("init_from") else "trained here from scratch"
    seen = f" on {info['sequences_seen']:,} sequences" if "sequences_seen" in info else ""
    st.caption(f"{model}, {start}{seen}.")


def say_gone(name: str, instead: str) -> None:
    """Tells why a trained model picked before is no longer offered: the page went on with
    another without a word. `instead` says what it does now."""
    st.toast(f"**{name}** is no longer kept (a session keeps its newest {LIMITS.checkpoints_per_session} trained "
             f"models, until an hour after its last visit): {instead}.", icon=":material/info:")


# Streamlit runs each script rerun in a new thread, and TensorFlow's first call
# in a new thread took 0.26 s here against 0.02 s for the next ones; one thread
# also keeps concurrent visitors from fighting over the cores. Not in
# st.cache_resource, which "Clear cache" empties (see ui.jobs.registry).
_MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forecast")


def model_thread() -> ThreadPoolExecutor:
    """The one long-lived thread that runs every forecast on this server."""
    return _MODEL_THREAD


def run_model(function, *args, **kwargs):
    """Runs `function` on the shared model thread and waits for its result."""
    return model_thread().submit(function, *args, **kwargs).result()


def forecast_frames(path: Path, context: np.ndarray, horizon: int) -> tuple[np.ndarray, float, float]:
    """Closed-loop forecast of `horizon` frames after `context`: a test, designed,
    uploaded or official sequence (fewer than 10 context frames are padded).
    Cached for all visitors, by the file and its modification time (a retrained file forecasts anew).

    Returns:
        (prediction, seconds, built): float32 (horizon, 64, 64), the time a warm
        forecast took, and the seconds this call spent first building the
        model's graph (0 when it was built already).
    """
    start = time.perf_counter()
    prediction, seconds, built = _forecast_frames(str(path), Path(path).stat().st_mtime, context, horizon)
    # A cached result comes back at once: the build it reports was a wait on an earlier visit.
    return prediction, seconds, built if time.perf_counter() - start >= built else 0.0


# Streamlit shows the spinner only when a call lasts over half a second: the
# first forecast of a model (its graph is built then) or a keras.io model.
@st.cache_data(max_entries=64, show_spinner="Forecasting...")
def _forecast_frames(path: str, stamp: float, context: np.ndarray, horizon: int) -> tuple[np.ndarray, float, float]:
    from core.forecasting import forecast, is_warm

    start = time.perf_counter()
    model = _load(path, stamp)  # from the cache at once, unless this forecast waited for the file to load
    built = time.perf_counter() - start
    if not is_warm(model, CONTEXT):  # building the graph takes seconds once; time a warm forecast
        built += run_model(_timed, forecast, model, context, horizon)[1]
    prediction, seconds = run_model(_timed, forecast, model, context, horizon)
    return prediction[0], seconds, built


def _timed(function, *args):
    # Timed on the model thread: a wait there behind another visitor's evaluation
    # is no part of the forecast, and the result is cached for every visitor.
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def timing_words(seconds: float, built: float) -> str:
    """'42 ms', with the model's load and graph build where this forecast paid them (the wait a visitor saw)."""
    words = f"{seconds * 1000:.0f} ms"
    return words + (f", after {built:.1f} s spent once loading the model and preparing it to forecast"
                    if built >= 0.05 else "")


def forecast_sequence(path: Path, index: int, horizon: int):
    """Closed-loop forecast of test sequence `index` from its first 10 frames.

    Returns:
        (context, truth, prediction, seconds, built): uint8 (10, 64, 64), uint8
        (horizon, 64, 64), float32 (horizon, 64, 64), and the times as
        `forecast_frames` gives them.
    """
    frames = test_sequence(index, CONTEXT + horizon).frames[0]
    context, truth = frames[:CONTEXT], frames[CONTEXT:]
    return (context, truth, *forecast_frames(path, context, horizon))


def show_error(error: InputError) -> None:
    """A user's mistake, in the one clear line `InputError` carries."""
    st.error(as_sentence(str(error)), icon=":material/error:")


def as_sentence(text: str) -> str:
    """`text` with a capital first letter, as the app's other lines have, unless it starts with a
    name (a file's, "mine.npy is ..."): core's messages are written for the CLI's "error: ..."."""
    return re.sub(r"^[a-z]+\b(?![./_-])", lambda word: word[0].capitalize(), text)


