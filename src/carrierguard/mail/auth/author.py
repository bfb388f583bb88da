"""The RFC5322.From author domain, extracted strictly so that DMARC cannot be bypassed.

The "Composition Kills" attacks (USENIX Security 2020) and OpenDMARC CVE-2020-12272
work because the DMARC checker and the mail reader disagree on which domain a
From field names. We parse the address list ourselves (quoted strings, nested
comments, angle addresses, groups) and accept exactly one author domain; anything
ambiguous is an ``AuthorProblem`` that DMARC turns into ``permerror`` and local
policy rejects. Encoded-words are never decoded here: only the addr-spec counts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import idna

from carrierguard.mail.message import Message

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class AuthorDomain:
    """The single domain the From field names, as an ASCII (A-label) domain."""

    domain: str
    address: str
    unicode_domain: str = ""
    confusable: bool = False


@dataclass(frozen=True, slots=True)
class AuthorProblem:
    """Why no single author domain could be determined; ``code`` is stable."""

    code: str
    detail: str


def author_domain(message: Message) -> AuthorDomain | AuthorProblem:
    """Determine the author domain of ``message`` or say precisely why not."""
    values = message.get_all("From")
    if not values:
        return AuthorProblem("FROM_MISSING", "no From header field")
    if len(values) > 1:
        return AuthorProblem("FROM_MULTIPLE_FIELDS", f"{len(values)} From header fields")
    try:
        addresses = parse_address_list(values[0])
    except ValueError as exc:
        return AuthorProblem("FROM_UNPARSABLE", str(exc))
    if not addresses:
        return AuthorProblem("FROM_EMPTY", "From names no address")
    domains: list[AuthorDomain] = []
    for address in addresses:
        found = _domain_of(address)
        if isinstance(found, AuthorProblem):
            return found
        domains.append(found)
    if len({d.domain for d in domains}) > 1:
        return AuthorProblem("FROM_MULTIPLE_DOMAINS", "From names addresses in several domains")
    return domains[0]


def _domain_of(address: str) -> AuthorDomain | AuthorProblem:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return AuthorProblem("FROM_NO_DOMAIN", f"address {address!r} has no domain")
    if "=?" in domain or any(c in domain for c in '@()<>[]\\,;:" \t'):
        return AuthorProblem("FROM_BAD_DOMAIN", f"domain {domain!r} is not a domain name")
    domain = domain.rstrip(".")
    unicode_domain = ""
    confusable = False
    if not domain.isascii():
        unicode_domain = domain
        confusable = is_confusable(domain)
        try:
            # Strict IDNA 2008, no UTS 46 mapping: full-width "ｅｘａｍｐｌｅ.jp" must
            # not silently become example.jp and borrow its reputation.
            domain = idna.encode(domain, uts46=False).decode("ascii")
        except idna.IDNAError as exc:
            return AuthorProblem("FROM_BAD_IDN", f"domain {unicode_domain!r}: {exc}")
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return AuthorProblem("FROM_BAD_DOMAIN", f"domain {domain!r} is not a domain name")
    return AuthorDomain(domain, address, unicode_domain, confusable)


# Cyrillic and Greek letters that render like Latin ones (after UTS 39 confusables).
LATIN_LOOKALIKES = frozenset("аеорсухіјѕԁԛԝһӏвкмнтԍаеіоΑΒΕΗΙΚΜΝΟΡΤΥΧΖαοινρτυϲ")
_JAPANESE = frozenset({"CJK", "HIRAGANA", "KATAKANA"})


def _script(char: str) -> str:
    if char.isascii():
        return "LATIN" if char.isalpha() else "COMMON"
    name = unicodedata.name(char, "UNKNOWN")
    if name.startswith(("HALFWIDTH", "FULLWIDTH")):
        return "WIDTH"
    return name.split(" ")[0]


def is_confusable(domain: str) -> bool:
    """True for a label built to pass for a Latin one (UTS 39, approximated).

    Flags Latin mixed with another script ("pаypal" with a Cyrillic а) and whole
    labels written only with Latin look-alikes ("аре" in Cyrillic). Ordinary
    Cyrillic, Greek or Japanese names, and Japanese mixed with Latin, pass.
    """
    for label in domain.split("."):
        scripts = {_script(c) for c in label} - {"COMMON"}
        if "WIDTH" in scripts:
            return True
        if "LATIN" in scripts and scripts - {"LATIN"} - _JAPANESE:
            return True
        letters = [c for c in label if not c.isascii()]
        if (
            letters
            and scripts <= {"CYRILLIC", "GREEK"}
            and all(c in LATIN_LOOKALIKES for c in letters)
        ):
            return True
    return False


def parse_address_list(value: str) -> list[str]:
    """The addr-specs of an RFC 5322 address-list, skipping display names and comments.

    Raises ValueError on unbalanced quotes, comments or angle brackets.
    """
    addresses: list[str] = []
    token: list[str] = []  # bare text of the current mailbox outside <>, quotes and comments
    angle: list[str] | None = None
    angle_seen = False
    i = 0
    n = len(value)

    def finish() -> None:
        nonlocal token, angle_seen
        if not angle_seen:
            bare = "".join(token).strip()
            if bare:
                addresses.append(bare.replace(" ", ""))
        token = []
        angle_seen = False

    while i < n:
        c = value[i]
        if c == '"':
            end = _skip_quoted(value, i)
            text = value[i : end + 1]
            if angle is not None:
                angle.append(text)
            else:
                token.append(text)
            i = end + 1
            continue
        if c == "(":
            i = _skip_comment(value, i) + 1
            continue
        if c == "<":
            if angle is not None:
                raise ValueError("nested '<'")
            angle = []
            i += 1
            continue
        if c == ">":
            if angle is None:
                raise ValueError("'>' without '<'")
            addresses.append("".join(angle).strip().replace(" ", ""))
            angle = None
            angle_seen = True
            i += 1
            continue
        if angle is not None:
            angle.append(c)
        elif c == ",":
            finish()
        elif c == ":":
            token = []  # a group's display name
        elif c == ";":
            finish()
        elif angle_seen and not c.isspace():
            # "<a@evil.example>b@bank.example": readers disagree on which one is shown.
            raise ValueError("text after an angle address")
        else:
            token.append(c)
        i += 1
    if angle is not None:
        raise ValueError("unclosed '<'")
    finish()
    return [_strip_route(a) for a in addresses if a]


def _strip_route(address: str) -> str:
    # Obsolete source routes "<@relay:user@domain>" name the real address last.
    return address.rsplit(":", 1)[-1] if address.startswith("@") else address


def _skip_quoted(value: str, start: int) -> int:
    i = start + 1
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == '"':
            return i
        i += 1
    raise ValueError("unclosed quoted string")


def _skip_comment(value: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unclosed comment")
