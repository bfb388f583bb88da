"""A synthetic carrier book for the demo, tests and benchmarks (no real person in it).

Deterministic for a given seed. Every holder has a realistic spread of lines: most hold
one or two, a few sit at or above today's caps, so screening shows all three outcomes.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from carrierguard.contracts.book import BOOK_HEADER
from carrierguard.contracts.corporate import corporate_check_digit

SURNAMES = (
    "佐藤 サトウ",
    "鈴木 スズキ",
    "高橋 タカハシ",
    "田中 タナカ",
    "伊藤 イトウ",
    "渡辺 ワタナベ",
    "山本 ヤマモト",
    "中村 ナカムラ",
    "小林 コバヤシ",
    "加藤 カトウ",
    "吉田 ヨシダ",
    "山田 ヤマダ",
    "佐々木 ササキ",
    "山口 ヤマグチ",
    "松本 マツモト",
    "井上 イノウエ",
    "木村 キムラ",
    "林 ハヤシ",
    "斎藤 サイトウ",
    "清水 シミズ",
    "山崎 ヤマザキ",
    "森 モリ",
    "池田 イケダ",
    "橋本 ハシモト",
)
GIVEN = (
    "一郎 イチロウ",
    "健太 ケンタ",
    "翔太 ショウタ",
    "大輔 ダイスケ",
    "拓也 タクヤ",
    "直樹 ナオキ",
    "花子 ハナコ",
    "陽子 ヨウコ",
    "美咲 ミサキ",
    "優子 ユウコ",
    "由美 ユミ",
    "恵 メグミ",
    "誠 マコト",
    "蓮 レン",
    "結衣 ユイ",
    "葵 アオイ",
    "悠真 ユウマ",
    "さくら サクラ",
)
PLACES = (
    ("100-0001", "東京都千代田区千代田"),
    ("530-0001", "大阪府大阪市北区梅田"),
    ("460-0008", "愛知県名古屋市中区栄"),
    ("060-0001", "北海道札幌市中央区北一条西"),
    ("812-0011", "福岡県福岡市博多区博多駅前"),
    ("980-0021", "宮城県仙台市青葉区中央"),
)
# (sim_type, weight) and lines-per-holder weights: mostly 1-2, a tail at the caps.
LINE_COUNTS = (1, 1, 1, 2, 2, 3, 4, 5, 6)
SIM_WEIGHTS = (("voice", 70), ("data_sms", 10), ("data", 20))
STATE_WEIGHTS = (("active", 88), ("suspended", 3), ("number_kept", 2), ("terminated", 7))


def synthetic_rows(holders: int, *, seed: int = 7) -> Iterator[list[str]]:
    """CSV rows (without the header) for ``holders`` distinct synthetic holders."""
    rng = random.Random(seed)
    sims = [s for s, w in SIM_WEIGHTS for _ in range(w)]
    states = [s for s, w in STATE_WEIGHTS for _ in range(w)]
    for i in range(holders):
        surname, s_kana = rng.choice(SURNAMES).split()
        given, g_kana = rng.choice(GIVEN).split()
        postal, town = rng.choice(PLACES)
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))
        corporate = i % 50 == 49
        if corporate:
            kind, name, kana, birth_s = "corporate", f"株式会社サンプル{i}", "", ""
            base = f"{i:012d}"
            corp = f"{corporate_check_digit(base)}{base}"  # a valid check digit
        else:
            kind, name, kana = "individual", f"{surname} {given}", f"{s_kana} {g_kana}"
            birth_s, corp = birth.isoformat(), ""
        # A serial in the address keeps namesakes born the same day apart.
        address = f"{town}{rng.randint(1, 9)}-{rng.randint(1, 30)}-{i}"
        for _ in range(rng.choice(LINE_COUNTS) * (5 if corporate else 1)):
            activated = date(2026, 10, 1) - timedelta(days=rng.randrange(0, 3650))
            yield [
                kind,
                name,
                kana,
                birth_s,
                address,
                postal,
                corp,
                rng.choice(sims),
                rng.choice(states),
                activated.isoformat(),
            ]


def write_synthetic_book(path: Path, holders: int, *, seed: int = 7) -> int:
    """Write a book CSV with ``holders`` holders to ``path``; return the number of rows."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(BOOK_HEADER)
        for row in synthetic_rows(holders, seed=seed):
            writer.writerow(row)
            count += 1
    return count
