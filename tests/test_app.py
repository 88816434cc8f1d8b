"""Every page through Streamlit's AppTest: renders, forecasts, trains."""

import ast
import base64
import gc
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
import weakref
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import keras
import numpy as np
import pyarrow.ipc
import pytest
import streamlit
from catalogue import bad_files
from conftest import ROOT, TINY, tiny_run
from streamlit.testing.v1 import AppTest

from core import data, media
from core.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
from core.data import OFFICIAL_URL, moving_mnist
from core.errors import InputError
from core.evaluation import evaluate
from core.model import build_model
from ui.jobs import OWN_RUN
from ui.limits import Busy
from ui.pictures import BOUNCES_EXPLAINED, ERROR_EXPLAINED, INPUT_EXPLAINED, bounces_words
from ui.shared import FIRST_SEQUENCE, SHIPPED, SHIPPED_LABEL, SSIM_OF_BLACK, TEST_COUNT

PAGES = ["pages/home.py", "pages/dataset.py", "pages/train.py", "pages/forecast.py", "pages/evaluate.py",
         "pages/design.py", "pages/inside.py"]
TIMEOUT = 120  # importing TensorFlow and building graphs takes seconds on 2 cores
# Fresh-server memory for every test: this process holds every earlier test's models.
pytestmark = pytest.mark.usefixtures("memory_to_spare")


def images(app) -> list:
    """(caption, url) of every image on the page."""
    return [(item.caption, item.url) for element in app.get("image") for item in element.proto.imgs]


def chart_curves(chart) -> dict:
    """{trace name: y values} of a Plotly chart on the page."""
    decode = lambda y: np.frombuffer(base64.b64decode(y["bdata"]), y["dtype"]) if isinstance(y, dict) else np.array(y)
    return {trace.get("name"): decode(trace["y"]) for trace in json.loads(chart.proto.spec)["data"]}


@pytest.fixture
def app():
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()


def test_a_script_run_leaves_keras_state_alone():
    # Streamlit clears Keras' session after every run, for all threads at once:
    # a training or an evaluation in a worker thread lost its state and most of its speed.
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run().run()
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy(before)


def test_an_unusable_keras_backend_gets_a_message_on_the_pages_that_need_a_model():
    # Keras stops with a traceback on a backend it cannot load; the app must say what to change.
    # A fresh process, as a fresh server has not imported Keras yet.
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({str(ROOT / "streamlit_app.py")!r}, default_timeout={TIMEOUT}).run()
assert not app.exception and not app.error, "Home needs no model"
app.switch_page("pages/forecast.py").run()
assert not app.exception, app.exception
print([e.value for e in app.error], "keras" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                            env={**os.environ, "KERAS_BACKEND": "bogus"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str([
        "Keras cannot load its backend (Unable to import backend : bogus); ConvLSTM Studio runs on "
        "KERAS_BACKEND=tensorflow (the default) or jax. Restart the app with one of those."]) + " False"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(app, page):
    app.switch_page(page).run()
    assert not app.exception
    assert not app.error
    assert app.title[0].value  # each page says what it is
    # A heading's link icon was a keyboard stop of its own, read as "Link to heading".
    assert all(heading.proto.hide_anchor for heading in [*app.title, *app.header, *app.subheader])
    # AppTest runs a switched-to page alone, as a fresh server does for a link to
    # it: the page must hand the run to streamlit_app.py, which draws the sidebar.
    assert any(caption.value.startswith("**Device:**") for caption in app.sidebar.caption)
    # The model in use, on the pages that use one: Dataset and Train named the one last picked elsewhere.
    assert any(caption.value.startswith("**Model:**") for caption in app.sidebar.caption) == (
        page not in ("pages/dataset.py", "pages/train.py"))


def test_without_the_shipped_model_the_pages_and_the_sidebar_say_so(app, tmp_path, monkeypatch):
    app.switch_page("pages/forecast.py").run()  # picks the shipped model
    monkeypatch.setattr("ui.shared.SHIPPED", tmp_path / "convlstm.keras")  # deleted since
    none = "**Model:** none (checkpoints/convlstm.keras is missing)"
    for page, message in (("pages/home.py", "is missing"), ("pages/forecast.py", "No model is available")):
        app.switch_page(page).run()
        assert not app.exception and message in app.error[0].value
        assert none in [caption.value for caption in app.sidebar.caption]  # it said "Shipped model"


def test_random_picks_a_sequence_that_forecast_then_opens_on(app):
    app.switch_page("pages/dataset.py").run()
    drawn = []
    for _ in range(3):  # three draws of 1,000 all landing on 0: one chance in a billion
        app.button(key="dataset_index_random").click().run()
        drawn.append(app.number_input(key="dataset_index").value)
    assert not app.exception and set(drawn) - {0}
    app.switch_page("pages/forecast.py").run()
    assert app.number_input(key="forecast_index").value == drawn[-1]
    assert not app.exception


@pytest.mark.parametrize("typed, kept, told", [(1200, 999, True), (-3, 0, True), (-1, 0, False), (1000, 999, False)])
def test_a_sequence_number_typed_out_of_range_is_put_in_range_with_a_word(app, typed, kept, told):
    # Bounded in the browser, such a number stayed in the box, red and never sent, and hid Random's next draw.
    app.switch_page("pages/forecast.py").run()
    app.number_input(key="forecast_index").set_value(typed).run()
    assert not app.exception and app.number_input(key="forecast_index").value == kept
    # A step past an end (the box's - at 0) is the box's own doing: no word for it.
    assert [toast.value for toast in app.toast] == [f"The sequence number was {typed}; the limit is 0 to 999."] * told
    assert any(f"of test sequence {kept} took" in caption.value for caption in app.caption)
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/forecast.py").run()  # the page reopened on the number typed, and said so again
    assert app.number_input(key="forecast_index").value == kept and not app.toast

@pytest.mark.parametrize("page", ["dataset", "design", "forecast"])
def test_charts_are_described_in_words_and_have_no_toolbar(app, page):
    # On a phone Plotly's toolbar icons covered the charts' titles; a screen reader read no chart at all.
    app.switch_page(f"pages/{page}.py").run()
    charts = app.get("plotly_chart")
    assert charts and not app.exception
    for chart in charts:
        assert json.loads(chart.proto.config)["displayModeBar"] is False
        assert len(chart.proto.alt) > 40, chart.proto.alt  # a sentence; test_charts checks what they say


def test_dataset_brightness_chart_starts_at_zero_and_says_what_a_flat_line_means(app):
    # Fitted to the data, sequence 52's axis ran 0.04846-0.04852: a 0.2% dip filled the chart;
    # a black file's flat 0 sat mid-axis under "it drops where the digits overlap".
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(52).run()

    def brightness():
        chart = next(chart for chart in app.get("plotly_chart") if chart.proto.id.endswith("dataset_brightness"))
        axis = json.loads(chart.proto.spec)["layout"]["yaxis"]
        return axis["range"], chart_curves(chart)[None], [caption.value for caption in app.caption]

    (low, high), means, captions = brightness()
    assert low == 0 and max(means) < high <= 1 and "It drops where the digits overlap: they share pixels then." in captions
    # A file's frames may hold anything: an upload of noise was told its digits overlapped.
    upload(app, np.zeros((1, 20, 64, 64), np.uint8))
    (low, high), means, captions = brightness()
    assert low == 0 < high and max(means) == 0 and "The same in every frame." in captions
    upload(app, np.random.default_rng(0).integers(0, 256, (1, 20, 64, 64), dtype=np.uint8))
    _, means, captions = brightness()
    assert "How much of each frame is lit (in Moving MNIST it drops where digits overlap)." in captions
    assert not any("overlap here" in caption or caption.startswith("It drops") for caption in captions)
    assert not app.exception


def test_dataset_and_design_pictures_can_be_downloaded(app, monkeypatch):
    # A teacher could keep Forecast's GIFs only: Dataset's sequence and strip, and Design's forecast, had no button.
    offered, download_button = {}, streamlit.download_button
    monkeypatch.setattr(streamlit, "download_button", lambda label, data, **kwargs: (
        offered.update({kwargs["file_name"]: data}), download_button(label, data, **kwargs))[1])
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(5).run()
    gif = iio.imread(offered["test-sequence-5.gif"](), index=None)
    # Every frame, on a click, and large enough for a slide: the 326 px shown blurred there.
    assert gif.shape[0] == 20 and gif.shape[2] >= 8 * 64
    upload(app, moving_mnist("test", 1, length=30)[0])  # a long upload's as shown: 200 frames at 8x took 420 MB
    gif = iio.imread(offered["your-file-sequence-0.gif"](), index=None)
    assert gif.shape[0] == 30 and 5 * 64 <= gif.shape[2] < 8 * 64
    app.radio(key="dataset_source").set_value("Bundled Moving MNIST (offline)").run()
    strip = iio.imread(offered["test-sequence-5-frames.png"]())
    assert strip.ndim == 3 and strip.shape[0] > 100
    app.switch_page("pages/design.py").run()
    first = next(name for name in offered if name.startswith("designed-"))
    assert re.fullmatch(r"designed-3-at-260deg-7-at-70deg-[0-9a-f]{6}-shipped-model\.gif", first), first
    frames = iio.imread(offered[first](), index=None)
    # Truth and prediction side by side (4x frames in their borders), 20 frames: three panels were too small to read.
    panel = 4 * 64 + 2 * media.BORDER
    assert frames.shape[:3] == (20, media.BANNER + panel, 2 * panel + media.GAP) and not app.exception
    # Each design its own name: a second download replaced the first. A change of speed too, which the name's
    # digits and directions do not show.
    app.slider(key="design_speed_0").set_value(1.5).run()
    app.slider(key="design_angle_0").set_value(90).run()
    designs = [name for name in offered if name.startswith("designed-")]
    assert len(designs) == 3 and designs[1].startswith("designed-3-at-260deg-7-at-70deg-") and designs[1] != first
    assert designs[2].startswith("designed-3-at-90deg-7-at-70deg-")


def test_forecast_says_where_it_trails_black_frames_as_its_chart_shows(app):
    # Sequence 0, 60 frames: the model trails black frames at one frame in the
    # middle only; the page called it useless from there to the end.
    app.switch_page("pages/forecast.py").run()
    app.slider(key="forecast_horizon").set_value(60).run()
    chart = app.get("plotly_chart")[0]
    curves = chart_curves(chart)
    behind = np.flatnonzero(curves["model"] > curves["black frames"]) + 1
    verdict = next(block.value for block in app.markdown if block.value.startswith("On MSE"))
    dashed = json.loads(chart.proto.spec)["layout"].get("shapes", [])
    if len(behind) and list(behind) == list(range(behind[0], 61)):
        assert f"from frame +{behind[0]} on" in verdict and len(dashed) == 1
    elif len(behind):
        assert f"at {len(behind)} of the 60 frames (+{behind[0]}" in verdict and not dashed
        assert "no longer useful" not in verdict
    else:
        assert "at every one of the 60 frames" in verdict and not dashed
    # Weighed against a still picture too: black frames alone called a forecast a still picture beat a win.
    assert "repeating the last context frame, a still picture" in verdict
    # The verdict and its charts come right under the GIF: under the downloads and the 60-frame strip they
    # were 1,300 px down, below a projector's fold.
    order = [element.type if element.type != "markdown" else element.value[:6] for element in app.main
             if element.type in ("markdown", "plotly_chart", "download_button", "imgs")]
    assert order.index("On MSE") < order.index("plotly_chart") < order.index("download_button"), order


def test_forecast_time_includes_the_wait_for_a_new_model_once(app, monkeypatch):
    # The first forecast of a model loads it and builds its graph (seconds, behind a spinner); the
    # caption gave only the warm forecast's milliseconds, then the build without the load (1.3 s of 6.5).
    from ui import shared

    shared._load.clear()  # a model no earlier test has forecast with, whatever the order of the tests
    shared._forecast_frames.clear()
    import core.checkpoints

    load = core.checkpoints.load_checkpoint  # slowed, to tell the load from the graph's build (1-2 s)
    monkeypatch.setattr(core.checkpoints, "load_checkpoint", lambda *args, **kwargs: time.sleep(4) or load(*args, **kwargs))
    app.switch_page("pages/forecast.py").run()
    timing = lambda: next(caption.value for caption in app.caption if caption.value.startswith("Forecast of"))
    took = re.search(r"took \d+ ms, after (\d+\.\d) s spent once loading the model and preparing it to forecast",
                     timing())
    assert took and float(took[1]) >= 4
    app.slider(key="forecast_horizon").set_value(37).run()  # one graph for every length: no second wait
    assert re.search(r"took \d+ ms\. Blue", timing())
    app.number_input(key="forecast_index").set_value(3).run()
    assert re.search(r"took \d+ ms\. Blue", timing())
    app.number_input(key="forecast_index").set_value(0).run()  # cached, with the build time it once had
    assert re.search(r"took \d+ ms\. Blue", timing())


def test_home_forecasts_with_one_click(app, monkeypatch):
    # Its random pick made fixed and not 0: the link to "more forecasts" opened Forecast on sequence 0.
    unseeded = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda seed=None: unseeded(1 if seed is None else seed))
    app.button(key="home_forecast").click().run()
    assert not app.exception
    shown = next(int(re.search(r"Test sequence (\d+)", caption)[1]) for caption, _ in images(app)
                 if "closed-loop prediction" in caption)
    assert shown != 0
    assert ("Frames 1-10: context. From +1 on: the model's forecast under the ground truth."
            + bounces_words(data.sequence("test", shown), 10)) in [c for c, _ in images(app)]
    app.switch_page("pages/forecast.py").run()
    assert app.number_input(key="forecast_index").value == shown


def test_animations_turned_off_are_stills_on_every_page_until_turned_on(app):
    # Every GIF looped for ever: a student distracted by motion, or a teacher pointing at a frame, could not pause it.
    app.switch_page("pages/forecast.py").run()
    assert [url for _, url in images(app) if url.endswith(".gif")]
    app.toggle(key="animate").set_value(False).run()
    assert [caption for caption, url in images(app) if "animations are off" in caption and url.endswith(".png")]
    assert not [url for _, url in images(app) if url.endswith(".gif")]
    app.switch_page("pages/dataset.py").run()
    assert not app.exception and not [url for _, url in images(app) if url.endswith(".gif")]
    # Inside's still follows its step slider: at its last frame it showed one moment, the equations another.
    def inside_still():
        return [url for caption, url in images(app) if "Shown still, at the frame picked below" in caption]

    app.switch_page("pages/inside.py").run()
    first = inside_still()
    app.select_slider(key="inside_step").set_value(3).run()
    assert len(first) == 1 and len(inside_still()) == 1 and inside_still() != first
    app.toggle(key="animate").set_value(True).run()
    assert [url for _, url in images(app) if url.endswith(".gif")]


def test_pages_open_on_a_sequence_whose_bounces_their_strips_mark_and_name(app, monkeypatch):
    # A teacher looking for how the model takes a bounce had to find one in the GIF; and every
    # page opened on sequence 0, whose digits overlap and whose forecast is among the worst.
    streamlit.cache_data.clear()  # the strips drawn here, not taken from an earlier test's cache
    marked, strip = [], media.frame_strip  # the walls marked on each strip of a whole sequence
    monkeypatch.setattr(media, "frame_strip", lambda rows, **options: (
        len(next(iter(rows.values()))) == 20 and marked.append(options.get("walls")), strip(rows, **options))[1])
    flashed = []  # the walls marked on each GIF
    for name in ("sequence_gif", "comparison_panels"):
        monkeypatch.setattr(media, name, lambda *args, draw=getattr(media, name), **options: (
            flashed.append(options.get("walls")), draw(*args, **options))[1])
    sequence = data.sequence("test", FIRST_SEQUENCE)
    walls = {}
    for t, _, wall in data.walls_hit(sequence):
        walls.setdefault(t, []).append(wall)
    assert any(t < 10 for t in walls) and any(t >= 10 for t in walls)
    centres = sequence.positions[0] + data.DIGIT_SIZE / 2
    assert np.linalg.norm(centres[:, 0] - centres[:, 1], axis=-1).min() >= 22  # its digits never overlap
    words = bounces_words(sequence, 10)
    # As the strip of sequence 96 shows them (checked by eye, frame by frame).
    assert words == (" A cyan bar on a frame marks the wall a digit bounces off in it. Digit 1, a 9, bounces off the "
                     "right wall in frame 1, the bottom wall in frame 5, the left wall in frame +5 and the top wall in "
                     "frame +10. Digit 2, a 7, bounces off the top wall in frame 6, the right wall in frame 10 and the "
                     "bottom wall in frame +9.")
    app.switch_page("pages/dataset.py").run()
    assert app.number_input(key="dataset_index").value == FIRST_SEQUENCE
    assert [caption for caption, _ in images(app) if caption.startswith("Context:")] == [
        "Context: frames 1 to 10. Future: frames +1 to +10." + words] * 2  # a wide strip and a phone's
    assert marked == [walls] * 2 and flashed == [walls]
    assert [caption for caption, url in images(app) if url.endswith(".gif")] == [
        "20 frames; blue = context (what a model sees), orange = future (what it must predict). " + BOUNCES_EXPLAINED]
    app.switch_page("pages/forecast.py").run()
    assert app.number_input(key="forecast_index").value == FIRST_SEQUENCE
    assert [caption for caption, _ in images(app) if caption.startswith("Frames 1-10")] == [
        "Frames 1-10: context. From +1 on: the model's forecast under the ground truth." + words] * 2
    assert marked[2:] == [walls] * 2  # on the truth's row: the context and the true future
    assert flashed[1:] == [walls]
    # A file's sequence: its motion is not known, so nothing is marked or named.
    upload(app, moving_mnist("test", 1)[0])
    app.button(key="dataset_forecast").click().run()
    assert not app.exception and "cyan" not in " ".join(caption for caption, _ in images(app))
    assert marked[-1] == flashed[-1] == {}
    app.switch_page("pages/design.py").run()
    designed = [caption for caption, _ in images(app) if caption.startswith("Frames 1-10")]
    assert len(designed) == 2 and all(" A cyan bar on a frame marks " in caption for caption in designed)
    assert flashed[-1] and flashed[-1] == marked[-1]
    assert not app.exception


def test_page_settings_survive_a_trip_to_another_page(app, monkeypatch):
    from streamlit.elements.lib import policies

    # Streamlit logs (not shows) "created with a default value but also had its value set via the Session
    # State API" once a process, for a widget given both; this records each time.
    logged = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda message, *args, **_: logged.append(message % args))
    # Streamlit drops a widget's value when its page is left: Forecast reopened
    # on 10 frames, and Train showed 1 minute beside the results of a 0.5-minute run.
    app.switch_page("pages/forecast.py").run()
    app.slider(key="forecast_horizon").set_value(15).run()
    app.switch_page("pages/train.py").run()
    app.slider(key="train_minutes").set_value(0.5).run()
    app.radio(key="train_digits").set_value(1).run()
    app.switch_page("pages/dataset.py").run()
    app.slider(key="dataset_known").set_value(7).run()
    app.switch_page("pages/inside.py").run()
    app.selectbox(key="inside_quantity").set_value("forget").run()
    app.select_slider(key="inside_step").set_value(15).run()
    app.switch_page("pages/evaluate.py").run()
    app.switch_page("pages/forecast.py").run()
    assert app.slider(key="forecast_horizon").value == 15
    assert any(caption.value.startswith("Forecast of 15 frames of test sequence") for caption in app.caption)
    app.switch_page("pages/train.py").run()
    assert app.slider(key="train_minutes").value == 0.5 and app.radio(key="train_digits").value == 1
    app.switch_page("pages/dataset.py").run()
    assert app.slider(key="dataset_known").value == 7
    app.switch_page("pages/inside.py").run()
    assert app.selectbox(key="inside_quantity").value == "forget" and app.select_slider(key="inside_step").value == 15
    assert not app.exception and not app.warning and not logged


