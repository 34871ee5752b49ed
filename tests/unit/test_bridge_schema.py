"""Schemathesis against the bridge's own OpenAPI schema, on a real server: no 5xx, no response off-schema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from aico.bridge.app import create_app
from aico.config import load_settings

from bridge_support import TOKEN, MemorySink, served
from support import examples, fast_tier

# OTLP protobuf bodies for POST /v1/logs: a valid request, an empty one, or any bytes
schemathesis.openapi.media_type("application/x-protobuf", st.sampled_from([
    bytes.fromhex("0a16121412120911000000000000002a070a0568656c6c6f"), b""]) | st.binary(max_size=64))

SCHEMA = schemathesis.openapi.from_dict(
    create_app(load_settings(home=Path(tempfile.gettempdir()), env={}), MemorySink(), TOKEN).openapi()
)
# make check's profile: the generated cases only; schemathesis's coverage phase (its deterministic cases at every
# schema boundary, most of this test's time) runs in make test.
SCHEMA.config.phases.coverage.enabled = not fast_tier()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("schema")) as (url, _):
        yield url


@SCHEMA.parametrize()
@settings(max_examples=examples(50), deadline=None, suppress_health_check=list(HealthCheck))
def test_bridge_conforms_to_its_schema(case: schemathesis.Case, base_url: str) -> None:
    """Generated requests (with the token) never get a 5xx or a response its schema does not describe.

    Left out: the checks that schema-valid data is always taken and schema-invalid data always
    refused. A batch is judged record by record by design (a null record is listed as rejected
    in a 202), and normalize() is stricter than JSON Schema can say (timestamps, levels).
    """
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[negative_data_rejection, positive_data_acceptance])
