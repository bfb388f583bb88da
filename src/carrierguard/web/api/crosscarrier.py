"""The cross-carrier hub's routes (C1): VOPRF evaluation, and the registry of counts per token.

Callers are other carriers (role ``carrier_peer``); the API key's name is the carrier's name
in the registry. Nothing here ever receives a name, a birth date or an address: the
evaluator sees blinded points, the registry sees tokens and counts.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from carrierguard.auth import Permission
from carrierguard.contracts.report import JST
from carrierguard.crosscarrier import oprf
from carrierguard.errors import (
    Conflict,
    CrossCarrierNotConfigured,
    FieldProblem,
    InvalidInput,
    RateLimited,
)
from carrierguard.identity import KEY_VERSION
from carrierguard.store import crosscarrier as registry
from carrierguard.web.api.applications import ERRORS
from carrierguard.web.deps import Caller, require

router = APIRouter(prefix="/v1/xc", tags=["cross-carrier"])

SEED_ENV = "CARRIERGUARD_XC_EVALUATOR_SEED"
#: Per carrier and Tokyo day. Evaluations: a full publish of the largest book (~30M
#: holders) fits in one day; a key used to probe the population does not go unnoticed.
LIMIT_ENVS = {
    "evaluated": ("CARRIERGUARD_XC_DAILY_EVALUATIONS", 50_000_000),
    "queried": ("CARRIERGUARD_XC_DAILY_QUERIES", 5_000_000),
}
Token = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=100_000)]


def evaluator_from_env() -> oprf.Evaluator | None:
    """The hub's key from ``CARRIERGUARD_XC_EVALUATOR_SEED`` (base64 of 32 bytes), if set."""
    text = os.environ.get(SEED_ENV, "")
    if not text:
        return None
    try:
        return oprf.Evaluator(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{SEED_ENV} must be base64 of {oprf.SEED_BYTES} bytes") from exc


def limits_from_env() -> dict[str, int | None]:
    """Daily allowances per carrier (0 in the variable: no limit)."""
    out: dict[str, int | None] = {}
    for kind, (name, default) in LIMIT_ENVS.items():
        text = os.environ.get(name, "")
        try:
            value = int(text) if text else default
        except ValueError as exc:
            raise ValueError(f"{name} must be a whole number, got {text!r}") from exc
        out[kind] = value or None
    return out


def _charge(request: Request, caller: Caller, kind: str, amount: int) -> None:
    """Count ``amount`` against the caller's allowance today; 429 when it is used up."""
    limits: dict[str, int | None] = getattr(request.app.state, "xc_limits", {})
    now = datetime.now(JST)
    total = registry.charge(
        _engine(request), caller.name, now.date().isoformat(), kind, amount, limits.get(kind)
    )
    if total is None:
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), JST)
        raise RateLimited(
            f"carrier {caller.name} used its daily allowance of {kind} ({limits.get(kind):,})",
            message_ja=f"本日の照会上限（{limits.get(kind):,}件）に達しました。",
            retry_after=max(1, int((tomorrow - now).total_seconds())),
        )


KEY_VERSION_HEADER = "X-CarrierGuard-Key-Version"


def _same_key_version(request: Request) -> None:
    """Tokens made from identity keys of another normaliser version never meet ours: a
    carrier on another version is refused rather than silently counted as nobody."""
    sent = request.headers.get(KEY_VERSION_HEADER, "")
    if sent != str(KEY_VERSION):
        raise Conflict(
            f"identity key version {sent or '(none)'} differs from the hub's {KEY_VERSION}; "
            "every carrier must run the same identity normaliser version",
            message_ja=f"照合キーの版（{sent or 'なし'}）が照会基盤（{KEY_VERSION}）と異なります。",
        )


def _evaluator(request: Request) -> oprf.Evaluator:
    found: oprf.Evaluator | None = getattr(request.app.state, "xc_evaluator", None)
    if found is None:
        raise CrossCarrierNotConfigured(
            f"this server is not a cross-carrier evaluator (set {SEED_ENV})"
        )
    return found


class PublicKeyOut(BaseModel):
    suite: str
    mode: str
    public_key: str


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blinded: Annotated[list[str], Field(min_length=1, max_length=oprf.MAX_BATCH)]


class EvaluateOut(BaseModel):
    evaluated: str


class HoldingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token
    voice: Count = 0
    data_sms: Count = 0
    data: Count = 0


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holdings: Annotated[list[HoldingIn], Field(min_length=1, max_length=5000)]


class PublishOut(BaseModel):
    accepted: int


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: Annotated[list[Token], Field(min_length=1, max_length=1000)]


class HoldingOut(BaseModel):
    token: str
    voice: int
    data_sms: int
    data: int
    carriers: int


class QueryOut(BaseModel):
    holdings: list[HoldingOut]


def _engine(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.service.registry.engine


@router.get("/public-key", response_model=PublicKeyOut, responses=ERRORS)
def public_key(
    request: Request,
    _caller: Annotated[Caller, Depends(require(Permission.XC_EVALUATE))],
) -> PublicKeyOut:
    """The evaluator's VOPRF public key, which carriers pin (RFC 9497, ristretto255-SHA512)."""
    key = _evaluator(request).public_key
    return PublicKeyOut(suite=oprf.SUITE, mode=oprf.MODE, public_key=base64.b64encode(key).decode())


@router.post("/evaluate", response_model=EvaluateOut, responses=ERRORS)
def evaluate(
    body: EvaluateIn,
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.XC_EVALUATE))],
) -> EvaluateOut:
    """Evaluate blinded identity keys with the hub's key, with one proof for the batch.

    Each element counts against the carrier's daily allowance (429 with Retry-After)."""
    evaluator = _evaluator(request)
    _same_key_version(request)
    try:
        blinded = [base64.b64decode(b, validate=True) for b in body.blinded]
    except binascii.Error as exc:
        raise InvalidInput(
            "blinded elements must be base64",
            problems=(FieldProblem("blinded", "not base64"),),
        ) from exc
    points = oprf.parse_blinded(blinded)  # malformed input costs no allowance
    _charge(request, caller, "evaluated", len(points))
    return EvaluateOut(evaluated=base64.b64encode(evaluator.evaluate_points(points)).decode())


@router.put("/holdings", response_model=PublishOut, responses=ERRORS)
def publish(
    body: PublishIn,
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.XC_REGISTRY))],
) -> PublishOut:
    """Set the calling carrier's line counts per token; a row of zeros withdraws the token."""
    _same_key_version(request)
    tokens = [h.token for h in body.holdings]
    if len(set(tokens)) != len(tokens):
        raise InvalidInput(
            "a token appears twice in one request",
            problems=(FieldProblem("holdings", "duplicate token"),),
        )
    rows = [(h.token, registry.Counts(h.voice, h.data_sms, h.data)) for h in body.holdings]
    _charge(request, caller, "published", len(rows))
    accepted = registry.publish(_engine(request), caller.name, rows, datetime.now(UTC))
    return PublishOut(accepted=accepted)


@router.post("/holdings/query", response_model=QueryOut, responses=ERRORS)
def query(
    body: QueryIn,
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.XC_REGISTRY))],
) -> QueryOut:
    """Lines held per token at carriers other than the caller: totals only, never which."""
    _same_key_version(request)
    _charge(request, caller, "queried", len(set(body.tokens)))
    found = registry.totals_elsewhere(
        _engine(request), caller.name, set(body.tokens), datetime.now(UTC)
    )
    return QueryOut(
        holdings=[
            HoldingOut(token=t, **totals.counts.as_dict(), carriers=totals.carriers)
            for t, totals in sorted(found.items())
        ]
    )
