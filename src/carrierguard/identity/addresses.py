"""Japanese addresses: prefecture, municipality, town, block numbers and building.

Owns the written-form folding of an address (NFKC, variant kanji, ヶ/ケ/が, 大字/字,
kanji numerals in block numbers, 丁目/番/番地/号 and every hyphen look-alike) and
the split into parts. The prefecture and municipality are recognised from Japan
Post's list (a designated city's ward also without its city) and checked against
the postal code when one is given. Towns whose names look like block numbers
(八丁堀, 一番町, 麻布十番) are kept whole, and in Kyoto the street and direction
written before the town (寺町通御池上る) are dropped. The building and room are kept
apart: they only break ties between otherwise equal addresses; a space after the
block numbers starts them (1-2-3 101).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from carrierguard.identity.gazetteer import (
    PREFECTURES,
    municipalities,
    normalize_postal_code,
    numbered_towns,
    postal_area,
)
from carrierguard.identity.numerals import KANJI_NUMERAL_CHARS, kanji_to_int, replace_kanji_numerals
from carrierguard.identity.variants import fold_variants, nfkc

_CJK = r"\u3400-\u9fff\U00020000-\U0003134f々"
_SPACES = re.compile(r"[\s\u3000]+")
_POSTAL_IN_TEXT = re.compile(r"〒?\s*(\d{3})[-‐－ー−]?(\d{4})\s*")
_GA = re.compile(rf"(?<=[^\d])[ヶヵケがガ](?=[{_CJK}])")
_NO = re.compile(rf"(?<=[{_CJK}])[ノ之](?=[{_CJK}])")
_AZA = re.compile(r"大字|(?<!\d)字(?=[^\d\-])")
_HYPHENS = re.compile(r"(?<=\d)[\-‐‑‒–—―−－ーｰ~〜の](?=\d)")
# 丁 and 番 followed by a kanji other than a numeral belong to a town name (八丁堀,
# 一番町), not to a block number (三丁目二番一号).
_TOWN_KANJI = rf"(?![{KANJI_NUMERAL_CHARS}])[{_CJK}]"
_NUMERAL_CONTEXT = (
    rf"丁目|丁(?!{_TOWN_KANJI})|番地|番(?!{_TOWN_KANJI})|号|条|線|地割|の\d"
    r"|[\-‐‑‒–—―−－ーｰ]|\d"
)
_MARKERS = (
    (re.compile(rf"(\d+)丁(?:目|(?!{_TOWN_KANJI}))"), r"\1-"),
    (re.compile(rf"(\d+)番(?:地の?|の|(?!{_TOWN_KANJI}))"), r"\1-"),
)
# The last number after 番地, 番 or a hyphen, in kanji with nothing after it: 八番地一.
# (Not after a digit: 30-19四ノ沢レジデンス keeps its building's 四.)
_LAST_NUMERAL = re.compile(rf"(?<=[地番]|-)([{KANJI_NUMERAL_CHARS}]+)(?!{_TOWN_KANJI})")
# Digits, then a space, then the room: 2-8-1 101. Marked before spaces are dropped.
_SPACE_BEFORE_ROOM = re.compile(r"(?<=\d)[\s\u3000]+(?=[\d#])")
# Kyoto: street, crossing street and direction before the town (寺町通御池上る上本能寺前町).
_KYOTO_STREET = re.compile(r"^.*(?:上る|上ル|上がる|下る|下ル|下がる|[東西]入(?:る|ル)?)(?=.)")
_GO = re.compile(r"(\d+)号(?!室)")
# Digits that belong to the town name (北1条西, 第2地割, 5線) are not block numbers.
_BLOCK = re.compile(r"(?<![\d\-])(\d+(?:-\d+)*)(?![\d条線]|地割)")
_LONGEST_MUNICIPALITY = 16
_FIRST_DIGIT = re.compile(r"\d")
_ROOM = re.compile(r"(\d+)(?:号室|号|室)?$")


def _fold_town(text: str) -> str:
    return _AZA.sub("", fold_address_text(text))


@dataclass(frozen=True, slots=True)
class NormalizedAddress:
    """An address split into comparable parts; unknown parts are None or empty.

    ``block`` holds the chome/banchi/go numbers (千代田一丁目1番 -> (1, 1)).
    ``postal_consistent`` is None without a known postal code, else whether the
    prefecture and municipality agree with it.
    """

    prefecture: str | None
    city: str | None
    town: str
    block: tuple[int, ...]
    building: str
    room: str
    postal_code: str | None
    postal_consistent: bool | None

    @property
    def locality(self) -> str:
        """Municipality and town; a municipality we could not place stays inside ``town``."""
        return f"{self.city or ''}{self.town}"

    @property
    def key(self) -> str:
        """Prefecture, municipality, town and block in one string (no building)."""
        numbers = "-".join(str(n) for n in self.block)
        return f"{self.prefecture or ''}{self.city or ''}{self.town}{numbers}"


def fold_address_text(text: str) -> str:
    """Written-form folding shared by addresses and the gazetteer's names."""
    folded = fold_variants(_SPACES.sub("", nfkc(text)))
    folded = _GA.sub("ケ", folded)
    return _NO.sub("の", folded)


