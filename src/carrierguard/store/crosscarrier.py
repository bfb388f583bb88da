"""Tables of the cross-carrier count (C1): the hub's registry and a carrier's publishing state.

``xc_holdings`` lives at the hub: per token and carrier, the lines held by SIM type. It
holds no name, date or address: a token is a VOPRF output only the evaluator could compute.
``xc_published`` lives at a carrier: what it last told the hub about each of its holders,
so that ``carrierguard xc publish`` sends only what changed. Revision ``0010_cross_carrier``
creates both; ``xc_usage`` (the hub's allowance per day) is 0011. The publish watermark and
lease are named values in ``registry_state``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    or_,
    select,
    update,
)

from carrierguard.errors import Conflict
from carrierguard.store import audit
from carrierguard.store.engine import dialect_insert
from carrierguard.store.schema import Id, holders, lines, metadata, registry_state

SIM_COLUMNS = ("voice", "data_sms", "data")

xc_holdings = Table(
    "xc_holdings",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("carrier", String(100), primary_key=True),
    Column("voice", Integer, nullable=False),
    Column("data_sms", Integer, nullable=False),
    Column("data", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

xc_published = Table(
    "xc_published",
    metadata,
    Column("holder_id", Id, ForeignKey("holders.id"), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("voice", Integer, nullable=False),
    Column("data_sms", Integer, nullable=False),
    Column("data", Integer, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("stale", Boolean, nullable=False, server_default=false()),
    # Holders that share a token (one person by the current normaliser) are sent as a sum.
    Index("ix_xc_published_token", "token"),
)

WATERMARK = "xc_publish_watermark"  # a name in registry_state

xc_usage = Table(
    "xc_usage",
    metadata,
    Column("carrier", String(100), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("evaluated", BigInteger, nullable=False),
    Column("published", BigInteger, nullable=False),
    Column("queried", BigInteger, nullable=False),
)
USAGE_KINDS = ("evaluated", "published", "queried")


@dataclass(frozen=True, slots=True)
class Counts:
    """Lines by SIM type (the registry's unit)."""

    voice: int = 0
    data_sms: int = 0
    data: int = 0

    @property
    def empty(self) -> bool:
        return not (self.voice or self.data_sms or self.data)

    def as_dict(self) -> dict[str, int]:
        return {"voice": self.voice, "data_sms": self.data_sms, "data": self.data}

    def plus(self, other: Counts) -> Counts:
        return Counts(
            self.voice + other.voice, self.data_sms + other.data_sms, self.data + other.data
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """A token's lines at carriers other than the one asking, and how many carriers."""

    counts: Counts
    carriers: int


# -- the hub's registry ----------------------------------------------------------------------


def publish(engine: Engine, carrier: str, rows: Sequence[tuple[str, Counts]], now: datetime) -> int:
    """Set ``carrier``'s counts for each token (all zeros removes the row).

    One transaction, with its audit entry (how many rows, never which tokens)."""
    keep = [
        {"token": t, "carrier": carrier, **c.as_dict(), "updated_at": now}
        for t, c in rows
        if not c.empty
    ]
    gone = [t for t, c in rows if c.empty]
    with engine.begin() as conn:
        if keep:
            stmt = dialect_insert(engine, xc_holdings)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["token", "carrier"],
                    set_={
                        "voice": stmt.excluded.voice,
                        "data_sms": stmt.excluded.data_sms,
                        "data": stmt.excluded.data,
                        "updated_at": stmt.excluded.updated_at,
                    },
                ),
                keep,
            )
        if gone:
            conn.execute(
                delete(xc_holdings).where(
                    and_(xc_holdings.c.carrier == carrier, xc_holdings.c.token.in_(gone))
                )
            )
        audit.append(
            conn,
            actor=f"carrier:{carrier}",
            action="xc.published",
            subject=carrier,
            payload={"rows": len(rows), "removed": len(gone)},
            now=now,
        )
    return len(rows)


def totals_elsewhere(
    engine: Engine, carrier: str, tokens: Collection[str], now: datetime
) -> dict[str, Totals]:
    """Per token asked for, the lines held at every carrier but ``carrier`` (absent: none).

    Every query is audited (who asked, how many tokens, how many were known)."""
    if not tokens:
        return {}
    c = xc_holdings.c
    query = (
        select(
            c.token,
            func.sum(c.voice),
            func.sum(c.data_sms),
            func.sum(c.data),
            func.count(),
        )
        .where(and_(c.token.in_(list(tokens)), c.carrier != carrier))
        .group_by(c.token)
    )
    with engine.begin() as conn:
        found = {
            token: Totals(Counts(int(v), int(s), int(d)), int(n))
            for token, v, s, d, n in conn.execute(query)
        }
        audit.append(
            conn,
            actor=f"carrier:{carrier}",
            action="xc.queried",
            subject=carrier,
            payload={"tokens": len(tokens), "known": len(found)},
            now=now,
        )
    return found


