"""End to end in a real headless Chromium: the app as a visitor sees it.

Starts `streamlit run` on a free local port and drives Debian's chromium with
Playwright (Playwright cannot download its own browser here). Screenshots of
every page go to test-artifacts/screenshots/ (the path is printed at the end
of the run), and each server's log to test-artifacts/servers/. These tests
fail, never skip, when the browser cannot run.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from playwright.sync_api import expect
from catalogue import bad_files
from conftest import ROOT
from core.data import moving_mnist

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
SERVER_LOGS = ROOT / "test-artifacts" / "servers"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
HEADINGS = {"Home": "ConvLSTM Studio"}  # every other page's heading is its title
PAGES = {"Home": "home", "Dataset": "dataset", "Train": "train", "Forecast": "forecast", "Evaluate": "evaluate",
         "Design a sequence": "design", "Inside the ConvLSTM": "inside"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*options):
    port = _free_port()
    # Its log kept, for what a failure or a slow stop does not say on its own.
    SERVER_LOGS.mkdir(parents=True, exist_ok=True)
    with open(SERVER_LOGS / f"streamlit-{port}.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", *options],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("streamlit did not start within 60 s")
    return process, url


def _stop(process) -> None:
    """Stops a server as Ctrl-C would. One CI run's server, busy on 2 loaded cores, was still
    shutting down after 10 s (1.3 s here), and the run failed at teardown, after every test passed."""
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        warnings.warn(f"streamlit did not stop within 60 s of SIGTERM; killed (its log: {SERVER_LOGS})")


@pytest.fixture(scope="module")
def server():
    process, url = _start()
    yield url
    _stop(process)


@contextlib.contextmanager
def _fresh_server_tab(browser, *options):
    """A tab of its own on a server of its own, for what needs a fresh server: (tab, url)."""
    process, url = _start(*options)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        yield context.new_page(), url
        context.close()
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    # Tall enough that a screenshot shows a whole page (Streamlit scrolls inside its own container).
    context = browser.new_context(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
    tab = context.new_page()
    tab.hosts = set()  # every host it asks anything of
    context.on("request", lambda request: request.url.startswith("http") and tab.hosts.add(urlsplit(request.url).netloc))
    tab.set_default_timeout(90_000)
    tab.goto(server)
    settle(tab)
    yield tab
    context.close()


@contextlib.contextmanager
def window(browser, width: int, height: int, url: str):
    """A tab of its own in a window of width x height, opened on `url`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(url)
    settle(tab)
    try:
        yield tab
    finally:
        context.close()


def settle(tab, pause=0.7):
    """Waits until the script has finished its current run."""
    time.sleep(pause)
    tab.wait_for_selector(IDLE, timeout=120_000)


def open_page(tab, title: str):
    tab.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    # The page left reads as idle until the new run starts: its heading first, then idleness.
    expect(tab.locator("h1").first).to_have_text(HEADINGS.get(title, title), timeout=120_000)
    settle(tab)


def screenshot(tab, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_page_opens_from_the_navigation_and_asks_nothing_of_another_host(page, server):
    for title, name in PAGES.items():
        open_page(page, title)
        assert page.get_by_test_id("stException").count() == 0, f"exception on {title}"
        assert page.locator("h1").first.inner_text()
        screenshot(page, name)
    # A classroom network with no internet: the tab's icon came from fonts.gstatic.com.
    assert page.hosts == {urlsplit(server).netloc}


def test_forecast_gifs_load_and_download(page):
    open_page(page, "Forecast")
    page.wait_for_selector("[data-testid='stImage'] img")
    widths = page.eval_on_selector_all(
        "[data-testid='stImage'] img", "imgs => imgs.filter(i => i.src.includes('.gif')).map(i => i.complete ? i.naturalWidth : 0)"
    )
    assert len(widths) == 1 and widths[0] >= 3 * 256, widths  # the three panels in one GIF, so they play in step
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").first.locator("button").click()
    path = download.value.path()
    assert Path(path).read_bytes()[:6] == b"GIF89a"
    assert download.value.suggested_filename.endswith(".gif")
    # One panel, drawn again on the click from the forecast's frames: 10 of context, 10 predicted, at 8x for slides.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download prediction").click()
    played = iio.imread(download.value.path(), index=None)
    assert download.value.suggested_filename.endswith("-prediction.gif")
    assert played.shape[0] == 20 and 8 * 64 <= played.shape[2] < widths[0], played.shape  # not all three panels
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "forecast-loaded")


