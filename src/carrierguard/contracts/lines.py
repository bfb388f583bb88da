"""Line states and the transitions between them: everything that moves a line lives here.

A line is ``reserved`` while its application waits for a headquarters decision,
``active`` once sold, ``suspended`` when service is stopped but the contract lives,
``number_kept`` while the number is parked (番号保管), and ``terminated`` at the end.
"""

from __future__ import annotations

from enum import StrEnum

from carrierguard.errors import InvalidTransition


class SimType(StrEnum):
    """What the SIM can do; caps differ by type (MISSION C1)."""

    VOICE = "voice"
    DATA_SMS = "data_sms"
    DATA = "data"


class LineState(StrEnum):
    RESERVED = "reserved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    NUMBER_KEPT = "number_kept"
    TERMINATED = "terminated"


class LineEvent(StrEnum):
    APPROVE = "approve"  # the application (or its exception case) was approved
    REFUSE = "refuse"  # the exception case was refused or withdrawn: the reservation lapses
    SUSPEND = "suspend"
    RESUME = "resume"
    KEEP_NUMBER = "keep_number"
    TERMINATE = "terminate"


_S, _E = LineState, LineEvent

#: (state, event) -> next state. A pair that is absent is not allowed.
LINE_TRANSITIONS: dict[tuple[LineState, LineEvent], LineState] = {
    (_S.RESERVED, _E.APPROVE): _S.ACTIVE,
    (_S.RESERVED, _E.REFUSE): _S.TERMINATED,
    (_S.ACTIVE, _E.SUSPEND): _S.SUSPENDED,
    (_S.ACTIVE, _E.KEEP_NUMBER): _S.NUMBER_KEPT,
    (_S.ACTIVE, _E.TERMINATE): _S.TERMINATED,
    (_S.SUSPENDED, _E.RESUME): _S.ACTIVE,
    (_S.SUSPENDED, _E.TERMINATE): _S.TERMINATED,
    (_S.NUMBER_KEPT, _E.RESUME): _S.ACTIVE,
    (_S.NUMBER_KEPT, _E.TERMINATE): _S.TERMINATED,
}


def next_line_state(state: LineState, event: LineEvent) -> LineState:
    """The state a line reaches from ``state`` on ``event``; raise if not allowed."""
    try:
        return LINE_TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"a {state.value} line cannot {event.value}",
            message_ja=f"状態「{state.value}」の回線に対して「{event.value}」はできません。",
        ) from None
