"""`identity dedupe --db` reads the registry itself and finds one person held twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.cli.main import app
from tests.integration.live import write_book


def test_dedupe_over_the_registry_finds_a_legacy_kana_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A katakana-only legacy holder and the same person in kanji come out as one case."""
    monkeypatch.setenv("CARRIERGUARD_KEY_FILE", str(tmp_path / "data.key"))
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    rows = [
        [
            "individual",
            "タカハシ イチロウ",
            "",
            "1985-04-01",
            "東京都千代田区千代田1-1",
            "100-0001",
            "",
            "voice",
            "active",
            "2019-01-01",
        ],
        [
            "individual",
            "高橋 一郎",
            "タカハシ イチロウ",
            "1985-04-01",
            "東京都千代田区千代田一丁目1番",
            "100-0001",
            "",
            "voice",
            "active",
            "2024-01-01",
        ],
        [
            "individual",
            "佐藤 花子",
            "サトウ ハナコ",
            "1990-02-02",
            "大阪府大阪市北区梅田1-1",
            "530-0001",
            "",
            "data",
            "active",
            "2024-01-01",
        ],
    ]
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(write_book(tmp_path / "b.csv", rows)), "--db", db])
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "review.jsonl"
    done = runner.invoke(app, ["identity", "dedupe", "--db", db, "--output", str(out)])
    assert done.exit_code == 0, done.output
    found = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    pairs = [sorted(f["holder_ids"]) for f in found if f["kind"] in ("cluster", "pair")]
    assert pairs == [["1", "2"]] or pairs == [[1, 2]]
