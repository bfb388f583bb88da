"""``carrierguard identity ...``: compare and de-duplicate identities."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TextIO

import typer
from rich.console import Console

from carrierguard.cli.progress import counting_progress
from carrierguard.errors import FieldProblem, InvalidInput
from carrierguard.identity import Person, match, parse_date
from carrierguard.identity.dedupe import DedupeReport, dedupe

logger = logging.getLogger(__name__)

app = typer.Typer(help="本人同一性の判定 / Japanese identity resolution.", no_args_is_help=True)

_REQUIRED = ("name", "birth_date", "address")
_OPTIONAL = ("name_kana", "postal_code")


def _bad_line(path: str, number: int, reason: str, reason_ja: str) -> InvalidInput:
    return InvalidInput(
        f"{path}:{number}: {reason}",
        problems=(FieldProblem(f"line {number}", reason),),
        message_ja=f"{path}:{number} 行目: {reason_ja}",
    )


def _person(value: Any, side: str, where: tuple[str, int]) -> Person:
    path, number = where
    if not isinstance(value, dict):
        raise _bad_line(path, number, f"'{side}' must be an object", f"'{side}' はオブジェクトです")
    fields: dict[str, str | None] = {}
    for key in _REQUIRED + _OPTIONAL:
        item = value.get(key)
        if item is None or item == "":
            if key in _REQUIRED:
                raise _bad_line(
                    path, number, f"'{side}.{key}' is missing", f"'{side}.{key}' がありません"
                )
            fields[key] = None
        elif not isinstance(item, str):
            raise _bad_line(
                path, number, f"'{side}.{key}' must be a string", f"'{side}.{key}' は文字列です"
            )
        else:
            fields[key] = item
    return Person(
        name=str(fields["name"]),
        birth_date=str(fields["birth_date"]),
        address=str(fields["address"]),
        name_kana=fields["name_kana"],
        postal_code=fields["postal_code"],
    )


def _json_line(line: str, where: tuple[str, int], key: str) -> dict[str, Any]:
    path, number = where
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad_line(path, number, f"not JSON ({exc.msg})", "JSON として読めません") from exc
    if not isinstance(value, dict) or key not in value:
        raise _bad_line(
            path,
            number,
            f"expected an object with '{key}'",
            f"'{key}' を含むオブジェクトが必要です",
        )
    return value


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot open ({exc.strerror})", message_ja=f"{path} を開けません"
        ) from exc


def compare_line(line: str, where: tuple[str, int]) -> dict[str, object]:
    """Answer one input line ``{"id", "a", "b"}`` with ``{"id", "match", "score"}``."""
    path, number = where
    pair = _json_line(line, where, "id")
    a = _person(pair.get("a"), "a", where)
    b = _person(pair.get("b"), "b", where)
    for side, person in (("a", a), ("b", b)):
        try:
            parse_date(person.birth_date)
        except InvalidInput as exc:
            raise _bad_line(
                path,
                number,
                f"'{side}.birth_date': {exc.message}",
                f"'{side}.birth_date': {exc.message_ja}",
            ) from exc
    try:
        result = match(a, b)
    except InvalidInput as exc:
        raise _bad_line(path, number, exc.message, exc.message_ja) from exc
    return {"id": pair["id"], "match": result.outcome.value, "score": result.score}


def _line_error(exc: InvalidInput) -> str:
    """One bad line for stderr: ``error [CODE] 日本語`` then the English on the next line."""
    return f"error [{exc.code}] {exc.message_ja}\n  {exc.message}\n"


def _answer(raw: bytes, where: tuple[str, int]) -> dict[str, object] | None:
    """The answer to one raw input line; None for a blank line; InvalidInput when bad."""
    path, number = where
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_line(
            path, number, f"not UTF-8 (byte {exc.start})", "UTF-8 として読めません"
        ) from exc
    if not line.strip():
        return None
    try:
        return compare_line(line, where)
    except InvalidInput:
        raise
    except Exception as exc:  # a bug on one line must not cost the other lines their answers
        logger.exception("identity compare failed on %s:%d", path, number)
        raise _bad_line(
            path,
            number,
            f"internal error ({type(exc).__name__})",
            f"内部エラー ({type(exc).__name__})",
        ) from exc


@app.command()
def compare(
    input: Path = typer.Option(
        ..., "--input", "-i", help="JSONL: one {id, a, b} per line ('-' for stdin)."
    ),
) -> None:
    """二人が同一人物かを判定 / Say for each pair whether it is one person (JSON lines).

    A bad line (not JSON, a missing field, an unreadable date) is reported on stderr
    with its number and reason, the other lines are still answered, and the exit
    status is non-zero.
    """
    name = str(input)
    stream = sys.stdin.buffer if name == "-" else _open_binary(input)
    bad: list[int] = []
    try:
        for number, raw in enumerate(stream, start=1):
            try:
                answer = _answer(raw, (name, number))
            except InvalidInput as exc:
                bad.append(number)
                sys.stdout.flush()
                sys.stderr.write(_line_error(exc))
                sys.stderr.flush()
                continue
            if answer is not None:
                sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    finally:
        sys.stdout.flush()
        if stream is not sys.stdin.buffer:
            stream.close()
    if bad:
        shown = ", ".join(str(n) for n in bad[:20]) + (", ..." if len(bad) > 20 else "")
        raise InvalidInput(
            f"{name}: {len(bad)} line(s) could not be compared (lines {shown}); "
            "the other lines were answered",
            message_ja=(
                f"{name}: {len(bad)} 行を判定できませんでした ({shown} 行目)。"
                "ほかの行は判定済みです。"
            ),
        )


def _open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot open ({exc.strerror})", message_ja=f"{path} を開けません"
        ) from exc


def _holders_csv(stream: TextIO, name: str) -> Iterator[tuple[str, Person]]:
    """Rows of the import CSV (DESIGN.md), individuals only, one per holder.

    The import CSV has a row per line, so rows with the same person fields are one
    holder; its id is the ``holder_id`` column when present, else its first row number.
    """
    seen: set[Person] = set()
    reader = csv.DictReader(stream)
    missing = {"name", "birth_date", "address"} - set(reader.fieldnames or ())
    if missing:
        raise InvalidInput(
            f"{name}: header lacks {', '.join(sorted(missing))}",
            message_ja=f"{name}: ヘッダーに {', '.join(sorted(missing))} がありません",
        )
    for number, row in enumerate(reader, start=2):
        if row.get("holder_kind", "individual") not in ("individual", ""):
            continue
        person = Person(
            name=row["name"] or "",
            birth_date=row["birth_date"] or "",
            address=row["address"] or "",
            name_kana=row.get("name_kana") or None,
            postal_code=row.get("postal_code") or None,
        )
        if "holder_id" not in row and person in seen:
            continue
        seen.add(person)
        yield row.get("holder_id") or f"row-{number}", person


def _holders_jsonl(stream: TextIO, name: str) -> Iterator[tuple[str, Person]]:
    """Lines ``{"holder_id", "name", "name_kana"?, "birth_date", "address", "postal_code"?}``."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        row = _json_line(line, (name, number), "holder_id")
        yield str(row["holder_id"]), _person(row, "holder", (name, number))


