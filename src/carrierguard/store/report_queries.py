"""SQL of the regulator report: groups and counts in the database, a chunk at a time.

The registry may hold ~90 million lines, so nothing here reads rows one by one into
Python. Each query walks one range of primary keys (applications by ``id``, lines by
``holder_id``, which the ``ix_lines_holder_id_state`` index serves) and returns a few
grouped rows; ``contracts.report`` adds the chunks up. Everything runs in one read
transaction, a snapshot on PostgreSQL (REPEATABLE READ), so the chunks agree.

Timestamps are written in UTC by the services; on SQLite they are stored as UTC wall
time, which is what the ``+9 hours`` month expression assumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, case, exists, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.contracts.lines import LineState
from carrierguard.contracts.policy import Policy, parse_policy
from carrierguard.contracts.report import (
    ApplicationTally,
    HoldingTally,
    Report,
    ReportPeriod,
    build_report,
)
from carrierguard.errors import StoreUnavailable
from carrierguard.store.schema import actual_users, applications, holders, lines, policy_versions

CHUNK = 200_000
Progress = Callable[[int, int], None]  # (done, total) in keys of the walked table


@dataclass(frozen=True, slots=True)
class _Dialect:
    month: str
    primary_code: str
    escalate_flag: str
    decide_seconds: str


_SQLITE = _Dialect(
    month="strftime('%Y-%m', a.created_at, '+9 hours')",
    primary_code="json_extract(a.reasons, '$[0].code')",
    escalate_flag="a.escalate_to_hq = 1",
    decide_seconds="CAST(round((julianday(c.decided_at) - julianday(c.created_at)) * 86400)"
    " AS INTEGER)",
)
_POSTGRES = _Dialect(
    month="to_char(a.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM')",
    primary_code="(a.reasons::jsonb -> 0 ->> 'code')",
    escalate_flag="a.escalate_to_hq",
    decide_seconds="round(EXTRACT(EPOCH FROM (c.decided_at - c.created_at)))::bigint",
)


def _application_sql(d: _Dialect) -> str:
    return f"""
SELECT month, channel, usage, outcome, state, primary_code, escalated,
       case_state, purpose, decision_code, decide_seconds, count(*) AS n
FROM (
  SELECT {d.month} AS month, a.channel AS channel, a.usage AS usage,
         a.outcome AS outcome, a.state AS state, {d.primary_code} AS primary_code,
         CASE WHEN {d.escalate_flag} OR EXISTS (
              SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.to_state = 'escalated')
         THEN 1 ELSE 0 END AS escalated,
         c.state AS case_state, c.purpose_category AS purpose, c.decision_code AS decision_code,
         CASE WHEN c.decided_at IS NOT NULL THEN {d.decide_seconds} END AS decide_seconds
  FROM applications a LEFT JOIN cases c ON c.application_id = a.id
  WHERE a.id > :lo AND a.id <= :hi AND a.created_at >= :start AND a.created_at < :end
) t
GROUP BY month, channel, usage, outcome, state, primary_code, escalated,
         case_state, purpose, decision_code, decide_seconds
