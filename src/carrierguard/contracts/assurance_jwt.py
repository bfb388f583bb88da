"""Verify a signed JWT against a JWKS document, with the clock passed in: no I/O, no now().

PyJWT checks the signature; this module chooses the key and checks the claims itself,
so that ``now`` comes from the caller and each failure has its own ``JwtProblem``.

Guards against algorithm confusion, in depth:
- the header's ``alg`` must be in the caller's allow-list, which holds asymmetric
  algorithms only (``none`` and HS* are refused before any key is touched);
- only RSA, EC and OKP keys of the JWKS are candidates (``oct`` secrets never are);
- each key is bound to the header's algorithm (``PyJWK(..., algorithm=alg)``), and a key
  whose own ``alg`` differs is skipped, so the token cannot choose how it is verified.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from jwt.exceptions import InvalidSignatureError, InvalidTokenError, PyJWKError

_ASYMMETRIC_KTY = frozenset({"RSA", "EC", "OKP"})


class JwtProblem(StrEnum):
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    MISSING_CLAIM = "missing_claim"


@dataclass(frozen=True, slots=True)
class JwtRejected:
    problem: JwtProblem
    detail: str
    alg: str = ""


@dataclass(frozen=True, slots=True)
class VerifiedJwt:
    alg: str
    kid: str | None
    claims: Mapping[str, Any] = field(default_factory=dict)


def unverified_claims(token: str) -> Mapping[str, Any] | None:
    """The claims read WITHOUT verification, only to choose which keys to verify with;
    None when ``token`` is not a readable JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError:
        return None
    return claims if isinstance(claims, dict) else None


def _candidates(jwks: Mapping[str, Any], alg: str, kid: str | None) -> list[jwt.PyJWK]:
    keys = jwks.get("keys")
    out = []
    for data in keys if isinstance(keys, list) else []:
        if not isinstance(data, dict) or data.get("kty") not in _ASYMMETRIC_KTY:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        try:
            out.append(jwt.PyJWK(data, algorithm=alg))
        except (PyJWKError, InvalidTokenError):
            continue  # a key of another type than alg (an RSA key for ES256): not a candidate
    return out


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | None,
    now: datetime,
    leeway: timedelta,
) -> JwtRejected | None:
    if claims.get("iss") != issuer:
        return JwtRejected(JwtProblem.ISSUER, f"issuer {claims.get('iss')!r}")
    if audience is not None:
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in auds:
            return JwtRejected(JwtProblem.AUDIENCE, f"audience {aud!r}")
        if len(auds) > 1 and claims.get("azp", audience) != audience:
            return JwtRejected(JwtProblem.AUDIENCE, f"authorized party {claims.get('azp')!r}")
    t = now.timestamp()
    slack = leeway.total_seconds()
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp is None or iat is None:
        return JwtRejected(JwtProblem.MISSING_CLAIM, "exp and iat are required numbers")
    if t >= exp + slack:
        return JwtRejected(JwtProblem.EXPIRED, f"expired {int(t - exp)} s ago")
    nbf = _number(claims, "nbf")
    if iat > t + slack or (nbf is not None and nbf > t + slack):
        return JwtRejected(JwtProblem.NOT_YET_VALID, "issued in the future")
    return None


def verify_jwt(
    token: str,
    jwks: Mapping[str, Any],
    *,
    algorithms: Collection[str],
    issuer: str,
    audience: str | None,
    now: datetime,
    leeway: timedelta = timedelta(seconds=30),
) -> VerifiedJwt | JwtRejected:
    """Signature (against ``jwks``), then issuer, audience, exp, iat and nbf at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        header = jwt.get_unverified_header(token)
    except InvalidTokenError as exc:
        return JwtRejected(JwtProblem.MALFORMED, f"not a JWS: {exc}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        return JwtRejected(JwtProblem.ALGORITHM, f"algorithm {alg!r} not allowed", str(alg))
    raw_kid = header.get("kid")
    kid = raw_kid if isinstance(raw_kid, str) else None
    keys = _candidates(jwks, alg, kid)
    if not keys:
        return JwtRejected(JwtProblem.UNKNOWN_KEY, f"no {alg} key with kid {kid!r}", alg)
    options: Any = {
        "verify_signature": True,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,
        "verify_iss": False,
        "require": [],
    }
    for key in keys:
        try:
            claims = jwt.decode(token, key=key, algorithms=[alg], options=options)
        except InvalidSignatureError:
            continue
        except InvalidTokenError as exc:
            return JwtRejected(JwtProblem.MALFORMED, str(exc), alg)
        problem = _check_claims(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
        if problem is not None:
            return JwtRejected(problem.problem, problem.detail, alg)
        return VerifiedJwt(alg, kid, claims)
    return JwtRejected(JwtProblem.SIGNATURE, "signature does not verify", alg)
