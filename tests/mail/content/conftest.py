"""Small hand-written messages for content tests (never corpus files)."""

from __future__ import annotations

import base64
import quopri
from email.header import Header


def build(
    body: bytes,
    *,
    subject: str = "test",
    from_: str = "Sender <sender@example.jp>",
    ctype: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    extra: str = "",
) -> bytes:
    """Assemble a one-part message from header values and an already-encoded body."""
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode()
    head = (
        f"From: {from_}\r\nTo: user@example.net\r\nSubject: {subject}\r\n"
        f"Message-ID: <1@example.jp>\r\nDate: Mon, 02 Sep 2024 10:00:00 +0900\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n"
        f"{extra}\r\n"
    )
    return head.encode("ascii") + body


def b64(text: str, charset: str) -> bytes:
    """Base64 body lines for ``text`` encoded in ``charset``."""
    return base64.encodebytes(text.encode(charset))


def qp(text: str, charset: str) -> bytes:
    """Quoted-printable body for ``text`` encoded in ``charset``."""
    return quopri.encodestring(text.encode(charset))
