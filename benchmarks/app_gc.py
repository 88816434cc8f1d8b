"""Benchmark: a training run on the Train page while other visitors watch it,
with Streamlit's garbage collection after each script run on and off.

Streamlit runs `gc.collect(2)` after every script and fragment run (its hidden
option `runner.postScriptGC`, on by default). Each open Train page reruns a
fragment every few seconds, and while TensorFlow traces the training step the
heap is large, so each collection holds the GIL for long. For each setting this
starts `streamlit run`, starts the Train page's default run (one minute) in one
browser, opens the Train page for `--watchers` more visitors (a browser context
each, as a class would), and prints: seconds from the click to the first
step done (the compile), sequences trained in the run's minute, seconds from
the click to "Training done", and the server's memory (peak during the run,
and after it).

Usage:
    python benchmarks/app_gc.py [--watchers 3] [--repeats 2] [--settings true false]
"""

from __future__ import annotations

import argparse
import re
import time

import psutil
from playwright.sync_api import sync_playwright

from app_speed import FLAGS, goto_when_up, peak_mb_while, rss_mb, settle, streamlit_server


def one_run(collect: str, watchers: int, chromium: str) -> tuple[float, int, float, float, float]:
    """(click to first step done, sequences, click to done, peak MB, MB after) for one setting."""
    with streamlit_server("poll", options=(f"runner.postScriptGC={collect}",)) as (server, url), \
            sync_playwright() as playwright:
        process = psutil.Process(server.pid)
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        # A context each: sessions of their own, as visitors on other computers have.
        pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(1 + watchers)]
        owner = pages[0]
        goto_when_up(owner, f"{url}/train")
        start = owner.get_by_role("button", name="Start training")
        start.wait_for(timeout=120_000)
        settle(owner)
        start.click()
        clicked = time.perf_counter()
        for page in pages[1:]:
            page.goto(f"{url}/train")
        times = {}

        def wait():
            progress = owner.get_by_test_id("stProgress")
            while "compiling" in (progress.first.inner_text() if progress.count() else "compiling"):
                time.sleep(0.25)
            times["compiled"] = time.perf_counter() - clicked
            owner.get_by_test_id("stAlertContentSuccess").wait_for(timeout=600_000)
            times["done"] = time.perf_counter() - clicked

        peak = peak_mb_while(process, wait)
        sequences = int(re.search(r"after (\d+) sequences", owner.get_by_test_id("stAlertContentSuccess").inner_text())[1])
        time.sleep(5)  # the watchers' pages see the run end
        after = rss_mb(process)
        browser.close()
    return times["compiled"], sequences, times["done"], peak, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=3, help="other visitors with the Train page open (default 3)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--settings", nargs="+", default=["true", "false"], choices=["true", "false"],
                        help="values of runner.postScriptGC to measure (default both)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    print(f"the Train page's default run, watched by {args.watchers} other visitor(s)")
    print("| postScriptGC | click to first step done (s) | sequences in the minute | click to done (s) "
          "| server peak (MB) | server after (MB) |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.repeats):
        for collect in args.settings:
            compiled, sequences, done, peak, after = one_run(collect, args.watchers, args.chromium)
            print(f"| {collect} | {compiled:.0f} | {sequences} | {done:.0f} | {peak:.0f} | {after:.0f} |", flush=True)


if __name__ == "__main__":
    main()
