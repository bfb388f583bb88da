"""The RFC 6376 and RFC 8463 (Ed25519) vectors shipped with dkimpy, through our resolver."""

from __future__ import annotations

from pathlib import Path

import pytest

from carrierguard.mail.auth.dkim import verify_dkim
from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from tests.conftest import SHARED_DATA, need

DATA = SHARED_DATA / "mail" / "email-auth" / "dkimpy-1.1.8" / "data"
KEYS = {
    "test._domainkey.football.example.com": "test.txt",
    "sed._domainkey.test.ex": "eximtest.dns",
}
# RFC 8463 appendix A.2 publishes the Ed25519 key of the "brisbane" selector.
RFC8463_BRISBANE = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def vector_resolver() -> StaticResolver:
    records = [
        StaticRecord(name, "TXT", Txt(((DATA / file).read_bytes().strip(),)))
        for name, file in KEYS.items()
    ]
    records.append(
        StaticRecord("brisbane._domainkey.football.example.com", "TXT", Txt((RFC8463_BRISBANE,)))
    )
    return StaticResolver.of(records)


def read(name: str) -> Path:
    need(DATA.is_dir(), f"dkimpy vectors not found at {DATA}")
    return DATA / name


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("rfc6376.signed.msg", [("brisbane", "pass"), ("test", "pass")]),
        ("rfc6376.signed.rsa.msg", [("test", "pass")]),
        # The same signature with t= removed and x= added: the signed tag list changed.
        ("rfc6376.signed.no_t.msg", [("test", "fail")]),
        ("ed25519test2.msg", [("sed", "pass")]),
    ],
)
def test_vector_signatures_verify(file: str, expected: list[tuple[str, str]]) -> None:
    """Every signature of the RFC 6376 / RFC 8463 vectors verifies with its published key."""
    message = Message.parse(read(file).read_bytes())
    got = verify_dkim(message, vector_resolver())
    assert [(r.selector, r.result) for r in got] == expected


def test_altered_body_fails_every_vector_signature() -> None:
    """Changing one body byte turns both the RSA and the Ed25519 signature into fail."""
    raw = read("rfc6376.signed.msg").read_bytes().replace(b"dinner", b"d1nner")
    got = verify_dkim(Message.parse(raw), vector_resolver())
    assert {r.result for r in got} == {"fail"}


def test_missing_key_is_a_failure_not_a_crash() -> None:
    """A selector without a key record gives a non-pass result."""
    message = Message.parse(read("rfc6376.signed.rsa.msg").read_bytes())
    (got,) = verify_dkim(message, StaticResolver.of([]))
    assert got.result in ("fail", "permerror")
