"""Personal names: one written form for comparison, kept apart from the reading.

Owns NFKC, variant-kanji folding, spaces and honorifics for the written name, and
the katakana form of the reading (フリガナ). A name written only in kana is also
taken as its own reading. Latin letters compare without case (SMITH JOHN is Smith
John), ヶ and ヵ in a written name are ケ (一ヶ瀬 is 一ケ瀬), and a reading given in
romaji (TAKAHASHI ICHIRO) is read as kana, or dropped when it cannot be. Must not
guess readings of kanji.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import jaconv

from carrierguard.identity.kana import is_kana, phonetic_key, to_katakana
from carrierguard.identity.variants import fold_variants, nfkc

_SPACES = re.compile(r"[\s\u3000・･·]+")
# Honorifics a clerk or a form may append. Kana ones are only taken off a name
# written in kanji: in a reading, クン or サン may be the name itself (訓, 燦).
_HONORIFICS = ("様", "殿")
_KANA_HONORIFICS = ("さま", "さん", "くん", "ちゃん")
_KANJI = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f々]")
_PUNCT = re.compile(r"[.,、。()（）「」\"'`]")
# ヶ and ヵ inside a written name (一ヶ瀬, 八ヶ代) are typographic forms of ケ.
_SMALL_KE = str.maketrans("ヶヵ", "ケケ")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class NormalizedName:
    """A name ready for comparison.

    ``full`` has no spaces; ``family`` and ``given`` are set only when the writer
    separated them with a space. ``reading`` is katakana (empty when unknown).
    """

    full: str
    family: str | None
    given: str | None
    reading: str
    reading_family: str | None
    reading_given: str | None

    @property
    def phonetic(self) -> str:
        """Coarse phonetic key of the reading; empty when no reading is known."""
        return phonetic_key(self.reading) if self.reading else ""


def _strip_honorific(text: str) -> str:
    if not text.endswith(_HONORIFICS + _KANA_HONORIFICS):
        return text
    for honorific in _HONORIFICS + _KANA_HONORIFICS:
        stem = text[: -len(honorific)].rstrip()
        kanji_before = honorific in _HONORIFICS or bool(_KANJI.search(stem[-1:]))
        if text.endswith(honorific) and len(stem) >= 2 and kanji_before:
            return stem
    return text


def _split(text: str) -> list[str]:
    return [part for part in _SPACES.split(text.strip()) if part]


@lru_cache(maxsize=100_000)
def _written(name: str) -> tuple[str, tuple[str, ...], bool]:
    """The written name without punctuation or honorific, its folded parts, and whether
    it is all kana. Cached apart from the reading: a name comes with and without one.
    """
    text = _strip_honorific(_PUNCT.sub("", nfkc(name)).strip())
    parts = tuple(to_katakana(fold_variants(p)).translate(_SMALL_KE).upper() for p in _split(text))
    return text, parts, is_kana(text)


def _kana_part(part: str) -> str | None:
    """A reading's part in katakana; romaji is converted, None when it is not kana then."""
    if _LATIN.search(part):
        part = jaconv.alphabet2kata(part.lower())
    return to_katakana(part) if is_kana(part) else None


@lru_cache(maxsize=100_000)
def _reading(reading: str) -> tuple[str, ...]:
    parts = tuple(_kana_part(p) for p in _split(nfkc(reading)))
    return () if None in parts else tuple(p for p in parts if p is not None)


@lru_cache(maxsize=100_000)
def normalize_name(name: str, reading: str | None = None) -> NormalizedName:
    """Normalise a written name and its optional reading (フリガナ)."""
    text, parts, kana_only = _written(name)
    family, given = (parts[0], "".join(parts[1:])) if len(parts) >= 2 else (None, None)
    if not reading and kana_only:
        reading = text
    reading_parts = _reading(reading) if reading else ()
    r_family, r_given = (
        (reading_parts[0], "".join(reading_parts[1:])) if len(reading_parts) >= 2 else (None, None)
    )
    return NormalizedName(
        full="".join(parts),
        family=family,
        given=given,
        reading="".join(reading_parts),
        reading_family=r_family,
        reading_given=r_given,
    )


def normalize_written_name(name: str) -> str:
    """Written name without spaces, variants folded, kana in katakana: 髙橋　一郎様 -> 高橋一郎."""
    return "".join(_written(name)[1])  # normalize_name(name).full