def test_forecast_page_shows_gifs_and_downloads(app):
    app.switch_page("pages/forecast.py").run()
    # One GIF, in step: three, one per panel, played out of step (the truth at +2, the prediction at +1).
    # Sequence 96, where it opens, bounces: the GIF says what its cyan bars mean.
    assert [caption for caption, url in images(app) if url.endswith(".gif")] == ["Ground truth | prediction | absolute error, frame by frame in step. " + INPUT_EXPLAINED + " "
        + ERROR_EXPLAINED + " " + BOUNCES_EXPLAINED]
    assert len(images(app)) >= 2  # and the frame strip
    floor = read_checkpoint_info(SHIPPED)[0].output_floor  # the caption says when black means "below the floor"
    assert (f"fainter than {floor * 100:g}% are drawn black" in app.caption[0].value) == (floor > 0)
    downloads = app.get("download_button")
    assert [button.proto.label for button in downloads] == [
        "Download all three", "Download ground truth", "Download prediction", "Download absolute error"]
    # Made on a click: given bytes, the browser fetched the GIF on show a second time at every pick.
    assert all(button.proto.deferred_file_id and not button.proto.url for button in downloads)
    app.slider(key="forecast_horizon").set_value(1).run()
    assert app.caption[0].value.startswith("Forecast of 1 frame of test sequence")
    app.number_input(key="forecast_index").set_value(17).run()
    app.slider(key="forecast_horizon").set_value(60).run()  # three times past the 20 frames of the data
    assert not app.exception
    assert "60 frames" in app.caption[0].value
    assert len([url for _, url in images(app) if url.endswith(".gif")]) == 1
    assert any("black frames" in caption.value for caption in app.caption)
    # The pick survives a visit to the Dataset page, which opens on it too.
    app.switch_page("pages/dataset.py").run()
    assert app.number_input(key="dataset_index").value == 17
    app.switch_page("pages/forecast.py").run()
    assert app.number_input(key="forecast_index").value == 17


def test_forecast_downloads_hold_the_frames_and_draw_their_panel_on_a_click(app, monkeypatch):
    # Streamlit keeps a download's function until the visitor's next run: holding the drawn panels
    # kept 47 MB a visitor at 60 frames.
    import functools

    held, download_button = {}, streamlit.download_button
    monkeypatch.setattr(streamlit, "download_button", lambda label, data, **kwargs: (
        held.__setitem__(label, data), download_button(label, data, **kwargs))[1])
    app.switch_page("pages/forecast.py").run()
    app.slider(key="forecast_horizon").set_value(60).run()
    assert not app.exception
    for label in ("Download ground truth", "Download prediction", "Download absolute error"):
        function = held[label]
        assert isinstance(function, functools.partial)
        arrays = [value for value in function.args if isinstance(value, np.ndarray)]
        assert sum(array.nbytes for array in arrays) < 3e6, label  # the frames: 2.1 MB; one panel: 16 MB
        played = iio.imread(function(), index=None)
        assert played.shape[0] == 70 and played.shape[2] < 300, played.shape  # 10 + 60 frames, one panel wide
    # A 20-frame one is drawn at 8x for slides, where the page's 262 px panel blurred.
    app.slider(key="forecast_horizon").set_value(10).run()
    played = iio.imread(held["Download prediction"](), index=None)
    assert played.shape[0] == 20 and played.shape[2] >= 8 * 64, played.shape


def test_the_pages_compare_a_forecast_with_the_frames_after_its_context():
    from ui.shared import forecast_sequence

    context, truth, prediction, *_ = forecast_sequence(SHIPPED, 3, 10)
    frames = moving_mnist("test", 4)[3]
    assert np.array_equal(context, frames[:10]) and np.array_equal(truth, frames[10:])
    assert prediction.shape == (10, 64, 64)


def test_forecast_opens_on_the_latest_pick_whichever_page_made_it(app):
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(5).run()
    app.switch_page("pages/forecast.py").run()
    assert app.number_input(key="forecast_index").value == 5
    app.switch_page("pages/dataset.py").run()
    app.switch_page("pages/home.py").run()
    while app.session_state["picked_sequence"] == 5:  # Home draws a random sequence
        app.button(key="home_forecast").click().run()
    # The Dataset page's pick used to outlive Home's: Forecast reopened on 5.
    app.switch_page("pages/forecast.py").run()
    assert not app.exception
    assert app.number_input(key="forecast_index").value == app.session_state["home_index"] != 5


def test_forecast_leaves_a_sent_file_sequence_for_a_later_pick_of_a_test_sequence(app):
    # The radio kept "your file, sequence 1" after a pick of a test sequence on Dataset or Home.
    upload(app, moving_mnist("test", 2))
    app.number_input(key="dataset_upload_index").set_value(1).run()
    app.button(key="dataset_forecast").click().run()
    sent = "your file, sequence 1"
    assert app.radio(key="forecast_source").value == sent

    def forecast_opens_on(index: int) -> None:
        app.switch_page("pages/forecast.py").run()
        assert not app.exception and app.radio(key="forecast_source").value == "Bundled test set"
        assert app.number_input(key="forecast_index").value == index
        app.radio(key="forecast_source").set_value(sent).run()  # back to the file's, for the next pick

    app.switch_page("pages/dataset.py").run()
    app.radio(key="dataset_source").set_value("Bundled Moving MNIST (offline)").run()
    app.number_input(key="dataset_index").set_value(7).run()
    forecast_opens_on(7)
    # Dataset seen again on the same test sequence is no new pick: the file's sequence stays.
    app.switch_page("pages/dataset.py").run()
    app.switch_page("pages/forecast.py").run()
    assert app.radio(key="forecast_source").value == sent
    # A test sequence picked on another page is one, and Home's random draw.
    app.switch_page("pages/inside.py").run()
    app.number_input(key="inside_index").set_value(9).run()
    forecast_opens_on(9)
    app.switch_page("pages/home.py").run()
    app.button(key="home_forecast").click().run()
    forecast_opens_on(app.session_state["home_index"])


def test_dataset_keeps_a_pick_per_source_and_its_button_opens_the_sequence_shown(app):
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(4).run()
    upload(app, moving_mnist("test", 3))
    app.button(key="dataset_forecast").click().run()
    assert app.radio(key="forecast_source").value == "your file, sequence 0"
    app.switch_page("pages/forecast.py")  # a click there, which keeps its source radio's value
    app.slider(key="forecast_horizon").set_value(12).run()
    # Back on the bundled set: it opened on 0, the file's 3 sequences having reset the one number for all sources.
    app.switch_page("pages/dataset.py").run()
    app.radio(key="dataset_source").set_value("Bundled Moving MNIST (offline)").run()
    assert app.number_input(key="dataset_index").value == app.session_state["picked_sequence"] == 4
    # The same pick as before is no new one: the button opened the file's sequence sent earlier.
    app.button(key="dataset_forecast").click().run()
    assert not app.exception and app.radio(key="forecast_source").value == "Bundled test set"
    assert app.number_input(key="forecast_index").value == 4
    # A test sequence past the file's count: the file's 3 reset the one number to 0 for the bundled set too.
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(500).run()
    upload(app, moving_mnist("test", 3))
    app.radio(key="dataset_source").set_value("Bundled Moving MNIST (offline)").run()
    assert app.number_input(key="dataset_index").value == app.session_state["picked_sequence"] == 500


