"""The line registry: holders, applications, lines, idempotency keys and API keys.

All SQL of Pillar C lives here. ``Registry.write()`` opens one transaction (SQLite:
``BEGIN IMMEDIATE``); everything a screening writes happens inside it or not at all.
SQLAlchemy and psycopg errors are translated to ``StoreUnavailable`` at this edge.

On PostgreSQL a screening's statements go to psycopg directly in pipelines (``pg_*``):
the lookups in one round trip, the writes with the audit entry and the COMMIT in another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from carrierguard.contracts.applications import ApplicationState, Outcome
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import Channel, HolderKind, Holding, Reason
from carrierguard.contracts.resale import ResaleAssessment
from carrierguard.errors import NotFound, StoreUnavailable
from carrierguard.store import audit
from carrierguard.store.engine import READ_ONLY, dialect_insert
from carrierguard.store.events import parse_assessment
from carrierguard.store.schema import (
    api_keys,
    applications,
    cases,
    holder_blocks,
    holders,
    idempotency_keys,
    lines,
)


@dataclass(frozen=True, slots=True)
class LineRecord:
    line_id: int
    sim_type: SimType
    state: LineState


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationRecord:
    application_id: int
    holder_id: int
    channel: Channel
    state: ApplicationState
    outcome: Outcome
    reasons: tuple[Reason, ...]
    lines: tuple[LineRecord, ...]
    escalate_to_hq: bool
    requires_actual_users: bool
    created_at: datetime
    case_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderRecord:
    holder_id: int
    kind: HolderKind
    lines: tuple[LineRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    key_id: int
    name: str
    role: str
    prefix: str
    secret_hash: str
    revoked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApplication:
    holder_id: int
    channel: Channel
    outcome: Outcome
    state: ApplicationState
    reasons: tuple[Reason, ...]
    usage: list[dict[str, Any]]
    escalate_to_hq: bool
    requires_actual_users: bool
    kyc_method: str | None
    submitted_by: int | None
    applied_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class PgLookup:
    """What one round trip tells a PostgreSQL screening (its locks are taken)."""

    earlier: tuple[str, int | None] | None  # (request hash, application id) of a used key
    holder_id: int | None  # found by the exact identity key, its row locked
    risk_flags: str | None
    holdings: list[Holding]
    application_id: int  # allocated for this screening
    line_ids: list[int]  # allocated, one per requested line


@dataclass(frozen=True, slots=True, kw_only=True)
class PgAsk:
    """What one screening looks up (``RegistryTx.pg_lookups``)."""

    identity_key: str
    blocks: Sequence[str]
    line_count: int
    claim: tuple[int, str, str, datetime] | None  # (api key id, key, request hash, now)


_PG_CLAIM = (
    "INSERT INTO idempotency_keys (api_key_id, key, request_hash, created_at)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT (api_key_id, key) DO NOTHING RETURNING api_key_id"
)
_PG_EARLIER = (
    "SELECT request_hash, application_id FROM idempotency_keys WHERE api_key_id = %s AND key = %s"
)
# Sorted before the locks are taken (PostgreSQL evaluates a volatile output column after
# ORDER BY), so two screenings sharing keys take them in the same order.
_PG_LOCK_BLOCKS = (
    "SELECT pg_advisory_xact_lock(hashtextextended(b, 0)) FROM unnest(%s::text[]) AS b ORDER BY b"
)
_PG_HOLDER = "SELECT id, risk_flags FROM holders WHERE identity_key = %s FOR UPDATE"
# A statement of its own: its snapshot is taken once the holder's row lock is held. It
# also allocates the ids of the application and its lines.
_PG_HOLDINGS = """
WITH held AS (
    SELECT sim_type, state, opened_on FROM lines
    WHERE holder_id = (SELECT id FROM holders WHERE identity_key = %(identity_key)s)
        AND state <> %(terminated)s
)
SELECT nextval(pg_get_serial_sequence('applications', 'id')),
    ARRAY(SELECT nextval(pg_get_serial_sequence('lines', 'id'))
        FROM generate_series(1, %(line_count)s)),
    ARRAY(SELECT sim_type::text FROM held), ARRAY(SELECT state::text FROM held),
    ARRAY(SELECT opened_on FROM held)
