"""``/v1/admin``: API keys and the screening policy (role admin only; every change audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from carrierguard.auth import Permission, Role, issue_key
from carrierguard.contracts.service import ScreeningService
from carrierguard.errors import NotFound
from carrierguard.store import audit
from carrierguard.web.api.applications import ERRORS, Service
from carrierguard.web.api.schemas import Text
from carrierguard.web.deps import Caller, require

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: Annotated[Text, Field(min_length=1, max_length=100)]


class KeyOut(BaseModel):
    prefix: str
    role: Role
    name: str
    token: str | None = Field(None, description="Shown once, at creation")


class PolicyOut(BaseModel):
    source: str
    digest: str
    toml: str


def create_api_key(service: ScreeningService, *, role: Role, name: str, actor: str) -> KeyOut:
    """Issue a key and audit it (the CLI and the API share this)."""
    issued = issue_key()
    now = datetime.now(UTC)
    with service.registry.write() as tx:
        tx.insert_api_key(
            name=name,
            role=role.value,
            prefix=issued.prefix,
            secret_hash=issued.secret_hash,
            now=now,
        )
        audit.append(
            tx.conn,
            actor=actor,
            action="key.created",
            subject=f"key:{issued.prefix}",
            payload={"role": role.value, "name": name},
            now=now,
        )
    return KeyOut(prefix=issued.prefix, role=role, name=name, token=issued.token)


def revoke_api_key(service: ScreeningService, prefix: str, *, actor: str) -> None:
    now = datetime.now(UTC)
    with service.registry.write() as tx:
        if not tx.revoke_api_key(prefix, now):
            raise NotFound(
                f"no active key with prefix {prefix!r}",
                message_ja=f"有効な API キー {prefix} はありません。",
            )
        audit.append(
            tx.conn, actor=actor, action="key.revoked", subject=f"key:{prefix}", payload={}, now=now
        )


@router.post("/keys", status_code=201, response_model=KeyOut, responses=ERRORS)
def create_key(
    body: KeyIn,
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.KEYS_MANAGE))],
) -> KeyOut:
    """Issue an API key (the token is shown once; only its hash is kept)."""
    return create_api_key(service, role=body.role, name=body.name, actor=caller.actor)


@router.post("/keys/{prefix}/revoke", status_code=204, responses=ERRORS)
def revoke_key(
    prefix: Annotated[str, Path(pattern=r"^[0-9a-f]{1,16}$")],
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.KEYS_MANAGE))],
) -> None:
    """Revoke an API key by its prefix."""
    revoke_api_key(service, prefix, actor=caller.actor)


@router.get("/policy", response_model=PolicyOut, responses=ERRORS)
def get_policy(
    service: Service, _: Annotated[Caller, Depends(require(Permission.POLICY_CHANGE))]
) -> PolicyOut:
    """The policy in force."""
    p = service.policy
    return PolicyOut(source=p.source, digest=p.digest, toml=p.text)


@router.put("/policy", response_model=PolicyOut, responses=ERRORS)
def put_policy(
    toml: Annotated[str, Body(media_type="text/plain", max_length=200_000)],
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.POLICY_CHANGE))],
) -> PolicyOut:
    """Put a new policy (TOML) in force; a bad one answers 422 naming line and field."""
    p = service.policies.activate(toml, actor=caller.actor, source=f"api:{caller.name}")
    return PolicyOut(source=p.source, digest=p.digest, toml=p.text)