def test_two_visitors_asking_for_the_official_file_at_once_start_one_download(monkeypatch):
    # Both saw no download going and started two threads writing the same 819 MB file.
    from ui.shared import start_download

    release, calls = threading.Event(), []
    monkeypatch.setattr("core.data.official_path", lambda download: (calls.append(1), release.wait(10)))
    class SlowToRead(dict):  # the scheduler may switch threads between the look and the start: here it does
        def __getitem__(self, key):
            time.sleep(0.01)
            return super().__getitem__(key)

    job = SlowToRead(thread=None, error=None)
    clicks = [threading.Thread(target=start_download, args=(job,)) for _ in range(8)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    release.set()
    job["thread"].join()
    assert len(calls) == 1 and job["error"] is None
    start_download(job)  # once it has ended, a click starts another
    job["thread"].join()
    assert len(calls) == 2


def test_dataset_draws_a_sequence_once_however_often_the_page_reruns(app, monkeypatch):
    # Every click on the page drew the GIF and the strip again: 4 s for an uploaded 200-frame sequence.
    import core.media

    drawn, real = [], core.media.sequence_gif
    monkeypatch.setattr(core.media, "sequence_gif", lambda *args, **kwargs: drawn.append(1) or real(*args, **kwargs))
    streamlit.cache_data.clear()
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(613).run()
    app.run()
    assert len(drawn) == 2 and not app.exception  # sequence 0, then 613 once
    assert any(url.endswith(".gif") for _, url in images(app))


def test_a_download_under_way_is_not_called_interrupted(app, tmp_path, monkeypatch):
    # Keras writes the file in place: while it grew, the page said "most likely an interrupted download".
    import core.data
    import ui.shared

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist_test_seq.npy").write_bytes(bytes(1000))
    app.switch_page("pages/dataset.py").run()
    app.radio(key="dataset_source").set_value("Official file (mnist_test_seq.npy)").run()
    assert "interrupted download" in app.info[0].value  # no download running: it was one
    ends, look_up = threading.Event(), core.data.official_path
    monkeypatch.setattr("core.data.official_path", lambda path=None, download=False: (
        ends.wait(30) if download else look_up(path, download)))
    for key, value in (("thread", None), ("error", None)):  # as this test found it, for the tests after it
        monkeypatch.setitem(ui.shared.OFFICIAL_DOWNLOAD, key, value)
    try:
        app.button(key="dataset_download").click().run(timeout=TIMEOUT)
        assert not app.exception
        assert app.info[0].value == "Downloading the official file: it opens here when the download ends."
        assert app.button(key="dataset_download").disabled
    finally:
        ends.set()
        ui.shared.OFFICIAL_DOWNLOAD["thread"].join(30)


def test_dataset_page_shows_a_sequence_and_says_when_the_official_file_is_missing(app, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no official file there
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value(5).run()
    assert any(url.endswith(".gif") for _, url in images(app))
    assert app.session_state["picked_sequence"] == 5  # the pick is carried to Forecast
    app.radio(key="dataset_source").set_value("Official file (mnist_test_seq.npy)").run()
    assert not app.exception
    # Said to a visitor, who cannot reach the server's folder: core's words for the CLI told them to download it "there".
    assert app.info[0].value == (f"The official file is not in Keras' cache ({tmp_path / 'datasets'}) on the computer "
                                 "running this app. The button below downloads it there, once for everyone using this "
                                 f"app; or fetch {OFFICIAL_URL} yourself and type its folder above. The bundled set "
                                 "needs no download.")
    # Offline, a download request ends in a clear message (a closed local port stands in for the internet).
    monkeypatch.setattr("core.data.OFFICIAL_URL", "http://127.0.0.1:9/mnist_test_seq.npy")
    app.button(key="dataset_download").click().run()
    deadline = time.time() + 30
    while not app.error and time.time() < deadline:
        time.sleep(0.5)
        app.run()
    assert app.error[0].value.startswith("Could not download the official file from "  # a sentence, as the others
                                         "http://127.0.0.1:9/mnist_test_seq.npy: 127.0.0.1 cannot be reached")
    assert app.error[0].value.endswith("the bundled Moving MNIST still works.")
    assert not app.exception and not (tmp_path / "datasets" / "mnist_test_seq.npy").exists()
    # A path typed by hand: what is wrong with that file, without the failed download of the cache's file.
    app.text_input(key="dataset_official_path").input(str(tmp_path / "nowhere.npy")).run()
    assert len(app.error) == 1 and "No official Moving MNIST file" in app.error[0].value
    assert not app.info and all(button.key != "dataset_download" for button in app.button)
    # Only a file of the official name opens: another path told a shared server's visitors which files it has.
    official = moving_mnist("test", 3).swapaxes(0, 1)  # the official file's layout: time first
    np.save(tmp_path / "renamed.npy", official)
    app.text_input(key="dataset_official_path").input(str(tmp_path / "renamed.npy")).run()
    assert f"No official Moving MNIST file at {tmp_path / 'renamed.npy' / 'mnist_test_seq.npy'}" in app.error[0].value
    np.save(tmp_path / "mnist_test_seq.npy", official)
    app.text_input(key="dataset_official_path").input(str(tmp_path)).run()
    assert not app.error and not app.exception and any(url.endswith(".gif") for _, url in images(app))
    # Its pick outlives a trip to another page, as a test sequence's does; it reopened on 0.
    app.number_input(key="dataset_official_index").set_value(2).run()
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/dataset.py").run()
    assert app.number_input(key="dataset_official_index").value == 2


@pytest.fixture(autouse=True)
def fresh_evaluations(monkeypatch):
    """Each test's own server-wide evaluations: a run an earlier test left was found instead of scored."""
    import ui.evaluations

    monkeypatch.setattr(ui.evaluations, "_EVALUATIONS", ui.evaluations.Evaluations())


def until_scored(app) -> None:
    """Reruns the page until its evaluation's table is drawn (timed fragments do not fire in AppTest)."""
    deadline = time.time() + 120
    while not app.table and time.time() < deadline:
        time.sleep(1)
        app.run()


def test_evaluate_page_scores_against_baselines_in_the_background(app):
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(40).run()
    app.button(key="evaluate_run").click().run()
    assert not app.exception
    assert "40 sequences" in app.get("progress")[0].proto.text  # drawn while it waits or runs, not after
    # Changing page stops the script, not the evaluation: coming back finds it going on or done.
    app.switch_page("pages/dataset.py").run()
    app.switch_page("pages/evaluate.py").run()
    assert app.slider(key="evaluate_count").value == 40
    until_scored(app)
    assert not app.exception and not app.error
    table, MSE = app.table[0].value, "MSE (lower is better)"
    # Said when it ends, as the table appears: a screen reader heard nothing.
    assert [toast.value for toast in app.toast] == [
        f"Evaluation finished. MSE: {SHIPPED_LABEL} {table[MSE][0]:.1f}; black frames {table[MSE][1]:.1f}."]
    app.run()
    assert not app.toast  # once
    assert list(table["Model or baseline"]) == [  # a header a screen reader can name
        SHIPPED_LABEL, "baseline: black frames", "baseline: repeat last frame",
    ]
    # The same scores as the CLI's and a notebook's core.evaluation.evaluate.
    expected = evaluate(load_checkpoint(str(SHIPPED), compile=False, precision="auto"), moving_mnist("test", 40))
    assert table[MSE].tolist() == pytest.approx([expected[name].mse for name in expected], rel=1e-4)
    assert table["SSIM (higher is better)"].tolist() == pytest.approx([expected[name].ssim for name in expected], rel=1e-4)
    # The cells' text, which a screen reader reads, to each score's places: it read 52.99505035435584.
    shown = pyarrow.ipc.open_stream(app.table[0].proto.arrow_data.styler.display_values).read_pandas()
    # Each column says which way is better: only the words above the table did.
    for metric, places in ((MSE, 1), ("MAE (lower is better)", 1), ("SSIM (higher is better)", 3),
                           ("PSNR in dB (higher is better)", 2)):
        assert list(shown[metric]) == [f"{value:.{places}f}" for value in table[metric]]
    assert any(re.search(r"; scored in (\d+ s|under a second)\. The shipped model's card \(docs/model-card.md\) "
                         r"scores all 1,000, so its figures differ a little from these\.$", caption.value)
               for caption in app.caption)
    # Black frames' SSIM of 0.77, read against "1 is a perfect match" alone, passed for a fair forecast: the
    # words beside the table say why it is high, with the card's figure.
    black_ssim = json.loads((ROOT / "checkpoints" / "convlstm.json").read_text())["evaluation"]["black frames"]["ssim"]
    assert SSIM_OF_BLACK in [caption.value for caption in app.caption] and f"{black_ssim:.2f}" in SSIM_OF_BLACK
    # Another page and back: the same results at once, not a second evaluation.
    app.switch_page("pages/forecast.py").run()
    app.switch_page("pages/evaluate.py").run()
    assert app.table[0].value.equals(table)
    # Each chart says in words what it draws, for a screen reader: the table's numbers.
    mse_chart = next(chart for chart in app.get("plotly_chart") if chart.proto.id.endswith("evaluate_mse"))
    model = chart_curves(mse_chart)[SHIPPED_LABEL]
    assert mse_chart.proto.alt.startswith(
        f"MSE of each of 10 predicted frames, first to last: {SHIPPED_LABEL} from {model[0]:.3g} to {model[-1]:.3g};")


def test_evaluate_shows_the_scores_the_server_has_after_a_reload(app):
    # A reload is a new session, with nothing in its state: it used to show no results.
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(30).run()
    assert not app.table
    app.button(key="evaluate_run").click().run()
    until_scored(app)
    # The same browser (its cookie's id) reopens on the settings it clicked, with their results: it
    # reopened on 100 sequences, and an evaluation of 1,000 still going was nowhere to be seen.
    reloaded = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    reloaded.session_state["session_id"] = app.session_state["session_id"]
    reloaded.run().switch_page("pages/evaluate.py").run()
    assert reloaded.slider(key="evaluate_count").value == 30
    assert reloaded.table and reloaded.table[0].value.equals(app.table[0].value)
    # Another browser opens on the defaults, and sees the server's scores once it asks for the same.
    stranger = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    stranger.switch_page("pages/evaluate.py").run()
    assert stranger.slider(key="evaluate_count").value == 100 and not stranger.table
    stranger.slider(key="evaluate_count").set_value(30).run()
    assert not stranger.exception
    assert stranger.table and stranger.table[0].value.equals(app.table[0].value)
    # Their click on Evaluate changed nothing on the page, with not a word: the button read as broken.
    assert not stranger.toast
    stranger.button(key="evaluate_run").click().run()
    assert [toast.value for toast in stranger.toast] == [
        "Already scored on these 30 sequences: a model scores the same every time."]


def test_a_browser_has_one_evaluation_at_a_time_and_its_other_tabs_say_so(app):
    # One visitor clicking through sequence counts filled the server's queue for everyone.
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(1000).run()
    app.button(key="evaluate_run").click().run()
    # A change of settings mid-run hid its progress bar, and nothing said it went on.
    app.slider(key="evaluate_count").set_value(990).run()
    assert any(caption.value.startswith("Still scoring Shipped model on 1000 test sequences (") for caption in app.caption)
    app.slider(key="evaluate_count").set_value(1000).run()
    assert not any(caption.value.startswith("Still scoring") for caption in app.caption) and app.get("progress")
    other_tab = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    other_tab.session_state["session_id"] = app.session_state["session_id"]
    other_tab.run().switch_page("pages/evaluate.py").run()
    other_tab.slider(key="evaluate_count").set_value(30).run()
    other_tab.button(key="evaluate_run").click().run()
    # And the click that stopped it said nothing: back at 1,000, the page offered to start it again.
    assert [toast.value for toast in other_tab.toast] == [
        "Stopped scoring Shipped model on 1000 test sequences, for this evaluation."]
    until_scored(other_tab)
    assert other_tab.table and not other_tab.exception
    app.run()
    assert not app.exception and not app.table and not app.get("progress")
    assert "stopped when this browser asked for another; click Evaluate to run it" in app.info[0].value
    import ui.evaluations

    assert [run.status for run in ui.evaluations.evaluations().runs.values()] == ["cancelled", "done"]


def test_a_reload_after_a_busy_server_starts_no_evaluation(app):
    # The refused click's settings were kept: a reload then asked for the run with no click at all.
    import ui.evaluations

    server = ui.evaluations.evaluations()
    server.max_unfinished = 0  # every request is refused as busy
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(40).run()
    app.button(key="evaluate_run").click().run()
    assert "The server is busy" in app.warning[0].value
    server.max_unfinished = 4
    reloaded = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    reloaded.session_state["session_id"] = app.session_state["session_id"]
    reloaded.run().switch_page("pages/evaluate.py").run()
    assert not reloaded.exception and not reloaded.warning and server.runs == {}
    assert reloaded.slider(key="evaluate_count").value == 100


def test_a_click_refused_as_busy_leaves_the_run_asked_for_before_in_view(app):
    # The refusal forgot the earlier request: back at its settings, the page had no progress bar
    # for the run still going, only "Press Evaluate", and a caption saying to put the settings back.
    import ui.evaluations

    server = ui.evaluations.evaluations()
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(1000).run()
    app.button(key="evaluate_run").click().run()
    server.max_unfinished = 1  # the run going fills the line
    app.slider(key="evaluate_count").set_value(40).run()
    app.button(key="evaluate_run").click().run()
    assert "The server is busy" in app.warning[0].value
    assert any(caption.value.startswith("Still scoring Shipped model on 1000") for caption in app.caption)
    app.slider(key="evaluate_count").set_value(1000).run()
    assert not app.exception and app.get("progress") and not any("Press Evaluate" in c.value for c in app.caption)
    server.withdraw(app.session_state["session_id"], [], 0)  # not left to take the cores from the next tests


def evaluate_tiny(app, tiny_checkpoint, monkeypatch, compare: str = "(none)") -> None:
    """Scores the tiny model (as if trained here), beside `compare`, on 10 sequences, and waits for the table."""
    monkeypatch.setattr("ui.sessions.session_folder", lambda: str(tiny_checkpoint.parent))
    app.session_state["trained"] = {"Trained here: tiny": str(tiny_checkpoint)}
    app.switch_page("pages/evaluate.py").run()
    app.selectbox(key="evaluate_checkpoint").set_value("Trained here: tiny").run()
    app.selectbox(key="evaluate_compare").set_value(compare).run()
    app.slider(key="evaluate_count").set_value(10).run()
    app.button(key="evaluate_run").click().run()
    until_scored(app)


def test_evaluate_results_survive_another_page_picking_another_model(app, tiny_checkpoint, monkeypatch):
    evaluate_tiny(app, tiny_checkpoint, monkeypatch)
    table = app.table[0].value
    # While it ran, the user looked at the shipped model on Forecast.
    app.switch_page("pages/forecast.py").run()
    app.selectbox(key="forecast_checkpoint").set_value(SHIPPED_LABEL).run()
    app.switch_page("pages/evaluate.py").run()
    assert not app.exception
    assert app.selectbox(key="evaluate_checkpoint").value == "Trained here: tiny"
    assert app.table and app.table[0].value.equals(table)


def test_a_comparison_says_how_long_each_model_took(app, tiny_checkpoint, monkeypatch):
    # One sum added the time of a model scored at an earlier click to this one's.
    from ui.evaluations import evaluations

    evaluate_tiny(app, tiny_checkpoint, monkeypatch)  # the earlier click
    app.selectbox(key="evaluate_compare").set_value(SHIPPED_LABEL).run()
    app.button(key="evaluate_run").click().run()
    deadline = time.time() + 120
    while evaluations().done(SHIPPED, 10) is None and time.time() < deadline:
        time.sleep(1)
    # Times set by hand, so that a sum would show (real ones are often both under a second).
    evaluations().done(tiny_checkpoint, 10).seconds, evaluations().done(SHIPPED, 10).seconds = 5.2, 0.4
    app.run()
    assert not app.exception
    expected = f"; scored in 5 s for Trained here: tiny and under a second for {SHIPPED_LABEL}."  # "0 s" read as nothing
    assert any(expected in caption.value for caption in app.caption), [c.value for c in app.caption]
    # A class set 10 sequences' scores beside the card's and asked which was right.
    assert any(caption.value.endswith(f"{expected} The shipped model's card (docs/model-card.md) scores all 1,000, so "
                                      "its figures differ a little from these.") for caption in app.caption)
    # In words, under the table: whether each model beats both baselines on both metrics, and which of the two is better.
    standing = next(text.value for text in app.markdown if text.value.startswith("**Trained here: tiny**"))
    assert f"**{SHIPPED_LABEL}** beats both baselines on MSE and on SSIM." in standing
    assert f"**{SHIPPED_LABEL}** forecasts these sequences better than **Trained here: tiny**: a lower MSE (" in standing
    # Under the picker, how a model trained here started and how much it saw: run 1 and run 2 looked the same.
    assert "A ConvLSTM, trained here from scratch on 64 sequences." in [caption.value for caption in app.caption]


def test_a_model_dropped_from_the_cache_is_freed_by_the_next_load():
    # Each trained checkpoint is a new cache entry: over a class, leaked models would fill the server.
    import weakref

    from core.forecasting import forecast
    from ui.shared import _load

    model = _load(str(SHIPPED), -1.0)  # the stamp is part of the key: each one is a separate entry
    forecast(model, moving_mnist("test", 1)[:, :10], 10)  # compiles a rollout, which refers back to the model
    dropped = weakref.ref(model)
    del model
    for stamp in range(2, 9):  # 6 entries at most: the first is evicted, then the next load collects
        _load(str(SHIPPED), -float(stamp))
    assert dropped() is None


def test_forecast_times_leave_out_the_wait_for_the_model_thread(monkeypatch):
    # A forecast queued behind another visitor's evaluation was shown, and cached for every visitor, as taking seconds.
    from ui import shared

    frames = moving_mnist("test", 2)
    shared._forecast_frames(str(SHIPPED), -10.0, frames[0, :10], 10)  # builds this model's graph for 10 frames
    # ui.shared's own clock, which moves only when read, and by 100 s during the other visitor's work: no real timing.
    clock, offset = iter(np.arange(1e6) * 1e-3), [0.0]
    monkeypatch.setattr(shared, "time", types.SimpleNamespace(perf_counter=lambda: next(clock) + offset[0]))
    queued = threading.Event()  # that work ends only once the forecast is waiting behind it
    shared.model_thread().submit(lambda: (queued.wait(), offset.__setitem__(0, 100.0)))
    submit = shared.run_model
    monkeypatch.setattr(shared, "run_model", lambda *args: (queued.set(), submit(*args))[1])
    prediction, seconds, built = shared._forecast_frames(str(SHIPPED), -10.0, frames[1, :10], 10)
    assert prediction.shape == (10, 64, 64) and built < 0.01 and seconds < 1  # the cached model's "load": a read of the clock


def test_the_keras_io_model_trains_one_sequence_at_a_time(app):
    # Batch 2 took a server to 2.4 GB, near all of Community Cloud's 2.7 GB.
    app.switch_page("pages/train.py").run()
    assert app.select_slider(key="train_batch_convlstm").value == 16
    app.radio(key="train_budget").set_value("Epochs").run()
    app.slider(key="train_epochs_convlstm").set_value(7).run()
    app.select_slider(key="train_batch_convlstm").set_value(32).run()
    app.selectbox(key="train_preset").set_value("keras.io example's model (slow, to compare)").run()
    assert not app.exception
    assert not [s for s in app.get("select_slider") if s.label == "Batch size"]
    assert any(caption.value.startswith("Batch size: 1.") for caption in app.caption)
    # About 4 minutes an epoch: 40 would hold the server's one training slot for hours.
    assert app.slider(key="train_epochs_keras-io").max == 2 and app.slider(key="train_epochs_keras-io").value == 2
    # A look at the other model cut the epochs to its 2 and the batch to 1, and kept them.
    app.selectbox(key="train_preset").set_value("Fast ConvLSTM (recommended)").run()
    assert app.slider(key="train_epochs_convlstm").value == 7 and app.select_slider(key="train_batch_convlstm").value == 32


@pytest.fixture
def keras_io_here(app, tmp_path, monkeypatch):
    """An untrained keras.io model in the session's list, as if trained here; returns its label."""
    monkeypatch.setattr("ui.sessions.session_folder", lambda: str(tmp_path))
    save_checkpoint(build_model("keras-io"), tmp_path / "kio.keras")
    app.session_state["trained"] = {"Trained here: keras.io": str(tmp_path / "kio.keras")}
    return "Trained here: keras.io"


def test_a_slider_keeps_a_value_still_in_range_when_its_range_changes(app, keras_io_here):
    # Streamlit makes a new slider when its bounds change, at its minimum: 15 frames became 1.
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(20).run()
    app.selectbox(key="evaluate_compare").set_value(keras_io_here).run()  # at most 20 sequences now
    assert not app.exception and app.slider(key="evaluate_count").value == 20
    app.selectbox(key="evaluate_compare").set_value("(none)").run()  # 1,000 again
    assert app.slider(key="evaluate_count").max == 1000 and app.slider(key="evaluate_count").value == 20
    assert not app.toast  # nothing was out of range


def test_evaluating_a_keras_io_model_is_capped_at_a_few_minutes(app, keras_io_here):
    app.switch_page("pages/evaluate.py").run()
    app.slider(key="evaluate_count").set_value(500).run()
    assert app.slider(key="evaluate_count").max == 1000
    app.selectbox(key="evaluate_compare").set_value(keras_io_here).run()  # about 9 s a sequence
    assert not app.exception
    assert app.slider(key="evaluate_count").max == 20 and app.slider(key="evaluate_count").value == 20
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/evaluate.py").run()  # reopened on the 20 it showed, without a second toast
    assert app.slider(key="evaluate_count").value == 20 and not app.toast
    app.selectbox(key="evaluate_compare").set_value("(none)").run()  # the visitor's 500 again, unmoved meanwhile
    assert app.slider(key="evaluate_count").value == 500
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/evaluate.py").run()  # and still, after a look at another page
    assert app.slider(key="evaluate_count").value == 500
    app.selectbox(key="evaluate_compare").set_value(keras_io_here).run()
    app.slider(key="evaluate_count").set_value(15).run()  # moved under the limit: that is the visitor's now
    app.selectbox(key="evaluate_compare").set_value("(none)").run()
    assert app.slider(key="evaluate_count").value == 15


def test_forecasting_with_the_keras_io_model_is_capped_at_a_few_frames(app, keras_io_here):
    # It re-runs the growing sequence for each frame: 60 frames would hold every visitor's forecasts for minutes.
    app.switch_page("pages/forecast.py").run()
    app.slider(key="forecast_horizon").set_value(60).run()
    assert app.slider(key="forecast_horizon").max == 60
    app.selectbox(key="forecast_checkpoint").set_value(keras_io_here).run()
    assert not app.exception
    assert app.slider(key="forecast_horizon").max == 20 and app.slider(key="forecast_horizon").value == 20
    app.selectbox(key="forecast_checkpoint").set_value(SHIPPED_LABEL).run()
    assert app.slider(key="forecast_horizon").value == 60
    app.slider(key="forecast_horizon").set_value(21).run()
    app.selectbox(key="forecast_checkpoint").set_value(keras_io_here).run()
    # One past a limit is said as any other: only the sequence box's step past its end goes without a word.
    assert [toast.value for toast in app.toast] == ["Frames to predict was 21; the limit is 1 to 20."]


def test_a_new_model_normalises_its_gates_unless_switched_off(app, monkeypatch):
    from ui.jobs import Registry

    started = []
    monkeypatch.setattr(Registry, "start", lambda self, owner, folder, config: started.append(config))
    app.switch_page("pages/train.py").run()
    assert app.toggle(key="train_layer_norm").value  # on, as in the shipped model: it learns far faster
    app.button(key="train_start_button").click().run()
    app.toggle(key="train_layer_norm").set_value(False).run()
    app.button(key="train_start_button").click().run()
    assert [config.model_overrides for config in started] == [{"layer_norm": True}, {}]
    # A fine-tuned model keeps the shipped model's cells, and the keras.io model has none to normalise.
    def layer_norm_offered():
        return [toggle for toggle in app.toggle if toggle.key == "train_layer_norm"]

    app.radio(key="train_start").set_value("From the shipped model").run()
    assert not layer_norm_offered()
    app.selectbox(key="train_preset").set_value("keras.io example's model (slow, to compare)").run()
    assert not layer_norm_offered() and not app.exception


def test_each_start_trains_with_its_own_defaults(app, monkeypatch):
    # From the shipped model: its weights, closed loop from the first step and the fine-tuning
    # rate (1e-3 undoes its training); from scratch, 1e-3 and scheduled sampling. And a time
    # budget is ended by the minutes: the epochs are more than any device trains in them.
    from core.training import FINE_TUNING_LEARNING_RATE
    from ui.jobs import Registry

    started = []
    monkeypatch.setattr(Registry, "start", lambda self, owner, folder, config: started.append(config) or
                        types.SimpleNamespace())
    app.switch_page("pages/train.py").run()
    app.button(key="train_start_button").click().run()
    app.radio(key="train_start").set_value("From the shipped model").run()
    app.button(key="train_start_button").click().run()
    assert not app.exception
    scratch, shipped = started
    assert (scratch.init_from, scratch.sampling_sequences, scratch.learning_rate) == (None, None, 1e-3)
    assert (shipped.init_from, shipped.sampling_sequences, shipped.learning_rate) == (
        str(SHIPPED), 0, FINE_TUNING_LEARNING_RATE)
    assert scratch.minutes == 1.0 and scratch.epochs is None  # the minute alone ends it
    # The keras.io model has no ConvLSTM weights to start from.
    app.selectbox(key="train_preset").set_value("keras.io example's model (slow, to compare)").run()
    assert app.radio(key="train_start").options == ["From scratch"]


def test_an_epoch_budget_ends_at_the_time_limit_too(app, monkeypatch):
    # 40 epochs of the ConvLSTM would take about 16 minutes on 2 cores, past the limit the server sets each visitor.
    from ui.jobs import Registry
    from ui.limits import LIMITS

    started = []
    monkeypatch.setattr(Registry, "start", lambda self, owner, folder, config: started.append(config))
    app.switch_page("pages/train.py").run()
    app.radio(key="train_budget").set_value("Epochs").run()
    app.slider(key="train_epochs_convlstm").set_value(LIMITS.train_epochs).run()
    app.button(key="train_start_button").click().run()
    assert [(config.epochs, config.minutes) for config in started] == [(LIMITS.train_epochs, LIMITS.train_minutes)]


def start_one_epoch_from_the_shipped_model(app) -> None:
    app.switch_page("pages/train.py").run()
    app.radio(key="train_start").set_value("From the shipped model").run()
    app.radio(key="train_budget").set_value("Epochs").run()
    app.slider(key="train_epochs_convlstm").set_value(1).run()


def wait_for_the_run(app) -> None:
    deadline = time.time() + 240
    while time.time() < deadline and not (app.success or app.error):
        time.sleep(2)
        app.run()  # timed fragments do not fire in AppTest: poll by rerunning
    assert not app.error, app.error[0].value
    assert "Saved as" in app.success[0].value


RUN_SETTINGS = "What training here does, and the settings this run uses (they unlock when it ends or you stop it)"


def test_a_fine_tuning_run_cancelled_while_it_scores_its_start_trains_nothing(app):
    # A stop then went on to compile the training step and run a batch before it was honoured.
    from ui.jobs import registry

    start_one_epoch_from_the_shipped_model(app)
    app.button(key="train_start_button").click().run()
    assert app.button(key="train_stop").label == "Cancel (nothing is learned yet)"
    app.button(key="train_stop").click().run()
    job = registry().latest(app.session_state["session_id"])
    job.thread.join(120)
    app.run()
    state = job.progress.snapshot()
    assert (state["status"], state["loss"]) == ("cancelled", []) and not job.out.exists()
    assert not app.exception and app.info[0].value.startswith("Training cancelled before its first step ended")


def test_a_short_fine_tuning_run_appears_on_forecast(app):
    import streamlit

    shipped = SHIPPED.read_bytes()
    start_one_epoch_from_the_shipped_model(app)
    app.radio(key="train_digits").set_value(1).run()
    app.button(key="train_start_button").click().run()
    assert app.button(key="train_start_button").disabled  # not a second click into "another run started"
    # The settings show the run's own until it ends: changed, they silently did nothing.
    assert app.radio(key="train_digits").disabled and app.slider(key="train_epochs_convlstm").disabled
    # Folded away meanwhile, with the page's words on training: open, they put the run's progress below a projector's fold.
    folded = next(expander for expander in app.expander if expander.label == RUN_SETTINGS)
    assert folded.markdown[0].value.startswith("Train a model right here.")
    assert not any(caption.value.startswith("What to expect") for caption in app.caption)  # of a run from scratch
    # A reload (a new session, the same browser) shows the run's settings too, not the defaults.
    reloaded = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    reloaded.session_state["session_id"] = app.session_state["session_id"]
    reloaded.run().switch_page("pages/train.py").run()
    assert reloaded.radio(key="train_digits").value == 1 and reloaded.radio(key="train_digits").disabled
    assert reloaded.radio(key="train_start").value == "From the shipped model"
    # The app menu's "Clear cache" empties Streamlit's caches for the whole server (and the
    # session state, whose id the browser's cookie brings back): the run was in one of them,
    # so a second run could start beside it, and its model never reached a picker.
    streamlit.cache_resource.clear()
    streamlit.cache_data.clear()
    app.run()
    assert app.button(key="train_start_button").disabled and app.get("progress")
    # A second visitor is told that a run is going on and when it ends.
    other = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
    other.switch_page("pages/train.py").run()
    assert "Someone else is training" in other.info[0].value
    # Leaving the page does not stop the run: it goes on in its own thread.
    app.switch_page("pages/forecast.py").run()
    app.switch_page("pages/train.py").run()
    wait_for_the_run(app)
    assert RUN_SETTINGS not in [expander.label for expander in app.expander]  # unlocked, in sight
    # It started from what the shipped model knows: one epoch from scratch scores
    # about 160, near black frames (175); the shipped model about 68.
    score = next(float(caption.split(": ")[-1].rstrip(".")) for caption, _ in images(app) if "Validation MSE" in caption)
    assert score < 100
    # Its frames still, with the sample's bounces marked and named as on every other page's strip.
    from core.training import sample_sequence

    assert ("Frames 1-10: context. From +1 on: the model's forecast under the ground truth."
            + bounces_words(sample_sequence(), 10)) in [c for c, _ in images(app)]
    assert "bounces off" in bounces_words(sample_sequence(), 10)
    # Not the warning that a run has not learned yet, which is for runs near black frames' score: only,
    # where the run ended above the shipped model's own score (taken before training), that it did.
    from ui.jobs import registry

    state = registry().latest(app.session_state["session_id"]).progress.snapshot()
    start, final = state["val_mse_start"], state["val_mse"][-1][1]
    assert state["val_mse"][0] == (0, start)
    assert [warning.value.startswith(f"Its validation MSE rose from {start:.1f}, the model it started from, to "
                                     f"{final:.1f}") for warning in app.warning] == ([True] if final > start else [])
    app.switch_page("pages/forecast.py").run()
    options = app.selectbox(key="forecast_checkpoint").options
    assert any(option.startswith("Trained here") for option in options)
    app.selectbox(key="forecast_checkpoint").set_value(options[-1]).run()
    assert not app.exception and len(images(app)) >= 2  # the GIF and the frame strip
    assert SHIPPED.read_bytes() == shipped  # training never writes over the shipped model


def started_by_hand(app, tmp_path, monkeypatch, gate: threading.Event):
    """Presses Start on the Train page for a run that waits on `gate` and whose progress the test sets."""
    import ui.jobs
    from core.progress import TrainingProgress

    job = ui.jobs.Job("", "Trained here: run 1", tmp_path / "run-1.keras", TrainingProgress(),
                      thread=threading.Thread(target=gate.wait, daemon=True))
    job.thread.start()

    def start(self, owner, folder, config):
        job.owner = owner
        self.jobs.append(job)
        return job

    monkeypatch.setattr(ui.jobs.Registry, "start", start)
    monkeypatch.setattr(ui.jobs, "registry", lambda registry=ui.jobs.Registry(): registry)
    app.switch_page("pages/train.py").run()
    app.button(key="train_start_button").click().run()
    return job


def test_the_bar_says_a_run_is_starting_its_next_epoch(app, tmp_path, monkeypatch):
    # After each epoch's validation it stood still for 3-11 s with no time left, as if the run had stalled.
    gate = threading.Event()
    try:
        job = started_by_hand(app, tmp_path, monkeypatch, gate)
        job.progress.update(status="training", sequences_seen=256, loss=(256, 0.3), sequences_per_second=8.5)
        app.run()
        assert not app.get("progress")[0].proto.text.endswith("starting the next epoch")  # its first, no speed yet
        # The page's words fold away with the settings while it runs, but what to expect of it stays in sight.
        assert [caption.value for caption in app.main.caption][0].startswith("What to expect: in a few minutes")
        job.progress.update(val_mse=(256, 180.0))
        app.run()
        assert app.get("progress")[0].proto.text == "training: 256 sequences seen, 8.5 sequences/s, starting the next epoch"
        job.progress.update(eta_seconds=30.0)
        app.run()
        assert app.get("progress")[0].proto.text.endswith("8.5 sequences/s, about 30 s left")
    finally:
        gate.set()


def test_stop_while_the_first_step_compiles_says_cancelling_at_once_and_cancelled_after(app, tmp_path, monkeypatch):
    # The bar said "compiling" for a minute or more after Stop; a run that never trains stands in for one compiling.
    # Once it ends, nothing was saved: the page used to offer that one step's model as a trained one.
    compiled = threading.Event()
    try:
        job = started_by_hand(app, tmp_path, monkeypatch, compiled)
        assert app.get("progress")[0].proto.text.startswith("compiling the model's training step")
        assert app.button(key="train_stop").label == "Cancel (nothing is learned yet)"
        app.button(key="train_stop").click().run()
        assert not app.exception and job.progress.stop_requested
        assert app.get("progress")[0].proto.text.startswith("cancelling once the first step is compiled")
        assert app.button(key="train_stop").disabled
        assert not any(c.value.startswith("The first prediction appears") for c in app.caption)
        job.progress.update(status="cancelled", sequences_seen=8, loss=(8, 0.7))  # as core.training.train ends it
        compiled.set()
        job.thread.join(10)
        app.run()
        assert not app.exception and not app.success and not app.get("plotly_chart")
        assert "Training cancelled before its first step ended: nothing was learned, so nothing was saved." in [
            info.value for info in app.info]
        app.switch_page("pages/forecast.py").run()
        assert not any(option.startswith("Trained here") for option in app.selectbox(key="forecast_checkpoint").options)
    finally:
        compiled.set()


def test_a_training_short_of_memory_while_evaluations_go_on_says_so(app, monkeypatch):
    # The memory a run leaves does not come back, and the page says which runs still fit; an evaluation's does.
    import core.training
    import ui.jobs
    import ui.limits
    from ui.limits import LIMITS, claim, release

    monkeypatch.setattr(ui.limits, "_PLEDGES", {})
    resident = [LIMITS.server_memory_mb - LIMITS.first_train_peak_mb + 1]  # short even once the evaluation ends
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: resident[0])
    monkeypatch.setattr(core.training, "has_recycled_model", lambda config: False)
    monkeypatch.setattr(ui.jobs, "registry", lambda registry=ui.jobs.Registry(): registry)
    assert claim("evaluation", LIMITS.evaluate_peak_mb, resident[0], short=True)
    try:
        app.switch_page("pages/train.py").run()
        assert app.button(key="train_start_button").disabled and not app.exception
        assert app.warning[0].value.startswith("Evaluations going on may take the memory this run needs at its peak: "
                                               "this page looks again when they end")
    finally:
        release("evaluation", resident[0])
    app.run()  # as the page's timer does when the evaluations end
    assert app.button(key="train_start_button").disabled
    assert app.warning[0].value.startswith("The server has too little memory left for this training run")
    resident[0] -= 1
    app.run()
    assert not app.button(key="train_start_button").disabled and not app.warning


def test_a_training_that_would_take_the_server_past_its_memory_is_refused(app, tmp_path, monkeypatch):
    # TensorFlow kept about 175 MB of each run: five half-minute runs took a server from 973 to 2,684 MB
    # idle, and the sixth peaked at 2,767 MB, past what Community Cloud allows an app (a security review).
    import core.training
    import ui.jobs
    import ui.limits
    from core.training import TrainConfig
    from ui.limits import LIMITS, ShortOfMemory

    resident, recycled = [LIMITS.server_memory_mb - LIMITS.first_train_peak_mb], []
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: resident[0])
    # This process's earlier tests trained the page's models: here none is left over, or one is set aside.
    monkeypatch.setattr(core.training, "has_recycled_model",
                        lambda config: (config.preset, config.init_from, config.model_overrides) in recycled)
    monkeypatch.setattr(ui.jobs, "registry", lambda registry=ui.jobs.Registry(): registry)
    server = ui.jobs.registry()
    convlstm, keras_io = TrainConfig(), TrainConfig(preset="keras-io")
    assert server.has_memory_for(convlstm) and server.has_memory_for(keras_io)
    # Fine-tuning the shipped model, a larger one, took a server's first run 1,264 MB above where it began.
    assert not server.has_memory_for(TrainConfig(init_from="checkpoints/convlstm.keras"))
    app.switch_page("pages/train.py").run()
    assert not app.button(key="train_start_button").disabled and not app.warning
    resident[0] += 1
    with pytest.raises(ShortOfMemory):
        server.start("visitor", tmp_path, TrainConfig(out=str(tmp_path / "x.keras")))
    app.run()
    assert app.button(key="train_start_button").disabled and not app.exception
    assert app.warning[0].value.startswith("The server has too little memory left for this training run")
    assert (f"It keeps under {LIMITS.server_memory_mb:,} MB on this computer; start the app with "
            "CONVLSTM_STUDIO_MEMORY_MB=<MB> to allow more. ") in app.warning[0].value
    assert app.warning[0].value.endswith(". Every other page, and the models already trained, still work.")
    # Community Cloud's app cannot be given more: naming the variable there would send a teacher looking for it.
    monkeypatch.setattr(ui.limits, "on_community_cloud", lambda: True)
    app.run()
    assert (f"It keeps under {LIMITS.server_memory_mb:,} MB, what Streamlit Community Cloud gives an app. "
            in app.warning[0].value) and "CONVLSTM_STUDIO_MEMORY_MB" not in app.warning[0].value
    # No ConvLSTM fits, but the keras.io model's first run takes less than a server's first ConvLSTM run.
    assert "A ConvLSTM" not in app.warning[0].value and server.jobs == []
    assert "The keras.io example's model still fits." in app.warning[0].value
    # After its first run a server needs less for the next; the keras.io model, on full frames, more.
    # A keras.io run before it leaves a first ConvLSTM run as dear (1,091 MB): counted as any run, it got 350.
    server.started["keras-io"] = 1
    resident[0] = LIMITS.server_memory_mb - LIMITS.train_peak_mb
    assert not server.has_memory_for(convlstm)
    server.started["convlstm"] = 1
    # A new kind without layer norm took 215-229 MB, the others up to 758: budgeted at 800 too, it was
    # refused after any first run, which left a class one kind of run.
    resident[0] = LIMITS.server_memory_mb - LIMITS.plain_train_peak_mb
    assert server.has_memory_for(convlstm)
    assert not server.has_memory_for(TrainConfig(model_overrides={"layer_norm": True}))
    app.run()  # the page's default has layer norm: "from scratch without it" named nothing
    assert "A ConvLSTM from scratch without layer normalisation (switch it off above) still fits." in app.warning[0].value
    # From the shipped model the switch is not drawn: no "switch it off above" then.
    app.radio(key="train_start").set_value("From the shipped model").run()
    assert "A ConvLSTM from scratch without layer normalisation still fits." in app.warning[0].value
    app.radio(key="train_start").set_value("From scratch").run()
    resident[0] = LIMITS.server_memory_mb - LIMITS.train_peak_mb
    assert server.has_memory_for(convlstm) and not server.has_memory_for(keras_io)
    app.run()
    assert not app.button(key="train_start_button").disabled and not app.warning
    app.selectbox(key="train_preset").set_value("keras.io example's model (slow, to compare)").run()
    assert app.button(key="train_start_button").disabled and not app.exception
    assert app.warning[0].value.startswith(
        "The keras.io model works on full frames and needs more memory than the server has left. ")
    assert ("A ConvLSTM from scratch with layer normalisation, from scratch without it or from the shipped model "
            "still fits.") in app.warning[0].value
    # The memory does not come back, so a visitor is told which runs still fit: those of a kind trained before.
    app.selectbox(key="train_preset").set_value(app.selectbox(key="train_preset").options[0]).run()
    recycled.append(("convlstm", None, {"layer_norm": True}))  # the page's default run
    resident[0] = LIMITS.server_memory_mb - LIMITS.repeat_train_peak_mb
    app.radio(key="train_start").set_value("From the shipped model").run()
    assert app.button(key="train_start_button").disabled and not app.exception
    assert "A ConvLSTM from scratch with layer normalisation still fits." in app.warning[0].value
    # So does the keras.io model once trained: a repeat took 42-57 MB above its start, the first about 900.
    assert not server.has_memory_for(keras_io)
    recycled.append(("keras-io", None, {}))
    assert server.has_memory_for(keras_io)
    app.run()
    assert app.warning[0].value.endswith("A ConvLSTM from scratch with layer normalisation still fits. The keras.io "
                                         "example's model still fits. Every other page, and the models already "
                                         "trained, still work.")
    app.radio(key="train_start").set_value("From scratch").run()
    assert not app.button(key="train_start_button").disabled and not app.warning


