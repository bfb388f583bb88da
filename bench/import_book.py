"""Import a synthetic 1,000,000-row book with ``carrierguard import`` and report rows/s.

    .venv/bin/python bench/import_book.py                       # 1,000,000 rows into PostgreSQL
    .venv/bin/python bench/import_book.py --lines 100000 --sqlite   # smaller, and SQLite too

The book comes from ``carrierguard.contracts.synthetic`` (about 3 lines per holder);
every ``--bad-every``-th row is spoiled (unknown SIM type, impossible date, missing
cells). The real command runs as a subprocess on a fresh database; the figure is the
command's wall time, start-up included (the command's own figure, from the first byte
read, is printed beside it). Afterwards the bench checks that the command exited 1,
listed each spoiled row by its CSV line, and that the registry holds exactly the
other rows. Target on PostgreSQL: 50,000 rows/s or more.

Peer, measured in the same run on the same database: a bare ``COPY`` of the same CSV
bytes with psycopg into a table of one text column (no parsing into cells, no index,
no constraint, no encryption): the rate at which this PostgreSQL takes in the book's
rows at all. The ratio ours/peer says how close the import comes to it; the machine's
load average is printed with each figure, since the machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.dbs import fresh_postgres  # noqa: E402
from tests.integration.live import LiveServer  # noqa: E402

from carrierguard.contracts.book import BOOK_HEADER  # noqa: E402
from carrierguard.contracts.synthetic import synthetic_rows  # noqa: E402
from carrierguard.store.engine import create_store_engine  # noqa: E402

LINES_PER_HOLDER = 3.0  # what synthetic_rows averages (corporates hold five times more)
TARGET_ROWS_PER_S = 50_000


def spoil(row: list[str], n: int) -> list[str]:
    """One of three kinds of bad row, in turn."""
    bad = list(row)
    if n % 3 == 0:
        bad[7] = "fax"
    elif n % 3 == 1:
        bad[9] = "2024-02-30"
    else:
        bad = bad[:6]
    return bad


def write_book(path: Path, lines: int, *, bad_every: int = 0, seed: int = 7) -> list[int]:
    """Write exactly ``lines`` rows to ``path``; return the CSV line numbers spoiled."""
    spoiled = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(BOOK_HEADER)
        holders = math.ceil(lines / LINES_PER_HOLDER) + 1000
        for i, row in enumerate(synthetic_rows(holders, seed=seed)):
            if i == lines:
                break
            if bad_every and i % bad_every == bad_every - 1:
                spoiled.append(i + 2)  # the header is line 1
                row = spoil(row, len(spoiled))
            writer.writerow(row)
        else:
            raise RuntimeError("the synthetic book ran short; raise the holder count")
    return spoiled


@dataclass(frozen=True, slots=True)
class ImportRun:
    rows: int
    seconds: float
    cpu_seconds: float  # of the command (all threads); the database's own CPU is not in it
    exit_code: int
    output: str
    inside_seconds: float = 0.0  # the command's own figure, start-up excluded

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def run_import(live: LiveServer, book: Path) -> ImportRun:
    """``carrierguard import BOOK --db URL`` as a subprocess, timed from outside."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = live.cli("import", str(book), "--show", "1000000", timeout=7200)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"([\d,]+) rows imported in ([\d.]+) s", done.stdout)
    rows = int(found.group(1).replace(",", "")) if found else 0
    inside = float(found.group(2)) if found else 0.0
    return ImportRun(rows, seconds, cpu, done.returncode, done.stdout + done.stderr, inside)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def bare_copy(db_url: str, book: Path) -> float:
    """Seconds to COPY the book's bytes into a one-column table (the peer), then drop it."""
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE bench_bare_copy (line text)")
        started = time.perf_counter()
        # Each CSV line is one field: a delimiter and a quote that never occur in text.
        with (
            conn.cursor().copy(
                "COPY bench_bare_copy FROM STDIN"
                " (FORMAT csv, HEADER true, DELIMITER E'\\x01', QUOTE E'\\x02')"
            ) as copy,
            book.open("rb") as fh,
        ):
            while data := fh.read(1 << 20):
                copy.write(data)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare_copy")
    return seconds


def reported_lines(output: str) -> list[int]:
    """CSV line numbers in the command's table of rejected rows."""
    return [int(m.group(1)) for m in re.finditer(r"^\W*(\d+)\s*│", output, re.MULTILINE)]


def count_lines(db_url: str) -> int:
    engine = create_store_engine(db_url)
    with engine.connect() as conn:
        n = int(conn.exec_driver_sql("SELECT count(*) FROM lines").scalar_one())
    engine.dispose()
    return n


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL of ``kind`` (a new PostgreSQL database is dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
    else:
        with fresh_postgres() as url:
            yield url


def check_and_print(kind: str, run: ImportRun, lines: int, spoiled: list[int], db_url: str) -> bool:
    stored = count_lines(db_url)
    listed = reported_lines(run.output)
    ok = run.exit_code == 1 and listed == spoiled and stored == run.rows == lines - len(spoiled)
    inside = run.rows / run.inside_seconds if run.inside_seconds else 0.0
    print(
        f"{kind:<10} {run.rows:>11,} rows in {run.seconds:7.1f} s = {run.rows_per_s:>9,.0f} rows/s"
        f"  (command CPU {run.cpu_seconds:.1f} s; without start-up {run.inside_seconds:.1f} s ="
        f" {inside:,.0f} rows/s; rejected {len(listed)} listed by line;"
        f" registry holds {stored:,} lines) {'OK' if ok else 'MISMATCH'}; {load_average()}"
    )
    if not ok:
        print(run.output[-3000:])
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--bad-every", type=int, default=100_000, help="spoil every Nth row")
    parser.add_argument("--sqlite", action="store_true", help="also import into SQLite")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cg-import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / f"book-{args.lines}.csv"
    started = time.perf_counter()
    spoiled = write_book(book, args.lines, bad_every=args.bad_every)
    print(
        f"book: {args.lines:,} rows, {len(spoiled)} spoiled, {book.stat().st_size / 1e6:.0f} MB,"
        f" written in {time.perf_counter() - started:.1f} s ({book})"
    )
    print(f"before the import: {load_average()}")
    ok = True
    for kind in ["postgres", *(["sqlite"] if args.sqlite else [])]:
        with database(kind, workdir / kind) as db_url:
            live = LiveServer(db_url, workdir / kind)
            run = run_import(live, book)
            ok &= check_and_print(kind, run, args.lines, spoiled, db_url)
            if kind == "postgres":
                peer = bare_copy(db_url, book)
                peer_rate = args.lines / peer
                print(
                    f"{'peer':<10} {args.lines:>11,} rows in {peer:7.1f} s = {peer_rate:>9,.0f} rows/s"
                    f"  (bare COPY of the same CSV bytes into one text column); {load_average()}"
                )
                print(f"           ours/peer = {run.rows_per_s / peer_rate:.3f}")
                verdict = "meets" if run.rows_per_s >= TARGET_ROWS_PER_S else "MISSES"
                print(f"           target {TARGET_ROWS_PER_S:,} rows/s on PostgreSQL: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
