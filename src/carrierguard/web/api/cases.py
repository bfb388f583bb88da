"""``/v1/cases``: exception cases for the store, the agency and headquarters."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from carrierguard.auth import Permission
from carrierguard.contracts.cases import CaseService, CaseView
from carrierguard.contracts.review import ActualUser, CaseState, PurposeCategory, Relationship
from carrierguard.store.cases import CaseRecord
from carrierguard.web.api.applications import ERRORS, IdPath
from carrierguard.web.api.schemas import LineOut, Text
from carrierguard.web.deps import Caller, require

router = APIRouter(prefix="/v1/cases", tags=["cases"])


def get_cases(request: Request) -> CaseService:
    service: CaseService = request.app.state.cases
    return service


Cases = Annotated[CaseService, Depends(get_cases)]


class PurposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: PurposeCategory
    text: Annotated[Text, Field(max_length=2000)] = ""


class PledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signed: Literal[True]
    signed_by: Annotated[Text, Field(min_length=1, max_length=200)]


class ActualUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    birth_date: date
    relationship: Relationship
    verification_method: Annotated[
        str,
        Field(pattern=r"^(ic_chip_mynumber|jpki_signature|ic_chip_license|in_person_document)$"),
    ]
    verified: bool


class CaseInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: PurposeIn | None = None
    pledge: PledgeIn | None = None
    actual_users: Annotated[list[ActualUserIn], Field(max_length=50)] = []


class RequestInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[Text, Field(min_length=1, max_length=2000)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["approve", "refuse"]
    comment: Annotated[Text, Field(min_length=1, max_length=2000)]
    reason_code: str | None = Field(default=None, max_length=48)


class CaseOut(BaseModel):
    case_id: int
    application_id: int
    holder_id: int
    channel: str
    state: CaseState
    purpose_category: str | None
    pledge_signed: bool
    requires_actual_users: bool
    lines_beyond_cap: int
    sla_due_at: str
    decision_code: str | None

    @classmethod
    def of(cls, c: CaseRecord) -> CaseOut:
        return cls(
            case_id=c.case_id,
            application_id=c.application_id,
            holder_id=c.holder_id,
            channel=c.channel,
            state=c.state,
            purpose_category=c.purpose_category,
            pledge_signed=c.pledge_signed_at is not None,
            requires_actual_users=c.requires_actual_users,
            lines_beyond_cap=c.lines_beyond_cap,
            sla_due_at=c.sla_due_at.isoformat(),
            decision_code=c.decision_code,
        )


class CaseDetailOut(CaseOut):
    purpose_text: str | None
    actual_users: list[dict[str, object]]
    lines: list[LineOut]
    risk_flags: list[str]
    blockers: list[dict[str, str]]

    @classmethod
    def of_view(cls, v: CaseView) -> CaseDetailOut:
        base = CaseOut.of(v.case).model_dump()
        return cls(
            **base,
            purpose_text=v.purpose_text,
            actual_users=[
                {
                    "relationship": u.relationship,
                    "verification_method": u.verification_method,
                    "verified": u.verified,
                }
                for u in v.actual_users
            ],
            lines=[LineOut.of(ln) for ln in v.holder.lines],
            risk_flags=v.risk_flags,
            blockers=[{"message_ja": ja, "message_en": en} for ja, en in v.blockers],
        )


@router.get("", response_model=list[CaseOut], responses=ERRORS)
def list_cases(
    cases: Cases,
    _: Annotated[Caller, Depends(require(Permission.CASES_READ))],
    state: Annotated[list[CaseState] | None, Query()] = None,
    channel: Annotated[Literal["store", "agency", "online"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CaseOut]:
    """The queue, oldest SLA first (案件一覧)."""
    return [
        CaseOut.of(c)
        for c in cases.queue(states=state, channel=channel, limit=limit, offset=offset)
    ]


@router.get("/{case_id}", response_model=CaseDetailOut, responses=ERRORS)
def get_case(
    case_id: IdPath, cases: Cases, _: Annotated[Caller, Depends(require(Permission.CASES_READ))]
) -> CaseDetailOut:
    """One case with the holder's lines, actual users (without personal data) and blockers."""
    return CaseDetailOut.of_view(cases.view(case_id))


@router.post("/{case_id}/info", response_model=CaseOut, responses=ERRORS)
def supply_info(
    case_id: IdPath,
    body: CaseInfoIn,
    cases: Cases,
    caller: Annotated[Caller, Depends(require(Permission.CASES_SUPPLY))],
) -> CaseOut:
    """Supply the purpose, the signed pledge and actual users (利用目的・誓約・利用者登録)."""
    cases.supply_info(
        case_id,
        actor=caller.actor,
        purpose=body.purpose.category if body.purpose else None,
        purpose_text=body.purpose.text if body.purpose else None,
        pledge_signed_by=body.pledge.signed_by if body.pledge else None,
        actual_users=[
            ActualUser(
                name=u.name,
                birth_date=u.birth_date,
                relationship=u.relationship,
                verification_method=u.verification_method,
                verified=u.verified,
            )
            for u in body.actual_users
        ],
    )
    return CaseOut.of(cases.view(case_id).case)


@router.post("/{case_id}/escalate", response_model=CaseOut, responses=ERRORS)
def escalate(
    case_id: IdPath,
    cases: Cases,
    caller: Annotated[Caller, Depends(require(Permission.CASES_SUPPLY))],
) -> CaseOut:
    """Send the case to headquarters (本部回付)."""
    cases.escalate(case_id, actor=caller.actor)
    return CaseOut.of(cases.view(case_id).case)


@router.post("/{case_id}/withdraw", response_model=CaseOut, responses=ERRORS)
def withdraw(
    case_id: IdPath,
    cases: Cases,
    caller: Annotated[Caller, Depends(require(Permission.CASES_SUPPLY))],
) -> CaseOut:
    """Withdraw the application; its reserved lines lapse (取下げ)."""
    cases.withdraw(case_id, actor=caller.actor)
    return CaseOut.of(cases.view(case_id).case)


@router.post("/{case_id}/request-info", response_model=CaseOut, responses=ERRORS)
def request_info(
    case_id: IdPath,
    body: RequestInfoIn,
    cases: Cases,
    caller: Annotated[Caller, Depends(require(Permission.CASES_DECIDE))],
) -> CaseOut:
    """Ask the store or agency for more information (追加情報の依頼)."""
    cases.request_info(case_id, actor=caller.actor, note=body.note)
    return CaseOut.of(cases.view(case_id).case)


@router.post("/{case_id}/decision", response_model=CaseOut, responses=ERRORS)
def decide(
    case_id: IdPath,
    body: DecisionIn,
    cases: Cases,
    caller: Annotated[Caller, Depends(require(Permission.CASES_DECIDE))],
) -> CaseOut:
    """Approve (lines become active) or refuse (with a reason code), always with a reason."""
    cases.decide(
        case_id,
        actor=caller.actor,
        approve=body.action == "approve",
        comment=body.comment,
        reason_code=body.reason_code,
    )
    return CaseOut.of(cases.view(case_id).case)
