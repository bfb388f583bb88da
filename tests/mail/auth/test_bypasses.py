"""Known From/DMARC bypasses (Composition Kills, CVE-2019-20790, CVE-2020-12272), each blocked."""

from __future__ import annotations

import pytest

from carrierguard.mail.auth.check import AuthReport, Envelope, authenticate
from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from tests.mail.conftest import Signer, key_record, message

BANK_IP = "192.0.2.10"
EVIL_IP = "203.0.113.66"


@pytest.fixture
def resolver(rsa_key: tuple[bytes, bytes]) -> StaticResolver:
    """bank.example publishes p=reject; evil.example authenticates but has no DMARC."""

    def txt(name: str, text: str) -> StaticRecord:
        return StaticRecord(name, "TXT", Txt((text.encode(),)))

    lookalike = "xn--bnk-6cd.example"  # "bаnk.example" with a Cyrillic a
    return StaticResolver.of(
        [
            txt("bank.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            txt("_dmarc.bank.example", "v=DMARC1; p=reject"),
            txt("evil.example", "v=spf1 ip4:203.0.113.0/24 -all"),
            txt(lookalike, "v=spf1 ip4:203.0.113.0/24 -all"),
            key_record("bank.example", rsa_key),
            key_record("evil.example", rsa_key),
            key_record(lookalike, rsa_key),
        ]
    )


def check(
    raw: bytes,
    resolver: StaticResolver,
    mail_from: str,
    helo: str = "mx.evil.example",
    ip: str = EVIL_IP,
) -> AuthReport:
    envelope = Envelope(ip=ip, helo=helo, mail_from=mail_from)
    return authenticate(Message.parse(raw), envelope, resolver, authserv_id="mx.carrier.example")


def test_genuine_bank_mail_passes(resolver: StaticResolver, sign: Signer) -> None:
    """Control: the bank's own signed mail from its own IP passes DMARC."""
    raw = sign(message("Bank <info@bank.example>"), "bank.example")
    got = check(raw, resolver, "bounce@bank.example", "mx.bank.example", BANK_IP)
    assert (got.dmarc.result, got.dmarc.disposition) == ("pass", "none")


def test_several_from_fields_are_rejected(resolver: StaticResolver, sign: Signer) -> None:
    """Two From fields (one checked, one displayed) cannot slip through."""
    raw = sign(message("a@evil.example", "Hi\r\n", "From: ceo@bank.example"), "evil.example")
    got = check(raw, resolver, "a@evil.example")
    assert (got.dmarc.result, got.dmarc.disposition, got.dmarc.reason) == (
        "permerror",
        "reject",
        "FROM_MULTIPLE_FIELDS",
    )


def test_from_with_addresses_in_two_domains_is_rejected(
    resolver: StaticResolver, sign: Signer
) -> None:
    """A From naming the bank and the attacker cannot be judged by the attacker's domain."""
    raw = sign(message("ceo@bank.example, a@evil.example"), "evil.example")
    got = check(raw, resolver, "a@evil.example")
    assert (got.dmarc.disposition, got.dmarc.reason) == ("reject", "FROM_MULTIPLE_DOMAINS")


@pytest.mark.parametrize("value", ["", '"Bank of Example"', "<>", "ceo@", "@bank.example"])
def test_empty_or_domainless_from_is_rejected(
    resolver: StaticResolver, sign: Signer, value: str
) -> None:
    """A From without a usable domain gets no free pass (DMARC none) but a rejection."""
    got = check(sign(message(value), "evil.example"), resolver, "a@evil.example")
    assert (got.dmarc.result, got.dmarc.disposition) == ("permerror", "reject")


def test_missing_from_is_rejected(resolver: StaticResolver) -> None:
    """A message without any From field is rejected."""
    raw = b"To: user@example.net\r\nSubject: no author\r\n\r\nHi\r\n"
    assert check(raw, resolver, "a@evil.example").dmarc.reason == "FROM_MISSING"


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <a@evil.example>",
        '"ceo@bank.example" <a@evil.example>',
        "ceo@bank.example <a@evil.example>",
        "a@evil.example (ceo@bank.example)",
        "(ceo@bank.example) a@evil.example",
    ],
)
def test_display_name_comment_and_encoded_word_tricks_use_the_real_address(
    resolver: StaticResolver, sign: Signer, value: str
) -> None:
    """Only the addr-spec counts: the attacker's own domain is the one evaluated."""
    got = check(sign(message(value), "evil.example"), resolver, "a@evil.example")
    assert got.dmarc.header_from == "evil.example"
    assert got.dmarc.result == "none"


