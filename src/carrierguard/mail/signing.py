"""DKIM signing of outbound mail (RSA-2048 and Ed25519, RFC 6376 / RFC 8463) and key generation.

Keys are generated with ``cryptography`` and written by the caller; signing is
dkimpy's. ``DkimKey.dns_record`` is the TXT value to publish at
``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from carrierguard.errors import InvalidInput
from carrierguard.mail.auth.author import AuthorDomain, author_domain
from carrierguard.mail.message import Message
from carrierguard.mail.settings import AllowList
from carrierguard.mail.verdict import CheckContext, Stage

RSA_BITS = 2048
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class KeyAlgorithm(Enum):
    RSA = "rsa"
    ED25519 = "ed25519"


@dataclass(frozen=True, slots=True)
class DkimKey:
    """A signing key: the private half as dkimpy reads it, and the public TXT record."""

    algorithm: KeyAlgorithm
    private: bytes = field(repr=False)
    public_b64: str

    @property
    def dns_record(self) -> str:
        return f"v=DKIM1; k={self.algorithm.value}; p={self.public_b64}"


def generate_key(algorithm: KeyAlgorithm) -> DkimKey:
    """A fresh RSA-2048 or Ed25519 key pair."""
    if algorithm is KeyAlgorithm.RSA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return DkimKey(algorithm, private, base64.b64encode(public).decode("ascii"))
    seed = ed25519.Ed25519PrivateKey.generate()
    raw_private = seed.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = seed.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    # dkimpy reads an Ed25519 private key as the base64 of its 32-byte seed (RFC 8463).
    return DkimKey(
        algorithm, base64.b64encode(raw_private), base64.b64encode(raw_public).decode("ascii")
    )


def zone_line(selector: str, domain: str, key: DkimKey) -> str:
    """The master-file line publishing ``key``, split into strings of at most 255 octets."""
    for label in [selector, *domain.rstrip(".").split(".")]:
        if not _LABEL.match(label):
            raise InvalidInput(
                f"not a DNS label: {label!r}", message_ja=f"DNS ラベルとして不正です: {label!r}"
            )
    record = key.dns_record
    chunks = " ".join(f'"{record[i : i + 250]}"' for i in range(0, len(record), 250))
    return f"{selector}._domainkey.{domain.rstrip('.')}. 3600 IN TXT ( {chunks} )"


@dataclass(frozen=True, slots=True)
class DkimSigner:
    """Signs for one domain with one selector."""

    domain: str
    selector: str
    key: DkimKey

    def signature(self, raw: bytes) -> tuple[str, str]:
        """The ``DKIM-Signature`` field (name, value) for the message ``raw``."""
        algorithm = (
            b"ed25519-sha256" if self.key.algorithm is KeyAlgorithm.ED25519 else b"rsa-sha256"
        )
        try:
            line = dkim.sign(
                raw,
                self.selector.encode(),
                self.domain.encode(),
                self.key.private,
                include_headers=[h for h in SIGNED_HEADERS if _has_header(raw, h)] or [b"from"],
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=algorithm,
            )
        except dkim.DKIMException as exc:
            raise InvalidInput(
                f"cannot sign: {exc}", message_ja=f"DKIM 署名できません: {exc}"
            ) from exc
        name, _, value = bytes(line).decode("ascii").partition(":")
        return name, value.strip()


def _has_header(raw: bytes, name: bytes) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return any(
        line.split(b":", 1)[0].strip().lower() == name
        for line in head.splitlines()
        if line[:1] not in (b" ", b"\t")
    )


def signing_stage(signers: Mapping[str, DkimSigner], internal: AllowList) -> Stage:
    """Sign mail that leaves from our own networks for a domain we hold a key for."""

    def sign_outbound(message: Message, context: CheckContext) -> CheckContext:
        if not internal.allows_ip(context.envelope.ip):
            return context
        author = author_domain(message)
        if not isinstance(author, AuthorDomain):
            return context
        signer = _signer_for(signers, author.domain)
        if signer is None:
            return context
        header = signer.signature(message.raw)
        return replace(context, add_headers=(*context.add_headers, header))

    return sign_outbound


def _signer_for(signers: Mapping[str, DkimSigner], domain: str) -> DkimSigner | None:
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        found = signers.get(".".join(labels[i:]))
        if found is not None:
            return found
    return None


def load_key(data: bytes) -> DkimKey:
    """Read a private key file written by ``mail dkim-keygen`` (PEM RSA or base64 Ed25519)."""
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            private = serialization.load_pem_private_key(text, password=None)
            if not isinstance(private, rsa.RSAPrivateKey):
                raise ValueError("only RSA keys are read from PEM")
            public = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return DkimKey(KeyAlgorithm.RSA, text, base64.b64encode(public).decode("ascii"))
        seed = base64.b64decode(text, validate=True)
        ed = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        raw_public = ed.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return DkimKey(KeyAlgorithm.ED25519, text, base64.b64encode(raw_public).decode("ascii"))
    except ValueError as exc:
        raise InvalidInput(
            f"unreadable DKIM key: {exc}", message_ja=f"DKIM 鍵を読み込めません: {exc}"
        ) from exc
