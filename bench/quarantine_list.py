"""Time ``list(limit=50)`` of the quarantine at N held messages: database against directory.

    .venv/bin/python bench/quarantine_list.py [--entries 100000] [--db URL]

Fills both stores with the same entries (the directory's index files are written directly,
without put's per-file fsync, since only listing is timed), then times the newest page and
a page deep inside the list, and prints the ratio directory / database. The default
database is a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from carrierguard.mail.quarantine import Quarantine, QuarantineEntry, QuarantineStore
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.quarantine import DbQuarantine

RAW = b"Subject: bench\r\n\r\n" + b"x" * 4000 + b"\r\n"


def entries(n: int) -> list[QuarantineEntry]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        QuarantineEntry(
            id=f"{i:024x}",
            received_at=(start + timedelta(seconds=i)).isoformat(timespec="seconds"),
            mail_from="a@shop.example",
            recipients=("u@example.net",),
            header_from="shop.example",
            reasons=("DMARC_FAIL",),
            size=len(RAW),
        )
        for i in range(n)
    ]


def fill_directory(directory: Path, items: list[QuarantineEntry]) -> QuarantineStore:
    store = QuarantineStore(directory)
    for entry in items:
        (directory / f"{entry.id}.eml").write_bytes(RAW)
        (directory / f"{entry.id}.json").write_text(json.dumps(asdict(entry)), encoding="utf-8")
    return store


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) if runs < 3 else statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--db", default="")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cg-qbench-") as tmp:
        items = entries(args.entries)
        engine = create_store_engine(args.db or f"sqlite:///{tmp}/q.db")
        migrate(engine)
        db = DbQuarantine(engine, bytes(range(32)))
        t0 = time.perf_counter()
        for start in range(0, len(items), 2000):
            db.import_entries((e, RAW) for e in items[start : start + 2000])
        print(f"filled database: {len(items)} entries in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        directory = fill_directory(Path(tmp) / "dir", items)
        print(f"filled directory: {len(items)} entries in {time.perf_counter() - t0:.1f} s")
        middle = items[len(items) // 2].id
        stores: dict[str, Quarantine] = {"database": db, "directory": directory}
        figures: dict[str, tuple[float, float]] = {}
        for name, store in stores.items():
            runs = args.runs if name == "database" else max(1, args.runs // 2)
            newest = best(lambda s=store: s.list(limit=50, newest_first=True), runs)
            deep = best(lambda s=store: s.list(limit=50, after=middle), runs)
            figures[name] = (newest, deep)
            print(f"{name:9}  newest page {newest * 1000:9.2f} ms   page after #{len(items) // 2} "
                  f"{deep * 1000:9.2f} ms")  # fmt: skip
        ratio_newest = figures["directory"][0] / figures["database"][0]
        ratio_deep = figures["directory"][1] / figures["database"][1]
        print(f"ratio directory/database: newest page {ratio_newest:.0f}x, deep page "
              f"{ratio_deep:.0f}x ({engine.dialect.name}, {len(items)} entries)")  # fmt: skip
        engine.dispose()


if __name__ == "__main__":
    main()
