"""Bulk import of a carrier's book: COPY on PostgreSQL, batched inserts on SQLite.

Rows are validated before they reach the database; a rejected row is reported with
its line number. Each chunk is one transaction that inserts a row's holder (if new)
and its line together, so a row is never half-imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.contracts.book import BOOK_HEADER, BookRow, RejectedRow, parse_book_row
from carrierguard.contracts.service import identity_string, sealed_fields
from carrierguard.crypto import DataProtector
from carrierguard.errors import InvalidInput, StoreUnavailable

CHUNK_ROWS = 20_000


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    holders_seen: int = 0


def read_book(fh: IO[str]) -> Iterator[BookRow | RejectedRow]:
    """Parse the CSV stream; a wrong header stops the import before anything is written."""
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the CSV file is empty", message_ja="CSV ファイルが空です。")
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(h.strip() for h in header) != BOOK_HEADER:
        raise InvalidInput(
            f"line 1: the header must be {','.join(BOOK_HEADER)}",
            message_ja=f"1行目: ヘッダーは {','.join(BOOK_HEADER)} である必要があります。",
        )
    for cells in reader:
        if not cells:
            continue
        yield parse_book_row(cells, reader.line_num)


def _chunks(rows: Iterable[BookRow | RejectedRow], report: ImportReport) -> Iterator[list[BookRow]]:
    chunk: list[BookRow] = []
    for row in rows:
        if isinstance(row, RejectedRow):
            report.rejected.append(row)
            continue
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class BookImporter:
    """Loads validated rows into the registry of ``engine``."""

    def __init__(self, engine: Engine, protector: DataProtector) -> None:
        self.engine = engine
        self.protector = protector

    def import_file(
        self, path: Path, *, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import ``path``; ``progress`` receives the bytes read so far."""
        report = ImportReport()
        with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
            for chunk in _chunks(read_book(fh), report):
                self._write(chunk, report)
                if progress is not None:
                    progress(raw.tell())
        return report

    def _prepare(
        self, chunk: list[BookRow], report: ImportReport
    ) -> tuple[list[tuple[str, str, bytes]], list[tuple[str, str, str, date | None]]]:
        holders: dict[str, tuple[str, str, bytes]] = {}
        lines = []
        for row in chunk:
            key = self.protector.blind_index(identity_string(row.holder))
            if key not in holders:
                holders[key] = (
                    key,
                    row.holder.kind.value,
                    self.protector.seal(sealed_fields(row.holder)),
                )
            lines.append((key, row.sim_type.value, row.state.value, row.activated_on))
        report.holders_seen += len(holders)
        return list(holders.values()), lines

    def _write(self, chunk: list[BookRow], report: ImportReport) -> None:
        holders, lines = self._prepare(chunk, report)
        now = datetime.now(UTC)
        try:
            if self.engine.dialect.name == "postgresql":
                self._copy_postgres(holders, lines, now)
            else:
                self._insert_sqlite(holders, lines, now)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"import failed at a chunk ending on line {chunk[-1].line_no}: "
                f"{exc.__class__.__name__}; earlier chunks are committed"
            ) from exc
        report.imported += len(chunk)

    def _insert_sqlite(
        self,
        holders: list[tuple[str, str, bytes]],
        lines: list[tuple[str, str, str, date | None]],
        now: datetime,
    ) -> None:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        with self.engine.begin() as conn:
            dbapi = conn.connection.driver_connection
            assert dbapi is not None
            dbapi.executemany(
                "INSERT OR IGNORE INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                " VALUES (?, ?, ?, '[]', ?)",
                [(k, kind, pii, stamp) for k, kind, pii in holders],
            )
            dbapi.executemany(
                "INSERT INTO lines (holder_id, sim_type, state, opened_on, created_at, updated_at)"
                " VALUES ((SELECT id FROM holders WHERE identity_key = ?), ?, ?, ?, ?, ?)",
                [
                    (k, sim, state, act.isoformat() if act else None, stamp, stamp)
                    for k, sim, state, act in lines
                ],
            )

    def _copy_postgres(
        self,
        holders: list[tuple[str, str, bytes]],
        lines: list[tuple[str, str, str, date | None]],
        now: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS import_holders"
                    " (identity_key text, kind text, pii bytea) ON COMMIT DELETE ROWS"
                )
            )
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS import_lines"
                    " (identity_key text, sim_type text, state text, opened_on date)"
                    " ON COMMIT DELETE ROWS"
                )
            )
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                with cur.copy("COPY import_holders (identity_key, kind, pii) FROM STDIN") as cp:
                    for row in holders:
                        cp.write_row(row)
                with cur.copy(
                    "COPY import_lines (identity_key, sim_type, state, opened_on) FROM STDIN"
                ) as cp:
                    for line in lines:
                        cp.write_row(line)
            conn.execute(
                text(
                    "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                    " SELECT identity_key, kind, pii, '[]', :now FROM import_holders"
                    " ON CONFLICT (identity_key) DO NOTHING"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO lines (holder_id, sim_type, state, opened_on, created_at,"
                    " updated_at) SELECT h.id, s.sim_type, s.state, s.opened_on, :now, :now"
                    " FROM import_lines s JOIN holders h ON h.identity_key = s.identity_key"
                ),
                {"now": now},
            )
