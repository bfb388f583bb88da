"""Pydantic models of the JSON API (the only place Pydantic is used: the API edge)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from carrierguard.contracts.applications import ApplicationState, Outcome
from carrierguard.contracts.assurance_policy import DataSimUse, EmploymentCheck
from carrierguard.contracts.assurance_policy import KycMethod as KycMethodName
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import MAX_LINES_PER_APPLICATION, Channel, HolderKind
from carrierguard.contracts.service import JST, utc_now
from carrierguard.errors import CarrierGuardError
from carrierguard.identity import parse_date
from carrierguard.store.registry import ApplicationRecord, HolderRecord, LineRecord

_REFUSED_CATEGORIES = frozenset(("Cc", "Cs", "Co", "Cn"))


def _printable(value: str) -> str:
    # str.isprintable() is False for every character of those categories (and for some
    # others, such as U+3000), so only a string it does not vouch for is looked at closely.
    if value.isprintable():
        return value
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValueError("contains a control or unassigned character")
    return value


Text = Annotated[str, AfterValidator(_printable)]


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _any_notation(value: object) -> object:
    """Birth dates in ISO, slashes, full-width, 西暦 or 和暦 (昭和60年4月1日, S60.4.1)."""
    if isinstance(value, str):
        iso = _ISO_DATE.fullmatch(value)  # the usual notation, read as parse_date reads it
        if iso is not None and int(iso[1]) >= 1000:
            try:
                return date(int(iso[1]), int(iso[2]), int(iso[3]))
            except ValueError:
                pass  # parse_date names the problem
        try:
            return parse_date(value)
        except (CarrierGuardError, ValueError) as exc:
            raise ValueError(f"unreadable date {value[:40]!r}") from exc
    return value


AnyDate = Annotated[date, BeforeValidator(_any_notation)]
EARLIEST_BIRTH = date(1900, 1, 1)


JWT = Annotated[str, Field(min_length=10, max_length=16_000, pattern=r"^[A-Za-z0-9_\-=.]+$")]


class KycMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: KycMethodName = Field(description="How the applicant's identity was verified")
    assertion: JWT | None = Field(
        None, description="With relied_assertion: the other company's verified_claims JWT"
    )


class MfaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_token: JWT = Field(description="The carrier IdP's OpenID Connect ID token")
    idp_subject: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class EmploymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check: EmploymentCheck
    reference: Annotated[Text, Field(min_length=1, max_length=200)]
    verified_by: Annotated[Text, Field(min_length=1, max_length=200)]


class HolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: HolderKind
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    name_kana: Annotated[Text, Field(max_length=200)] | None = None
    birth_date: AnyDate | None = None
    address: Annotated[Text, Field(max_length=400)] | None = None
    postal_code: Annotated[str, Field(pattern=r"^[0-9]{3}-?[0-9]{4}$")] | None = None
    corporate_number: Annotated[str, Field(pattern=r"^[0-9]{13}$")] | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> HolderIn:
        if self.kind is HolderKind.INDIVIDUAL:
            if self.birth_date is None:
                raise ValueError("birth_date is required for an individual")
            today = utc_now().astimezone(JST).date()
            if not EARLIEST_BIRTH <= self.birth_date <= today:
                raise ValueError(f"birth_date must be between {EARLIEST_BIRTH} and today")
        if self.kind is HolderKind.CORPORATE and not self.corporate_number:
            raise ValueError("corporate_number is required for a corporation")
        return self


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sim_type: SimType


class ApplicationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "channel": "store",
                "holder": {
                    "kind": "individual",
                    "name": "高橋 一郎",
                    "name_kana": "タカハシ イチロウ",
                    "birth_date": "1985-04-01",
                    "address": "東京都千代田区千代田1-1",
                    "postal_code": "100-0001",
                },
                "kyc": {"method": "ic_chip_mynumber"},
                "lines": [{"sim_type": "voice"}],
            }
        },
    )

    channel: Channel
    holder: HolderIn
    kyc: KycMethod | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES_PER_APPLICATION)]
    mfa: MfaIn | None = Field(None, description="For additional lines added online (C4)")
    employment: EmploymentIn | None = Field(
        None, description="Corporate: how the signer's employment was verified (C5)"
    )
    data_use: DataSimUse | None = Field(
        None, description="Data-only lines: consumer, iot or inbound_prepaid (C8)"
    )


class ReasonOut(BaseModel):
    code: str
    message_ja: str
    message_en: str
    rule: str
    legal_basis: str


class LineOut(BaseModel):
    line_id: int
    sim_type: SimType
    state: LineState

    @classmethod
    def of(cls, line: LineRecord) -> LineOut:
        return cls(line_id=line.line_id, sim_type=line.sim_type, state=line.state)


class ApplicationOut(BaseModel):
    application_id: int
    decision: Outcome
    state: ApplicationState
    reasons: list[ReasonOut]
    holder_id: int
    lines: list[LineOut]
    escalate_to_hq: bool
    requires_actual_users: bool
    case_id: int | None = None

    @classmethod
    def of(cls, record: ApplicationRecord) -> ApplicationOut:
        return cls(
            application_id=record.application_id,
            decision=record.outcome,
            state=record.state,
            reasons=[ReasonOut(**r.to_dict()) for r in record.reasons],
            holder_id=record.holder_id,
            lines=[LineOut.of(ln) for ln in record.lines],
            escalate_to_hq=record.escalate_to_hq,
            requires_actual_users=record.requires_actual_users,
            case_id=record.case_id,
        )


class HolderOut(BaseModel):
    holder_id: int
    kind: HolderKind
    lines: list[LineOut]

    @classmethod
    def of(cls, record: HolderRecord) -> HolderOut:
        return cls(
            holder_id=record.holder_id,
            kind=record.kind,
            lines=[LineOut.of(ln) for ln in record.lines],
        )


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message_ja: str
    message_en: str
    fields: list[FieldError] = []


class ErrorOut(BaseModel):
    error: ErrorBody
