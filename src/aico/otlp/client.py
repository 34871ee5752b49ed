"""One OTLP/HTTP logs request and what its answer means for the exporter.

200: taken (``partial_success`` may count records the endpoint refused: they are not sent
again). 429, 502, 503, 504, 408 and network failures: try the same batch again later,
after ``Retry-After`` when the endpoint gives one. 401, 403 and 404 are a configuration
problem that fixing it cures: retried too, so nothing is lost meanwhile. 413: the batch is
too big for the endpoint: send it in halves. Any other 4xx: the endpoint will never take it.
"""

from __future__ import annotations

import gzip
import http.client
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse

from aico.config.settings import OtlpExport
from aico.errors import ConfigError

RETRY = frozenset({401, 403, 404, 408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Outcome:
    status: int  # the HTTP status, 0 when no answer came
    rejected: int = 0  # records the endpoint refused (partial_success)
    retry_after_s: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def retry(self) -> bool:
        return self.status == 0 or self.status in RETRY

    @property
    def too_large(self) -> bool:
        return self.status == 413


def tls_context(cfg: OtlpExport) -> ssl.SSLContext | None:
    if not cfg.endpoint or not cfg.endpoint.startswith("https://"):
        return None
    tls = cfg.tls
    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
        if tls.cert_file:
            context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"core.otlp_export.tls: {exc}") from exc
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class OtlpClient:
    def __init__(self, cfg: OtlpExport) -> None:
        if not cfg.endpoint:
            raise ConfigError("core.otlp_export.endpoint is not set: name the OTLP/HTTP logs URL to forward to")
        self.cfg = cfg
        self.url = cfg.endpoint
        self.context = tls_context(cfg)
        self.headers = {"Content-Type": "application/x-protobuf", "User-Agent": "aico-logging-otlp-export",
                        **cfg.headers}
        if cfg.compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"

    def send(self, request: ExportLogsServiceRequest) -> Outcome:
        body = request.SerializeToString()
        if self.cfg.compression == "gzip":
            body = gzip.compress(body, compresslevel=1)
        http_request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=self.cfg.timeout_s, context=self.context) as answer:
                content = answer.read()
                status = answer.status
        except urllib.error.HTTPError as exc:
            text = _text(exc.read() if exc.fp else b"")
            return Outcome(exc.code, retry_after_s=retry_after(exc.headers.get("Retry-After")),
                           error=f"HTTP {exc.code} from {self.url}: {text}")
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return Outcome(0, error=f"cannot reach {self.url}: {reason}")
        if status != 200:
            return Outcome(status, error=f"HTTP {status} from {self.url}")
        response = ExportLogsServiceResponse()
        try:
            response.ParseFromString(content)
        except DecodeError:  # an endpoint that answers 200 with something else still took the batch
            return Outcome(200)
        partial = response.partial_success
        return Outcome(200, rejected=partial.rejected_log_records, error=partial.error_message)


def _text(content: bytes) -> str:
    return content[:300].decode("utf-8", "replace").strip()
