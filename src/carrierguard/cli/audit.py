"""``carrierguard audit ...``: verify and export the tamper-evident audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from carrierguard.audit import AuditEntry, verify_chain
from carrierguard.config import Settings
from carrierguard.store import audit as audit_store
from carrierguard.store.engine import create_store_engine

app = typer.Typer(help="監査ログ / Tamper-evident audit trail.", no_args_is_help=True)
console = Console(stderr=True)
DbOption = Annotated[str | None, typer.Option("--db", help="Database URL")]


@app.command("verify")
def verify(db: DbOption = None) -> None:
    """改ざん検知 / Check the hash chain; exit 1 naming the first entry changed, removed or reordered."""
    engine = create_store_engine(Settings.from_env(db_url=db).db_url)
    head = audit_store.head(engine)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("検証中 / verifying", total=head[0] or None)

        def counted() -> object:
            for n, entry in enumerate(audit_store.entries(engine), 1):
                if n % 1000 == 0:
                    progress.update(task, completed=n)
                yield entry

        checked, problem = verify_chain(counted(), head)  # type: ignore[arg-type]
    if problem is None:
        console.print(
            f"[green]OK[/]: {checked:,} entries, chain intact / 監査ログは改ざんされていません"
        )
        return
    console.print(
        f"[bold red]TAMPERED[/]: {problem} (after {checked:,} good entries)\n"
        f"改ざんを検知しました: エントリ {problem.seq}"
    )
    raise typer.Exit(code=1)


@app.command("export")
def export(
    db: DbOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
) -> None:
    """JSONL で出力 / Export every entry as JSON lines (with hashes, for external anchoring)."""
    engine = create_store_engine(Settings.from_env(db_url=db).db_url)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for entry in audit_store.entries(engine):
            out.write(json.dumps(_row(entry), ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()


def _row(e: AuditEntry) -> dict[str, object]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "payload": json.loads(e.payload),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }
