"""HTML to visible text, with every link's target and displayed text.

Phishing HTML hides filler text (``opacity:0``, ``font-size:1px``, ``display:none``) to
dilute filters, and shows a brand URL as link text while pointing elsewhere. We keep the
visible text, count the hidden characters, and record (href, text) pairs. Malformed HTML
never raises: ``html.parser`` is forgiving and we close what it leaves open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_BLOCK = frozenset(
    (
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer"),
        *("form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol"),
        *("p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    )
)
_VOID = frozenset(
    (
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"),
        *("source", "track", "wbr"),
    )
)
_SKIP = frozenset(("script", "style", "head", "title", "noscript", "template"))
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)"
    r"|font-size\s*:\s*[01](?:\.\d+)?\s*px|font-size\s*:\s*0|max-height\s*:\s*0",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class HtmlLink:
    """One ``<a href>`` (or ``<area>``/``<form action>``) and the text it displays."""

    href: str
    text: str


@dataclass(frozen=True, slots=True)
class HtmlText:
    """Visible text, links, hidden character count and form count of one HTML part."""

    text: str
    links: tuple[HtmlLink, ...]
    hidden_chars: int
    forms: int


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[HtmlLink] = []
        self.hidden_chars = 0
        self.forms = 0
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self._open: dict[str, int] = {}  # tag -> how many times it is on the stack
        self._skip = 0
        self._hidden = 0
        self._anchor: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "a" and "href" in a:
            self._close_anchor()
            self._anchor = (a["href"].strip(), [])
        elif tag == "area" and "href" in a:
            self.links.append(HtmlLink(a["href"].strip(), a.get("alt", "")))
        elif tag == "form":
            self.forms += 1
            if a.get("action"):
                self.links.append(HtmlLink(a["action"].strip(), ""))
        elif tag == "img" and a.get("alt") and self._anchor is not None:
            self._anchor[1].append(a["alt"])
        if tag in _VOID:
            return
        style = a.get("style")
        hides = tag in _SKIP or bool(style and _HIDDEN_STYLE.search(style)) or "hidden" in a
        self._stack.append((tag, hides))
        self._open[tag] = self._open.get(tag, 0) + 1
        if tag in _SKIP:
            self._skip += 1
        elif hides:
            self._hidden += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()
        if tag in _BLOCK:
            self.out.append("\n")
        if not self._open.get(tag):
            return
        while self._stack:
            t, hides = self._stack.pop()
            self._open[t] -= 1
            if t in _SKIP:
                self._skip -= 1
            elif hides:
                self._hidden -= 1
            if t == tag:
                break

    def updatepos(self, i: int, j: int) -> int:
        """Skip line and column bookkeeping: only ``getpos`` reads it, and we never call it."""
        return j

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._hidden:
            self.hidden_chars += len(data.strip())
            return
        self.out.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)

    def _close_anchor(self) -> None:
        if self._anchor is not None:
            href, parts = self._anchor
            self.links.append(HtmlLink(href, " ".join("".join(parts).split())))
            self._anchor = None


def html_to_text(html: str) -> HtmlText:
    """Convert ``html`` to visible text and links; never raises on malformed markup."""
    conv = _Converter()
    try:
        conv.feed(html)
        conv.close()
    except (AssertionError, ValueError, IndexError):  # pragma: no cover - parser edge cases
        pass
    conv._close_anchor()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(conv.out))
    text = re.sub(r" ?\n[ \n]*", "\n", text)
    return HtmlText(text.strip(), tuple(conv.links), conv.hidden_chars, conv.forms)
