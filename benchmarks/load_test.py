"""Load test: 8 browser sessions at once against one `streamlit run` on loopback.

Each visitor browses the Dataset page and forecasts on the Forecast page with
its own sequence numbers, while visitor 0 trains and visitor 1 asks to train
too. Checks: no exception anywhere, every visitor sees its own sequences, the
second training request is told to wait, and the server's resident memory
(sampled every 0.2 s) stays under the 2.7 GB Community Cloud gives an app. Everything runs on 127.0.0.1 and
stops by itself (each visitor has a time limit).

Usage:
    python benchmarks/load_test.py [--visitors 8] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LIMIT_MB = 2700


async def settle(page, pause=0.5):
    await asyncio.sleep(pause)
    await page.wait_for_selector(IDLE, timeout=240_000)


async def open_page(page, title):
    # Wait for the page's own title: under load the previous page's run may
    # still be finishing when the link is clicked.
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    await page.locator("h1", has_text=title).first.wait_for()
    await settle(page)


async def exceptions(page) -> int:
    return await page.get_by_test_id("stException").count()


async def pick(page, number: int):
    box = page.get_by_test_id("stNumberInput").locator("input")
    await box.fill(str(number))
    await box.press("Enter")
    await settle(page)


async def shows(page, alt_text: str, count: int = 1, timeout: float = 120) -> bool:
    """Waits until `count` loaded GIFs have `alt_text` in their description."""
    try:
        await page.wait_for_function(
            """([text, count]) => [...document.querySelectorAll("[data-testid='stImage'] img")]
                .filter(i => i.alt.includes(text) && i.complete && i.naturalWidth >= 128).length >= count""",
            arg=[alt_text, count], timeout=timeout * 1000,
        )
        return True
    except Exception:
        return False


async def visitor(browser, url: str, index: int, report: dict):
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(240_000)
    problems = []
    try:
        await page.goto(url)
        await settle(page)
        if index == 0:  # this visitor trains, the one after asks to
            await open_page(page, "Train")
            await page.get_by_text("Epochs", exact=True).click()
            await settle(page)
            slider = page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider")
            await slider.focus()
            await slider.press("Home")
            await settle(page)
            await page.get_by_role("button", name="Start training").click()
            await page.get_by_test_id("stProgress").wait_for()
            report["training_started"] = time.time()
        if index == 1:
            while "training_started" not in report:
                await asyncio.sleep(0.5)
            await open_page(page, "Train")
            text = await page.get_by_test_id("stAlertContentInfo").first.inner_text()
            report["second_trainer_told"] = "Someone else is training" in text
        await open_page(page, "Dataset")
        own = 100 + 37 * index
        await pick(page, own)
        if not await shows(page, f"Animated sequence {own}"):
            problems.append(f"dataset shows another sequence than {own}")
        await open_page(page, "Forecast")
        value = await page.get_by_test_id("stNumberInput").locator("input").input_value()
        if value != str(own):
            problems.append(f"forecast opened on {value}, not this visitor's pick {own}")
        await pick(page, own + 1)
        if not await shows(page, f"of test sequence {own + 1}", count=3):
            problems.append(f"forecast GIFs are not of sequence {own + 1}")
        if index == 0:
            await open_page(page, "Train")
            await page.get_by_test_id("stAlertContentSuccess").wait_for(timeout=600_000)
        if await exceptions(page):
            problems.append("an exception element is shown")
    except Exception as error:  # a timeout or a missing element: report it, keep the others going
        problems.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    finally:
        if problems:
            await page.screenshot(path=f"/tmp/load-visitor-{index}.png")
        report[index] = problems
        await context.close()


async def sample_memory(process: psutil.Process, stop: asyncio.Event, peak: list):
    while not stop.is_set():
        rss = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
        peak[0] = max(peak[0], rss)
        await asyncio.sleep(0.2)


async def main_async(visitors: int, chromium: str) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    peak, stop, report = [0.0], asyncio.Event(), {}
    started = time.time()
    try:
        sampler = asyncio.create_task(sample_memory(psutil.Process(server.pid), stop, peak))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    page = await browser.new_page()
                    await page.goto(url, timeout=2_000)
                    await page.close()
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            await asyncio.wait_for(
                asyncio.gather(*(visitor(browser, url, i, report) for i in range(visitors))), timeout=1200
            )
            await browser.close()
        stop.set()
        await sampler
    finally:
        server.terminate()
        server.wait(10)
    failures = {i: report.get(i) for i in range(visitors) if report.get(i)}
    print(f"{visitors} visitors, one training, {time.time() - started:.0f} s")
    print(f"server peak memory: {peak[0]:.0f} MB (limit {LIMIT_MB})")
    print(f"second training request told to wait: {report.get('second_trainer_told')}")
    print(f"visitors with problems: {failures or 'none'}")
    return 0 if not failures and report.get("second_trainer_told") and peak[0] < LIMIT_MB else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(args.visitors, args.chromium)))


if __name__ == "__main__":
    main()
