"""Batch de-duplication over holder records, and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.identity import Person
from carrierguard.identity.dedupe import dedupe

RECORDS = [
    ("h1", Person("髙橋 一郎", "S60.4.1", "東京都千代田区千代田1-1", "タカハシ イチロウ")),
    ("h2", Person("高橋 一郎", "1985-04-01", "千代田区千代田一丁目1番")),
    ("h3", Person("高橋 花子", "1987-04-01", "千代田区千代田一丁目1番")),
    ("h4", Person("高橋 一郎", "1985-04-11", "東京都千代田区千代田1-1")),
    ("h5", Person("佐藤 次郎", "1970-01-01", "大阪府大阪市北区梅田1-1")),
    ("h6", Person("佐藤 次郎", "someday", "大阪府大阪市北区梅田1-1")),
]


def test_one_person_under_two_holders_forms_a_cluster() -> None:
    """髙橋/昭和 and 高橋/ISO are clustered; the sister is not."""
    report = dedupe(RECORDS)
    assert [c.holder_ids for c in report.clusters] == [("h1", "h2")]


def test_a_birth_date_typo_is_listed_for_review() -> None:
    """The record one digit off in its birth date is an uncertain pair, not a cluster."""
    report = dedupe(RECORDS)
    pairs = {(p.holder_a, p.holder_b) for p in report.uncertain}
    assert pairs == {("h1", "h4"), ("h2", "h4")}


def test_an_unreadable_record_is_skipped_and_named() -> None:
    """A record whose birth date cannot be read is reported, not guessed."""
    report = dedupe(RECORDS)
    assert [holder for holder, _ in report.skipped] == ["h6"]
    assert report.records == 5


def test_worker_processes_give_the_same_report() -> None:
    """Normalising in two processes changes nothing in the result."""
    assert dedupe(RECORDS, workers=2) == dedupe(RECORDS)


def test_progress_is_reported_for_each_phase() -> None:
    """The callback hears of normalising and comparing, ending at their totals."""
    seen: list[tuple[str, int, int]] = []
    dedupe(RECORDS, lambda phase, done, total: seen.append((phase, done, total)))
    assert ("normalise", 6, 6) in seen
    assert seen[-1][0] == "compare"
    assert seen[-1][1] == seen[-1][2]


def test_dedupe_command_writes_a_review_list(tmp_path: Path) -> None:
    """The import CSV gives one JSON line per cluster and per uncertain pair."""
    header = "holder_kind,name,name_kana,birth_date,address,postal_code,corporate_number,"
    header += "sim_type,state,activated_on"
    rows = [
        "individual,髙橋 一郎,,昭和60年4月1日,東京都千代田区千代田1-1,100-0001,,voice,active,",
        "individual,髙橋 一郎,,昭和60年4月1日,東京都千代田区千代田1-1,100-0001,,data,active,",
        "individual,高橋 一郎,,1985-04-01,千代田区千代田一丁目1番,,,voice,active,",
        "corporate,株式会社例,,2000-01-01,東京都千代田区千代田1-1,,1234567890123,data,active,",
    ]
    source = tmp_path / "holders.csv"
    source.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    review = tmp_path / "review.jsonl"
    result = CliRunner().invoke(
        app, ["identity", "dedupe", "--input", str(source), "--output", str(review)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in review.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {"kind": "cluster", "match": "same", "holder_ids": ["row-2", "row-4"], "score": 1.0}
    ]


def test_dedupe_command_reads_jsonl_with_holder_ids(tmp_path: Path) -> None:
    """JSONL input keeps the store's holder ids in the review list."""
    source = tmp_path / "holders.jsonl"
    rows = [
        {
            "holder_id": "H-1",
            "name": "渡邉 花子",
            "birth_date": "H2/3/4",
            "address": "札幌市中央区北1条西2-1",
        },
        {
            "holder_id": "H-2",
            "name": "渡辺花子",
            "birth_date": "1990-03-04",
            "address": "北海道札幌市中央区北一条西二丁目1番",
        },
    ]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = CliRunner().invoke(app, ["identity", "dedupe", "--input", str(source)])
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.splitlines()[0])
    assert first["holder_ids"] == ["H-1", "H-2"]
    assert first["match"] == "same"
