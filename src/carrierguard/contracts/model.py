"""Frozen values of Pillar C: who applies, what they already hold, what was decided.

Values validate in their constructors, so an invalid one cannot exist. Nothing here
touches a database, the network or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import LineState, SimType

MAX_LINES_PER_APPLICATION = 50


class HolderKind(StrEnum):
    INDIVIDUAL = "individual"
    CORPORATE = "corporate"


class Channel(StrEnum):
    """Where the application was made: a carrier store, a sales agency, or online."""

    STORE = "store"
    AGENCY = "agency"
    ONLINE = "online"


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderIdentity:
    """The applicant as written on the application (personal data: keep minimal)."""

    kind: HolderKind
    name: str
    birth_date: date | None = None
    name_kana: str | None = None
    address: str | None = None
    postal_code: str | None = None
    corporate_number: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name must not be empty")
        if self.kind is HolderKind.INDIVIDUAL and self.birth_date is None:
            raise ValueError("an individual needs a birth_date")
        if self.kind is HolderKind.CORPORATE and not self.corporate_number:
            raise ValueError("a corporation needs a corporate_number")


@dataclass(frozen=True, slots=True)
class LineRequest:
    sim_type: SimType


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """One request for new lines. ``applied_on`` is the business date, passed in by the service."""

    channel: Channel
    holder: HolderIdentity
    lines: tuple[LineRequest, ...]
    applied_on: date
    kyc_method: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.lines) <= MAX_LINES_PER_APPLICATION:
            raise ValueError(f"an application asks for 1 to {MAX_LINES_PER_APPLICATION} lines")


@dataclass(frozen=True, slots=True)
class Holding:
    """One line the holder already has; ``opened_on`` is when it was contracted or reserved."""

    sim_type: SimType
    state: LineState
    opened_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """Why a decision came out as it did, in both languages, with the rule and its legal basis."""

    code: str
    message_ja: str
    message_en: str
    rule: str
    legal_basis: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
            "rule": self.rule,
            "legal_basis": self.legal_basis,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolUsage:
    """Lines counted in one pool: held now, asked for, and the caps that apply (None: no cap)."""

    pool: str
    held: int
    requested: int
    cap: int | None
    hard_cap: int | None

    @property
    def total(self) -> int:
        return self.held + self.requested


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    usage: tuple[PoolUsage, ...] = ()
    escalate_to_hq: bool = False
    requires_actual_users: bool = False
    codes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not self.reasons:
            raise ValueError("every decision carries at least one reason")
        object.__setattr__(self, "codes", frozenset(r.code for r in self.reasons))
