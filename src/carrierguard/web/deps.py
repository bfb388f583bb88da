"""Request-scoped dependencies: the service, the caller's key, and role checks.

They are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, one
thread hop each per request. Only a key missing from the cache is looked up in the
registry, in the thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase
from starlette.concurrency import run_in_threadpool

from carrierguard.auth import Permission, Role, allowed, secret_matches, split_token
from carrierguard.contracts.service import ScreeningService
from carrierguard.errors import AuthenticationFailed, PermissionDenied

KEY_CACHE_SECONDS = 10.0
_bearer = HTTPBearer(auto_error=False, description="API key from `carrierguard keys create`")


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"key:{self.name}"


class KeyCache:
    """Verified keys for a few seconds, so that a revoked key stops working quickly."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, Caller]] = {}

    def get(self, token: str) -> Caller | None:
        hit = self._seen.get(token)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, token: str, caller: Caller) -> None:
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[token] = (time.monotonic() + KEY_CACHE_SECONDS, caller)


async def get_service(request: Request) -> ScreeningService:
    service: ScreeningService = request.app.state.service
    return service


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("an API key is required: Authorization: Bearer <key>")
    token = credentials.credentials
    cache: KeyCache = request.app.state.key_cache
    cached = cache.get(token)
    if cached is not None:
        return cached
    service: ScreeningService = request.app.state.service
    caller = await run_in_threadpool(_verify, service, token)
    cache.put(token, caller)
    return caller


def _verify(service: ScreeningService, token: str) -> Caller:
    """The caller a token names, checked against the registry (blocking)."""
    prefix, secret = split_token(token)
    with service.registry.read() as tx:
        record = tx.api_key_by_prefix(prefix)
    if record is None or record.revoked or not secret_matches(secret, record.secret_hash):
        raise AuthenticationFailed("unknown or revoked API key")
    return Caller(record.key_id, record.name, Role(record.role))


class _Require(SecurityBase):
    """``authenticate`` and the role check as one dependency: FastAPI solves one level per
    request instead of three. It is the same Bearer scheme to OpenAPI (``_bearer``'s model
    and name), and it reads the header through ``_bearer`` itself."""

    def __init__(self, permission: Permission) -> None:
        self.model = _bearer.model
        self.scheme_name = _bearer.scheme_name
        self.permission = permission

    async def __call__(self, request: Request) -> Caller:
        caller = await authenticate(request, await _bearer(request))
        if not allowed(caller.role, self.permission):
            raise PermissionDenied(f"role {caller.role.value} may not {self.permission.value}")
        return caller


def require(permission: Permission) -> Callable[..., Any]:
    """A dependency that lets the call through only for roles holding ``permission``."""
    return _Require(permission)
