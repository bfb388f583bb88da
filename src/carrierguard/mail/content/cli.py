"""``carrierguard mail scan|train|eval``: the content-analysis commands.

Plain functions plus ``register(app)``, so the ``mail`` Typer app adds them with one line.
Runnable on its own as ``python -m carrierguard.mail.content``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from carrierguard.errors import InvalidInput
from carrierguard.mail.recipients import checked_strength

# scikit-learn and the model load only when a command runs, so that every other
# ``carrierguard`` command (serve, keys, import...) starts fast.

DEFAULT_DATA = Path("../shared/data/mail")


def _data_dir(data: Path) -> Path:
    if not (data / "ja-phishing" / "labels.csv").is_file():
        raise InvalidInput(
            f"no mail corpora under {data} (expected ja-phishing/labels.csv)",
            message_ja=f"{data} にメールコーパスがありません (ja-phishing/labels.csv が必要)",
        )
    return data


def scan(
    paths: Annotated[
        list[Path],
        typer.Argument(help="files, folders (Maildir too), mbox files; .gz/.bz2/.xz read as well"),
    ],
    strength: Annotated[str, typer.Option(help="weak | standard | strong")] = "standard",
    json_output: Annotated[bool, typer.Option("--json", help="JSON lines (default)")] = True,
    model: Annotated[Path | None, typer.Option(help="model file (default: shipped)")] = None,
) -> None:
    """メールを判定 / Judge messages: one JSON line per message.

    An mbox message's path is FILE#N (N from 1). An input that cannot be judged (missing,
    not mail, too large, a folder without mail) gets a line with "verdict": null and an
    "error" object, and a count on stderr; the others are judged all the same. The exit
    status is 1 only when nothing at all could be judged (a stray README in a folder of
    mail must not fail a whole run).
    """
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.brands import default_catalogue
    from carrierguard.mail.content.scan import scan_paths

    checked_strength(strength)
    loaded = model_io.load(model)
    catalogue = default_catalogue()
    total = failed = 0
    for result in scan_paths(paths, loaded, strength, catalogue):
        total += 1
        failed += result.error is not None
        if json_output:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:  # pragma: no cover - same data, shorter
            typer.echo(f"{result.verdict}\t{result.phishing_probability}\t{result.path}")
    if failed:
        typer.echo(
            f"{total} 件中 {failed} 件は判定できませんでした / "
            f"{failed} of {total} inputs could not be judged",
            err=True,
        )
        if failed == total:
            raise typer.Exit(1)


def train_command(
    data: Annotated[Path, typer.Option(help="../shared/data/mail")] = DEFAULT_DATA,
    out: Annotated[Path | None, typer.Option(help="model file to write")] = None,
    feedback: Annotated[
        Path | None,
        typer.Option(help="隔離メールへの判定 / quarantine feedback directory (training only)"),
    ] = None,
) -> None:
    """モデルを学習 / Train the model and write it with its model card."""
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content import report, train

    root = _data_dir(data)
    started = time.monotonic()
    examples, unreadable = train.prepare(root, feedback=feedback)
    fitted = train.fit(root, examples)
    rows = train.evaluate(fitted, examples, "test")
    rows += train.evaluate(fitted, examples, "all", corpus="ja-ham")
    fitted.meta["unreadable"] = unreadable
    fitted.meta["training_seconds"] = round(time.monotonic() - started, 1)
    target = out or model_io.default_model_path()
    model_io.save(fitted, target)
    card = report.model_card(fitted.meta, fitted.thresholds, report.table(rows))
    target.with_suffix(".md").write_text(card, encoding="utf-8")
    typer.echo(report.table(rows))
    typer.echo(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and its model card")


def eval_command(
    data: Annotated[Path, typer.Option(help="../shared/data/mail")] = DEFAULT_DATA,
    model: Annotated[Path | None, typer.Option(help="model file (default: shipped)")] = None,
    split: Annotated[str, typer.Option(help="test | val")] = "test",
) -> None:
    """評価 / Print recall and false-block rate per strength and per corpus."""
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content import report, train

    root = _data_dir(data)
    loaded = model_io.load(model)
    examples, _ = train.prepare(root)
    rows = train.evaluate(loaded, examples, split)
    rows += train.evaluate(loaded, examples, "all", corpus="ja-ham")
    typer.echo(report.table(rows))


def register(app: typer.Typer) -> None:
    """Add ``scan``, ``train`` and ``eval`` to the ``mail`` command group."""
    app.command("scan")(scan)
    app.command("train")(train_command)
    app.command("eval")(eval_command)
