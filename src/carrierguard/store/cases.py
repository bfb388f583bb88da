"""SQL for exception cases: cases, actual users, case events, and the lines they release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from carrierguard.contracts.applications import ApplicationState
from carrierguard.contracts.lines import LineState
from carrierguard.contracts.review import CaseState, Relationship
from carrierguard.errors import NotFound
from carrierguard.store.registry import RegistryTx
from carrierguard.store.schema import (
    actual_users,
    applications,
    case_events,
    cases,
    holders,
    lines,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRecord:
    case_id: int
    application_id: int
    holder_id: int
    channel: str
    state: CaseState
    purpose_category: str | None
    purpose_text: bytes | None
    pledge_signed_by: bytes | None
    pledge_signed_at: datetime | None
    requires_actual_users: bool
    lines_beyond_cap: int
    sla_due_at: datetime
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_code: str | None
    decision_comment: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualUserRecord:
    user_id: int
    pii: bytes
    relationship: Relationship
    verification_method: str
    verified: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseEventRecord:
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str


def _case(row: Any) -> CaseRecord:
    return CaseRecord(
        case_id=row.id,
        application_id=row.application_id,
        holder_id=row.holder_id,
        channel=row.channel,
        state=CaseState(row.state),
        purpose_category=row.purpose_category,
        purpose_text=row.purpose_text,
        pledge_signed_by=row.pledge_signed_by,
        pledge_signed_at=row.pledge_signed_at,
        requires_actual_users=row.requires_actual_users,
        lines_beyond_cap=row.lines_beyond_cap,
        sla_due_at=row.sla_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_code=row.decision_code,
        decision_comment=row.decision_comment,
    )


def insert_case(conn: Connection, **values: Any) -> int:
    return int(conn.execute(cases.insert().values(**values).returning(cases.c.id)).scalar_one())


#: ``insert_case`` and its first ``insert_event`` in one statement (PostgreSQL); the
#: foreign key of the event is checked at the statement's end, when the case exists.
PG_OPEN_CASE = """
WITH opened AS (
    INSERT INTO cases (application_id, holder_id, channel, state, requires_actual_users,
        lines_beyond_cap, sla_due_at, created_at, updated_at)
    VALUES (%(application_id)s, %(holder_id)s, %(channel)s, %(state)s,
        %(requires_actual_users)s, %(lines_beyond_cap)s, %(sla_due_at)s, %(created_at)s,
        %(updated_at)s)
    RETURNING id
), event AS (
    INSERT INTO case_events (case_id, at, actor, action, from_state, to_state)
    SELECT id, %(at)s, %(actor)s, %(action)s, NULL, %(state)s FROM opened
)
SELECT id FROM opened
"""


def pg_open_case(tx: RegistryTx, *, actor: str, action: str, now: datetime, **values: Any) -> int:
    """A new case (``insert_case``'s columns in ``values``) with its event from no state to
    its state, sent with the writes the transaction held back: one round trip."""
    row = tx.pg_write_returning(
        PG_OPEN_CASE, {**values, "at": now, "actor": actor, "action": action}
    )
    return int(row[0])


def insert_event(
    conn: Connection,
    *,
    case_id: int,
    actor: str,
    action: str,
    from_state: CaseState | None,
    to_state: CaseState,
    now: datetime,
) -> None:
    conn.execute(
        case_events.insert().values(
            case_id=case_id,
            at=now,
            actor=actor,
            action=action,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
        )
    )


def get_case(conn: Connection, case_id: int) -> CaseRecord:
    row = conn.execute(select(cases).where(cases.c.id == case_id)).one_or_none()
    if row is None:
        raise NotFound(f"case {case_id} not found", message_ja=f"案件 {case_id} は存在しません。")
    return _case(row)


def lock_case(conn: Connection, case_id: int) -> CaseRecord:
    """The case with its holder's row locked first (the order screening uses), then the case."""
    holder_id = conn.execute(
        select(cases.c.holder_id).where(cases.c.id == case_id)
    ).scalar_one_or_none()
    if holder_id is None:
        raise NotFound(f"case {case_id} not found", message_ja=f"案件 {case_id} は存在しません。")
    if conn.dialect.name == "postgresql":
        conn.execute(select(holders.c.id).where(holders.c.id == holder_id).with_for_update())
        conn.execute(select(cases.c.id).where(cases.c.id == case_id).with_for_update())
    return get_case(conn, case_id)


def case_for_application(conn: Connection, application_id: int) -> int | None:
    found = conn.execute(
        select(cases.c.id).where(cases.c.application_id == application_id)
    ).scalar_one_or_none()
    return int(found) if found is not None else None


def update_case(conn: Connection, case_id: int, **values: Any) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(**values))


def list_cases(
    conn: Connection,
    *,
    states: list[CaseState] | None = None,
    channel: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CaseRecord]:
    query = select(cases).order_by(cases.c.sla_due_at, cases.c.id).limit(limit).offset(offset)
    if states:
        query = query.where(cases.c.state.in_([s.value for s in states]))
    if channel:
        query = query.where(cases.c.channel == channel)
    if overdue_at is not None:
        query = query.where(cases.c.sla_due_at < overdue_at)
    return [_case(r) for r in conn.execute(query)]


def holder_cases(conn: Connection, holder_id: int) -> list[CaseRecord]:
    rows = conn.execute(select(cases).where(cases.c.holder_id == holder_id).order_by(cases.c.id))
    return [_case(r) for r in rows]


def insert_actual_user(
    conn: Connection,
    *,
    case_id: int,
    holder_id: int,
    pii: bytes,
    relationship: Relationship,
    verification_method: str,
    verified: bool,
    now: datetime,
) -> None:
    conn.execute(
        actual_users.insert().values(
            case_id=case_id,
            holder_id=holder_id,
            pii=pii,
            relationship=relationship.value,
            verification_method=verification_method,
            verified=verified,
            created_at=now,
        )
    )


def case_actual_users(conn: Connection, case_id: int) -> list[ActualUserRecord]:
    rows = conn.execute(
        select(actual_users).where(actual_users.c.case_id == case_id).order_by(actual_users.c.id)
    )
    return [
        ActualUserRecord(
            user_id=r.id,
            pii=r.pii,
            relationship=Relationship(r.relationship),
            verification_method=r.verification_method,
            verified=r.verified,
        )
        for r in rows
    ]


def verified_actual_users(conn: Connection, case_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(actual_users.c.case_id == case_id, actual_users.c.verified)
        ).scalar_one()
    )


def case_history(conn: Connection, case_id: int) -> list[CaseEventRecord]:
    rows = conn.execute(
        select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
    )
    return [
        CaseEventRecord(
            at=r.at, actor=r.actor, action=r.action, from_state=r.from_state, to_state=r.to_state
        )
        for r in rows
    ]


def settle_application(
    conn: Connection,
    *,
    application_id: int,
    state: ApplicationState,
    lines_to: LineState,
    now: datetime,
) -> None:
    """Close an application after its case: its reserved lines become ``lines_to``."""
    conn.execute(
        update(applications)
        .where(applications.c.id == application_id)
        .values(state=state.value, decided_at=now)
    )
    conn.execute(
        update(lines)
        .where(lines.c.application_id == application_id, lines.c.state == LineState.RESERVED.value)
        .values(state=lines_to.value, updated_at=now)
    )
