"""The resolver interface: the in-memory fake, the zone-file resolver and the TTL cache."""

from __future__ import annotations

import pytest

from carrierguard.errors import DnsTemporaryFailure, InvalidInput
from carrierguard.mail.dns import (
    Address,
    Answer,
    CachingResolver,
    Mx,
    Rcode,
    StaticRecord,
    StaticResolver,
    Target,
    Txt,
    txt_lookup,
)

ZONE = """
$TTL 600
example.com.            IN SOA ns.example.com. host.example.com. 1 3600 600 86400 120
example.com.            IN TXT "v=spf1 " "ip4:192.0.2.0/24 -all"
example.com.            IN MX 10 mx.example.com.
mx.example.com.         IN A 192.0.2.10
mx.example.com.         IN AAAA 2001:db8::10
_dmarc.example.com.     IN TXT "v=DMARC1; p=reject"
alias.example.com.      IN CNAME mx.example.com.
a.b.deep.example.org.   IN TXT "deep"
10.2.0.192.in-addr.arpa. IN PTR mx.example.com.
"""


def test_zone_file_answers_txt_with_strings_kept_apart() -> None:
    """A TXT record keeps its character-strings, and ``txt()`` joins them."""
    answer = StaticResolver.from_zone_text(ZONE).query("Example.COM.", "TXT")
    assert answer.rcode is Rcode.NOERROR
    assert answer.records == (Txt((b"v=spf1 ", b"ip4:192.0.2.0/24 -all")),)
    assert answer.txt() == [b"v=spf1 ip4:192.0.2.0/24 -all"]
    assert answer.ttl == 600


def test_zone_file_answers_mx_a_aaaa_and_ptr() -> None:
    """Every type the checks use comes back as our own value."""
    zone = StaticResolver.from_zone_text(ZONE)
    assert zone.query("example.com", "MX").records == (Mx(10, "mx.example.com"),)
    assert zone.query("mx.example.com", "A").records == (Address("192.0.2.10"),)
    assert zone.query("mx.example.com", "AAAA").records == (Address("2001:db8::10"),)
    assert zone.query("10.2.0.192.in-addr.arpa", "PTR").records == (Target("mx.example.com"),)


def test_cname_is_followed_and_reported() -> None:
    """An alias answers with its target's records and names the alias it crossed."""
    answer = StaticResolver.from_zone_text(ZONE).query("alias.example.com", "A")
    assert answer.records == (Address("192.0.2.10"),)
    assert answer.cnames == ("alias.example.com",)


def test_missing_name_is_nxdomain_but_empty_non_terminal_is_nodata() -> None:
    """A name with nothing below it is NXDOMAIN; one with descendants is NOERROR, no data."""
    zone = StaticResolver.from_zone_text(ZONE)
    assert zone.query("nothing.example.com", "TXT").rcode is Rcode.NXDOMAIN
    empty = zone.query("b.deep.example.org", "TXT")
    assert (empty.rcode, empty.records) == (Rcode.NOERROR, ())
    nodata = zone.query("mx.example.com", "TXT")
    assert (nodata.rcode, nodata.records) == (Rcode.NOERROR, ())


def test_broken_zone_file_is_invalid_input() -> None:
    """A master file that does not parse is reported as invalid input, not a crash."""
    with pytest.raises(InvalidInput):
        StaticResolver.from_zone_text("example.com. IN TXT")


def test_fake_times_out_on_request() -> None:
    """Names listed as timeouts raise the temporary failure the checks expect."""
    fake = StaticResolver.of([], timeouts=["slow.example"])
    with pytest.raises(DnsTemporaryFailure) as info:
        fake.query("slow.example", "TXT")
    assert info.value.code == "DNS_TEMPORARY_FAILURE"


def test_unsupported_type_is_refused() -> None:
    """Asking for a type the checks never need is a programming error."""
    with pytest.raises(ValueError):
        StaticResolver.of([]).query("example.com", "NAPTR")


class CountingResolver:
    """Counts queries and answers a fixed TTL."""

    def __init__(self, ttl: int) -> None:
        self.calls = 0
        self.ttl = ttl

    def query(self, name: str, rdtype: str) -> Answer:
        self.calls += 1
        return Answer(name, rdtype, Rcode.NOERROR, (Txt((b"x",)),), self.ttl)


def test_cache_serves_until_ttl_expires() -> None:
    """A cached answer is reused within its TTL and fetched again after it."""
    now = [1000.0]
    inner = CountingResolver(ttl=60)
    cache = CachingResolver(inner, clock=lambda: now[0])
    cache.query("a.example", "TXT")
    cache.query("A.example.", "txt")
    assert inner.calls == 1
    now[0] += 61
    cache.query("a.example", "TXT")
    assert inner.calls == 2
    assert (cache.hits, cache.misses) == (1, 2)


def test_cache_evicts_least_recently_used() -> None:
    """The cache never holds more than its limit."""
    inner = CountingResolver(ttl=60)
    cache = CachingResolver(inner, max_entries=2)
    for name in ("a", "b", "c", "a"):
        cache.query(name, "TXT")
    assert inner.calls == 4


def test_cache_does_not_remember_failures() -> None:
    """A timeout is retried on the next query rather than cached."""
    fake = StaticResolver.of([StaticRecord("ok.example", "TXT", Txt((b"v",)))], ["slow.example"])
    cache = CachingResolver(fake)
    for _ in range(2):
        with pytest.raises(DnsTemporaryFailure):
            cache.query("slow.example", "TXT")
    assert fake.lookups.count(("slow.example", "TXT")) == 2


def test_txt_lookup_speaks_dkimpy_dnsfunc() -> None:
    """The dkimpy adapter takes bytes names and returns the joined first record."""
    get_txt = txt_lookup(StaticResolver.from_zone_text(ZONE))
    assert get_txt(b"_dmarc.example.com.") == b"v=DMARC1; p=reject"
    assert get_txt("none.example.com") is None


def test_dnspython_resolver_turns_an_unreachable_server_into_a_temporary_failure() -> None:
    """No server on the port: the lookup fails as DnsTemporaryFailure, never hangs or leaks."""
    import socket

    from carrierguard.mail.dns import DnspythonResolver

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    resolver = DnspythonResolver(nameservers=["127.0.0.1"], port=port, timeout=0.5)
    with pytest.raises(DnsTemporaryFailure):
        resolver.query("example.jp", "TXT")
