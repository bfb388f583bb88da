"""Bulk import of a carrier's book: COPY on PostgreSQL, batched inserts on SQLite.

Rows are validated before they reach the database; a rejected row is reported with
its line number. A row's holder (if new), candidate keys and line are written in one
transaction, so a row is never half-imported.

Parsing, blind indexes and sealing are Python work; inserting is database work. They
overlap: the reading process cuts the file into blocks of whole CSV records (bytes,
not parsed), worker processes (forked, one per core) parse, validate and prepare each
block, and a writer thread writes the prepared chunks in file order (the database
driver releases the GIL while it waits). At most a few chunks are in flight, so memory
stays flat for any file size. A worker validates, indexes and seals each holder of its
chunk once (a book has about three lines per holder) and, for PostgreSQL, encodes
holders, candidate keys and lines as binary COPY rows: the writer only puts the
holders' ids in.

Two ways of writing to PostgreSQL:

- into a registry that already holds data (which may be live): each chunk is its own
  transaction, with ``synchronous_commit`` off; the import ends with a synchronous
  COMMIT, which waits until every chunk before it is on disk, so the report never
  counts a chunk a database crash could still lose (nothing is ever half-written).
  A failed chunk stops the import; the chunks before it stay committed and the
  report says where.
- into an empty registry: the whole import is one transaction that locks the holders,
  their candidate keys and lines (screening waits), drops the foreign keys and the
  non-unique indexes of ``lines`` and ``holder_blocks`` and creates them again before
  it commits: each foreign key is checked once over the table instead of once per row.
  A failure imports nothing and leaves the schema as it was.
"""

from __future__ import annotations

import csv
import gc
import io
import multiprocessing
import os
import queue
import sqlite3
import struct
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO, Any

import numpy as np
import psycopg
import structlog
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.contracts.book import (
    BOOK_HEADER,
    BookReader,
    RejectedRow,
)
from carrierguard.contracts.identity_link import candidate_strings
from carrierguard.contracts.service import identity_string, sealed_fields
from carrierguard.crypto import DataProtector
from carrierguard.errors import InvalidInput, StoreUnavailable
from carrierguard.store.crosscarrier import forget_watermark

log = structlog.get_logger("carrierguard.store.importer")

#: CSV lines per chunk, about (a chunk ends on a record boundary).
CHUNK_ROWS = 20_000
#: Prepared chunks waiting for the writer; bounds memory whatever the file size.
QUEUED_CHUNKS = 2
MAX_WORKERS = 8
#: Bytes read from the file at a time.
READ_BYTES = 1 << 22
#: No record of a book is this long: data without a line feed in it is not a book's CSV.
MAX_LINE_BYTES = 1 << 22
#: Identity keys (and ids) of the holders written so far that the writer remembers, to
#: give a holder's later lines its id without asking the database. Past this many it
#: forgets them all and asks again.
KNOWN_HOLDERS = 1_000_000
#: How long an import into an empty registry waits for its table locks before it
#: falls back to committing chunk by chunk.
BULK_LOCK_TIMEOUT = "5s"


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    holders_seen: int = 0


@dataclass(frozen=True, slots=True)
class CopyRows:
    """Binary COPY rows of one table; each holds an 8-byte holder number where the
    writer puts the holder's id: ``id_at`` bytes from the row's start (from its end when
    negative). Row ``i`` is ``data[starts[i]:starts[i + 1]]`` (``starts``: int64 bytes).
    """

    data: bytes
    starts: bytes
    id_at: int

    @staticmethod
    def build(rows: list[bytes], id_at: int) -> CopyRows:
        ends = np.cumsum([0, *map(len, rows)], dtype=np.int64)
        return CopyRows(b"".join(rows), ends.tobytes(), id_at)


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    """One chunk ready for the database: holders numbered 0..n-1, lines pointing at them.

    ``keys[n]`` is holder n's identity key. SQLite gets the rest as tuples; PostgreSQL
    as binary COPY rows of holders (sorted by identity key), candidate keys (sorted)
    and lines (in file order).
    """

    keys: list[str]
    line_count: int
    last_line_no: int
    created_at: datetime
    holders: list[tuple[str, bytes]] = field(default_factory=list)  # (kind, sealed pii)
    blocks: list[tuple[int, str]] = field(default_factory=list)  # (holder number, key)
    lines: list[tuple[int, str, str, date | None]] = field(default_factory=list)
    holder_rows: CopyRows | None = None
    block_rows: CopyRows | None = None
    line_rows: CopyRows | None = None


