"""Appending to and reading the audit trail. The chain itself is ``carrierguard.audit``.

``append`` runs inside the caller's transaction, as its last statement where possible:
it locks the head row, so appends are serialised for as short a time as possible.

On PostgreSQL the entry's hash is computed by the database (``PG_APPEND``, the same
material as ``carrierguard.audit.entry_hash``), so an append is two statements that
need no answer in between: a screening sends them with its COMMIT in one round trip
and holds the head row only while the server runs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, select, update

from carrierguard.audit import AuditEntry, canonical, entry_hash
from carrierguard.store.engine import READ_ONLY
from carrierguard.store.schema import audit_head, audit_log

BATCH = 5_000

#: Takes the head row; the next statement (a new snapshot) then sees the newest head.
PG_LOCK_HEAD = "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"
#: One entry chained onto the head, hashed as ``carrierguard.audit.entry_hash`` does.
PG_APPEND = """
WITH entry AS (
    SELECT seq + 1 AS seq, hash AS prev_hash,
        encode(sha256(convert_to(concat_ws(chr(31), (seq + 1)::text, %(stamp)s::text,
            %(actor)s::text, %(action)s::text, %(subject)s::text, %(payload)s::text, hash),
            'UTF8')), 'hex') AS hash
    FROM audit_head WHERE id = 1
), head AS (
    UPDATE audit_head SET seq = entry.seq, hash = entry.hash FROM entry WHERE audit_head.id = 1
)
INSERT INTO audit_log (seq, at, actor, action, subject, payload, prev_hash, hash)
SELECT seq, %(at)s, %(actor)s, %(action)s, %(subject)s, %(payload)s, prev_hash, hash FROM entry
RETURNING seq
"""


def pg_params(
    *, actor: str, action: str, subject: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The parameters of ``PG_APPEND`` for one entry."""
    return {
        "stamp": stamp(now),
        "at": now,
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": canonical(payload),
    }


def pg_queue_appends(raw: psycopg.Connection[Any], entries: Sequence[dict[str, Any]]) -> None:
    """Append entries (``append``'s keyword arguments each) through psycopg, in order;
    in a pipeline the statements are only queued."""
    if not entries:
        return
    raw.execute(PG_LOCK_HEAD)
    for entry in entries:
        raw.execute(PG_APPEND, pg_params(**entry))


def stamp(at: datetime) -> str:
    """The time as the chain hashes it (``carrierguard.audit``: UTC wall time only)."""
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


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
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(PG_LOCK_HEAD)
        params = pg_params(actor=actor, action=action, subject=subject, payload=payload, now=now)
        return int(conn.exec_driver_sql(PG_APPEND, params).scalar_one())
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).one()
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
