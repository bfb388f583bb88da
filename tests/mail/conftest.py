"""Small fixtures for the mail tests: a DKIM key pair, a signer, and message builders."""

from __future__ import annotations

import base64
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from carrierguard.mail.dns import StaticRecord, Txt

Signer = Callable[..., bytes]


@pytest.fixture(scope="session")
def rsa_key() -> tuple[bytes, bytes]:
    """An RSA-2048 key: (private PEM, DKIM TXT record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


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
