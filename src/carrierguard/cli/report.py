"""``carrierguard report``: the regulator figures (MISSION C9) as long-form CSV or HTML."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from carrierguard.config import Settings
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.report import ReportPeriod, to_csv
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.report_queries import policy_in_force, read_report

console = Console(stderr=True)


class ReportFormat(StrEnum):
    CSV = "csv"
    HTML = "html"


def register(app: typer.Typer) -> None:
    """Attach ``report`` to the top-level ``app``."""
    app.command("report")(report)


def report(
    start: Annotated[
        datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (Tokyo date), included"),
    ],
    end: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (Tokyo date), included"),
    ],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="csv or html")] = ReportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (default: $CARRIERGUARD_DB or sqlite:///./carrierguard.db)"
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy TOML for the caps (default: the one in force)"),
    ] = None,
) -> None:
    """総務省向け報告 / Regulator figures by pool, channel and Tokyo month.

    CSV rows are month,pool,channel,metric,breakdown,value; pool "all" counts each
    application once; month "current" rows describe holders now. The HTML shows the
    same figures as charts (inline SVG) and tables, with every metric defined.
    """
    period = ReportPeriod(start=start.date(), end=end.date())
    settings = Settings.from_env(db_url=db, policy_path=policy)
    engine = create_store_engine(settings.db_url)
    migrate(engine)
    # An explicit file answers "what if"; otherwise the caps in force in the registry.
    active = load_policy(settings.policy_path)
    if settings.policy_path is None:
        active = policy_in_force(engine, active)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("集計中 / counting", total=None)
        figures = read_report(
            engine,
            period,
            active,
            now=datetime.now(UTC),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if fmt is ReportFormat.CSV:
        body = to_csv(figures)
    else:
        from carrierguard.web.ui.reports import render_report_html

        body = render_report_html(figures, active, standalone=True)
    if output is None:
        sys.stdout.write(body)
        return
    output.write_text(body, encoding="utf-8")
    console.print(f"{output} ({len(figures.figures):,} figures)", highlight=False)