"""
# One statement: the foreign keys are checked at its end, when all three rows exist.
_PG_DECISION = """
WITH blocks AS (
    INSERT INTO holder_blocks (block, holder_id)
    SELECT b, %(holder_id)s FROM unnest(%(blocks)s::text[]) AS b ON CONFLICT DO NOTHING
), application AS (
    INSERT INTO applications (id, holder_id, channel, state, outcome, reasons, usage,
        escalate_to_hq, requires_actual_users, kyc_method, submitted_by, applied_on,
        created_at, decided_at)
    VALUES (%(id)s, %(holder_id)s, %(channel)s, %(state)s, %(outcome)s, %(reasons)s,
        %(usage)s, %(escalate_to_hq)s, %(requires_actual_users)s, %(kyc_method)s,
        %(submitted_by)s, %(applied_on)s, %(created_at)s, %(decided_at)s)
)
INSERT INTO lines (id, holder_id, application_id, sim_type, state, opened_on, created_at,
    updated_at)
SELECT i, %(holder_id)s, %(id)s, s, %(line_state)s, %(applied_on)s, %(created_at)s,
    %(created_at)s
FROM unnest(%(line_ids)s::bigint[], %(sim_types)s::text[]) AS t(i, s)
"""
#: ``block_candidates`` on PostgreSQL: the candidates through the key index first.
_PG_BLOCK_CANDIDATES = """
WITH candidates AS MATERIALIZED (
    SELECT DISTINCT holder_id FROM holder_blocks WHERE block = ANY(%s::text[])
    ORDER BY holder_id LIMIT %s
)
SELECT holders.id, holders.pii FROM holders JOIN candidates ON candidates.holder_id = holders.id
ORDER BY holders.id
"""
_PG_LOCK_HOLDER = "SELECT id FROM holders WHERE id = %s FOR UPDATE"
_PG_CREATE_HOLDER = (
    "INSERT INTO holders (identity_key, kind, pii, created_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (identity_key) DO NOTHING RETURNING id"
)
_PG_HOLDER_ID = "SELECT id FROM holders WHERE identity_key = %s FOR UPDATE"
_PG_COMPLETE = "UPDATE idempotency_keys SET application_id = %s WHERE api_key_id = %s AND key = %s"


class Registry:
    """Transactions over the registry tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[RegistryTx]:
        """One write transaction; it commits on success and rolls back on any error."""
        try:
            with self.engine.begin() as conn:
                try:
                    yield RegistryTx(conn, self.dialect)
                except psycopg.OperationalError:
                    conn.invalidate()  # SQLAlchemy did not see it: keep it out of the pool
                    raise
        except OperationalError as exc:
            raise StoreUnavailable(f"database error: {exc.orig.__class__.__name__}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"database error: {exc.__class__.__name__}") from exc

    @contextmanager
    def read(self) -> Iterator[RegistryTx]:
        """A read-only transaction (no write lock on SQLite)."""
        try:
            with self.engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
                yield RegistryTx(conn, self.dialect)
        except OperationalError as exc:
            raise StoreUnavailable(f"database error: {exc.orig.__class__.__name__}") from exc

    def ping(self) -> bool:
        try:
            with self.read() as tx:
                tx.conn.execute(select(1))
            return True
        except (StoreUnavailable, SQLAlchemyError):
            return False


class RegistryTx:
    """The statements one transaction may run."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self._pending: list[tuple[str, Any]] = []  # PostgreSQL writes not sent yet

    def _insert(self, table: Any) -> Any:
        return dialect_insert(self.conn, table)

    # -- PostgreSQL screening: psycopg directly, in pipelines --------------------------
    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection under this transaction (PostgreSQL only)."""
        driver: psycopg.Connection[Any] = self.conn.connection.driver_connection  # type: ignore[assignment]
        return driver

    def _send_pending(self) -> None:
        """Inside a pipeline: queue the writes held back so far, in their order."""
        for query, params in self._pending:
            self.raw.execute(query, params)
        self._pending.clear()

    def pg_write_returning(self, query: str, params: Any) -> Any:
        """The writes held back, then ``query``: one round trip; the first row it returns."""
        raw = self.raw
        with raw.pipeline():
            self._send_pending()
            cursor = raw.execute(query, params)
        row = cursor.fetchone()
        assert row is not None
        return row

    def pg_lookup(
        self,
        *,
        identity_key: str,
        blocks: Sequence[str],
        line_count: int,
        claim: tuple[int, str, str, datetime] | None,
    ) -> PgLookup:
        """Claim the idempotency key, lock the candidate keys and the holder, read its lines
        and allocate the new rows' ids: one round trip (the order of the locks is fixed)."""
        ask = PgAsk(identity_key=identity_key, blocks=blocks, line_count=line_count, claim=claim)
        return self.pg_lookups([ask])[0]

    def pg_lookups(self, asks: Sequence[PgAsk]) -> list[PgLookup]:
        """``pg_lookup`` for several screenings, in order, in one round trip. The caller
        makes sure that none of them needs to see what an earlier one will write."""
        raw = self.raw
        sent = []
        with raw.pipeline():
            self._send_pending()  # earlier screenings' writes, in the same round trip
            for ask in asks:
                claimed = earlier = None
                if ask.claim is not None:
                    api_key_id, key, request_hash, now = ask.claim
                    claimed = raw.execute(_PG_CLAIM, (api_key_id, key, request_hash, now))
                    earlier = raw.execute(_PG_EARLIER, (api_key_id, key))
                if ask.blocks:
                    raw.execute(_PG_LOCK_BLOCKS, (pg_text_array(ask.blocks),))
                holder = raw.execute(_PG_HOLDER, (ask.identity_key,))
                held = raw.execute(
                    _PG_HOLDINGS,
                    {
                        "identity_key": ask.identity_key,
                        "terminated": LineState.TERMINATED.value,
                        "line_count": ask.line_count,
                    },
                )
                sent.append((claimed, earlier, holder, held))
        return [_lookup(*cursors) for cursors in sent]

    def pg_insert_decision(
        self,
        *,
        application_id: int,
        new: NewApplication,
        blocks: Sequence[str],
        new_lines: Sequence[LineRecord],
        now: datetime,
    ) -> None:
        """The holder's candidate keys, the application and its lines (opened on the day
        applied for): one statement, held back until the next round trip."""
        self._pending.append(
            (
                _PG_DECISION,
                {
                    "id": application_id,
                    **_application_values(new, now),
                    "blocks": pg_text_array(blocks),
                    "line_ids": pg_int_array(ln.line_id for ln in new_lines),
                    "sim_types": pg_text_array(ln.sim_type.value for ln in new_lines),
                    "line_state": new_lines[0].state.value if new_lines else None,
                },
            )
        )

    def pg_complete_idempotency_key(self, api_key_id: int, key: str, application_id: int) -> None:
        """Held back until the next round trip, like the decision's rows."""
        self._pending.append((_PG_COMPLETE, (application_id, api_key_id, key)))

    def pg_commit(self, entries: Sequence[dict[str, Any]]) -> None:
        """The writes held back, then the audit entries, then COMMIT: one round trip.

        The chain's head row is locked by the first entry and held only while the server
        runs the rest and flushes the commit.
        """
        raw = self.raw
        with raw.pipeline():
            self._send_pending()
            audit.pg_queue_appends(raw, entries)
            raw.commit()

    # -- idempotency -------------------------------------------------------------------
    def claim_idempotency_key(
        self, api_key_id: int, key: str, request_hash: str, now: datetime
    ) -> tuple[str, int | None] | None:
        """Claim ``key`` for this transaction; if it was already used, return (hash, app id).

        On PostgreSQL a concurrent claim of the same key waits for the first
        transaction to finish, so the loser always sees the winner's committed answer.
        """
        stmt = (
            self._insert(idempotency_keys)
            .values(api_key_id=api_key_id, key=key, request_hash=request_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
            .returning(idempotency_keys.c.api_key_id)
        )
        if self.conn.execute(stmt).scalar_one_or_none() is not None:
            return None
        row = self.conn.execute(
            select(idempotency_keys.c.request_hash, idempotency_keys.c.application_id).where(
                idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key
            )
        ).one()
        return row.request_hash, row.application_id

    def complete_idempotency_key(self, api_key_id: int, key: str, application_id: int) -> None:
        self.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key)
            .values(application_id=application_id)
        )

    # -- holders -----------------------------------------------------------------------
    def lock_blocks(self, blocks: Sequence[str]) -> None:
        """Serialise screenings that share a candidate key (PostgreSQL; SQLite already is)."""
        if self.dialect != "postgresql":
            return
        for block in sorted(blocks):
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:b, 0))"), {"b": block}
            )

    def find_holder(self, identity_key: str) -> int | None:
        """The holder with this exact key, its row locked (PostgreSQL), or None."""
        query = select(holders.c.id).where(holders.c.identity_key == identity_key)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        found = self.conn.execute(query).scalar_one_or_none()
        return None if found is None else int(found)

    def lock_holder(self, holder_id: int) -> None:
        if self.dialect == "postgresql":
            self.raw.execute(_PG_LOCK_HOLDER, (holder_id,))

    def block_candidates(self, blocks: Sequence[str], limit: int = 20) -> list[tuple[int, bytes]]:
        """Holders sharing a candidate key, with their sealed fields (index lookups only).

        The candidates are found first, through the key index, whatever the planner's
        statistics say: ``MATERIALIZED`` keeps PostgreSQL from walking every holder in id
        order and probing the keys for each (seconds on a registry never analysed).
        """
        if not blocks:
            return []
        if self.dialect == "postgresql":  # the same query as below, without building it
            found = self.raw.execute(_PG_BLOCK_CANDIDATES, (pg_text_array(blocks), limit))
            return [(int(r[0]), bytes(r[1])) for r in found]
        candidates = (
            select(holder_blocks.c.holder_id)
            .where(holder_blocks.c.block.in_(blocks))
            .distinct()
            .order_by(holder_blocks.c.holder_id)
            .limit(limit)
            .cte("candidates")
            .prefix_with("MATERIALIZED")
        )
        rows = self.conn.execute(
            select(holders.c.id, holders.c.pii)
            .join(candidates, candidates.c.holder_id == holders.c.id)
            .order_by(holders.c.id)
        )
        return [(int(r.id), bytes(r.pii)) for r in rows]

    def insert_blocks(self, holder_id: int, blocks: Sequence[str]) -> None:
        if blocks:
            self.conn.execute(
                self._insert(holder_blocks)
                .values([{"block": b, "holder_id": holder_id} for b in blocks])
                .on_conflict_do_nothing()
            )

    def lock_or_create_holder(
        self, *, identity_key: str, kind: HolderKind, pii: bytes, now: datetime
    ) -> int:
        """The holder's id, creating the holder if new, with its row locked until commit."""
        return self.lock_or_create_holder_created(
            identity_key=identity_key, kind=kind, pii=pii, now=now
        )[0]

    def lock_or_create_holder_created(
        self, *, identity_key: str, kind: HolderKind, pii: bytes, now: datetime
    ) -> tuple[int, bool]:
        """``lock_or_create_holder``, and whether this transaction created the holder."""
        if self.dialect == "postgresql":  # the same statements as below, without building them
            row = self.raw.execute(
                _PG_CREATE_HOLDER, (identity_key, kind.value, pii, now)
            ).fetchone()
            if row is not None:
                return int(row[0]), True
            row = self.raw.execute(_PG_HOLDER_ID, (identity_key,)).fetchone()
            if row is None:
                raise RuntimeError("holder vanished between INSERT and SELECT FOR UPDATE")
            return int(row[0]), False
        created = self.conn.execute(
            self._insert(holders)
            .values(identity_key=identity_key, kind=kind.value, pii=pii, created_at=now)
            .on_conflict_do_nothing(index_elements=["identity_key"])
            .returning(holders.c.id)
        ).scalar_one_or_none()
        if created is not None:
            return int(created), True
        query = select(holders.c.id).where(holders.c.identity_key == identity_key)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return int(self.conn.execute(query).scalar_one()), False

    def holdings(self, holder_id: int) -> list[Holding]:
        """The holder's lines that are not terminated (terminated lines never count)."""
        rows = self.conn.execute(
            select(lines.c.sim_type, lines.c.state, lines.c.opened_on).where(
                lines.c.holder_id == holder_id, lines.c.state != LineState.TERMINATED.value
            )
        )
        return [Holding(SimType(r.sim_type), LineState(r.state), r.opened_on) for r in rows]

    def resale_assessment(self, holder_id: int) -> ResaleAssessment | None:
        raw = self.conn.execute(
            select(holders.c.risk_flags).where(holders.c.id == holder_id)
        ).scalar_one_or_none()
        return parse_assessment(raw)

    def risk_flags(self, holder_id: int) -> list[str]:
        """The holder's risk flags as sentences for people (Japanese / English)."""
        found = self.resale_assessment(holder_id)
        if found is None or not found.flags:
            return []
        head = "RESALE_RISK" if found.resale_risk else "resale signals"
        return [f"{head} score {found.score}"] + [
            f"{f.code}: {f.message_ja} / {f.message_en}" for f in found.flags
        ]

    def holder(self, holder_id: int) -> HolderRecord:
        kind = self.conn.execute(
            select(holders.c.kind).where(holders.c.id == holder_id)
        ).scalar_one_or_none()
        if kind is None:
            raise NotFound(
                f"holder {holder_id} not found", message_ja=f"契約者 {holder_id} は存在しません。"
            )
        found = self.conn.execute(
            select(lines.c.id, lines.c.sim_type, lines.c.state)
            .where(lines.c.holder_id == holder_id)
            .order_by(lines.c.id)
        )
        return HolderRecord(
            holder_id=holder_id, kind=HolderKind(kind), lines=tuple(_line(r) for r in found)
        )

    # -- applications and lines --------------------------------------------------------
    def insert_application(self, new: NewApplication, now: datetime) -> int:
        return int(
            self.conn.execute(
                applications.insert()
                .values(**_application_values(new, now))
                .returning(applications.c.id)
            ).scalar_one()
        )

    def insert_lines(
        self,
        *,
        holder_id: int,
        application_id: int,
        sim_types: Sequence[SimType],
        state: LineState,
        opened_on: date,
        now: datetime,
    ) -> list[LineRecord]:
        """Insert the lines and return them in request order."""
        rows = self.conn.execute(
            lines.insert().returning(
                lines.c.id, lines.c.sim_type, lines.c.state, sort_by_parameter_order=True
            ),
            [
                {
                    "holder_id": holder_id,
                    "application_id": application_id,
                    "sim_type": sim.value,
                    "state": state.value,
                    "opened_on": opened_on,
                    "created_at": now,
                    "updated_at": now,
                }
                for sim in sim_types
            ],
        )
        return [_line(r) for r in rows]

    def application(self, application_id: int) -> ApplicationRecord:
        row = self.conn.execute(
            select(applications).where(applications.c.id == application_id)
        ).one_or_none()
        if row is None:
            raise NotFound(
                f"application {application_id} not found",
                message_ja=f"申込み {application_id} は存在しません。",
            )
        found = self.conn.execute(
            select(lines.c.id, lines.c.sim_type, lines.c.state)
            .where(lines.c.application_id == application_id)
            .order_by(lines.c.id)
        )
        return ApplicationRecord(
            application_id=row.id,
            holder_id=row.holder_id,
            channel=Channel(row.channel),
            state=ApplicationState(row.state),
            outcome=Outcome(row.outcome),
            reasons=tuple(Reason(**r) for r in json.loads(row.reasons)),
            lines=tuple(_line(r) for r in found),
            escalate_to_hq=row.escalate_to_hq,
            requires_actual_users=row.requires_actual_users,
            # SQLite hands datetimes back without their zone; every stamp we write is UTC.
            created_at=row.created_at
            if row.created_at.tzinfo
            else row.created_at.replace(tzinfo=UTC),
            case_id=self.conn.execute(
                select(cases.c.id).where(cases.c.application_id == application_id)
            ).scalar_one_or_none(),
        )

    def lock_line(self, line_id: int) -> tuple[int, LineState]:
        """The line's holder and state, with the holder's row locked (PostgreSQL)."""
        row = self.conn.execute(
            select(lines.c.holder_id, lines.c.state).where(lines.c.id == line_id)
        ).one_or_none()
        if row is None:
            raise NotFound(
                f"line {line_id} not found", message_ja=f"回線 {line_id} は存在しません。"
            )
        if self.dialect == "postgresql":
            self.conn.execute(
                select(holders.c.id).where(holders.c.id == row.holder_id).with_for_update()
            )
            row = self.conn.execute(
                select(lines.c.holder_id, lines.c.state).where(lines.c.id == line_id)
            ).one()
        return int(row.holder_id), LineState(row.state)

    def set_line_state(self, line_id: int, state: LineState, now: datetime) -> None:
        self.conn.execute(
            update(lines).where(lines.c.id == line_id).values(state=state.value, updated_at=now)
        )

    def line(self, line_id: int) -> LineRecord:
        row = self.conn.execute(
            select(lines.c.id, lines.c.sim_type, lines.c.state).where(lines.c.id == line_id)
        ).one_or_none()
        if row is None:
            raise NotFound(
                f"line {line_id} not found", message_ja=f"回線 {line_id} は存在しません。"
            )
        return _line(row)

    def count(self, table_name: str) -> int:
        table = {"holders": holders, "lines": lines, "applications": applications}[table_name]
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())

    # -- API keys ----------------------------------------------------------------------
    def insert_api_key(
        self, *, name: str, role: str, prefix: str, secret_hash: str, now: datetime
    ) -> int:
        return int(
            self.conn.execute(
                api_keys.insert()
                .values(
                    name=name, role=role, prefix=prefix, secret_hash=secret_hash, created_at=now
                )
                .returning(api_keys.c.id)
            ).scalar_one()
        )

    def api_key_by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        row = self.conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).one_or_none()
        if row is None:
            return None
        return ApiKeyRecord(
            key_id=row.id,
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            secret_hash=row.secret_hash,
            revoked=row.revoked_at is not None,
        )

    def revoke_api_key(self, prefix: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(api_keys)
            .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)


