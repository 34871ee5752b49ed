"""The log_otlp_export plugin against an OTLP receiver in the test: order, watermark, backoff, 413, 400, scrubbing."""

from __future__ import annotations

import gzip
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from aico.config import Settings, load_settings
from aico.errors import ConfigError
from aico.otlp.client import retry_after
from aico.otlp.plugin import OtlpExportPlugin
from aico.otlp.values import attributes
from aico.otlp.watermark import Watermark
from aico.schema.record import normalize
from aico.store import LogStore
from aico.store.filters import LogFilter

from support import stamp, wait_until

pytestmark = pytest.mark.clock  # records stamped relative to now


class Receiver:
    """Answers each POST with the next scripted (status, headers), then 200; keeps what it took."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[tuple[float, int, list[dict[str, Any]]]] = []  # (time, status, records)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
                logs = [{"body": log.body.string_value, **attributes(log.attributes)}
                        for r in ExportLogsServiceRequest.FromString(body).resource_logs
                        for s in r.scope_logs for log in s.log_records]
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                receiver.requests.append((time.monotonic(), status, logs))
                answer = ExportLogsServiceResponse().SerializeToString() if status == 200 else b"no"
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(answer))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/logs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def taken(self) -> list[dict[str, Any]]:
        return [log for _, status, logs in self.requests if status == 200 for log in logs]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def store_records(settings: Settings, first: int, count: int, message: str = "record {i}") -> None:
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize({
            "timestamp": stamp(60), "level": "INFO", "module": "m", "function": "f", "topic": "t",
            "message": message.format(i=i), "producer_id": "p", "seq": i}) for i in range(first, first + count)])


def exporter(settings: Settings, url: str, **cfg: Any) -> OtlpExportPlugin:
    over = {"endpoint": url, "batch_size": 4, "interval_s": 0.05, "min_backoff_s": 0.05, "max_backoff_s": 0.2,
            **cfg}
    plugin = OtlpExportPlugin(load_settings(home=settings.home, env={}, overrides={"core": {"otlp_export": over}}))
    plugin.start()
    return plugin


def test_in_order_and_resumed_from_the_watermark(settings: Settings, receiver: Receiver) -> None:
    """Records go in id order; a new exporter resumes after the watermark, sending nothing twice."""
    store_records(settings, 1, 10)
    plugin = exporter(settings, receiver.url)
    wait_until(lambda: len(receiver.taken()) == 10, message="10 records exported")
    wait_until(lambda: plugin.status()["lag_records"] == 0, message="no lag")
    plugin.stop()
    store_records(settings, 11, 3)
    plugin = exporter(settings, receiver.url)
    status = wait_until(lambda: (s := plugin.status())["watermark"] == 13 and s, message="the 3 new records exported")
    plugin.stop()
    assert [log["aico.seq"] for log in receiver.taken()] == list(range(1, 14))
    assert (status["watermark"], status["exported"], status["state"]) == (13, 3, "running")


def test_backs_off_honouring_retry_after(settings: Settings, receiver: Receiver) -> None:
    """A 503 with Retry-After: 1 is tried again no sooner than a second later, then the batch goes."""
    store_records(settings, 1, 2)
    receiver.script = [(503, {"Retry-After": "1"})]
    plugin = exporter(settings, receiver.url)
    status = wait_until(lambda: (s := plugin.status())["exported"] == 2 and s, message="the batch taken after the 503")
    plugin.stop()
    (refused_at, _, _), (taken_at, _, _) = receiver.requests[:2]
    assert taken_at - refused_at >= 0.95
    assert status["retries"] == 1 and status["exported"] == 2


def test_413_halves_the_batch_and_400_is_counted_and_passed(settings: Settings, receiver: Receiver) -> None:
    """A 413 sends the batch in halves; a 400 is the endpoint's last word: counted, and export goes on."""
    store_records(settings, 1, 8)
    receiver.script = [(413, {}), (200, {}), (400, {})]
    plugin = exporter(settings, receiver.url)
    wait_until(lambda: plugin.status()["lag_records"] == 0 and plugin.status()["watermark"] == 8, message="done")
    status = plugin.status()
    plugin.stop()
    sizes = [(status_, len(logs)) for _, status_, logs in receiver.requests]
    assert sizes[:3] == [(413, 4), (200, 2), (400, 2)]
    assert status["refused_by_endpoint"] == 2 and "HTTP 400" in status["last_error"]
    assert [log["aico.seq"] for log in receiver.taken()] == [1, 2, 5, 6, 7, 8]


