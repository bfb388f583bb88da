"""Screening throughput through the real HTTP API, beside the bare database work.

    .venv/bin/python bench/screening.py                         # 1,000,000 lines, both engines
    .venv/bin/python bench/screening.py --lines 50000 --apps 2000 --engines postgres

For each engine the bench loads a synthetic book (``--lines`` lines, about 3 per
holder) with ``carrierguard import``, issues a clerk key with ``carrierguard keys
create`` and starts ``carrierguard serve --workers W``. It then sends ``--apps``
applications (one line each; 90 % for holders in the book, 10 % for new people)
from ``--concurrency`` client threads and measures decisions/s and p50/p99 latency.

Each client thread keeps an HTTP/1.1 connection open (``http.client``; a new one every
``RECONNECT_EVERY`` requests, so that the clients spread over uvicorn's workers rather
than stay where they first landed) and sends bodies encoded before the clock starts, as
the bare side has its parameters ready: the client shares the machine's cores with the
server and PostgreSQL, so it should take little.

In the same run, with the same holders, the same concurrency and the same database,
it measures the bare database work of a screening: one transaction that locks the
holder (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
counts its lines and inserts one, with psycopg / sqlite3 directly. It prints the
ratio ours/bare of decisions per second. Target on PostgreSQL: 0.5 or more.

On PostgreSQL it then runs the same bare transaction behind the same HTTP stack
(``bare_http_app.py``: uvicorn with as many workers, FastAPI, a Pydantic body) and
prints ours over that too: the share of the web framework is then on both sides, and
what is left is the cost of CarrierGuard's own work.

Under each figure it prints the CPU milliseconds per decision of the server's processes,
PostgreSQL and this client, and how many cores all other processes of the machine used
meanwhile (the machine is shared: a busy neighbour lowers both figures).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # import_book, and tests.integration.live

from tests.integration.live import LiveServer, free_port  # noqa: E402

from bare_http_app import COUNTED, bare_transaction  # noqa: E402
from carrierguard.contracts.book import parse_book_row  # noqa: E402
from carrierguard.contracts.service import identity_string, sealed_fields  # noqa: E402
from carrierguard.contracts.synthetic import synthetic_rows  # noqa: E402
from carrierguard.crypto import DataProtector  # noqa: E402
from import_book import database, run_import, write_book  # noqa: E402

SIMS = ["voice"] * 7 + ["data_sms"] + ["data"] * 2
NEW_HOLDER_SHARE = 0.10
TARGET_RATIO = 0.5
RECONNECT_EVERY = 50  # requests per HTTP connection


@dataclass(frozen=True, slots=True)
class Applicant:
    body: dict[str, Any]  # POST /v1/applications
    encoded: bytes  # the body as sent
    identity_key: str  # what the bare transaction looks the holder up by
    kind: str
    pii: bytes
    sim_type: str
    bare_encoded: bytes = b""  # the body for the bare route behind the same HTTP stack


@dataclass(frozen=True, slots=True)
class Figures:
    count: int
    seconds: float
    latencies: list[float]
    outcomes: Counter[str]
    cpu: dict[str, float]  # CPU seconds used meanwhile, by whom (see cpu_seconds)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"  {label:<5} {self.per_second:>8,.0f} decisions/s   p50 {self.pct(0.50):7.2f} ms"
            f"   p99 {self.pct(0.99):7.2f} ms   mean {statistics.fmean(self.latencies) * 1000:7.2f} ms"
        )

    def cpu_line(self) -> str:
        """CPU per decision by whom, and how busy the rest of the machine was meanwhile."""
        per = "  ".join(
            f"{who} {sec / self.count * 1000:.2f}"
            for who, sec in self.cpu.items()
            if who != "other" and sec > 0
        )
        other = self.cpu.get("other", 0.0) / self.seconds
        return f"        CPU ms per decision: {per}   (other processes: {other:.1f} cores)"


def cpu_seconds(server_group: int | None) -> dict[str, float]:
    """CPU seconds so far of the server's process group, PostgreSQL, this client and
    every other process (Linux /proc; processes that ended in between are not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "postgres": 0.0, "client": 0.0, "other": 0.0}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
        seconds = (int(rest[11]) + int(rest[12])) / tick
        if int(entry) == me:
            who = "client"
        elif server_group is not None and int(rest[2]) == server_group:
            who = "server"
        elif name == "postgres":
            who = "postgres"
        else:
            who = "other"
        used[who] += seconds
    return used


