"""False-block figures (M4) from quarantine labels: pure, CLI, API and page agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.auth import Role
from carrierguard.cli.main import app
from carrierguard.mail.false_blocks import summarise
from carrierguard.mail.quarantine import QuarantineStore
from tests.web.conftest import make_api


def fill(store: QuarantineStore, now: datetime) -> None:
    """Six held messages: 2 false blocks, 2 catches, 1 unreviewed, 1 too old to count."""
    rows = [
        (("CONTENT_MODEL_PHISHING",), "not_phishing", 1),
        (("CONTENT_MODEL_PHISHING", "LINK_DOMAIN_NEW"), "phishing", 2),
        (("DMARC_FAIL",), "not_phishing", 3),
        (("DMARC_FAIL",), "phishing", 4),
        (("DMARC_FAIL",), "", 5),
        (("DMARC_FAIL",), "not_phishing", 24 * 40),  # 40 days ago
    ]
    for reasons, label, hours_ago in rows:
        entry = store.put(
            b"Subject: x\r\n\r\nbody\r\n",
            mail_from="a@shop.example",
            recipients=("u@example.net",),
            header_from="shop.example",
            reasons=reasons,
            now=now - timedelta(hours=hours_ago),
        )
        if label:
            store.record_feedback(entry.id, label, "test")


def test_figures_overall_and_by_reason(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = QuarantineStore(tmp_path)
    fill(store, now)
    report = summarise(store.list(None), now - timedelta(days=30), now + timedelta(seconds=1))
    assert (report.held, report.false_blocks, report.catches) == (5, 2, 2)
    assert report.confirmed_rate == pytest.approx(2 / 5)
    assert report.rate_among_reviewed == pytest.approx(0.5)
    by = {r.code: r for r in report.by_reason}
    assert report.by_reason[0].code == "DMARC_FAIL"  # most held first
    assert (by["DMARC_FAIL"].held, by["DMARC_FAIL"].false_blocks) == (3, 1)
    assert by["LINK_DOMAIN_NEW"].rate_among_reviewed == 0.0
    empty = summarise([], now - timedelta(days=1), now)
    assert empty.confirmed_rate is None and empty.rate_among_reviewed is None


def test_cli_api_and_page_show_the_same_figures(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    fill(QuarantineStore(tmp_path / "q"), now)
    cli = CliRunner().invoke(
        app,
        ["mail", "false-blocks", "--quarantine-dir", str(tmp_path / "q")],
        env={"COLUMNS": "200"},
    )
    assert cli.exit_code == 0, cli.output
    assert "40.00%" in cli.output  # 2 confirmed of 5 held
    api = make_api(f"sqlite:///{tmp_path / 'a.db'}", quarantine_dir=tmp_path / "q")
    r = api.client.get("/v1/mail/false-blocks", headers=api.headers(Role.COMPLIANCE))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["held"], body["false_blocks"], body["catches"]) == (5, 2, 2)
    assert body["by_reason"][0]["code"] == "DMARC_FAIL"
    clerk = api.client.get("/v1/mail/false-blocks", headers=api.headers(Role.CLERK))
    assert clerk.status_code == 403
    from tests.web.test_quarantine_pages import sign_in

    sign_in(api, Role.MAIL_OPERATOR, "op")
    page = api.client.get("/quarantine").text
    assert 'data-figure="held">5<' in page and 'data-figure="false-blocks">2<' in page
    assert 'data-figure="rate">50.0%<' in page and "誤遮断の状況" in page
