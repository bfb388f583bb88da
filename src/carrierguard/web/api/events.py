"""``POST /v1/events``: what happens to lines after sale, for SIM-resale signals (C7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from carrierguard.auth import Permission
from carrierguard.contracts.resale import ActivityKind, LineActivity
from carrierguard.errors import FieldProblem, InvalidInput
from carrierguard.web.api.applications import ERRORS, MAX_ID, Service
from carrierguard.web.deps import Caller, require

router = APIRouter(prefix="/v1", tags=["events"])


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    kind: ActivityKind
    at: AwareDatetime
    imei: Annotated[str, Field(pattern=r"^[0-9]{14,16}$")] | None = None
    calls: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    messages: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    holder_contacts: Annotated[int, Field(ge=0, le=20_000_000)] = 0


class RiskOut(BaseModel):
    score: int
    resale_risk: bool
    flags: list[dict[str, object]]


@router.post("/events", status_code=201, response_model=RiskOut, responses=ERRORS)
def record_event(
    body: EventIn,
    service: Service,
    caller: Annotated[Caller, Depends(require(Permission.EVENTS_RECORD))],
) -> RiskOut:
    """Record activation, device change (IMEI), SIM swap, port-out or a usage summary."""
    at: datetime = body.at
    try:
        event = LineActivity(
            line_id=str(body.line_id),
            kind=body.kind,
            at=at,
            imei=body.imei,
            calls=body.calls,
            messages=body.messages,
            holder_contacts=body.holder_contacts,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), problems=(FieldProblem("body", str(exc)),)) from exc
    found = service.record_event(event, actor=caller.actor)
    return RiskOut(
        score=found.score,
        resale_risk=found.resale_risk,
        flags=[
            {
                "code": f.code,
                "points": f.points,
                "message_ja": f.message_ja,
                "message_en": f.message_en,
            }
            for f in found.flags
        ],
    )