def test_training_shows_progress_and_a_loss_curve(page):
    # Route the app's websocket through Playwright, so the test can drop it.
    sockets = []

    def through_playwright(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/_stcore/stream$"), through_playwright)
    page.reload()
    settle(page)
    open_page(page, "Train")
    page.get_by_text("Epochs", exact=True).click()
    settle(page)
    slider = page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider")
    slider.focus()
    slider.press("Home")  # one epoch
    settle(page)
    start_from_the_keyboard(page)
    progress = page.get_by_test_id("stProgress")
    first = progress.inner_text()
    page.get_by_test_id("stPlotlyChart").first.wait_for(timeout=60_000)
    deadline = time.time() + 120
    moved = False
    while time.time() < deadline and not moved:
        time.sleep(1)
        done = page.get_by_test_id("stAlertContentSuccess").count() > 0
        moved = done or (progress.count() > 0 and progress.inner_text() != first)
    assert moved, f"training progress stayed at {first!r}"
    screenshot(page, "train-running")
    # The connection drops (Wi-Fi, a laptop asleep) and comes back: Streamlit keeps
    # the session, and the run and its checkpoint must survive (they used to be
    # released with the session's caches).
    sockets[-1].close(code=1011, reason="test: connection lost")
    deadline = time.time() + 60
    while len(sockets) < 2 and time.time() < deadline:
        page.wait_for_timeout(500)  # lets Playwright run the route handler (time.sleep would not)
    assert len(sockets) >= 2, "the app did not reconnect"
    page.get_by_test_id("stAlertContentSuccess").wait_for(timeout=180_000)
    # Brought into view: the settings unfold when a run ends, and pushed the outcome below a projector's fold.
    page.wait_for_function("() => document.activeElement.closest('.st-key-train_outcome') !== null", timeout=30_000)
    settle(page)
    # The loss curve has a line with points in it.
    assert page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line").count() >= 1
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "train-done")
    # Again in the same tab (the focus script's second run once stopped on a name it had declared), and cancelled.
    start_from_the_keyboard(page)
    page.keyboard.press("Enter")
    page.get_by_text("Training cancelled").wait_for(timeout=180_000)


def start_from_the_keyboard(page):
    """Presses Start from the keyboard and checks where focus went: Start, disabled
    once pressed, dropped it to the page's top. On the progress bar, which a key
    cannot set off, Stop is the next Tab."""
    page.get_by_role("button", name="Start training").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("stProgress").wait_for(timeout=60_000)
    page.wait_for_function("() => document.activeElement.closest(\"[data-testid='stProgress']\") !== null",
                           timeout=30_000)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.st-key-train_stop') !== null")


def test_tabs_opened_together_keep_the_first_id_written(browser, server):
    # Tabs opened at once (a double click on the shared link) all connected without a cookie, and each
    # wrote its own id, the last one winning: a run started in a tab that lost was gone at its next
    # reload, with no tab able to stop it. Here each tab's script runs in turn on one page of the app.
    from ui.sessions import SESSION_COOKIE, remember_script

    context = browser.new_context()
    tab = context.new_page()
    tab.goto(f"{server}/_stcore/health")
    loads = []
    tab.on("load", lambda _: loads.append(1))

    def cookie():
        return next(c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE)

    first, second = "a" * 32, "b" * 32
    context.add_cookies([{"name": SESSION_COOKIE, "value": "../x", "url": server}])  # not an id: replaced
    tab.evaluate(remember_script(first))
    tab.wait_for_timeout(1500)  # past its second look
    assert cookie() == first and not loads
    with tab.expect_navigation():  # the later tab reloads to connect with the first id
        tab.evaluate(remember_script(second))
    assert cookie() == first and len(loads) == 1
    tab.evaluate(remember_script(second))  # once only: a cookie the server never gets must not loop
    tab.wait_for_timeout(1500)
    assert cookie() == first and len(loads) == 1
    # Cookies cleared, and another tab's new id written first: this tab takes that one too.
    context.add_cookies([{"name": SESSION_COOKIE, "value": "c" * 32, "url": server}])
    with tab.expect_navigation():
        tab.evaluate(remember_script(second))
    assert cookie() == "c" * 32 and len(loads) == 2
    context.close()


