"""``carrierguard xc``: the cross-carrier line count (C1), at the hub and at a carrier.

At the hub: ``xc keygen`` makes the evaluator's key. At a carrier: ``xc publish`` tells the
hub's registry how many lines each of its individual holders has, as tokens (never names),
sending only what changed since the last run.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from carrierguard.cli.progress import counting_progress
from carrierguard.config import Settings
from carrierguard.contracts.policy import load_policy
from carrierguard.crosscarrier import oprf
from carrierguard.crosscarrier.client import HubClient, HubSettings
from carrierguard.crosscarrier.publish import publish_changes
from carrierguard.crypto import DataProtector
from carrierguard.errors import InvalidInput
from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import create_store_engine, migrate

app = typer.Typer(
    help="他社回線数の照会（個人を特定しないトークン） / Cross-carrier line count by token.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command("keygen")
def keygen() -> None:
    """評価鍵を作る（照会基盤用） / Make the hub's VOPRF evaluator key.

    Prints the secret seed (for CARRIERGUARD_XC_EVALUATOR_SEED at the hub, keep it like a
    private key) and the public key (for CARRIERGUARD_XC_PUBLIC_KEY at every carrier).
    """
    seed = oprf.new_seed()
    public = oprf.Evaluator(seed).public_key
    typer.echo(
        json.dumps(
            {
                "suite": oprf.SUITE,
                "mode": oprf.MODE,
                "evaluator_seed": base64.b64encode(seed).decode(),
                "public_key": base64.b64encode(public).decode(),
            },
            indent=2,
        )
    )


@app.command("publish")
def publish(
    db: Annotated[str | None, typer.Option("--db", help="database URL (CARRIERGUARD_DB)")] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="which line states count (its counted_states)")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="全契約者を送る / every holder, not only changes")
    ] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, max=oprf.MAX_BATCH)] = 500,
) -> None:
    """契約数をトークンで照会基盤へ送る / Publish our line counts per token to the hub.

    The hub comes from CARRIERGUARD_XC_EVALUATOR, CARRIERGUARD_XC_REGISTRY,
    CARRIERGUARD_XC_API_KEY and CARRIERGUARD_XC_PUBLIC_KEY. Only holders whose counts
    changed since the hub last heard of them are sent; a stopped run is resumed by the next.
    """
    try:
        hub_settings = HubSettings.from_env()
    except ValueError as exc:
        raise InvalidInput(
            str(exc), message_ja="照会基盤の設定（CARRIERGUARD_XC_*）が不足しているか不正です。"
        ) from exc
    if hub_settings is None:
        raise InvalidInput(
            "CARRIERGUARD_XC_EVALUATOR is not set: no cross-carrier hub to publish to",
            message_ja="照会基盤（CARRIERGUARD_XC_EVALUATOR）が設定されていません。",
        )
    settings = Settings.from_env(db_url=db, policy_path=policy)
    engine = create_store_engine(settings.db_url)
    migrate(engine)
    protector = DataProtector(settings.resolved_data_key())
    hub = HubClient(hub_settings)
    with counting_progress(console) as progress:
        task = progress.add_task("送信中 / publishing", total=None)
        try:
            done = publish_changes(
                engine,
                protector,
                hub,
                load_policy(settings.policy_path),
                full=full,
                batch=batch,
                progress=lambda seen: progress.update(task, completed=seen),
            )
        finally:
            hub.close()
    typer.echo(json.dumps(asdict(done)))


@app.command("usage")
def usage(
    db: Annotated[str | None, typer.Option("--db", help="the hub's database URL")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="days of use to add up")] = 7,
) -> None:
    """照会基盤の利用状況（照会基盤用） / At the hub: each carrier's registry and use.

    Per carrier: tokens and lines it has published, its last publish, and how many
    evaluations, published rows and queried tokens it used over the last --days days.
    """
    from datetime import timedelta

    from rich.table import Table

    from carrierguard.contracts.report import JST

    settings = Settings.from_env(db_url=db)
    engine = create_store_engine(settings.db_url)
    migrate(engine)
    since = datetime.now(JST).date() - timedelta(days=days - 1)
    rows = xc.activity(engine, since.isoformat())
    table = Table(title=f"照会基盤の利用 / Hub activity since {since.isoformat()} (JST)")
    for heading in (
        "事業者 / carrier",
        "トークン / tokens",
        "音声 / voice",
        "SMS付 / data_sms",
        "データ / data",
        "最終送信 / last publish",
        "評価 / evaluated",
        "送信 / published",
        "照会 / queried",
    ):
        table.add_column(heading, justify="left" if "carrier" in heading else "right")
    for r in rows:
        table.add_row(
            r.carrier,
            f"{r.tokens:,}",
            f"{r.counts.voice:,}",
            f"{r.counts.data_sms:,}",
            f"{r.counts.data:,}",
            r.last_publish.isoformat(timespec="seconds") if r.last_publish else "—",
            f"{r.evaluated:,}",
            f"{r.published:,}",
            f"{r.queried:,}",
        )
    Console().print(table)
