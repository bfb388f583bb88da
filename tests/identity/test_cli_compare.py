"""``carrierguard identity compare`` reads pairs and writes one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
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


def _run(path: Path) -> Result:
    return CliRunner().invoke(app, ["identity", "compare", "--input", str(path)])


def test_a_malformed_line_is_named_and_the_others_are_answered(tmp_path: Path) -> None:
    """A line that is not JSON is reported by number; lines before and after are answered."""
    path = _write(
        tmp_path,
        [
            json.dumps({"id": 1, "a": A, "b": B}),
            "{not json",
            json.dumps({"id": 3, "a": A, "b": C}),
        ],
    )
    result = _run(path)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 3]
    assert f"{path}:2: not JSON" in result.stderr
    assert isinstance(result.exception, InvalidInput)
    assert "1 line(s)" in result.exception.message
    assert result.exit_code != 0


def test_an_unreadable_date_is_named_by_its_line_and_side(tmp_path: Path) -> None:
    """A birth date in no known notation names the line, the side and the text."""
    bad = dict(B, birth_date="someday")
    path = _write(tmp_path, [json.dumps({"id": 1, "a": A, "b": bad})])
    result = _run(path)
    assert result.stdout == ""
    assert f"{path}:1: 'b.birth_date'" in result.stderr
    assert "someday" in result.stderr
    assert isinstance(result.exception, InvalidInput)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    """A person without an address is refused with the field's name."""
    path = _write(tmp_path, [json.dumps({"id": 1, "a": A, "b": {"name": "x", "birth_date": "x"}})])
    result = _run(path)
    assert "b.address" in result.stderr
    assert isinstance(result.exception, InvalidInput)


def test_each_bad_line_gets_one_error_and_good_lines_keep_their_answers(tmp_path: Path) -> None:
    """Malformed JSON, a missing field, an impossible date, no id, not UTF-8: one error each."""
    good = json.dumps({"id": "good", "a": A, "b": B}, ensure_ascii=False)
    lines = [
        good,
        "{not json",
        json.dumps({"id": "no-address", "a": A, "b": {"name": "x", "birth_date": "1985-04-01"}}),
        json.dumps({"id": "showa-65", "a": dict(A, birth_date="昭和65年1月1日"), "b": B}),
        json.dumps({"id": "feb-30", "a": A, "b": dict(B, birth_date="1985年2月30日")}),
        json.dumps({"a": A, "b": B}),
        "",
        good.replace("good", "good-2"),
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n" + good.encode())
    result = _run(path)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["good", "good-2", "good"]
    assert all(a["match"] == "same" for a in answers)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 6
    for number, why in [
        (2, "not JSON"),
        (3, "'b.address' is missing"),
        (4, "'a.birth_date'"),
        (5, "'b.birth_date'"),
        (6, "expected an object with 'id'"),
        (9, "not UTF-8"),
    ]:
        assert f"{path}:{number}: {why}" in result.stderr
    assert "昭和65年1月1日" in result.stderr
    assert isinstance(result.exception, InvalidInput)
    assert "6 line(s)" in result.exception.message


def test_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """A file saved with a UTF-8 BOM (Excel, Notepad) still reads its first line."""
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": 1, "a": A, "b": B}).encode() + b"\n")
    result = _run(path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["match"] == "same"


def test_the_command_exits_non_zero_on_a_bad_line(tmp_path: Path) -> None:
    """Through the real entry point, a bad line gives exit status 2 after the answers."""
    import subprocess
    import sys

    path = _write(tmp_path, ["{not json", json.dumps({"id": 2, "a": A, "b": B})])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "carrierguard.cli.main",
            "identity",
            "compare",
            "--input",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["id"] == 2
    assert f"{path}:1" in done.stderr
