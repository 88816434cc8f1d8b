"""Benchmark: the server's memory over many visitors, one after another.

On Community Cloud every visitor shares one process, capped at 2.7 GB, for as
long as the app stays up, so what each visit leaves behind adds up. This
starts `streamlit run` on loopback and sends visitors through it one at a time,
each in a new browser context: Dataset (3 sequences), Train (a look), Forecast
(5 random horizons from 1 to 60, two sequences), Evaluate (10-50 sequences),
Design (two presets, a direction, 3 lengths) and Inside (2 sequences). It
prints the server's resident memory (with its children) after each visitor,
and at the end the peak and the growth per visitor over the second half.
Exceptions shown on any page are counted.

Usage:
    python benchmarks/long_use.py [--visitors 12] [--seed 0] [--chromium /usr/bin/chromium]
                                  [--option runner.postScriptGC=true ...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import psutil
from playwright.sync_api import sync_playwright

from app_speed import rss_mb, streamlit_server

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PRESETS = ["Bounce off a wall", "Two digits crossing", "A corner bounce as the context ends",
           "Three digits (more than in training)"]


def settle(page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=240_000)


def slider(page, label: str, value_steps: int) -> None:
    """Moves a slider `value_steps` steps up from its minimum, from the keyboard."""
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).first.get_by_role("slider")
    thumb.focus()
    thumb.press("Home")
    for _ in range(value_steps):
        thumb.press("ArrowRight")
    settle(page)


def number(page, label: str, value: int) -> None:
    box = page.get_by_test_id("stNumberInput").filter(has_text=label).first.locator("input")
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def visit(browser, url: str, rng: random.Random) -> int:
    """One visitor's tour; returns how many exceptions the pages showed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    shown = 0

    def open_page(path: str) -> None:
        page.goto(f"{url}/{path}")
        settle(page)

    def count() -> None:
        nonlocal shown
        for exception in page.get_by_test_id("stException").all():  # a count alone says nothing to act on
            shown += 1
            print(f"  exception on {page.url}: {exception.inner_text()[:300]!r}", flush=True)

    try:
        open_page("dataset")
        for _ in range(3):
            number(page, "Sequence (0-", rng.randrange(1000))
        count()
        open_page("train")
        count()
        open_page("forecast")
        for step in range(5):
            slider(page, "Frames to predict", rng.randrange(60))
            if step % 2:
                number(page, "Test sequence (0-", rng.randrange(1000))
        count()
        open_page("evaluate")
        slider(page, "Test sequences", rng.randrange(5))
        page.get_by_role("button", name="Evaluate", exact=True).click()
        page.wait_for_selector("[data-testid=stTable], [data-testid=stException]", timeout=300_000)
        settle(page)
        count()
        open_page("design")
        for step in range(3):
            if step < 2:
                page.get_by_role("button", name=rng.choice(PRESETS), exact=True).click()
                settle(page)
            if step:
                slider(page, "Direction (degrees", rng.randrange(60))
            slider(page, "Frames (10 context", rng.randrange(30))
        count()
        open_page("inside")
        for _ in range(2):
            number(page, "Test sequence (0-", rng.randrange(1000))
        count()
    finally:
        context.close()
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=12, help="visitors, one after another, 4-200 (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="seeds each visitor's picks (default 0)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a Streamlit option for the server, over .streamlit/config.toml (repeatable)")
    args = parser.parse_args()
    if not 4 <= args.visitors <= 200:
        parser.error("--visitors must be from 4 to 200")

    rng = random.Random(args.seed)
    series, shown = [], 0
    # The app's own file watcher (poll), as its config sets it.
    with streamlit_server("poll", options=tuple(args.option)) as (server, url):
        process = psutil.Process(server.pid)
        time.sleep(5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
            for visitor in range(1, args.visitors + 1):
                start = time.time()
                shown += visit(browser, url, rng)
                series.append(rss_mb(process))
                print(f"visitor {visitor}: {time.time() - start:.0f} s, server {series[-1]:.0f} MB", flush=True)
            browser.close()
    half = series[len(series) // 2 :]
    slope = statistics.linear_regression(range(len(half)), half).slope
    print(f"peak after a visitor: {max(series):.0f} MB; second half: {min(half):.0f}-{max(half):.0f} MB, "
          f"{slope:+.1f} MB a visitor (fitted); exceptions shown: {shown}")


if __name__ == "__main__":
    main()
