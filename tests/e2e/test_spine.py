"""The spine, end to end: application -> library -> broker -> consumer -> encrypted store -> CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import zmq

from aico.config import load_settings
from aico.store import LogStore
from aico.store.filters import LogFilter

from conftest import run_app
from support import AICO, Backend, canonical, home_env, run_aico, stamp, wait_until

RAW_AT = stamp(7200, offset_hours=1)  # two hours ago, written with a +01:00 offset


def store_of(env: dict[str, str]) -> LogStore:
    return LogStore.open(load_settings(env=env))


def count(env: dict[str, str]) -> int:
    with store_of(env) as store:
        return store.count()


def test_stdlib_app_records_arrive_whole_and_encrypted(env: dict[str, str]) -> None:
    """20,000 records from 4 threads of a plain stdlib-logging app: all stored, fields as sent, no plaintext."""
    with Backend(env):
        out = run_app(env, "--records", "20000", "--threads", "4", "--exc-every", "97")
        assert out[-1]["flushed"] is True
        assert wait_until(lambda: count(env) == 20000, timeout=30, message="20,000 stored")
        with store_of(env) as store:
            rows = list(store.iter_rows("SELECT * FROM logs"))
    seen = set()
    for row in rows:
        extra = json.loads(row["extra"])
        i = extra["i"]
        seen.add(i)
        assert row["message"].startswith(f"rec {i} ")
        assert (row["module"], row["subsystem"], row["origin"]) == ("e2e.app", "e2e", "backend")
        assert row["function"] == "work" and row["file"].endswith("producer_app.py") and row["line"] > 0
        if i % 97 == 0:
            assert row["level"] == "ERROR"
            details = json.loads(row["error_details"])
            assert details["type"] == "ZeroDivisionError" and details["message"] == f"division {i}"
            assert "raise ZeroDivisionError" in details["stack"]
        else:
            assert row["level"] == "INFO" and row["error_details"] is None
    assert seen == set(range(20000))
    home = Path(env["AICO_HOME"])
    for path in (home / "data").iterdir():
        data = path.read_bytes()
        assert b"rec 1234 from thread" not in data and b"e2e.app" not in data, f"plaintext in {path.name}"


def raw_publisher(env: dict[str, str], *, curve: bool = True) -> zmq.Socket[bytes]:
    """A plain pyzmq PUB socket; with ``curve``, authenticated with the keys in $AICO_HOME/keys/bus.keys."""
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 1000)
    pub.setsockopt(zmq.SNDHWM, 100000)  # a raw publisher has no resend: give a burst room
    if curve:
        keys = json.loads((Path(env["AICO_HOME"]) / "keys" / "bus.keys").read_text())
        pub.curve_serverkey = keys["server_public"].encode()
        pub.curve_publickey = keys["client_public"].encode()
        pub.curve_secretkey = keys["client_secret"].encode()
    pub.connect(f"tcp://127.0.0.1:{env['AICO_CORE__MESSAGE_BUS__PUB_PORT']}")
    return pub


def _json_record(message: str, **more: object) -> bytes:
    return json.dumps({"timestamp": RAW_AT, "level": "warn", "module": "raw.mod",
                       "function": "send", "topic": "raw/test", "message": message, **more}).encode()


def test_raw_json_publisher_and_malformed_payloads(env: dict[str, str]) -> None:
    """A raw pyzmq JSON record is stored; malformed payloads go to rejects; their neighbours are stored."""
    with Backend(env):
        pub = raw_publisher(env)
        try:
            # The subscription reaches a new publisher after a moment: repeat a deduplicated probe until stored.
            probe = _json_record("probe", producer_id="raw-probe", seq=1)

            def probe_stored() -> bool:
                pub.send_multipart([b"logs.backend.test", probe])
                return count(env) == 1

            wait_until(probe_stored, timeout=20, interval=0.05, message="the subscription to reach the publisher")
            pub.send_multipart([b"logs.backend.test", _json_record("good one")])
            pub.send_multipart([b"logs.backend.test", b"{not json"])
            pub.send_multipart([b"logs.backend.test", _json_record("bad level", level="LOUD")])
            pub.send_multipart([b"logs.backend.test", b"\x08\x96\x01garbage"])
            pub.send_multipart([b"logs.backend.test"])
            pub.send_multipart([b"logs.backend.test", _json_record("good two", line=7)])
            wait_until(lambda: count(env) == 3, timeout=10, message="both good records")
            with store_of(env) as store:
                wait_until(lambda: store.count_rejects() == 4, timeout=10, message="four rejects")
                good = list(store.search(LogFilter(limit=10), ascending=True))
                rejects = store.rejects(limit=10)
        finally:
            pub.close()
    assert [r["message"] for r in good] == ["probe", "good one", "good two"]
    assert good[1]["level"] == "WARNING" and good[1]["timestamp"] == canonical(RAW_AT)
    reasons = sorted(r["reason"] for r in rejects)
    assert any("malformed JSON" in r for r in reasons)
    assert any("unknown level 'LOUD'" in r for r in reasons)
    assert any("malformed protobuf" in r or "is required" in r for r in reasons)
    assert any("no payload" in r for r in reasons)


def test_cli_status_probe_listing_and_key_errors(env: dict[str, str]) -> None:
    """gateway status, bus test, logs ls/count, db info, config show; a wrong key is one line, exit 3."""
    backend = Backend(env).start()
    try:
        run_app(env, "--records", "30", "--exc-every", "10")

        def status_with_all_stored() -> dict | None:
            # The status file is refreshed every status_interval_ms: a busy machine can lag behind the commit.
            current = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
            consumer = (current.get("plugins") or {}).get("log_consumer") or {}
            return current if consumer.get("stored") == 30 else None

        status = wait_until(status_with_all_stored, timeout=30, message="the status to show 30 records stored")
        assert status["running"] and set(status["plugins"]) >= {"message_bus", "log_consumer"}
        probe = run_aico(env, "bus", "test")
        assert probe.returncode == 0 and "bus ok" in probe.stdout
        listed = json.loads(run_aico(env, "logs", "ls", "--limit", "5", "-o", "json").stdout)
        assert [r["extra"]["i"] for r in listed] == [25, 26, 27, 28, 29]
        errors = run_aico(env, "logs", "ls", "--level", "error", "-o", "jsonl").stdout.splitlines()
        assert [json.loads(line)["extra"]["i"] for line in errors] == [0, 10, 20]
        assert run_aico(env, "logs", "count").stdout.strip() == "30"
        info = json.loads(run_aico(env, "db", "info", "--json").stdout)
        assert info["cipher"] == "aes256cbc" and info["records"] == 30
        shown = run_aico(env, "config", "show").stdout
        assert f"pub_port: {env['AICO_CORE__MESSAGE_BUS__PUB_PORT']}" in shown
    finally:
        assert backend.stop() == 0
    down = run_aico(env, "bus", "test", "--timeout", "0.5")
    assert down.returncode == 1 and "is the backend running" in down.stderr
    status = run_aico(env, "gateway", "status")
    assert status.returncode == 1
    wrong = run_aico({**env, "AICO_DB_KEY": "f" * 64}, "logs", "count")
    assert wrong.returncode == 3
    assert wrong.stderr.strip().count("\n") == 0 and "wrong encryption key" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    bad = run_aico(env, "logs", "ls", "--level", "loud")
    assert bad.returncode == 2 and "--level" in bad.stderr


def _stored_after_probe(env: dict[str, str], pub: zmq.Socket[bytes], seconds: float) -> bool:
    probe = _json_record("probe", producer_id="raw-probe", seq=1)

    def sent_and_stored() -> bool:
        pub.send_multipart([b"logs.backend.test", probe])
        return count(env) == 1

    try:
        wait_until(sent_and_stored, timeout=seconds, interval=0.05)
    except AssertionError:
        return False
    return True


def test_bus_refuses_publishers_without_the_keys(env: dict[str, str]) -> None:
    """With CurveZMQ on (the default), a publisher without the client key gets nothing into the store."""
    with Backend(env):
        intruder = raw_publisher(env, curve=False)
        try:
            assert not _stored_after_probe(env, intruder, 3)
        finally:
            intruder.close()
        insider = raw_publisher(env)
        try:
            assert _stored_after_probe(env, insider, 20)
        finally:
            insider.close()
    keys = Path(env["AICO_HOME"]) / "keys" / "bus.keys"
    assert keys.stat().st_mode & 0o777 == 0o600


def test_plain_bus_when_curve_is_off(env: dict[str, str]) -> None:
    """core.message_bus.curve=false: the spec's plain raw publisher works as it is."""
    env = {**env, "AICO_CORE__MESSAGE_BUS__CURVE": "false"}
    with Backend(env):
        pub = raw_publisher(env, curve=False)
        try:
            assert _stored_after_probe(env, pub, 20)
        finally:
            pub.close()


def test_ctrl_c_in_a_terminal_stops_the_backend_cleanly(tmp_path: Path) -> None:
    """Ctrl-C reaches the backend's whole process group (its children too): it stops in order, exit 0, with
    no traceback from a child and no child started again on the way out."""
    env = home_env(tmp_path / "home")
    log = tmp_path / "backend.log"
    with log.open("w") as fh:  # a session of its own: the group's SIGINT is the terminal's Ctrl-C
        proc = subprocess.Popen([AICO, "backend", "start"], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        status = run_aico(env, "gateway", "status", "--wait", "60", timeout=90)
        assert status.returncode == 0, status.stdout + status.stderr + log.read_text()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    out = log.read_text()
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert "starting a new one" not in out and "plugin message_bus stopped" in out, out