def test_a_reload_or_a_second_tab_finds_its_own_run_and_can_stop_it(browser):
    # A server of its own: the module's has trained twice, and TensorFlow keeps memory from each run,
    # so the memory guard may refuse a third (ui/limits.py), which is not what this test is about.
    with _fresh_server_tab(browser) as (page, url):
        page.set_default_timeout(90_000)
        page.goto(url)
        settle(page)
        _reload_finds_its_own_run(page)


def _reload_finds_its_own_run(page):
    # Each is a new Streamlit session: they used to be told that "someone else" was
    # training, with no Stop button, and the run's model never reached them.
    page.set_viewport_size({"width": 1366, "height": 768})  # a projector's, for where the outcome is drawn
    open_page(page, "Train")
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").wait_for(timeout=60_000)
    page.reload()
    # A reloaded page reads as idle for a moment before its first script run starts;
    # waiting on the bar itself, not on idleness, keeps a slow machine from failing here.
    page.get_by_test_id("stProgress").wait_for(timeout=60_000)
    settle(page)
    assert page.get_by_test_id("stProgress").count() == 1
    assert page.get_by_text("Someone else is training").count() == 0
    # Another browser, with a cookie it made up, is someone else and gets an id of the app's own.
    stranger = page.context.browser.new_context()
    stranger.add_cookies([{"name": "convlstm_studio_session", "value": "../x", "url": page.url}])
    waiting = stranger.new_page()
    waiting.goto(page.url)
    expect(waiting.get_by_text("Someone else is training")).to_have_count(1, timeout=60_000)
    # The page's JavaScript writes the new id a moment after the page is drawn (a CI run read "../x" still).
    deadline = time.time() + 15
    while (cookie := next(c["value"] for c in stranger.cookies() if c["name"] == "convlstm_studio_session")) == "../x" \
            and time.time() < deadline:
        waiting.wait_for_timeout(250)
    assert re.fullmatch("[0-9a-f]{32}", cookie)
    # Their Start puts a run in line, and their page stays open while the first run compiles:
    # with Streamlit's garbage collection after each of its reruns, that compile took 118 s instead of about 45.
    waiting.get_by_role("button", name="Start training").click()
    expect(waiting.get_by_text("Your run is in line: 1 run before it")).to_have_count(1, timeout=60_000)
    other = page.context.new_page()
    other.goto(page.url)
    # Past its first step (until then the button cancels): its own run drawn, and a stop then saves.
    other.get_by_test_id("stPlotlyChart").first.wait_for(timeout=180_000)
    stop = other.get_by_role("button", name="Stop (keeps what was learned)")
    stop.wait_for(timeout=60_000)
    assert other.get_by_text("Someone else is training").count() == 0
    stop.click()
    for tab in (other, page):
        done = tab.get_by_test_id("stAlertContentSuccess")
        done.wait_for(timeout=120_000)
        assert "Training stopped" in done.inner_text() and "Trained here: run 1" in done.inner_text()
    # In view: with a run in line, the outcome was brought into view while the live run's chart and GIF
    # were still drawn above it, and went 400 px above the screen's top as they went.
    page.wait_for_function("() => document.activeElement.closest('.st-key-train_outcome') !== null", timeout=30_000)
    settle(page)
    outcome = page.locator(".st-key-train_outcome").bounding_box()
    assert 0 <= outcome["y"] < 768, outcome
    # The run in line started by itself, and the waiting page, polled, now shows it as theirs.
    waiting.get_by_test_id("stProgress").wait_for(timeout=60_000)
    assert waiting.get_by_text("Your run is in line").count() == 0
    # Cancelled, or stopped once past its first step: either way it ends, and the server must not
    # be stopped with a run going on.
    waiting.locator(".st-key-train_stop button").click()
    waiting.get_by_text(re.compile("^Training (cancelled|stopped)")).wait_for(timeout=180_000)
    stranger.close()
    open_page(page, "Forecast")
    page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
    page.get_by_role("option", name="Trained here: run 1").wait_for(timeout=10_000)
    assert page.get_by_test_id("stException").count() == 0