_PREFECTURE_SET = frozenset(PREFECTURES)


def _split_prefecture(text: str) -> tuple[str | None, str]:
    for length in (3, 4):
        if text[:length] in _PREFECTURE_SET:
            return text[:length], text[length:]
    return None, text


@lru_cache(maxsize=100_000)
def _split_city(prefecture: str | None, text: str) -> tuple[str | None, str | None, str]:
    """Find the municipality at the start of ``text``; guess the prefecture if unique.

    A municipality named in full beats a designated city's ward named alone: 中央区
    without a prefecture is Tokyo's, as it was before wards were listed alone.
    """
    table = municipalities(fold_address_text)
    for length in range(min(len(text), _LONGEST_MUNICIPALITY), 1, -1):
        spelling = text[:length]
        found = table.get(spelling, ())
        if prefecture is not None:
            found = tuple(f for f in found if f[0] == prefecture)
        if len(found) > 1:
            found = tuple(f for f in found if f[1] == spelling) or found
        if len(found) == 1:
            return found[0][0], found[0][1], text[length:]
        if found:
            return prefecture, None, text
    return prefecture, None, text


def _block_numbers(rest: str, numbered: tuple[str, ...] = ()) -> tuple[str, tuple[int, ...], str]:
    text = _AZA.sub("", rest)
    kept = next((town for town in numbered if text.startswith(town)), "")
    text = kept + replace_kanji_numerals(text[len(kept) :], _NUMERAL_CONTEXT)
    text = _LAST_NUMERAL.sub(lambda m: str(kanji_to_int(m.group(1))), text)
    for pattern, repl in _MARKERS:
        text = pattern.sub(repl, text)
    text = _GO.sub(r"\1", text)
    text = _HYPHENS.sub("-", text)
    found = _BLOCK.search(text)
    if not found:
        return text, (), ""
    numbers = tuple(int(n) for n in found.group(1).split("-"))
    building = text[found.end() :].lstrip("-")
    if len(numbers) > 3 and not building:
        numbers, building = numbers[:3], "-".join(str(n) for n in numbers[3:])
    return text[: found.start()], numbers, building


def normalize_address(address: str, postal_code: str | None = None) -> NormalizedAddress:
    """Split and fold an address; ``postal_code`` (any notation) fills and checks it."""
    text = nfkc(address).strip()
    in_text = _POSTAL_IN_TEXT.match(text)
    if in_text:
        text = text[in_text.end() :]
        postal_code = postal_code or in_text.group(1) + in_text.group(2)
    text = fold_address_text(_SPACE_BEFORE_ROOM.sub("#", text))
    code = normalize_postal_code(postal_code) if postal_code else None
    area = postal_area(code) if code else None

    prefecture, rest = _split_prefecture(text)
    if prefecture is None and area is not None:
        prefecture = area.prefecture
    digit = _FIRST_DIGIT.search(rest)
    cut = digit.start() if digit else len(rest)
    prefecture, city, head = _split_city(prefecture, rest[:cut])
    rest = head + rest[cut:]
    if city is None and area is not None and prefecture == area.prefecture:
        city = fold_address_text(area.city)
    numbered = numbered_towns(_fold_town).get((prefecture, city), ()) if city and prefecture else ()
    town, block, building = _block_numbers(rest, numbered)
    if city is not None and city.startswith("京都市"):
        town = _KYOTO_STREET.sub("", town)
    building = building.lstrip("#")
    room_match = _ROOM.search(building)
    room = room_match.group(1) if room_match else ""
    if room_match:
        building = building[: room_match.start()]
    consistent: bool | None = None
    if area is not None:
        consistent = prefecture == area.prefecture and (
            city is None or city == fold_address_text(area.city)
        )
    return NormalizedAddress(
        prefecture=prefecture,
        city=city,
        town=town,
        block=block,
        building=building.strip("-#"),
        room=room,
        postal_code=code,
        postal_consistent=consistent,
    )
