"""Normalise decoded mail text so that disguised words read as themselves.

Phishers write brand names full-width (``Ｅ Ｔ Ｃ``), spaced out (``三 井 住 友``) or with
zero-width characters in between to slip past keyword filters. We apply NFKC, drop
invisible characters and join runs of single characters separated by spaces. This module
is pure string work; it knows nothing about brands or mail.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
# Three or more single visible characters each followed by horizontal space: "三 井 住 友".
_SPACED_OUT = re.compile(r"(?<!\S)(?:[^\s][ \t\u3000]{1,2}){2,}[^\s](?!\S)")
# The same for CJK characters, which need no surrounding space: "、三 井 住 友、".
_CJK = "\u3040-\u30ff\u3400-\u9fff"
_SPACED_OUT_CJK = re.compile(f"(?:[{_CJK}][ \\t\u3000]{{1,2}}){{2,}}[{_CJK}](?![{_CJK}])")
_HSPACE = re.compile(r"[ \t\u3000]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control and filler characters."""
    return _INVISIBLE.sub("", text)


def _joined(m: re.Match[str]) -> str:
    return _HSPACE.sub("", m.group(0))


def join_spaced_out(text: str, *, ascii_only: bool = False) -> str:
    """Join ``三 井 住 友`` to ``三井住友`` and ``E T C`` to ``ETC``.

    ``ascii_only``: the caller knows the text is ASCII, so no CJK run can be spaced out.
    """
    if not ascii_only:
        text = _SPACED_OUT_CJK.sub(_joined, text)
    return _SPACED_OUT.sub(_joined, text)


def normalize_text(text: str) -> str:
    """NFKC, invisible characters removed, spaced-out words joined, whitespace tidied.

    Steps that cannot change the text are skipped: invisible and CJK characters are never
    ASCII, and ``_HSPACE`` only changes a tab, an ideographic space or two spaces in a row.
    """
    text = unicodedata.normalize("NFKC", text)
    ascii_only = text.isascii()
    if not ascii_only:
        text = strip_invisible(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = join_spaced_out(text, ascii_only=ascii_only)
    if "\t" in text or "  " in text or (not ascii_only and "\u3000" in text):
        text = _HSPACE.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def compact_for_matching(text: str) -> str:
    """Lower-case with every space removed: the form brand and lure patterns match against.

    ``str.split()`` splits on exactly the characters ``re``'s ``\\s`` matches (both use
    ``Py_UNICODE_ISSPACE``); a test checks every code point.
    """
    return "".join(text.split()).lower()