@pytest.mark.parametrize("value, cloud, machine, allowed", [
    (None, True, 64000, 2700), (None, False, 16000, 8000), (None, False, 4000, 2700), (None, False, 0, 2700),
    ("8000", True, 0, 8000), (" 16000 ", False, 4000, 16000), ("lots", False, 16000, 8000), ("500", True, 16000, 2700),
    ("-3000", False, 4000, 2700), ("1000", False, 0, 1000)])
def test_the_server_may_use_half_of_a_computer_of_its_own(monkeypatch, caplog, value, cloud, machine, allowed):
    import ui.limits
    from ui.limits import MEMORY_VARIABLE, Limits

    monkeypatch.setattr(ui.limits, "on_community_cloud", lambda: cloud)
    monkeypatch.setattr(ui.limits, "machine_mb", lambda: machine)
    if value is None:
        monkeypatch.delenv(MEMORY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(MEMORY_VARIABLE, value)
    assert Limits().server_memory_mb == allowed
    # A value it cannot use is said in the server's log, not silently dropped.
    assert (f"is not a whole number of MB from 1000 up; keeping {allowed} MB" in caplog.text) == (
        value in ("lots", "500", "-3000"))


@pytest.mark.parametrize("cgroup, files, allowed_mb", [
    # A service's MemoryMax on its own cgroup, not on the mount's root: read at the root only, it was missed.
    ("0::/system.slice/studio.service\n", {"memory.max": "max", "system.slice/memory.max": "max",
                                          "system.slice/studio.service/memory.max": str(4 * 2**30)}, 4096),
    ("12:memory:/slurm/job1\n3:cpu,cpuacct:/slurm/job1\n", {"memory/slurm/memory.limit_in_bytes": str(2 * 2**30),
                                                             "memory/slurm/job1/memory.limit_in_bytes": str(2**63 - 4096)},
     2048),
    ("0::/\n", {"memory.max": "max"}, None),  # a container of its own namespace, unlimited: the machine's
    ("garbled\n", {}, None)])
def test_the_servers_memory_is_bounded_by_its_own_cgroup(tmp_path, cgroup, files, allowed_mb):
    from ui.limits import machine_mb

    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    for name, content in files.items():
        (tmp_path / "sys/fs/cgroup" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "sys/fs/cgroup" / name).write_text(content + "\n")
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    assert machine_mb(tmp_path) == (physical if allowed_mb is None else min(physical, allowed_mb))


def test_the_machine_and_community_cloud_are_read_from_this_process():
    from ui.limits import machine_mb, on_community_cloud

    with open("/proc/meminfo") as meminfo:  # Linux: MemTotal is in kB
        total = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) // 1024
    assert 0 < machine_mb() <= total + 1
    assert not on_community_cloud()  # the tests run from a checkout, not Community Cloud's /mount/src
    assert on_community_cloud(Path("/mount/src/convlstm-studio/ui/limits.py"))


def test_the_next_run_of_a_kind_needs_little_memory(tmp_path, monkeypatch):
    # It trains in the model the last run of its kind left, whose training step TensorFlow has traced:
    # four repeats of the Train page's default took a server 48-76 MB above where each began.
    import ui.jobs
    from ui.limits import LIMITS

    resident = [0]
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: resident[0])
    server = ui.jobs.Registry()
    run = tiny_run(epochs=1, epoch_sequences=8, model_overrides={**TINY, "filters": 7})  # no other test's model
    server.start("visitor", tmp_path, run).thread.join(60)
    assert server.latest("visitor").progress.snapshot()["status"] == "done"
    resident[0] = LIMITS.server_memory_mb - LIMITS.repeat_train_peak_mb
    assert server.has_memory_for(run)
    assert not server.has_memory_for(replace(run, model_overrides={**TINY, "filters": 7, "layer_norm": True}))


def finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, score: float, fine_tuning: bool) -> None:
    """This session's one finished run, as the Train page finds it: its last validation MSE `score`,
    black frames' 151 (the page's verdict, without minutes of training or an unseeded run's luck)."""
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    job = ui.jobs.registry().jobs[0]
    job.progress, job.fine_tuning = TrainingProgress(), fine_tuning
    job.progress.update(status="done", sequences_seen=256, val_mse=(256, score),
                        val_baselines={"black frames": 151.0, "repeat last frame": 250.0})
    app.switch_page("pages/train.py").run()
    assert not app.exception and "Saved as **Trained here: run 1**" in app.success[0].value


@pytest.mark.parametrize("fine_tuning, preset, said, not_said", [
    (True, "convlstm", "So the two curves need not move together", "stays near or above black frames'"),
    (False, "convlstm", "stays near or above black frames'", "need not move together"),
    # It told the keras.io model's run that it eased into closed loop: it is fed the true frame throughout.
    (False, "keras-io", "given the true frame at every one of the 19 steps", "scheduled sampling")])
def test_the_curves_caption_fits_the_run_shown(app, tmp_path, tiny_checkpoint, monkeypatch, fine_tuning, preset, said,
                                               not_said):
    # Beside a fine-tuning run's validation MSE of 45 (black frames 151) it said the MSE "stays near black frames'".
    import ui.jobs

    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 45.0 if fine_tuning else 160.0, fine_tuning)
    ui.jobs.registry().jobs[0].preset = preset
    for seen, loss in ((128, 0.07), (256, 0.06)):
        ui.jobs.registry().jobs[0].progress.update(loss=(seen, loss))
    app.run()
    captions = " ".join(caption.value for caption in app.caption)
    assert not app.exception and said in captions and not_said not in captions


@pytest.mark.parametrize("budget, said", [("Epochs", "Training reached the 10-minute limit before its epochs ended after "
                                                      "256 sequences"), ("Time", "Training done after 256 sequences")])
def test_an_epoch_budget_cut_by_the_time_limit_says_so(app, tmp_path, tiny_checkpoint, monkeypatch, budget, said):
    # It said "Training done", as if every epoch asked for had been trained.
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    job = ui.jobs.registry().jobs[0]
    job.progress, job.settings = TrainingProgress(), {"train_budget": budget}
    job.progress.update(status="done", sequences_seen=256, time_up=True, elapsed=54.2, ready_after=26.1)
    app.switch_page("pages/train.py").run()
    assert not app.exception and app.success[0].value.startswith(said)
    # A half-minute run read "(54 s)", with nothing of the 26 s it compiled before the clock started.
    assert "sequences (54 s, the first 26 s of them preparing the first training step)." in app.success[0].value
    job.progress.update(ready_after=0.3)  # a run in a model kept from an earlier one: its step compiled already
    app.run()
    assert "sequences (54 s). Saved as" in app.success[0].value


@pytest.mark.parametrize("fine_tuning, memory_left, advice", [
    (True, 2000, "Start again from the shipped model at a learning rate of 0.0001, which keeps what it learned."),
    (False, 2000, "Train for longer, or start from the shipped model."),
    # After a first run from scratch a Community Cloud server refused the fine-tuning this advised.
    (False, 700, "Train for longer (starting from the shipped model needs more memory than the server has left).")])
def test_a_run_that_has_not_learned_is_told_what_to_do(app, tmp_path, tiny_checkpoint, monkeypatch, fine_tuning,
                                                       memory_left, advice):
    # Fine-tuning at 3e-3 collapses to grey blurs scoring 120-265 (black frames 151): the warning starts at 0.75 of black.
    import core.training
    import ui.jobs
    from ui.limits import LIMITS

    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: LIMITS.server_memory_mb - memory_left)
    # No fine-tuning run before this one (this process's earlier tests may have left one to recycle).
    monkeypatch.setattr(core.training, "has_recycled_model", lambda config: False)
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 0.76 * 151, fine_tuning)
    assert [w.value for w in app.warning][-1] == (
        "Its validation MSE, 115, is close to what predicting black frames scores (151): its forecasts will be grey "
        "blurs, not digits. " + advice)


def test_a_run_that_failed_after_a_checkpoint_says_what_was_kept(app, tmp_path, tiny_checkpoint, monkeypatch):
    # It read "Training failed" alone, while every other page offered its checkpoint; and one that failed
    # before its first batch was told that its loss curve would start after them.
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=2)
    kept, lost = ui.jobs.registry().jobs
    lost.out.unlink()
    for job, seen in ((kept, 256), (lost, 0)):
        job.progress = TrainingProgress()
        job.progress.update(status="failed", error="OSError: No space left on device", sequences_seen=seen,
                            **{"loss": (seen, 0.2)} if seen else {})
    ui.jobs.registry().jobs = [kept]
    app.switch_page("pages/train.py").run()
    assert not app.exception and app.error[0].value == "Training failed: OSError: No space left on device"
    seen = read_checkpoint_info(tiny_checkpoint)[1]["sequences_seen"]
    assert app.info[0].value == (f"What it learned up to its last checkpoint ({seen} sequences) is saved as "
                                 "**Trained here: run 1**, which Forecast and Evaluate offer.")
    app.button(key="train_to_forecast").click().run()
    assert app.selectbox(key="forecast_checkpoint").value == "Trained here: run 1"
    ui.jobs.registry().jobs = [lost]
    app.switch_page("pages/train.py").run()
    assert not app.exception and app.error and not app.info
    assert not [b for b in app.button if b.key == "train_to_forecast"]
    assert not [c for c in app.caption if "loss curve starts" in c.value]


def test_a_backend_keras_loaded_but_core_refuses_is_refused_on_every_page_view(app, monkeypatch):
    # Refused once, Keras stayed loaded: the next page's run skipped the check and went on with it.
    import ui.shared

    def refused():
        raise InputError("Keras runs on its numpy backend here; ConvLSTM Studio runs on KERAS_BACKEND=tensorflow "
                         "(the default) or jax")

    monkeypatch.setattr(ui.shared, "import_keras", refused)
    for page in ("forecast", "evaluate"):
        app.switch_page(f"pages/{page}.py").run()
        assert not app.exception and app.error[0].value == (
            "Keras runs on its numpy backend here; ConvLSTM Studio runs on KERAS_BACKEND=tensorflow (the default) or "
            "jax. Restart the app with one of those.")


def test_a_second_tab_pressing_start_is_told_its_browser_has_a_run(app, monkeypatch):
    # Both tabs of one browser showed Start; the second was told the line had filled up.
    import ui.jobs

    def refused(self, owner, folder, config):
        raise Busy(OWN_RUN)  # as when the other tab's run was put in line a moment before

    monkeypatch.setattr(ui.jobs.Registry, "start", refused)
    app.switch_page("pages/train.py").run()
    app.button(key="train_start_button").click().run()
    assert not app.exception
    assert app.warning[0].value == "This browser has just started a run in another tab: reload this page to watch it here."


def test_a_run_that_learned_gets_no_warning(app, tmp_path, tiny_checkpoint, monkeypatch):
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 0.74 * 151, fine_tuning=True)
    assert not app.warning


def test_a_run_worse_than_black_frames_is_called_so(app, tmp_path, tiny_checkpoint, monkeypatch):
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 1.2 * 151, fine_tuning=False)
    assert app.warning[0].value.startswith("Its validation MSE, 181, is above what predicting black frames scores (151)")


def test_a_reload_shows_the_runs_settings_once_and_then_the_visitors(app, tmp_path, tiny_checkpoint, monkeypatch):
    # A reload is a new session: it opens on the settings the run used, and a change after
    # that stays (restored at every rerun, the settings could not be changed at all).
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    job = ui.jobs.registry().jobs[0]
    job.progress, job.settings = TrainingProgress(), {"train_digits": 1}
    job.progress.update(status="done", sequences_seen=256)
    app.switch_page("pages/train.py").run()
    assert app.radio(key="train_digits").value == 1
    app.radio(key="train_digits").set_value(2).run()
    app.run()
    assert not app.exception and app.radio(key="train_digits").value == 2
    # A later run, started in another tab of the same browser, shows its own settings here: this tab kept
    # showing the first run's as "the settings this run uses".
    shutil.copy(tiny_checkpoint, tmp_path / "runs" / "run-2.keras")
    later = ui.jobs.Job("visitor", "Trained here: run 2", tmp_path / "runs" / "run-2.keras", TrainingProgress(),
                        settings={"train_digits": 1, "train_budget": "Epochs"})
    later.progress.update(status="done", sequences_seen=256)
    ui.jobs.registry().jobs.append(later)
    app.run()
    assert app.radio(key="train_digits").value == 1 and app.radio(key="train_budget").value == "Epochs"


def test_a_finished_runs_model_can_be_downloaded(app, tmp_path, tiny_checkpoint, monkeypatch):
    # Kept an hour after the last visit, and nowhere to download: a teacher could not keep a class's model.
    import streamlit

    offered, download_button = {}, streamlit.download_button
    monkeypatch.setattr(streamlit, "download_button", lambda label, data, **kwargs: (
        offered.update({kwargs["file_name"]: data}), download_button(label, data, **kwargs))[1])
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 50.0, fine_tuning=True)
    (name, data), = offered.items()
    assert re.fullmatch(r"convlstm-studio-run-1-\d{4}-\d\d-\d\d-\d{4}\.keras", name), name  # not every session's "run-1"
    assert data() == (tmp_path / "runs" / "run-1.keras").read_bytes()


def test_an_earlier_runs_model_can_still_be_downloaded(app, tmp_path, tiny_checkpoint, monkeypatch):
    # The page draws its latest run alone: a run cancelled after a good one took the good one's Download away.
    import streamlit
    import ui.jobs
    from core.progress import TrainingProgress

    offered, download_button = {}, streamlit.download_button
    monkeypatch.setattr(streamlit, "download_button", lambda label, data, **kwargs: (
        offered.update({label: data}), download_button(label, data, **kwargs))[1])
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 50.0, fine_tuning=True)
    assert list(offered) == ["Download it"] and not app.get("subheader")
    cancelled = ui.jobs.Job("visitor", "Trained here: run 2", tmp_path / "runs" / "run-2.keras", TrainingProgress(),
                            number=2)
    cancelled.progress.update(status="cancelled")
    ui.jobs.registry().jobs.append(cancelled)
    offered.clear()
    app.run()
    assert not app.exception and app.info[0].value.startswith("Training cancelled before its first step ended")
    assert [header.value for header in app.get("subheader")] == ["Your earlier runs"]
    assert "**Trained here: run 1**, from the shipped model" in app.markdown[-1].value
    (label, data), = offered.items()
    assert label == "Download run 1" and data() == (tmp_path / "runs" / "run-1.keras").read_bytes()


@pytest.mark.parametrize("page", ["forecast", "evaluate"])
def test_a_finished_run_opens_forecast_and_evaluate_with_its_model_picked(app, tmp_path, tiny_checkpoint, monkeypatch,
                                                                         page):
    # "Pick it on Forecast" left a class looking for the page, then for the model in its list.
    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 50.0, fine_tuning=False)
    app.switch_page(f"pages/{page}.py").run()
    assert app.selectbox(key=f"{page}_checkpoint").value == SHIPPED_LABEL  # the model picked there before
    app.switch_page("pages/train.py").run()
    app.button(key=f"train_to_{page}").click().run()
    assert not app.exception and app.title[0].value == page.capitalize()
    assert app.selectbox(key=f"{page}_checkpoint").value == "Trained here: run 1"
    if page == "evaluate":  # "Evaluate it" evaluates: it used to stop at "Press Evaluate to score ..."
        from ui.evaluations import evaluations

        paths, count = app.session_state["evaluate_request"]
        # Beside the shipped model, a run from scratch too: its scores alone read as a failure to a class.
        assert paths == (str(tmp_path / "runs" / "run-1.keras"), str(SHIPPED))
        assert not any(caption.value.startswith("Press Evaluate") for caption in app.caption)
        deadline = time.time() + 120  # scored before the next test, which would share the server's cores with it
        while any(evaluations().done(Path(path), count) is None for path in paths) and time.time() < deadline:
            time.sleep(0.5)
        assert all(evaluations().done(Path(path), count).status == "done" for path in paths)
    app.switch_page(f"pages/{page}.py")  # where st.switch_page took the browser; AppTest reruns the page it was given
    app.selectbox(key=f"{page}_checkpoint").set_value(SHIPPED_LABEL).run()  # the wish is used once
    app.switch_page("pages/dataset.py").run()
    app.switch_page(f"pages/{page}.py").run()
    assert app.selectbox(key=f"{page}_checkpoint").value == SHIPPED_LABEL


def test_a_model_behind_black_frames_on_both_metrics_is_not_excused_by_ssim(app, tmp_path, tiny_checkpoint,
                                                                           monkeypatch):
    # An untrained model's grey frames trail black frames on MSE and SSIM alike; the page blamed SSIM's
    # liking for black backgrounds.
    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    app.switch_page("pages/forecast.py").run()
    app.selectbox(key="forecast_checkpoint").set_value("Trained here: run 1").run()
    verdict = next(block.value for block in app.markdown if block.value.startswith("On MSE"))
    assert "On SSIM black frames score as high or higher" in verdict and "SSIM rewards" not in verdict, verdict
    # Behind from the start to the end: broken down from +1, where the MSE chart draws the dashed line it names.
    assert verdict.startswith("On MSE the forecast is no better than predicting black frames from frame +1 on (dashed line)")
    shapes = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["shapes"]
    assert [(shape["x0"], shape["line"]["dash"]) for shape in shapes] == [(1, "dash")]
    # One frame: nothing lies past it, and the verdict names no line, so the chart draws none (it drew one at +1).
    app.slider(key="forecast_horizon").set_value(1).run()
    verdict = next(block.value for block in app.markdown if block.value.startswith("On MSE"))
    assert "dashed" not in verdict and "at the one predicted frame" in verdict, verdict
    assert "shapes" not in json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]


def test_the_model_picked_on_one_page_is_the_model_on_the_next(app, tmp_path, tiny_checkpoint, monkeypatch):
    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    app.switch_page("pages/forecast.py").run()
    app.selectbox(key="forecast_checkpoint").set_value("Trained here: run 1").run()
    assert "**Model:** Trained here: run 1" in [caption.value for caption in app.sidebar.caption]
    app.switch_page("pages/design.py").run()
    assert not app.exception and app.selectbox(key="design_checkpoint").value == "Trained here: run 1"


def test_homes_link_to_more_forecasts_opens_them_with_the_model_home_used(app, tmp_path, tiny_checkpoint, monkeypatch):
    # It opened Forecast on Home's sequence with the run picked there before: a grey blur where Home showed digits.
    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    for page in ("forecast", "evaluate"):
        app.switch_page(f"pages/{page}.py").run()
        app.selectbox(key=f"{page}_checkpoint").set_value("Trained here: run 1").run()
    app.switch_page("pages/home.py").run()
    app.button(key="home_forecast").click().run()
    # Only its link asks for the shipped model: the one-click forecast alone changed the next page's model.
    app.switch_page("pages/evaluate.py").run()
    assert app.selectbox(key="evaluate_checkpoint").value == "Trained here: run 1"
    # Another sequence picked on another page since: the link opened that one, not the one Home shows.
    app.switch_page("pages/dataset.py").run()
    app.number_input(key="dataset_index").set_value((app.session_state["home_index"] + 1) % TEST_COUNT).run()
    app.switch_page("pages/home.py").run()
    app.button(key="home_more").click().run()
    assert not app.exception and app.title[0].value == "Forecast"
    assert app.selectbox(key="forecast_checkpoint").value == SHIPPED_LABEL
    assert app.number_input(key="forecast_index").value == app.session_state["home_index"]


def test_a_model_trained_here_is_described_under_its_picker(app, tmp_path, tiny_checkpoint, monkeypatch):
    # "Trained here: run 1" and "run 2" read the same, one fine-tuned from the shipped model and one not.
    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=2)
    model = load_checkpoint(tmp_path / "runs" / "run-2.keras")
    save_checkpoint(model, tmp_path / "runs" / "run-2.keras",
                    info={**model.studio_info, "init_from": str(SHIPPED), "sequences_seen": 1234})
    app.switch_page("pages/forecast.py").run()
    captions = lambda: [caption.value for caption in app.caption]
    assert not any(caption.startswith("A ConvLSTM") for caption in captions())  # nothing to say of the shipped model
    app.selectbox(key="forecast_checkpoint").set_value("Trained here: run 1").run()
    assert "A ConvLSTM, trained here from scratch on 64 sequences." in captions()
    app.selectbox(key="forecast_checkpoint").set_value("Trained here: run 2").run()
    # Its own sequences, not the shipped model's 2.4 million before them.
    assert "A ConvLSTM, fine-tuned here from the shipped model on 1,234 sequences." in captions()
    app.switch_page("pages/evaluate.py").run()
    app.selectbox(key="evaluate_compare").set_value("Trained here: run 1").run()
    assert not app.exception and "A ConvLSTM, trained here from scratch on 64 sequences." in captions()


def test_a_picked_model_since_deleted_is_said_to_be_gone(app, tmp_path, tiny_checkpoint, monkeypatch):
    # A session's oldest run is deleted when a newer one makes too many: the pages went on
    # with another model without a word.
    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=2)
    app.switch_page("pages/forecast.py").run()
    assert not app.toast
    app.selectbox(key="forecast_checkpoint").set_value("Trained here: run 1").run()
    (tmp_path / "runs" / "run-1.keras").unlink()
    app.run()
    assert app.selectbox(key="forecast_checkpoint").value == SHIPPED_LABEL
    assert [toast.value for toast in app.toast] == [
        "**Trained here: run 1** is no longer kept (a session keeps its newest 3 trained models, until an hour after "
        f"its last visit): **{SHIPPED_LABEL}** is picked instead."]
    app.switch_page("pages/evaluate.py").run()
    app.selectbox(key="evaluate_compare").set_value("Trained here: run 2").run()
    (tmp_path / "runs" / "run-2.keras").unlink()
    app.run()
    assert not app.exception and app.selectbox(key="evaluate_compare").value == "(none)"
    assert [toast.value for toast in app.toast] == [
        "**Trained here: run 2** is no longer kept (a session keeps its newest 3 trained models, until an hour after "
        "its last visit): no model is compared with it now."]
    # Said once: the page's kept settings brought the deleted name back, and the toast, at every return.
    for _ in range(2):
        app.switch_page("pages/home.py").run()
        app.switch_page("pages/evaluate.py").run()
        assert not app.toast and app.selectbox(key="evaluate_compare").value == "(none)"
    # Nor when another page asked for a model: "run 1 is no longer kept: run 3 is picked instead" of a wish.
    from ui.jobs import Job, registry

    shutil.copy(tiny_checkpoint, tmp_path / "runs" / "run-3.keras")
    registry().jobs.append(Job("visitor", "Trained here: run 3", tmp_path / "runs" / "run-3.keras", None))
    app.session_state["checkpoint_wanted"] = "Trained here: run 3"
    app.session_state["chosen_checkpoint"] = "Trained here: run 1"
    app.switch_page("pages/design.py").run()
    assert app.selectbox(key="design_checkpoint").value == "Trained here: run 3" and not app.toast


