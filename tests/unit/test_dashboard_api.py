"""The dashboard's JSON API against real uvicorn and a real encrypted store: auth, paging, filters, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aico.config import Settings, load_settings
from aico.dashboard.plugin import LogDashboardPlugin
from aico.errors import BackendError
from aico.schema.timestamps import format_utc, parse_utc
from aico.store import LogStore
from aico.store.filters import LogFilter
from aico.store.repository import Reject

from dashboard_support import TOKEN, make_home, record, served
from support import home_env, stamp

pytestmark = pytest.mark.clock  # records are stamped relative to now; run again with the clock a year off

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = ["search", "histogram", "records/1", "trace/t-1", "rejects", "status", "tail"]


def corpus() -> list[dict[str, Any]]:
    """300 records over the last hour: levels, modules, two traces across origins, a NUL, an error."""
    levels = ["DEBUG", "INFO", "INFO", "WARNING", "ERROR"]
    out = [record(i, 3600 - i * 10, level=levels[i % 5], module=("backend.api" if i % 3 else "web.chat"),
                  message=f"record {i} {'timeout' if i % 7 == 0 else 'ok'}", extra={"i": i, "nested": {"k": [i]}})
           for i in range(300)]
    out += [record(1000 + i, 30 - i, trace_id="t-1", origin=("frontend" if i % 2 else "backend"),
                   message=f"step {i}") for i in range(6)]
    out.append(record(2000, 5, level="CRITICAL", message="nul \x00 inside <script>x</script>",
                      error_details={"type": "ValueError", "message": "bad", "stack": "Traceback\n  line 1\n"}))
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_home(tmp_path_factory.mktemp("dash") / "home", corpus())
    with LogStore.open(settings, writer=True) as store:
        store.insert_rejects([Reject.of(b"logs.x.y", b"\xff\x00not json", "not a LogEntry protobuf nor JSON",
                                         keep_bytes=1024)])
    return settings


@pytest.fixture(scope="module")
def client(home: Settings) -> Iterator[httpx.Client]:
    with served(home) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def get(client: httpx.Client, path: str, **params: Any) -> Any:
    r = client.get(f"/api/v1/{path}", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("route", ROUTES)
def test_every_api_route_needs_the_token(client: httpx.Client, route: str) -> None:
    """No token, a wrong token or a wrong cookie: 401 on every API route, the live tail included."""
    assert client.get(f"/api/v1/{route}").status_code == 401
    assert client.get(f"/api/v1/{route}", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(f"/api/v1/{route}", headers={"Cookie": "aico_dashboard=nope"}).status_code == 401


def cookie_of(response: httpx.Response) -> str:
    return response.headers["set-cookie"].split(";")[0].split("=", 1)[1]


def test_the_bearer_token_buys_a_session_cookie(client: httpx.Client) -> None:
    """POST /session with the token sets an HttpOnly SameSite=Strict cookie for / that expires, not the token."""
    assert client.post("/api/v1/session", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.post("/api/v1/session", headers=AUTH)
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and TOKEN not in cookie
    assert f"Max-Age={12 * 3600}" in cookie and "expires=" in cookie
    assert client.get("/api/v1/status", headers={"Cookie": f"aico_dashboard={cookie_of(r)}"}).status_code == 200


def test_a_login_code_works_once(client: httpx.Client, home: Settings) -> None:
    """A code from `aico dashboard url` buys one session; the same code again, or a made-up one, gets 401."""
    from aico.dashboard import logins

    code = logins.mint(home, now=time.time())
    first = client.post("/api/v1/session", headers={"Authorization": f"Login {code}"})
    assert first.status_code == 204
    assert client.get("/api/v1/search", headers={"Cookie": f"aico_dashboard={cookie_of(first)}"}).status_code == 200
    again = client.post("/api/v1/session", headers={"Authorization": f"Login {code}"})
    assert again.status_code == 401 and "used already or has expired" in again.json()["error"]
    assert "set-cookie" not in again.headers
    assert client.post("/api/v1/session", headers={"Authorization": "Login made-up"}).status_code == 401


def test_login_codes_and_sessions_expire(home: Settings) -> None:
    """By the dashboard's clock: a code is refused after 5 minutes, a session cookie after 12 hours (401)."""
    from aico.dashboard import logins

    now = [float(int(time.time()))]
    with served(home, clock=lambda: now[0]) as url, httpx.Client(base_url=url, timeout=30) as c:
        late = logins.mint(home, now=now[0])
        fresh = logins.mint(home, now=now[0])
        now[0] += logins.LOGIN_TTL_S - 1
        r = c.post("/api/v1/session", headers={"Authorization": f"Login {fresh}"})
        assert r.status_code == 204
        session = {"Cookie": f"aico_dashboard={cookie_of(r)}"}
        now[0] += 2  # past the codes' expiry
        assert c.post("/api/v1/session", headers={"Authorization": f"Login {late}"}).status_code == 401
        now[0] += 12 * 3600 - 3  # the session's last second
        assert c.get("/api/v1/status", headers=session).status_code == 200
        now[0] += 2
        expired = c.get("/api/v1/status", headers=session)
        assert expired.status_code == 401 and expired.json()["error"].startswith("expired or unknown session")
        assert c.get("/api/v1/tail", headers=session).status_code == 401


