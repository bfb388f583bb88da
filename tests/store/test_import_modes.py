"""How ``BookImporter`` writes: one bulk transaction into an empty PostgreSQL registry,
chunk by chunk into one that holds data; either way every good row once, or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select

from carrierguard.contracts.synthetic import synthetic_rows
from carrierguard.crypto import DataProtector
from carrierguard.errors import StoreUnavailable
from carrierguard.store import importer
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.schema import holder_blocks, holders, lines
from tests.dbs import fresh_postgres
from tests.integration.live import write_book

PROTECTOR = DataProtector(bytes(32))


@pytest.fixture
def engine(db_url: str) -> Any:
    eng = create_store_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_engine() -> Any:
    """PostgreSQL only: bulk mode and its failures are PostgreSQL's."""
    with fresh_postgres() as url:
        eng = create_store_engine(url)
        migrate(eng)
        yield eng
        eng.dispose()


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (holders, lines, holder_blocks)
        )


def schema_of(engine: Engine) -> set[tuple[str, str]]:
    """Foreign keys and indexes of the tables a bulk import rebuilds."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN ('lines'::regclass, 'holder_blocks'::regclass)"
            " UNION ALL SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)"
            " FROM pg_index WHERE indrelid IN ('lines'::regclass, 'holder_blocks'::regclass)"
        ).all()
    return {(str(a), str(b)) for a, b in rows}


def book(tmp_path: Path, holders_count: int = 60, seed: int = 5) -> tuple[Path, int, int]:
    """A synthetic book; returns (file, rows, distinct holders)."""
    rows = list(synthetic_rows(holders_count, seed=seed))
    distinct = len({(r[0], r[1], r[3], r[6]) for r in rows})
    return write_book(tmp_path / f"book-{seed}.csv", rows), len(rows), distinct


def test_importing_a_book_twice_adds_its_lines_but_not_its_holders(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 17)
    path, rows, distinct = book(tmp_path)
    first = importer.BookImporter(engine, PROTECTOR).import_file(path)
    held = counts(engine)
    assert (first.imported, held[0], held[1]) == (rows, distinct, rows)
    second = importer.BookImporter(engine, PROTECTOR).import_file(path)  # not empty now
    assert second.imported == rows
    assert counts(engine) == (distinct, 2 * rows, held[2])


def test_holders_forgotten_between_chunks_are_not_written_twice(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tiny memory of written holders the writer asks the database instead."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 5)
    monkeypatch.setattr(importer, "KNOWN_HOLDERS", 3)
    rows = list(synthetic_rows(30, seed=9))
    rows = rows + rows[:40]  # the same holders again, far from their first lines
    path = write_book(tmp_path / "again.csv", rows)
    report = importer.BookImporter(engine, PROTECTOR).import_file(path)
    distinct = len({(r[0], r[1], r[3], r[6]) for r in rows})
    assert report.imported == len(rows)
    assert counts(engine)[:2] == (distinct, len(rows))


@pytest.mark.postgres
def test_a_bulk_import_rebuilds_what_it_dropped(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    modes: list[bool] = []
    begin = importer._PostgresSink._begin_bulk

    def spy(self: importer._PostgresSink, cur: psycopg.Cursor[Any]) -> bool:
        modes.append(begin(self, cur))
        return modes[-1]

    monkeypatch.setattr(importer._PostgresSink, "_begin_bulk", spy)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 23)
    before = schema_of(engine)
    assert any("FOREIGN KEY" in d for _, d in before)
    path, rows, distinct = book(tmp_path)
    report = importer.BookImporter(engine, PROTECTOR).import_file(path)
    assert modes == [True]
    assert report.imported == rows
    assert counts(engine)[:2] == (distinct, rows)
    assert schema_of(engine) == before
    importer.BookImporter(engine, PROTECTOR).import_file(path)
    assert modes == [True, False]  # the registry is not empty any more


def failing_second_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    write = importer._PostgresSink._write
    calls = [0]

    def fail(self: importer._PostgresSink, cur: psycopg.Cursor[Any], chunk: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise psycopg.errors.DiskFull("no space left")
        write(self, cur, chunk)

    monkeypatch.setattr(importer._PostgresSink, "_write", fail)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 20)


@pytest.mark.postgres
def test_a_failed_bulk_import_imports_nothing_and_keeps_the_schema(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    before = schema_of(engine)
    failing_second_chunk(monkeypatch)
    path, _, _ = book(tmp_path)
    with pytest.raises(StoreUnavailable, match="nothing was imported"):
        importer.BookImporter(engine, PROTECTOR).import_file(path)
    assert counts(engine) == (0, 0, 0)
    assert schema_of(engine) == before


@pytest.mark.postgres
def test_a_failed_chunk_of_a_live_import_keeps_the_chunks_before(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    first, rows, _ = book(tmp_path, seed=1)
    importer.BookImporter(engine, PROTECTOR).import_file(first)
    failing_second_chunk(monkeypatch)
    second, second_rows, _ = book(tmp_path, seed=2)
    with pytest.raises(StoreUnavailable, match="earlier chunks are committed"):
        importer.BookImporter(engine, PROTECTOR).import_file(second)
    landed = counts(engine)[1] - rows
    assert 10 <= landed <= 30  # the first chunk of about 20 lines, nothing after it
    assert landed < second_rows


@pytest.mark.postgres
def test_an_import_that_cannot_lock_the_tables_commits_chunk_by_chunk(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader holding the lines table keeps the bulk mode off, not the import."""
    modes: list[bool] = []
    begin = importer._PostgresSink._begin_bulk

    def spy(self: importer._PostgresSink, cur: psycopg.Cursor[Any]) -> bool:
        modes.append(begin(self, cur))
        return modes[-1]

    monkeypatch.setattr(importer._PostgresSink, "_begin_bulk", spy)
    monkeypatch.setattr(importer, "BULK_LOCK_TIMEOUT", "200ms")
    before = schema_of(pg_engine)
    path, rows, distinct = book(tmp_path)
    with pg_engine.connect() as reader:
        reader.exec_driver_sql("LOCK TABLE lines IN ACCESS SHARE MODE")
        report = importer.BookImporter(pg_engine, PROTECTOR).import_file(path)
        reader.rollback()
    assert modes == [False]
    assert report.imported == rows
    assert counts(pg_engine)[:2] == (distinct, rows)
    assert schema_of(pg_engine) == before
