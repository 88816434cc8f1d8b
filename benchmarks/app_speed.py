"""Benchmark: the app as a visitor meets it, in headless Chromium against `streamlit run`.

Measures:
- seconds from starting the server to the home page fully drawn;
- seconds from typing a new sequence number on Forecast to its new GIFs
  drawn, once the model is loaded (median of several picks);
- the server's resident memory while serving Forecast, and its peak while
  a training run (2 epochs, default settings) goes on, watched on Train, and
  that run's speed;
- seconds and the server's peak memory for an evaluation of the whole
  bundled test set (1,000 sequences) on Evaluate;
- the server's peak memory while the keras.io model trains for half a minute
  (batch 1, the only size the Train page allows for it).

Usage:
    python benchmarks/app_speed.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(watcher: str = "none", log=subprocess.DEVNULL, options: tuple[str, ...] = ()):
    """`streamlit run` from the repository root; yields (process, url) and stops it after.
    `options` are more of Streamlit's, as "name=value"."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", watcher, *(f"--{option}" for option in options)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a training thread still running
            server.kill()


def goto_when_up(page, url: str) -> None:
    while True:  # the server accepts connections a moment after it starts
        try:
            page.goto(url, timeout=2_000)
            return
        except Exception:
            time.sleep(0.1)


def rss_mb(process: psutil.Process) -> float:
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def settle(page, pause=0.3):
    time.sleep(pause)
    page.wait_for_selector(IDLE, timeout=120_000)


def peak_mb_while(process: psutil.Process, wait) -> float:
    """The server's peak resident memory (sampled every 0.2 s) until `wait()` returns."""
    peak, stop = [0.0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(process))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        wait()
    finally:
        stop.set()
        sampler.join()
    return peak[0]


def gif_sources(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid='stImage'] img", "imgs => imgs.filter(i => i.src.includes('.gif') && i.complete && i.naturalWidth > 0).map(i => i.src)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--picks", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    results = {}
    with streamlit_server() as (server, url), sync_playwright() as playwright:
        process = psutil.Process(server.pid)
        browser = playwright.chromium.launch(executable_path=args.chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        goto_when_up(page, url)
        page.wait_for_selector("h1", timeout=60_000)
        settle(page, 0)
        results["home page drawn after server start (s)"] = time.perf_counter() - started

        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Forecast").click()
        page.wait_for_function("() => document.querySelectorAll(\"[data-testid='stImage'] img[src*='.gif']\").length >= 3",
                               timeout=120_000)
        settle(page)
        times = []
        box = page.get_by_test_id("stNumberInput").locator("input")
        for pick in range(args.picks):
            before = set(gif_sources(page))
            box.fill(str(100 + 37 * pick))
            start = time.perf_counter()
            box.press("Enter")
            page.wait_for_function(
                """before => { const now = [...document.querySelectorAll("[data-testid='stImage'] img")]
                    .filter(i => i.src.includes('.gif') && i.complete && i.naturalWidth > 0).map(i => i.src);
                    return now.length >= 3 && now.every(s => !before.includes(s)); }""",
                arg=list(before), timeout=30_000,
            )
            times.append(time.perf_counter() - start)
            settle(page)
        results["new sequence on Forecast, GIFs drawn (s, median)"] = statistics.median(times)
        results["new sequence on Forecast, GIFs drawn (s, worst)"] = max(times)
        print("picks (s):", " ".join(f"{t:.2f}" for t in times))
        results["server memory serving Forecast (MB)"] = rss_mb(process)

        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
        settle(page)
        page.get_by_text("Epochs", exact=True).click()
        settle(page)
        slider = page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider")
        slider.focus()
        slider.press("Home")
        slider.press("ArrowRight")  # two epochs
        settle(page)
        page.get_by_role("button", name="Start training").click()
        results["server memory peak while training (MB)"] = peak_mb_while(
            process, lambda: page.get_by_test_id("stAlertContentSuccess").wait_for(timeout=600_000))
        # "Training done after 512 sequences (41 s). ..." (the time includes building the graph)
        sequences, seconds = re.search(r"after (\d+) sequences \((\d+) s\)",
                                       page.get_by_test_id("stAlertContentSuccess").inner_text()).groups()
        results["training watched on Train, 2 epochs (sequences/s)"] = int(sequences) / int(seconds)

        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evaluate").click()
        settle(page)
        slider = page.get_by_test_id("stSlider").filter(has_text="Test sequences").get_by_role("slider")
        slider.focus()
        slider.press("End")  # the whole bundled test set
        settle(page)
        start = time.perf_counter()
        page.get_by_role("button", name="Evaluate", exact=True).click()
        results["server memory peak evaluating 1,000 sequences (MB)"] = peak_mb_while(
            process, lambda: page.get_by_test_id("stTable").wait_for(timeout=600_000))
        results["evaluation of 1,000 sequences, table drawn (s)"] = time.perf_counter() - start

        # The heaviest training a visitor may start: the keras.io model (batch 1, the only one allowed).
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
        settle(page)
        page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
        page.get_by_role("option", name="keras.io example's model (slow, to compare)").click()
        settle(page)
        page.get_by_text("Time", exact=True).click()
        settle(page)
        slider = page.get_by_test_id("stSlider").filter(has_text="Minutes").get_by_role("slider")
        slider.focus()
        slider.press("Home")  # half a minute
        settle(page)
        page.get_by_role("button", name="Start training").click()
        page.get_by_test_id("stProgress").wait_for(timeout=60_000)  # the first run's success message is gone
        results["server memory peak training the keras.io model (MB)"] = peak_mb_while(
            process, lambda: page.get_by_test_id("stAlertContentSuccess").wait_for(timeout=600_000))
        browser.close()
    print(f"CPU: {psutil.cpu_count()} cores")
    print("| measure | value |\n|---|---|")
    for name, value in results.items():
        print(f"| {name} | {value:.2f} |" if value < 100 else f"| {name} | {value:.0f} |")


if __name__ == "__main__":
    main()
