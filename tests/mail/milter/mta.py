"""A scripted MTA side of the milter protocol, for tests: builds packets, reads replies."""

from __future__ import annotations

import asyncio
import struct


def packet(command: bytes, payload: bytes = b"") -> bytes:
    return struct.pack("!I", len(payload) + 1) + command + payload


def z(*parts: str) -> bytes:
    return b"".join(p.encode() + b"\0" for p in parts)


def optneg(protocol: int = 0x1FFFFF) -> bytes:
    return packet(b"O", struct.pack("!III", 6, 0x1FF, protocol))


def connect(ip: str = "203.0.113.9") -> bytes:
    return packet(b"C", z("client.example") + b"4" + struct.pack("!H", 4444) + z(ip))


def message_packets(
    raw: bytes,
    *,
    mail_from: str,
    rcpt: str = "user@example.net",
    helo: str = "client.example",
    rcpts: tuple[str, ...] = (),
) -> list[bytes]:
    """The packets Postfix sends for one message (headers with leading space kept)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    out = [
        packet(b"H", z(helo)),
        packet(b"D", b"M" + z("i", "4ABCDEF")),
        packet(b"M", z(f"<{mail_from}>")),
        *(packet(b"R", z(f"<{r}>")) for r in rcpts or (rcpt,)),
        packet(b"T"),
    ]
    unfolded = head.replace(b"\r\n ", b"\n ").replace(b"\r\n\t", b"\n\t")
    for line in unfolded.split(b"\r\n"):
        name, _, value = line.partition(b":")
        out.append(packet(b"L", name + b"\0" + value + b"\0"))
    out.append(packet(b"N"))
    if body:
        out.append(packet(b"B", body))
    out.append(packet(b"E"))
    return out


async def read_reply(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    data = await reader.readexactly(length)
    return data[:1], data[1:]


async def read_until_final(reader: asyncio.StreamReader) -> list[tuple[bytes, bytes]]:
    """Replies up to and including the final one for end of message."""
    replies = []
    while True:
        reply = await read_reply(reader)
        replies.append(reply)
        if reply[0] in (b"c", b"a", b"r", b"t", b"y", b"d"):
            return replies