@pytest.mark.parametrize("after, warned", [(48.4, True), (42.0, False)])
def test_a_fine_tuning_run_that_made_its_model_worse_says_so(app, tmp_path, tiny_checkpoint, monkeypatch, after,
                                                              warned):
    # Validation MSE 43.0 -> 48.4 read as a success beside baselines of 151 and 250.
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    job = ui.jobs.registry().jobs[0]
    job.progress, job.fine_tuning = TrainingProgress(), True
    job.progress.update(status="done", sequences_seen=96, val_baselines={"black frames": 151.0}, val_mse_start=43.0)
    for point in ((0, 43.0), (96, after)):  # core.training.train's: the start, scored before training
        job.progress.update(val_mse=point)
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert [w.value.startswith(f"Its validation MSE rose from 43.0, the model it started from, to {after}")
            for w in app.warning] == ([True] if warned else [])
    # "Compare the two on Evaluate": its button opened Evaluate comparing with nothing, also where this browser's
    # last click there, before a reload, restored "(none)" over it.
    from ui.evaluations import evaluations

    evaluations().remember(app.session_state["session_id"], {"evaluate_compare": "(none)"})
    app.session_state["evaluate_count"] = 10
    app.button(key="train_to_evaluate").click().run()
    assert app.selectbox(key="evaluate_checkpoint").value == "Trained here: run 1"
    assert app.selectbox(key="evaluate_compare").value == "Shipped model"
    app.switch_page("pages/evaluate.py")  # AppTest's later runs go back to the page it was told of
    until_scored(app)  # and scored both, as a click of Evaluate would
    assert {"Trained here: run 1", "Shipped model"} <= set(app.table[0].value["Model or baseline"])


def test_evaluate_it_keeps_a_comparison_the_visitor_picked(app, tmp_path, tiny_checkpoint, monkeypatch):
    # It puts a run from scratch beside the shipped model, but not over a comparison with an earlier run.
    import ui.jobs
    from core.progress import TrainingProgress
    from ui.evaluations import evaluations

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=2)
    for job in ui.jobs.registry().jobs:
        job.progress, job.fine_tuning = TrainingProgress(), False
        job.progress.update(status="done", sequences_seen=256, val_mse=(256, 200.0),
                            val_baselines={"black frames": 151.0, "repeat last frame": 250.0})
    app.switch_page("pages/evaluate.py").run()
    app.selectbox(key="evaluate_compare").set_value("Trained here: run 1").run()
    app.switch_page("pages/train.py").run()
    app.session_state["evaluate_count"] = 10
    app.button(key="train_to_evaluate").click().run()
    assert not app.exception
    assert app.selectbox(key="evaluate_checkpoint").value == "Trained here: run 2"
    assert app.selectbox(key="evaluate_compare").value == "Trained here: run 1"
    paths, count = app.session_state["evaluate_request"]
    deadline = time.time() + 120  # scored before the next test, which would share the server's cores with it
    while any(evaluations().done(Path(path), count) is None for path in paths) and time.time() < deadline:
        time.sleep(0.5)


@pytest.mark.parametrize("status, waiting, said", [
    ("cancelled", True, "Your run left the line: when its turn came, this browser had been away for over 5 minutes, "
                        "so the next run went first. Nothing was trained."),
    ("stopped", False, "Saved as **Trained here: run 1**, which Forecast and Evaluate offer. It stopped early: this "
                       "browser was away for over 5 minutes while others waited to train."),
    ("cancelled", False, "nothing was learned, so nothing was saved. It stopped early: this browser was away for "
                         "over 5 minutes while others waited to train.")])
def test_a_run_that_gave_way_to_others_says_why(app, tmp_path, tiny_checkpoint, monkeypatch, status, waiting, said):
    # Back after its browser was away, a visitor found their run stopped, or gone from the line, without a word why.
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=1)
    job = ui.jobs.registry().jobs[0]
    job.progress, job.waiting, job.gave_way = TrainingProgress(), waiting, True
    job.progress.update(status=status, sequences_seen=0 if waiting else 256)
    app.switch_page("pages/train.py").run()
    assert not app.exception and any(said in box.value for box in (*app.info, *app.success))


def test_a_diverged_run_is_called_diverged(app, tmp_path, tiny_checkpoint, monkeypatch):
    # NaN weights: a NaN loss, and black frames' validation MSE (test_training.py shows a real run's); the
    # page called it "close to" black frames' and promised grey blurs.
    import ui.jobs

    finished_scoring(app, tmp_path, tiny_checkpoint, monkeypatch, 151.0, fine_tuning=True)
    ui.jobs.registry().jobs[0].progress.update(loss=(256, float("nan")))
    app.run()
    assert [w.value for w in app.warning] == ["The run diverged: its training loss became NaN (not a number), and its "
                                              "forecasts are black frames. Start again at a lower learning rate."]


@pytest.mark.parametrize("preset", ["Bounce off a wall", "Two digits crossing", "A corner bounce as the context ends",
                                    "Three digits (more than in training)", "Slower than in training"])
def test_design_presets_forecast_the_designed_sequence(app, preset):
    app.switch_page("pages/design.py").run()
    app.button(key=f"design_preset_{preset}").click().run()
    assert not app.exception
    gifs = [caption for caption, url in images(app) if url.endswith(".gif")]
    # One GIF, truth and prediction: three panels were too small to read on a projector (the verdict scores the error).
    assert gifs == ["Ground truth | prediction, frame by frame in step. " + INPUT_EXPLAINED + " " + BOUNCES_EXPLAINED]
    # The widgets and the forecast sequence are the preset's (the count alone was the default for two digits).
    placed, length = design_presets()[preset]
    assert app.radio(key="design_count").value == len(placed) and app.slider(key="design_length").value == length
    settings = [[app.session_state[f"design_{name}_{slot}"] for name in ("class", "example", "row", "col", "angle", "speed")]
                for slot in range(len(placed))]
    assert settings == [list(digit) for digit in placed]
    # Every setting on its slider's steps, or a drag away from it could not come back (speed 0.8 at steps of 0.25).
    for slot, digit in enumerate(placed):
        for name, value in zip(("row", "col", "angle", "speed"), digit[2:]):
            slider = app.slider(key=f"design_{name}_{slot}")
            assert round((value - slider.min) / slider.step, 6).is_integer(), (name, value, slider.step)
    assert [tab.label for tab in app.tabs] == [f"Digit {slot + 1}" for slot in range(len(placed))]  # named groups
    galleries = [url for caption, url in images(app) if caption.startswith("Test digits of class")]
    assert len(galleries) == len(placed) and all(url.endswith(".png") for url in galleries)  # not JPEG, 3x the bytes
    # Whether the model followed, in words (a screen reader has only the GIF's alt text otherwise).
    said = next(block.value for block in app.markdown if block.value.startswith("On MSE (the field's mean squared"))
    # The same scores as core's for the preset's sequence, drawn here from its settings.
    from core import data
    from core.evaluation import score_forecast
    from core.forecasting import forecast
    from ui.verdict import against_still

    pictures, classes = data.mnist_digits("test")
    digits = np.array([pictures[classes == digit][example] for digit, example, *_ in placed])
    starts, angles, speeds = (np.array([digit[slice_] for digit in placed]) for slice_ in (slice(2, 4), 4, 5))
    designed = data.design(digits, starts, angles, speeds, length, [digit[0] for digit in placed])
    frames = designed.frames
    # And its frames still, under the truth (the GIF never pauses), its bounces marked and named.
    assert ("Frames 1-10: context. From +1 on: the model's forecast under the ground truth."
            + bounces_words(designed, 10)) in [c for c, _ in images(app)]
    assert "bounces off" in bounces_words(designed, 10)
    prediction = forecast(load_checkpoint(SHIPPED, compile=False, precision="auto"), frames[:, :10], length - 10)
    scores = score_forecast(frames[:, :10], frames[:, 10:], prediction)
    assert said.endswith(f". Over the {length - 10} predicted frames the model's MSE is {scores['model'].mse:.1f} a frame "
                         f"(its 4,096 pixels' squared errors summed), black frames' {scores['black frames'].mse:.1f}. "
                         + against_still(scores))
    behind = scores["model"].per_frame["mse"] > scores["black frames"].per_frame["mse"]
    assert ("beats predicting black frames at every one of the 10 frames" in said) == (not behind.any())
    paths = json.loads(next(chart for chart in app.get("plotly_chart") if "digit 1" in chart.proto.spec).proto.spec)
    assert [trace["name"] for trace in paths["data"] if trace.get("showlegend", True)][::2] == [
        f"digit {slot + 1}, a {digit[0]} (context)" for slot, digit in enumerate(placed)]
    # The design is still there after a visit to another page.
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/design.py").run()
    assert [[app.session_state[f"design_{name}_{slot}"] for name in ("class", "example", "row", "col", "angle", "speed")]
            for slot in range(len(placed))] == settings


def design_presets() -> dict:
    """pages/design.py's PRESETS, read from its source without running the page."""
    tree = ast.parse((ROOT / "pages" / "design.py").read_text())
    return ast.literal_eval(next(node.value for node in tree.body if isinstance(node, ast.Assign)
                                 and getattr(node.targets[0], "id", None) == "PRESETS"))


def test_the_crossing_preset_crosses_in_the_forecast_at_the_datasets_speed():
    # They met at context frame 10, so the given frames answered the question the button asks.
    placed, length = design_presets()["Two digits crossing"]
    images, labels = data.mnist_digits("test")
    ink = [data.design(images[labels == digit][example][None], np.array([[row, col]]), np.array([angle]),
                       np.array([speed]), length).frames[0] > 0 for digit, example, row, col, angle, speed in placed]
    touching = (ink[0] & ink[1]).any(axis=(1, 2))
    assert not touching[: data.CONTEXT_FRAMES].any() and touching[data.CONTEXT_FRAMES :].any()
    assert not touching[-3:].any()  # and apart again: through each other, not merged
    assert {speed for *_, speed in placed} == {1.0}  # the only speed it trained on


def test_the_bounce_presets_bounce_where_they_say_at_the_datasets_speed():
    # At 0.8, a speed it never trained on, the forecasts drifted (MSE 20 rising to 114) and a class blamed the bounce.
    images, labels = data.mnist_digits("test")
    for name, frame, walls in (("Bounce off a wall", data.CONTEXT_FRAMES, {"right"}),  # at +1
                               ("A corner bounce as the context ends", data.CONTEXT_FRAMES - 1, {"top", "left"})):
        (placed,), length = design_presets()[name]
        digit, example, row, col, angle, speed = placed
        designed = data.design(images[labels == digit][example][None], np.array([[row, col]]), np.array([angle]),
                               np.array([speed]), length)
        assert speed == 1.0 and {(t, wall) for t, _, wall in data.walls_hit(designed)} == {(frame, w) for w in walls}


def test_design_says_what_the_model_never_trained_on(app):
    def unfamiliar():
        return [box.value for box in app.info if box.value.startswith("Unlike anything")]

    app.switch_page("pages/design.py").run()
    assert not app.exception and unfamiliar() == []  # two digits at speed 1, ten frames forecast: as trained
    app.button(key="design_preset_Slower than in training").click().run()
    assert unfamiliar() == ["Unlike anything the model trained on: one digit (it trained on two); a speed of 0.5 (it "
                            "trained on 1 only). Where it misses, that may be why, rather than the motion itself."]
    app.slider(key="design_length").set_value(25).run()
    assert unfamiliar()[0].endswith("(it trained on 1 only); 15 predicted frames (it trained on 10). Where it misses, "
                                    "that may be why, rather than the motion itself.")


def test_inside_says_the_first_frame_has_no_memory_to_forget(app):
    # At context 1/10 the forget gate's digit-shaped map read as the model forgetting digits it had not yet seen.
    def zeros_said():
        return any("still all zeros" in caption.value for caption in app.caption)

    app.switch_page("pages/inside.py").run()
    assert not zeros_said()
    app.select_slider(key="inside_step").set_value(0).run()
    assert not app.exception and zeros_said()


def test_inside_the_convlstm_shows_gates_and_states(app):
    app.switch_page("pages/inside.py").run()
    assert len([url for _, url in images(app) if url.endswith(".gif")]) == 1
    equations = [element.value for element in app.latex]
    assert len(equations) == 6 and any(r"H_t = o_t \circ \tanh(C_t)" in eq for eq in equations)
    # The shipped model normalises its gates, and the equations say so, with the +1 the cell
    # adds to the forget gate after the normalisation.
    assert any(r"f_t = \sigma(\mathrm{LN}(W_f * [X_t, H_{t-1}] + b_f) + 1)" in eq for eq in equations)
    assert any("layer normalisation" in caption.value for caption in app.caption)
    # It opens on the channel of cell 1's hidden state that follows the frames fed in most closely (the
    # mean over all was flat), and every picture shows that one channel, whichever tensor the animation shows.
    from core.checkpoints import load_checkpoint
    from core.inspection import trace

    opened = data.sequence("test", FIRST_SEQUENCE).frames[0, :10]
    traced = trace(load_checkpoint(SHIPPED, compile=False, precision="auto"), opened, 10)
    hidden = traced.layers[0]["hidden"].reshape(-1, traced.layers[0]["hidden"].shape[-1])
    patches = traced.inputs.reshape(-1, 16, 4, 16, 4).mean(axis=(2, 4)).ravel()
    shows_digits = int(np.argmax([abs(np.corrcoef(patches, hidden[:, k])[0, 1]) for k in range(hidden.shape[1])]))
    assert app.selectbox(key="inside_channel").value == "digits"
    assert any(caption.value.startswith(f"Cell 1, channel {shows_digits}, reading") for caption in app.caption)
    # Its name gives no number, which the closed box kept from the layer picked before (Streamlit's).
    assert app.selectbox(key="inside_channel").options[0] == "the channel tracking the digits"
    assert any(f"of cell 1 (channel {shows_digits})" in caption for caption, _ in images(app))  # the GIF's, nearer
    app.selectbox(key="inside_quantity").set_value("input").run()
    assert any(caption.value.startswith(f"Cell 1, channel {shows_digits}, reading") for caption in app.caption)
    app.selectbox(key="inside_quantity").set_value("forget").run()
    app.selectbox(key="inside_channel").set_value(3).run()
    app.select_slider(key="inside_step").set_value(14).run()  # the 15th frame fed in: the 5th prediction
    assert not app.exception
    captions = [caption for caption, _ in images(app)]
    assert any("forget gate f of cell 1" in caption for caption in captions)
    assert sum("at future +5" in caption for caption in captions) == 6  # one picture per equation term
    # The step's own frames, held still: only the animation above, which never stops, had them.
    assert {"Fed in: future +5", "Predicted: future +6"} <= set(captions)
    assert "forget gate f at future +5" in captions
    # Each picture's colours, in the words beside it: too small for a colour bar of its own. Gates are
    # sigmoids, 0 to 1; the candidate and the hidden state are tanh, -1 to 1.
    words = [caption.value for caption in app.caption]
    for name, colours in (("input gate i", "dark purple 0 to yellow 1"), ("forget gate f", "dark purple 0 to yellow 1"),
                          ("output gate o", "dark purple 0 to yellow 1"), ("candidate g", "blue -1, white 0, red 1"),
                          ("hidden state H", "blue -1, white 0, red 1")):
        assert f"{name} at future +5" in captions
        assert any(text.startswith(f"{name}: ") and text.endswith(f". Colours: {colours}.") for text in words), name
    # Sent as PNG: Streamlit sent them on as JPEG, which blurred their square cells.
    assert all(url.endswith(".png") for caption, url in images(app) if " at future +5 " in caption or "Colour scale" in caption)


def test_inside_reads_a_cached_traces_model_config_without_loading_the_model(app, monkeypatch):
    # With the trace cached and the model dropped from its cache, the page loaded the whole model to read its config.
    app.switch_page("pages/inside.py").run()
    assert not app.exception

    def not_again(*args):
        raise AssertionError("the model was loaded again")

    monkeypatch.setattr("ui.shared._load", not_again)
    app.switch_page("pages/inside.py").run()
    assert not app.exception and app.selectbox(key="inside_layer").options == ["cell 1 of 3", "cell 2 of 3", "cell 3 of 3"]


def test_inside_keeps_its_settings_and_drops_those_another_model_lacks(app, tmp_path, tiny_checkpoint, monkeypatch):
    settings = {"inside_layer": 2, "inside_quantity": "output", "inside_channel": 12, "inside_step": 15}
    app.switch_page("pages/inside.py").run()
    for key, value in settings.items():
        (app.select_slider if key == "inside_step" else app.selectbox)(key=key).set_value(value).run()
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/inside.py").run()  # reopened on cell 1, the cell state and the mean
    assert {key: app.session_state[key] for key in settings} == settings
    assert not app.exception and not app.warning
    # A one-cell model of 8 channels has no cell 2 nor channel 12: back to its first of each.
    finished_here(app, tmp_path / "mine", tiny_checkpoint, monkeypatch, runs=1)
    app.run()
    app.selectbox(key="inside_checkpoint").set_value("Trained here: run 1").run()
    assert not app.exception
    assert (app.selectbox(key="inside_layer").value, app.selectbox(key="inside_channel").value) == (1, "digits")
    assert app.selectbox(key="inside_quantity").value == "output"


def test_inside_refuses_a_keras_io_model_and_the_sidebar_names_it(app, keras_io_here):
    app.switch_page("pages/inside.py").run()
    app.selectbox(key="inside_checkpoint").set_value(keras_io_here).run()
    assert not app.exception and "Only the ConvLSTM" in app.error[0].value
    # The page stopped before the sidebar was drawn again, which went on naming the model before.
    assert f"**Model:** {keras_io_here}" in [caption.value for caption in app.sidebar.caption]


