"""The sans-IO milter protocol: packets to events, replies to packets, the phase table."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.errors import MilterProtocolError
from carrierguard.mail.milter.protocol import (
    AddHeader,
    BodyChunk,
    ChangeHeader,
    Connect,
    EndOfMessage,
    Header,
    MailFrom,
    MilterConnection,
    Negotiate,
    Recipient,
    ReplyCode,
    encode_reply,
)
from carrierguard.mail.milter.states import Phase, next_phase
from tests.mail.milter.mta import connect, message_packets, optneg, packet, z


def test_a_whole_message_becomes_events_in_order() -> None:
    """Negotiation, connect, envelope, headers, body and end of message parse in order."""
    conn = MilterConnection()
    raw = b"From: a@example.jp\r\nSubject: hi\r\n\r\nbody\r\n"
    data = optneg() + connect() + b"".join(message_packets(raw, mail_from="a@example.jp"))
    events = conn.receive(data)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["Negotiate", "Connect", "Helo"]
    assert kinds[-4:] == ["Header", "EndOfHeaders", "BodyChunk", "EndOfMessage"]
    assert Connect("client.example", "4", 4444, "203.0.113.9") in events
    assert MailFrom("a@example.jp") in events and Recipient("user@example.net") in events
    assert Header("Subject", " hi") in events and BodyChunk(b"body\r\n") in events
    assert conn.phase is Phase.HELO


def test_packets_split_anywhere_are_reassembled() -> None:
    """Bytes arriving one at a time give the same events."""
    conn = MilterConnection()
    events = []
    for byte in optneg() + connect():
        events.extend(conn.receive(bytes([byte])))
    assert [type(e) for e in events] == [Negotiate, Connect]


def test_command_out_of_phase_is_a_protocol_error() -> None:
    """A header before MAIL FROM breaks the state table and is refused."""
    conn = MilterConnection()
    conn.receive(optneg() + connect())
    with pytest.raises(MilterProtocolError):
        conn.receive(packet(b"L", z("Subject", "x")))


def test_oversized_or_empty_packet_is_refused() -> None:
    """A zero or absurd length cannot be a milter packet."""
    with pytest.raises(MilterProtocolError):
        MilterConnection().receive(struct.pack("!I", 0))
    with pytest.raises(MilterProtocolError):
        MilterConnection().receive(struct.pack("!I", 1 << 30) + b"O")


def test_abort_returns_to_helo_and_a_new_message_may_follow() -> None:
    """After ABORT the next MAIL FROM starts a fresh message on the same connection."""
    assert next_phase(Phase.BODY, b"A") is Phase.HELO
    assert next_phase(Phase.HELO, b"M") is Phase.ENVELOPE
    assert next_phase(Phase.NEGOTIATE, b"D") is None
    assert next_phase(Phase.BODY, b"Q") is Phase.CLOSED


def test_negotiation_answers_only_what_was_offered() -> None:
    """We never claim an action or step the MTA did not offer."""
    conn = MilterConnection()
    conn.receive(packet(b"O", struct.pack("!III", 6, 0x01, 0)))
    reply = conn.negotiate_reply()
    assert (reply.version, reply.actions, reply.protocol) == (6, 0x01, 0)


def test_replies_encode_as_libmilter_does() -> None:
    """Reply packets carry the command byte and NUL-terminated strings."""
    assert encode_reply(AddHeader("X-A", " b")) == packet(b"h", z("X-A", " b"))
    assert encode_reply(ChangeHeader(2, "Authentication-Results", "")) == packet(
        b"m", struct.pack("!I", 2) + z("Authentication-Results", "")
    )
    assert encode_reply(ReplyCode(550, "5.7.1", "Message rejected")) == packet(
        b"y", z("550 5.7.1 Message rejected")
    )


def test_reply_code_refuses_non_ascii_or_mismatched_status() -> None:
    """An SMTP reply must be ASCII and its enhanced status must match its class."""
    with pytest.raises(ValueError):
        ReplyCode(550, "4.7.1", "x")
    with pytest.raises(ValueError):
        ReplyCode(550, "5.7.1", "拒否")


def test_end_of_message_may_carry_the_last_body_bytes() -> None:
    """SMFIC_BODYEOB can hold data; it is kept."""
    conn = MilterConnection()
    conn.receive(
        optneg() + connect() + b"".join(message_packets(b"A: b\r\n\r\n", mail_from="")[:-1])
    )
    (event,) = conn.receive(packet(b"E", b"tail"))
    assert event == EndOfMessage(b"tail")


COMMANDS = st.sampled_from([bytes([c]) for c in b"ODCHMRTLNBEAQKUZ"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(COMMANDS, st.binary(max_size=24)), max_size=12), st.binary(max_size=40))
def test_arbitrary_packets_raise_only_protocol_errors(
    packets: list[tuple[bytes, bytes]], tail: bytes
) -> None:
    """Well-framed packets in any order with any payload, then garbage: only protocol errors."""
    conn = MilterConnection()
    data = b"".join(packet(command, payload) for command, payload in packets) + tail
    with contextlib.suppress(MilterProtocolError):
        conn.receive(optneg() + connect() + data)
