"""Small fixtures for the mail tests: a DKIM key pair, a signer, and message builders."""

from __future__ import annotations

from collections.abc import Callable

import dkim
import pytest

from carrierguard.mail.dns import StaticRecord, Txt
from carrierguard.mail.signing import KeyAlgorithm, generate_key

Signer = Callable[..., bytes]


@pytest.fixture(scope="session")
def rsa_key() -> tuple[bytes, bytes]:
    """An RSA-2048 key: (private PEM, DKIM TXT record)."""
    key = generate_key(KeyAlgorithm.RSA)
    return key.private, key.dns_record.encode()


@pytest.fixture(scope="session")
def sign(rsa_key: tuple[bytes, bytes]) -> Signer:
    """Sign a message with selector ``sel`` for a domain, optionally with ``l=``."""

    def signer(raw: bytes, domain: str, *, length: bool = False) -> bytes:
        header = dkim.sign(
            raw,
            b"sel",
            domain.encode(),
            rsa_key[0],
            include_headers=[b"from", b"to", b"subject"],
            length=length,
        )
        return bytes(header) + raw

    return signer


def key_record(domain: str, rsa_key: tuple[bytes, bytes]) -> StaticRecord:
    """The TXT record publishing the test key for ``domain``."""
    return StaticRecord(f"sel._domainkey.{domain}", "TXT", Txt((rsa_key[1],)))


def message(from_field: str, body: str = "Hello.\r\n", *extra: str) -> bytes:
    """A minimal message with the given From field value (and extra header lines)."""
    lines = [f"From: {from_field}", "To: user@example.net", "Subject: test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