def test_a_narrow_window_keeps_the_canvas_and_the_labels_whole(browser, server):
    # At 800 px the paths' row axis used to run from -50 to 100, and Random read "Ran...".
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    for name in ("dataset", "design"):
        tab.goto(f"{server}/{name}")
        settle(tab)
        chart = tab.get_by_test_id("stPlotlyChart").first
        chart.locator(".ytick text").first.wait_for()
        rows = [float(text.replace("\u2212", "-")) for text in chart.locator(".ytick text").all_text_contents()]
        assert min(rows) >= 0 and max(rows) <= 64, rows
        if name == "dataset":  # above its paths chart, not beside it: 187 px wide there
            assert tab.locator(".st-key-dataset-sequence img").first.bounding_box()["width"] >= 400
    # Design's forecast and controls are stacked: beside each other, with the sidebar, the GIF
    # was 293 px wide (labels 5 px high) and the sliders 130.
    gif = tab.locator(".st-key-design-forecast img").bounding_box()
    speed = tab.get_by_test_id("stSlider").filter(has_text="Speed").first.bounding_box()
    assert gif["width"] >= 450 and speed["width"] >= 450 and speed["y"] > gif["y"] + gif["height"], (gif, speed)
    # Inside's gate pictures go above their words in a narrow cell: beside them they were 63 px wide.
    tab.goto(f"{server}/inside")
    settle(tab)
    cell = tab.locator(".st-key-inside-equation-input")
    cell.locator("img").wait_for()
    picture, words = cell.locator("img").bounding_box(), cell.get_by_text("how much of the new").bounding_box()
    assert picture["width"] >= 120 and words["y"] > picture["y"] + picture["height"], (picture, words)
    tab.goto(f"{server}/forecast")
    settle(tab)
    random = tab.get_by_role("button", name="Random")
    assert random.evaluate("b => b.scrollWidth <= b.clientWidth"), "the Random button's label is cut"
    screenshot(tab, "forecast-800px")
    context.close()


def test_design_keeps_its_forecast_in_view_beside_the_last_slider_on_a_laptop(browser, server):
    # At 1366 x 768 (650 px of page under the browser's bars) the GIF had scrolled out of
    # sight by the time the direction and speed sliders came into it.
    with window(browser, 1366, 650, f"{server}/design") as tab:
        speed = tab.get_by_test_id("stSlider").filter(has_text="Speed").first
        speed.evaluate("s => s.scrollIntoView({block: 'end'})")
        tab.wait_for_timeout(500)
        gif = tab.locator(".st-key-design-forecast img").bounding_box()
        assert speed.bounding_box()["y"] > 400 and 0 <= gif["y"] and gif["y"] + gif["height"] <= 650, gif
        screenshot(tab, "design-1366x650")


def test_inside_keeps_its_step_slider_in_view_over_the_last_equation_on_a_projector(browser, server):
    # At 1280 x 720 the slider ended 390 px above the first equation: a teacher could not move
    # it and show the gates change.
    with window(browser, 1280, 720, f"{server}/inside") as tab:
        last = tab.locator(".st-key-inside-equation-hidden img")
        for _ in range(20):  # again while pictures and equations still arriving move it down
            last.evaluate("e => e.scrollIntoView({block: 'end'})")
            tab.wait_for_timeout(250)
            picture = last.bounding_box()
            if picture["y"] + picture["height"] <= 721:
                break
        bar = tab.locator(".st-key-inside-step").bounding_box()
        assert 0 <= bar["y"] and bar["y"] + bar["height"] <= picture["y"] and picture["y"] + picture["height"] <= 721, (
            bar, picture)
        screenshot(tab, "inside-1280x720")
        # Not on a phone, where it would cover half the screen: its two frames wrap under the slider, together.
        tab.set_viewport_size({"width": 390, "height": 844})
        tab.wait_for_timeout(500)
        wrapper = tab.locator("[data-testid='stLayoutWrapper']:has(> .st-key-inside-step)")
        assert wrapper.evaluate("e => getComputedStyle(e).position") == "static"
        frames = [tab.locator(".st-key-inside-step img").nth(i).bounding_box() for i in range(2)]
        assert frames[0]["y"] == frames[1]["y"], frames


