"""The cross-carrier count in ``carrierguard demo``: a hub, another carrier, and us.

Everything runs in this process on temporary SQLite files, through the same code a
deployment runs: the hub is the web app served by uvicorn on a free port of 127.0.0.1 (its
evaluator and registry routes, over real HTTP), the other carrier publishes with
``publish_changes``, and our screening asks the hub through ``HubClient``.
"""

from __future__ import annotations

import base64
import os
import socket
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

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
from carrierguard.contracts.service import ScreeningService
from carrierguard.crosscarrier import oprf
from carrierguard.crosscarrier.client import HubClient, HubSettings
from carrierguard.crosscarrier.publish import publish_changes
from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import migrate
from carrierguard.store.registry import ApplicationRecord

POLICY_TAIL = '\n[cross_carrier]\ncaps = { voice = 5 }\non_unavailable = "approve"\n'
PERSON = ("渡邉 健太", date(1979, 11, 3))  # five voice lines at the other carrier
WRITTEN_HERE = "渡辺　健太"  # how our shop writes the same person


def _service(settings: Settings) -> ScreeningService:
    from carrierguard.web.app import build_service

    service = build_service(settings)
    migrate(service.registry.engine)
    return service


def _application(name: str, born: date, on: date) -> Application:
    return Application(
        channel=Channel.STORE,
        holder=HolderIdentity(kind=HolderKind.INDIVIDUAL, name=name, birth_date=born),
        lines=(LineRequest(SimType.VOICE),),
        applied_on=on,
        kyc_method="ic_chip_mynumber",
    )


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve ``app`` on a free port of 127.0.0.1 from a daemon thread; returns its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the demo hub did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def run_cross_carrier_demo(console: Console) -> list[tuple[str, ApplicationRecord]]:
    """Show a person with 5 lines elsewhere asking us for a 6th; returns our decisions."""
    default = resources.files("carrierguard.data").joinpath("default_policy.toml")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        seed = oprf.new_seed()
        previous = os.environ.get("CARRIERGUARD_XC_EVALUATOR_SEED")
        os.environ["CARRIERGUARD_XC_EVALUATOR_SEED"] = base64.b64encode(seed).decode()
        try:
            from carrierguard.web.app import create_app

            hub_settings = Settings(db_url=f"sqlite:///{tmp / 'hub.db'}", data_key=os.urandom(32))
            hub_service = _service(hub_settings)
            keys = {}
            with hub_service.registry.write() as tx:
                for carrier in ("other-carrier", "demo-carrier"):
                    issued = issue_key()
                    tx.insert_api_key(
                        name=carrier,
                        role=Role.CARRIER_PEER.value,
                        prefix=issued.prefix,
                        secret_hash=issued.secret_hash,
                        now=datetime.now(UTC),
                    )
                    keys[carrier] = issued.token
            hub_app = create_app(hub_settings, service=hub_service)
        finally:
            if previous is None:
                os.environ.pop("CARRIERGUARD_XC_EVALUATOR_SEED", None)
            else:
                os.environ["CARRIERGUARD_XC_EVALUATOR_SEED"] = previous
        public = oprf.Evaluator(seed).public_key
        server, thread, url = _serve(hub_app)

        def client(carrier: str) -> HubClient:
            return HubClient(HubSettings(url, url, keys[carrier], public, timeout=5.0))

        other = _service(Settings(db_url=f"sqlite:///{tmp / 'other.db'}", data_key=os.urandom(32)))
        for month in range(1, 11, 2):  # five voice lines, two months apart
            other.screen(_application(PERSON[0], PERSON[1], date(2025, month, 1)))
        published = publish_changes(
            other.registry.engine, other.protector, client("other-carrier"), other.policy
        )
        policy = tmp / "policy.toml"
        policy.write_text(default.read_text("utf-8") + POLICY_TAIL, encoding="utf-8")
        us = _service(
            Settings(
                db_url=f"sqlite:///{tmp / 'us.db'}", data_key=os.urandom(32), policy_path=policy
            )
        )
        us.cross_carrier = client("demo-carrier")
        today = us.today()
        records = [
            (
                f"他社で音声5回線の {WRITTEN_HERE} が当社で1回線 / "
                "5 voice lines at another carrier, asks us for 1",
                us.screen(_application(WRITTEN_HERE, PERSON[1], today)).record,
            ),
            (
                "他社に回線のない人 / nobody the hub knows",
                us.screen(_application("中村 美咲", date(1992, 6, 15), today)).record,
            ),
        ]
        with hub_service.registry.engine.connect() as conn:
            stored = conn.execute(xc.xc_holdings.select()).all()
        table = Table(title="照会基盤が保持するもの / What the hub holds", show_lines=False)
        table.add_column("token (VOPRF)")
        table.add_column("carrier")
        table.add_column("voice")
        for row in stored:
            table.add_row(f"{row.token[:16]}…", row.carrier, str(row.voice))
        console.print(
            f"他社が照会基盤へ送信 / the other carrier published {published.published} "
            "holder(s) as tokens: 氏名・生年月日・住所は送りません / no name, date or address"
        )
        console.print(table)
        server.should_exit = True
        thread.join(timeout=5)
        for service in (hub_service, other, us):
            service.registry.engine.dispose()
    return records
