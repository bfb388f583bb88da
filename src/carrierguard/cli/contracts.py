"""Pillar C commands: serve, screen, import, policy check, keys, db, demo."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import structlog
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine

from carrierguard.auth import Role
from carrierguard.config import Settings
from carrierguard.contracts.model import HolderKind
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.service import ScreeningService
from carrierguard.errors import FieldProblem, InvalidInput
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.importer import BookImporter, ImportReport
from carrierguard.store.registry import ApplicationRecord

# Tables of decisions need room; a pipe or CI log gets a wide console, not 80 columns.
console = Console(width=None if Console().is_terminal else 160)
log = structlog.get_logger("carrierguard.cli")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: $CARRIERGUARD_DB or sqlite:///./carrierguard.db)"
    ),
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML (default: packaged policy)")
]

policy_app = typer.Typer(help="ポリシー / Screening policy files.", no_args_is_help=True)
keys_app = typer.Typer(help="API キー / API keys.", no_args_is_help=True)
db_app = typer.Typer(help="データベース / Database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the Pillar C commands to the top-level ``app``."""
    app.command("serve")(serve)
    app.command("screen")(screen)
    app.command("import")(import_book)
    app.command("demo")(demo)
    app.add_typer(policy_app, name="policy")
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")


def _settings(db: str | None, policy: Path | None = None) -> Settings:
    return Settings.from_env(db_url=db, policy_path=policy)


def open_service(settings: Settings) -> ScreeningService:
    """A service on a migrated database (the web app builds its own the same way)."""
    from carrierguard.web.app import build_service

    service = build_service(settings)
    migrate(service.registry.engine)
    return service


