"""Benchmark: training on the Train page under each of Streamlit's file watchers.

Streamlit's default watcher (watchdog, inotify on Linux) watches the app's
folder recursively. With the README's `.venv` inside that folder, every
library file the server opens is an event; the queue overflows and watchdog
walks the whole tree again, on the cores the training needs. For each
watcher this starts `streamlit run` from the repository root, starts the Train
page's default run (one minute) in headless Chromium, and prints the
sequences trained, the run's own seconds, the seconds from the click to the
"Training done" message, and how often the server logged an inotify overflow.

Usage:
    python benchmarks/app_watcher.py [--watchers auto poll none] [--repeats 2]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time

from playwright.sync_api import sync_playwright

from app_speed import FLAGS, ROOT, goto_when_up, settle, streamlit_server


def one_run(watcher: str, chromium: str) -> tuple[int, int, float, int]:
    """(sequences, the run's seconds, seconds from click to done, inotify overflows)."""
    with tempfile.TemporaryFile("w+") as log:
        with streamlit_server(watcher, log) as (_, url), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            goto_when_up(page, f"{url}/train")
            page.get_by_role("button", name="Start training").wait_for(timeout=120_000)
            settle(page)
            page.get_by_role("button", name="Start training").click()
            clicked = time.perf_counter()
            done = page.get_by_test_id("stAlertContentSuccess")
            done.wait_for(timeout=600_000)
            waited = time.perf_counter() - clicked
            sequences, seconds = re.search(r"after (\d+) sequences \((\d+) s\)", done.inner_text()).groups()
            browser.close()
        log.seek(0)
        overflows = log.read().count("Inotify queue overflowed")
    return int(sequences), int(seconds), waited, overflows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", nargs="+", default=["auto", "poll", "none"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    inside = [str(p.relative_to(ROOT)) for p in ROOT.iterdir() if (p / "pyvenv.cfg").is_file()]
    print(f"virtual environments inside the app's folder: {', '.join(inside) or 'none'}")
    print("| watcher | sequences in the 1-minute run | run's seconds | click to 'done' (s) | inotify overflows |")
    print("|---|---|---|---|---|")
    for watcher in args.watchers:
        for _ in range(args.repeats):
            sequences, seconds, waited, overflows = one_run(watcher, args.chromium)
            print(f"| {watcher} | {sequences} | {seconds} | {waited:.0f} | {overflows} |", flush=True)


if __name__ == "__main__":
    main()