def holder_fields(cells: list[str]) -> dict[str, str]:
    names = ("kind", "name", "name_kana", "birth_date", "address", "postal_code")
    fields = dict(zip(names, cells[:6], strict=True))
    fields["corporate_number"] = cells[6]
    return {k: v for k, v in fields.items() if v}


def applicants(
    lines: int, count: int, protector: DataProtector, *, seed: int = 11
) -> list[Applicant]:
    """``count`` one-line applications: mostly holders of the book, some new people."""
    rng = random.Random(seed)
    book: list[list[str]] = []
    last_address = None
    for i, row in enumerate(synthetic_rows(lines // 3 + 1000, seed=7)):
        if i == lines:
            break
        if row[4] != last_address:  # the address carries a per-holder serial
            book.append(row)
            last_address = row[4]
    fresh = list(synthetic_rows(count, seed=seed + 1000))
    chosen = []
    for n in range(count):
        if rng.random() < NEW_HOLDER_SHARE:
            cells = list(fresh[n])
            cells[1] = cells[1] + "新"  # a name the book does not have
            cells[4] = cells[4] + "-new"
        else:
            cells = rng.choice(book)
        parsed = parse_book_row(cells, 0)
        assert not hasattr(parsed, "reason"), parsed
        holder = parsed.holder  # type: ignore[union-attr]
        sim = rng.choice(SIMS)
        body = {
            "channel": "store",
            "holder": holder_fields(cells),
            "kyc": {"method": "ic_chip_mynumber"},
            "lines": [{"sim_type": sim}],
        }
        key = protector.blind_index(identity_string(holder))
        pii = protector.seal(sealed_fields(holder))
        bare = {
            "identity_key": key,
            "kind": holder.kind.value,
            "pii": base64.b64encode(pii).decode("ascii"),
            "sim_type": sim,
        }
        chosen.append(
            Applicant(
                body,
                json.dumps(body, ensure_ascii=False).encode("utf-8"),
                key,
                holder.kind.value,
                pii,
                sim,
                json.dumps(bare).encode("utf-8"),
            )
        )
    return chosen


def run_concurrently(
    work: list[Applicant],
    concurrency: int,
    make_worker: Callable[[], Callable[[Applicant], str]],
    server_group: int | None = None,
) -> Figures:
    """Run ``work`` from ``concurrency`` threads, each with its own connection/client."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    items = iter(work)

    def thread_main() -> None:
        do = make_worker()
        mine: list[float] = []
        seen: Counter[str] = Counter()
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                break
            started = time.perf_counter()
            seen[do(item)] += 1
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            outcomes.update(seen)

    before = cpu_seconds(server_group)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(thread_main) for _ in range(concurrency)]:
            f.result()
    seconds = time.perf_counter() - started
    after = cpu_seconds(server_group)
    cpu = {who: max(0.0, after[who] - before[who]) for who in after}
    return Figures(len(latencies), seconds, latencies, outcomes, cpu)


def http_worker(live: LiveServer, token: str) -> Callable[[], Callable[[Applicant], str]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return http_client(live.port, "/v1/applications", headers, lambda a: a.encoded)


def http_client(
    port: int, path: str, headers: dict[str, str], body: Callable[[Applicant], bytes]
) -> Callable[[], Callable[[Applicant], str]]:
    """One keep-alive HTTP connection per thread, posting ``body(applicant)`` to ``path``."""

    def make() -> Callable[[Applicant], str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = 0

        def do(a: Applicant) -> str:
            nonlocal sent
            sent += 1
            if sent % RECONNECT_EVERY == 0:
                # uvicorn's workers each keep the connections they accepted: reconnecting
                # now and then spreads eight clients over the workers as many would be.
                conn.close()
            conn.request("POST", path, body=body(a), headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 201:
                raise RuntimeError(f"{r.status}: {data[:300]!r}")
            decision: str = json.loads(data)["decision"]
            return decision

        return do

    return make


@contextmanager
def bare_http_server(db_url: str, workers: int) -> Iterator[tuple[int, int]]:
    """``bare_http_app`` under uvicorn with ``workers`` processes; yields (port, group)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_http_app:create", "--factory",
         "--workers", str(workers), "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=BENCH,
        env={**os.environ, "CG_BARE_DB": db_url},
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bare_http_app did not start") from None
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


#: Bare connections stay open until the engine is done: a backend that exited before the
#: CPU was read would not be counted.
OPEN: list[Any] = []


def bare_postgres(url: str) -> Callable[[], Callable[[Applicant], str]]:
    def make() -> Callable[[Applicant], str]:
        conn = psycopg.connect(url)
        OPEN.append(conn)

        def do(a: Applicant) -> str:
            bare_transaction(conn, a.identity_key, a.kind, a.pii, a.sim_type)
            return "bare"

        return do

    return make


def bare_sqlite(url: str) -> Callable[[], Callable[[Applicant], str]]:
    path = url.removeprefix("sqlite:///")

    def make() -> Callable[[Applicant], str]:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        OPEN.append(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as the registry runs it
        marks = ",".join("?" * len(COUNTED))

        def do(a: Applicant) -> str:
            now = datetime.now(UTC).isoformat(" ")
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT id FROM holders WHERE identity_key = ?", (a.identity_key,)
                ).fetchone()
                if row is None:
                    row = conn.execute(
                        "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                        " VALUES (?, ?, ?, '[]', ?) RETURNING id",
                        (a.identity_key, a.kind, a.pii, now),
                    ).fetchone()
                conn.execute(
                    f"SELECT count(*) FROM lines WHERE holder_id = ? AND state IN ({marks})",
                    (row[0], *COUNTED),
                ).fetchone()
                conn.execute(
                    "INSERT INTO lines (holder_id, sim_type, state, opened_on, created_at,"
                    " updated_at) VALUES (?, ?, 'active', ?, ?, ?)",
                    (row[0], a.sim_type, date.today().isoformat(), now, now),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return "bare"

        return do

    return make


def bench_engine(kind: str, book: Path, args: argparse.Namespace, workdir: Path) -> float:
    """Load, serve, measure; return ours/bare."""
    with database(kind, workdir) as db_url:
        live = LiveServer(db_url, workdir, workers=args.workers, log_level=args.log_level)
        loaded = run_import(live, book)
        if loaded.exit_code != 0:
            raise RuntimeError(loaded.output[-2000:])
        print(
            f"{kind}: imported {loaded.rows:,} lines in {loaded.seconds:.1f} s"
            f" ({loaded.rows_per_s:,.0f} rows/s, command CPU {loaded.cpu_seconds:.1f} s)"
        )
        protector = DataProtector(
            base64.urlsafe_b64decode(live.env["CARRIERGUARD_DATA_KEY"].encode("ascii"))
        )
        work = applicants(args.lines, args.apps + args.warmup, protector)
        warm, work = work[: args.warmup], work[args.warmup :]
        token = live.create_key("clerk")
        with live:
            run_concurrently(warm, args.concurrency, http_worker(live, token))
            assert live.proc is not None
            ours = run_concurrently(work, args.concurrency, http_worker(live, token), live.proc.pid)
        bare_make = bare_postgres(db_url) if kind == "postgres" else bare_sqlite(db_url)
        run_concurrently(warm, args.concurrency, bare_make)
        bare = run_concurrently(work, args.concurrency, bare_make)
        while OPEN:
            OPEN.pop().close()
        stack = None
        if kind == "postgres":  # the same transaction behind uvicorn + FastAPI
            with bare_http_server(db_url, args.workers) as (port, group):
                make = http_client(
                    port, "/bare", {"Content-Type": "application/json"}, lambda a: a.bare_encoded
                )
                run_concurrently(warm, args.concurrency, make)
                stack = run_concurrently(work, args.concurrency, make, group)
    ratio = ours.per_second / bare.per_second
    print(
        f"{kind}: {args.apps:,} applications, concurrency {args.concurrency},"
        f" {args.workers} uvicorn workers; decisions {dict(ours.outcomes)}"
    )
    print(ours.line("ours"))
    print(ours.cpu_line())
    print(bare.line("bare"))
    print(bare.cpu_line())
    verdict = ""
    if kind == "postgres":
        verdict = f"  (target {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})"
    print(f"  ours/bare = {ratio:.2f}{verdict}", flush=True)
    if stack is not None:
        print(stack.line("bare behind uvicorn+FastAPI"))
        print(stack.cpu_line())
        print(
            f"  ours/bare-behind-the-same-HTTP-stack = {ours.per_second / stack.per_second:.2f}"
            "  (what CarrierGuard's own work costs, the web framework counted on both sides)",
            flush=True,
        )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the book")
    parser.add_argument("--apps", type=int, default=10_000, help="applications to time")
    parser.add_argument("--warmup", type=int, default=200, help="untimed applications first")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--engines", default="postgres,sqlite")
    parser.add_argument("--log-level", default="info", help="server log level (logs to a file)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cg-screening-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    book = workdir / f"book-{args.lines}.csv"
    if not book.exists():
        write_book(book, args.lines)
    print(f"book: {args.lines:,} lines ({book})", flush=True)
    for kind in args.engines.split(","):
        bench_engine(kind, book, args, workdir / kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