# -- a carrier's publishing state --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HolderCounts:
    """One individual holder of ours: sealed identity fields and the lines that count."""

    holder_id: int
    pii: bytes
    counts: Counts
    published: Counts | None  # what the hub last heard, None if never
    published_token: str | None = None
    stale: bool = False  # the identity key changed since: the token must be sent again


def holders_to_publish(
    engine: Engine,
    counted_states: Collection[str],
    *,
    after_id: int,
    limit: int,
    changed_since: datetime | None,
) -> list[HolderCounts]:
    """Individual holders with id > ``after_id`` (in id order), their counted lines by SIM type
    and what was last published; with ``changed_since``, only holders whose lines changed."""
    lc = lines.c
    candidates = select(holders.c.id).where(
        and_(holders.c.kind == "individual", holders.c.id > after_id)
    )
    if changed_since is not None:
        candidates = candidates.where(
            or_(
                holders.c.id.in_(select(lc.holder_id).where(lc.updated_at >= changed_since)),
                holders.c.id.in_(
                    select(xc_published.c.holder_id).where(xc_published.c.stale.is_(True))
                ),
            )
        )
    ids = candidates.order_by(holders.c.id).limit(limit).subquery("ids")
    # Only this page's lines are added up: a count over every holder before the page made
    # each page cost more than the last (a full publish was quadratic in the book's size).
    per_sim = [func.sum(case((lc.sim_type == sim, 1), else_=0)).label(sim) for sim in SIM_COLUMNS]
    counts = (
        select(lc.holder_id, *per_sim)
        .where(lc.state.in_(list(counted_states)), lc.holder_id.in_(select(ids.c.id)))
        .group_by(lc.holder_id)
        .subquery("counts")
    )
    p = xc_published.c
    query = (
        select(
            holders.c.id,
            holders.c.pii,
            *(func.coalesce(counts.c[sim], 0) for sim in SIM_COLUMNS),
            p.voice,
            p.data_sms,
            p.data,
            p.token,
            p.stale,
        )
        .select_from(
            ids.join(holders, holders.c.id == ids.c.id)
            .outerjoin(counts, counts.c.holder_id == holders.c.id)
            .outerjoin(xc_published, p.holder_id == holders.c.id)
        )
        .order_by(holders.c.id)
    )
    with engine.connect() as conn:
        return [
            HolderCounts(
                holder_id=int(row[0]),
                pii=bytes(row[1]),
                counts=Counts(int(row[2]), int(row[3]), int(row[4])),
                published=None if row[5] is None else Counts(row[5], row[6], row[7]),
                published_token=row[8],
                stale=bool(row[9]),
            )
            for row in conn.execute(query)
        ]


def note_published(engine: Engine, rows: Iterable[tuple[int, str, Counts]], now: datetime) -> None:
    """Remember what the hub now holds for each (holder id, token, counts)."""
    values = [
        {"holder_id": h, "token": t, **c.as_dict(), "published_at": now, "stale": False}
        for h, t, c in rows
    ]
    if not values:
        return
    stmt = dialect_insert(engine, xc_published)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["holder_id"],
                set_={
                    "token": stmt.excluded.token,
                    "voice": stmt.excluded.voice,
                    "data_sms": stmt.excluded.data_sms,
                    "data": stmt.excluded.data,
                    "published_at": stmt.excluded.published_at,
                    "stale": stmt.excluded.stale,
                },
            ),
            values,
        )


def published_totals(
    engine: Engine, tokens: Collection[str], *, excluding: Collection[int]
) -> dict[str, Counts]:
    """Per token, the sum of what was last published for our holders that have it, leaving
    out the holders ``excluding`` (absent: no other holder has it).

    The hub keeps one row per token and carrier: when two of our holders have one token
    (one person by the current normaliser), that row must be their sum."""
    if not tokens:
        return {}
    p = xc_published.c
    query = (
        select(p.token, func.sum(p.voice), func.sum(p.data_sms), func.sum(p.data))
        .where(p.token.in_(list(tokens)))
        .group_by(p.token)
    )
    if excluding:
        query = query.where(p.holder_id.not_in(list(excluding)))
    with engine.connect() as conn:
        return {
            token: Counts(int(v or 0), int(s or 0), int(d or 0))
            for token, v, s, d in conn.execute(query)
        }


def last_line_change(engine: Engine) -> datetime | None:
    """The newest ``lines.updated_at``: where the next incremental publish starts."""
    with engine.connect() as conn:
        value: datetime | None = conn.execute(select(func.max(lines.c.updated_at))).scalar()
    return value


