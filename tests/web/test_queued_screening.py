"""POST /v1/applications on PostgreSQL from the event loop: plain applications are queued for
the service's group thread (no worker thread per request); the answers, the rows and the
chain are those of ``screen``, and an error reaches only the request that caused it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from carrierguard.audit import verify_chain
from carrierguard.auth import Role
from carrierguard.contracts.assurance import AssuranceEvidence
from carrierguard.contracts.service import ScreeningService
from carrierguard.store import audit
from carrierguard.store.schema import applications, audit_log, lines
from carrierguard.web.api.applications import to_application
from carrierguard.web.api.schemas import ApplicationIn
from tests.dbs import fresh_database
from tests.web.conftest import Api, make_api

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(tmp_path: Path) -> Iterator[Api]:
    with fresh_database("postgres", tmp_path) as url:
        yield make_api(url)


def body(i: int, n: int = 1) -> dict[str, Any]:
    return {
        "channel": "store",
        "holder": {
            "kind": "individual",
            "name": "山田 花子",
            "birth_date": f"{1950 + i}-05-01",
            "address": "東京都港区芝公園4-2-8",
        },
        "kyc": {"method": "ic_chip_mynumber"},
        "lines": [{"sim_type": "voice"}] * n,
    }


async def post_all(api: Api, bodies: list[dict[str, Any]], **headers: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=api.client.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await asyncio.gather(
            *(
                client.post("/v1/applications", json=b, headers=api.headers(Role.CLERK, **headers))
                for b in bodies
            )
        )


def service(api: Api) -> ScreeningService:
    svc: ScreeningService = api.client.app.state.service  # type: ignore[attr-defined]
    return svc


def count_queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    queued: list[int] = []
    real = ScreeningService.queue_screening

    def counting(self: ScreeningService, *args: Any, **kwargs: Any) -> Any:
        job = real(self, *args, **kwargs)
        queued.append(job is not None)
        return job

    monkeypatch.setattr(ScreeningService, "queue_screening", counting)
    return queued


def test_concurrent_posts_are_queued_and_answer_as_stored(
    pg_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty requests at once for ten people: every answer equals the stored application,
    each person's caps hold across the groups, and the chain has one entry per answer."""
    pg_api.client.post("/v1/applications", json=body(40), headers=pg_api.headers(Role.CLERK))
    queued = count_queued(monkeypatch)
    answers = asyncio.run(post_all(pg_api, [body(i % 10, n=2) for i in range(40)]))
    assert [r.status_code for r in answers] == [201] * 40
    assert sum(queued) == 40  # the policy is in force and fresh: all of them were queued
    for r in answers:
        got = pg_api.client.get(
            f"/v1/applications/{r.json()['application_id']}", headers=pg_api.headers(Role.CLERK)
        )
        assert got.json() == r.json()
    by_holder: dict[int, list[str]] = {}
    for r in answers:
        by_holder.setdefault(r.json()["holder_id"], []).append(r.json()["decision"])
    assert len(by_holder) == 10
    reference = [  # the same four applications of one more person, one after another
        pg_api.client.post(
            "/v1/applications", json=body(20, n=2), headers=pg_api.headers(Role.CLERK)
        ).json()["decision"]
        for _ in range(4)
    ]
    assert reference[0] == "approve" and len(set(reference)) > 1
    for decisions in by_holder.values():
        assert sorted(decisions) == sorted(reference)
    engine = service(pg_api).registry.engine
    # The policy's first use, then one entry per application.
    assert verify_chain(audit.entries(engine), audit.head(engine)) == (46, None)
    with engine.connect() as conn:
        decided = conn.execute(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.action == "application.decided")
        ).scalar_one()
        stored = conn.execute(select(func.count()).select_from(applications)).scalar_one()
        held = conn.execute(select(func.count()).select_from(lines)).scalar_one()
    assert decided == stored == 45
    assert held == 1 + sum(len(r.json()["lines"]) for r in answers) + 2 * reference.count(
        "approve"
    ) + 2 * reference.count("review")


def test_a_retry_with_the_same_key_is_replayed_from_the_queue(pg_api: Api) -> None:
    pg_api.client.post("/v1/applications", json=body(41), headers=pg_api.headers(Role.CLERK))
    first, again = asyncio.run(post_all(pg_api, [body(1), body(1)], **{"Idempotency-Key": "k-1"}))
    assert {first.status_code, again.status_code} == {201}
    assert first.json() == again.json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (first, again)) == [
        "",
        "true",
    ]
    other = body(2)
    (reused,) = asyncio.run(post_all(pg_api, [other], **{"Idempotency-Key": "k-1"}))
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_an_error_reaches_only_its_own_request(
    pg_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_api.client.post("/v1/applications", json=body(42), headers=pg_api.headers(Role.CLERK))
    real = ScreeningService._screen_pg_found

    def failing(self: ScreeningService, tx: Any, s: Any, found: Any) -> Any:
        if s.application.holder.birth_date.year == 1953:
            raise RuntimeError("this one breaks")
        return real(self, tx, s, found)

    monkeypatch.setattr(ScreeningService, "_screen_pg_found", failing)
    answers = asyncio.run(post_all(pg_api, [body(i) for i in range(8)]))
    assert [r.status_code for r in answers] == [201, 201, 201, 500, 201, 201, 201, 201]
    assert answers[3].json()["error"]["code"] == "INTERNAL_ERROR"


def test_what_may_wait_on_io_is_not_queued(pg_api: Api, tmp_path: Path) -> None:
    """An ID token, a relied assertion, a policy check due, or SQLite: ``screen`` in a thread."""
    svc = service(pg_api)
    pg_api.client.post("/v1/applications", json=body(43), headers=pg_api.headers(Role.CLERK))
    app = to_application(ApplicationIn.model_validate(body(5)), svc)

    def queue(evidence: AssuranceEvidence | None = None) -> object:
        return svc.queue_screening(app, evidence=evidence, done=lambda: None)

    assert queue(AssuranceEvidence(id_token="eyJ.x.y")) is None
    assert queue(AssuranceEvidence(relied_assertion="eyJ.x.y")) is None
    svc.policies._checked = 0.0  # a check of the registry is due
    assert queue() is None
    svc.policies.current()
    job = queue()
    assert job is not None
    job.finished.wait(30)  # type: ignore[attr-defined]
    assert svc.finish_queued(job).record.outcome.value == "approve"  # type: ignore[arg-type]
    sqlite_svc = service(make_api(f"sqlite:///{tmp_path / 'q.db'}"))
    assert sqlite_svc.policy is sqlite_svc.policies.current_if_fresh()  # recorded and fresh
    assert sqlite_svc.queue_screening(app, done=lambda: None) is None
