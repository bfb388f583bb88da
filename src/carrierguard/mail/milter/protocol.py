"""The milter protocol (Sendmail/Postfix, version 6) without sockets: bytes in, events out.

``MilterConnection.receive(data)`` parses packets (4-byte length, 1 command byte,
payload) into frozen events and checks every transition against the table in
``states.py``. Replies are values too; ``MilterConnection.send(reply)`` turns
them into bytes. Nothing here blocks, sleeps or touches a socket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from carrierguard.errors import MilterProtocolError
from carrierguard.mail.milter import states
from carrierguard.mail.milter.states import Phase

PROTOCOL_VERSION = 6
MAX_PACKET = 4 * 1024 * 1024

# Actions we may take (SMFIF_*): add headers, change/delete headers, quarantine.
SMFIF_ADDHDRS = 0x01
SMFIF_DELRCPT = 0x08
SMFIF_CHGHDRS = 0x10
SMFIF_QUARANTINE = 0x20
ACTIONS = SMFIF_ADDHDRS | SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE
# Protocol steps (SMFIP_*): header values with their leading space, exactly as sent,
# so DKIM "simple" header canonicalisation still verifies.
SMFIP_HDR_LEADSPC = 0x100000
WANTED_PROTOCOL = SMFIP_HDR_LEADSPC


def _strings(payload: bytes) -> list[str]:
    """NUL-terminated strings of a payload, decoded without loss."""
    parts = payload.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


# --- events (MTA -> milter) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Negotiate:
    version: int
    actions: int
    protocol: int


@dataclass(frozen=True, slots=True)
class Macros:
    command: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Connect:
    hostname: str
    family: str  # "4", "6", "L" (unix socket) or "U" (unknown)
    port: int
    address: str

    def __post_init__(self) -> None:
        if self.family not in ("4", "6", "L", "U"):
            raise MilterProtocolError(f"unknown address family {self.family!r}")


@dataclass(frozen=True, slots=True)
class Helo:
    name: str


@dataclass(frozen=True, slots=True)
class MailFrom:
    address: str
    arguments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    arguments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Data:
    pass


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class EndOfHeaders:
    pass


@dataclass(frozen=True, slots=True)
class BodyChunk:
    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Abort:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    keep_connection: bool = False


@dataclass(frozen=True, slots=True)
class Unknown:
    command: str


Event = (
    Negotiate
    | Macros
    | Connect
    | Helo
    | MailFrom
    | Recipient
    | Data
    | Header
    | EndOfHeaders
    | BodyChunk
    | EndOfMessage
    | Abort
    | Quit
    | Unknown
)


def _address(text: str) -> str:
    return text.strip().removeprefix("<").removesuffix(">")


def parse_event(command: bytes, payload: bytes) -> Event:
    """Decode one packet; raise ``MilterProtocolError`` for malformed payloads."""
    try:
        if command == states.OPTNEG:
            version, actions, protocol = struct.unpack("!III", payload[:12])
            return Negotiate(version, actions, protocol)
        if command == states.MACRO:
            names = _strings(payload[1:])
            pairs = tuple(zip(names[0::2], names[1::2], strict=False))
            return Macros(payload[:1].decode("ascii"), pairs)
        if command == states.CONNECT:
            host, _, rest = payload.partition(b"\0")
            family = rest[:1].decode("ascii")
            if family in ("4", "6", "L"):
                (port,) = struct.unpack("!H", rest[1:3])
                address = _strings(rest[3:])[0] if rest[3:] else ""
            else:
                port, address = 0, ""
            return Connect(host.decode("utf-8", "surrogateescape"), family or "U", port, address)
        if command == states.HELO:
            return Helo((_strings(payload) or [""])[0])
        if command in (states.MAIL, states.RCPT):
            args = _strings(payload)
            first = _address(args[0]) if args else ""
            kind = MailFrom if command == states.MAIL else Recipient
            return kind(first, tuple(args[1:]))
        if command == states.DATA:
            return Data()
        if command == states.HEADER:
            name, value = [*_strings(payload), "", ""][:2]
            return Header(name, value)
        if command == states.EOH:
            return EndOfHeaders()
        if command == states.BODY:
            return BodyChunk(payload)
        if command == states.EOM:
            return EndOfMessage(payload)
        if command == states.ABORT:
            return Abort()
        if command in (states.QUIT, states.QUIT_NC):
            return Quit(keep_connection=command == states.QUIT_NC)
        if command == states.UNKNOWN:
            return Unknown((_strings(payload) or [""])[0])
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise MilterProtocolError(f"malformed {command!r} packet: {exc}") from exc
    raise MilterProtocolError(f"unknown milter command {command!r}")


# --- replies (milter -> MTA) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NegotiateReply:
    version: int = PROTOCOL_VERSION
    actions: int = ACTIONS
    protocol: int = WANTED_PROTOCOL


@dataclass(frozen=True, slots=True)
class Continue:
    pass


@dataclass(frozen=True, slots=True)
class Accept:
    pass


@dataclass(frozen=True, slots=True)
class Discard:
    pass


@dataclass(frozen=True, slots=True)
class TempFail:
    pass


@dataclass(frozen=True, slots=True)
class ReplyCode:
    """A full SMTP reply, e.g. ``550 5.7.1 text`` (reject) or ``451 4.7.1`` (tempfail)."""

    code: int
    status: str
    text: str

    def __post_init__(self) -> None:
        if not (400 <= self.code < 600) or not self.status or self.status[0] != str(self.code)[0]:
            raise ValueError("a reply code must be 4xx/5xx with a matching enhanced status")
        if not self.text.isascii() or "\r" in self.text or "\n" in self.text:
            raise ValueError("SMTP reply text must be one line of ASCII")


@dataclass(frozen=True, slots=True)
class AddHeader:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ChangeHeader:
    """Replace the ``index``-th (1-based) field called ``name``; an empty value deletes it."""

    index: int
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class DeleteRecipient:
    """Remove one envelope recipient (SMFIR_DELRCPT); the others still receive the message."""

    address: str

    def __post_init__(self) -> None:
        if not self.address or "\0" in self.address or "\r" in self.address or "\n" in self.address:
            raise ValueError("a recipient to delete must be one non-empty address")


@dataclass(frozen=True, slots=True)
class Quarantine:
    reason: str


Reply = (
    NegotiateReply
    | Continue
    | Accept
    | Discard
    | TempFail
    | ReplyCode
    | AddHeader
    | ChangeHeader
    | DeleteRecipient
    | Quarantine
)


def _z(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape") + b"\0"


def encode_reply(reply: Reply) -> bytes:
    """One reply packet."""
    if isinstance(reply, NegotiateReply):
        code, payload = b"O", struct.pack("!III", reply.version, reply.actions, reply.protocol)
    elif isinstance(reply, Continue):
        code, payload = b"c", b""
    elif isinstance(reply, Accept):
        code, payload = b"a", b""
    elif isinstance(reply, Discard):
        code, payload = b"d", b""
    elif isinstance(reply, TempFail):
        code, payload = b"t", b""
    elif isinstance(reply, ReplyCode):
        code, payload = b"y", _z(f"{reply.code} {reply.status} {reply.text}")
    elif isinstance(reply, AddHeader):
        code, payload = b"h", _z(reply.name) + _z(reply.value)
    elif isinstance(reply, ChangeHeader):
        code, payload = b"m", struct.pack("!I", reply.index) + _z(reply.name) + _z(reply.value)
    elif isinstance(reply, DeleteRecipient):
        address = reply.address if reply.address.startswith("<") else f"<{reply.address}>"
        code, payload = b"-", _z(address)
    else:
        code, payload = b"q", _z(reply.reason)
    return struct.pack("!I", len(payload) + 1) + code + payload


# --- the connection ------------------------------------------------------------------------------


@dataclass
class MilterConnection:
    """One MTA connection's protocol state: feed bytes, get events, send replies."""

    phase: Phase = Phase.NEGOTIATE
    _buffer: bytearray = field(default_factory=bytearray)
    offered: Negotiate | None = None

    def receive(self, data: bytes) -> list[Event]:
        """Parse every complete packet in ``data`` (plus what was buffered)."""
        self._buffer.extend(data)
        events: list[Event] = []
        while len(self._buffer) >= 4:
            (length,) = struct.unpack("!I", self._buffer[:4])
            if length < 1 or length > MAX_PACKET:
                raise MilterProtocolError(f"bad packet length {length}")
            if len(self._buffer) < 4 + length:
                break
            command = bytes(self._buffer[4:5])
            payload = bytes(self._buffer[5 : 4 + length])
            del self._buffer[: 4 + length]
            following = states.next_phase(self.phase, command)
            if following is None:
                raise MilterProtocolError(
                    f"command {command!r} not allowed in phase {self.phase.value}"
                )
            event = parse_event(command, payload)
            if isinstance(event, Negotiate):
                self.offered = event
            self.phase = following
            events.append(event)
        return events

    def negotiate_reply(self) -> NegotiateReply:
        """Our answer to the MTA's offer: only what it offered and we need."""
        if self.offered is None:
            raise MilterProtocolError("no option negotiation received")
        version = min(self.offered.version, PROTOCOL_VERSION)
        return NegotiateReply(
            version, ACTIONS & self.offered.actions, WANTED_PROTOCOL & self.offered.protocol
        )

    def send(self, reply: Reply) -> bytes:
        return encode_reply(reply)


def needs_reply(event: Event) -> bool:
    """Whether the MTA waits for an answer to this event."""
    return not isinstance(event, Macros | Abort | Quit)
