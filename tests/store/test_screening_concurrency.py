"""Screenings at once, on SQLite and PostgreSQL: what they write, the chain and the holders.

On PostgreSQL a screening runs in pipelines through psycopg with the audit entry hashed
by the database; these tests read back what was written and verify the chain.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from carrierguard.audit import verify_chain
from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.store import audit
from carrierguard.store.schema import applications, audit_log, holders
from tests.store.test_screening_store import application, service_for


def person(i: int, n: int = 1) -> Application:
    return Application(
        channel=Channel.STORE,
        holder=HolderIdentity(
            kind=HolderKind.INDIVIDUAL,
            name=f"山田 太郎{chr(0x4E00 + i)}",
            birth_date=date(1970 + i % 30, 1 + i % 12, 1 + i % 28),
        ),
        lines=tuple(LineRequest(SimType.VOICE) for _ in range(n)),
        applied_on=date(2026, 11, 28),
        kyc_method="ic_chip_mynumber",
    )


def test_records_returned_are_what_was_written(db_url: str) -> None:
    """Approve, review and refuse: the answer equals the application read back."""
    svc = service_for(db_url)
    answers = [svc.screen(application(n=n)).record for n in (2, 4, 5)]
    assert [a.outcome for a in answers] == [Outcome.APPROVE, Outcome.REVIEW, Outcome.REFUSE]
    assert answers[1].case_id is not None
    for answer in answers:
        assert svc.application(answer.application_id) == answer


def test_concurrent_screenings_each_leave_one_entry_in_a_whole_chain(db_url: str) -> None:
    """Forty screenings from eight threads: the chain verifies, with one entry per
    application naming its outcome and its lines."""
    svc = service_for(db_url)
    work = [person(i % 10, n=1 + i % 3) for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(lambda a: svc.screen(a).record, work))
    engine = svc.registry.engine
    # The policy's first use is recorded too.
    assert verify_chain(audit.entries(engine), audit.head(engine)) == (41, None)
    with engine.connect() as conn:
        logged = {
            r.subject: json.loads(r.payload)
            for r in conn.execute(
                select(audit_log.c.subject, audit_log.c.payload).where(
                    audit_log.c.action == "application.decided"
                )
            )
        }
        stored = conn.execute(select(func.count()).select_from(applications)).scalar_one()
    assert stored == len(logged) == 40
    for r in records:
        entry = logged[f"application:{r.application_id}"]
        assert entry["outcome"] == r.outcome.value
        assert entry["lines"] == [ln.line_id for ln in r.lines]
        assert entry["holder_id"] == r.holder_id


def test_concurrent_appends_keep_the_chain(db_url: str) -> None:
    """Appends from eight threads at once are chained one after another."""
    svc = service_for(db_url)
    engine = svc.registry.engine

    def append(i: int) -> int:
        with engine.begin() as conn:
            return audit.append(
                conn,
                actor="key:test",
                action="test.append",
                subject=f"n:{i}",
                payload={"i": i, "text": "審査 ✓"},
                now=datetime(2026, 11, 28, 3, 0, 0, i, tzinfo=UTC),
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = sorted(pool.map(append, range(60)))
    assert seqs == list(range(1, 61))
    assert verify_chain(audit.entries(engine), audit.head(engine)) == (60, None)


def test_a_new_person_applying_eight_times_at_once_is_one_holder(db_url: str) -> None:
    """Eight first applications of one new person at once make one holder, and only the
    first two are approved (the third new line within 30 days is a burst)."""
    svc = service_for(db_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(lambda _: svc.screen(person(3)).record, range(8)))
    assert len({r.holder_id for r in records}) == 1
    with svc.registry.read() as tx:
        assert tx.conn.execute(select(func.count()).select_from(holders)).scalar_one() == 1
    in_order = sorted(records, key=lambda r: r.application_id)
    assert [r.outcome for r in in_order].count(Outcome.APPROVE) == 2
    assert {r.outcome for r in in_order[:2]} == {Outcome.APPROVE}


def test_one_idempotency_key_at_once_gives_one_application(db_url: str) -> None:
    """The same key sent from eight threads at once: one application, seven replays."""
    svc = service_for(db_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: svc.screen(application(), idempotency_key="k", request_hash="h"),
                range(8),
            )
        )
    assert sum(not r.replayed for r in results) == 1
    assert len({r.record for r in results}) == 1
    assert len(svc.holder(results[0].record.holder_id).lines) == 1