def test_a_home_card_opens_its_page_wherever_it_is_clicked(page):
    # Only a card's title was a link: a tap on its description, most of the card, did nothing.
    description = page.get_by_test_id("stCaptionContainer").filter(has_text="Place and aim digits yourself")
    box = description.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("h1").first).to_have_text("Design a sequence", timeout=120_000)


def test_keyboard_focus_on_a_link_is_drawn_as_a_ring(page):
    # The navigation's and Home's card links showed focus as a grey tint, 1.1:1 against their background.
    focused = []
    for _ in range(16):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => { const e = document.activeElement, s = getComputedStyle(e);"
                                     " return [e.tagName, e.innerText, s.outlineStyle, parseFloat(s.outlineWidth)]; }"))
    links = [(text, style, width) for tag, text, style, width in focused if tag == "A"]
    assert any("Forecast" in text for text, _, _ in links), focused  # the navigation and the cards were reached
    assert all(style == "solid" and width >= 2 for _, style, width in links), links


def test_keyboard_focus_on_buttons_and_sliders_is_a_ring_and_shows_a_pictures_fullscreen_button(server, page):
    # Buttons and slider thumbs showed focus as a half-transparent halo, 2.1:1 against white, menus and number
    # boxes as a 1 px border turning orange, and a picture's fullscreen button, reached by Tab, stayed
    # invisible (its toolbar shows on hover only).
    page.goto(f"{server}/forecast")
    settle(page)
    focused = []
    for _ in range(24):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("""() => {
            const e = document.activeElement;
            const drawn = e.type === 'range' ? e.closest('[data-testid=stSlider]').querySelector('[data-focus-visible]')
                : e.type === 'checkbox' ? e.closest('label')  // the sidebar's Animate pictures
                : e.tagName !== 'INPUT' ? e : e.closest('[data-testid=stNumberInputContainer]') || e.parentElement;
            const s = getComputedStyle(drawn), toolbar = e.closest('[data-testid=stElementToolbar]');
            return [e.tagName, e.getAttribute('aria-label') || e.innerText, s.outlineStyle, parseFloat(s.outlineWidth),
                    toolbar ? getComputedStyle(toolbar).opacity : null]; }"""))
    rings = [(label, style, width) for tag, label, style, width, _ in focused if tag in ("BUTTON", "INPUT")]
    assert {"Frames to predict", "Model", "Test sequence (0-999)"} <= {label for label, _, _ in rings}, rings
    assert any("Random" in label for label, _, _ in rings)
    assert all(style == "solid" and width >= 2 for _, style, width in rings), rings
    fullscreen = [opacity for _, label, _, _, opacity in focused if label.startswith("Fullscreen")]
    assert fullscreen and all(opacity == "1" for opacity in fullscreen), focused