def test_the_page_is_served_with_a_strict_content_security_policy(client: httpx.Client) -> None:
    """The page and its files need no token, carry no data, and forbid inline script and other origins."""
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_a_foreign_host_name_is_refused(client: httpx.Client) -> None:
    """DNS rebinding: a request naming another host gets 421, even with the token."""
    r = client.get("/api/v1/status", headers={**AUTH, "Host": "attacker.example"})
    assert r.status_code == 421
    assert client.get("/api/v1/status", headers={**AUTH, "Host": "localhost:1"}).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_api_writes_nothing(client: httpx.Client, method: str) -> None:
    """Only GET reaches the data: any other method on a data route is 405."""
    for route in ("search", "records/1", "rejects"):
        assert client.request(method, f"/api/v1/{route}", headers=AUTH).status_code == 405


def test_search_pages_through_everything_newest_first(client: httpx.Client, home: Settings) -> None:
    """Pages of 37 with the cursor give every record once, in the order of `aico logs ls -r`."""
    seen: list[int] = []
    cursor = None
    while True:
        page = get(client, "search", limit=37, **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in page["records"]]
        cursor = page["next"]
        if cursor is None:
            break
    with LogStore.open(home) as store:
        expected = [r["id"] for r in store.search(LogFilter())]
        top = store.max_id()
    assert seen == expected and len(seen) == 307
    assert get(client, "search", limit=1)["tail_after"] == top  # where a live tail of this view goes on


@pytest.mark.parametrize("params", [
    {"level": "warning", "module": "backend"},
    {"level": "info..warning", "since": "20m"},
    {"level": "debug,critical"},
    {"module": "web.*", "grep": "TIMEOUT|record 1\\d\\b"},
    {"q": "timeout OR step", "level": "error"},
    {"trace_id": "t-1", "origin": "frontend"},
])
def test_filters_select_what_the_cli_selects(client: httpx.Client, home: Settings, params: dict[str, str]) -> None:
    """Each filter, paged by the API, gives exactly the records the CLI's filter model gives."""
    from aico.cli.logs.options import build_filter as cli_filter

    cli_values = {"level": None, "subsystem": None, "module": None, "topic": None, "function": None, "file": None,
                  "trace_id": None, "session_id": None, "user_id": None, "origin": None, "since": None,
                  "until": None, "grep": None, "query": params.get("q")}
    cli_values.update({k: v for k, v in params.items() if k != "q"})
    flt = cli_filter(cli_values, utc=False, query_name="QUERY")
    with LogStore.open(home) as store:
        expected = [r["id"] for r in store.search(flt)]
    got: list[int] = []
    cursor = None
    while True:
        page = get(client, "search", limit=25, **params, **({"cursor": cursor} if cursor else {}))
        got += [r["id"] for r in page["records"]]
        if not (cursor := page["next"]):
            break
    assert got == expected and got


@pytest.mark.parametrize(("params", "field"), [
    ({"level": "loud"}, "level"),
    ({"since": "3x"}, "since"),
    ({"until": "tomorrowish"}, "until"),
    ({"since": "1h", "until": "2h"}, "until"),
    ({"grep": "(unclosed"}, "grep"),
    ({"q": "(a OR"}, "q"),
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"cursor": "garbage~x"}, "cursor"),
    ({"lvl": "error"}, "lvl"),
    ({"module": "a\x00b"}, "module"),
    ({"utc": "perhaps"}, "utc"),
])
def test_bad_input_is_a_400_naming_the_field(client: httpx.Client, params: dict[str, str], field: str) -> None:
    """A malformed query, level, time, regex, cursor or an unknown parameter: 400 with the field named."""
    for route in ("search", "histogram") if field not in ("limit", "cursor") else ("search",):
        r = client.get(f"/api/v1/{route}", params=params, headers=AUTH)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["field"] == field and body["error"].startswith(f"{field}: ")


