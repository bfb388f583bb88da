"""What one milter connection has learned: the client, the envelope, the message so far.

Pure bookkeeping over protocol events; it rebuilds the message bytes exactly
enough for DKIM to verify (header values keep their leading whitespace, folded
lines get CRLF back) and knows which Authentication-Results fields claim to be
ours, so the milter can delete those forgeries (RFC 8601 section 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from carrierguard.mail.auth.check import Envelope
from carrierguard.mail.auth.results import authserv_id_of
from carrierguard.mail.milter.protocol import (
    BodyChunk,
    Connect,
    EndOfMessage,
    Event,
    Header,
    Helo,
    Macros,
    MailFrom,
    Recipient,
)

_BARE_LF = re.compile(rb"(?<!\r)\n")


def crlf(data: bytes) -> bytes:
    """``data`` with every bare LF made CRLF (the line ends of a stored message)."""
    return _BARE_LF.sub(b"\r\n", data)


@dataclass
class MilterSession:
    """Accumulates one connection's state; ``reset_message`` starts the next message."""

    leading_space: bool = True
    can_delete_recipients: bool = False  # the MTA granted SMFIF_DELRCPT
    client_ip: str | None = None
    client_name: str = ""
    helo: str = ""
    mail_from: str = ""
    recipients: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    macros: dict[str, str] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        if isinstance(event, Macros):
            self.macros.update(dict(event.values))
        elif isinstance(event, Connect):
            self.client_name = event.hostname
            address = event.address.removeprefix("IPv6:")
            self.client_ip = address if event.family in ("4", "6") else None
        elif isinstance(event, Helo):
            self.helo = event.name
        elif isinstance(event, MailFrom):
            self.reset_message()
            self.mail_from = event.address
        elif isinstance(event, Recipient):
            self.recipients.append(event.address)
        elif isinstance(event, Header):
            self.headers.append((event.name, event.value))
        elif isinstance(event, BodyChunk | EndOfMessage):
            self.body.extend(event.data)

    def reset_message(self) -> None:
        self.mail_from = ""
        self.recipients = []
        self.headers = []
        self.body = bytearray()

    @property
    def queue_id(self) -> str:
        return self.macros.get("i", "")

    def envelope(self) -> Envelope:
        return Envelope(
            ip=self.client_ip or self.macros.get("{client_addr}") or None,
            helo=self.helo,
            mail_from=self.mail_from,
            recipients=tuple(self.recipients),
        )

    def raw_message(self) -> bytes:
        """The message as received, rebuilt from the header and body events."""
        lines = []
        for name, value in self.headers:
            separator = ":" if self.leading_space else ": "
            encoded = (name + separator + value).encode("utf-8", "surrogateescape")
            lines.append(crlf(encoded) + b"\r\n")
        return b"".join(lines) + b"\r\n" + bytes(self.body)

    def forged_fields(self, authserv_id: str) -> list[tuple[str, int]]:
        """Fields that pretend to come from us, as (name, 1-based index among that name).

        Authentication-Results claiming our authserv-id (RFC 8601 section 5) and any
        incoming ``X-CarrierGuard-*`` field: only this milter may write those. Listed
        last-first so that deleting one never shifts the index of the next.
        """
        positions: dict[str, int] = {}
        found: list[tuple[str, int]] = []
        for name, value in self.headers:
            key = name.lower()
            positions[key] = positions.get(key, 0) + 1
            ours = key == "authentication-results" and authserv_id_of(value) == authserv_id.lower()
            if ours or key.startswith("x-carrierguard-"):
                found.append((name, positions[key]))
        return found[::-1]
