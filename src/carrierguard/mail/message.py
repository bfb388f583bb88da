"""A received message as the checks see it: raw bytes, its header fields in order, its body.

Parsing is deliberately literal: header fields are kept exactly as received (no
decoding of encoded-words, no address parsing) because signature checks need the
original bytes and From-header attacks hide in what a lenient parser "fixes".
Interpreting a field (the author address, say) is the job of ``mail/auth``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD_NAME = re.compile(rb"^[\x21-\x39\x3b-\x7e]+$")


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field: its name as written and its unfolded value (raw bytes kept)."""

    name: str
    value: str
    raw: bytes

    def is_named(self, name: str) -> bool:
        return self.name.lower() == name.lower()


@dataclass(frozen=True, slots=True)
class Message:
    """A message split into header fields and body; construct with ``Message.parse``."""

    raw: bytes
    headers: tuple[HeaderField, ...]
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Message:
        """Split ``raw`` (CRLF or LF line ends) into fields and body; never raises on content."""
        head, body = _split_head(raw)
        fields: list[HeaderField] = []
        current: list[bytes] = []
        for line in head.splitlines(keepends=True):
            if line[:1] in (b" ", b"\t") and current:
                current.append(line)
                continue
            if current:
                fields.extend(_field(b"".join(current)))
            current = [line]
        if current:
            fields.extend(_field(b"".join(current)))
        return cls(raw=raw, headers=tuple(fields), body=body)

    def get_all(self, name: str) -> list[str]:
        """Every value of the fields called ``name``, in message order."""
        return [f.value for f in self.headers if f.is_named(name)]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw[2:] if raw.startswith(b"\r\n") else raw[1:]
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return raw[: crlf + 2], raw[crlf + 4 :]
    if lf >= 0:
        return raw[: lf + 1], raw[lf + 2 :]
    return raw, b""


def _field(raw: bytes) -> list[HeaderField]:
    name, sep, value = raw.partition(b":")
    name = name.rstrip(b" \t")
    if not sep or not _FIELD_NAME.match(name):
        return []  # not a header field (a body line without a blank line, say): ignored
    text = value.decode("utf-8", "surrogateescape")
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", text).rstrip("\r\n").strip(" \t")
    return [HeaderField(name.decode("ascii"), unfolded, raw)]
