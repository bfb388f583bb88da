"""Everything that affects milter phase transitions lives here, as data.

Each MTA command byte moves the session from one phase to another; a command
that is not in the table for the current phase is a protocol error. Macro
definitions ('D') and unknown SMTP commands ('U') do not change the phase.
"""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    NEGOTIATE = "negotiate"  # before option negotiation
    CONNECT = "connect"  # negotiated, waiting for the client connection
    HELO = "helo"  # connected; HELO or MAIL may come
    ENVELOPE = "envelope"  # MAIL FROM seen; recipients follow
    RECIPIENTS = "recipients"  # at least one RCPT seen; DATA or headers follow
    HEADERS = "headers"  # in the header block
    BODY = "body"  # after end of headers
    CLOSED = "closed"


# Command bytes of the milter protocol (libmilter mfdef.h names in comments).
OPTNEG = b"O"  # SMFIC_OPTNEG
MACRO = b"D"  # SMFIC_MACRO
CONNECT = b"C"  # SMFIC_CONNECT
HELO = b"H"  # SMFIC_HELO
MAIL = b"M"  # SMFIC_MAIL
RCPT = b"R"  # SMFIC_RCPT
DATA = b"T"  # SMFIC_DATA
HEADER = b"L"  # SMFIC_HEADER
EOH = b"N"  # SMFIC_EOH
BODY = b"B"  # SMFIC_BODY
EOM = b"E"  # SMFIC_BODYEOB
ABORT = b"A"  # SMFIC_ABORT
QUIT = b"Q"  # SMFIC_QUIT
QUIT_NC = b"K"  # SMFIC_QUIT_NC: session over, connection kept for a new one
UNKNOWN = b"U"  # SMFIC_UNKNOWN

_AFTER_CONNECT = (Phase.HELO, Phase.ENVELOPE, Phase.RECIPIENTS, Phase.HEADERS, Phase.BODY)

TRANSITIONS: dict[tuple[Phase, bytes], Phase] = {
    (Phase.NEGOTIATE, OPTNEG): Phase.CONNECT,
    (Phase.CONNECT, CONNECT): Phase.HELO,
    (Phase.HELO, HELO): Phase.HELO,
    (Phase.HELO, MAIL): Phase.ENVELOPE,
    (Phase.ENVELOPE, RCPT): Phase.RECIPIENTS,
    (Phase.RECIPIENTS, RCPT): Phase.RECIPIENTS,
    (Phase.RECIPIENTS, DATA): Phase.HEADERS,
    (Phase.RECIPIENTS, HEADER): Phase.HEADERS,
    (Phase.RECIPIENTS, EOH): Phase.BODY,
    (Phase.HEADERS, HEADER): Phase.HEADERS,
    (Phase.HEADERS, EOH): Phase.BODY,
    (Phase.BODY, BODY): Phase.BODY,
    (Phase.BODY, EOM): Phase.HELO,
    # Postfix may skip EOH/body callbacks it was told we do not need; allow EOM early.
    (Phase.HEADERS, EOM): Phase.HELO,
    (Phase.RECIPIENTS, EOM): Phase.HELO,
}
# ABORT ends the current message (the connection and its HELO survive).
for _phase in _AFTER_CONNECT:
    TRANSITIONS[(_phase, ABORT)] = Phase.HELO
    TRANSITIONS[(_phase, MAIL)] = Phase.ENVELOPE
    TRANSITIONS[(_phase, HELO)] = Phase.HELO
TRANSITIONS[(Phase.CONNECT, ABORT)] = Phase.CONNECT

# Commands that never change the phase and are allowed once negotiated.
STAY = frozenset({MACRO, UNKNOWN})
# Commands allowed in any phase that end the session.
ENDING = {QUIT: Phase.CLOSED, QUIT_NC: Phase.CONNECT}
# Commands the MTA expects no reply to.
NO_REPLY = frozenset({MACRO, ABORT, QUIT, QUIT_NC})


def next_phase(phase: Phase, command: bytes) -> Phase | None:
    """The phase after ``command``, or None if the command is not allowed now."""
    if command in ENDING:
        return ENDING[command]
    if command in STAY:
        return phase if phase is not Phase.NEGOTIATE else None
    return TRANSITIONS.get((phase, command))
