"""Real keys and signed tokens for the assurance tests: generated here, never stored."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from carrierguard.contracts.assurance_policy import DEFAULT_MFA_AMR, MfaPolicy
from carrierguard.contracts.model import Channel

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ISSUER = "https://idp.carrier.example"
AUDIENCE = "carrierguard"

MFA_POLICY = MfaPolicy(
    required_for_additional_lines=True,
    channels=frozenset({Channel.ONLINE}),
    jwks="keys.json",
    issuer=ISSUER,
    audience=AUDIENCE,
    algorithms=frozenset({"RS256", "ES256"}),
    max_age_seconds=600,
    leeway_seconds=30,
    accepted_amr=tuple(frozenset(c.split("+")) for c in DEFAULT_MFA_AMR),
    accepted_acr=frozenset({"urn:carrier:loa:mfa"}),
)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    def public_pem(self) -> bytes:
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header}
        )


@cache
def rsa_key(kid: str = "rsa-1") -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "RS256", private, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"})


@cache
def ec_key(kid: str = "ec-1") -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "ES256", private, {**jwk, "kid": kid, "alg": "ES256", "use": "sig"})


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """A forged token with ``alg: none`` and an empty signature."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_pem(claims: dict[str, Any], key: SigningKey) -> str:
    """The classic confusion forgery: HMAC keyed with the IdP's public key PEM.

    PyJWT refuses to HMAC with a PEM, so the forger computes it by hand, as an attacker would.
    """
    import hashlib
    import hmac

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(key.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


def id_claims(**overrides: Any) -> dict[str, Any]:
    t = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "holder-42",
        "iat": t - 60,
        "auth_time": t - 60,
        "exp": t + 600,
        "amr": ["pwd", "otp"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}
