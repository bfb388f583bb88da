"""Bulk import of a carrier's book: COPY on PostgreSQL, batched inserts on SQLite.

Rows are validated before they reach the database; a rejected row is reported with
its line number. Each chunk is one transaction that inserts a row's holder (if new)
and its line together, so a row is never half-imported.

Parsing, blind indexes and sealing are Python work; inserting is database work. They
overlap: worker processes (forked, one per core) validate and prepare chunks while a
writer thread commits them in file order (the database driver releases the GIL while
it waits). At most a few chunks are in flight, so memory stays flat for any file size.
A failed chunk stops the import; the chunks before it stay committed and the report
says where it stopped.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.contracts.book import BOOK_HEADER, BookRow, RejectedRow, parse_book_row
from carrierguard.contracts.identity_link import candidate_strings
from carrierguard.contracts.model import HolderIdentity
from carrierguard.contracts.service import identity_string, sealed_fields
from carrierguard.crypto import DataProtector
from carrierguard.errors import InvalidInput, StoreUnavailable

CHUNK_ROWS = 20_000
#: Prepared chunks waiting for the writer; bounds memory whatever the file size.
QUEUED_CHUNKS = 2
MAX_WORKERS = 8


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    holders_seen: int = 0


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """One chunk ready for the database: holders numbered 0..n-1, lines pointing at them."""

    holders: list[tuple[int, str, str, bytes]]  # (number, identity key, kind, sealed pii)
    lines: list[tuple[int, str, str, date | None]]  # (holder number, sim, state, activated)
    last_line_no: int
    blocks: list[tuple[int, str]] = field(default_factory=list)  # (holder number, candidate key)


def read_cells(fh: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data row; a wrong header stops before anything is written."""
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
        if cells:
            yield reader.line_num, cells


def read_book(fh: IO[str]) -> Iterator[BookRow | RejectedRow]:
    """Parse the CSV stream into validated or rejected rows."""
    for line_no, cells in read_cells(fh):
        yield parse_book_row(cells, line_no)


def _batches(
    cells: Iterable[tuple[int, list[str]]],
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for item in cells:
        batch.append(item)
        if len(batch) >= CHUNK_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def prepare_chunk(rows: list[BookRow], protector: DataProtector) -> PreparedChunk:
    """Number the chunk's holders, index and seal each once, and point the lines at them."""
    # A holder's rows usually sit together: the cache by identity saves most of the work.
    numbers: dict[HolderIdentity, int] = {}
    holders: list[tuple[int, str, str, bytes]] = []
    lines: list[tuple[int, str, str, date | None]] = []
    by_key: dict[str, int] = {}
    blocks: list[tuple[int, str]] = []
    for row in rows:
        number = numbers.get(row.holder)
        if number is None:
            key = protector.blind_index(identity_string(row.holder))
            number = by_key.get(key)
            if number is None:  # the same person written differently (spaces, widths)
                number = by_key[key] = len(holders)
                sealed = protector.seal(sealed_fields(row.holder))
                holders.append((number, key, row.holder.kind.value, sealed))
                blocks.extend(
                    (number, protector.blind_index(b)) for b in candidate_strings(row.holder)
                )
            numbers[row.holder] = number
        lines.append((number, row.sim_type.value, row.state.value, row.activated_on))
    return PreparedChunk(holders, lines, rows[-1].line_no, blocks)


#: The protector of the import running in this process, inherited by forked workers.
_protector: DataProtector | None = None


def _prepare_batch(
    batch: list[tuple[int, list[str]]],
) -> tuple[PreparedChunk | None, list[RejectedRow]]:
    """Worker: validate one batch of CSV rows and prepare the good ones."""
    assert _protector is not None, "workers are forked from an importing process"
    parsed = [parse_book_row(cells, line_no) for line_no, cells in batch]
    good = [r for r in parsed if isinstance(r, BookRow)]
    rejected = [r for r in parsed if isinstance(r, RejectedRow)]
    return (prepare_chunk(good, _protector) if good else None), rejected


def _worker_count() -> int:
    """One preparing process per core, leaving the database and the writer room."""
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1)))


class _Writer:
    """The thread that commits prepared chunks in order; the first failure stops it."""

    def __init__(self, write: Callable[[PreparedChunk], None], report: ImportReport) -> None:
        self._write = write
        self._report = report
        self._queue: queue.Queue[PreparedChunk | None] = queue.Queue(maxsize=QUEUED_CHUNKS)
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="book-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drain: nothing after a failed chunk is written
            try:
                self._write(chunk)
            except (SQLAlchemyError, psycopg.Error, sqlite3.Error) as exc:
                self.error = StoreUnavailable(
                    f"import failed at a chunk ending on line {chunk.last_line_no}: "
                    f"{exc.__class__.__name__}; earlier chunks are committed"
                )
                self.error.__cause__ = exc
                continue
            except Exception as exc:  # re-raised in the reading thread by put() or close()
                self.error = exc
                continue
            self._report.imported += len(chunk.lines)

    def put(self, chunk: PreparedChunk) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


