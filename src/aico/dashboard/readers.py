"""Reading for the dashboard: a small pool of read-only store connections, and what the API shows.

libSQL holds the GIL while a statement runs, so the dashboard runs in a process of its own
(``process.py``), and its reads use a few connections (``POOL_SIZE``) rather than one per
request thread: each open costs a key derivation, and more readers than cores buy nothing.
Every connection is ``query_only``: nothing here writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import orjson

from aico.backend.status import read_status
from aico.config.settings import Settings
from aico.errors import StoreError
from aico.store import rekey_gate
from aico.store.filters import LogFilter
from aico.store.layout import SOURCE
from aico.store.ondisk import size_on_disk
from aico.store.repository import LogStore
from aico.store.search import SELECT_LIST, Cursor, page_sql

POOL_SIZE = 3
TAKE_WAIT_S = 60.0  # the longest a request waits for one of the pool's connections
JSON_FIELDS = ("extra", "error_details")


class StorePool:
    """Up to ``size`` read-only ``LogStore`` connections, opened when first needed.

    A key rotation needs the store to itself (``store/rekey_gate.py``): a request that finds one
    waiting closes the idle connections and opens a new one, which waits for the rotation's end
    and reads the new key; a connection given back while one waits is closed, not kept; and a
    connection idle for ``IDLE_RELEASE_S`` is closed by a thread that sleeps until the oldest is
    due (and for as long as none is idle), so a quiet dashboard holds nothing open.
    """

    def __init__(self, settings: Settings, size: int = POOL_SIZE) -> None:
        self.settings = settings
        self._free: list[tuple[LogStore, float]] = []  # idle connections, the most recently used last
        self._opened = 0
        self._size = size
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._close_idle, name="aico-pool-idle", daemon=True).start()

    @contextmanager
    def store(self) -> Iterator[LogStore]:
        store = self._take()
        ok = False
        try:
            yield store
            ok = True
        finally:
            keep = ok and not rekey_gate.pending(self.settings.database_path)
            if not keep:  # a failed statement may leave it in a bad state; a rotation waits for it
                store.close()
            with self._cond:
                if keep and not self._closed:
                    self._free.append((store, time.monotonic()))
                else:
                    if keep:
                        store.close()
                    self._opened -= 1
                self._cond.notify_all()

    def _take(self) -> LogStore:
        if rekey_gate.pending(self.settings.database_path):
            self.close_idle()
        deadline = time.monotonic() + TAKE_WAIT_S
        with self._cond:
            while not self._free and self._opened >= self._size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"the dashboard's {self._size} store connections stayed busy for "
                                     f"{TAKE_WAIT_S:.0f} s")
                self._cond.wait(left)
            if self._free:
                return self._free.pop()[0]
            self._opened += 1
        try:
            return LogStore.open(self.settings, writer=False)  # during a key rotation: waits for its end
        except BaseException:
            with self._cond:
                self._opened -= 1
                self._cond.notify_all()
            raise

    def close_idle(self, older_than: float = 0.0) -> None:
        """Close the idle connections unused for ``older_than`` seconds (all of them by default)."""
        now = time.monotonic()
        with self._cond:
            going = [store for store, since in self._free if now - since >= older_than]
            self._free = [(store, since) for store, since in self._free if now - since < older_than]
            self._opened -= len(going)
            self._cond.notify_all()
        for store in going:
            store.close()

    def _close_idle(self) -> None:
        """The idle-connection closer: asleep while nothing is idle, else until the oldest is due."""
        with self._cond:
            while not self._closed:
                if not self._free:
                    self._cond.wait()
                    continue
                due = min(since for _, since in self._free) + rekey_gate.IDLE_RELEASE_S
                if due > time.monotonic():
                    self._cond.wait(due - time.monotonic())
                    continue
                self._cond.release()
                try:
                    self.close_idle(rekey_gate.IDLE_RELEASE_S)
                finally:
                    self._cond.acquire()

    def close(self) -> None:
        with self._cond:
            self._closed = True
        self.close_idle()


def record_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row for the page: ``extra`` and ``error_details`` parsed (kept as text if not JSON)."""
    out = dict(row)
    for name in JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            try:
                out[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
    return out


def search_page(store: LogStore, flt: LogFilter, *, limit: int, start: Cursor) -> list[dict[str, Any]]:
    """Up to ``limit`` records of ``flt`` after ``start``, in the order ``LogStore.search`` gives them.

    Without a full-text query or grep, the page's ids come first, from a statement that selects
    ids alone (an index holding the filtered column and the time, as (module, timestamp), answers
    it without reading a row), and then those rows. Selecting whole rows in one statement makes
    SQLite read and sort every matching row before it keeps the newest: a module matching 43,000
    of 1,000,000 records took ~400 ms that way, ~30 ms this way (bench/dashboard.py).
    """
    flt = replace(flt, limit=limit)
    if flt.text_query is not None or flt.regex is not None:
        return list(store.search(flt, page=limit, start=start))
    sql, params = page_sql(flt, ascending=False, by_id=False, after=start, size=limit, columns="logs.id AS id")
    ids = [row["id"] for row in store.iter_rows(sql, params)]
    if not ids:
        return []
    sql = f"SELECT {SELECT_LIST} FROM {SOURCE} WHERE id IN (SELECT value FROM json_each(?))"
    found = {rec["id"]: rec for rec in store.reader.records(sql, [orjson.dumps(ids).decode()])}
    return [found[i] for i in ids if i in found]  # one deleted meanwhile (retention) is left out


# -- status and rejects ----------------------------------------------------------------------
CONSUMER_FIGURES = ("received", "stored", "duplicates", "rejected", "lag_ms")


def status(settings: Settings) -> dict[str, Any]:
    """What ``aico gateway status`` shows, from every backend's status file, and the store's size."""
    backends: dict[str, Any] = {}
    plugins: dict[str, Any] = {}
    try:
        files = sorted(p for p in settings.run_dir.glob("*.json") if not p.name.startswith("."))
    except OSError:
        files = []
    for path in files:
        current = read_status(settings, path.stem)
        if not current or "plugins" not in current:
            continue
        backends[path.stem] = {"running": current["running"], "pid": current.get("pid"),
                               "started_at": current.get("started_at"), "updated_at": current.get("updated_at")}
        for name, plugin in (current.get("plugins") or {}).items():
            state = plugin.get("state") if current["running"] else "stopped"
            plugins[name] = {**plugin, "state": state, "backend": path.stem}
    consumer = plugins.get("log_consumer", {})
    return {
        "running": any(b["running"] for b in backends.values()),
        "backends": backends,
        "plugins": plugins,
        "plugins_up": sorted(n for n, p in plugins.items() if p.get("state") == "running"),
        "consumer": {k: consumer.get(k) for k in CONSUMER_FIGURES},
        "store_bytes": size_on_disk(settings.database_path),
    }


def rejects(store: LogStore, *, limit: int, before: int | None) -> dict[str, Any]:
    """Bad payloads with their reason, newest first: the first bytes kept (as text, bytes not UTF-8 escaped),
    the whole payload's size and SHA-256."""
    where, params = ("WHERE id < ?", [before]) if before is not None else ("", [])
    rows = list(store.iter_rows(
        f"SELECT id, received_at, topic, payload, reason, size, sha256 FROM rejects {where} ORDER BY id DESC LIMIT ?",
        [*params, limit + 1]))
    more = len(rows) > limit
    out = []
    for row in rows[:limit]:
        payload = row["payload"]
        if isinstance(payload, bytes | bytearray | memoryview):
            raw = bytes(payload)
            text = raw.decode("utf-8", "backslashreplace")
            size = int(row["size"]) if row.get("size") is not None else len(raw)
            row = {**row, "payload": text, "payload_bytes": size, "truncated": size > len(raw)}
        out.append(row)
    return {"rejects": out, "next": out[-1]["id"] if more and out else None,
            "total": int(next(store.iter_rows("SELECT count(*) AS n FROM rejects"))["n"])}


def check_store(settings: Settings) -> None:
    if not settings.database_path.exists():
        raise StoreError(f"no log store at {settings.database_path} yet: the backend makes it at first start")
