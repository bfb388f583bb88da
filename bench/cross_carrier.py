"""Cross-carrier count: what privacy costs, measured against a plain keyed hash.

Two figures, each beside a peer from the same run:

1. **Tokens per second** for a carrier publishing its book: blind, the hub's batch
   evaluation with its DLEQ proof, unblind and verify (RFC 9497 VOPRF, ristretto255), in
   batches of ``--batch``. Peer: HMAC-SHA256 of the same identity keys, which is what a
   shared-secret scheme (every carrier holding the key, no privacy from each other) costs.
   Also the evaluator's own CPU per token, which sizes the hub.
2. **Screening latency added** by the lookup (one evaluation + one registry query) at a
   carrier whose policy has ``[cross_carrier]``, beside the same screenings without it; the
   hub is the real app under uvicorn in this process, spoken to over loopback HTTP.

    .venv/bin/python bench/cross_carrier.py [--tokens 20000] [--batch 500] [--screenings 300]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


from carrierguard.auth import Role, issue_key
from carrierguard.config import Settings
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from carrierguard.crosscarrier import oprf
from carrierguard.crosscarrier.client import HubClient, HubSettings
from carrierguard.crosscarrier.demo import _serve as serve_in_thread
from carrierguard.store.engine import migrate
from carrierguard.web.app import build_service, create_app


def identities(n: int) -> list[str]:
    return [f"individual|タカハシイチロウ{i}|1985-04-01" for i in range(n)]


def bench_tokens(n: int, batch: int) -> None:
    keys = identities(n)
    evaluator = oprf.Evaluator(oprf.new_seed())
    evaluate_cpu = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, n, batch):
        blinded = oprf.blind(keys[start : start + batch])
        e0 = time.process_time()
        answer = evaluator.evaluate(list(blinded.elements))
        evaluate_cpu += time.process_time() - e0
        oprf.finalize(blinded, answer, evaluator.public_key)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    secret = os.urandom(32)
    h0 = time.process_time()
    for key in keys:
        hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()
    hmac_cpu = time.process_time() - h0
    ours = n / cpu
    peer = n / hmac_cpu
    print(f"tokens: {n:,} in batches of {batch}")
    print(
        f"  VOPRF (blind + evaluate + prove + verify + unblind): {ours:,.0f} tokens/s per CPU s"
        f" ({n / wall:,.0f} wall)"
    )
    print(
        f"  evaluator alone (the hub's cost): {evaluate_cpu / n * 1e6:,.0f} µs CPU per token"
        f" = {n / evaluate_cpu:,.0f} tokens/s per core"
    )
    print(f"  peer, HMAC-SHA256 of the same keys: {peer:,.0f} tokens/s per CPU s")
    print(f"  ours/peer = {ours / peer:.4f}")
    book = 90_000_000
    print(
        f"  a 90M-line book (~{book // 3:,} holders) published once: "
        f"{book // 3 / ours / 3600:.1f} CPU hours at the carrier"
    )


def bench_screening(count: int, hub_db: str | None) -> None:
    default = resources.files("carrierguard.data").joinpath("default_policy.toml")
    policy_text = default.read_text("utf-8")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        os.environ["CARRIERGUARD_XC_EVALUATOR_SEED"] = base64.b64encode(os.urandom(32)).decode()
        hub_settings = Settings(db_url=hub_db or f"sqlite:///{tmp / 'hub.db'}", data_key=bytes(32))
        hub_service = build_service(hub_settings)
        migrate(hub_service.registry.engine)
        issued = issue_key()
        with hub_service.registry.write() as tx:
            tx.insert_api_key(
                name="carrier-b",
                role=Role.CARRIER_PEER.value,
                prefix=issued.prefix,
                secret_hash=issued.secret_hash,
                now=datetime.now(UTC),
            )
        app = create_app(hub_settings, service=hub_service)
        public_key = app.state.xc_evaluator.public_key
        server, thread, url = serve_in_thread(app)  # real HTTP over loopback, like a hub
        results = {}
        for label, tail in (("without", ""), ("with", "\n[cross_carrier]\ncaps = { voice = 5 }\n")):
            policy = tmp / f"{label}.toml"
            policy.write_text(policy_text + tail, encoding="utf-8")
            service = build_service(
                Settings(
                    db_url=f"sqlite:///{tmp / (label + '.db')}",
                    data_key=bytes([3]) * 32,
                    policy_path=policy,
                )
            )
            migrate(service.registry.engine)
            if tail:
                service.cross_carrier = HubClient(
                    HubSettings(url, url, issued.token, public_key, timeout=5.0)
                )
            times = []
            for i in range(count):
                holder = HolderIdentity(
                    kind=HolderKind.INDIVIDUAL, name=f"佐藤 {i}", birth_date=date(1980, 1, 1)
                )
                application = Application(
                    channel=Channel.STORE,
                    holder=holder,
                    lines=(LineRequest(SimType.VOICE),),
                    applied_on=date(2026, 11, 28),
                    kyc_method="ic_chip_mynumber",
                )
                t0 = time.perf_counter()
                service.screen(application)
                times.append(time.perf_counter() - t0)
            times.sort()
            results[label] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
        (p50_0, p99_0), (p50_1, p99_1) = results["without"], results["with"]
        where = "PostgreSQL" if hub_db else "SQLite"
        print(
            f"screening ({count} individuals, SQLite carrier; hub under uvicorn in this process, registry on {where}; loopback HTTP):"
        )
        print(f"  without the lookup: p50 {p50_0 * 1e3:.2f} ms  p99 {p99_0 * 1e3:.2f} ms")
        print(f"  with the lookup:    p50 {p50_1 * 1e3:.2f} ms  p99 {p99_1 * 1e3:.2f} ms")
        print(f"  added p50 {(p50_1 - p50_0) * 1e3:.2f} ms; with/without p50 = {p50_1 / p50_0:.2f}")
        server.should_exit = True
        thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--screenings", type=int, default=300)
    parser.add_argument(
        "--hub-pg",
        default=os.environ.get(
            "CARRIERGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="admin URL of a PostgreSQL server for the hub's registry ('' for SQLite)",
    )
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    bench_tokens(args.tokens, args.batch)
    if not args.hub_pg:
        bench_screening(args.screenings, None)
        return
    import uuid

    import psycopg

    name = f"cg_bench_hub_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.hub_pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        bench_screening(args.screenings, f"{args.hub_pg.rsplit('/', 1)[0]}/{name}")
    finally:
        with psycopg.connect(args.hub_pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