class BookImporter:
    """Loads validated rows into the registry of ``engine``."""

    def __init__(self, engine: Engine, protector: DataProtector) -> None:
        self.engine = engine
        self.protector = protector

    def import_file(
        self, path: Path, *, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import ``path``; ``progress`` receives the bytes read so far."""
        global _protector
        report = ImportReport()
        write = self._copy_postgres if self.engine.dialect.name == "postgresql" else self._sqlite
        workers = _worker_count()
        _protector = self.protector
        # Fork before the writer thread exists: a child must not inherit a held lock.
        pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
        writer = _Writer(write, report)
        try:
            with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
                pending: deque[AsyncResult[tuple[PreparedChunk | None, list[RejectedRow]]]]
                pending = deque()
                for batch in _batches(read_cells(fh)):
                    if pool is None:
                        self._hand_over(_prepare_batch(batch), writer, report)
                    else:
                        pending.append(pool.apply_async(_prepare_batch, (batch,)))
                        while len(pending) > workers + QUEUED_CHUNKS:
                            self._hand_over(pending.popleft().get(), writer, report)
                    if progress is not None:
                        progress(raw.tell())
                while pending:
                    self._hand_over(pending.popleft().get(), writer, report)
        finally:
            if pool is not None:
                pool.terminate()
            _protector = None
            writer.close()
        return report

    @staticmethod
    def _hand_over(
        prepared: tuple[PreparedChunk | None, list[RejectedRow]],
        writer: _Writer,
        report: ImportReport,
    ) -> None:
        chunk, rejected = prepared
        report.rejected.extend(rejected)
        if chunk is not None:
            report.holders_seen += len(chunk.holders)
            writer.put(chunk)

    def _sqlite(self, chunk: PreparedChunk) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        keys = [key for _, key, _, _ in chunk.holders]
        with self.engine.begin() as conn:
            dbapi = conn.connection.driver_connection
            assert dbapi is not None
            dbapi.executemany(
                "INSERT OR IGNORE INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                " VALUES (?, ?, ?, '[]', ?)",
                [(key, kind, pii, stamp) for _, key, kind, pii in chunk.holders],
            )
            ids = [
                dbapi.execute("SELECT id FROM holders WHERE identity_key = ?", (key,)).fetchone()[0]
                for key in keys
            ]
            dbapi.executemany(
                "INSERT OR IGNORE INTO holder_blocks (block, holder_id) VALUES (?, ?)",
                [(block, ids[n]) for n, block in chunk.blocks],
            )
            dbapi.executemany(
                "INSERT INTO lines (holder_id, sim_type, state, opened_on, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (ids[n], sim, state, act.isoformat() if act else None, stamp, stamp)
                    for n, sim, state, act in chunk.lines
                ],
            )

    def _copy_postgres(self, chunk: PreparedChunk) -> None:
        now = datetime.now(UTC)
        keys = [key for _, key, _, _ in chunk.holders]
        with self.engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                cur.execute(
                    "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                    " SELECT k, kind, pii, '[]', %s"
                    " FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS t(k, kind, pii)"
                    " ON CONFLICT (identity_key) DO NOTHING",
                    (
                        now,
                        keys,
                        [kind for _, _, kind, _ in chunk.holders],
                        [pii for _, _, _, pii in chunk.holders],
                    ),
                )
                cur.execute(
                    "SELECT identity_key, id FROM holders WHERE identity_key = ANY(%s)", (keys,)
                )
                found: dict[str, int] = dict(cur.fetchall())
                ids = [found[key] for key in keys]
                if chunk.blocks:
                    cur.execute(
                        "INSERT INTO holder_blocks (block, holder_id)"
                        " SELECT * FROM unnest(%s::text[], %s::int8[])"
                        " ON CONFLICT DO NOTHING",
                        ([b for _, b in chunk.blocks], [ids[n] for n, _ in chunk.blocks]),
                    )
                with cur.copy(
                    "COPY lines (holder_id, sim_type, state, opened_on, created_at, updated_at)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as cp:
                    cp.set_types(["int8", "text", "text", "date", "timestamptz", "timestamptz"])
                    for n, sim, state, act in chunk.lines:
                        cp.write_row((ids[n], sim, state, act, now, now))
