"""Application states and their transitions: everything that moves an application lives here.

An application is decided at once (``approved`` or ``refused``) or goes to ``in_review``
where headquarters works its exception case; a review ends approved, refused or withdrawn.
"""

from __future__ import annotations

from enum import StrEnum

from carrierguard.errors import InvalidTransition


class Outcome(StrEnum):
    """What ``decide`` answers."""

    APPROVE = "approve"
    REVIEW = "review"
    REFUSE = "refuse"


class ApplicationState(StrEnum):
    APPROVED = "approved"
    IN_REVIEW = "in_review"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ApplicationEvent(StrEnum):
    REVIEW_APPROVED = "review_approved"
    REVIEW_REFUSED = "review_refused"
    WITHDRAW = "withdraw"


#: The state an application is stored in right after its first decision.
INITIAL_STATE: dict[Outcome, ApplicationState] = {
    Outcome.APPROVE: ApplicationState.APPROVED,
    Outcome.REVIEW: ApplicationState.IN_REVIEW,
    Outcome.REFUSE: ApplicationState.REFUSED,
}

_A, _V = ApplicationState, ApplicationEvent

#: (state, event) -> next state. A pair that is absent is not allowed.
APPLICATION_TRANSITIONS: dict[tuple[ApplicationState, ApplicationEvent], ApplicationState] = {
    (_A.IN_REVIEW, _V.REVIEW_APPROVED): _A.APPROVED,
    (_A.IN_REVIEW, _V.REVIEW_REFUSED): _A.REFUSED,
    (_A.IN_REVIEW, _V.WITHDRAW): _A.WITHDRAWN,
}


def next_application_state(state: ApplicationState, event: ApplicationEvent) -> ApplicationState:
    """The state an application reaches from ``state`` on ``event``; raise if not allowed."""
    try:
        return APPLICATION_TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"an application that is {state.value} cannot take {event.value}",
            message_ja=f"状態「{state.value}」の申込みに「{event.value}」は行えません。",
        ) from None
