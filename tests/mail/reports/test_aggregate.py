"""DMARC aggregate reports (RFC 9990): rows, XML, schema, gzip, parsedmarc, the store."""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import itertools
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.auth.dkim import DkimSignatureResult
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.reports import job
from carrierguard.mail.reports.aggregate import (
    NAMESPACE,
    DmarcResultRow,
    ReportInvalid,
    row_from_report,
    validate,
)
from carrierguard.mail.reports.job import BuiltReport, ReportTooLarge, build_reports
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import (
    dmarc_results,
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


def rows(counts: dict[tuple[str, str], int], *, null_sender: bool = False) -> list[DmarcResultRow]:
    """Rows for messages from (ip, from-domain) pairs, ``count`` times each.

    ``null_sender``: an empty reverse-path, HELO naming the From domain (bounces).
    """
    resolver = StaticResolver.from_zone_text(ZONE)
    out = []
    for (ip, domain), count in counts.items():
        raw = f"From: info@{domain}\r\nTo: u@example.net\r\nSubject: x\r\n\r\nhi\r\n".encode()
        envelope = Envelope(
            ip=ip,
            helo=domain if null_sender else "h",
            mail_from="" if null_sender else f"b@{domain}",
            recipients=("u@example.net",),
        )
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
    # It reads it as an RFC 9990 report, with the fields that format added.
    assert parsed["xml_namespace"] == NAMESPACE
    assert parsed["report_metadata"]["generator"] == "CarrierGuard"
    assert parsed["policy_published"]["discovery_method"] == "treewalk"
    assert parsed["policy_published"]["testing"] == "n"
    scopes = {spf["scope"] for r in parsed["records"] for spf in r["auth_results"]["spf"]}
    assert scopes == {"mfrom"}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_store_round_trip_keeps_every_field(kind: str, tmp_path: Path) -> None:
    """Rows written by the milter come back identical for the report period, on both engines."""
    with fresh_database(kind, tmp_path) as url:
        engine = create_store_engine(url)
        migrate(engine)
        original = rows({("192.0.2.1", "bank.example"): 2})
        # The error texts behind human_result are kept too (one per DKIM result, one for SPF).
        original[1] = dataclasses.replace(
            original[1],
            dkim_detail=tuple("no key record" for _ in original[1].dkim),
            spf_detail="include:spf.vendor.example timed out",
        )
        with engine.begin() as conn:
            for row in original:
                record_dmarc_result(conn, row)
            # A row stored before the error texts were kept: three items, no text.
            record_dmarc_result(conn, original[0])
            newest = dmarc_results.c.id == select(func.max(dmarc_results.c.id)).scalar_subquery()
            conn.execute(
                update(dmarc_results)
                .where(newest)
                .values(
                    dkim=json.dumps([list(d) for d in original[0].dkim]),
                    spf=json.dumps(["bank.example", "mfrom", "pass"]),
                )
            )
        with engine.connect() as conn:
            got = list(dmarc_results_between(conn, T0, T0 + timedelta(days=1)))
            later = T0 + timedelta(days=1)
            outside = list(dmarc_results_between(conn, later, later + timedelta(days=1)))
        engine.dispose()
    assert [g.outcome_key() for g in got[:2]] == [o.outcome_key() for o in original]
    assert got[0].rua == ("mailto:rua@bank.example",) and outside == []
    assert got[1].dkim_detail == original[1].dkim_detail
    assert got[1].spf_detail == "include:spf.vendor.example timed out"
    assert got[2].spf_detail == "" and set(got[2].dkim_detail) <= {""}


def test_migration_0002_mail_creates_the_results_table(tmp_path: Path) -> None:
    """``store.migrate`` (all heads) creates dmarc_results next to the core tables."""
    from sqlalchemy import inspect

    engine = create_store_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    assert inspect(engine).has_table("dmarc_results")


# --- RFC 9990 Appendix A conformance ---------------------------------------------------

# A minimal report in the shape of RFC 9990's sample report (Appendix B), written for these
# tests: version, metadata with generator, policy with np/testing/discovery_method, one
# record whose dkim children come in the order domain/result/selector and whose spf has
# no scope.
MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>Receiver Example</org_name>
    <email>dmarc-reports@receiver.example</email>
    <report_id>20261101.receiver.example</report_id>
    <date_range>
      <begin>1793491200</begin>
      <end>1793577599</end>
    </date_range>
    <generator>hand-written test report 1</generator>
  </report_metadata>
  <policy_published>
    <domain>sender.example</domain>
    <p>reject</p>
    <sp>quarantine</sp>
    <np>reject</np>
    <testing>n</testing>
    <discovery_method>treewalk</discovery_method>
  </policy_published>
  <record>
    <row>
      <source_ip>198.51.100.7</source_ip>
      <count>42</count>
      <policy_evaluated>
        <disposition>pass</disposition>
        <dkim>pass</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_from>bounce.sender.example</envelope_from>
      <header_from>sender.example</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>sender.example</domain>
        <result>pass</result>
        <selector>mail2026</selector>
      </dkim>
      <spf>
        <domain>bounce.sender.example</domain>
        <result>fail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
"""

REASON = "<spf>fail</spf>\n        <reason><type>{}</type></reason>"


def variant(*edits: tuple[str, str]) -> bytes:
    """MINIMAL with each (old, new) applied once; every ``old`` must be there."""
    text = MINIMAL
    for old, new in edits:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return text.encode()


def test_a_minimal_report_in_the_rfc_example_shape_validates() -> None:
    """The hand-written RFC-shaped report passes; without its header_from it does not."""
    validate(MINIMAL.encode())
    with pytest.raises(ReportInvalid):
        validate(variant(("<header_from>sender.example</header_from>", "")))


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param(
            (
                ("<generator>hand-written test report 1</generator>\n", ""),
                ("<org_name>", "<generator>hand-written test report 1</generator><org_name>"),
            ),
            id="report_metadata-is-xs-all",
        ),
        pytest.param(
            (
                ("<count>42</count>\n", ""),
                ("<source_ip>", "<count>42</count><source_ip>"),
            ),
            id="row-is-xs-all",
        ),
        pytest.param(
            (("<result>fail</result>\n      </spf>", "<result>policy</result>\n      </spf>"),),
            id="spf-result-policy-of-rfc8601",
        ),
        pytest.param(
            (
                (
                    "<selector>mail2026</selector>",
                    '<selector>mail2026</selector><human_result lang="ja">鍵が見つかりません</human_result>',
                ),
            ),
            id="dkim-human_result-has-lang",
        ),
        pytest.param(
            (
                (
                    "<result>fail</result>\n      </spf>",
                    '<result>fail</result><human_result lang="en">not in ip4:</human_result></spf>',
                ),
            ),
            id="spf-human_result-has-lang",
        ),
        pytest.param(
            (
                (
                    "<spf>fail</spf>",
                    '<spf>fail</spf><reason><type>local_policy</type><comment lang="ja">許可リスト</comment></reason>',
                ),
            ),
            id="reason-comment-has-lang",
        ),
        pytest.param(
            (("<spf>fail</spf>", "<spf>fail</spf><reason><type>policy_test_mode</type></reason>"),),
            id="reason-policy_test_mode",
        ),
        pytest.param(
            (("<sp>quarantine</sp>", ""), ("<np>reject</np>", "")),
            id="sp-and-np-optional",
        ),
        pytest.param(
            (
                ("<feedback xmlns=", '<feedback xmlns:x="urn:example:ext" xmlns='),
                (
                    "</policy_published>",
                    "</policy_published><extension><x:arc>never</x:arc></extension>",
                ),
                ("</auth_results>", "</auth_results><x:arc-results>pass</x:arc-results>"),
            ),
            id="namespaced-extensions",
        ),
    ],
)
def test_what_rfc9990_allows_validates(edits: tuple[tuple[str, str], ...]) -> None:
    """Element groups the RFC leaves unordered, its enumerations, langAttrString, extensions."""
    validate(variant(*edits))


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param(
            (("<spf>fail</spf>", REASON.format("forwarded")),), id="reason-forwarded-removed"
        ),
        pytest.param(
            (("<spf>fail</spf>", REASON.format("sampled_out")),), id="reason-sampled_out-removed"
        ),
        pytest.param(
            (
                (
                    "<domain>bounce.sender.example</domain>",
                    "<domain>bounce.sender.example</domain><scope>helo</scope>",
                ),
            ),
            id="spf-scope-helo-removed",
        ),
        pytest.param(
            (
                (
                    "</spf>\n    </auth_results>",
                    "</spf><spf><domain>x.example</domain><result>none</result></spf></auth_results>",
                ),
            ),
            id="at-most-one-spf",
        ),
        pytest.param(
            (("<generator>", "<error>no rua</error><error>two records</error><generator>"),),
            id="at-most-one-error",
        ),
        pytest.param(
            (
                (
                    "<result>fail</result>\n      </spf>",
                    "<result>fail</result><scope>mfrom</scope></spf><dkim><domain>a.example</domain><selector>s</selector><result>pass</result></dkim>",
                ),
            ),
            id="auth_results-dkim-before-spf",
        ),
        pytest.param(
            (
                (
                    "<disposition>pass</disposition>",
                    "<dkim>pass</dkim><disposition>pass</disposition>",
                ),
                ("<dkim>pass</dkim>\n        <spf>", "<spf>"),
            ),
            id="policy_evaluated-is-ordered",
        ),
        pytest.param(
            (
                ("<version>1.0</version>\n", ""),
                ("</report_metadata>", "</report_metadata><version>1.0</version>"),
            ),
            id="first-level-is-ordered",
        ),
        pytest.param((("<selector>mail2026</selector>", ""),), id="dkim-selector-required"),
        pytest.param((("<p>reject</p>", "<p>monitor</p>"),), id="p-enumeration"),
        pytest.param(
            (("<version>1.0</version>", "<version>2.0</version>"),), id="version-must-be-1.0"
        ),
        pytest.param((("198.51.100.7", "mx.sender.example"),), id="source_ip-not-an-address"),
        pytest.param((("198.51.100.7", "fe80::1%eth0"),), id="source_ip-zone-index"),
    ],
)
def test_what_rfc9990_forbids_is_rejected(edits: tuple[tuple[str, str], ...]) -> None:
    """Removed enumeration values, cardinalities, mandated orders, required elements, prose."""
    with pytest.raises(ReportInvalid):
        validate(variant(*edits))


def _children(element: ET.Element) -> list[str]:
    return [child.tag.removeprefix(f"{{{NAMESPACE}}}") for child in element]


def test_our_report_keeps_the_orders_rfc9990_mandates() -> None:
    """Root, record, policy_evaluated and auth_results children in the RFC's order."""
    (report,) = build_reports(
        rows({("192.0.2.1", "bank.example"): 1, ("2001:db8::25", "bank.example"): 1}),
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    root = ET.fromstring(report.xml)
    assert root.tag == f"{{{NAMESPACE}}}feedback"
    assert _children(root) == ["version", "report_metadata", "policy_published", "record", "record"]
    for record in root.iterfind(f"{{{NAMESPACE}}}record"):
        assert _children(record) == ["row", "identifiers", "auth_results"]
        evaluated = record.find(f"{{{NAMESPACE}}}row/{{{NAMESPACE}}}policy_evaluated")
        assert evaluated is not None and _children(evaluated)[:3] == ["disposition", "dkim", "spf"]
        auth = record.find(f"{{{NAMESPACE}}}auth_results")
        assert auth is not None and _children(auth)[-1:] == ["spf"]
    assert {ip.text for ip in root.iter(f"{{{NAMESPACE}}}source_ip")} == {
        "192.0.2.1",
        "2001:db8::25",
    }


def test_a_null_reverse_path_is_reported_with_the_mfrom_scope() -> None:
    """SPF of postmaster@HELO is the MAIL FROM identity: scope "mfrom", never "helo"."""
    built = rows({("192.0.2.1", "bank.example"): 2}, null_sender=True)
    assert built and {r.spf_scope for r in built} == {"mfrom"}
    assert {r.spf_result for r in built} == {"pass"}
    (report,) = build_reports(
        built,
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    validate(report.xml)
    assert b"<scope>mfrom</scope>" in report.xml and b"helo" not in report.xml


def test_a_stored_row_with_the_old_helo_scope_still_builds_a_valid_report() -> None:
    """Rows written before RFC 9990 dropped "helo" are reported with the one valid scope."""
    legacy = [
        dataclasses.replace(r, spf_scope="helo") for r in rows({("192.0.2.1", "bank.example"): 1})
    ]
    (report,) = build_reports(
        legacy,
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
    )
    validate(report.xml)
    assert b"<scope>mfrom</scope>" in report.xml and b"<scope>helo</scope>" not in report.xml


# --- RFC 9990 section 2.1: which DKIM results a row carries ------------------------------


def _signed(domains: list[tuple[str, str]]) -> DmarcResultRow:
    """A bank.example row whose DKIM results are ``(domain, result)`` in verification order."""
    resolver = StaticResolver.from_zone_text(ZONE)
    raw = b"From: info@bank.example\r\nTo: u@example.net\r\nSubject: x\r\n\r\nhi\r\n"
    envelope = Envelope(ip="192.0.2.1", mail_from="b@bank.example", recipients=("u@example.net",))
    report = authenticate(Message.parse(raw), envelope, resolver, authserv_id="mx.test")
    signatures = tuple(
        DkimSignatureResult(
            result, domain=d, selector=f"s{i}", reason="no key" if result != "pass" else ""
        )
        for i, (d, result) in enumerate(domains)
    )
    row = row_from_report(envelope, dataclasses.replace(report, dkim=signatures), T0)
    assert row is not None
    return row


def _report(built: list[DmarcResultRow], **kwargs: object) -> list[BuiltReport]:
    return build_reports(
        built,
        org_name="C",
        email="d@c.example",
        receiver="c.example",
        begin=T0,
        end=T0 + timedelta(days=1),
        **kwargs,  # type: ignore[arg-type]
    )


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _auth_dkim(report: BuiltReport) -> list[ET.Element]:
    """The auth_results/dkim elements of the report's records (not policy_evaluated/dkim)."""
    return ET.fromstring(report.xml).findall(f"{_q('record')}/{_q('auth_results')}/{_q('dkim')}")


def test_dkim_results_follow_the_rfc9990_priority() -> None:
    """Strict-aligned pass, relaxed-aligned pass, other pass, then the rest."""
    row = _signed(
        [
            ("other.example", "fail"),
            ("other.example", "pass"),
            ("mail.bank.example", "pass"),
            ("bank.example", "pass"),
            ("bank.example", "permerror"),
        ]
    )
    assert [(d, r) for d, _s, r in row.dkim] == [
        ("bank.example", "pass"),
        ("mail.bank.example", "pass"),
        ("other.example", "pass"),
        ("other.example", "fail"),
        ("bank.example", "permerror"),
    ]
    (report,) = _report([row])
    validate(report.xml)
    domains = [d.findtext(_q("domain")) for d in _auth_dkim(report)]
    assert domains[:3] == ["bank.example", "mail.bank.example", "other.example"]


def test_a_row_reports_at_most_100_dkim_results_keeping_the_passes() -> None:
    """150 signatures, the passing ones last: the record keeps 100, passes first."""
    failing = [(f"f{i}.example", "fail") for i in range(140)]
    passing = [(f"p{i}.example", "pass") for i in range(9)] + [("bank.example", "pass")]
    row = _signed(failing + passing)
    (report,) = _report([row])
    validate(report.xml)
    auth = ET.fromstring(report.xml).find(f"{_q('record')}/{_q('auth_results')}")
    assert auth is not None
    results = [(d.findtext(_q("domain")), d.findtext(_q("result"))) for d in auth.iter(_q("dkim"))]
    assert len(results) == 100
    assert results[0] == ("bank.example", "pass")
    assert {r for _d, r in results[:10]} == {"pass"} and {r for _d, r in results[10:]} == {"fail"}


def test_rows_differing_only_beyond_the_cap_share_one_record() -> None:
    """What the record shows decides grouping: two messages alike in their first 100 results."""
    base = [("bank.example", "pass")] + [(f"f{i}.example", "fail") for i in range(99)]
    one = _signed([*base, ("x.example", "fail")])
    two = _signed([*base, ("y.example", "fail")])
    (report,) = _report([one, two])
    assert report.xml.count(b"<record>") == 1 and b"<count>2</count>" in report.xml


# --- human_result -------------------------------------------------------------------------


def test_dkim_error_detail_becomes_human_result() -> None:
    """A DKIM permerror's reason is written as human_result; a pass gets none."""
    row = _signed([("bank.example", "pass"), ("bank.example", "permerror")])
    assert row.dkim_detail == ("", "no key")
    (report,) = _report([row])
    validate(report.xml)
    humans = [d.findtext(_q("human_result")) for d in _auth_dkim(report)]
    assert humans == [None, "no key"]


def test_spf_permerror_text_becomes_human_result_but_an_exp_text_does_not() -> None:
    """The SPF library's error text is reported; a domain's explanation for a fail is not."""
    zone = ZONE.replace('"v=spf1 ip4:192.0.2.0/24 -all"', '"v=spf1 ip4:192.0.2.0/33 -all"')
    resolver = StaticResolver.from_zone_text(zone)
    raw = b"From: info@bank.example\r\nTo: u@example.net\r\nSubject: x\r\n\r\nhi\r\n"
    envelope = Envelope(ip="192.0.2.1", mail_from="b@bank.example", recipients=("u@example.net",))
    report = authenticate(Message.parse(raw), envelope, resolver, authserv_id="mx.test")
    row = row_from_report(envelope, report, T0)
    assert row is not None and row.spf_result == "permerror" and row.spf_detail
    (built,) = _report([row])
    validate(built.xml)
    spf = ET.fromstring(built.xml).find(f"{_q('record')}/{_q('auth_results')}/{_q('spf')}")
    assert spf is not None and spf.findtext(_q("human_result")) == row.spf_detail
    (failing,) = rows({("203.0.113.5", "bank.example"): 1})
    assert failing.spf_result == "fail" and failing.spf_detail == ""
    assert b"human_result" not in _report([failing])[0].xml


def test_parsedmarc_reads_human_result_and_error() -> None:
    """The independent parser sees the same counts with human_result and error present."""
    need(importlib.util.find_spec("parsedmarc") is not None, "parsedmarc (eval extra) missing")
    import parsedmarc

    row = dataclasses.replace(
        _signed([("bank.example", "permerror")]),
        rua=("mailto:rua@bank.example", "https://bank.example/rua"),
    )
    (report,) = _report([row, row, row])
    parsed = parsedmarc.parse_aggregate_report_xml(report.xml.decode(), offline=True)
    assert [r["count"] for r in parsed["records"]] == [3]
    assert parsed["report_metadata"]["errors"]


# --- error, size limits and splitting ------------------------------------------------------


def test_unusable_rua_uris_are_named_in_one_error_element() -> None:
    """RFC 9990 lists an invalid rua among the record errors; the schema allows one error."""
    row = dataclasses.replace(
        rows({("192.0.2.1", "bank.example"): 1})[0],
        rua=("mailto:rua@bank.example", "https://bank.example/rua", "mailto:nobody"),
    )
    (report,) = _report([row])
    validate(report.xml)
    errors = list(ET.fromstring(report.xml).iter(_q("error")))
    assert len(errors) == 1
    text = errors[0].text or ""
    assert "https://bank.example/rua" in text and "mailto:nobody" in text
    assert "rua@bank.example'" not in text
    (clean,) = _report(rows({("192.0.2.1", "bank.example"): 1}))
    assert b"<error" not in clean.xml


def _spread(n: int) -> list[DmarcResultRow]:
    """``n`` messages from ``n`` scattered addresses, one every ten minutes of the day."""
    (row,) = rows({("192.0.2.1", "bank.example"): 1})
    return [
        dataclasses.replace(
            row,
            source_ip=f"{(i * 73) % 223 + 1}.{(i * 151) % 251}.{(i * 31) % 250}.{i % 250}",
            received_at=T0 + timedelta(minutes=10 * i),
        )
        for i in range(n)
    ]


def _small_limit(built: list[DmarcResultRow]) -> int:
    """A limit a third of the whole report, but room for two one-record reports."""
    (whole,) = _report(built)
    (single,) = _report(built[:1])
    limit = max(len(whole.payload) // 3, 2 * len(single.payload))
    assert len(whole.payload) > limit
    return limit


def test_a_report_over_the_limit_is_split_into_periods_not_dropped() -> None:
    """Every piece fits, validates, covers its own period, and no message is lost."""
    built = _spread(144)
    limit = _small_limit(built)
    pieces = _report(built, max_bytes=limit)
    assert len(pieces) > 1
    assert all(len(p.payload) <= limit for p in pieces)
    assert sum(p.messages for p in pieces) == 144
    assert len({p.report_id for p in pieces}) == len({p.filename for p in pieces}) == len(pieces)
    ranges = []
    for piece in pieces:
        validate(piece.xml)
        root = ET.fromstring(piece.xml)
        begin = int(root.findtext(f"{_q('report_metadata')}/{_q('date_range')}/{_q('begin')}") or 0)
        end = int(root.findtext(f"{_q('report_metadata')}/{_q('date_range')}/{_q('end')}") or 0)
        ranges.append((begin, end))
        assert sum(int(c.text or 0) for c in root.iter(_q("count"))) == piece.messages
    ranges.sort()
    assert ranges[0][0] == int(T0.timestamp())
    assert ranges[-1][1] == int((T0 + timedelta(days=1)).timestamp()) - 1
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))  # no overlap
    assert _report(built, max_bytes=limit) == pieces  # same ids when built again


def test_one_seconds_rows_over_the_limit_split_by_record() -> None:
    """Rows that cannot be told apart by time go to same-period reports with disjoint records."""
    built = [dataclasses.replace(r, received_at=T0) for r in _spread(144)]
    pieces = _report(built, max_bytes=_small_limit(built))
    assert len(pieces) > 1 and sum(p.messages for p in pieces) == 144
    assert len({p.report_id for p in pieces}) == len(pieces)
    for piece in pieces:
        validate(piece.xml)
    with pytest.raises(ReportTooLarge):
        _report(built, max_bytes=100)


def test_a_legacy_size_suffix_splits_reports_to_fit_but_not_below_the_floor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An RFC 7489 "!size" is honoured by splitting, down to MIN_SPLIT_BYTES only."""
    built = _spread(144)
    limit = _small_limit(built)
    legacy = [dataclasses.replace(r, rua=(f"mailto:rua@bank.example!{limit}",)) for r in built]
    assert len(_report(legacy)) == 1  # a limit below the floor does not split
    monkeypatch.setattr(job, "MIN_SPLIT_BYTES", 0)
    pieces = _report(legacy)
    assert len(pieces) > 1 and all(len(p.payload) <= limit for p in pieces)