BAD_FILES = bad_files()


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_uploads_get_one_clear_line_and_the_app_keeps_answering(app, name):
    content, words = BAD_FILES[name]
    app.switch_page("pages/dataset.py").run()
    app.radio(key="dataset_source").set_value("Your own .npy file").run()
    app.get("file_uploader")[0].set_value(("upload.npy", content, "application/octet-stream")).run()
    assert not app.exception
    assert len(app.error) == 1 and words in app.error[0].value and "\n" not in app.error[0].value
    app.switch_page("pages/forecast.py").run()  # still answering
    assert not app.exception and len([url for _, url in images(app) if url.endswith(".gif")]) == 1


def upload(app, frames: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, frames)
    app.switch_page("pages/dataset.py").run()
    app.radio(key="dataset_source").set_value("Your own .npy file").run()
    app.get("file_uploader")[0].set_value(("mine.npy", buffer.getvalue(), "application/octet-stream")).run()


def test_an_upload_forgotten_by_streamlit_is_named_and_one_removed_is_not(app):
    def forgotten():
        return [info.value for info in app.info if "no longer here" in info.value]

    upload(app, moving_mnist("test", 2))
    assert not forgotten()
    app.switch_page("pages/forecast.py").run()
    app.switch_page("pages/dataset.py").run()
    assert app.get("file_uploader")[0].value is None  # Streamlit's doing: a file cannot be put back
    assert forgotten() == ["**mine.npy** is no longer here: Streamlit forgets an upload once its box leaves the "
                           "screen (another page or source). Drop it here again."]
    upload(app, moving_mnist("test", 2))
    app.get("file_uploader")[0].set_value(None).run()  # the visitor's own x
    assert not forgotten() and not app.exception
    app.get("file_uploader")[0].set_value(("bad.npy", b"not an array", "application/octet-stream")).run()
    assert len(app.error) == 1
    app.switch_page("pages/forecast.py").run()
    app.switch_page("pages/dataset.py").run()
    assert not forgotten()  # a refused file is not asked for again


def test_a_replaced_upload_opens_on_its_first_sequence_without_a_word(app):
    upload(app, moving_mnist("test", 6))
    app.number_input(key="dataset_upload_index").set_value(5).run()
    buffer = io.BytesIO()
    np.save(buffer, moving_mnist("test", 2))
    app.get("file_uploader")[0].set_value(("shorter.npy", buffer.getvalue(), "application/octet-stream")).run()
    # Not "the sequence number was 5; the limit is 0 to 1", of a number the visitor never gave this file.
    assert not app.exception and app.number_input(key="dataset_upload_index").value == 0 and not app.toast


def test_an_upload_is_read_once_and_shared_read_only():
    # A 100 MB upload copied on every rerun (cache_data unpickles a copy each time) would fill a shared server.
    from ui.shared import uploaded_frames

    reads = []

    class Upload:
        def getvalue(self):
            reads.append(1)
            buffer = io.BytesIO()
            np.save(buffer, moving_mnist("test", 2))
            return buffer.getvalue()

    upload = Upload()
    first = uploaded_frames("file-1", upload, "mine.npy")
    assert uploaded_frames("file-1", upload, "mine.npy") is first and len(reads) == 1
    assert not first.flags.writeable
    assert np.array_equal(first, moving_mnist("test", 2))
    # So is a refused one: raised, the refusal was not cached, and the file was read again on every rerun.
    class Payload(bytearray):  # one that can be watched for: bytes cannot
        pass

    held = [Payload(b"not an array")]
    gone = weakref.ref(held[0])
    refused = types.SimpleNamespace(getvalue=lambda: reads.append(1) or held.pop())
    for _ in range(2):
        with pytest.raises(InputError, match="^bad.npy is not a .npy file"):
            uploaded_frames("file-2", refused, "bad.npy")
    assert len(reads) == 2
    gc.collect()
    assert gone() is None  # kept as the error itself, its traceback held the file's bytes


def test_a_good_upload_is_shown(app):
    upload(app, moving_mnist("test", 2)[:, :12] / 255.0)  # floats in [0, 1], 12 frames
    assert not app.exception and not app.error
    assert any(url.endswith(".gif") for _, url in images(app))
    assert "12 frames" in " ".join(caption for caption, _ in images(app))


def test_an_upload_of_very_long_sequences_is_refused_in_one_line(app):
    # 1,000 frames would pass matplotlib's 65,536-pixel limit in the frame strip.
    upload(app, np.zeros((1, 1000, 64, 64), np.uint8))
    assert not app.exception
    assert len(app.error) == 1 and "at most 200" in app.error[0].value


def test_an_uploaded_sequence_is_forecast_past_its_end(app, monkeypatch):
    import streamlit

    downloads, download_button = [], streamlit.download_button
    monkeypatch.setattr(streamlit, "download_button", lambda *args, **kwargs: (
        downloads.append(kwargs["file_name"]), download_button(*args, **kwargs))[1])
    upload(app, moving_mnist("test", 2)[:, :12])  # 10 context frames and only 2 to compare with
    app.number_input(key="dataset_upload_index").set_value(1).run()
    app.button(key="dataset_forecast").click().run()
    assert not app.exception and app.title[0].value == "Forecast"
    assert app.radio(key="forecast_source").value == "your file, sequence 1"
    # Named after the sequence: every one sent from Dataset was "your-sequence-...". And after the horizon and
    # the model: a 10- and a 60-frame forecast, or the shipped model's and a run's, had one name.
    assert downloads[-4:] == [f"your-file-sequence-1-10-frames-shipped-model-{panel}.gif"
                              for panel in ("comparison", "ground-truth", "prediction", "absolute-error")]
    assert "ends 2 frames after the context" in app.info[0].value
    assert len([url for _, url in images(app) if url.endswith(".gif")]) == 1
    assert len(app.get("plotly_chart")) == 2  # per-frame errors over the 2 true frames
    assert [len(curve) for curve in chart_curves(app.get("plotly_chart")[0]).values()] == [2, 2, 2]
    assert "of the 2 frames" in next(block.value for block in app.markdown if block.value.startswith("On MSE"))
    app.switch_page("pages/forecast.py")  # AppTest reruns the page it last switched to, not the one the app did
    app.radio(key="forecast_source").set_value("Bundled test set").run()
    assert not app.exception and app.number_input(key="forecast_index").value == FIRST_SEQUENCE


def test_an_uploaded_sequence_longer_than_the_forecast_is_scored_on_the_forecast_frames(app):
    upload(app, moving_mnist("test", 1, length=30)[0])
    app.button(key="dataset_forecast").click().run()
    app.switch_page("pages/forecast.py")
    app.slider(key="forecast_horizon").set_value(5).run()
    assert not app.exception and not app.info  # the truth goes on past the forecast: nothing to explain
    assert [len(curve) for curve in chart_curves(app.get("plotly_chart")[0]).values()] == [5, 5, 5]


def test_a_sequence_shorter_than_the_context_is_padded_and_forecast(app):
    upload(app, moving_mnist("test", 1)[0, :6])
    assert any(caption == "Context: frames 1 to 5. Future: frame +1." for caption, _ in images(app))
    app.button(key="dataset_forecast").click().run()
    assert not app.exception and not app.error
    # Split as the Dataset page shows it: 5 frames of context, the last kept to score the forecast on.
    assert "only 6 frames: the model gets the first 5" in app.info[0].value
    # Its ground truth GIF is black after its last frame, which the second note says.
    assert "ends 1 frame after the context" in app.info[1].value and "say 'no data' there" in app.info[1].value
    gifs = [caption for caption, url in images(app) if url.endswith(".gif")]
    assert gifs == ["Ground truth | prediction | absolute error, frame by frame in step. " + INPUT_EXPLAINED + " "
        + ERROR_EXPLAINED]  # one GIF: three played out of step
    assert len(chart_curves(app.get("plotly_chart")[0])["model"]) == 1
    assert not [caption.value for caption in app.caption if " 1 frames" in caption.value]


def test_a_two_frame_sequence_is_shown_but_not_sent_to_forecast(app):
    # One frame of context and one to score: the Forecast page showed a traceback.
    upload(app, moving_mnist("test", 1)[0, :2])
    assert not app.exception and app.button(key="dataset_forecast").disabled
    assert ("2 known frames padded to 10 by repeating the first: known frames 1-2 become context frames 9-10, and "
            "frames 1-8 are copies of the first. Both frames of this sequence, to show the padding: a forecast "
            "keeps the second to score.") in [caption for caption, _ in images(app)]


def test_padding_is_described_for_each_number_of_known_frames(app):
    app.switch_page("pages/dataset.py").run()
    for known, words in ((10, "10 known frames: at least 10, so nothing is padded."),
                         (9, "9 known frames padded to 10 by repeating the first: known frames 1-9 become context "
                             "frames 2-10, and frame 1 is a copy of the first."),
                         (8, "8 known frames padded to 10 by repeating the first: known frames 1-8 become context "
                             "frames 3-10, and frames 1-2 are copies of the first.")):
        app.slider(key="dataset_known").set_value(known).run()
        assert words in [caption for caption, _ in images(app)]


@pytest.mark.parametrize("page,key,value,limit", [
    ("pages/forecast.py", "forecast_horizon", 500, 60),
    ("pages/forecast.py", "forecast_index", -3, 0),
    ("pages/evaluate.py", "evaluate_count", 10**6, 1000),
])
def test_out_of_range_state_is_brought_back_within_the_limits(app, page, key, value, limit):
    app.session_state[key] = value
    app.switch_page(page).run()
    assert not app.exception
    assert app.session_state[key] == limit


def test_a_crafted_checkpoint_path_never_reaches_outside_the_session(app):
    app.session_state["trained"] = {"evil": "../../checkpoints/convlstm.keras", "other": "/etc/passwd"}
    app.switch_page("pages/forecast.py").run()
    assert not app.exception
    assert app.selectbox(key="forecast_checkpoint").options == [SHIPPED_LABEL]


def test_a_session_that_ends_stops_its_run_and_leaves_no_files(tmp_path, monkeypatch):
    from core.training import TrainConfig
    from ui.jobs import Registry
    from ui.sessions import _release

    folder = tmp_path / "session"
    folder.mkdir()
    registry = Registry()
    config = TrainConfig(minutes=None, epochs=1000, epoch_sequences=16, batch_size=8, val_count=4,
                         model_overrides={"num_layers": 1, "filters": 4, "precision": "float32"}, out=str(folder / "run-1.keras"))
    job = registry.start("someone", folder, config)
    assert job.out == folder / "run-1.keras"
    deadline = time.time() + 120  # against a hang only
    while job.running and job.progress.snapshot()["sequences_seen"] < 16 and time.time() < deadline:
        time.sleep(0.1)
    assert job.running, job.progress.snapshot()["error"]
    # The running run is nobody's finished checkpoint yet: Forecast offered its first epoch's file.
    assert registry.jobs == [job] and registry.running() is job and registry.finished("someone") == []
    monkeypatch.setattr("ui.jobs.registry", lambda: registry)  # the server's registry, as the release sees it
    assert not _release(str(folder))  # asks the run to stop, without waiting for it
    assert folder.exists()
    deadline = time.time() + 60
    while not _release(str(folder)) and time.time() < deadline:  # the next visitor's sweep
        time.sleep(0.1)
    assert not job.running and job.progress.snapshot()["status"] == "stopped"
    assert not folder.exists() and registry.jobs == []


def test_a_run_whose_browser_is_away_gives_way_to_those_waiting(tmp_path, monkeypatch):
    # A browser closed mid-run held the one training slot for the rest of its budget (up to 10 minutes),
    # and a run left in line by a closed browser then trained for no one, while others waited.
    import ui.jobs
    from ui.jobs import Registry

    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: 0)
    registry = Registry()
    endless = tiny_run(epochs=1000, epoch_sequences=16, model_overrides={**TINY, "filters": 4})
    first = registry.start("a", tmp_path / "a", endless)
    deadline = time.time() + 120  # against a hang only
    while first.progress.snapshot()["sequences_seen"] < 16 and time.time() < deadline:
        time.sleep(0.1)
    now, gone = time.time(), time.time() - ui.jobs.LIMITS.away_seconds - 1
    registry.seen["a"] = gone
    registry.saw("someone else", now)  # "a" is away, but no one waits: its run goes on
    assert not first.progress.stop_requested
    second = registry.start("b", tmp_path / "b", endless)
    third = registry.start("c", tmp_path / "c", replace(endless, epochs=1))
    registry.seen.update(b=gone, c=gone)
    registry.saw("someone else", now)  # those waiting are away too: it goes on for no one's cost
    assert not first.progress.stop_requested
    registry.saw("c", now)  # "c" is here, and waits
    assert first.progress.stop_requested and first.gave_way and not second.progress.stop_requested
    first.thread.join(120)
    assert first.progress.snapshot()["status"] == "stopped" and first.out.is_file()  # kept for its owner's return
    # "b", still away at its turn, leaves the line untrained for "c", who is here.
    second.thread.join(120)
    assert (second.progress.snapshot()["status"], second.gave_way, second.out.exists()) == ("cancelled", True, False)
    third.thread.join(120)
    assert third.progress.snapshot()["status"] == "done" and not third.gave_way
    # Alone in line at its turn, the run of a browser that is away trains: it holds no one up.
    fourth = registry.start("d", tmp_path / "d", endless)
    alone = registry.start("e", tmp_path / "e", replace(endless, epochs=1))
    registry.seen["e"] = gone
    fourth.progress.request_stop()
    fourth.thread.join(120)
    alone.thread.join(120)
    assert alone.progress.snapshot()["status"] == "done" and not alone.gave_way
    registry.saw("someone else", now)
    assert registry.line == [] and registry.seen == {}  # only the owners of runs in line are remembered


def test_a_run_started_while_another_trains_waits_in_line_and_starts_when_it_ends(tmp_path, monkeypatch):
    # Two runs at once would share 2 cores and both crawl, so a second visitor used to be refused
    # and told to try again later: a class took turns by pressing Start until one got through.
    import ui.jobs
    from ui.jobs import Registry

    monkeypatch.setattr(ui.jobs, "LIMITS", replace(ui.jobs.LIMITS, waiting_runs=2))
    resident = [0]
    monkeypatch.setattr(ui.jobs, "resident_mb", lambda: resident[0])
    registry = Registry()
    endless = tiny_run(epochs=1000, epoch_sequences=16, model_overrides={**TINY, "filters": 4})
    first = registry.start("a", tmp_path / "a", endless)
    second = registry.start("b", tmp_path / "b", replace(endless, epochs=1))
    with pytest.raises(Busy, match=OWN_RUN):  # one run in line per visitor
        registry.start("b", tmp_path / "b", endless)
    third = registry.start("c", tmp_path / "c", replace(endless, preset="keras-io", model_overrides={"filters": 4}))
    assert (first.preset, third.preset) == ("convlstm", "keras-io")  # Train's caption on the curves tells them apart
    assert registry.running() is first and (second.waiting, third.waiting) == (True, True) and registry.waiting() == 2
    assert second.running and registry.ahead_of(third) == [first, second] and registry.line_is_full()
    with pytest.raises(Busy, match="^busy$"):  # the one training and two waiting: the line is full
        registry.start("d", tmp_path / "d", endless)
    # Leaving the line trains nothing, and the run behind moves up.
    third.progress.request_stop()
    third.thread.join(10)
    assert third.progress.snapshot()["status"] == "cancelled" and not third.out.exists()
    assert registry.ahead_of(second) == [first] and not registry.line_is_full()
    deadline = time.time() + 120  # against a hang only
    while first.progress.snapshot()["sequences_seen"] < 16 and time.time() < deadline:
        time.sleep(0.1)
    assert second.waiting and not second.out.exists()  # still waiting while the first trains
    stopped = time.time()
    first.progress.request_stop()
    first.thread.join(120)
    assert first.progress.snapshot()["status"] == "stopped"
    second.thread.join(120)
    assert second.progress.snapshot()["status"] == "done" and second.out.is_file() and not second.waiting
    assert second.started >= stopped  # its clock started with its turn, not when it joined the line
    # A run's turn checks the memory again: the one before may have taken what was left.
    later = registry.start("d", tmp_path / "d", endless)
    behind = registry.start("e", tmp_path / "e", endless)
    resident[0] = ui.jobs.LIMITS.server_memory_mb
    later.progress.request_stop()
    later.thread.join(120)
    behind.thread.join(30)
    assert behind.progress.snapshot()["status"] == "failed" and not behind.out.exists()
    assert behind.progress.snapshot()["error"].startswith("when its turn came, the server had too little memory")
    assert registry.line == []
    resident[0] = 0
    again = registry.start("e", tmp_path / "e", replace(endless, epochs=1))  # it trained nothing: its number is free
    again.thread.join(120)
    assert again.label == "Trained here: run 1" and again.out.is_file()


def test_a_run_leaves_the_line_cleanly_whatever_happens_at_its_turn(tmp_path, monkeypatch):
    # A read-only review of the line found each of these.
    import core.training
    import ui.jobs
    from ui.jobs import Registry

    registry, seen = Registry(), {}
    endless = tiny_run(epochs=1000, epoch_sequences=16, model_overrides={**TINY, "filters": 4})
    first = registry.start("a", tmp_path / "a", endless)
    second = registry.start("b", tmp_path / "b", endless)

    def memory_check(self, job, config):  # a visitor's "Leave the line" landing while the memory is read
        if "head" not in seen:  # the second run's turn (the first run was checked before this was patched)
            seen["head"] = self.running()  # called outside the lock at a turn
            second.progress.request_stop()
        return True

    monkeypatch.setattr(Registry, "_claim_memory", memory_check)
    deadline = time.time() + 120
    while first.progress.snapshot()["sequences_seen"] < 16 and time.time() < deadline:
        time.sleep(0.1)
    first.progress.request_stop()
    second.thread.join(120)
    # It leaves untrained (train() would have compiled the model first, with the line waiting), and
    # while it started it was the head of the line: other visitors were told nobody trained.
    assert second.progress.snapshot()["status"] == "cancelled" and not second.out.exists()
    assert seen["head"] is second and registry.line == [] and registry.started == {"convlstm": 1}  # the first alone trained
    assert registry.running() is None

    # A failure before train() starts is a failure: the page read the run's "starting" as saved.
    def broken(config, progress):
        raise RuntimeError("no model")

    monkeypatch.setattr(core.training, "train", broken)
    failed = registry.start("c", tmp_path / "c", endless)
    failed.thread.join(30)
    assert failed.progress.snapshot()["status"] == "failed" and failed.progress.snapshot()["error"] == "RuntimeError: no model"

    # A thread that cannot start holds no place in the line: every later run would have waited for it.
    class Refused(threading.Thread):
        def start(self):
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(ui.jobs, "threading", types.SimpleNamespace(Thread=Refused))
    with pytest.raises(RuntimeError):
        registry.start("d", tmp_path / "d", endless)
    assert registry.line == [] and all(job.owner != "d" for job in registry.jobs)


