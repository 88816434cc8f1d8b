"""Benchmark: what each page costs a visitor's link, for a class on slow Wi-Fi or a phone.

For each page opened fresh, and for the actions a class repeats (Forecast's
Random, a Design preset, Inside's tensor menu), prints the bytes of pictures
(Streamlit's /media/ files), of JavaScript, CSS and fonts (first visit, no
cache), and of the websocket's messages, as Chromium counts them on the wire,
with the biggest picture. Everything runs on 127.0.0.1: bytes, not speed.

Usage:
    python benchmarks/page_weight.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import time

from app_speed import FLAGS, IDLE, goto_when_up, streamlit_server
from playwright.sync_api import sync_playwright

PAGES = ["", "dataset", "train", "forecast", "evaluate", "design", "inside"]
# (page, what, the click): repeated actions, measured after the page is open.
ACTIONS = [
    ("forecast", "Forecast: Random", lambda tab: tab.get_by_role("button", name="Random").click()),
    ("design", "Design: a preset", lambda tab: tab.get_by_role("button", name="Bounce off a wall").click()),
    ("inside", "Inside: another tensor", lambda tab: choose(tab, "Tensor", "forget gate f")),
]


def choose(tab, label: str, option: str) -> None:
    tab.get_by_test_id("stSelectbox").filter(has_text=label).click()
    tab.get_by_role("option", name=option).click()


class Wire:
    """Bytes on the wire of one tab, by kind, from Chromium's network events."""

    def __init__(self, tab):
        self.sizes, self.kinds, self.urls, self.socket = {}, {}, {}, 0
        cdp = tab.context.new_cdp_session(tab)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.loadingFinished", lambda e: self.sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        cdp.on("Network.webSocketFrameReceived", self._frame)

    def _request(self, event):
        url = event["request"]["url"]
        self.urls[event["requestId"]] = url
        # The app's pictures are under /media/; Streamlit's fonts under /static/media/.
        self.kinds[event["requestId"]] = "pictures" if "/media/" in url and "/static/" not in url else "code"

    def _frame(self, event):
        payload = event["response"]["payloadData"]
        self.socket += len(payload) * 3 // 4 if event["response"].get("opcode") == 2 else len(payload)

    def totals(self) -> dict:
        totals = {"pictures": 0, "code": 0, "websocket": self.socket}
        for request, size in self.sizes.items():
            totals[self.kinds.get(request, "code")] += size
        pictures = [(size, self.urls[r]) for r, size in self.sizes.items() if self.kinds.get(r) == "pictures"]
        totals["biggest"] = max(pictures, default=(0, ""))
        return totals

    def reset(self):
        self.sizes.clear()
        self.socket = 0


def settle(tab) -> None:
    time.sleep(1.0)
    tab.wait_for_selector(IDLE, timeout=180_000)
    tab.wait_for_load_state("networkidle")


def row(name: str, totals: dict) -> str:
    size, url = totals["biggest"]
    kind = url.rsplit(".", 1)[-1] if url else ""
    return (f"| {name} | {totals['pictures'] / 1e3:,.0f} KB | {totals['code'] / 1e3:,.0f} KB | "
            f"{totals['websocket'] / 1e3:,.0f} KB | {size / 1e3:,.0f} KB {kind} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    print("| page or action | pictures | JavaScript, CSS, fonts | websocket | biggest picture |")
    print("|---|---|---|---|---|")
    with streamlit_server() as (server, url), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=FLAGS)
        for page in PAGES:
            context = browser.new_context(viewport={"width": 1280, "height": 900})  # empty cache: a first visit
            tab = context.new_page()
            tab.set_default_timeout(180_000)
            wire = Wire(tab)
            goto_when_up(tab, f"{url}/{page}")
            settle(tab)
            print(row(page or "home", wire.totals()), flush=True)
            for action_page, name, act in ACTIONS:
                if action_page == page:
                    wire.reset()
                    act(tab)
                    settle(tab)
                    print(row(name, wire.totals()), flush=True)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
