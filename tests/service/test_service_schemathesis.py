"""Property-based API testing: schemathesis generates requests from the OpenAPI document.

Jobs stay queued (no solver processes), so the run is quick; the examples are bounded.
The application is built when this module is collected (schemathesis needs its schema
then) on a temporary directory that is removed after the module's tests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from servicekit import KEY_A, api_settings

from optimizer.service.app import create_app

_DIRECTORY = Path(tempfile.mkdtemp(prefix="iop-roster-schemathesis-"))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(api_settings(_DIRECTORY, max_queued_per_key=10_000))
)


@pytest.fixture(scope="module", autouse=True)
def _remove_database() -> Iterator[None]:
    yield
    shutil.rmtree(_DIRECTORY, ignore_errors=True)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_server_fail(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"X-API-Key": KEY_A},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
