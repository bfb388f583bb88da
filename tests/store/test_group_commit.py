"""PostgreSQL group commit: screenings that arrive together share one transaction.

These tests hand a group to the service directly, as the leading thread does, so that
what one group holds is certain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import psycopg
import pytest

from carrierguard.audit import verify_chain
from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.service import (
    ScreeningResult,
    ScreeningService,
    _GroupCommit,
    _Job,
    _rounds,
    _Screening,
)
from carrierguard.errors import IdempotencyKeyReused
from carrierguard.store import audit
from tests.dbs import fresh_postgres
from tests.store.test_screening_store import application, service_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_postgres() as found:
        yield found


@pytest.fixture
def svc(url: str) -> Iterator[ScreeningService]:
    service = service_for(url)
    yield service
    service.registry.engine.dispose()


def other(svc: ScreeningService) -> _Screening:
    """A one-line application of another person."""
    app = application()
    holder = replace(app.holder, name="佐藤 花子", birth_date=date(1990, 2, 3))
    return svc._prepare(
        replace(app, holder=holder),
        evidence=None,
        submitted_by=None,
        actor="cli",
        idempotency_key=None,
        request_hash="",
    )


def job(svc: ScreeningService, n: int = 1, key: str | None = None, digest: str = "") -> _Job:
    return _Job(
        svc._prepare(
            application(n=n),
            evidence=None,
            submitted_by=None,
            actor="cli",
            idempotency_key=key,
            request_hash=digest,
        )
    )


def test_a_group_sees_its_own_earlier_screenings(svc: ScreeningService) -> None:
    """Three applications of one holder in one group count each other's lines."""
    group = [job(svc, n=2), job(svc, n=2), job(svc, n=2)]
    svc._screen_pg_batch(group)
    outcomes = [j.result.record.outcome for j in group if j.result is not None]
    # 2 approved; 2 more make a burst; 4 held (2 active + 2 reserved) + 2 > 5: review
    assert outcomes == [Outcome.APPROVE, Outcome.REVIEW, Outcome.REVIEW]
    holder = group[0].result.record.holder_id if group[0].result else 0
    assert len(svc.holder(holder).lines) == 6
    engine = svc.registry.engine
    assert verify_chain(audit.entries(engine), audit.head(engine)) == (4, None)


def test_others_in_between_do_not_hide_a_holders_earlier_screening(
    svc: ScreeningService,
) -> None:
    """A, B, A in one group: B's lookups go with A's, A's second waits and counts A's first."""
    group = [job(svc, n=2), _Job(other(svc)), job(svc, n=4)]
    assert [len(r) for r in _rounds([j.screening for j in group])] == [2, 1]
    svc._screen_pg_batch(group)
    first, middle, last = (j.result.record for j in group if j.result is not None)
    assert first.outcome is Outcome.APPROVE and middle.outcome is Outcome.APPROVE
    assert last.outcome is Outcome.REVIEW  # 2 held + 4 asked > 5
    assert middle.holder_id != first.holder_id == last.holder_id


def test_rounds_keep_order_and_split_at_a_shared_key(svc: ScreeningService) -> None:
    """Screenings are split only where one shares a key with an earlier one in its run."""
    a, b = job(svc).screening, other(svc)
    keyed = job(svc, key="k").screening
    assert _rounds([a, b]) == [[a, b]]
    assert _rounds([a, b, a, b]) == [[a, b], [a, b]]
    assert _rounds([keyed, b, keyed]) == [[keyed, b], [keyed]]


def test_one_failing_screening_does_not_fail_its_group(svc: ScreeningService) -> None:
    """A reused Idempotency-Key fails only its own request; the others are stored."""
    first = svc.screen(application(), idempotency_key="k", request_hash="h1")
    group = [job(svc), job(svc, key="k", digest="other"), job(svc, key="k", digest="h1")]
    svc._screen_pg_batch(group)
    assert group[0].result is not None and not group[0].result.replayed
    assert isinstance(group[1].error, IdempotencyKeyReused)
    assert group[2].result is not None and group[2].result.replayed
    assert group[2].result.record == first.record
    assert len(svc.holder(first.record.holder_id).lines) == 2


def test_threads_waiting_together_are_served_in_groups() -> None:
    """While a group runs, later arrivals wait and then run together; each gets its own
    answer and no thread is left waiting."""
    group_commit = _GroupCommit()
    release = threading.Event()
    groups: list[list[int]] = []

    def execute(batch: list[_Job]) -> None:
        if not groups:
            release.wait(10)  # hold the first group until the others queued
        groups.append([id(j) for j in batch])
        for j in batch:
            j.result = ScreeningResult(record=None, replayed=False)  # type: ignore[arg-type]

    jobs = [_Job(None) for _ in range(6)]  # type: ignore[arg-type]
    answers: list[ScreeningResult] = []
    threads = [
        threading.Thread(target=lambda j=j: answers.append(group_commit.run(j, execute)))
        for j in jobs
    ]
    deadline = time.monotonic() + 10
    threads[0].start()
    while not group_commit._leaders and time.monotonic() < deadline:
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    while len(group_commit._waiting) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(10)
    assert len(answers) == 6
    assert [len(g) for g in groups] == [1, 5]
    assert group_commit._leaders == 0 and not group_commit._waiting


def test_a_connection_the_server_dropped_fails_no_request(svc: ScreeningService, url: str) -> None:
    """The pool's connections are killed between two screenings (no pre-ping): the
    group that meets a dead connection never committed, so it runs again on a new one."""
    first = svc.screen(application()).record
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    second = svc.screen(application()).record
    assert second.outcome is Outcome.APPROVE
    assert len(svc.holder(first.holder_id).lines) == 2
