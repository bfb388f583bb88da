"""``carrierguard identity ...``: compare and de-duplicate identities."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from carrierguard.errors import FieldProblem, InvalidInput
from carrierguard.identity import Person, match

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


def compare_line(line: str, where: tuple[str, int]) -> dict[str, object]:
    """Answer one input line ``{"id", "a", "b"}`` with ``{"id", "match", "score"}``."""
    path, number = where
    try:
        pair = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad_line(path, number, f"not JSON ({exc.msg})", "JSON として読めません") from exc
    if not isinstance(pair, dict) or "id" not in pair:
        raise _bad_line(
            path, number, "expected an object with 'id', 'a', 'b'", "id, a, b が必要です"
        )
    a = _person(pair.get("a"), "a", where)
    b = _person(pair.get("b"), "b", where)
    try:
        result = match(a, b)
    except InvalidInput as exc:
        raise _bad_line(path, number, exc.message, exc.message_ja) from exc
    return {"id": pair["id"], "match": result.outcome.value, "score": result.score}


@app.command()
def compare(
    input: Path = typer.Option(
        ..., "--input", "-i", help="JSONL: one {id, a, b} per line ('-' for stdin)."
    ),
) -> None:
    """二人が同一人物かを判定 / Say for each pair whether it is one person (JSON lines)."""
    name = str(input)
    try:
        stream = sys.stdin if name == "-" else input.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"{name}: cannot open ({exc.strerror})", message_ja=f"{name} を開けません"
        ) from exc
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            answer = compare_line(line, (name, number))
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    finally:
        if stream is not sys.stdin:
            stream.close()
