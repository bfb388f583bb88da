"""Kanji numerals (漢数字) to integers: 六十, 一九八五, 二千二十, 〇, 元 (in 元年).

Owns only the arithmetic of numerals; deciding where a numeral stands (a year, a
chome) belongs to dates and addresses.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGITS: dict[str, int] = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "壱": 1,
    "二": 2,
    "弐": 2,
    "三": 3,
    "参": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "千": 1000}

KANJI_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)
KANJI_NUMERAL = re.compile(f"[{KANJI_NUMERAL_CHARS}]+")


def kanji_to_int(text: str) -> int:
    """Value of a kanji numeral or ASCII digits; ``ValueError`` for anything else.

    Positional numerals (六十, 二千二十) and digit-by-digit ones (一九八五) are both read.
    """
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        raise ValueError(f"not a kanji numeral: {text!r}")
    if not any(c in _UNITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total = 0
    pending: int | None = None
    for char in text:
        if char in _DIGITS:
            if pending is not None:
                raise ValueError(f"two digits in a row in a positional numeral: {text!r}")
            pending = _DIGITS[char]
        else:
            total += (1 if pending is None else pending) * _UNITS[char]
            pending = None
    return total + (pending or 0)


def replace_kanji_numerals(text: str, before: str) -> str:
    """Write in Arabic digits each kanji numeral of ``text`` that is followed by ``before``.

    ``before`` is a regular expression (a lookahead), so 三軒茶屋 keeps its 三 while
    二丁目 becomes 2丁目.
    """
    if not KANJI_NUMERAL.search(text):
        return text
    return _numeral_before(before).sub(lambda m: str(kanji_to_int(m.group(1))), text)


@lru_cache(maxsize=16)
def _numeral_before(before: str) -> re.Pattern[str]:
    return re.compile(f"({KANJI_NUMERAL.pattern})(?={before})")
