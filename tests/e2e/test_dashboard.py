"""The log dashboard in Debian's chromium (Playwright) against a real backend and a real encrypted store.

Each main view is written as a screenshot (to ``$AICO_SCREENSHOT_DIR`` when set, else the test's
temporary folder) for a person to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aico.config import load_settings
from aico.store import LogStore
from aico.store.repository import Reject

from support import Backend, run_aico, wait_until

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PLUGINS = ("--plugins", "message_bus,log_consumer,log_dashboard")

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.clock,  # the page shows records logged now, by their time
]

APP = r"""
import logging, sys, time
import aico.logging
aico.logging.install()
log = logging.getLogger("shop.cart")
pay = logging.getLogger("shop.pay")
what = sys.argv[1]
if what == "seed":
    for i in range(30):
        log.info("checkout %d ok", i, extra={"cart": {"items": i, "tags": ["a", "b"]}})
    for i in range(10):
        pay.warning("payment timeout after %d ms", 100 + i)
    for i, origin in enumerate(["frontend", "backend", "backend", "frontend"]):
        with aico.logging.log_context(trace_id="trace-e2e", session_id="s-1"):
            log.info("step %d of the order", i, extra={"origin": origin})
        time.sleep(0.05)  # the application's own pace: the trace view shows the gaps
    try:
        {}["missing"]
    except KeyError:
        pay.exception("charge failed")
    log.warning("hostile <img src=x onerror=window.__xss=1> nul\x00here \u202eevil")
else:
    log.error(what)
