"""DMARC aggregate reports (RFC 9990): rows, XML, schema, gzip, parsedmarc, the store."""

from __future__ import annotations

import gzip
import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.reports.aggregate import (
    DmarcResultRow,
    ReportInvalid,
    row_from_report,
    validate,
)
from carrierguard.mail.reports.job import build_reports
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import (
    dmarc_results_between,
    record_dmarc_result,
)
from tests.conftest import SHARED_DATA, need
from tests.dbs import fresh_database

ZONE = """$TTL 300
bank.example.        IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.bank.example. IN TXT "v=DMARC1; p=reject; rua=mailto:rua@bank.example; fo=1"
shop.example.        IN TXT "v=spf1 -all"
_dmarc.shop.example. IN TXT "v=DMARC1; p=none"
"""
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def rows(counts: dict[tuple[str, str], int]) -> list[DmarcResultRow]:
    """Rows for messages from (ip, from-domain) pairs, ``count`` times each."""
    resolver = StaticResolver.from_zone_text(ZONE)
    out = []
    for (ip, domain), count in counts.items():
        raw = f"From: info@{domain}\r\nTo: u@example.net\r\nSubject: x\r\n\r\nhi\r\n".encode()
        envelope = Envelope(ip=ip, helo="h", mail_from=f"b@{domain}", recipients=("u@example.net",))
        report = authenticate(Message.parse(raw), envelope, resolver, authserv_id="mx.test")
        row = row_from_report(envelope, report, T0 + timedelta(hours=1))
        out.extend([row] * count)
    return [r for r in out if r is not None]


def test_rows_are_grouped_into_records_with_counts() -> None:
    """Identical outcomes become one record whose count is the number of messages."""
    (report,) = build_reports(
        rows({("192.0.2.1", "bank.example"): 3, ("203.0.113.5", "bank.example"): 2}),
        org_name="Carrier",
        email="dmarc@mx.carrier.example",
        receiver="mx.carrier.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    xml = report.xml.decode()
    assert report.policy_domain == "bank.example" and report.messages == 5
    assert xml.count("<record>") == 2
    assert "<count>3</count>" in xml and "<count>2</count>" in xml
    assert "<disposition>pass</disposition>" in xml and "<disposition>reject</disposition>" in xml
    assert gzip.decompress(report.payload) == report.xml
    assert report.filename.startswith("mx.carrier.example!bank.example!")


def test_domains_without_rua_get_no_report() -> None:
    """A policy without rua asks for nothing."""
    assert (
        build_reports(
            rows({("203.0.113.5", "shop.example"): 1}),
            org_name="C",
            email="d@c.example",
            receiver="c.example",
            begin=T0,
            end=T0 + timedelta(days=1),
        )
        == []
    )


def test_built_report_validates_and_a_broken_one_does_not() -> None:
    """Our XML passes the RFC 9990 schema; removing a required element fails it."""
    (report,) = build_reports(
        rows({("192.0.2.1", "bank.example"): 1}),
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    validate(report.xml)
    broken = report.xml.replace(b"<p>reject</p>", b"")
    with pytest.raises(ReportInvalid):
        validate(broken)


def test_the_rfc9990_sample_report_validates_against_our_schema() -> None:
    """The sample from RFC 9990 itself (via parsedmarc's samples) is accepted."""
    sample = SHARED_DATA / "mail/email-auth/parsedmarc_samples/aggregate/rfc9990-sample.xml"
    need(sample.exists(), f"RFC 9990 sample not found at {sample}")
    validate(sample.read_bytes())


def test_parsedmarc_reads_our_report_with_the_same_counts() -> None:
    """An independent parser agrees on domain, records and message counts."""
    need(importlib.util.find_spec("parsedmarc") is not None, "parsedmarc (eval extra) missing")
    import parsedmarc

    (report,) = build_reports(
        rows({("192.0.2.1", "bank.example"): 4, ("203.0.113.5", "bank.example"): 1}),
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    parsed = parsedmarc.parse_aggregate_report_xml(report.xml.decode(), offline=True)
    assert parsed["policy_published"]["domain"] == "bank.example"
    counts = sorted(r["count"] for r in parsed["records"])
    assert counts == [1, 4]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_store_round_trip_keeps_every_field(kind: str, tmp_path: Path) -> None:
    """Rows written by the milter come back identical for the report period, on both engines."""
    with fresh_database(kind, tmp_path) as url:
        engine = create_store_engine(url)
        migrate(engine)
        original = rows({("192.0.2.1", "bank.example"): 2})
        with engine.begin() as conn:
            for row in original:
                record_dmarc_result(conn, row)
        with engine.connect() as conn:
            got = list(dmarc_results_between(conn, T0, T0 + timedelta(days=1)))
            later = T0 + timedelta(days=1)
            outside = list(dmarc_results_between(conn, later, later + timedelta(days=1)))
        engine.dispose()
    assert [g.outcome_key() for g in got] == [o.outcome_key() for o in original]
    assert got[0].rua == ("mailto:rua@bank.example",) and outside == []


def test_migration_0002_mail_creates_the_results_table(tmp_path: Path) -> None:
    """``store.migrate`` (all heads) creates dmarc_results next to the core tables."""
    from sqlalchemy import inspect

    engine = create_store_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    assert inspect(engine).has_table("dmarc_results")