def watermark(engine: Engine) -> datetime | None:
    """Where the last complete publish started (None: never published)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(registry_state.c.value).where(registry_state.c.name == WATERMARK)
        ).scalar()
    return None if value is None else datetime.fromisoformat(value)


PUBLISH_LEASE = "xc_publish_lease"


def take_publish_lease(engine: Engine, holder: str, now: datetime, ttl: timedelta) -> None:
    """Let one publish run at a time: take (or renew) the lease, or say who holds it.

    A lease whose time ran out (a publish that died) is taken over. SQLite takes its
    write lock at BEGIN; PostgreSQL locks the row (or, for a first lease, the insert
    conflicts), so two publishes cannot both take it.
    """
    until = (now + ttl).isoformat()
    with engine.begin() as conn:
        row = conn.execute(
            select(registry_state.c.value)
            .where(registry_state.c.name == PUBLISH_LEASE)
            .with_for_update()
        ).scalar()
        if row is None:
            conn.execute(
                registry_state.insert().values(name=PUBLISH_LEASE, value=f"{until} {holder}")
            )
            return
        expires, _, owner = row.partition(" ")
        if owner != holder and datetime.fromisoformat(expires) > now:
            raise Conflict(
                f"another cross-carrier publish ({owner}) holds the lease until {expires}",
                message_ja=f"別の送信処理（{owner}）が実行中です（{expires} まで）。",
            )
        conn.execute(
            update(registry_state)
            .where(registry_state.c.name == PUBLISH_LEASE)
            .values(value=f"{until} {holder}")
        )


def drop_publish_lease(engine: Engine, holder: str) -> None:
    """Give the lease back, if ``holder`` still has it."""
    with engine.begin() as conn:
        value = conn.execute(
            select(registry_state.c.value)
            .where(registry_state.c.name == PUBLISH_LEASE)
            .with_for_update()
        ).scalar()
        if value is not None and value.partition(" ")[2] == holder:
            conn.execute(
                delete(registry_state).where(
                    and_(registry_state.c.name == PUBLISH_LEASE, registry_state.c.value == value)
                )
            )


def forget_watermark(engine: Engine) -> None:
    """Make the next publish look at every holder (after an import, whose lines are stamped
    with the time it started)."""
    with engine.begin() as conn:
        conn.execute(delete(registry_state).where(registry_state.c.name == WATERMARK))


def set_watermark(engine: Engine, when: datetime) -> None:
    stmt = dialect_insert(engine, registry_state)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"], set_={"value": stmt.excluded.value}
            ),
            [{"name": WATERMARK, "value": when.isoformat()}],
        )


# -- the hub's allowance per carrier and day --------------------------------------------------


def charge(
    engine: Engine, carrier: str, day: str, kind: str, amount: int, limit: int | None
) -> int | None:
    """Add ``amount`` to ``carrier``'s ``kind`` use on ``day``; returns the new total.

    If the total would pass ``limit`` nothing is added and None is returned (the caller
    refuses the request). One transaction: concurrent requests cannot both slip under.
    """
    if kind not in USAGE_KINDS:
        raise ValueError(f"unknown usage kind {kind!r}")
    row = {"carrier": carrier, "day": day, **dict.fromkeys(USAGE_KINDS, 0), kind: amount}
    stmt = dialect_insert(engine, xc_usage)
    column = xc_usage.c[kind]
    upsert = stmt.on_conflict_do_update(
        index_elements=["carrier", "day"], set_={kind: column + stmt.excluded[kind]}
    ).returning(column)
    try:
        with engine.begin() as conn:
            total = int(conn.execute(upsert, row).scalar_one())
            if limit is not None and total > limit:
                raise _OverLimit  # rolls the increment back
    except _OverLimit:
        return None
    return total


class _OverLimit(Exception):
    pass


@dataclass(frozen=True, slots=True)
class CarrierActivity:
    """One carrier at the hub: what it holds in the registry and its use over some days."""

    carrier: str
    tokens: int
    counts: Counts
    last_publish: datetime | None
    evaluated: int
    published: int
    queried: int


def activity(engine: Engine, since_day: str) -> list[CarrierActivity]:
    """Every carrier the hub knows, by name: registry totals and use since ``since_day``."""
    h, u = xc_holdings.c, xc_usage.c
    held = select(
        h.carrier,
        func.count(),
        func.sum(h.voice),
        func.sum(h.data_sms),
        func.sum(h.data),
        func.max(h.updated_at),
    ).group_by(h.carrier)
    used = (
        select(u.carrier, func.sum(u.evaluated), func.sum(u.published), func.sum(u.queried))
        .where(u.day >= since_day)
        .group_by(u.carrier)
    )
    with engine.connect() as conn:
        holdings = {r[0]: r[1:] for r in conn.execute(held)}
        usage = {r[0]: r[1:] for r in conn.execute(used)}
    out = []
    for carrier in sorted(set(holdings) | set(usage)):
        tokens, voice, sms, data, last = holdings.get(carrier, (0, 0, 0, 0, None))
        evaluated, published, queried = usage.get(carrier, (0, 0, 0))
        out.append(
            CarrierActivity(
                carrier=carrier,
                tokens=int(tokens),
                counts=Counts(int(voice or 0), int(sms or 0), int(data or 0)),
                last_publish=last,
                evaluated=int(evaluated or 0),
                published=int(published or 0),
                queried=int(queried or 0),
            )
        )
    return out


def mark_stale(conn: Connection, holder_id: int) -> None:
    """The holder's identity key changed: its published token must be replaced."""
    conn.execute(
        update(xc_published).where(xc_published.c.holder_id == holder_id).values(stale=True)
    )
