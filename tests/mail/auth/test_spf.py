"""SPF through our resolver: identities, scope and temporary failures."""

from __future__ import annotations

import pytest

from carrierguard.mail.auth.spf import SpfResult, check_spf
from carrierguard.mail.dns import StaticResolver

ZONE = """
$TTL 300
example.jp.        IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
mx.example.jp.     IN TXT "v=spf1 a -all"
mx.example.jp.     IN A 198.51.100.7
"""


def test_listed_ip_passes_for_mail_from_domain() -> None:
    """An address inside the sender's ip4 range passes with the mailfrom scope."""
    got = check_spf(
        StaticResolver.from_zone_text(ZONE),
        ip="192.0.2.9",
        mail_from="info@example.jp",
        helo="mx.example.jp",
    )
    assert (got.result, got.scope, got.domain) == ("pass", "mailfrom", "example.jp")


def test_unlisted_ip_fails() -> None:
    """An address outside the record hits -all."""
    got = check_spf(
        StaticResolver.from_zone_text(ZONE),
        ip="203.0.113.1",
        mail_from="info@example.jp",
        helo="x",
    )
    assert got.result == "fail"


def test_null_reverse_path_checks_helo_identity() -> None:
    """A bounce (MAIL FROM:<>) is checked as postmaster@HELO with the helo scope."""
    got = check_spf(
        StaticResolver.from_zone_text(ZONE), ip="198.51.100.7", mail_from="", helo="mx.example.jp"
    )
    assert (got.result, got.scope, got.domain) == ("pass", "helo", "mx.example.jp")


def test_dns_timeout_is_temperror() -> None:
    """A lookup that times out gives temperror rather than an exception."""
    resolver = StaticResolver.of([], timeouts=["example.jp"])
    got = check_spf(resolver, ip="192.0.2.9", mail_from="a@example.jp", helo="x")
    assert got.result == "temperror"


def test_result_rejects_unknown_words() -> None:
    """An SPF result outside RFC 7208's vocabulary cannot be built."""
    with pytest.raises(ValueError):
        SpfResult("maybe", "mailfrom", "example.jp", "a@example.jp")
