"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

Every operation in the app's OpenAPI document is called, with generated requests
(valid and invalid) and a valid clerk key, on a real ``carrierguard serve`` of each
engine; no response may be a 5xx. The document is built at collection time from
``create_app`` (schemathesis parametrizes tests then) and checked to be the one the
server publishes at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from carrierguard.config import Settings
from carrierguard.web.app import create_app
from tests.dbs import fresh_database
from tests.integration.conftest import ENGINES
from tests.integration.live import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
EXAMPLES = 15
# No database is touched to build the document (engines connect lazily).
OPENAPI = create_app(
    Settings(db_url="sqlite:////nonexistent/never-opened.db", data_key=bytes(32))
).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real server on a fresh registry of each engine, with a clerk key."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with fresh_database(request.param, tmp) as url:
        live = LiveServer(url, tmp / "server")
        live.token = live.create_key("clerk")
        with live:
            published = httpx.get(f"{live.base_url}/openapi.json", timeout=30).json()
            assert published == OPENAPI
            yield live


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_request_gets_a_server_error(case: Any, server: LiveServer) -> None:
    """No request generated from the OpenAPI document, valid or not, gets a 5xx answer."""
    case.call_and_validate(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.token}"},
        checks=[not_a_server_error],
        timeout=60,
    )
