"""The README's picture of the dashboard (docs/dashboard.png), taken against a live backend.

A store of ``--records`` realistic records over the last six hours (``corpus.py``: levels, traces
across frontend and backend, errors with stacks), a backend running the bus, the collector and
the dashboard, a few records logged through ``aico.logging`` while it runs (so the status strip
counts them), then Debian's chromium at 1280x800 on the login link ``aico dashboard url`` prints.

    python bench/dashboard_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aico.config import load_settings
from aico.store import LogStore
from benchenv import BIN, case_env, running_backend

from corpus import generate

CHROMIUM = "/usr/bin/chromium"
APP = r"""
import logging, time, uuid
import aico.logging
aico.logging.install()
chat, llm, ui = (logging.getLogger(n) for n in ("backend.api.chat", "backend.llm.inference", "frontend.ui.chat"))
for turn in range(6):
    time.sleep(0.3)  # the conversation's own pace
    with aico.logging.log_context(trace_id=uuid.uuid4().hex, session_id="sess-2041"):
        ui.info("message sent by the user (%d characters)", 40 + turn * 13, extra={"origin": "frontend"})
        chat.info("chat turn %d received; context of %d messages", turn, 8 + turn)
        llm.info("inference done: %d tokens in %d ms", 150 + turn * 9, 900 + turn * 140)
        if turn == 3:
            llm.warning("inference slow: %d ms over the 2,000 ms budget", 640)
try:
    {}["session"]
except KeyError:
    chat.exception("could not resume the conversation of session sess-2041")
ui.info("answer rendered", extra={"origin": "frontend"})
assert aico.logging.flush(30), aico.logging.stats()
"""


def wait(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "dashboard.png")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="aico-dashboard-shot-") as tmp:
        env = case_env(Path(tmp) / "home")
        with LogStore.open(load_settings(env=env), writer=True) as store:
            records = list(generate(args.records, days=0.25))
            for lo in range(0, len(records), 5000):
                store.insert_batch(records[lo:lo + 5000])
        with running_backend(env, plugins="message_bus,log_consumer,log_dashboard"):
            subprocess.run([sys.executable, "-c", APP], env=env, check=True, timeout=120)
            link = subprocess.run([str(BIN / "aico"), "dashboard", "url"], env=env, check=True,
                                  capture_output=True, text=True).stdout.strip()
            base, _, code = link.partition("#")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"{base}?since=6h#{code}")
                wait(lambda: page.locator("#results li").count() >= 30, "the list")
                wait(lambda: "matching records" in page.inner_text("#summary")
                     and page.evaluate("document.body.dataset.busy === '0'"), "the histogram")
                wait(lambda: "backend running" in page.inner_text("#status")
                     and "stored 21" in page.inner_text("#status"), "the status strip")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
