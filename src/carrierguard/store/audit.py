"""Appending to and reading the audit trail. The chain itself is ``carrierguard.audit``.

``append`` runs inside the caller's transaction, as its last statement where possible:
it locks the head row, so appends are serialised for as short a time as possible.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from carrierguard.audit import AuditEntry, canonical, entry_hash
from carrierguard.store.engine import READ_ONLY
from carrierguard.store.schema import audit_head, audit_log

BATCH = 5_000


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """Append one entry to the chain; returns its sequence number."""
    query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    head = conn.execute(query).one()
    seq = int(head.seq) + 1
    body = canonical(payload)
    digest = entry_hash(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        subject=subject,
        payload=body,
        prev_hash=head.hash,
    )
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=now,
            actor=actor,
            action=action,
            subject=subject,
            payload=body,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return seq


def entries(engine: Engine) -> Iterator[AuditEntry]:
    """Every entry in ``seq`` order, read in batches."""
    last = 0
    with engine.connect().execution_options(**READ_ONLY) as conn:
        while True:
            with conn.begin():
                rows = conn.execute(
                    select(audit_log)
                    .where(audit_log.c.seq > last)
                    .order_by(audit_log.c.seq)
                    .limit(BATCH)
                ).all()
            if not rows:
                return
            for r in rows:
                yield AuditEntry(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    subject=r.subject,
                    payload=r.payload,
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                )
            last = rows[-1].seq


def head(engine: Engine) -> tuple[int, str]:
    with engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
        row = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    return int(row.seq), str(row.hash)
