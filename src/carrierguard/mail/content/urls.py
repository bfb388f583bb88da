"""Evidence from links: real target against displayed text, shorteners, IP hosts, IDN.

``analyse_link`` turns one (href, text) pair into a ``LinkEvidence``. It never fetches
anything (the corpora hold live phishing URLs) and never raises on a malformed URL: such a
link is simply reported as unparsable.

``special_use`` sorts out names that nobody can register in the public DNS (RFC 2606,
RFC 6761 and later special-use registrations). Of those, only ``.onion`` names can be made
by anyone at will (a Tor key pair is the whole registration), so they stay ordinary
evidence; every other special-use host is outside what the URL model knows.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from carrierguard.mail.content.brands import Catalogue, lookalike_of, official_anywhere

SHORTENERS = frozenset(
    (
        *("bit.ly", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "x.gd"),
        *("t.ly", "rebrand.ly", "cutt.ly", "s.id", "urx.nu", "urx2.nu", "urx3.nu", "v.gd"),
        *("qr.paps.jp", "amzn.to", "bit.do", "shorturl.at", "rb.gy", "tiny.cc", "lnkd.in"),
        *("0rz.tw", "reurl.cc", "00m.in", "u.to", "clck.ru", "ux.nu", "onl.bz", "onl.sc"),
    )
)
# Special-use names by kind; a host is of a kind when it is, or ends in, one of the names.
#   reserved: never resolves on the public internet for anyone (RFC 2606 documentation
#             names and example.com/.net/.org, RFC 6761 .test and .invalid, RFC 9476 .alt,
#             which is kept out of the DNS).
#   loopback: the reader's own computer (RFC 6761 .localhost).
#   local:    a name only the reader's own network answers: mDNS .local (RFC 6762),
#             home.arpa (RFC 8375), .internal (reserved by ICANN for private use in 2024).
#   onion:    a Tor onion service (RFC 7686): not in the DNS, but anyone can create one.
SPECIAL_USE: dict[str, str] = {
    **dict.fromkeys(
        ("example", "test", "invalid", "alt", "example.com", "example.net", "example.org"),
        "reserved",
    ),
    "localhost": "loopback",
    **dict.fromkeys(("local", "home.arpa", "internal"), "local"),
    "onion": "onion",
}
# Kinds whose hosts the URL model never scores: no phisher can hold such a name on the
# public internet, and the model, trained on public hosts, has nothing to say about them.
NOT_PUBLIC = frozenset(("reserved", "loopback", "local"))
_DOMAINISH = re.compile(r"((?:[a-z0-9-]+\.)+[a-z]{2,})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LinkEvidence:
    """What one link says about the message."""

    host: str
    domain: str
    scheme: str
    ip_host: bool
    punycode: bool
    non_ascii_host: bool
    shortener: bool
    userinfo: bool
    text_domain_mismatch: bool
    lookalike: str | None
    official: bool
    parsable: bool
    special_use: str = ""  # a kind of ``SPECIAL_USE``, or "" for an ordinary host


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@cache
def registrable_domain(host: str) -> str:
    """``www.example.co.jp`` -> ``example.co.jp``; the host itself when it has no suffix."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return host
    return _psl().privatesuffix(host) or host


def split_host(href: str) -> tuple[str, str, str, bool]:
    """(scheme, host, registrable domain, had userinfo) of ``href``; empties when unparsable."""
    href = href.strip()
    if href.lower().startswith("www."):
        href = "http://" + href
    try:
        parts = urlsplit(href)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", "", "", False
    if not host:
        return parts.scheme.lower(), "", "", False
    return parts.scheme.lower(), host, registrable_domain(host), "@" in parts.netloc


@lru_cache(maxsize=65536)
def special_use(host: str) -> str:
    """The kind of special-use name ``host`` is (see ``SPECIAL_USE``); "" when it is none."""
    labels = host.lower().rstrip(".").split(".")
    for n in (2, 1):
        if len(labels) >= n:
            kind = SPECIAL_USE.get(".".join(labels[-n:]))
            if kind:
                return kind
    return ""


def public_host(host: str) -> bool:
    """False for a host no one can hold on the public internet (reserved, loopback, local)."""
    return special_use(host) not in NOT_PUBLIC


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(re.fullmatch(r"(?:0x[0-9a-f]+|\d{8,10})", host))
    return True


@lru_cache(maxsize=65536)
def _host_facts(host: str, catalogue: Catalogue) -> tuple[bool, str | None, bool]:
    """(IP host, lookalike brand, official) of ``host``: hosts recur far more than links."""
    return _is_ip(host), lookalike_of(host, catalogue), official_anywhere(host, catalogue)


def _text_domain(text: str) -> str:
    m = _DOMAINISH.search(text.strip())
    if not m:
        return ""
    return registrable_domain(m.group(1).lower())


def analyse_link(href: str, text: str, catalogue: Catalogue) -> LinkEvidence:
    """Evidence for one link; ``text`` is what the reader sees ('' for a bare URL)."""
    scheme, host, domain, userinfo = split_host(href)
    if not host:
        return LinkEvidence(
            "",
            "",
            scheme,
            False,
            False,
            False,
            False,
            False,
            False,
            None,
            False,
            scheme in ("mailto", "tel", "cid"),
        )
    shown = _text_domain(text)
    ascii_host = host.isascii()
    ip_host, lookalike, official = _host_facts(host, catalogue)
    return LinkEvidence(
        host=host,
        domain=domain,
        scheme=scheme,
        ip_host=ip_host,
        punycode="xn--" in host,
        non_ascii_host=not ascii_host,
        shortener=host in SHORTENERS or domain in SHORTENERS,
        userinfo=userinfo,
        text_domain_mismatch=bool(shown) and shown != domain,
        lookalike=lookalike,
        official=official,
        parsable=True,
        special_use=special_use(host),
    )