def test_keyboard_focus_on_a_radio_option_is_a_ring(server, page):
    # A radio's focused option showed only a grey tint, 1.1:1 against white (Dataset's Source, Design's Digits).
    page.goto(f"{server}/dataset")
    settle(page)
    ring = None
    for _ in range(30):
        page.keyboard.press("Tab")
        ring = page.evaluate("""() => { const e = document.activeElement;
            if (e.type !== 'radio') return null;
            const s = getComputedStyle(e.closest('label')); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
        if ring:
            break
    assert ring == ["solid", 3], ring


def test_keyboard_focus_on_a_toggle_an_expander_and_a_text_box_is_a_ring(server, page):
    # A toggle showed focus as a tint of its label (1.1:1), an expander's title as a 2:1 halo, a text box as a
    # 1 px border (Train's Layer normalisation and "What do these settings mean?", Dataset's file path).
    drawn = """() => { const e = document.activeElement;
        const ring = e.type === 'checkbox' ? e.closest('label') : e.tagName === 'INPUT'
            ? e.closest('[data-testid=stTextInputRootElement]') : e;
        if (!ring) return null;
        const s = getComputedStyle(ring);
        return [e.type === 'checkbox' ? 'toggle' : e.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
    found = {}
    for name, kinds in (("train", {"toggle", "SUMMARY"}), ("dataset", {"INPUT"})):
        page.goto(f"{server}/{name}")
        settle(page)
        if name == "dataset":
            page.get_by_text("Official file").click()
            settle(page)  # focus is on the radio, before the path's box
        for _ in range(40):
            page.keyboard.press("Tab")
            ring = page.evaluate(drawn)
            if ring and ring[0] in kinds:
                found[ring[0]] = ring[1:]
            if kinds <= set(found):
                break
    assert found == {"toggle": ["solid", 3], "SUMMARY": ["solid", 3], "INPUT": ["solid", 3]}, found


def test_a_phone_gets_pictures_drawn_for_its_width(browser, server, page):
    # Home's diagram, four frames a side, had words 4 px high on a 390 px screen; a 60-frame
    # forecast's strip, twenty frames a line, had frames 15 px wide.
    assert page.locator(".st-key-wide-concept img").is_visible()  # the page fixture's 1400 px
    assert not page.locator(".st-key-narrow-concept img").is_visible()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(server)
    settle(tab)
    narrow = tab.locator(".st-key-narrow-concept img")
    narrow.wait_for()
    assert not tab.locator(".st-key-wide-concept img").is_visible()
    # Stacked, its 440 px are drawn in the phone's 358: a 9-point label 10 px high. In one
    # row, 700 px in 358, it was 6 px, and with four frames a side 4.
    drawn, natural = narrow.bounding_box()["width"], narrow.evaluate("image => image.naturalWidth")
    assert drawn >= 300 and natural <= 1.3 * drawn, (drawn, natural)
    tab.goto(f"{server}/forecast")
    settle(tab)
    strip = tab.locator(".st-key-narrow-strip img")  # five frames a line: at ten, numbers were 4 px high
    drawn, natural = strip.bounding_box()["width"], strip.evaluate("image => image.naturalWidth")
    assert drawn >= 300 and natural <= 1.4 * drawn and not tab.locator(".st-key-wide-strip img").is_visible()
    height = strip.evaluate("image => image.naturalHeight")
    horizon = tab.get_by_test_id("stSlider").filter(has_text="Frames to predict").get_by_role("slider")
    horizon.focus()
    horizon.press("End")  # 60 frames
    settle(tab, pause=2.0)
    assert strip.evaluate("image => image.naturalHeight") > 3 * height  # the 60 frames' strip, five a line too
    assert not tab.locator(".st-key-wide-strip img").is_visible()
    screenshot(tab, "forecast-60-phone")
    tab.goto(f"{server}/dataset")
    settle(tab)
    strip = tab.locator(".st-key-narrow-dataset-strip img")
    strip.wait_for()
    drawn, natural = strip.bounding_box()["width"], strip.evaluate("image => image.naturalWidth")
    assert drawn >= 300 and natural <= 1.4 * drawn and not tab.locator(".st-key-wide-dataset-strip img").is_visible()
    context.close()
    # A phone's browser (by its User-Agent) gets the forecast's panels two to a row (532 px): the three side by
    # side (798), shrunk to 358, had labels 6 px high. Only its layout is sent: both came to 1.6 MB at 60 frames.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, user_agent=(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36"))
    tab = phone.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(f"{server}/forecast")
    settle(tab)
    comparison = tab.locator("img[alt^='Animated ground truth']")
    tab.wait_for_function("() => document.querySelector(\"img[alt^='Animated ground truth']\")?.naturalWidth > 0")
    widths = comparison.evaluate_all("images => images.map(i => i.naturalWidth)")
    assert len(widths) == 1 and 500 < widths[0] < 600, widths
    phone.close()


def test_on_a_phone_a_swipe_from_a_slider_scrolls_the_page_and_the_thumb_still_drags(browser, server):
    # Streamlit's slider tracks take every touch (touch-action: none): a swipe up
    # that began on one moved that slider to where the finger landed, and Design's
    # 11 sliders left little of the page to scroll by.
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(f"{server}/design")
    settle(tab)
    touch = context.new_cdp_session(tab)

    def swipe(points):
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [dict(zip("xy", points[0]))]})
        for point in points[1:]:
            touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [dict(zip("xy", point))]})
            tab.wait_for_timeout(16)
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        settle(tab, pause=1.0)

    slider = tab.get_by_test_id("stSlider").filter(has_text="Frames (10 context").first  # with room below to scroll
    slider.evaluate("s => s.scrollIntoView({block: 'center'})")
    track = slider.locator("[style*='touch-action']").first.bounding_box()
    value = slider.get_by_test_id("stSliderThumbValue").inner_text()
    scrolled = "document.querySelector(\"[data-testid='stMain']\").scrollTop"
    top = tab.evaluate(scrolled)
    x, y = track["x"] + 0.8 * track["width"], track["y"] + track["height"] / 2  # the thumb is at 20 of 11-40
    swipe([(x, y - 15 * step) for step in range(15)])
    assert tab.evaluate(scrolled) > top + 100
    assert slider.get_by_test_id("stSliderThumbValue").inner_text() == value
    slider.evaluate("s => s.scrollIntoView({block: 'center'})")
    thumb = slider.locator("[style*='touch-action'] [style*='touch-action']").first.bounding_box()
    x, y = thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2
    # A finger's touch beside the 12 px thumb is the thumb's (the track's went to the page).
    beside = "([x, y]) => document.elementFromPoint(x, y).matches(\"[style*='touch-action'] [style*='touch-action']\")"
    assert tab.evaluate(beside, [x + 14, y + 10]) and not tab.evaluate(beside, [x + 40, y])
    swipe([(x + 8 * step, y) for step in range(12)])
    assert slider.get_by_test_id("stSliderThumbValue").inner_text() != value
    assert tab.get_by_test_id("stException").count() == 0
    context.close()


