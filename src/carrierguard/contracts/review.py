"""Exception cases (例外審査): states, actions and who may take them, as tables.

Every review decision opens a case. The clerk or agency supplies the purpose, a signed
pledge (誓約) and, where the decision requires it, the actual users (C3). Agency cases
always go to headquarters. Headquarters approves or refuses, each with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from carrierguard.errors import InvalidTransition

SLA_HOURS = 48


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_INFO = "awaiting_info"
    ESCALATED = "escalated"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class CaseAction(StrEnum):
    REQUEST_INFO = "request_info"  # reviewer asks the store or agency for more
    SUPPLY_INFO = "supply_info"  # store or agency adds purpose, pledge, actual users
    ESCALATE = "escalate"  # to headquarters
    APPROVE = "approve"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"


class PurposeCategory(StrEnum):
    FAMILY = "family"
    BUSINESS = "business"
    IOT = "iot"
    OTHER = "other"


class Relationship(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    OTHER_FAMILY = "other_family"
    EMPLOYEE = "employee"
    OTHER = "other"


OPEN_STATES = frozenset({CaseState.SUBMITTED, CaseState.AWAITING_INFO, CaseState.ESCALATED})
CLOSED_STATES = frozenset({CaseState.APPROVED, CaseState.REFUSED, CaseState.WITHDRAWN})

_C, _A = CaseState, CaseAction

#: (state, action) -> next state. A pair that is absent is not allowed.
CASE_TRANSITIONS: dict[tuple[CaseState, CaseAction], CaseState] = {
    (_C.SUBMITTED, _A.SUPPLY_INFO): _C.SUBMITTED,
    (_C.SUBMITTED, _A.REQUEST_INFO): _C.AWAITING_INFO,
    (_C.SUBMITTED, _A.ESCALATE): _C.ESCALATED,
    (_C.SUBMITTED, _A.APPROVE): _C.APPROVED,
    (_C.SUBMITTED, _A.REFUSE): _C.REFUSED,
    (_C.SUBMITTED, _A.WITHDRAW): _C.WITHDRAWN,
    (_C.AWAITING_INFO, _A.SUPPLY_INFO): _C.SUBMITTED,
    (_C.AWAITING_INFO, _A.WITHDRAW): _C.WITHDRAWN,
    (_C.AWAITING_INFO, _A.REFUSE): _C.REFUSED,
    (_C.ESCALATED, _A.SUPPLY_INFO): _C.ESCALATED,
    (_C.ESCALATED, _A.REQUEST_INFO): _C.AWAITING_INFO,
    (_C.ESCALATED, _A.APPROVE): _C.APPROVED,
    (_C.ESCALATED, _A.REFUSE): _C.REFUSED,
    (_C.ESCALATED, _A.WITHDRAW): _C.WITHDRAWN,
}


def next_case_state(state: CaseState, action: CaseAction) -> CaseState:
    """The state a case reaches from ``state`` on ``action``; raise if not allowed."""
    try:
        return CASE_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(
            f"a case that is {state.value} cannot take {action.value}",
            message_ja=f"状態「{state.value}」の案件に「{action.value}」は行えません。",
        ) from None


def initial_case_state(escalate_to_hq: bool) -> CaseState:
    """Agency cases start escalated to headquarters; others start submitted."""
    return CaseState.ESCALATED if escalate_to_hq else CaseState.SUBMITTED


#: Codes a reviewer may give when refusing, with their legal basis (shown to the customer).
REFUSAL_CODES: dict[str, tuple[str, str]] = {
    "PURPOSE_NOT_ESTABLISHED": (
        "利用目的が確認できないため、例外を認めません。",
        "The purpose could not be established; no exception is granted.",
    ),
    "ACTUAL_USERS_UNVERIFIED": (
        "実際の利用者の本人確認ができないため、例外を認めません。",
        "The actual users' identities could not be verified; no exception is granted.",
    ),
    "RESALE_SUSPECTED": (
        "転売・譲渡の疑いがあるため、例外を認めません。",
        "Resale or transfer of the lines is suspected; no exception is granted.",
    ),
    "PLEDGE_MISSING": (
        "誓約書が提出されていないため、例外を認めません。",
        "No signed pledge was given; no exception is granted.",
    ),
    "OTHER_LEGITIMATE_REASON": (
        "その他の正当な理由により、例外を認めません。",
        "No exception is granted for another legitimate reason, stated in the comment.",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualUser:
    """A person who will actually use a line held by someone else (C3)."""

    name: str
    birth_date: date
    relationship: Relationship
    verification_method: str
    verified: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseFacts:
    """What approval needs to know about a case."""

    state: CaseState
    pledge_signed: bool
    purpose_given: bool
    requires_actual_users: bool
    lines_beyond_cap: int
    verified_actual_users: int


def approval_blockers(facts: CaseFacts) -> list[tuple[str, str]]:
    """Why the case cannot be approved yet, as (Japanese, English) messages; empty if it can."""
    problems = []
    if not facts.purpose_given:
        problems.append(("利用目的が未入力です。", "The purpose is missing."))
    if not facts.pledge_signed:
        problems.append(
            ("転売・貸与しない旨の誓約がありません。", "The no-resale pledge is not signed.")
        )
    needed = (
        max(facts.lines_beyond_cap, 1) if facts.requires_actual_users else facts.lines_beyond_cap
    )
    if facts.verified_actual_users < needed:
        problems.append(
            (
                f"本人確認済みの実際の利用者が{needed}名必要です（現在{facts.verified_actual_users}名）。",
                f"{needed} verified actual users are needed ({facts.verified_actual_users} given).",
            )
        )
    return problems
