"""Applications that log with libraries no one here wrote: ``sdk URL TOKEN``, ``structlog``, ``loguru``.

Each logs a warning with a trace and context, and an exception, then prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings


def sdk(url: str, token: str) -> dict[str, str]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = LoggerProvider(resource=Resource.create({"service.name": "otel-app"}))
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", headers={"Authorization": f"Bearer {token}"})
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler, as the issue asks
        handler = LoggingHandler(logger_provider=provider)
    log = logging.getLogger("otel.app")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    with TracerProvider().get_tracer("app").start_as_current_span("request") as span:
        log.warning("disk almost full", extra={"disk.free_mb": 120})
        try:
            raise OSError("no space left")
        except OSError:
            log.exception("write failed")
        ctx = span.get_span_context()
    provider.shutdown()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def with_structlog() -> dict[str, str]:
    import structlog

    import aico.logging

    structlog.configure(processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"),
                                    aico.logging.structlog_processor(), structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    log = structlog.get_logger("shop.cart").bind(trace_id="trace-s", cart="c-1")
    log.warning("cart abandoned", items=3)
    try:
        raise ValueError("bad sku")
    except ValueError:
        log.exception("checkout failed")
    return {"flushed": str(aico.logging.flush(60))}


def with_loguru() -> dict[str, str]:
    from loguru import logger

    import aico.logging

    logger.remove()
    logger.add(aico.logging.loguru_sink, level="TRACE")
    log = logger.bind(trace_id="trace-l", cart="c-2")
    log.warning("cart abandoned {}", 3)
    try:
        raise ValueError("bad sku")
    except ValueError:
        log.exception("checkout failed")
    return {"flushed": str(aico.logging.flush(60))}


if __name__ == "__main__":
    mode = sys.argv[1]
    out = sdk(*sys.argv[2:4]) if mode == "sdk" else with_structlog() if mode == "structlog" else with_loguru()
    print(json.dumps(out), flush=True)
