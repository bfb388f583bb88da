"""Read raw message bytes into ``MailText``: decoded headers, visible text and links.

Every text part is decoded (base64, quoted-printable, any Japanese or mislabelled charset),
HTML is turned into visible text, list and relay artefacts are removed (see ``relay``), and
text is normalised. Malformed MIME degrades to "whatever we could read" and is noted in
``defects``; only input that is not mail at all raises ``MailUnreadable``.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from functools import lru_cache

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content import relay
from carrierguard.mail.content.charsets import decode_bytes, decode_header_bytes
from carrierguard.mail.content.html import html_to_text
from carrierguard.mail.content.normalize import normalize_text

MAX_BYTES = 32 * 1024 * 1024
MAX_PARTS = 256
MAX_TEXT = 20_000
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:", re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_BARE_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'`\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef()（）「」【】]+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Link:
    """A link target and the text shown for it ('' for a bare URL in text)."""

    href: str
    text: str
    in_html: bool


@dataclass(frozen=True, slots=True)
class MailText:
    """Everything content analysis reads from one message, relay artefacts removed."""

    subject: str
    from_display: str
    from_address: str
    reply_to: tuple[str, ...]
    return_path: str
    message_id: str
    headers: tuple[tuple[str, str], ...]
    body: str
    links: tuple[Link, ...]
    attachments: tuple[str, ...]
    hidden_chars: int
    forms: int
    html_only: bool
    mislabelled_charset: bool
    defects: tuple[str, ...]
    relay: relay.RelayInfo

    @property
    def from_domain(self) -> str:
        """Domain of the (restored) author address, lower-case; '' when unknown."""
        return self.from_address.rpartition("@")[2].strip(" >").lower()


def decode_header_value(raw: str) -> str:
    """Decode RFC 2047 words and raw 8-bit bytes in one header value; never raises."""
    raw = decode_header_bytes(raw)
    if "=?" not in raw:  # no encoded word: decode_header would return it unchanged
        return " ".join(raw.split())
    try:
        chunks = decode_header(raw)
    except (ValueError, LookupError, AssertionError, HeaderParseError):  # bad base64 word
        return " ".join(raw.split())
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset).text)
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def looks_like_mail(data: bytes) -> bool:
    head = data[:4096].lstrip()
    if head.startswith(b"From "):  # mbox separator line
        head = head.partition(b"\n")[2]
    return bool(_HEADER_LINE.match(head))


def _part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, AssertionError, TypeError):
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""


def _charset(part: Message, data: bytes, html: bool) -> str | None:
    try:
        declared = part.get_content_charset()
    except (ValueError, LookupError, AssertionError):
        declared = None
    if declared is None and html:
        m = _META_CHARSET.search(data[:4096])
        if m:
            declared = m.group(1).decode("ascii", "replace")
    return declared


@lru_cache(maxsize=4096)
def _is_relay_header(name: str) -> bool:
    """``relay.is_relay_header``, remembered: the same header names recur in every message."""
    return relay.is_relay_header(name)


def _addresses(value: str) -> list[tuple[str, str]]:
    """``getaddresses`` of one header value; an absent header ('') holds no address."""
    return getaddresses([value]) if value else []


def _similar(a: str, b: str) -> bool:
    """Cheap test that two renderings (text/plain and text/html) say the same thing."""
    sa = {a[i : i + 3] for i in range(0, min(len(a), 600) - 2)}
    sb = {b[i : i + 3] for i in range(0, min(len(b), 600) - 2)}
    if not sa or not sb:
        return not sa and not sb
    return len(sa & sb) / len(sa | sb) >= 0.5


def read_message(data: bytes) -> MailText:
    """Parse ``data`` (one RFC 5322 message) into ``MailText``."""
    if len(data) > MAX_BYTES:
        raise MailUnreadable(
            f"message of {len(data)} bytes exceeds {MAX_BYTES}",
            message_ja=f"メールが大きすぎます ({len(data)} バイト)。",
        )
    if not data.strip():
        raise MailUnreadable("empty: no message at all", message_ja="空です (メールがありません)。")
    if not looks_like_mail(data):
        raise MailUnreadable(
            "not a mail message: no RFC 5322 header block found",
            message_ja="メールではありません (RFC 5322 のヘッダがありません)。",
        )
    msg = email.message_from_bytes(data, policy=compat32)
    defects = [type(d).__name__ for d in msg.defects]
    raw_headers = [(k, decode_header_value(str(v))) for k, v in msg.raw_items()]
    lists = relay.list_names(raw_headers)
    headers = [(k, v) for k, v in raw_headers if not _is_relay_header(k)]
    first = {k.lower(): v for k, v in reversed(raw_headers)}
    subject, tags = relay.clean_subject(first.get("subject", ""), lists)
    display, address, rewritten = relay.restore_author(
        first.get("from", ""), first.get("reply-to", ""), first.get("x-original-from"), lists
    )
    reply_to = tuple(a.lower() for _, a in _addresses(first.get("reply-to", "")) if "@" in a)
    if rewritten and reply_to and reply_to[0] == address.lower():
        reply_to = reply_to[1:]
    info = relay.RelayInfo(lists, len(raw_headers) - len(headers), tags, rewritten)

    plains: list[str] = []
    htmls: list[str] = []
    links: list[Link] = []
    attachments: list[str] = []
    hidden = forms = 0
    mislabelled = False
    for count, part in enumerate(msg.walk()):
        if count >= MAX_PARTS:
            defects.append("TooManyParts")
            break
        defects.extend(type(d).__name__ for d in part.defects)
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename(None)
        if filename is not None or (
            part.get("content-disposition", "").lower().startswith("attachment")
            and not ctype.startswith("text/")
        ):
            attachments.append(decode_header_value(str(filename or ctype)))
            if not ctype.startswith("text/"):
                continue
        if ctype not in ("text/plain", "text/html", "text/enriched", "text/x-amp-html"):
            if not ctype.startswith(("text/", "message/")) and filename is None:
                attachments.append(ctype)
            continue
        raw = _part_bytes(part)[: MAX_TEXT * 4]
        is_html = ctype != "text/plain"
        decoded = decode_bytes(raw, _charset(part, raw, is_html))
        mislabelled = mislabelled or decoded.mislabelled
        if is_html:
            converted = html_to_text(decoded.text)
            htmls.append(relay.strip_footers(converted.text))
            links.extend(Link(x.href, x.text, True) for x in converted.links)
            hidden += converted.hidden_chars
            forms += converted.forms
        else:
            plains.append(relay.strip_footers(decoded.text))

    # Only the start of a long body is read: evidence and model look at 20,000 characters.
    plain = normalize_text("\n".join(plains)[: MAX_TEXT * 2])
    html = normalize_text("\n".join(htmls)[: MAX_TEXT * 2])
    body = plain if plain else html
    if plain and html and not _similar(plain, html):
        body = plain + "\n" + html
    body = body[:MAX_TEXT]
    seen = {x.href for x in links}
    for m in _BARE_URL.finditer(body):
        url = m.group(0).rstrip(".,;:!?)]}>'\"")
        if url not in seen:
            seen.add(url)
            links.append(Link(url, "", False))
    # A list's Return-Path is the list's own: not read at all then.
    rp = [] if lists else [a for _, a in _addresses(first.get("return-path", "")) if "@" in a]
    return MailText(
        subject=normalize_text(subject),
        from_display=normalize_text(display),
        from_address=address.strip().lower(),
        reply_to=reply_to,
        return_path=rp[0].lower() if rp and not lists else "",
        message_id=first.get("message-id", "").strip(),
        headers=tuple(headers),
        body=body,
        links=tuple(links),
        attachments=tuple(attachments),
        hidden_chars=hidden,
        forms=forms,
        html_only=bool(html) and not plain,
        mislabelled_charset=mislabelled,
        defects=tuple(sorted(set(defects))),
        relay=info,
    )