# -- reading ---------------------------------------------------------------------------
def _check_header(header: list[str] | None) -> None:
    if header is None:
        raise InvalidInput("the CSV file is empty", message_ja="CSV ファイルが空です。")
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(h.strip() for h in header) != BOOK_HEADER:
        raise InvalidInput(
            f"line 1: the header must be {','.join(BOOK_HEADER)}",
            message_ja=f"1行目: ヘッダーは {','.join(BOOK_HEADER)} である必要があります。",
        )


def read_cells(fh: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data row; a wrong header stops before anything is written."""
    reader = csv.reader(fh)
    _check_header(next(reader, None))
    for cells in reader:
        if cells:
            yield reader.line_num, cells


_QUOTE, _LF = ord('"'), ord("\n")
_FIELD_START = frozenset(b",\r\n")


def record_end(data: bytes, start: int, stop: int) -> int:
    """Offset just past the last record of ``data[start:stop]``, or -1 when none ends there.

    ``start`` must be where a record starts. A record ends at a line feed outside quotes,
    as ``csv.reader`` (excel dialect) reads them: a quote opens a quoted field only at
    the start of a field, ``""`` inside one is a quote, and any other quote is a character.
    """
    if data.find(b'"', start, stop) < 0:
        return data.rfind(b"\n", start, stop) + 1 or -1
    last = -1
    quoted = False
    plain_from = start  # where the text outside quotes began
    at = data.find(b'"', start, stop)
    while at >= 0:
        if not quoted:
            if at == start or data[at - 1] in _FIELD_START:
                found = data.rfind(b"\n", plain_from, at)
                if found >= 0:
                    last = found
                quoted = True
            at = data.find(b'"', at + 1, stop)
        elif at + 1 < stop and data[at + 1] == _QUOTE:
            at = data.find(b'"', at + 2, stop)  # "" inside a quoted field
        else:
            quoted = False
            plain_from = at + 1
            at = data.find(b'"', at + 1, stop)
    if not quoted:
        found = data.rfind(b"\n", plain_from, stop)
        if found >= 0:
            last = found
    return last + 1 if last >= 0 else -1


def count_lines(data: bytes) -> int:
    """Lines as ``csv.reader`` counts them (``\\n``, ``\\r\\n`` and a lone ``\\r`` end one)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _first_record_end(data: bytes, eof: bool) -> int | None:
    """End of the first record of ``data``; None: read more first."""
    stop = 0
    while (found := data.find(b"\n", stop)) >= 0:
        stop = found + 1
        end = record_end(data, 0, stop)
        if end > 0:
            return end
    return len(data) if eof else None


def _cut(data: bytes, start: int, size: int, eof: bool) -> int | None:
    """End of the next block: whole records, about ``size`` bytes; None: read more first."""
    if len(data) - start < size and not eof:
        return None
    end = record_end(data, start, min(len(data), start + size))
    if end > start:
        return end
    end = record_end(data, start, len(data))  # a record longer than ``size``
    if end > start:
        return end
    return len(data) if eof else None


def read_blocks(raw: IO[bytes], rows: int) -> Iterator[tuple[bytes, int, int]]:
    """(bytes, line number of its first line, bytes read) of each block of whole records.

    A block holds about ``rows`` lines (by the mean length of the lines so far).
    Checks the header before the first block; a wrong header stops before anything is
    written.
    """
    data = b""
    start = 0
    eof = False
    done = 0  # bytes of the file before ``data``

    def fill() -> None:
        nonlocal data, start, eof, done
        more = raw.read(READ_BYTES)
        done += start
        data = data[start:] + more
        start = 0
        eof = not more
        if not eof and len(data) >= MAX_LINE_BYTES and b"\n" not in data:
            # Old-Mac CR-only line ends, or no text at all: refuse before holding it all.
            raise InvalidInput(
                f"no line feed in {len(data):,} bytes: lines must end in LF or CRLF "
                "(a file with CR-only line ends must be converted first)",
                message_ja="改行（LF）が見つかりません。行末は LF か CRLF にしてください"
                "（CR のみの改行は変換が必要です）。",
            )

    fill()
    while (end := _first_record_end(data, eof)) is None:
        fill()
    header_text = data[:end].decode("utf-8")
    _check_header(next(csv.reader(io.StringIO(header_text, newline="")), None))
    line = 1 + count_lines(data[:end])
    start = end
    sample = data[start : start + (1 << 16)]
    mean = max(1, len(sample) // max(1, count_lines(sample)))  # bytes per line
    while True:
        end = _cut(data, start, rows * mean, eof)
        if end is None:
            fill()
            continue
        if end <= start:
            return
        block = data[start:end]
        yield block, line, done + end
        lines = count_lines(block)
        mean = max(1, (len(block) + mean * lines) // (2 * lines)) if lines else mean
        line += lines
        start = end


def _plain_lines(data: bytes) -> list[bytes] | None:
    """The lines of a block that ``csv.reader`` would split on commas alone, if it would.

    That is a block without quotes, without carriage returns other than in CRLF, and
    without a field over the csv module's size limit (as most books are).
    """
    if b'"' in data:
        return None
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        data = data.replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    limit = csv.field_size_limit()  # characters; a UTF-8 character is one byte or more
    if len(data) > limit and max(map(len, lines)) > limit:
        return None
    return lines


def block_cells(data: bytes, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-empty row of a block from ``read_blocks``."""
    lines = _plain_lines(data)
    if lines is not None:
        data.decode("utf-8")  # refuse what is not UTF-8, as a whole
        for number, line in enumerate(lines, first_line):
            if line:
                yield number, line.decode("utf-8").split(",")
        return
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    before = first_line - 1
    for cells in reader:
        if cells:
            yield before + reader.line_num, cells


def _read_block(
    reader: BookReader, data: bytes, first_line: int
) -> tuple[list[tuple[int, int, str, str, date | None]], list[RejectedRow]]:
    """What ``reader`` makes of each non-empty row of a block: (line number, *BookLine)
    of the accepted rows, and the rejected ones.
    """
    lines = _plain_lines(data)
    if lines is not None:
        data.decode("utf-8")  # refuse what is not UTF-8, as a whole
        return reader.read_lines(lines, first_line)
    accepted: list[tuple[int, int, str, str, date | None]] = []
    rejected: list[RejectedRow] = []
    for line_no, cells in block_cells(data, first_line):
        row = reader.read(cells, line_no)
        if isinstance(row, RejectedRow):
            rejected.append(row)
        else:
            accepted.append((line_no, *row))
    return accepted, rejected


# -- preparing -------------------------------------------------------------------------
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DAY = date(2000, 1, 1).toordinal()
_INT4 = struct.Struct(">i")
_INT8 = struct.Struct(">q")
#: Binary COPY rows start with their number of fields; then the 8-byte holder id (or
#: number) of a row of holders or lines, and of a candidate key after the key.
_ID_FIELD = _INT4.pack(8)
_HOLDER_START = b"\x00\x06" + _ID_FIELD  # id, identity_key, kind, pii, risk_flags, created_at
_LINE_START = b"\x00\x06" + _ID_FIELD  # holder_id, sim_type, state, opened_on, created/updated
_BLOCK_START = b"\x00\x02"  # block, holder_id
_ID_AT = len(_LINE_START)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_HOLDERS_COPY = (
    "COPY holders (id, identity_key, kind, pii, risk_flags, created_at) FROM STDIN (FORMAT BINARY)"
)
_BLOCKS_COPY = "COPY holder_blocks (block, holder_id) FROM STDIN (FORMAT BINARY)"
_LINES_COPY = (
    "COPY lines (holder_id, sim_type, state, opened_on, created_at, updated_at)"
    " FROM STDIN (FORMAT BINARY)"
)


def _text_field(value: str) -> bytes:
    data = value.encode("utf-8")
    return _INT4.pack(len(data)) + data


@lru_cache(maxsize=65_536)
def _line_tail(sim: str, state: str, activated: date | None, stamp: bytes) -> bytes:
    """A binary COPY row of ``lines`` after its holder id (``stamp``: created/updated at)."""
    opened = (
        _INT4.pack(-1)
        if activated is None
        else _INT4.pack(4) + _INT4.pack(activated.toordinal() - _PG_EPOCH_DAY)
    )
    return _text_field(sim) + _text_field(state) + opened + stamp + stamp


def prepare_block(
    data: bytes, first_line: int, protector: DataProtector, *, copy: bool, now: datetime
) -> tuple[PreparedChunk | None, list[RejectedRow]]:
    """Validate a block's rows; number, index and seal each holder once; point lines at them.

    Holders written alike (same identity key: spaces, widths, variant kanji) are one.
    With ``copy`` the chunk comes as binary COPY rows for PostgreSQL, else as tuples;
    ``now`` is the created_at of what it creates.
    """
    reader = BookReader()
    numbers: list[int] = []  # the reader's holder number -> the chunk's
    line_starts_with: list[bytes] = []  # ... -> how its lines' COPY rows start
    by_key: dict[str, int] = {}
    holders: list[tuple[str, bytes]] = []
    blocks: list[tuple[int, str]] = []
    lines: list[tuple[int, str, str, date | None]] = []
    line_rows = bytearray()
    line_starts = array("q")
    stamp = _ID_FIELD + _INT8.pack((now - _PG_EPOCH) // timedelta(microseconds=1))
    accepted, rejected = _read_block(reader, data, first_line)
    last_line_no = max(accepted[-1][0] if accepted else 0, rejected[-1].line_no if rejected else 0)
    for _, index, sim, state, activated in accepted:
        if index >= len(numbers):  # holders new to this chunk (some on rejected rows only)
            numbers.extend([-1] * (index + 1 - len(numbers)))
            line_starts_with.extend([b""] * (index + 1 - len(line_starts_with)))
        if numbers[index] < 0:  # the holder's first accepted row in this chunk
            holder = reader.holders[index]
            key = protector.blind_index(identity_string(holder))
            number = by_key.get(key)
            if number is None:
                number = by_key[key] = len(holders)
                holders.append((holder.kind.value, protector.seal(sealed_fields(holder))))
                blocks.extend((number, protector.blind_index(b)) for b in candidate_strings(holder))
            numbers[index] = number
            line_starts_with[index] = _LINE_START + _INT8.pack(number)
        if copy:
            line_starts.append(len(line_rows))
            line_rows += line_starts_with[index]
            line_rows += _line_tail(sim, state, activated, stamp)
        else:
            lines.append((numbers[index], sim, state, activated))
    count = len(line_starts) if copy else len(lines)
    if not count:
        return None, rejected
    keys = list(by_key)
    if not copy:
        chunk = PreparedChunk(keys, count, last_line_no, now, holders, blocks, lines)
        return chunk, rejected
    line_starts.append(len(line_rows))
    # Sorted by key, holders and candidate keys go into their unique indexes in order.
    holder_rows = [
        b"".join(
            (
                _HOLDER_START,
                _INT8.pack(n),
                _text_field(key),
                _text_field(kind),
                _INT4.pack(len(pii)),
                pii,
                _EMPTY_FLAGS,
                stamp,
            )
        )
        for key, n, kind, pii in sorted(
            (key, n, kind, pii)
            for n, (key, (kind, pii)) in enumerate(zip(keys, holders, strict=True))
        )
    ]
    block_rows = [
        _BLOCK_START + _text_field(block) + _ID_FIELD + _INT8.pack(n)
        for block, n in sorted((block, n) for n, block in blocks)
    ]
    chunk = PreparedChunk(
        keys,
        count,
        last_line_no,
        now,
        holder_rows=CopyRows.build(holder_rows, _ID_AT),
        block_rows=CopyRows.build(block_rows, -8),
        line_rows=CopyRows(bytes(line_rows), line_starts.tobytes(), _ID_AT),
    )
    return chunk, rejected


_EMPTY_FLAGS = _text_field("[]")


#: What the import running in this process hands its forked workers.
_protector: DataProtector | None = None
_for_postgres = False
_started = datetime(2000, 1, 1, tzinfo=UTC)


def _prepare_block(
    job: tuple[bytes, int, int],
) -> tuple[PreparedChunk | None, list[RejectedRow]]:
    """Worker: parse, validate and prepare one block of CSV records."""
    assert _protector is not None, "workers are forked from an importing process"
    data, first_line, _ = job
    # A chunk's objects are freed by reference counting (no cycles): the cyclic
    # collector would only walk them again and again (about a tenth of the time).
    gc.disable()
    try:
        return prepare_block(data, first_line, _protector, copy=_for_postgres, now=_started)
    finally:
        gc.enable()


def _worker_started() -> None:
    """Worker: what it inherited from the importing process is never garbage."""
    gc.freeze()


def _worker_count() -> int:
    """One preparing process per core; the writer thread and the database mostly wait."""
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1)))


# -- writing ---------------------------------------------------------------------------
class _Sink:
    """Where prepared chunks go; ``write`` returns the lines committed by it."""

    def write(self, chunk: PreparedChunk) -> int:
        raise NotImplementedError

    def finish(self) -> int:
        """Commit what is pending; returns the lines that commit made durable."""
        return 0

    def abort(self) -> None:
        """Give up what is not committed yet."""

    def failure(self, where: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"import failed at {where}: {exc.__class__.__name__}; earlier chunks are committed",
            message_ja=f"取込みが失敗しました（{where}）。それまでのチャンクは登録済みです。",
        )


class _SqliteSink(_Sink):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, chunk: PreparedChunk) -> int:
        stamp = chunk.created_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        keys = chunk.keys
        with self.engine.begin() as conn:
            dbapi = conn.connection.driver_connection
            assert dbapi is not None
            dbapi.executemany(
                "INSERT OR IGNORE INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                " VALUES (?, ?, ?, '[]', ?)",
                [
                    (key, kind, pii, stamp)
                    for key, (kind, pii) in zip(keys, chunk.holders, strict=True)
                ],
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
        return chunk.line_count


class _PostgresSink(_Sink):
    """Writes chunks on one connection: chunk by chunk, or as one bulk transaction."""

    def __init__(self, engine: Engine) -> None:
        self._fairy = engine.raw_connection()
        conn = self._fairy.driver_connection
        assert isinstance(conn, psycopg.Connection)
        self.conn: psycopg.Connection[Any] = conn
        self.bulk: bool | None = None  # decided at the first chunk
        self._restore: list[sql.SQL | sql.Composed] = []
        self._pending = 0
        self._known: dict[str, int] = {}  # identity key -> holder id, of holders written
        self._known_all = True  # every holder written so far is in _known
        self._staging = False  # the temporary table for holders exists

    # Bulk mode --------------------------------------------------------------------
    def _begin_bulk(self, cur: psycopg.Cursor[Any]) -> bool:
        """Lock the tables and drop what the load rebuilds, if the registry is empty.

        False (and nothing changed) when it is not empty, or when the tables cannot be
        locked in ``BULK_LOCK_TIMEOUT`` or altered by this database role.
        """
        try:
            cur.execute(
                sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(BULK_LOCK_TIMEOUT))
            )
            cur.execute("LOCK TABLE holders, holder_blocks, lines IN ACCESS EXCLUSIVE MODE")
            cur.execute(
                "SELECT EXISTS (SELECT FROM holders) OR EXISTS (SELECT FROM holder_blocks)"
                " OR EXISTS (SELECT FROM lines)"
            )
            row = cur.fetchone()
            if row is None or row[0]:
                self.conn.rollback()
                return False
            cur.execute("SET LOCAL lock_timeout = DEFAULT")
            self._restore = self._drop_rebuilt(cur)
        except (
            psycopg.errors.LockNotAvailable,
            psycopg.errors.DeadlockDetected,
            psycopg.errors.InsufficientPrivilege,
        ):
            self.conn.rollback()
            return False
        return True

    @staticmethod
    def _drop_rebuilt(cur: psycopg.Cursor[Any]) -> list[sql.SQL | sql.Composed]:
        """Drop the foreign keys and non-unique indexes of lines and holder_blocks;
        return the statements that create them again as they were.
        """
        cur.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = 'f'"
            " AND conrelid IN ('lines'::regclass, 'holder_blocks'::regclass)"
        )
        foreign_keys = [(str(t), str(n), str(d)) for t, n, d in cur.fetchall()]
        cur.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid IN ('lines'::regclass, 'holder_blocks'::regclass)"
            " AND NOT indisunique AND NOT indisprimary"
        )
        indexes = [(str(n), str(d)) for n, d in cur.fetchall()]
        for table, name, _ in foreign_keys:
            cur.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )
        for index, _ in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
        return [sql.SQL(definition) for _, definition in indexes] + [
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
            )
            for table, name, definition in foreign_keys
        ]

    def failure(self, where: str, exc: Exception) -> StoreUnavailable:
        if not self.bulk:
            return super().failure(where, exc)
        return StoreUnavailable(
            f"import failed at {where}: {exc.__class__.__name__}; nothing was imported"
            " (an import into an empty registry is one transaction)",
            message_ja=f"取込みが失敗しました（{where}）。何も登録されていません"
            "（空の台帳への取込みは一つのトランザクションです）。",
        )

    # Chunks -----------------------------------------------------------------------
    def write(self, chunk: PreparedChunk) -> int:
        try:
            with self.conn.cursor() as cur:
                if self.bulk is None:
                    self.bulk = self._begin_bulk(cur)
                if not self.bulk:
                    cur.execute("SET LOCAL synchronous_commit = off")
                self._write(cur, chunk)
            if self.bulk:
                self._pending += chunk.line_count
                return 0
            self.conn.commit()
            return chunk.line_count
        except BaseException:
            self.conn.rollback()
            raise

    def _write(self, cur: psycopg.Cursor[Any], chunk: PreparedChunk) -> None:
        assert chunk.holder_rows and chunk.block_rows and chunk.line_rows
        ids, created = self._holder_ids(cur, chunk)
        blocks = chunk.block_rows
        numbers = _numbers(blocks)
        fresh = created[numbers]
        if fresh.any():  # a holder created now has no candidate keys yet: COPY them
            _copy(cur, _BLOCKS_COPY, _with_ids(blocks, ids, fresh))
        if not fresh.all():  # a holder of the registry may have them: skip what it has
            begin, end = _bounds(blocks)
            old = np.flatnonzero(~fresh).tolist()
            cur.execute(
                "INSERT INTO holder_blocks (block, holder_id)"
                " SELECT * FROM unnest(%b::text[], %b::int8[]) ON CONFLICT DO NOTHING",
                (
                    [blocks.data[begin[i] + 6 : end[i] - 12].decode() for i in old],
                    ids[numbers[old]].astype(np.int64).tolist(),
                ),
            )
        _copy(cur, _LINES_COPY, _with_ids(chunk.line_rows, ids))

    def _holder_ids(
        self, cur: psycopg.Cursor[Any], chunk: PreparedChunk
    ) -> tuple[np.ndarray[Any, np.dtype[Any]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Each chunk holder's id (big-endian int64), creating the new ones; which were."""
        known = self._known
        ids = np.array([known.get(key, 0) for key in chunk.keys], dtype=">i8")
        created = np.zeros(len(ids), dtype=np.bool_)
        rows = chunk.holder_rows
        assert rows is not None
        order = _numbers(rows)  # holder numbers in the order of the rows (by key)
        new = order[ids[order] == 0]
        if not len(new):
            return ids, created
        if self.bulk and self._known_all:
            # Nobody else writes (tables locked) and every holder of this import is
            # known: the new ones are new for sure and go in with COPY.
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('holders', 'id'))"
                " FROM generate_series(1, %s)",
                (len(new),),
            )
            ids[new] = [hid for (hid,) in cur.fetchall()]
            created[new] = True
            _copy(cur, _HOLDERS_COPY, _with_ids(rows, ids, created[order]))
        else:
            if not self._staging:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS cg_import_holders (n int8,"
                    " identity_key text, kind text, pii bytea, risk_flags text,"
                    " created_at timestamptz)"
                )
                self._staging = True
            cur.execute("TRUNCATE cg_import_holders")
            unknown = ids[order] == 0  # rows of the holders this import has not written
            numbered = np.arange(len(ids), dtype=">i8")  # rows keep their holder numbers
            staged = _with_ids(rows, numbered, unknown)
            _copy(cur, "COPY cg_import_holders FROM STDIN (FORMAT BINARY)", staged)
            cur.execute(
                "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                " SELECT identity_key, kind, pii, risk_flags, created_at FROM cg_import_holders"
                " ORDER BY identity_key"
                " ON CONFLICT (identity_key) DO NOTHING RETURNING identity_key, id"
            )
            inserted: dict[str, int] = dict(cur.fetchall())
            missing = [chunk.keys[n] for n in new.tolist() if chunk.keys[n] not in inserted]
            found: dict[str, int] = {}
            if missing:  # already in the registry
                cur.execute(
                    "SELECT identity_key, id FROM holders WHERE identity_key = ANY(%b)", (missing,)
                )
                found = dict(cur.fetchall())
            for n in new.tolist():
                key = chunk.keys[n]
                created[n] = key in inserted
                ids[n] = inserted[key] if created[n] else found[key]
        if len(known) + len(new) > KNOWN_HOLDERS:
            known.clear()
            self._known_all = False
        for n in new.tolist():
            known[chunk.keys[n]] = int(ids[n])
        return ids, created

    def finish(self) -> int:
        try:
            with self.conn.cursor() as cur:
                for statement in self._restore if self.bulk else ():
                    cur.execute(statement)
                if self._staging:
                    cur.execute("DROP TABLE IF EXISTS cg_import_holders")
                if not self.bulk:
                    # A transaction id makes this COMMIT write a record, and a synchronous
                    # COMMIT waits until the WAL up to it (every chunk's asynchronous
                    # commit before it) is on disk: what the report counts is durable.
                    cur.execute("SELECT txid_current()")
            self.conn.commit()
            pending, self._pending = self._pending, 0
            if self.bulk:
                self._analyze()
            return pending
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            self._fairy.close()

    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk load (the data is committed already).

        Statistics of tables that were empty say nothing of a million rows, and
        autovacuum may be off or late. A failure here is logged, never reported as a
        failed import.
        """
        try:
            with self.conn.cursor() as cur:
                cur.execute("ANALYZE holders, holder_blocks, lines")
            self.conn.commit()
        except psycopg.Error as exc:
            self.conn.rollback()
            log.warning("import_analyze_failed", error=exc.__class__.__name__)

    def abort(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self._fairy.close()


def _bounds(rows: CopyRows) -> tuple[list[int], list[int]]:
    starts = np.frombuffer(rows.starts, dtype=np.int64)
    return starts[:-1].tolist(), starts[1:].tolist()


def _id_offsets(rows: CopyRows) -> np.ndarray[Any, np.dtype[np.int64]]:
    starts = np.frombuffer(rows.starts, dtype=np.int64)
    return starts[:-1] + rows.id_at if rows.id_at >= 0 else starts[1:] + rows.id_at


def _numbers(rows: CopyRows) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The holder number in each row."""
    at = _id_offsets(rows)[:, None] + np.arange(8)
    data = np.frombuffer(rows.data, dtype=np.uint8)
    numbers: np.ndarray[Any, np.dtype[np.int64]] = data[at].copy().view(">i8").ravel()
    return numbers.astype(np.int64)


def _with_ids(
    rows: CopyRows,
    ids: np.ndarray[Any, np.dtype[Any]],
    keep: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
) -> bytes:
    """The rows (those where ``keep``) with ``ids[number]`` in place of each holder number."""
    data = np.frombuffer(rows.data, dtype=np.uint8)
    offsets = _id_offsets(rows)
    at = offsets[:, None] + np.arange(8)
    numbers = data[at].copy().view(">i8").ravel()
    out = data.copy()
    out[at] = ids[numbers].astype(">i8").view(np.uint8).reshape(-1, 8)
    if keep is not None and not keep.all():
        starts = np.frombuffer(rows.starts, dtype=np.int64)
        out = out[np.repeat(keep, np.diff(starts))]
    return out.tobytes()


def _copy(cur: psycopg.Cursor[Any], statement: str, rows: bytes | bytearray) -> None:
    with cur.copy(statement) as cp:
        cp.write(_COPY_SIGNATURE)
        cp.write(rows)
        cp.write(_COPY_TRAILER)


class _Writer:
    """The thread that writes prepared chunks in order; the first failure stops it."""

    def __init__(self, sink: _Sink, report: ImportReport) -> None:
        self._sink = sink
        self._report = report
        self._queue: queue.Queue[PreparedChunk | None] = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._abort = False
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="book-import-writer", daemon=True)
        self._thread.start()

    def _fail(self, where: str, exc: Exception) -> None:
        if isinstance(exc, SQLAlchemyError | psycopg.Error | sqlite3.Error):
            self.error = self._sink.failure(where, exc)
            self.error.__cause__ = exc
        else:  # re-raised in the reading thread by put() or close()
            self.error = exc

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None or self._abort:
                continue  # drain: nothing after a failed chunk is written
            try:
                self._report.imported += self._sink.write(chunk)
            except Exception as exc:
                self._fail(f"a chunk ending on line {chunk.last_line_no}", exc)
                self._sink.abort()
        if self._abort:
            if self.error is None:
                self._sink.abort()
            return
        if self.error is None:
            try:
                self._report.imported += self._sink.finish()
            except Exception as exc:
                self._fail("the end (indexes and foreign keys)", exc)

    def put(self, chunk: PreparedChunk) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self, *, abort: bool = False) -> None:
        self._abort = abort
        self._queue.put(None)
        self._thread.join()
        if self.error is not None and not abort:
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
        global _protector, _for_postgres, _started
        report = ImportReport()
        postgres = self.engine.dialect.name == "postgresql"
        with path.open("rb") as raw:
            blocks = read_blocks(raw, CHUNK_ROWS)
            first = next(blocks, None)  # the header is checked before anything is written
            workers = _worker_count()
            gc.freeze()  # the objects of the whole program so far: the collector skips them
            _protector, _for_postgres, _started = self.protector, postgres, datetime.now(UTC)
            pool: multiprocessing.pool.Pool | None = None
            writer: _Writer | None = None
            try:
                # Fork before the writer thread exists: a child must not inherit a held lock.
                if workers > 1:
                    pool = multiprocessing.get_context("fork").Pool(workers, _worker_started)
                sink = _PostgresSink(self.engine) if postgres else _SqliteSink(self.engine)
                writer = _Writer(sink, report)
                pending: deque[AsyncResult[tuple[PreparedChunk | None, list[RejectedRow]]]]
                pending = deque()
                for block in _chain(first, blocks):
                    if pool is None:
                        self._hand_over(_prepare_block(block), writer, report)
                    else:
                        pending.append(pool.apply_async(_prepare_block, (block,)))
                        while len(pending) > workers + QUEUED_CHUNKS:
                            self._hand_over(pending.popleft().get(), writer, report)
                    if progress is not None:
                        progress(block[2])
                while pending:
                    self._hand_over(pending.popleft().get(), writer, report)
            except BaseException:
                if writer is not None:
                    writer.close(abort=True)
                raise
            finally:
                if pool is not None:
                    pool.terminate()
                _protector = None
                gc.unfreeze()
            writer.close()
        # Imported lines carry the import's start time, which an incremental cross-carrier
        # publish may already be past: the next publish looks at every holder again.
        forget_watermark(self.engine)
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


def _chain(
    first: tuple[bytes, int, int] | None, rest: Iterator[tuple[bytes, int, int]]
) -> Iterator[tuple[bytes, int, int]]:
    if first is not None:
        yield first
        yield from rest