def test_a_run_waiting_for_evaluations_at_the_head_of_the_line_is_not_called_started(app, tmp_path, monkeypatch):
    # Others read "Someone else is training right now; their run has just started" of a run not training yet.
    import ui.jobs
    from core.progress import TrainingProgress

    registry, gate = ui.jobs.Registry(), threading.Event()
    monkeypatch.setattr(ui.jobs, "registry", lambda: registry)
    held = ui.jobs.Job("someone", "Trained here: run 1", tmp_path / "run-1.keras", TrainingProgress(),
                       waiting=True, held=True, thread=threading.Thread(target=gate.wait, daemon=True))
    held.thread.start()
    registry.jobs.append(held)
    registry.line.append(held)
    try:
        app.switch_page("pages/train.py").run()
        assert not app.exception
        assert app.info[0].value.startswith("Someone else's run is next; it starts when the evaluations going on "
                                            "end, to have the memory it needs. The server trains one run at a time")
    finally:
        gate.set()


def test_others_read_a_run_between_epochs_as_under_way_not_just_started(app, tmp_path, monkeypatch):
    # Its time left is unknown again while its next epoch's first batch is drawn: "their run has just
    # started" was said of a run half done.
    import ui.jobs
    from core.progress import TrainingProgress

    registry, gate, progress = ui.jobs.Registry(), threading.Event(), TrainingProgress()
    monkeypatch.setattr(ui.jobs, "registry", lambda: registry)
    going = ui.jobs.Job("someone", "Trained here: run 1", tmp_path / "run-1.keras", progress,
                        thread=threading.Thread(target=gate.wait, daemon=True))
    going.thread.start()
    registry.jobs.append(going)
    registry.line.append(going)
    try:
        app.switch_page("pages/train.py").run()
        assert app.info[0].value.startswith("Someone else is training right now; their run has just started. ")
        # A fine-tune's score of the model it starts from comes first, before its training step compiles.
        progress.update(status="training", loss=(16, 0.2), val_mse=(0, 45.0), val_mse_start=45.0, eta_seconds=None)
        app.run()
        assert app.info[0].value.startswith("Someone else is training right now; their run has just started. ")
        progress.update(loss=(256, 0.2), val_mse=(256, 44.0))
        app.run()
        assert not app.exception
        assert app.info[0].value.startswith("Someone else is training right now; their run is under way. ")
        progress.update(eta_seconds=40.0)
        app.run()
        assert app.info[0].value.startswith("Someone else is training right now; their run ends in about 40 s. ")
    finally:
        gate.set()


def test_a_visitor_who_starts_while_someone_trains_waits_in_line(app, tmp_path, monkeypatch):
    import ui.jobs

    registry = ui.jobs.Registry()
    monkeypatch.setattr(ui.jobs, "registry", lambda: registry)
    # The fragments that redraw the wait count as visits: an hour of them without a page run, and the
    # next visitor's page swept the folder and stopped the run in line.
    visits = []
    monkeypatch.setattr("ui.sessions.still_here", lambda: visits.append(True))
    someone = registry.start("someone", tmp_path / "someone", tiny_run(epochs=1000, epoch_sequences=16))
    try:
        app.switch_page("pages/train.py").run()
        assert app.info[0].value.startswith("Someone else is training right now; their run has just started. ")
        assert app.info[0].value.endswith("Start puts yours in line, and it begins on its own.")
        assert visits
        visits.clear()
        app.button(key="train_start_button").click().run()
        assert not app.exception and app.info[0].value.startswith("Your run is in line: 1 run before it (the one "
                                                                  "training now has just started)")
        assert visits
        assert app.button(key="train_leave").label == "Leave the line" and app.button(key="train_start_button").disabled
        assert not app.success and not app.get("progress")  # neither finished nor training
        assert app.radio(key="train_digits").disabled  # its settings are taken, as a training run's
        other = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT).run()
        other.switch_page("pages/train.py").run()
        assert ", and 1 run waits after it. " in other.info[0].value
        mine = registry.latest(app.session_state["session_id"])
        app.button(key="train_leave").click().run()
        mine.thread.join(10)
        app.run()
        assert not app.exception and not mine.running and registry.line == [someone]
        assert [info.value for info in app.info][-1] == "You left the line: your run never started, so nothing was trained."
        assert not app.button(key="train_start_button").disabled  # in line again if they want
    finally:
        someone.progress.request_stop()
        someone.thread.join(120)


def test_a_run_in_line_says_how_long_the_runs_waiting_before_it_may_take(app, tmp_path, monkeypatch):
    # A class saw only when the run training ends, with nothing of the runs waiting before theirs.
    import ui.jobs

    registry = ui.jobs.Registry()
    monkeypatch.setattr(ui.jobs, "registry", lambda: registry)
    endless = tiny_run(epochs=1000, epoch_sequences=16, minutes=3)
    before = [registry.start("someone", tmp_path / "someone", endless),
              registry.start("another", tmp_path / "another", replace(endless, minutes=2))]
    try:
        app.switch_page("pages/train.py").run()
        app.button(key="train_start_button").click().run()
        before.append(registry.latest(app.session_state["session_id"]))
        # Its 2 minutes, and about one to prepare its first step.
        assert not app.exception and app.info[0].value.startswith(
            "Your run is in line: 2 runs before it (the one training now has just started; then up to about 3 "
            "minutes for the 1 waiting before yours). ")
    finally:
        for job in reversed(before):
            job.progress.request_stop()
            job.thread.join(120)


def test_runs_are_numbered_per_owner_so_another_tab_never_overwrites_one(tmp_path):
    # Two tabs (or a reload) of one browser are two sessions with one owner:
    # each counting its own runs, both saved a "run 1" into the same file.
    from core.training import TrainConfig
    from ui.jobs import Registry

    registry = Registry()
    config = TrainConfig(minutes=None, epochs=1, epoch_sequences=8, batch_size=8, val_count=2,
                         model_overrides={"num_layers": 1, "filters": 4, "precision": "float32"})
    outs = []
    for owner in ("browser", "browser", "another browser"):
        job = registry.start(owner, tmp_path / owner, config)
        job.thread.join(120)  # against a hang only
        assert not job.running
        outs.append(job.out)
        assert registry.latest(owner) is job  # the Train page follows the newest run, not the first
    assert outs == [tmp_path / "browser" / "run-1.keras", tmp_path / "browser" / "run-2.keras",
                    tmp_path / "another browser" / "run-1.keras"]
    assert all(out.is_file() for out in outs)
    assert config.out is None  # the caller's settings are left as they were
    # A run cancelled before its first step saved nothing: the next one takes its number, and its place.
    cancelled = registry.start("another browser", tmp_path / "another browser", config)
    cancelled.progress.request_stop()  # while its first step compiles (seconds)
    cancelled.thread.join(120)
    assert cancelled.progress.snapshot()["status"] == "cancelled" and not cancelled.out.exists()
    job = registry.start("another browser", tmp_path / "another browser", config)
    job.thread.join(120)
    assert (job.label, job.progress.snapshot()["status"]) == ("Trained here: run 2", "done") and job.out.is_file()
    assert cancelled not in registry.jobs
    # The idle hour's sweep forgets a browser's runs and gives it a new folder: a "run 1" there took the
    # place of the swept run 1 on every page that had it picked.
    assert registry.forget(tmp_path / "browser") and registry.latest("browser") is None
    job = registry.start("browser", tmp_path / "browser, later", config)
    job.thread.join(120)
    assert job.label == "Trained here: run 3" and job.out == tmp_path / "browser, later" / "run-3.keras"


@pytest.mark.parametrize("visit", ["session_folder", "still_here"])
def test_a_visitor_who_keeps_coming_back_keeps_their_folder(monkeypatch, visit):
    # Each page opened counts as a visit: swept an hour after the first, an active
    # visitor's runs went, and a run going on was stopped. So does each redraw of the
    # Train page's view of a run in line (still_here), which makes no page run.
    from ui import sessions
    from ui.jobs import Registry

    clock, visitor = [0.0], ["first"]
    monkeypatch.setattr("ui.jobs.registry", lambda: Registry())
    monkeypatch.setattr(sessions, "_SESSION_FOLDERS", {})
    monkeypatch.setattr(sessions, "time", types.SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(sessions, "session_id", lambda: visitor[0])
    mine = other = Path(sessions.session_folder())
    try:
        clock[0] = sessions.FOLDER_KEPT_SECONDS - 600
        assert getattr(sessions, visit)() in (str(mine), None)  # a page's visit: the same folder
        clock[0], visitor[0] = sessions.FOLDER_KEPT_SECONDS + 600, "second"  # 70 minutes after the first visit
        other = Path(sessions.session_folder())
        assert mine.exists()
        clock[0] += sessions.FOLDER_KEPT_SECONDS  # the first visitor gone for over an hour
        assert sessions.session_folder() == str(other) and not mine.exists()
        visitor[0] = "never seen"
        sessions.still_here()  # makes no folder: a fragment runs only after its page
        assert list(sessions._SESSION_FOLDERS) == ["second"]
    finally:
        shutil.rmtree(mine, ignore_errors=True)
        shutil.rmtree(other, ignore_errors=True)


def test_a_session_folder_outlives_a_disconnect_and_goes_an_hour_after_its_last_visit(tmp_path, monkeypatch):
    from ui.jobs import Registry
    from ui.sessions import FOLDER_KEPT_SECONDS, _sweep

    monkeypatch.setattr("ui.jobs.registry", lambda: Registry())
    recent, gone = tmp_path / "recent", tmp_path / "gone"
    recent.mkdir()
    gone.mkdir()
    now = 10_000.0
    folders = {"recent": [str(recent), now - FOLDER_KEPT_SECONDS + 60], "gone": [str(gone), now - FOLDER_KEPT_SECONDS - 1]}
    _sweep(folders, now)
    assert recent.exists() and not gone.exists() and list(folders) == ["recent"]


def test_folders_an_earlier_server_left_behind_go_once_unseen_for_an_hour(tmp_path, monkeypatch):
    # Only the server that made a folder knew it: a crash or a restart left it, and its checkpoints, for good.
    from ui import sessions

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(sessions, "_SESSION_FOLDERS", {})
    monkeypatch.setattr(sessions, "session_id", lambda: "visitor")
    old, recent = (tmp_path / f"{sessions.FOLDER_PREFIX}{name}" for name in ("old", "recent"))
    for folder in (old, recent):
        folder.mkdir()
        (folder / "run-1.keras").write_bytes(b"weights")
    (tmp_path / "someone-elses").mkdir()
    an_hour_ago = time.time() - sessions.FOLDER_KEPT_SECONDS
    os.utime(old, (an_hour_ago - 60, an_hour_ago - 60))
    os.utime(recent, (an_hour_ago + 60, an_hour_ago + 60))
    mine = Path(sessions.session_folder())
    assert not old.exists() and recent.exists() and (tmp_path / "someone-elses").exists()
    # Each visit marks its folder as seen, for the next server to tell.
    os.utime(mine, (an_hour_ago - 60, an_hour_ago - 60))
    assert sessions.session_folder() == str(mine) and time.time() - mine.stat().st_mtime < 60


def finished_here(app, folder, tiny_checkpoint, monkeypatch, runs: int) -> None:
    """`runs` runs of this session, finished in `folder`, its folder, as the training registry holds them."""
    from ui.jobs import Job, Registry

    folder.mkdir()
    registry = Registry()
    for number in range(1, runs + 1):
        shutil.copy(tiny_checkpoint, folder / f"run-{number}.keras")
        registry.jobs.append(Job("visitor", f"Trained here: run {number}", folder / f"run-{number}.keras", None,
                                 number=number))
    monkeypatch.setattr("ui.jobs.registry", lambda: registry)
    monkeypatch.setattr("ui.sessions.session_folder", lambda: str(folder))
    app.session_state["session_id"] = "visitor"


def test_start_says_which_kept_model_a_fourth_run_deletes(app, tmp_path, tiny_checkpoint, monkeypatch):
    # A fourth run took run 1's place without a word on the Train page: a good run 1 went for a poor run 4.
    import ui.jobs
    from core.progress import TrainingProgress

    finished_here(app, tmp_path / "runs", tiny_checkpoint, monkeypatch, runs=3)
    for job in ui.jobs.registry().jobs:
        job.progress = TrainingProgress()
        job.progress.update(status="done", sequences_seen=256)
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert [caption.value for caption in app.caption if "the most kept" in caption.value] == [
        "You have 3 trained models, the most kept: once this run is saved, the oldest, **Trained here: run 1**, "
        "is deleted."]
    ui.jobs.registry().jobs.pop(0)
    (tmp_path / "runs" / "run-1.keras").unlink()
    app.session_state["trained"] = {}  # as after the idle hour's sweep
    app.run()
    assert not [caption for caption in app.caption if "the most kept" in caption.value]


def test_a_run_trained_after_an_idle_hour_is_offered_though_its_label_was_used(app, tmp_path, tiny_checkpoint, monkeypatch):
    # The sweep deleted the session's folder and forgot its runs, so the next run was
    # "run 1" again, in a new folder: the old folder's "run 1" hid it from every picker.
    finished_here(app, tmp_path / "new", tiny_checkpoint, monkeypatch, runs=1)
    app.session_state["trained"] = {f"Trained here: run {n}": str(tmp_path / "swept" / f"run-{n}.keras") for n in (1, 2)}
    app.switch_page("pages/forecast.py").run()
    assert not app.exception
    assert app.selectbox(key="forecast_checkpoint").options == [SHIPPED_LABEL, "Trained here: run 1"]


def test_a_session_is_offered_its_newest_runs_only_and_the_oldest_stays_deleted(app, tmp_path, tiny_checkpoint, monkeypatch):
    finished_here(app, tmp_path / "mine", tiny_checkpoint, monkeypatch, runs=4)
    newest = [SHIPPED_LABEL] + [f"Trained here: run {n}" for n in (2, 3, 4)]
    app.switch_page("pages/forecast.py").run()
    assert app.selectbox(key="forecast_checkpoint").options == newest
    app.switch_page("pages/evaluate.py").run()  # collected again: run 1, still in the registry, has no file
    assert not app.exception
    assert app.selectbox(key="evaluate_checkpoint").options == newest
    assert not (tmp_path / "mine" / "run-1.keras").exists()


def test_a_session_keeps_only_its_newest_checkpoints(tmp_path):
    from ui.jobs import keep_newest

    trained = {}
    for number in range(1, 6):
        path = tmp_path / f"run-{number}.keras"
        path.write_bytes(b"x")
        trained[f"run {number}"] = str(path)
    keep_newest(trained, 3)
    assert list(trained) == ["run 3", "run 4", "run 5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-3.keras", "run-4.keras", "run-5.keras"]


def test_another_visitor_is_told_no_end_time_until_the_run_has_a_speed(app, tmp_path, monkeypatch):
    # Counted from the run's start, the notice said "ends in about 10 s" with 30 s of training still
    # to come, and an epoch budget's 10-minute cap "600 s" after the first batch.
    import ui.jobs
    from core.progress import TrainingProgress

    registry, gate = ui.jobs.Registry(), threading.Event()
    monkeypatch.setattr(ui.jobs, "registry", lambda: registry)
    run = ui.jobs.Job("someone", "Trained here: run 1", tmp_path / "run-1.keras", TrainingProgress(),
                      thread=threading.Thread(target=gate.wait, daemon=True))
    run.thread.start()
    registry.jobs.append(run)
    registry.line.append(run)
    try:
        run.progress.update(status="training", loss=(16, 0.69))  # its first batch done, no speed yet
        app.switch_page("pages/train.py").run()
        assert app.info[0].value.startswith("Someone else is training right now; their run has just started.")
        run.progress.update(loss=(32, 0.68), eta_seconds=29.5)
        app.run()
        assert app.info[0].value.startswith("Someone else is training right now; their run ends in about 30 s.")
    finally:
        gate.set()


def test_dataset_says_what_a_frame_is_made_of_in_words_and_counts_pixels_from_one(app):
    # A class met `uint8`, `float32` and `(20, 64, 64)` with no word on what they are.
    def steps():
        return next(block.value for block in app.markdown if "**Raw frames**" in block.value)

    app.switch_page("pages/dataset.py").run()
    frames = moving_mnist("test", FIRST_SEQUENCE + 1)[FIRST_SEQUENCE]
    assert (f"20 frames of 64 x 64 pixels (an array of shape `(20, 64, 64)`), each pixel a whole number (`uint8`: 0 "
            f"is black, 255 white), here from {frames.min()} to {frames.max()}") in steps()
    assert "each pixel divided by 255, values 0.000 to 1.000 as decimals" in steps()
    # Bars of 20 to 90 pixels stood below the intensity chart's first tick, at 100: its axis starts at 1 pixel.
    chart = next(chart for chart in app.get("plotly_chart") if chart.proto.id.endswith("dataset_histogram"))
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["yaxis"]["range"][0] == 0
    # In bands of 15 intensities: a bar per intensity was a comb of spikes a class could read nothing from.
    counted = np.bincount(frames.ravel(), minlength=256)[1:].reshape(17, 15).sum(axis=1)
    (bars,) = chart_curves(chart).values()
    assert bars.tolist() == counted.tolist() and bars.sum() == (frames > 0).sum()
    upload(app, moving_mnist("test", 1).astype(np.float32) / 255)  # already 0-1: nothing is divided
    assert "each pixel a number (`float32`)" in steps() and "divided" not in steps()
