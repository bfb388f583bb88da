"""The I/O edge of assurance: load a JWKS document from a file or fetch it from a URL.

The pure checks (``assurance_mfa``, ``assurance_kyc``) take the JWKS as a dict; this is
where it comes from. URLs are fetched with PyJWT's ``PyJWKClient`` (no redirects, http(s)
only) and kept for ``lifespan`` seconds; ``document(refresh=True)`` refetches when a token
names a key we do not have yet (key rotation). Plain http is accepted for loopback only.
Failures become ``KeySetUnavailable``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jwt
from jwt.exceptions import PyJWKClientError

from carrierguard.contracts.assurance import AssuranceEvidence, AssuranceKeys
from carrierguard.contracts.assurance_jwt import JwtProblem, unverified_claims
from carrierguard.contracts.assurance_policy import AssurancePolicy
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.errors import KeySetUnavailable

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _checked(location: str, data: object) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeySetUnavailable(location, "not a JWKS document (no 'keys' list)")
    return data


def read_jwks_file(path: Path) -> dict[str, Any]:
    try:
        return _checked(str(path), json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise KeySetUnavailable(str(path), exc.strerror or str(exc)) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeySetUnavailable(str(path), f"not JSON: {exc}") from exc


class JwksSource:
    """One configured JWKS location; relative file paths resolve against ``base``."""

    def __init__(
        self,
        location: str,
        *,
        base: Path | None = None,
        timeout: float = 5.0,
        lifespan: float = 300.0,
    ) -> None:
        self.location = location
        self.lifespan = lifespan
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._client: jwt.PyJWKClient | None = None
        self._path: Path | None = None
        parsed = urlparse(location)
        if parsed.scheme in ("http", "https"):
            if parsed.scheme == "http" and parsed.hostname not in _LOOPBACK:
                raise KeySetUnavailable(location, "use https (plain http only for loopback)")
            self._client = jwt.PyJWKClient(location, cache_jwk_set=False, timeout=timeout)
        else:
            path = Path(location)
            self._path = path if path.is_absolute() or base is None else base / path

    def document(self, *, refresh: bool = False) -> dict[str, Any]:
        """The JWKS as a dict; a file is read each time, a URL is cached for ``lifespan``."""
        if self._path is not None:
            return read_jwks_file(self._path)
        assert self._client is not None
        with self._lock:
            fresh = time.monotonic() - self._fetched_at < self.lifespan
            if self._cached is not None and fresh and not refresh:
                return self._cached
            try:
                data = self._client.fetch_data()
            except PyJWKClientError as exc:
                if self._cached is not None and not refresh:
                    return self._cached  # a transient outage keeps the last good keys
                raise KeySetUnavailable(self.location, str(exc)) from exc
            self._cached = _checked(self.location, data)
            self._fetched_at = time.monotonic()
            return self._cached


class AssuranceKeyring:
    """The JWKS sources an ``AssurancePolicy`` names: the carrier IdP and each trusted issuer.

    ``keys_for(evidence)`` loads only what an application needs (the IdP's keys when it
    carries an ID token, the keys of its assertion's issuer when that issuer is trusted), so
    one unreachable issuer never blocks other applications. When a check reports an unknown
    key (``needs_key_refresh``), the service calls ``keys_for(..., refresh=True)`` once and
    checks again: that is how a key rotation at the IdP is picked up.
    """

    def __init__(
        self, policy: AssurancePolicy, *, base: Path | None = None, timeout: float = 5.0
    ) -> None:
        self.idp = JwksSource(policy.mfa.jwks, base=base, timeout=timeout) if policy.mfa else None
        issuers = policy.reliance.issuers if policy.reliance else ()
        self.issuers = {t.issuer: JwksSource(t.jwks, base=base, timeout=timeout) for t in issuers}

    def keys_for(self, evidence: AssuranceEvidence, *, refresh: bool = False) -> AssuranceKeys:
        idp: dict[str, Any] = {}
        if self.idp is not None and evidence.id_token:
            idp = self.idp.document(refresh=refresh)
        issuers: dict[str, dict[str, Any]] = {}
        if evidence.relied_assertion:
            peeked = unverified_claims(evidence.relied_assertion) or {}
            issuer = peeked.get("iss")
            source = self.issuers.get(issuer) if isinstance(issuer, str) else None
            if source is not None and isinstance(issuer, str):
                issuers[issuer] = source.document(refresh=refresh)
        return AssuranceKeys(idp=idp, kyc_issuers=issuers)


def needs_key_refresh(findings: Iterable[Finding]) -> bool:
    """Whether a token named a key the loaded JWKS does not have (a rotation, perhaps)."""
    return any(f.detail.startswith(JwtProblem.UNKNOWN_KEY.value) for f in findings)
