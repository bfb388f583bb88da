"""Tables of the mail pillar: one row per DMARC-evaluated message, for aggregate reports.

Rows are written by the milter (through ``record_dmarc_result``) and read per
period by the report job. Like every table, it is declared on the shared
``metadata``; the Alembic revision ``0002_mail`` creates it. ``mail_recipients`` (revision
``0008_mail_recipients``) keeps each recipient's filter strength. ``mail_quarantine`` and
``mail_quarantine_reasons`` (revision ``0009_mail_quarantine``) hold quarantined mail for
``store.quarantine.DbQuarantine``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from carrierguard.mail.reports.aggregate import DmarcResultRow
from carrierguard.store import audit
from carrierguard.store.engine import dialect_insert
from carrierguard.store.schema import Id, metadata

dmarc_results = Table(
    "dmarc_results",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("policy_domain", String(253), nullable=False),
    Column("source_ip", String(45), nullable=False),
    Column("header_from", String(253), nullable=False),
    Column("envelope_from", String(253), nullable=False),
    Column("envelope_to", String(253), nullable=False),
    Column("policy", Text, nullable=False),  # JSON: p, sp, np, adkim, aspf, testing, fo, rua, ruf
    Column("dmarc_result", String(16), nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("dkim_aligned", Boolean, nullable=False),
    Column("spf_aligned", Boolean, nullable=False),
    Column("override", String(32), nullable=False),
    Column("dkim", Text, nullable=False),  # JSON list of [domain, selector, result]
    Column("spf", Text, nullable=False),  # JSON [domain, scope, result]
    Index("ix_dmarc_results_period", "policy_domain", "received_at"),
)


def record_dmarc_result(conn: Connection, row: DmarcResultRow) -> None:
    """Store one evaluated message."""
    policy = {
        "p": row.p,
        "sp": row.sp,
        "np": row.np,
        "adkim": row.adkim,
        "aspf": row.aspf,
        "testing": row.testing,
        "fo": row.fo,
        "rua": list(row.rua),
        "ruf": list(row.ruf),
    }
    conn.execute(
        insert(dmarc_results).values(
            received_at=row.received_at,
            policy_domain=row.policy_domain,
            source_ip=row.source_ip,
            header_from=row.header_from,
            envelope_from=row.envelope_from,
            envelope_to=row.envelope_to,
            policy=json.dumps(policy),
            dmarc_result=row.dmarc_result,
            disposition=row.disposition,
            dkim_aligned=row.dkim_aligned,
            spf_aligned=row.spf_aligned,
            override=row.override,
            # Each DKIM entry and the SPF triple carry their error text (human_result) as a
            # fourth item; rows stored before it was kept have three.
            dkim=json.dumps(
                [
                    [*d, row.dkim_detail[i] if i < len(row.dkim_detail) else ""]
                    for i, d in enumerate(row.dkim)
                ]
            ),
            spf=json.dumps([row.spf_domain, row.spf_scope, row.spf_result, row.spf_detail]),
        )
    )


def dmarc_results_between(
    conn: Connection, begin: datetime, end: datetime, chunk: int = 5000
) -> Iterator[DmarcResultRow]:
    """Rows received in [begin, end), streamed in chunks, ordered by policy domain."""
    query = (
        select(dmarc_results)
        .where(dmarc_results.c.received_at >= begin, dmarc_results.c.received_at < end)
        .order_by(dmarc_results.c.policy_domain, dmarc_results.c.id)
        .execution_options(yield_per=chunk)
    )
    for r in conn.execute(query):
        policy = json.loads(r.policy)
        spf_domain, spf_scope, spf_result, *spf_detail = json.loads(r.spf)
        dkim = json.loads(r.dkim)
        yield DmarcResultRow(
            received_at=r.received_at,
            source_ip=r.source_ip,
            header_from=r.header_from,
            envelope_from=r.envelope_from,
            envelope_to=r.envelope_to,
            policy_domain=r.policy_domain,
            p=policy["p"],
            sp=policy["sp"],
            np=policy["np"],
            adkim=policy["adkim"],
            aspf=policy["aspf"],
            testing=bool(policy["testing"]),
            fo=policy["fo"],
            rua=tuple(policy["rua"]),
            ruf=tuple(policy["ruf"]),
            dmarc_result=r.dmarc_result,
            disposition=r.disposition,
            dkim_aligned=bool(r.dkim_aligned),
            spf_aligned=bool(r.spf_aligned),
            override=r.override,
            dkim=tuple((d[0], d[1], d[2]) for d in dkim),
            spf_domain=spf_domain,
            spf_scope=spf_scope,
            spf_result=spf_result,
            dkim_detail=tuple(d[3] if len(d) > 3 else "" for d in dkim),
            spf_detail=spf_detail[0] if spf_detail else "",
        )


# -- recipients and their filter strength (M1, M3) ------------------------------------------
# One row per recipient address the milter has seen or an operator has configured. ``strength``
# NULL means "never chosen": those recipients are the awareness-mail list (M3).
mail_recipients = Table(
    "mail_recipients",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("strength", String(16), nullable=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("updated_by", String(128), nullable=True),
    Column("notified_at", DateTime(timezone=True), nullable=True),  # awareness mail sent
    Index("ix_mail_recipients_unset", "strength", "address"),
)


def note_recipients(conn: Connection, addresses: Iterable[str], now: datetime) -> None:
    """Remember recipients the first time they are seen (existing rows are left alone)."""
    rows = [{"address": a, "first_seen": now} for a in sorted(set(addresses))]
    if rows:
        conn.execute(dialect_insert(conn, mail_recipients).on_conflict_do_nothing(), rows)


def recipient_strengths(conn: Connection, addresses: Iterable[str]) -> dict[str, str]:
    """The chosen strength of each address that has one (unset addresses are absent)."""
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    query = select(mail_recipients.c.address, mail_recipients.c.strength).where(
        mail_recipients.c.address.in_(wanted), mail_recipients.c.strength.is_not(None)
    )
    return {r.address: r.strength for r in conn.execute(query)}


def set_recipient_strength(
    conn: Connection, address: str, strength: str | None, *, now: datetime, actor: str
) -> None:
    """Choose (or, with None, clear) one recipient's strength; creates the row if needed.

    Every change is appended to the audit trail in the same transaction.
    """
    values = {"strength": strength, "updated_at": now, "updated_by": actor}
    stmt = dialect_insert(conn, mail_recipients).values(address=address, first_seen=now, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["address"], set_=values))
    audit.append(
        conn,
        actor=actor,
        action="recipient.strength",
        subject=f"recipient:{address}",
        payload={"strength": strength},
        now=now,
    )


def unset_recipients(
    conn: Connection, *, limit: int, after: str = "", not_notified: bool = False
) -> list[tuple[str, datetime]]:
    """(address, first_seen) of recipients who never chose a strength, in address order.

    Keyset pagination: pass the last address of the previous page as ``after``;
    ``not_notified`` leaves out those already sent the awareness mail.
    """
    query = (
        select(mail_recipients.c.address, mail_recipients.c.first_seen)
        .where(mail_recipients.c.strength.is_(None), mail_recipients.c.address > after)
        .order_by(mail_recipients.c.address)
        .limit(limit)
    )
    if not_notified:
        query = query.where(mail_recipients.c.notified_at.is_(None))
    return [(r.address, r.first_seen) for r in conn.execute(query)]


def unset_pages(
    engine: Engine, *, size: int, not_notified: bool = False
) -> Iterator[list[tuple[str, datetime]]]:
    """``unset_recipients`` page after page, each read in its own short transaction."""
    after = ""
    while True:
        with engine.connect() as conn:
            page = unset_recipients(conn, limit=size, after=after, not_notified=not_notified)
        if page:
            yield page
        if len(page) < size:
            return
        after = page[-1][0]


def count_unset(conn: Connection, *, not_notified: bool = False) -> int:
    """How many recipients never chose a strength (and, optionally, were not told yet)."""
    query = select(func.count()).where(mail_recipients.c.strength.is_(None))
    if not_notified:
        query = query.where(mail_recipients.c.notified_at.is_(None))
    return int(conn.execute(query.select_from(mail_recipients)).scalar_one())


def mark_notified(conn: Connection, addresses: Iterable[str], now: datetime) -> None:
    """Record that the awareness mail went to these recipients."""
    conn.execute(
        update(mail_recipients)
        .where(mail_recipients.c.address.in_(sorted(set(addresses))))
        .values(notified_at=now)
    )


# -- the quarantine (M4) -------------------------------------------------------------------------
# One row per held message. Envelope addresses and the message bytes are sealed (AES-256-GCM,
# ``store.quarantine``); what listing, ordering and the false-block figures need stays in clear.
# ``message`` is the last column: SQLite then reads a row's other columns without walking the
# message's overflow pages, and PostgreSQL keeps it out of line (TOAST).
mail_quarantine = Table(
    "mail_quarantine",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("header_from", Text, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list, in the verdict's order
    Column("queue_id", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("phishing_probability", Float, nullable=True),
    Column("feedback", String(16), nullable=False),
    Column("feedback_by", Text, nullable=False),
    Column("released_at", Text, nullable=False),
    Column("released_by", Text, nullable=False),
    Column("envelope", LargeBinary, nullable=False),  # sealed {"mail_from", "recipients"}
    Column("message", LargeBinary, nullable=False),  # sealed message bytes
    Index("ix_mail_quarantine_state_received", "state", "received_at", "id"),
    Index("ix_mail_quarantine_received", "received_at", "id", "state", "feedback"),
)

# Each held message's distinct reason codes ("NONE" when it has none): the false-block
# figures per reason are a GROUP BY over this table joined to the held period.
mail_quarantine_reasons = Table(
    "mail_quarantine_reasons",
    metadata,
    Column(
        "entry_id",
        String(24),
        ForeignKey("mail_quarantine.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("code", Text, primary_key=True),
)