# -- serve -------------------------------------------------------------------------------
def serve(
    db: DbOption = None,
    policy: PolicyOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    quarantine_dir: Annotated[
        Path | None,
        typer.Option(
            "--quarantine-dir",
            help="milter と共有する隔離先 / the milter's quarantine (CARRIERGUARD_QUARANTINE_DIR)",
        ),
    ] = None,
    quarantine_db: Annotated[
        bool,
        typer.Option(
            "--quarantine-db",
            help="隔離メールを --db のデータベースから読む (milter --quarantine-db と共有) / "
            "the quarantine is in the registry database (CARRIERGUARD_QUARANTINE=db)",
        ),
    ] = False,
    release_smtp: Annotated[
        str | None,
        typer.Option(
            "--release-smtp",
            help="隔離解除したメールの引渡し先 / HOST:PORT of Postfix's milter-less smtpd "
            "(CARRIERGUARD_RELEASE_SMTP)",
        ),
    ] = None,
) -> None:
    """API とページを起動 / Run the API and pages (uvicorn)."""
    import uvicorn

    from carrierguard.mail.release import SmtpRelay

    if release_smtp is not None:
        SmtpRelay.parse(release_smtp)  # a clear error now, not in every worker
        os.environ["CARRIERGUARD_RELEASE_SMTP"] = release_smtp
    if quarantine_dir is not None:
        os.environ["CARRIERGUARD_QUARANTINE_DIR"] = str(quarantine_dir)
    if quarantine_db:
        os.environ["CARRIERGUARD_QUARANTINE"] = "db"
    settings = _settings(db, policy)
    load_policy(settings.policy_path)  # fail now, with file and line, not in a worker
    settings.resolved_data_key()  # create the key file once, before workers start
    engine = create_store_engine(settings.db_url)
    migrate(engine)
    _warn_if_keys_are_old(engine)
    os.environ["CARRIERGUARD_DB"] = settings.db_url
    if settings.policy_path is not None:
        os.environ["CARRIERGUARD_POLICY"] = str(settings.policy_path)
    console.print(f"CarrierGuard serving on http://{host}:{port}  (docs: /docs)", highlight=False)
    uvicorn.run(
        "carrierguard.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _warn_if_keys_are_old(engine: Engine) -> None:
    """Say so when the registry's identity keys were made by another normaliser version."""
    from carrierguard.identity import KEY_VERSION
    from carrierguard.store.rekey import key_version

    stored = key_version(engine)
    if stored != KEY_VERSION:
        log.warning("identity.keys_outdated", stored=stored, current=KEY_VERSION)
        console.print(
            f"[yellow]照合キーは版 {stored} で作られています（現行 {KEY_VERSION}）。"
            "`carrierguard identity rekey` を実行してください。\n"
            f"Identity keys were made by version {stored} (this is {KEY_VERSION}): "
            "run `carrierguard identity rekey` so that every holder is found.[/]"
        )


# -- screen ------------------------------------------------------------------------------
def screen(
    file: Annotated[
        Path, typer.Argument(help="Application JSON (same body as POST /v1/applications)")
    ],
    db: DbOption = None,
    policy: PolicyOption = None,
) -> None:
    """申込みを1件審査 / Screen one application from a JSON file and print the decision."""
    from carrierguard.web.api.applications import to_application, to_evidence
    from carrierguard.web.api.schemas import ApplicationIn

    try:
        body = ApplicationIn.model_validate_json(file.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot read: {exc.strerror}") from exc
    except ValidationError as exc:
        problems = tuple(
            FieldProblem(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
            for e in exc.errors()
        )
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidInput(f"{file}: {detail}", problems=problems) from exc
    service = open_service(_settings(db, policy))
    record = service.screen(to_application(body, service), evidence=to_evidence(body)).record
    console.print(decision_table([("—", record)]))


OUTCOME_STYLE = {"approve": "green", "review": "yellow", "refuse": "red"}
OUTCOME_JA = {"approve": "承認", "review": "審査", "refuse": "拒否"}


def decision_table(
    rows: list[tuple[str, ApplicationRecord]], title: str = "審査結果 / Decisions"
) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("シナリオ / Scenario", overflow="fold")
    table.add_column("申込 / App")
    table.add_column("判定 / Decision")
    table.add_column("回線 / Lines")
    table.add_column("理由 / Reasons", overflow="fold")
    for label, rec in rows:
        out = rec.outcome.value
        grouped = Counter(f"{ln.sim_type.value} {ln.state.value}" for ln in rec.lines)
        lines = "\n".join(f"{n}× {what}" for what, n in grouped.items()) or "—"
        reasons = "\n".join(
            f"[bold]{r.code}[/]\n{r.message_ja}\n{r.message_en}" for r in rec.reasons
        )
        table.add_row(
            label,
            str(rec.application_id),
            f"[{OUTCOME_STYLE[out]}]{OUTCOME_JA[out]} / {out}[/]",
            lines,
            reasons,
        )
    return table


# -- import ------------------------------------------------------------------------------
def import_book(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV of the existing book")],
    db: DbOption = None,
    show: Annotated[int, typer.Option(help="How many rejected rows to list")] = 20,
) -> None:
    """既存契約の取込み / Import a carrier's existing book (COPY on PostgreSQL)."""
    settings = _settings(db)
    service = open_service(settings)
    report = run_import(service, file)
    print_import_report(report, show)
    if report.rejected:
        raise typer.Exit(code=1)


def run_import(service: ScreeningService, file: Path, *, quiet: bool = False) -> ImportReport:
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file", message_ja=f"{file}: ファイルがありません。")
    importer = BookImporter(service.registry.engine, service.protector)
    total = file.stat().st_size
    started = datetime.now(UTC)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("取込み中 / importing", total=total)
        report = importer.import_file(
            file, progress=lambda done: progress.update(task, completed=done)
        )
        progress.update(task, completed=total)
    seconds = max((datetime.now(UTC) - started).total_seconds(), 1e-9)
    if not quiet:
        console.print(
            f"{report.imported:,} rows imported in {seconds:.1f} s ({report.imported / seconds:,.0f} rows/s)"
            f" / {report.imported:,} 行を取込み",
            highlight=False,
        )
    return report


def print_import_report(report: ImportReport, show: int) -> None:
    if not report.rejected:
        console.print("[green]不正な行はありません / no rows rejected[/]")
        return
    table = Table(title=f"取込みできなかった行 / rejected rows: {len(report.rejected):,}")
    table.add_column("行 / line", justify="right")
    table.add_column("理由 / reason")
    for rej in report.rejected[:show]:
        table.add_row(str(rej.line_no), rej.reason)
    console.print(table)
    if len(report.rejected) > show:
        console.print(f"... and {len(report.rejected) - show:,} more (use --show)")


# -- policy ------------------------------------------------------------------------------
@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(help="Policy TOML to check")]) -> None:
    """ポリシーを検証 / Check a policy file and print its pools and caps."""
    policy = load_policy(file)
    table = Table(title=f"{file}: OK")
    table.add_column("pool")
    table.add_column("SIM types")
    table.add_column("individual cap / hard")
    table.add_column("corporate cap / hard")
    for pool in policy.pools:
        caps = []
        for kind in (HolderKind.INDIVIDUAL, HolderKind.CORPORATE):
            cap = pool.cap_for(kind)
            caps.append(
                f"{cap.cap if cap.cap is not None else '∞'} / "
                f"{cap.hard_cap if cap.hard_cap is not None else '∞'}"
            )
        table.add_row(f"{pool.name} ({pool.label_ja})", ", ".join(sorted(pool.sim_types)), *caps)
    console.print(table)
    if policy.burst:
        b = policy.burst
        console.print(f"burst: {b.min_new_lines}+ new lines within {b.window_days} days -> review")
    console.print(f"agency may approve exceptions: {policy.agency_may_approve}")
    if policy.cross_carrier is not None:
        xc = policy.cross_carrier
        xc_caps = ", ".join(f"{pool} {cap}" for pool, cap in xc.caps.items())
        when = "review" if xc.review_when_unavailable else "approve"
        console.print(f"cross-carrier caps: {xc_caps} (hub unavailable -> {when})")


# -- keys --------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="Role the key carries")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")],
    db: DbOption = None,
) -> None:
    """API キーを発行（一度だけ表示）/ Issue an API key; it is printed once, only its hash is kept."""
    if not name.strip() or len(name) > 100:
        raise InvalidInput("--name must be 1 to 100 characters")
    from carrierguard.web.api.admin import create_api_key

    key = create_api_key(open_service(_settings(db)), role=role, name=name, actor="cli")
    print(key.token)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (the part after cg_)")],
    db: DbOption = None,
) -> None:
    """API キーを失効 / Revoke an API key by its prefix."""
    from carrierguard.web.api.admin import revoke_api_key

    revoke_api_key(open_service(_settings(db)), prefix, actor="cli")
    console.print(f"revoked {prefix}")


# -- db ----------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """スキーマを最新化 / Create or migrate the schema to the newest revision."""
    settings = _settings(db)
    migrate(create_store_engine(settings.db_url))
    console.print(f"schema is current on {settings.db_url.split('@')[-1]}")


# -- demo --------------------------------------------------------------------------------
def demo(
    db: Annotated[
        str, typer.Option("--db", help="Database URL for the demo")
    ] = "sqlite:///./demo.db",
    reset: Annotated[bool, typer.Option(help="Start from an empty database")] = False,
    holders: Annotated[int, typer.Option(help="Synthetic holders to load")] = 1000,
) -> None:
    """デモ: 合成データを取込み、申込みを審査 / Load a synthetic book and screen sample applications."""
    from carrierguard.demo import run_demo

    run_demo(db_url=db, reset=reset, holders=holders, console=console)
