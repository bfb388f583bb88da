"""The case a review opens, on both engines: its row, its first event, and all or nothing.

On PostgreSQL the case and its event are one statement sent with the screening's held-back
writes; these tests read back exactly what each engine stored.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.contracts.review import SLA_HOURS
from carrierguard.store import cases as cases_sql
from carrierguard.store.schema import applications, case_events, cases, lines
from tests.store.test_screening_store import application, service_for

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def rows(db_url: str, table: Any) -> list[dict[str, Any]]:
    svc = service_for(db_url)
    with svc.registry.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


def as_utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_a_review_opens_one_case_with_its_open_event(db_url: str) -> None:
    svc = service_for(db_url)
    svc.screen(application(n=2))
    review = svc.screen(application(n=4), actor="key:clerk-7").record
    assert review.outcome is Outcome.REVIEW and review.case_id is not None
    (case,) = rows(db_url, cases)
    assert case["id"] == review.case_id
    assert case["application_id"] == review.application_id
    assert case["holder_id"] == review.holder_id
    assert case["channel"] == "store"
    assert case["state"] == "submitted"
    assert case["requires_actual_users"] is review.requires_actual_users
    assert case["lines_beyond_cap"] == 1  # 2 held + 4 asked, cap 5
    assert as_utc(case["sla_due_at"]) == NOW + timedelta(hours=SLA_HOURS)
    assert as_utc(case["created_at"]) == as_utc(case["updated_at"]) == NOW
    assert case["decided_at"] is None and case["decision_code"] is None
    (event,) = rows(db_url, case_events)
    assert event["case_id"] == review.case_id
    assert (event["actor"], event["action"], event["from_state"], event["to_state"]) == (
        "key:clerk-7",
        "open",
        None,
        "submitted",
    )
    assert as_utc(event["at"]) == NOW
    assert svc.application(review.application_id).case_id == review.case_id


def test_an_agency_review_opens_its_case_escalated(db_url: str) -> None:
    svc = service_for(db_url)
    agency = Application(
        channel=Channel.AGENCY,
        holder=HolderIdentity(
            kind=HolderKind.INDIVIDUAL, name="高橋 一郎", birth_date=date(1985, 4, 1)
        ),
        lines=tuple(LineRequest(SimType.VOICE) for _ in range(6)),
        applied_on=date(2026, 11, 28),
        kyc_method="ic_chip_mynumber",
    )
    record = svc.screen(agency).record
    assert record.outcome is Outcome.REVIEW and record.escalate_to_hq
    (case,) = rows(db_url, cases)
    (event,) = rows(db_url, case_events)
    assert case["state"] == event["to_state"] == "escalated"
    assert case["channel"] == "agency"


def test_reviews_screened_together_each_get_their_own_case(db_url: str) -> None:
    """Sixteen reviews from eight threads (one group's transaction on PostgreSQL)."""
    svc = service_for(db_url)
    people = [
        Application(
            channel=Channel.STORE,
            holder=HolderIdentity(
                kind=HolderKind.INDIVIDUAL, name="山田 花子", birth_date=date(1960 + i, 5, 1)
            ),
            lines=tuple(LineRequest(SimType.VOICE) for _ in range(6)),
            applied_on=date(2026, 11, 28),
            kyc_method="ic_chip_mynumber",
        )
        for i in range(16)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(lambda a: svc.screen(a).record, people))
    assert [r.outcome for r in records] == [Outcome.REVIEW] * 16, [
        r.reasons[0].code for r in records
    ]
    stored = {c["id"]: c for c in rows(db_url, cases)}
    assert sorted(stored) == sorted(r.case_id for r in records)
    for r in records:
        assert r.case_id is not None
        assert stored[r.case_id]["application_id"] == r.application_id
        assert stored[r.case_id]["holder_id"] == r.holder_id
    events = rows(db_url, case_events)
    assert sorted(e["case_id"] for e in events) == sorted(stored)


def test_a_case_that_cannot_be_written_leaves_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case goes wrong: the application, its lines and its case are all missing."""
    svc = service_for(db_url)
    svc.screen(application(n=2))

    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("the case could not be written")

    monkeypatch.setattr(cases_sql, "insert_case", broken)
    monkeypatch.setattr(cases_sql, "pg_open_case", broken)
    with pytest.raises(RuntimeError):
        svc.screen(application(n=4))
    with svc.registry.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(applications)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(lines)).scalar_one() == 2
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 0