def test_a_parameter_given_twice_is_refused(client: httpx.Client) -> None:
    """`?level=error&level=debug` is ambiguous: 400 naming level."""
    r = client.get("/api/v1/search?level=error&level=debug", headers=AUTH)
    assert r.status_code == 400 and r.json()["field"] == "level"


def test_histogram_counts_every_match_stacked_by_level(client: httpx.Client, home: Settings) -> None:
    """The buckets' counts per level add up to the store's count for the same filter; at most 120 bars."""
    for params in ({}, {"level": "warning"}, {"q": "timeout"}, {"grep": "record 2\\d\\d"}, {"since": "10m"}):
        hist = get(client, "histogram", **params)
        assert 1 <= len(hist["buckets"]) <= 120
        with LogStore.open(home) as store:
            from aico.dashboard.query import build_filter

            flt = build_filter(params)
            expected = sum(1 for _ in store.search(flt))
            by_level = {lvl: sum(1 for r in store.search(replace(flt, levels=(lvl,)))) for lvl in hist["levels"]
                        if not flt.levels or lvl in flt.levels}
        assert hist["total"] == expected, params
        for lvl, n in by_level.items():
            assert sum(b["counts"][lvl] for b in hist["buckets"]) == n
        starts = [b["start"] for b in hist["buckets"]]
        assert starts == sorted(starts)


def test_a_record_keeps_its_nul_and_its_markup_as_text(client: httpx.Client) -> None:
    """The record comes back whole: a NUL in the message is not cut; extra and error details are parsed."""
    page = get(client, "search", level="critical")
    rec = get(client, f"records/{page['records'][0]['id']}")
    assert rec["message"] == "nul \x00 inside <script>x</script>"
    assert rec["error_details"]["stack"] == "Traceback\n  line 1\n"
    assert client.get("/api/v1/records/999999", headers=AUTH).status_code == 404
    assert client.get("/api/v1/records/abc", headers=AUTH).json()["field"] == "id"
    first = get(client, "search", level="debug..debug", limit=1)["records"][0]
    assert first["extra"]["nested"] == {"k": [first["extra"]["i"]]}


def test_trace_is_in_time_order_across_origins(client: httpx.Client) -> None:
    """The trace route gives every record of the trace, oldest first, frontend and backend."""
    data = get(client, "trace/t-1")
    stamps = [r["timestamp"] for r in data["records"]]
    assert len(stamps) == 6 and stamps == sorted(stamps)
    assert data["origins"] == ["backend", "frontend"]
    assert [r["message"] for r in data["records"]] == [f"step {i}" for i in range(6)]


def test_rejects_show_the_payload_and_the_reason(client: httpx.Client) -> None:
    """Rejected payloads come with their reason; bytes that are not UTF-8 are escaped, not lost."""
    data = get(client, "rejects")
    assert data["total"] == 1
    bad = data["rejects"][0]
    assert bad["reason"] == "not a LogEntry protobuf nor JSON"
    assert bad["payload"] == "\\xff\x00not json" and bad["payload_bytes"] == 10


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each Server-Sent Event."""
    event, ident, data = "message", "", ""
    for line in lines:
        if not line:
            yield event, ident, data
            event, ident, data = "message", "", ""
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data = line[6:]


def test_live_tail_streams_new_matching_records_and_resumes(client: httpx.Client, home: Settings) -> None:
    """Records stored after the stream opened arrive, filtered; Last-Event-ID resumes after the last seen."""
    with client.stream("GET", "/api/v1/tail", params={"level": "error"}, headers=AUTH) as stream:
        events = _events(stream.iter_lines())
        kind, ident, _ = next(events)
        assert kind == "hello"
        with LogStore.open(home, writer=True) as store:
            store.insert_batch([record(5000, 0, level="INFO", message="quiet"),
                                record(5001, 0, level="ERROR", message="live one")])
        kind, ident, data = next(e for e in events if e[0] == "record")
        assert json.loads(data)["message"] == "live one"
    with LogStore.open(home, writer=True) as store:
        store.insert_batch([record(5002, 0, level="ERROR", message="while away")])
    headers = {**AUTH, "Last-Event-ID": ident}
    with client.stream("GET", "/api/v1/tail", params={"level": "error"}, headers=headers) as stream:
        kind, _, data = next(e for e in _events(stream.iter_lines()) if e[0] == "record")
        assert json.loads(data)["message"] == "while away"


def test_the_plugin_refuses_an_open_address_without_auth(tmp_path: Path) -> None:
    """core.dashboard.host 0.0.0.0 with auth off: the plugin does not start, and says why."""
    env = home_env(tmp_path / "home", AICO_CORE__DASHBOARD__HOST="0.0.0.0", AICO_CORE__DASHBOARD__AUTH="false")
    plugin = LogDashboardPlugin(load_settings(env=env))
    with pytest.raises(BackendError, match="without auth"):
        plugin.start()
    assert plugin.proc is None


def test_the_index_counts_agree_with_the_grouped_counts(client: httpx.Client) -> None:
    """Counts by level and time alone (index ranges, INFO by difference) equal the row-grouping path's."""
    now, two_hours, ninety_minutes, ten_minutes = stamp(0), stamp(7200), stamp(5400), stamp(600)
    for params in ({"since": two_hours, "until": now}, {"since": two_hours, "until": now, "level": "info..error"},
                   {"since": ninety_minutes, "until": ten_minutes}):  # fixed times: both calls see the same bars
        fast = get(client, "histogram", **params)
        grouped = get(client, "histogram", function="handle", **params)  # every record's function: the other path
        assert fast["buckets"] == grouped["buckets"] and fast["total"] == grouped["total"] > 0


