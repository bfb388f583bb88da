"""Authentication-Results fields (RFC 8601) as we write them."""

from __future__ import annotations

from carrierguard.mail.auth.dkim import ArcResult, DkimSignatureResult
from carrierguard.mail.auth.dmarc import DmarcRecord, DmarcResult
from carrierguard.mail.auth.results import authentication_results, authserv_id_of
from carrierguard.mail.auth.spf import SpfResult


def test_header_lists_every_method_with_its_identifiers() -> None:
    """spf, dkim, arc and dmarc each appear with the property RFC 8601 names."""
    value = authentication_results(
        "mx.carrier.example",
        spf=SpfResult("pass", "mailfrom", "example.jp", "bounce@example.jp"),
        dkim=[DkimSignatureResult("pass", "example.jp", "sel", "rsa-sha256")],
        arc=ArcResult("none"),
        dmarc=DmarcResult("pass", "reject", "none", "example.jp", record=DmarcRecord(p="reject")),
    )
    lines = value.split("; ")
    assert lines == [
        "mx.carrier.example",
        "spf=pass smtp.mailfrom=bounce@example.jp",
        "dkim=pass header.d=example.jp header.s=sel header.a=rsa-sha256",
        "arc=none",
        "dmarc=pass (p=reject dis=none) header.from=example.jp policy.dmarc=reject",
    ]


def test_values_that_are_not_tokens_are_quoted() -> None:
    """A property value with a semicolon or space is quoted so it cannot split the field."""
    value = authentication_results(
        "mx",
        spf=SpfResult("fail", "mailfrom", "x.example", '"a;b c"@x.example'),
        dkim=[],
        arc=ArcResult("none"),
        dmarc=DmarcResult("permerror", "none", "reject", reason="FROM_MISSING"),
    )
    assert 'smtp.mailfrom="\\"a;b c\\"@x.example"' in value
    assert "dmarc=permerror (p=none dis=reject FROM_MISSING) header.from=none" in value


def test_authserv_id_is_read_from_the_first_token() -> None:
    """The authserv-id is what lets us drop forged fields that carry our name."""
    assert authserv_id_of(" MX.Carrier.example (comment); spf=pass") == "mx.carrier.example"
    assert authserv_id_of("mx.carrier.example 1; none") == "mx.carrier.example"


def test_foreign_results_are_read_strictly() -> None:
    """Comments are dropped before reading, and a malformed value yields no clauses."""
    from carrierguard.mail.auth.results import read_results

    authserv, clauses = read_results(
        "i=2; lists.example; dkim=pass (good (nested) sig) header.d=bank.example;"
        ' dmarc=pass header.from="bank.example"'
    )
    assert authserv == "lists.example"
    assert [(c.method, c.result, c.properties) for c in clauses] == [
        ("dkim", "pass", (("header.d", "bank.example"),)),
        ("dmarc", "pass", (("header.from", "bank.example"),)),
    ]
    assert read_results("mx; dkim=pass header.d=bank.example(.evil.example") == ("", [])
    assert authserv_id_of("mx.carrier.example; dkim=pass header.d=x(.evil") == "mx.carrier.example"