def test_evaluation_results_appear_without_a_second_click(page):
    open_page(page, "Evaluate")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    page.get_by_test_id("stProgress").wait_for(timeout=60_000)
    open_page(page, "Home")
    open_page(page, "Evaluate")
    # No second click: the page's timer redraws it with the finished scores.
    page.get_by_test_id("stTable").wait_for(timeout=180_000)
    settle(page)
    assert page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line").count() >= 2
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "evaluate-done")


def test_design_preset_and_inside_heatmaps_load(page):
    open_page(page, "Design a sequence")
    page.get_by_role("button", name="Two digits crossing").click()
    settle(page)
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")].filter(i => "
                           "i.src.includes('.gif') && i.complete && i.naturalWidth >= 2 * 256 && i.naturalWidth < 3 * 256)"
                           ".length === 1")  # two panels, truth and prediction
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "design-preset")
    open_page(page, "Inside the ConvLSTM")
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
                           ".filter(i => i.complete && i.naturalWidth >= 128).length >= 7")
    assert page.get_by_test_id("stException").count() == 0
    # Two equations a row, none cut: one a row took 1,840 px on a projector's 1920.
    equations = page.eval_on_selector_all(".katex-display", "es => es.map(e => [Math.round(e.getBoundingClientRect().top),"
                                                            " e.scrollWidth - e.clientWidth])")
    assert len(equations) == 6 and len({top for top, _ in equations}) == 3, equations
    assert all(cut <= 2 for _, cut in equations), equations  # KaTeX's own 2 px on one of them
    page.set_viewport_size({"width": 1024, "height": 2200})  # a classroom laptop: a gate's equation lost its "+ b))"
    page.wait_for_timeout(500)
    cut = page.eval_on_selector_all(".katex-display", "es => es.map(e => e.scrollWidth - e.clientWidth)")
    assert max(cut) <= 2, cut
    screenshot(page, "inside-heatmaps")