def test_an_unforeseen_failure_is_a_json_500(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a reader gives a 500 with a message the page shows, and the server keeps answering."""
    from aico.dashboard import histogram

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(histogram, "histogram", broken)
    r = client.get("/api/v1/histogram", headers=AUTH)
    assert r.status_code == 500 and r.json()["error"] == "internal error: RuntimeError: boom"
    assert client.get("/api/v1/status", headers=AUTH).status_code == 200


def test_archived_days_are_searched_page_by_page(tmp_path: Path) -> None:
    """archives=1 searches the archive files with the same filters, newest first, paged with the cursor."""
    from datetime import UTC, datetime

    from aico.retention.job import RetentionJob
    from aico.retention.search import search_archives

    from retention_support import seed_days

    settings = make_home(tmp_path / "home", [])
    seed_days(settings, datetime.now(UTC), 10, 12)  # days 8 to 10 ago go to the archives
    RetentionJob(settings, disk_free=lambda _: 10**12).run()
    expected = [r["id"] for r in reversed(search_archives(settings, LogFilter(levels=("ERROR",)), None))]
    assert len(expected) == 12  # 3 archived days, 4 errors each
    with served(settings) as url, httpx.Client(base_url=url, headers=AUTH, timeout=30) as c:
        got, cursor = [], None
        while True:
            r = c.get("/api/v1/search", params={"archives": "1", "level": "error", "limit": "5",
                                                **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200 and r.json()["archives"] is True
            got += [rec["id"] for rec in r.json()["records"]]
            if not (cursor := r.json()["next"]):
                break
        assert got == expected
        assert c.get("/api/v1/search", params={"archives": "1", "cursor": "nope"}).json()["field"] == "cursor"


def test_login_codes_are_kept_hashed_and_bounded(tmp_path: Path) -> None:
    """Unused codes are kept at most 64 (the oldest go); a damaged file refuses every code and is remade."""
    from aico.dashboard import logins

    settings = load_settings(env=home_env(tmp_path / "home"))
    now = time.time()
    codes = [logins.mint(settings, now=now + i) for i in range(70)]
    kept = json.loads((settings.keys_dir / logins.FILE).read_text())
    assert len(kept) == logins.MAX_CODES and not any(code in json.dumps(kept) for code in codes)
    assert not logins.redeem(settings, codes[0], now=now + 70)  # dropped to make room
    assert logins.redeem(settings, codes[-1], now=now + 70)
    (settings.keys_dir / logins.FILE).write_text("{not json")
    assert not logins.redeem(settings, codes[-2], now=now + 70)
    fresh = logins.mint(settings, now=now + 71)
    assert logins.redeem(settings, fresh, now=now + 72)


def test_the_bars_aligned_to_their_width_never_pass_the_cap() -> None:
    """Ten minutes not aligned to 5 s took 121 bars of 5 s (the first bar starts before ``since``):
    the width is chosen on the aligned bars' number, for any start within the width."""
    from aico.dashboard.histogram import MAX_BUCKETS, bucket_width

    for offset_ms in (0, 1, 2500, 4999, 59_999):
        since = parse_utc("2026-01-01T00:00:00Z") + timedelta(milliseconds=offset_ms)
        until = since + timedelta(minutes=10)
        width = bucket_width(format_utc(since), format_utc(until))
        first = since.timestamp() // width * width
        assert -(-(until.timestamp() - first) // width) <= MAX_BUCKETS, (offset_ms, width)
