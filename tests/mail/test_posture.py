"""Posture audit over the 50-domain offline zone in ``fixtures_posture``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.posture import DomainPosture, audit, summarise
from carrierguard.mail.posture_html import to_csv, to_html

FIXTURES = Path(__file__).parent / "fixtures_posture"
ZONE = FIXTURES / "posture.zone"
DOMAINS = (FIXTURES / "domains.txt").read_text().split()


@pytest.fixture(scope="module")
def resolver() -> StaticResolver:
    return StaticResolver.from_zone_file(ZONE)


@pytest.fixture(scope="module")
def postures(resolver: StaticResolver) -> dict[str, DomainPosture]:
    return {d: audit(resolver, d, ["s2048", "ed", "s1024", "revoked"]) for d in DOMAINS}


def test_fixture_zone_holds_fifty_domains() -> None:
    """The fixture lists exactly fifty domains."""
    assert len(DOMAINS) == 50 == len(set(DOMAINS))


def test_summary_counts_quarantine_and_reject_without_testing_mode(
    postures: dict[str, DomainPosture],
) -> None:
    """The share at enforcement excludes t=y, broken and missing records."""
    summary = summarise(list(postures.values()))
    assert (summary.total, summary.enforcing) == (50, 25)
    assert dict(summary.by_policy)["quarantine+t"] == 1
    assert summary.enforcing_share == 0.5


def test_eleven_chained_includes_break_the_lookup_limit(
    postures: dict[str, DomainPosture],
) -> None:
    """An include chain deeper than ten lookups makes SPF invalid."""
    spf = postures["spf-toomany.test"].spf
    assert not spf.valid and spf.lookups == 11 and "10 DNS lookups" in spf.error
    assert postures["spf-nine.test"].spf.valid and postures["spf-nine.test"].spf.lookups == 9


def test_three_void_lookups_make_spf_invalid(postures: dict[str, DomainPosture]) -> None:
    """More than two names that do not resolve is a permanent error."""
    spf = postures["spf-void.test"].spf
    assert not spf.valid and spf.void_lookups == 3


@pytest.mark.parametrize(
    ("domain", "error"),
    [
        ("spf-two.test", "2 SPF records"),
        ("spf-badmech.test", "unknown term"),
        ("spf-badip.test", "bad address"),
        ("spf-missinginclude.test", "has no SPF record"),
    ],
)
def test_broken_spf_records_are_named(
    postures: dict[str, DomainPosture], domain: str, error: str
) -> None:
    """Each kind of SPF breakage is reported with its cause."""
    assert not postures[domain].spf.valid
    assert error in postures[domain].spf.error


def test_deprecated_ptr_mechanism_is_flagged(postures: dict[str, DomainPosture]) -> None:
    """ptr is valid syntax but deprecated: a warning, not an error."""
    spf_ptr = postures["spf-ptr.test"]
    assert spf_ptr.spf.valid and "SPF_PTR_USED" in [f.code for f in spf_ptr.findings]


def test_redirect_is_followed_and_counted(postures: dict[str, DomainPosture]) -> None:
    """redirect= costs one lookup and its target's record is checked."""
    spf = postures["spf-redirect.test"].spf
    assert spf.valid and spf.lookups == 1 and spf.all_qualifier == "-"


def test_two_dmarc_records_are_invalid_and_unparsable_tags_too(
    postures: dict[str, DomainPosture],
) -> None:
    """Several records, or a part that is not tag=value, make DMARC invalid."""
    assert postures["dmarc-two.test"].dmarc.state == "invalid"
    assert postures["dmarc-garbage.test"].dmarc.state == "invalid"
    assert postures["dmarc-notfirst.test"].dmarc.state == "absent"


def test_subdomain_inherits_the_organisational_policy(
    postures: dict[str, DomainPosture],
) -> None:
    """A subdomain without a record is covered by its parent's policy through the tree walk."""
    dmarc = postures["sub.enforce01.test"].dmarc
    assert dmarc.found_at == "enforce01.test" and dmarc.enforcing


def test_external_report_destination_needs_authorisation(
    postures: dict[str, DomainPosture],
) -> None:
    """rua outside the organisation is flagged unless the destination authorises it."""
    assert postures["extauth.test"].dmarc.unauthorised == ()
    assert postures["extnoauth.test"].dmarc.unauthorised == (
        "mailto:agg@reports.test",
        "mailto:f@reports.test",
    )


def test_dkim_key_sizes_and_revoked_keys(postures: dict[str, DomainPosture]) -> None:
    """Key sizes are read from the published keys; an empty p= is revoked."""
    good = {k.selector: (k.key_type, k.bits) for k in postures["dkim-good.test"].dkim if k.found}
    assert good == {"s2048": ("rsa", 2048), "ed": ("ed25519", 256)}
    weak = {k.selector: k for k in postures["dkim-weak.test"].dkim}
    assert weak["s1024"].bits == 1024 and weak["revoked"].revoked
    codes = [f.code for f in postures["dkim-weak.test"].findings]
    assert "DKIM_KEY_WEAK" in codes


def test_mta_sts_tls_rpt_and_bimi_records(postures: dict[str, DomainPosture]) -> None:
    """Valid and broken MTA-STS, TLS-RPT and BIMI records are told apart."""
    good, bad = postures["mtasts-good.test"], postures["mtasts-bad.test"]
    assert good.mta_sts.valid and good.tls_rpt.valid
    assert not bad.mta_sts.valid and not bad.tls_rpt.valid
    assert postures["bimi-good.test"].bimi.valid
    assert not postures["bimi-nolocation.test"].bimi.valid
    assert "BIMI_WITHOUT_ENFORCEMENT" in [f.code for f in postures["bimi-weakdmarc.test"].findings]


def test_html_report_is_bilingual_with_an_inline_chart(
    postures: dict[str, DomainPosture],
) -> None:
    """The HTML holds an SVG chart, no script, and the summary in both languages."""
    html = to_html(list(postures.values()), datetime(2026, 11, 28, tzinfo=UTC))
    assert "<svg" in html and "<script" not in html
    assert "25/50 (50.0%)" in html and "quarantine または" not in html
    assert html.index("送信ドメイン認証の状況") < html.index("Sender authentication posture")


def test_csv_has_one_row_per_domain(postures: dict[str, DomainPosture]) -> None:
    """CSV output has a header and fifty rows."""
    assert len(to_csv(list(postures.values())).splitlines()) == 51


def test_posture_command_reads_a_domain_list_and_prints_the_share() -> None:
    """The CLI audits the listed domains and ends with the enforcement share."""
    result = CliRunner().invoke(
        app,
        ["mail", "posture", "--dns-zone", str(ZONE), "--file", str(FIXTURES / "domains.txt")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "25/50 (50.0%)" in result.output
