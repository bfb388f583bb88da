"""``carrierguard import`` on both engines: bad rows are reported, the rest imported whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from carrierguard.contracts.synthetic import synthetic_rows
from carrierguard.crypto import DataProtector
from carrierguard.store import importer
from carrierguard.store.engine import create_store_engine
from carrierguard.store.schema import holders, lines
from tests.integration.live import LiveServer, write_book

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def book_with_bad_rows(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """A synthetic book whose CSV lines 12, 102 and 202 are bad; returns (file, good rows)."""
    rows = list(synthetic_rows(120, seed=3))
    rows[10][7] = "fax"  # CSV line 12
    rows[100][3] = "1985-13-45"  # CSV line 102
    rows[200] = rows[200][:5]  # CSV line 202
    book = write_book(tmp_path / "book.csv", rows)
    return book, [r for i, r in enumerate(rows) if i not in (10, 100, 200)]


def stored_lines(db_url: str) -> tuple[Counter[tuple[str, str]], int]:
    """(sim_type, state) counts of the registry's lines, and its number of holders."""
    engine = create_store_engine(db_url)
    with engine.connect() as conn:
        found = Counter(conn.execute(select(lines.c.sim_type, lines.c.state)).all())
        holder_count = len(conn.execute(select(holders.c.id)).all())
    engine.dispose()
    return found, holder_count


def expected_lines(good: list[list[str]]) -> tuple[Counter[tuple[str, str]], int]:
    return Counter((r[7], r[8]) for r in good), len({(r[1], r[3], r[6]) for r in good})


def test_import_reports_bad_rows_by_line_and_imports_the_rest(db_url: str, tmp_path: Path) -> None:
    """``carrierguard import`` lists the three bad rows by CSV line and imports all others."""
    book, good = book_with_bad_rows(tmp_path)
    live = LiveServer(db_url, tmp_path / "cli")
    done = live.cli("import", str(book), "--show", "10")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{len(good):,} rows imported" in done.stdout
    reported = [
        ln.split()[1]
        for ln in done.stdout.splitlines()
        if ln.split()[1:2] in (["12"], ["102"], ["202"])
    ]
    assert reported == ["12", "102", "202"], done.stdout
    assert stored_lines(db_url) == expected_lines(good)


def test_import_in_many_chunks_imports_every_good_row_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 50 rows, committed by the writer thread, add up to the whole book."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 50)
    book, good = book_with_bad_rows(tmp_path)
    live = LiveServer(db_url, tmp_path / "cli")
    assert live.cli("db", "upgrade").returncode == 0
    engine = create_store_engine(db_url)
    report = importer.BookImporter(engine, DataProtector(bytes(32))).import_file(book)
    engine.dispose()
    assert report.imported == len(good)
    assert [r.line_no for r in report.rejected] == [12, 102, 202]
    assert stored_lines(db_url) == expected_lines(good)
