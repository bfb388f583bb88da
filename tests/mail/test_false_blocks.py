"""False-block figures (M4) from quarantine labels: pure, SQL, CLI, API and page agree."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.auth import Role
from carrierguard.cli.main import app
from carrierguard.mail.false_blocks import summarise
from carrierguard.mail.quarantine import Quarantine, QuarantineStore
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.quarantine import DbQuarantine
from tests.dbs import fresh_database
from tests.mail.test_quarantine import KEY, KEY_ENV, KINDS, open_store
from tests.web.conftest import make_api


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Quarantine]:
    with open_store(request.param, tmp_path) as opened:
        yield opened


def fill(store: Quarantine, now: datetime) -> None:
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


def test_figures_overall_and_by_reason(store: Quarantine) -> None:
    now = datetime.now(UTC)
    fill(store, now)
    since, until = now - timedelta(days=30), now + timedelta(seconds=1)
    report = summarise(store.list(None), since, until)
    assert store.false_blocks(since, until) == report  # the store's own count agrees
    assert (report.held, report.false_blocks, report.catches) == (5, 2, 2)
    assert report.confirmed_rate == pytest.approx(2 / 5)
    assert report.rate_among_reviewed == pytest.approx(0.5)
    by = {r.code: r for r in report.by_reason}
    assert report.by_reason[0].code == "DMARC_FAIL"  # most held first
    assert (by["DMARC_FAIL"].held, by["DMARC_FAIL"].false_blocks) == (3, 1)
    assert by["LINK_DOMAIN_NEW"].rate_among_reviewed == 0.0
    empty = summarise([], now - timedelta(days=1), now)
    assert empty.confirmed_rate is None and empty.rate_among_reviewed is None


def test_sql_figures_equal_the_pure_ones_on_edge_cases(store: Quarantine) -> None:
    """No reasons (NONE), a repeated reason, the period's bounds, released mail."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    cases = [((), "not_phishing", 0), (("A", "A", "B"), "phishing", 1), (("B",), "", 2)]
    cases.append((("A",), "", 60))
    for reasons, label, minutes in cases:
        entry = store.put(
            b"x",
            mail_from="",
            recipients=(),
            header_from="",
            reasons=reasons,
            now=start + timedelta(minutes=minutes, microseconds=500),
        )
        if label:
            store.record_feedback(entry.id, label, "t")
        if minutes == 1:
            store.mark(entry.id, "released")
    for since, until in [
        (start, start + timedelta(minutes=60)),  # the last one is at the end: left out
        (start + timedelta(seconds=30), start + timedelta(hours=2)),
        (start - timedelta(days=1), start - timedelta(hours=1)),  # nothing held
    ]:
        assert store.false_blocks(since, until) == summarise(store.list(None), since, until)
    everything = store.false_blocks(start, start + timedelta(hours=1, seconds=1))
    assert (everything.held, everything.released) == (4, 1)
    assert {r.code: r.held for r in everything.by_reason} == {"A": 2, "B": 2, "NONE": 1}


@pytest.mark.parametrize("kind", ["dir", "sqlite"])
def test_cli_api_and_page_show_the_same_figures(tmp_path: Path, kind: str) -> None:
    now = datetime.now(UTC)
    with fresh_database("sqlite", tmp_path) as url:
        if kind == "dir":
            fill(QuarantineStore(tmp_path / "q"), now)
            where = ["--quarantine-dir", str(tmp_path / "q")]
            api = make_api(url, quarantine_dir=tmp_path / "q")
        else:
            engine = create_store_engine(url)
            migrate(engine)
            fill(DbQuarantine(engine, KEY), now)
            where = ["--db", url]
            api = make_api(url, quarantine="db")
        cli = CliRunner().invoke(
            app, ["mail", "false-blocks", *where], env={"COLUMNS": "200", **KEY_ENV}
        )
    assert cli.exit_code == 0, cli.output
    assert "40.00%" in cli.output  # 2 confirmed of 5 held
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
