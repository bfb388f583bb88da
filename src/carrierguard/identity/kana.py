"""Kana readings: one katakana form, and a coarse phonetic key for blocking.

Owns hiragana/katakana/half-width folding, small kana, long vowels and the
phonetic key. Must not guess readings of kanji: a reading is only ever taken from
what the person wrote.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jaconv

from carrierguard.identity.variants import nfkc

_SPACES = re.compile(r"[\s\u3000・･·]+")
_KANA_ONLY = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc\u309b\u309c\s\u3000・･]+$")

_SMALL_TO_LARGE = str.maketrans(
    "ァィゥェォッャュョヮヵヶ",
    "アイウエオツヤユヨワカケ",
)
# Sounds that modern kana spells two ways; a reading typed by a clerk uses either.
_ARCHAIC = str.maketrans("ヂヅヲヱヰヴ", "ジズオエイブ")
_O_ROW = "オコソトノホモヨロゴゾドボポョ"
_E_ROW = "エケセテネヘメレゲゼデベペ"
# Both tables and the long vowel mark (dropped) in one pass.
_PHONETIC = str.maketrans({**_SMALL_TO_LARGE, **_ARCHAIC, ord("ー"): None})
# A vowel that only lengthens the kana before it: ウ or オ after the o-row, イ after the e-row.
_LENGTHENING = re.compile(f"([{_O_ROW}])[ウオ]+|([{_E_ROW}])イ+")


def is_kana(text: str) -> bool:
    """True when ``text`` is written only in kana (and spaces)."""
    return bool(_KANA_ONLY.match(nfkc(text)))


def to_katakana(text: str) -> str:
    """Full-width katakana without spaces; small kana kept (キャ is not キヤ in a reading)."""
    return jaconv.hira2kata(_SPACES.sub("", nfkc(text)))


@lru_cache(maxsize=100_000)
def phonetic_key(reading: str) -> str:
    """Coarse key of a kana reading: no small kana, dakuten kept, long vowels dropped.

    サトウ, サトー, さとお and ｻﾄｳ all give サト; ショウヘイ and ショーヘー both give シヨヘ.
    """
    return _LENGTHENING.sub(r"\1\2", to_katakana(reading).translate(_PHONETIC))
