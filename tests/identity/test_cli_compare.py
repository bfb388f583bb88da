"""``carrierguard identity compare`` reads pairs and writes one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.errors import InvalidInput

A = {"name": "髙橋 一郎", "birth_date": "昭和60年4月1日", "address": "東京都千代田区千代田1-1"}
B = {"name": "高橋 一郎", "birth_date": "1985-04-01", "address": "千代田区千代田一丁目1番"}
C = {"name": "高橋 花子", "birth_date": "H2/3/4", "address": "東京都千代田区千代田1-1"}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_pair_gets_one_json_line(tmp_path: Path) -> None:
    """Output lines carry id, match and score in input order."""
    path = _write(
        tmp_path,
        [json.dumps({"id": "p1", "a": A, "b": B}), json.dumps({"id": 2, "a": A, "b": C})],
    )
    result = CliRunner().invoke(app, ["identity", "compare", "--input", str(path)])
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers[0] == {"id": "p1", "match": "same", "score": 1.0}
    assert answers[1]["id"] == 2
    assert answers[1]["match"] == "different"
    assert set(answers[1]) == {"id", "match", "score"}


def test_a_malformed_line_is_named_by_its_number(tmp_path: Path) -> None:
    """A line that is not JSON stops the run with an error naming line 2."""
    path = _write(tmp_path, [json.dumps({"id": 1, "a": A, "b": B}), "{not json"])
    result = CliRunner().invoke(app, ["identity", "compare", "--input", str(path)])
    assert isinstance(result.exception, InvalidInput)
    assert f"{path}:2" in result.exception.message


def test_an_unreadable_date_is_named_by_its_line(tmp_path: Path) -> None:
    """A birth date in no known notation fails with the line number and the text."""
    bad = dict(B, birth_date="someday")
    path = _write(tmp_path, [json.dumps({"id": 1, "a": A, "b": bad})])
    result = CliRunner().invoke(app, ["identity", "compare", "--input", str(path)])
    assert isinstance(result.exception, InvalidInput)
    assert ":1:" in result.exception.message
    assert "someday" in result.exception.message


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    """A person without an address is refused with the field's name."""
    path = _write(tmp_path, [json.dumps({"id": 1, "a": A, "b": {"name": "x", "birth_date": "x"}})])
    result = CliRunner().invoke(app, ["identity", "compare", "--input", str(path)])
    assert isinstance(result.exception, InvalidInput)
    assert "b.address" in result.exception.message
