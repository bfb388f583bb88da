"""Undo what relays and mailing lists added to a message before we judge it.

A list or an upstream filter stamps its own verdict on the mail (``X-Spam-*``, ``[SPAM]``
subject tags), adds list headers and footers, and rewrites ``From`` as "Name via List"
(moving the author to ``Reply-To``). In the shared corpora those artefacts leak the label,
and in production they are somebody else's opinion: features must never see them. This
module only removes and restores; it makes no judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cache

# Header names (lower-case prefixes) that carry a relay's verdict, list routing or a
# mail client's local state. None of them is the sender's doing.
_RELAY_PREFIXES: tuple[str, ...] = (
    "x-spam",
    "x-ham",
    "x-virus",
    "x-amavis",
    "x-headers-end",
    "x-beenthere",
    "x-mailman",
    "list-",
    "x-list",
    "mailing-list",
    "x-mailing-list",
    "precedence",
    "errors-to",
    "x-original-to",
    "delivered-to",
    "x-loop",
    "x-sf",
    "x-sourceforge",
    "x-asg",
    "x-barracuda",
    "x-proofpoint",
    "x-ms-exchange-organization-scl",
    "x-forefront-antispam",
    "x-microsoft-antispam",
    "x-mimecast",
    "x-pyzor",
    "x-razor",
    "x-dspam",
    "x-bogosity",
    "x-crm114",
    "x-ironport",
    "x-antispam",
    "x-antivirus",
    "x-scanned-by",
    "x-mailscanner",
    "x-keywords",
    "x-status",
    "status",
    "x-uid",
    "content-length",
    "lines",
    "x-egroups",
    "x-yahoo",
    "x-topica",
    "x-rspamd",
    "x-getmail",
    "x-fetchmail",
)
_VERDICT_TAG = re.compile(
    r"[\[\(\{]\s*(?:\*+\s*)?(?:possible |suspected |probable )?"
    r"(?:spam\??|meiwaku|迷惑メール|迷惑|junk|bulk|phish(?:ing)?|suspicious)(?:\s*\*+)?\s*[\]\)\}]"
    r"|\*{2,}\s*spam\s*\*{2,}",
    re.IGNORECASE,
)
_LEADING_TAG = re.compile(
    r"^((?:(?:re|fwd?|aw|sv|転送|返信)\s*:\s*)*)\[([^\[\]\s]{1,40})\]\s*", re.I
)
_KEEP_TAGS = re.compile(r"^(?:patch|rfc|resend|git|announce|ann|pull)\b", re.IGNORECASE)
_VIA = re.compile(r"\s+via\s+[^<>]*$", re.IGNORECASE)
_FOOTERS = (
    # Mailman and SourceForge lists.
    re.compile(
        r"(?:^|\n)[ \t]*_{10,}[ \t]*\n[^\n]{0,100}(?:mailing list|@lists\.|listinfo)[\s\S]*\Z", re.I
    ),
    # ezmlm and Apache lists.
    re.compile(r"\n-{5,}[ \t]*\nTo unsubscribe, e-mail:[\s\S]*\Z", re.IGNORECASE),
    # Yahoo! Groups sponsor blocks of the early 2000s.
    re.compile(r"\n[-=_ ]*Yahoo! Groups Sponsor[\s\S]*\Z", re.IGNORECASE),
)


@dataclass(frozen=True, slots=True)
class RelayInfo:
    """What was removed or restored, for the reasons and for tests."""

    list_names: tuple[str, ...]
    headers_removed: int
    subject_tags_removed: tuple[str, ...]
    from_rewritten: bool


def is_relay_header(name: str) -> bool:
    """True for headers a relay, list or client added (never used as evidence)."""
    low = name.lower()
    return low.startswith(_RELAY_PREFIXES) or any(w in low for w in ("spam", "virus", "phish"))


def list_names(headers: list[tuple[str, str]]) -> tuple[str, ...]:
    """Names of the mailing lists a message passed through, from its list headers."""
    names: set[str] = set()
    for name, value in headers:
        low = name.lower()
        if low == "list-id":
            m = re.search(r"<([^.>]+)", value)
            if m:
                names.add(m.group(1).lower())
        elif low in ("list-post", "x-beenthere", "x-mailing-list"):
            m = re.search(r"([\w.+-]+)@", value)
            if m:
                names.add(m.group(1).lower())
    return tuple(sorted(names))


@cache
def _list_tag(name: str) -> re.Pattern[str]:
    return re.compile(r"\[" + re.escape(name) + r"\]\s*", re.IGNORECASE)


def clean_subject(subject: str, lists: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Remove verdict tags anywhere and list tags at the front; return what was removed."""
    removed: list[str] = [m.group(0) for m in _VERDICT_TAG.finditer(subject)]
    subject = _VERDICT_TAG.sub(" ", subject)
    for name in lists:
        pattern = _list_tag(name)
        found = pattern.findall(subject)
        removed.extend(f.strip() for f in found)
        subject = pattern.sub("", subject)
    if lists:
        m = _LEADING_TAG.match(subject)
        if m and not _KEEP_TAGS.match(m.group(2)):
            removed.append(f"[{m.group(2)}]")
            subject = m.group(1) + subject[m.end() :]
    return " ".join(subject.split()), tuple(removed)


def strip_footers(text: str) -> str:
    """Cut list footers (Mailman, ezmlm, Yahoo! Groups) off the end of a text part."""
    for pattern in _FOOTERS:
        text = pattern.sub("", text)
    return text


def restore_author(
    from_value: str, reply_to: str, original_from: str | None, lists: tuple[str, ...]
) -> tuple[str, str, bool]:
    """Undo "Name via List <list@...>" rewriting; returns (display, address, rewritten).

    Mailman's DMARC mitigation moves the author's address to Reply-To; some relays keep it
    in X-Original-From. Without either the address stays unknown (empty).
    """
    pairs = getaddresses([from_value])
    display, address = pairs[0] if pairs else ("", "")
    local = address.split("@")[0].lower() if "@" in address else ""
    via = bool(_VIA.search(display))
    rewritten = via or (bool(lists) and local in lists)
    if not rewritten:
        return display, address, False
    display = _VIA.sub("", display).strip()
    for source in (original_from, reply_to):
        if source:
            found = [a for _, a in getaddresses([source]) if "@" in a]
            if found:
                return display, found[0], True
    return display, "", True