def test_scrub_runs_the_privacy_scrubber_before_records_leave(settings: Settings, receiver: Receiver) -> None:
    """With scrub: true an e-mail address leaves as [EMAIL]; the store keeps the original."""
    store_records(settings, 1, 1, message="mail ada@example.com now")
    plugin = exporter(settings, receiver.url, scrub=True)
    wait_until(lambda: len(receiver.taken()) == 1, message="the record exported")
    plugin.stop()
    assert receiver.taken()[0]["body"] == "mail [EMAIL] now"
    with LogStore.open(settings) as store:
        assert next(store.search(LogFilter(limit=1)))["message"] == "mail ada@example.com now"


def test_an_endpoint_that_is_not_set_is_a_clear_error(settings: Settings) -> None:
    """Starting without core.otlp_export.endpoint names the setting."""
    with pytest.raises(ConfigError, match=r"core\.otlp_export\.endpoint"):
        OtlpExportPlugin(settings).start()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """Retry-After as seconds or an HTTP date; anything else is ignored."""
    assert retry_after("7") == 7.0
    later = retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30
    assert retry_after("soon") is None and retry_after(None) is None


def test_a_watermark_past_the_newest_id_means_a_new_store(settings: Settings, receiver: Receiver) -> None:
    """A store made anew (ids from 1 again) is exported from its first record, not skipped up to the old watermark."""
    store_records(settings, 1, 3)
    Watermark(settings.path(settings.core.otlp_export.watermark)).save(500, "old")
    plugin = exporter(settings, receiver.url)
    wait_until(lambda: len(receiver.taken()) == 3, message="the new store's records exported")
    plugin.stop()


def _certificates(folder: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def make(name: str, issuer: tuple[Any, Any] | None, *, ca: bool = False,
             ip: str | None = None) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer[0].subject if issuer else subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ip:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                            critical=False)
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key

    ca = make("test ca", None, ca=True)
    out = {}
    for name, (cert, key) in {"ca": ca, "server": make("server", ca, ip="127.0.0.1"),
                              "client": make("client", ca)}.items():
        out[f"{name}_cert"] = str(folder / f"{name}.pem")
        out[f"{name}_key"] = str(folder / f"{name}.key")
        Path(out[f"{name}_cert"]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        Path(out[f"{name}_key"]).write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return out


def test_tls_verifies_the_endpoint_and_presents_a_client_certificate(settings: Settings, receiver: Receiver,
                                                                     tmp_path: Path) -> None:
    """Over HTTPS with mutual TLS: the configured CA and client certificate work; without the CA, nothing leaves."""
    pem = _certificates(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pem["ca_cert"])
    server_tls.load_cert_chain(pem["server_cert"], pem["server_key"])
    server_tls.verify_mode = ssl.CERT_REQUIRED
    receiver.server.socket = server_tls.wrap_socket(receiver.server.socket, server_side=True)
    url = receiver.url.replace("http://", "https://")
    store_records(settings, 1, 2)

    untrusted = exporter(settings, url)
    wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in (untrusted.status()["last_error"] or ""),
               message="the unknown server certificate refused")
    untrusted.stop()
    assert not receiver.taken()

    trusted = exporter(settings, url, tls={"ca_file": pem["ca_cert"], "cert_file": pem["client_cert"],
                                           "key_file": pem["client_key"], "insecure_skip_verify": False})
    wait_until(lambda: len(receiver.taken()) == 2, message="the records exported over mutual TLS")
    trusted.stop()
