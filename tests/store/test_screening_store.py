"""Screening through the service and the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.service import ScreeningService
from carrierguard.crypto import DataProtector
from carrierguard.errors import IdempotencyKeyReused, InvalidTransition
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.registry import Registry
from carrierguard.store.schema import holders

KEY = bytes(range(32))


def service_for(url: str) -> ScreeningService:
    engine = create_store_engine(url)
    migrate(engine)
    return ScreeningService(
        Registry(engine),
        load_policy(),
        DataProtector(KEY),
        clock=lambda: datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
    )


def application(name: str = "高橋 一郎", n: int = 1, sim: SimType = SimType.VOICE) -> Application:
    return Application(
        channel=Channel.STORE,
        holder=HolderIdentity(kind=HolderKind.INDIVIDUAL, name=name, birth_date=date(1985, 4, 1)),
        lines=tuple(LineRequest(sim) for _ in range(n)),
        applied_on=date(2026, 11, 28),
        kyc_method="ic_chip_mynumber",
    )


def test_approved_lines_are_active_and_reviewed_lines_reserved(db_url: str) -> None:
    """Approval activates lines; review reserves them; refusal creates none."""
    svc = service_for(db_url)
    first = svc.screen(application(n=2)).record
    assert first.outcome is Outcome.APPROVE
    assert [ln.state for ln in first.lines] == [LineState.ACTIVE] * 2
    review = svc.screen(application(n=4)).record  # 2 + 4 > 5, and a burst
    assert review.outcome is Outcome.REVIEW
    assert [ln.state for ln in review.lines] == [LineState.RESERVED] * 4
    refused = svc.screen(application(n=5)).record  # 2 + 4 reserved + 5 > 10
    assert refused.outcome is Outcome.REFUSE
    assert refused.lines == ()
    assert len(svc.holder(first.holder_id).lines) == 6


def test_same_person_written_with_spaces_is_one_holder(db_url: str) -> None:
    """Full-width spaces and NFKC variants find the same holder."""
    svc = service_for(db_url)
    a = svc.screen(application("高橋 一郎")).record
    b = svc.screen(application("高橋　一郎")).record
    assert a.holder_id == b.holder_id


def test_personal_data_is_not_stored_in_clear(db_url: str) -> None:
    """The registry holds neither the name nor the birth date in clear."""
    svc = service_for(db_url)
    svc.screen(application("齋藤 花子"))
    with svc.registry.read() as tx:
        row = tx.conn.execute(holders.select()).one()
    assert "齋藤".encode() not in row.pii
    assert "1985" not in row.identity_key
    assert svc.protector.open(row.pii)["name"] == "齋藤 花子"


def test_idempotency_key_replays_the_first_answer(db_url: str) -> None:
    """A retried request with the same key returns the first application, no new line."""
    svc = service_for(db_url)
    first = svc.screen(application(), idempotency_key="k1", request_hash="h")
    again = svc.screen(application(), idempotency_key="k1", request_hash="h")
    assert again.replayed and again.record == first.record
    assert len(svc.holder(first.record.holder_id).lines) == 1
    with pytest.raises(IdempotencyKeyReused):
        svc.screen(application(n=2), idempotency_key="k1", request_hash="other")


def test_concurrent_applications_never_both_pass_the_cap(db_url: str) -> None:
    """Twenty parallel single-line requests on 4 held lines: exactly one is approved."""
    svc = service_for(db_url)
    old = Application(
        channel=Channel.STORE,
        holder=application().holder,
        lines=tuple(LineRequest(SimType.VOICE) for _ in range(4)),
        applied_on=date(2025, 1, 1),
        kyc_method="ic_chip_mynumber",
    )
    svc.screen(old)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: svc.screen(application()).record.outcome, range(20)))
    assert results.count(Outcome.APPROVE) == 1


def test_terminating_a_line_frees_the_cap(db_url: str) -> None:
    """A terminated line stops counting; terminating it twice is refused."""
    svc = service_for(db_url)
    first = svc.screen(application(n=2)).record
    line_id = first.lines[0].line_id
    assert svc.terminate_line(line_id).state is LineState.TERMINATED
    with pytest.raises(InvalidTransition):
        svc.terminate_line(line_id)
