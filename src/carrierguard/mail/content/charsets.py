"""Turn the bytes of a text part into ``str`` whatever charset the sender claimed.

Japanese mail arrives as iso-2022-jp, Shift_JIS, EUC-JP or UTF-8, and phishing kits often
send GB2312 (which contains kana) labelled as Japanese, or Shift_JIS labelled as nothing.
This module only decodes: it never raises, it always returns text plus a note saying
whether the declared charset was wrong. It does not know about MIME.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Declared names mapped to the widest codec that is a superset of them: senders use
# Microsoft extensions (NEC/IBM kanji, circled digits) while labelling the base charset.
_SUPERSETS: dict[str, str] = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-2022-jp-1": "iso2022_jp_ext",
    "iso-2022-jp-2": "iso2022_jp_2",
    "iso-2022-jp-3": "iso2022_jp_3",
    "csiso2022jp": "iso2022_jp_ext",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "eucjp": "euc_jis_2004",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "default": "utf-8",
}

# Tried in this order when the declared charset fails or reads as mojibake.
_FALLBACKS: tuple[str, ...] = (
    "utf-8",
    "cp932",
    "euc_jis_2004",
    "iso2022_jp_ext",
    "gb18030",
    "cp1252",
)


# Half-width katakana (rare in real bodies), private use, C1 and C0 controls, U+FFFD.
_MOJIBAKE = re.compile("[\ufffd\uff61-\uff9f\ue000-\uf8ff\x80-\x9f\x00-\x08\x0b\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text of one part, the codec that produced it, and whether the label was wrong."""

    text: str
    codec: str
    declared: str
    mislabelled: bool


def _codec_for(declared: str) -> str | None:
    name = declared.strip().strip("\"'").lower()
    if not name:
        return None
    mapped = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(mapped).name
    except LookupError:
        return None


def plausibility(text: str) -> float:
    """Score in [0, 1]: how much of ``text`` looks like real writing rather than mojibake.

    Mojibake from a wrong CJK codec shows up as half-width katakana, private-use and
    rare compatibility characters, replacement characters and C1 controls.
    """
    if not text:
        return 1.0
    bad = len(_MOJIBAKE.findall(text))
    return 1.0 - bad / len(text)


def _rare_kanji(text: str) -> float:
    """Share of CJK ideographs outside JIS level 1: high when CJK bytes met the wrong codec.

    GB2312 bytes read as EUC-JP (or the reverse) still decode, but land on arbitrary,
    mostly uncommon kanji; real Japanese text is dominated by JIS level-1 kanji.
    """
    total = rare = 0
    for ch in text[:3000]:
        if "\u4e00" <= ch <= "\u9fff":
            total += 1
            try:
                sjis = ch.encode("cp932")
            except UnicodeEncodeError:
                rare += 1
                continue
            if not b"\x88\x9f" <= sjis <= b"\x98\x72":
                rare += 1
    return rare / total if total else 0.0


def quality(text: str) -> float:
    """Plausibility with a penalty for uncommon kanji; used to rank candidate codecs."""
    return plausibility(text) - 0.5 * _rare_kanji(text)


def decode_bytes(data: bytes, declared: str | None) -> Decoded:
    """Decode ``data``, trusting ``declared`` only if it decodes cleanly and plausibly."""
    label = (declared or "").strip().lower()
    first = _codec_for(label) if label else None
    if not data:
        return Decoded("", first or "utf-8", label, False)
    if first is not None:
        try:
            text = data.decode(first)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            if plausibility(text) >= 0.97:
                return Decoded(text, first, label, False)
    # ISO-2022-JP is 7-bit with ESC sequences: a strong signal whatever the label says.
    if b"\x1b$B" in data or b"\x1b$@" in data or b"\x1b(J" in data:
        candidates: tuple[str, ...] = ("iso2022_jp_ext", "iso2022_jp_2", *_FALLBACKS)
    else:
        candidates = _FALLBACKS
    best: Decoded | None = None
    best_score = -1.0
    for codec in candidates:
        if codec == first:
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = quality(text)
        if score > best_score:
            best, best_score = Decoded(text, codec, label, first is not None), score
        if score >= 0.995:
            break
    if best is not None and (first is None or best_score >= 0.9):
        return best
    codec = first or "utf-8"
    return Decoded(data.decode(codec, errors="replace"), codec, label, False)


def decode_header_bytes(raw: str) -> str:
    """Repair a header that arrived as raw 8-bit (surrogate-escaped by ``email``)."""
    try:
        data = raw.encode("ascii", errors="surrogateescape")
    except UnicodeEncodeError:
        return raw
    if data.isascii():
        return raw
    return decode_bytes(data, None).text
