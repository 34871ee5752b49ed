"""The JavaScript client in a real browser (Debian's chromium, driven by Playwright) against a real backend."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aico.config import load_settings
from aico.store import LogStore

from support import Backend, run_aico, wait_until

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                "(apt-get install -y chromium; `make browser` does it when run as root)")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The client module and a test page, served on 127.0.0.1 (an origin apart from the bridge's)."""
    root = tmp_path / "site"
    root.mkdir()
    for name in ("aico-log.js", "storage.js"):
        shutil.copy(ROOT / "clients" / "js" / name, root / name)
    shutil.copy(Path(__file__).with_name("browser_page.html"), root / "index.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser.new_context().new_page()
        finally:
            browser.close()


def bridge_env(env: dict[str, str], site: str) -> tuple[dict[str, str], str, str]:
    env = {**env, "AICO_CORE__BRIDGE__CORS_ORIGINS": json.dumps([site])}
    token = run_aico(env, "bridge", "token").stdout.strip()
    return env, f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}", token


def stats(page: Any) -> dict[str, Any]:
    return page.evaluate("window.aicoLog ? window.aicoLog.stats() : {}")  # type: ignore[no-any-return]


def stored_rows(env: dict[str, str]) -> list[dict[str, Any]]:
    with LogStore.open(load_settings(env=env)) as store:
        return list(store.iter_rows("SELECT * FROM logs ORDER BY seq"))


def test_records_logged_while_the_bridge_is_down_survive_a_reload(
        env: dict[str, str], site: str, browser_page: Any) -> None:
    """500 records logged with the bridge down, a reload, then the bridge starts: exactly those 500 are stored."""
    env, bridge, token = bridge_env(env, site)
    page = browser_page
    page.goto(f"{site}/index.html?bridge={bridge}&token={token}&count=500")
    first = wait_until(lambda: (s := stats(page)).get("persisted") == 500 and s["retries"] >= 1 and s,
                       timeout=30, message="500 records stored in IndexedDB after a failed send")
    assert first["storage"] == "indexeddb" and first["pending"] == 500
    page.goto(f"{site}/index.html?bridge={bridge}&token={token}&count=0")  # a reload: this page logs nothing
    wait_until(lambda: stats(page).get("pending") == 500, timeout=30, message="the 500 loaded again after reload")
    with Backend(env):
        wait_until(lambda: stats(page).get("pending") == 0, timeout=60, message="the 500 acknowledged")
        wait_until(lambda: len(stored_rows(env)) >= 500, timeout=30, message="500 rows in the store")
        rows = stored_rows(env)
    assert len(rows) == 500
    assert [r["seq"] for r in rows] == list(range(1, 501))
    assert {r["producer_id"] for r in rows} == {f"frontend:{first['producerId']}"}
    for i, row in enumerate(rows):
        assert row["message"] == f"record {i} ünïcødé"
        assert (row["module"], row["function"], row["topic"]) == ("web.e2e", "logMany", "e2e/browser")
        assert (row["file"], row["line"], row["trace_id"], row["session_id"]) == (
            "browser_page.html", i, f"trace-{i}", "session-e2e")
        assert (row["origin"], row["subsystem"], row["level"]) == ("frontend", "frontend", "INFO")
        assert json.loads(row["extra"]) == {"i": i}
        assert row["timestamp"].endswith("Z") and len(row["timestamp"]) == 27


def test_a_record_sent_by_beacon_and_again_after_reload_is_stored_once(
        env: dict[str, str], site: str, browser_page: Any) -> None:
    """Records beaconed on page hide stay stored in the browser, are sent again after reload, stored once."""
    env, bridge, token = bridge_env(env, site)
    page = browser_page
    with Backend(env):
        # A long flush interval: the 50 records wait in the page until it is hidden.
        page.goto(f"{site}/index.html?bridge={bridge}&token={token}&count=50&interval=600000")
        wait_until(lambda: stats(page).get("persisted") == 50, timeout=30, message="50 records in IndexedDB")
        page.goto(f"{site}/index.html?bridge={bridge}&token={token}&count=0")  # pagehide: beacon, then reload
        # Generous deadlines: on a loaded machine the client may back off (with jitter) before it resends.
        wait_until(lambda: len(stored_rows(env)) == 50, timeout=90, message="the beaconed 50 stored")
        wait_until(lambda: stats(page).get("accepted") == 50 and stats(page)["pending"] == 0, timeout=90,
                   message="the 50 sent again by the reloaded page and acknowledged")
        wait_until(lambda: consumer_figure(env, "duplicates") >= 50, timeout=10,
                   message="the second copies counted as duplicates")
    assert len(stored_rows(env)) == 50


def consumer_figure(env: dict[str, str], name: str) -> int:
    status = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
    return int(status["plugins"]["log_consumer"][name])


HOSTILE = """async () => {
  const { createLogger } = await import("./aico-log.js");
  const errors = [];
  const log = createLogger({ url: "http://127.0.0.1:9", token: "t", maxBuffer: 10, storageName: "bounded",
                             onError: (err) => errors.push(String(err && err.message)) });
  const circular = {};
  circular.self = circular;
  const calls = [
    () => log.info({ toString() { throw new Error("no text for you"); } }),
    () => log.info(Symbol("s")),
    () => log.error("circular", { extra: circular, line: -5, error: new TypeError("bad") }),
    () => log.warn(undefined, null),
    () => log.child(null).debug("child of null"),
  ];
  for (const call of calls) call();  // any throw fails the test
  for (let i = 0; i < 12; i++) log.info(`filler ${i}`);
  await log.ready;
  return { ...log.stats(), errors };
}"""


def test_the_client_never_throws_and_counts_what_its_bounded_buffer_drops(site: str, browser_page: Any) -> None:
    """Hostile arguments do not throw into the page; past maxBuffer new records are dropped and counted."""
    page = browser_page
    page.goto(f"{site}/index.html?count=0")
    result = page.evaluate(HOSTILE)
    assert result["pending"] == 10 and result["logged"] == 10
    assert result["dropped"] == {"buffer_full": 6} and result["droppedTotal"] == 6
    assert "no text for you" in result["errors"]