"""


@lru_cache(maxsize=65_536)
def pools_asked(usage: str) -> tuple[str, ...]:
    """The pools an application asked lines of, from its recorded ``usage`` JSON.

    Grouping on the raw text and parsing each distinct text once here is about twice
    as fast on PostgreSQL as unnesting the JSON for every row (few texts repeat a lot).
    """
    return tuple(u["pool"] for u in json.loads(usage) if u.get("requested", 0) > 0)


class ReportReader:
    """Reads the report's tallies in one snapshot; use as a context manager."""

    def __init__(self, engine: Engine, *, chunk: int = CHUNK) -> None:
        self.engine = engine
        self.chunk = chunk
        self.dialect = engine.dialect.name

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        options: dict[str, Any] = {"sqlite_begin": "DEFERRED"}
        if self.dialect == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        try:
            with self.engine.connect().execution_options(**options) as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"database error: {exc.__class__.__name__}") from exc

    def _bound(self, moment: datetime) -> datetime:
        # SQLite keeps UTC wall time without an offset; PostgreSQL compares instants.
        return moment.replace(tzinfo=None) if self.dialect == "sqlite" else moment

    def _ranges(self, conn: Connection, column: Any) -> Iterator[tuple[int, int, int, int]]:
        """(lo, hi, done, total): half-open key ranges (lo, hi] covering the column's span."""
        low, high = conn.execute(select(func.min(column), func.max(column))).one()
        if low is None:
            return
        total = int(high) - int(low) + 1
        lo = int(low) - 1
        while lo < high:
            hi = min(lo + self.chunk, int(high))
            yield lo, hi, hi - int(low) + 1, total
            lo = hi

    def application_tallies(
        self, conn: Connection, period: ReportPeriod, progress: Progress | None = None
    ) -> Iterator[ApplicationTally]:
        """Applications created in ``period``, grouped, chunk by chunk of ids."""
        sql = text(_application_sql(_POSTGRES if self.dialect == "postgresql" else _SQLITE))
        start, end = (self._bound(b) for b in period.utc_bounds())
        for lo, hi, done, total in self._ranges(conn, applications.c.id):
            params = {"lo": lo, "hi": hi, "start": start, "end": end}
            for row in conn.execute(sql, params):
                yield ApplicationTally(
                    month=row.month,
                    channel=row.channel,
                    pools=pools_asked(row.usage),
                    outcome=row.outcome,
                    state=row.state,
                    primary_code=row.primary_code,
                    escalated=bool(row.escalated),
                    case_state=row.case_state,
                    purpose=row.purpose,
                    decision_code=row.decision_code,
                    decide_seconds=None if row.decide_seconds is None else int(row.decide_seconds),
                    count=int(row.n),
                )
            if progress is not None:
                progress(done, total)

    def holding_tallies(
        self, conn: Connection, policy: Policy, progress: Progress | None = None
    ) -> Iterator[HoldingTally]:
        """Holders grouped by pool, kind, counted lines and verified actual users."""
        counted = [s.value for s in LineState if policy.counts(s)]
        pool = case(
            *((lines.c.sim_type == sim.value, p.name) for p in policy.pools for sim in p.sim_types),
            else_=None,
        ).label("pool")
        for lo, hi, done, total in self._ranges(conn, holders.c.id):
            verified = (
                exists()
                .where(actual_users.c.holder_id == lines.c.holder_id)
                .where(actual_users.c.verified.is_(True))
            )
            per = (
                select(
                    lines.c.holder_id,
                    holders.c.kind,
                    pool,
                    func.count().label("n"),
                    case((verified, 1), else_=0).label("verified"),
                )
                .join(holders, holders.c.id == lines.c.holder_id)
                .where(lines.c.holder_id > lo, lines.c.holder_id <= hi)
                .where(lines.c.state.in_(counted))
                .group_by(lines.c.holder_id, holders.c.kind, pool)
                .subquery("per")
            )
            grouped = select(
                per.c.pool, per.c.kind, per.c.n, per.c.verified, func.count().label("holders")
            ).group_by(per.c.pool, per.c.kind, per.c.n, per.c.verified)
            for row in conn.execute(grouped):
                if row.pool is None:
                    continue
                yield HoldingTally(
                    pool=row.pool,
                    kind=row.kind,
                    lines=int(row.n),
                    verified_actual_users=bool(row.verified),
                    holders=int(row.holders),
                )
            if progress is not None:
                progress(done, total)


def policy_in_force(engine: Engine, fallback: Policy) -> Policy:
    """The newest recorded policy version (what screening uses now), else ``fallback``.

    Unlike ``PolicyKeeper`` this never records anything: a report only reads.
    """
    reader = ReportReader(engine)
    with reader.snapshot() as conn:
        row = conn.execute(
            select(policy_versions.c.toml, policy_versions.c.source)
            .order_by(policy_versions.c.id.desc())
            .limit(1)
        ).one_or_none()
    return fallback if row is None else parse_policy(row.toml, source=row.source)


def read_report(
    engine: Engine,
    period: ReportPeriod,
    policy: Policy,
    *,
    now: datetime,
    chunk: int = CHUNK,
    progress: Progress | None = None,
) -> Report:
    """The whole report, read in one snapshot and folded as the chunks arrive."""
    reader = ReportReader(engine, chunk=chunk)
    with reader.snapshot() as conn:
        return build_report(
            period,
            reader.application_tallies(conn, period, progress),
            reader.holding_tallies(conn, policy, progress),
            policy,
            generated_at=now,
        )