assert aico.logging.flush(30), aico.logging.stats()
"""


def log(env: dict[str, str], what: str) -> None:
    done = subprocess.run([sys.executable, "-c", APP, what], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AICO_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def rows(page: Any) -> list[str]:
    return page.eval_on_selector_all("#results li .msg", "els => els.map(e => e.textContent)")  # type: ignore[no-any-return]


def test_the_dashboard_end_to_end(env: dict[str, str], browser: Any, shots: Path) -> None:
    """Logged records are listed; search, URL, histogram drag, detail, trace, live tail and a restart all work."""
    backend = Backend(env, *PLUGINS).start()
    try:
        log(env, "seed")
        link = run_aico(env, "dashboard", "url").stdout.strip()
        base = run_aico(env, "dashboard", "url", "--plain").stdout.strip()
        assert "#login=" in link and link.startswith(base)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}api/v1/search", timeout=10)
        assert refused.value.code == 401

        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(link)
        wait_until(lambda: len(rows(page)) == 46, timeout=30, message="the 46 logged records listed")
        assert "#login" not in page.evaluate("location.href")  # the code left the address bar
        assert page.evaluate("window.__xss") is None  # the message's markup stayed text
        hostile = next(r for r in rows(page) if r.startswith("hostile"))
        assert hostile == "hostile <img src=x onerror=window.__xss=1> nul\\0here <U+202E>evil"
        wait_until(lambda: "stored" in page.inner_text("#status"), timeout=10, message="the status strip")
        page.screenshot(path=str(shots / "dashboard-list.png"))

        page.fill("#f-q", "timeout")
        page.press("#f-q", "Enter")
        wait_until(lambda: len(rows(page)) == 10, timeout=15, message="the search narrowed to the 10 timeouts")
        assert "q=timeout" in page.url
        page.reload()
        wait_until(lambda: len(rows(page)) == 10, timeout=15, message="the same 10 after a reload")
        assert page.input_value("#f-q") == "timeout"

        page.fill("#f-q", "")
        page.fill("#f-level", "loud")
        page.press("#f-level", "Enter")
        wait_until(lambda: page.is_visible("#error"), timeout=10, message="the error shown")
        assert page.inner_text("#error").startswith("level: unknown level 'loud'")
        assert "invalid" in (page.get_attribute("#f-level", "class") or "")
        page.screenshot(path=str(shots / "dashboard-bad-input.png"))

        page.goto(f"{base}?level=warning&since=1h")
        wait_until(lambda: len(rows(page)) == 12, timeout=15, message="WARNING and above of the last hour")
        wait_until(lambda: "12 matching records" in page.inner_text("#summary")
                   and page.evaluate("document.body.dataset.busy === '0'"), timeout=15,
                   message="the histogram")
        page.locator("#histogram").scroll_into_view_if_needed()
        box = page.locator("#histogram").bounding_box()

        # One drag, from the middle of the hour to its right end (where the records are).
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
        # The address is read from the page: Playwright's page.url is a copy it updates only while it
        # talks to the browser, so polling it alone can see the old address for ever (this test's
        # "drag sometimes not taken", about 1 in 4 under load, was that stale copy).
        wait_until(lambda: "until=" in page.evaluate("location.search") and page.input_value("#f-until").endswith("Z"),
                   timeout=10, message="the dragged range in the search and the URL")
        # The records were logged seconds ago, at the right end of the hour: the dragged range keeps them.
        wait_until(lambda: page.evaluate("document.body.dataset.busy === '0'") and 0 < len(rows(page)) <= 12,
                   timeout=15, message="the records in the dragged range")

        page.focus("#results")
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        wait_until(lambda: page.is_visible("#detail h3"), timeout=10, message="the detail of the first record")
        page.click("#results li:has-text('charge failed')")
        wait_until(lambda: "KeyError" in page.inner_text("#detail"), timeout=10, message="the error's detail")
        assert "Traceback" in page.inner_text("#detail pre.stack")
        page.keyboard.press("T")  # dark theme
        page.screenshot(path=str(shots / "dashboard-detail-dark.png"))
        page.keyboard.press("T")

        page.goto(f"{base}?q=order")
        wait_until(lambda: len(rows(page)) == 4, timeout=15, message="the trace's records")
        page.click("#results li a.trace-link >> nth=0")
        wait_until(lambda: page.locator("#view-trace li").count() == 4, timeout=15, message="the trace view")
        steps = page.eval_on_selector_all("#view-trace li .msg", "els => els.map(e => e.textContent)")
        assert steps == [f"step {i} of the order" for i in range(4)]
        origins = page.eval_on_selector_all("#view-trace li .origin", "els => els.map(e => e.textContent)")
        assert origins == ["frontend", "backend", "backend", "frontend"]
        assert "view=trace" in page.url and "Δ" in page.inner_text("#view-trace")
        page.screenshot(path=str(shots / "dashboard-trace.png"))

        page.goto(f"{base}?level=error")
        wait_until(lambda: len(rows(page)) == 1, timeout=15, message="the one error")
        page.check("#live")
        wait_until(lambda: page.inner_text("#live-state").startswith("live"), timeout=15, message="live tail on")
        log(env, "live after the page opened")
        wait_until(lambda: rows(page)[:1] == ["live after the page opened"], timeout=15,
                   message="the new record at the top of the live list")
        page.click("#pause")
        log(env, "held while paused")
        wait_until(lambda: "1 new" in page.inner_text("#live-state"), timeout=15, message="one record held")
        assert "held while paused" not in rows(page)
        page.click("#pause")
        assert rows(page)[0] == "held while paused"

        backend.stop()
        wait_until(lambda: "reconnecting" in page.inner_text("#live-state"), timeout=30, message="the tail notices")
        backend = Backend(env, *PLUGINS).start()
        wait_until(lambda: page.inner_text("#live-state").startswith("live"), timeout=30, message="reconnected")
        log(env, "after the restart")
        wait_until(lambda: rows(page)[:1] == ["after the restart"], timeout=15, message="the tail after a restart")
        page.screenshot(path=str(shots / "dashboard-live.png"))

        with LogStore.open(load_settings(env=env), writer=True) as store:  # as the collector keeps a bad payload
            bad = b"<script>window.__xss=2</script>\xff"
            store.insert_rejects([Reject.of(b"logs.web.x", bad, "not a LogEntry nor JSON", keep_bytes=1024)])
        page.click("#tab-rejects")
        wait_until(lambda: "Rejected payloads (1)" in page.inner_text("#view-rejects"), timeout=10, message="rejects")
        assert "not a LogEntry nor JSON" in page.inner_text("#view-rejects")
        assert "<script>window.__xss=2</script>\\xff" in page.inner_text("#view-rejects td.payload")
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(shots / "dashboard-rejects.png"))

        again = browser.new_page()  # a browser of its own (no cookie) with the link already used
        again.goto(link)
        wait_until(lambda: again.is_visible("#login"), timeout=15, message="the used link refused")
        assert "used already or has expired" in again.inner_text("#login")
        again.close()

        narrow = browser.new_page(viewport={"width": 420, "height": 800})
        narrow.goto(run_aico(env, "dashboard", "url").stdout.strip())
        wait_until(lambda: len(rows(narrow)) >= 40, timeout=30, message="the list on a narrow window")
        narrow.screenshot(path=str(shots / "dashboard-narrow.png"))
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 420  # no sideways scrolling
        assert errors == []
    finally:
        backend.stop()