def _registry_holders(db: str) -> Iterator[tuple[str, Person]]:
    """Individual holders of the registry at ``db``, unsealed one chunk at a time."""
    from carrierguard.config import Settings
    from carrierguard.contracts.identity_link import as_person
    from carrierguard.crypto import DataProtector
    from carrierguard.store.engine import create_store_engine
    from carrierguard.store.registry import sealed_individuals

    settings = Settings.from_env(db_url=db)
    protector = DataProtector(settings.resolved_data_key())
    for holder_id, pii in sealed_individuals(create_store_engine(settings.db_url)):
        yield str(holder_id), as_person(protector.open(pii))


def _review_lines(report: DedupeReport) -> Iterator[dict[str, object]]:
    for cluster in report.clusters:
        yield {
            "kind": "cluster",
            "match": "same",
            "holder_ids": list(cluster.holder_ids),
            "score": cluster.min_score,
        }
    for pair in report.uncertain:
        yield {
            "kind": "pair",
            "match": "uncertain",
            "holder_ids": [pair.holder_a, pair.holder_b],
            "score": pair.score,
            "reasons": list(pair.reasons),
        }
    for holder_id, reason in report.skipped:
        yield {"kind": "unreadable", "holder_ids": [holder_id], "reason": reason}


@app.command("dedupe")
def dedupe_command(
    input: Path | None = typer.Option(
        None, "--input", "-i", help="Holders: import CSV (DESIGN.md) or JSONL with holder_id."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Or the registry itself (database URL; personal data unsealed in chunks).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Review list (JSONL); stdout when omitted."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Processes that normalise."),
) -> None:
    """同一人物の名寄せ / Find holders who are one person; write a review list (JSON lines)."""
    if (input is None) == (db is None):
        raise InvalidInput(
            "give exactly one of --input FILE or --db URL",
            message_ja="--input FILE と --db URL のどちらか一方を指定してください。",
        )
    console = Console(stderr=True)
    if db is not None:
        stream: Any = contextlib.nullcontext()
        records: Iterable[tuple[str, Person]] = _registry_holders(db)
    else:
        assert input is not None
        stream = _open(input)
        reader = _holders_jsonl if input.suffix in (".jsonl", ".ndjson") else _holders_csv
        records = reader(stream, str(input))
    with (
        stream,
        counting_progress(console) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = {"normalise": "正規化 / normalise", "compare": "照合 / compare"}[phase]
                tasks[phase] = bar.add_task(label, total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)

        report = dedupe(records, progress, workers=workers)
    out = sys.stdout if output is None else output.open("w", encoding="utf-8")
    try:
        for line in _review_lines(report):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    console.print(
        f"{report.records} 件 / records, {report.comparisons} 比較 / comparisons, "
        f"{len(report.clusters)} 同一人物の群 / clusters, {len(report.uncertain)} 要確認 / "
        f"uncertain pairs, {len(report.skipped)} 読めない / unreadable, "
        f"{report.oversized_blocks} 過大ブロック / oversized blocks",
        highlight=False,
    )


@app.command("rekey")
def rekey_command(
    db: Annotated[str | None, typer.Option("--db", help="database URL (CARRIERGUARD_DB)")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=100_000)] = 2000,
    review: Annotated[
        Path | None,
        typer.Option("--review", help="同一人物候補の出力先 / write collisions here (JSONL)"),
    ] = None,
) -> None:
    """照合キーを作り直す / Make the registry's identity keys again with this version.

    Needed after an upgrade whose normaliser reads some names differently (the server
    warns at start-up). Safe to stop and run again. Two holders that the new version
    reads as one person keep their keys and are listed (--review) for a person to decide.
    """
    from sqlalchemy import func, select

    from carrierguard.config import Settings
    from carrierguard.crypto import DataProtector
    from carrierguard.identity import KEY_VERSION
    from carrierguard.store.engine import create_store_engine, migrate
    from carrierguard.store.rekey import key_version, rekey
    from carrierguard.store.schema import holders

    settings = Settings.from_env(db_url=db)
    engine = create_store_engine(settings.db_url)
    migrate(engine)
    before = key_version(engine)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(holders)).scalar_one())
    console = Console(stderr=True)
    with counting_progress(console) as progress:
        task = progress.add_task("照合キー / identity keys", total=total)
        report = rekey(
            engine,
            DataProtector(settings.resolved_data_key()),
            batch=batch,
            progress=lambda done: progress.update(task, completed=done),
        )
    if review is not None:
        with review.open("w", encoding="utf-8") as fh:
            for holder_id, existing in report.collisions:
                fh.write(json.dumps({"holder_id": holder_id, "same_key_as": existing}) + "\n")
    typer.echo(
        json.dumps(
            {
                "version_before": before,
                "version": KEY_VERSION,
                "holders": report.holders,
                "keys_changed": report.keys_changed,
                "candidate_keys_changed": report.blocks_changed,
                "collisions": len(report.collisions),
            }
        )
    )