def pg_text_array(values: Iterable[str]) -> str:
    """``values`` as a PostgreSQL array literal, for a ``%s::text[]`` parameter.

    Each element is double-quoted with its backslashes and quotes escaped, so any text
    (commas, braces, spaces, the word NULL, an empty string) reads back as it was. A
    literal is a plain string to psycopg: it need not inspect a list to choose a dumper.
    """
    return "{" + ",".join(_quoted(v) for v in values) + "}"


def pg_int_array(values: Iterable[int]) -> str:
    """``values`` as a PostgreSQL array literal, for a ``%s::bigint[]`` parameter."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lookup(
    claimed: psycopg.Cursor[Any] | None,
    earlier: psycopg.Cursor[Any] | None,
    holder: psycopg.Cursor[Any],
    held: psycopg.Cursor[Any],
) -> PgLookup:
    used = None
    if claimed is not None and earlier is not None and claimed.fetchone() is None:
        row = earlier.fetchone()
        assert row is not None
        used = (str(row[0]), None if row[1] is None else int(row[1]))
    found = holder.fetchone()
    allocated = held.fetchone()
    assert allocated is not None
    application_id, line_ids, sims, states, opened = allocated
    return PgLookup(
        earlier=used,
        holder_id=None if found is None else int(found[0]),
        risk_flags=None if found is None else found[1],
        holdings=[
            Holding(SimType(sim), LineState(state), on)
            for sim, state, on in zip(sims, states, opened, strict=True)
        ]
        if found is not None
        else [],
        application_id=int(application_id),
        line_ids=[int(i) for i in line_ids],
    )


def _application_values(new: NewApplication, now: datetime) -> dict[str, Any]:
    return {
        "holder_id": new.holder_id,
        "channel": new.channel.value,
        "state": new.state.value,
        "outcome": new.outcome.value,
        "reasons": json.dumps([r.to_dict() for r in new.reasons], ensure_ascii=False),
        "usage": json.dumps(new.usage, ensure_ascii=False),
        "escalate_to_hq": new.escalate_to_hq,
        "requires_actual_users": new.requires_actual_users,
        "kyc_method": new.kyc_method,
        "submitted_by": new.submitted_by,
        "applied_on": new.applied_on,
        "created_at": now,
        "decided_at": None if new.state is ApplicationState.IN_REVIEW else now,
    }


def _line(row: Any) -> LineRecord:
    return LineRecord(line_id=row.id, sim_type=SimType(row.sim_type), state=LineState(row.state))


def sealed_individuals(engine: Engine, chunk: int = 10_000) -> Iterator[tuple[int, bytes]]:
    """Every individual holder's id and sealed fields, in id order, one chunk per query."""
    last = 0
    with engine.connect().execution_options(**READ_ONLY) as conn:
        while True:
            with conn.begin():
                rows = conn.execute(
                    select(holders.c.id, holders.c.pii)
                    .where(holders.c.id > last, holders.c.kind == HolderKind.INDIVIDUAL.value)
                    .order_by(holders.c.id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            for r in rows:
                yield int(r.id), bytes(r.pii)
            last = int(rows[-1].id)