@pytest.mark.parametrize(
    "value",
    [
        "<a@evil.example>ceo@bank.example",
        "ceo@=?utf-8?q?bank.example?=",
        "ceo@bank.example(",
        'ceo@"bank.example"',
    ],
)
def test_ambiguous_from_syntax_is_rejected(
    resolver: StaticResolver, sign: Signer, value: str
) -> None:
    """Syntax that readers resolve differently is refused outright."""
    got = check(sign(message(value), "evil.example"), resolver, "a@evil.example")
    assert (got.dmarc.result, got.dmarc.disposition) == ("permerror", "reject")


def test_dkim_body_length_limit_does_not_carry_appended_content(
    resolver: StaticResolver, sign: Signer
) -> None:
    """A bank signature with l= still verifies after content is appended, but does not align."""
    signed = sign(message("info@bank.example", "Original.\r\n"), "bank.example", length=True)
    tampered = signed + b"Click https://evil.example/login now.\r\n"
    got = check(tampered, resolver, "a@evil.example")
    assert got.dkim[0].result == "pass" and not got.dkim[0].body_fully_signed
    assert (got.dmarc.result, got.dmarc.disposition) == ("fail", "reject")
    assert "l=" in got.authentication_results


def test_dkim_body_length_covering_the_whole_body_still_counts(
    resolver: StaticResolver, sign: Signer
) -> None:
    """Control: an l= signature over the entire body is a normal aligned pass."""
    signed = sign(message("info@bank.example", "Original.\r\n"), "bank.example", length=True)
    assert check(signed, resolver, "a@evil.example").dmarc.result == "pass"


def test_unicode_lookalike_domain_is_evaluated_as_itself_and_flagged(
    resolver: StaticResolver, sign: Signer
) -> None:
    """ "bаnk.example" with a Cyrillic a is its own domain and is marked confusable."""
    raw = message("ceo@b\u0430nk.example")
    got = check(sign(raw, "xn--bnk-6cd.example"), resolver, "a@xn--bnk-6cd.example")
    assert got.dmarc.header_from == "xn--bnk-6cd.example"
    assert got.author.confusable  # type: ignore[union-attr]


def test_full_width_domain_is_not_mapped_onto_the_real_one(
    resolver: StaticResolver, sign: Signer
) -> None:
    """Full-width letters are refused instead of silently becoming bank.example."""
    got = check(sign(message("ceo@ｂａｎｋ.example"), "evil.example"), resolver, "a@evil.example")
    assert (got.dmarc.result, got.dmarc.reason) == ("permerror", "FROM_BAD_IDN")


def test_spf_pass_for_another_domain_does_not_align(resolver: StaticResolver, sign: Signer) -> None:
    """SPF passes for evil.example, but From says bank.example: DMARC fails and rejects."""
    got = check(message("ceo@bank.example"), resolver, "a@evil.example")
    assert got.spf is not None and got.spf.result == "pass"
    assert (got.dmarc.result, got.dmarc.disposition) == ("fail", "reject")


def test_helo_identity_never_stands_in_for_mail_from(resolver: StaticResolver) -> None:
    """CVE-2019-20790: a HELO that would pass is not used when MAIL FROM is given."""
    got = check(message("ceo@bank.example"), resolver, "ceo@bank.example", helo="evil.example")
    assert got.spf is not None and (got.spf.scope, got.spf.result) == ("mailfrom", "fail")
    assert got.dmarc.disposition == "reject"


def test_forged_authentication_results_are_not_believed(resolver: StaticResolver) -> None:
    """CVE-2020-12272: an incoming A-R claiming a bank pass changes nothing."""
    forged = "Authentication-Results: mx.carrier.example; dkim=pass header.d=bank.example(.evil"
    got = check(message("ceo@bank.example", "Hi\r\n", forged), resolver, "a@evil.example")
    assert (got.dmarc.result, got.dmarc.disposition) == ("fail", "reject")