def test_a_replaced_upload_opens_on_its_first_sequence(page, tmp_path):
    # The box took back the number the browser still held: sequence 5 of a 2-sequence file, a traceback.
    open_page(page, "Dataset")
    page.get_by_text("Your own .npy file").click()
    settle(page)
    for name, count in (("six.npy", 6), ("two.npy", 2)):
        np.save(tmp_path / name, moving_mnist("test", count))
    page.locator("input[type=file]").set_input_files(str(tmp_path / "six.npy"))
    settle(page, pause=2.0)
    box = page.get_by_label("Sequence (0-5)")
    box.fill("5")
    box.press("Enter")
    settle(page, pause=1.5)
    page.locator("input[type=file]").set_input_files(str(tmp_path / "two.npy"))
    settle(page, pause=2.0)
    page.get_by_label("Sequence (0-1)").wait_for()
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_label("Sequence (0-1)").input_value() == "0"
    assert page.get_by_test_id("stToast").count() == 0


def test_an_upload_over_the_size_limit_is_refused(browser, tmp_path):
    # The same server setting as in .streamlit/config.toml, lowered to 1 MB so
    # the test file stays small.
    with _fresh_server_tab(browser, "--server.maxUploadSize", "1") as (tab, url):
        tab.goto(url)
        settle(tab)
        open_page(tab, "Dataset")
        tab.get_by_text("Your own .npy file").click()
        settle(tab)
        big = tmp_path / "big.npy"
        big.write_bytes(b"\x93NUMPY" + bytes(2 * 2**20))
        tab.locator("input[type=file]").set_input_files(str(big))
        tab.get_by_text("File must be 1.0MB or smaller").wait_for(timeout=30_000)
        assert tab.get_by_test_id("stException").count() == 0
        screenshot(tab, "upload-too-large")
        # Not a .npy at all: Streamlit's own type filter only put a tooltip on a red chip.
        archive = tmp_path / "frames.npz"
        archive.write_bytes(bad_files()["an .npz archive"][0])
        tab.locator("input[type=file]").set_input_files(str(archive))
        tab.get_by_test_id("stAlertContentError").filter(has_text="frames.npz is a zip archive").wait_for(timeout=30_000)


def test_the_first_model_page_says_that_tensorflow_is_loading(browser):
    # A fresh server has not imported TensorFlow: the first page with a model
    # spends seconds on it before it draws, and must not stay blank meanwhile.
    with _fresh_server_tab(browser) as (tab, url):
        tab.goto(url)
        settle(tab)
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Forecast").click()
        tab.get_by_text("Loading TensorFlow").wait_for(timeout=60_000)
        settle(tab)
        assert tab.locator("h1").first.inner_text() == "Forecast"
        assert tab.get_by_text("Loading TensorFlow").count() == 0
        assert tab.get_by_test_id("stException").count() == 0


def test_a_link_to_a_page_opens_it_through_the_entry_point_on_a_fresh_server(browser):
    # Until st.navigation first runs, Streamlit runs a page of pages/ alone when
    # its URL is opened: file names in the sidebar, no layout, no loading notice.
    with _fresh_server_tab(browser) as (tab, url):
        tab.goto(f"{url}/forecast")
        tab.get_by_text("Loading TensorFlow").wait_for(timeout=60_000)
        settle(tab)
        assert tab.locator("h1").first.inner_text() == "Forecast"
        nav = tab.get_by_test_id("stSidebarNav")
        assert nav.get_by_role("link", name="Inside the ConvLSTM").count() == 1
        assert nav.get_by_role("link", name="streamlit app").count() == 0
        assert tab.get_by_test_id("stSidebar").get_by_text("Model:").count() == 1
        assert tab.get_by_test_id("stException").count() == 0


def test_homes_forecast_and_its_caption_fit_a_projector(browser, server):
    # At 1280 x 720 the caption that says what the three panels are began at y=712, below the fold,
    # under Streamlit's 6rem of space above every page.
    with window(browser, 1280, 720, server) as tab:
        tab.locator(".st-key-home_forecast button").click()
        caption = tab.get_by_text(re.compile(r"^Test sequence \d+: ground truth, closed-loop prediction"))
        caption.wait_for()
        settle(tab)
        box = caption.bounding_box()
        assert box["y"] + 20 <= 720, box  # its first line in view
