"""Typed, frozen configuration objects. Every default lives in ``defaults/core.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from aico.config.sections import Field, Section


class _Section(Section):
    """A section of ``core.yaml`` (frozen; unknown keys are refused)."""


class MessageBus(_Section):
    host: str
    bind_host: str
    pub_port: int = Field(ge=1, le=65535)
    sub_port: int = Field(ge=1, le=65535)
    high_water_mark: int = Field(ge=0)
    curve: bool

    @property
    def pub_address(self) -> str:
        return f"tcp://{self.host}:{self.pub_port}"

    @property
    def sub_address(self) -> str:
        return f"tcp://{self.host}:{self.sub_port}"


class Producer(_Section):
    reliable: bool
    queue_size: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    flush_interval_ms: int = Field(ge=1)
    flush_timeout_s: float = Field(ge=0)
    window: int = Field(ge=1)
    backlog: int = Field(ge=0)
    ack_timeout_s: float = Field(gt=0)
    spool_max_mb: float = Field(gt=0)
    spool_segment_mb: float = Field(gt=0)
    spool_memory_mb: float = Field(gt=0)


class Consumer(_Section):
    batch_size: int = Field(ge=1)
    batch_interval_ms: int = Field(ge=1)
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"]
    write_mode: Literal["batch", "single"]
    reject_keep_bytes: int = Field(ge=0)
    reject_max_rows: int = Field(ge=1)
    reject_max_days: int = Field(ge=1)


class Paths(_Section):
    database: str
    keys: str
    run: str
    spool: str


class Retention(_Section):
    days: int = Field(ge=1)
    hot_days: int = Field(ge=1)
    max_size_mb: float = Field(gt=0)
    size_target_pct: int = Field(ge=10, le=100)
    compression: Literal["gzip", "zstd"]
    archive_dir: str
    run_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    check_interval_s: float = Field(gt=0)
    min_free_disk_mb: float = Field(ge=0)
    delete_chunk_rows: int = Field(ge=1)

    def check(self) -> None:
        if self.hot_days > self.days:
            raise ValueError(f"hot_days ({self.hot_days}) cannot exceed days ({self.days})")


class Logging(_Section):
    level: str
    subsystem: str | None
    environment: str
    origin: str
    max_message_bytes: int = Field(ge=256)
    max_record_bytes: int = Field(ge=1024)
    producer: Producer
    consumer: Consumer
    paths: Paths
    retention: Retention


class Security(_Section):
    keyring: bool
    passphrase: bool = False


class Backend(_Section):
    plugins: list[str]
    status_interval_ms: int = Field(ge=10)


class Bridge(_Section):
    host: str
    port: int = Field(ge=1, le=65535)
    max_body_bytes: int = Field(ge=1024)
    max_batch_records: int = Field(ge=1)
    max_message_bytes: int = Field(ge=256)
    cors_origins: list[str]
    beacon_query_token: bool
    subsystem: str = Field(min_length=1)
    origin: str = Field(min_length=1)
    retry_after_s: int = Field(ge=1)
    durable_timeout_s: float = Field(gt=0)
    request_timeout_s: float = Field(gt=0)
    keep_alive_s: float = Field(gt=0)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Dashboard(_Section):
    host: str
    port: int = Field(ge=0, le=65535)
    auth: bool
    page_size: int = Field(ge=1, le=10000)
    max_page_size: int = Field(ge=1, le=10000)
    tail_interval_ms: int = Field(ge=20)
    status_interval_ms: int = Field(ge=100)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    def check(self) -> None:
        if self.page_size > self.max_page_size:
            raise ValueError(f"page_size ({self.page_size}) cannot exceed max_page_size ({self.max_page_size})")


class Privacy(_Section):
    rules: list[str]
    secret_names: list[str]
    drop_fields: list[str]
    pseudonymize_fields: list[str]
    keep_local_addresses: bool
    keep_private_addresses: bool
    ingest: Literal["secrets", "pii", "off"]
    pii_action: Literal["mask", "pseudonymize"]

    @classmethod
    def adjust(cls, data: dict[str, Any]) -> dict[str, Any]:
        """YAML reads a bare ``off`` as false: ``ingest: off`` means the policy off, as written."""
        return {**data, "ingest": "off"} if data.get("ingest") is False else data


class Analytics(_Section):
    database: str
    min_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    retention_days: int = Field(ge=1)
    chunk_size: int = Field(ge=100)
    interval_s: float = Field(gt=0)
    first_run_delay_s: float = Field(ge=0)
    promote_min_share: float = Field(gt=0, le=1)
    promote_min_records: int = Field(ge=1)
    max_promoted_columns: int = Field(ge=0)
    threads: int = Field(ge=0)
    memory_limit: str


class Tls(_Section):
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    insecure_skip_verify: bool


class OtlpExport(_Section):
    endpoint: str | None = Field(pattern=r"^https?://")
    headers: dict[str, str]
    batch_size: int = Field(ge=1, le=100000)
    interval_s: float = Field(gt=0)
    timeout_s: float = Field(gt=0)
    compression: Literal["gzip", "none"]
    min_backoff_s: float = Field(gt=0)
    max_backoff_s: float = Field(gt=0)
    scrub: bool
    start_at: Literal["beginning", "end"]
    watermark: str
    tls: Tls


class Core(_Section):
    message_bus: MessageBus
    logging: Logging
    security: Security
    backend: Backend
    bridge: Bridge
    dashboard: Dashboard
    privacy: Privacy
    analytics: Analytics
    otlp_export: OtlpExport


class Settings(_Section):
    """The effective configuration, with the state folder it was loaded for."""

    home: Path
    core: Core

    def path(self, relative: str) -> Path:
        """A configured path, resolved under ``home`` unless absolute."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.home / p

    @property
    def database_path(self) -> Path:
        return self.path(self.core.logging.paths.database)

    @property
    def keys_dir(self) -> Path:
        return self.path(self.core.logging.paths.keys)

    @property
    def run_dir(self) -> Path:
        return self.path(self.core.logging.paths.run)

    @property
    def spool_dir(self) -> Path:
        return self.path(self.core.logging.paths.spool)

    @property
    def analytics_path(self) -> Path:
        return self.path(self.core.analytics.database)
