"""Concurrent applications for one holder through a real server: the cap holds.

A holder already has 4 active voice lines (loaded with ``carrierguard import``, long
ago so that the burst rule stays quiet). 50 clients ask for one more voice line at
the same instant: exactly one is approved, the rest go to review or are refused.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.dbs import fresh_database
from tests.integration.conftest import ENGINES
from tests.integration.live import HOLDER, LiveServer, application, book_row, write_book

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
APPLICANTS = 50
RETRIES = 20
OTHER = HOLDER | {"name": "鈴木 花子", "name_kana": "スズキ ハナコ", "birth_date": "1990-12-24"}


def post_together(
    client: httpx.Client, bodies: list[tuple[dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    """POST every (body, headers) from its own thread, released at the same moment."""
    barrier = threading.Barrier(len(bodies))

    def send(item: tuple[dict[str, Any], dict[str, str]]) -> httpx.Response:
        body, headers = item
        barrier.wait()
        return client.post("/v1/applications", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A two-worker server whose registry holds HOLDER with 4 old active voice lines."""
    tmp = tmp_path_factory.mktemp(f"race-{request.param}")
    with fresh_database(request.param, tmp) as db_url:
        live = LiveServer(db_url, tmp / "server", workers=2)
        book = write_book(tmp / "book.csv", [book_row(HOLDER, "voice", "active", "2019-05-01")] * 4)
        loaded = live.import_book(book)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        live.token = live.create_key("clerk")
        with live:
            yield live


def test_fifty_concurrent_applications_approve_exactly_one(server: Any) -> None:
    """50 simultaneous one-line applications for a holder at 4 of 5 yield exactly one approval."""
    with server.client(server.token) as client:
        answers = post_together(client, [(application(HOLDER, "voice"), {})] * APPLICANTS)
        assert [r.status_code for r in answers] == [201] * APPLICANTS, server.log_text()
        bodies = [r.json() for r in answers]
        outcomes = Counter(b["decision"] for b in bodies)
        assert outcomes["approve"] == 1, outcomes
        assert outcomes["review"] + outcomes["refuse"] == APPLICANTS - 1, outcomes
        holder = client.get(f"/v1/holders/{bodies[0]['holder_id']}").json()
    states = Counter((ln["sim_type"], ln["state"]) for ln in holder["lines"])
    assert (
        states
        == Counter({("voice", "active"): 5, ("voice", "reserved"): outcomes["review"]}) - Counter()
    ), states
    assert {b["holder_id"] for b in bodies} == {holder["holder_id"]}


def test_one_idempotency_key_sent_twenty_times_gives_one_application_and_one_line(
    server: Any,
) -> None:
    """Twenty simultaneous POSTs with one Idempotency-Key store one application and one line."""
    body = application(OTHER, "voice")
    with server.client(server.token) as client:
        answers = post_together(client, [(body, {"Idempotency-Key": "race-key-1"})] * RETRIES)
        assert [r.status_code for r in answers] == [201] * RETRIES, server.log_text()
        bodies = [r.json() for r in answers]
        assert all(b == bodies[0] for b in bodies)
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == RETRIES - 1
        holder = client.get(f"/v1/holders/{bodies[0]['holder_id']}").json()
    assert bodies[0]["decision"] == "approve"
    assert [ln["line_id"] for ln in holder["lines"]] == [bodies[0]["lines"][0]["line_id"]]
