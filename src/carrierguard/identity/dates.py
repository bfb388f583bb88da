"""Birth dates in every common Japanese notation, to ``datetime.date``.

Reads ISO (1985-04-01), slashes and dots (1985/4/1, 1985.4.1), eight digits
(19850401), 西暦 in kanji (1985年4月1日, 一九八五年四月一日), full-width digits, and
和暦 with the era in full or abbreviated (昭和60年4月1日, 昭和六十年, S60.4.1,
H2/3/4, R1.5.1, 令和元年5月1日, ㍼60.4.1), with any dash look-alike a keyboard gives
for the separator (－, −, ー), a midnight time a spreadsheet export appends
(1985/04/01 0:00:00), a weekday (1985/4/1(月)) and the year in the other calendar in
brackets (昭和60年(1985年)4月1日, which must agree). Anything else raises ``InvalidDate`` naming the text; nothing
is guessed (two-digit years without an era are refused, and so is an era year past
the era's last one, such as 昭和65年).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from carrierguard.errors import InvalidDate
from carrierguard.identity.numerals import KANJI_NUMERAL_CHARS, kanji_to_int
from carrierguard.identity.variants import nfkc

# Era -> Gregorian year of its year 1 (元年). Dates in an era's first or last year
# that fall outside it (平成31年5月1日) are still read by the offset, as forms do.
ERAS: dict[str, int] = {
    "明治": 1868,
    "大正": 1912,
    "昭和": 1926,
    "平成": 1989,
    "令和": 2019,
}
# Last year of each closed era (昭和 ended in its 64th year, on 1989-01-07).
_ERA_LAST_YEAR: dict[str, int] = {"明治": 45, "大正": 15, "昭和": 64, "平成": 31}
_ERA_LETTERS: dict[str, str] = {
    "M": "明治",
    "T": "大正",
    "S": "昭和",
    "H": "平成",
    "R": "令和",
    "明": "明治",
    "大": "大正",
    "昭": "昭和",
    "平": "平成",
    "令": "令和",
}

_NUM = f"[0-9{KANJI_NUMERAL_CHARS}]+"
# Separators, with the dash look-alikes an IME types for a hyphen (NFKC leaves them).
_SEP = r"(?:\s*[-/.．・,‐‑‒–—―−ーｰ]\s*|\s+)"
# Midnight appended by spreadsheet and database exports; any other time is refused.
_MIDNIGHT = re.compile(r"(?:T|\s+)0?0:00(?::00(?:\.0+)?)?$")
_KANJI_DATE = re.compile(rf"^({_NUM}|元)\s*年\s*({_NUM})\s*月\s*({_NUM})\s*日?$")
_SEP_DATE = re.compile(rf"^({_NUM}|元){_SEP}({_NUM}){_SEP}({_NUM})$")
_ERA_PREFIX = re.compile(r"^(明治|大正|昭和|平成|令和|[MTSHR明大昭平令])\.?\s*")
# A weekday after the date, 1985/4/1(月) or (月曜日).
_WEEKDAY = re.compile(r"\s*\(\s*([月火水木金土日])(?:曜日?)?\s*\)\s*$")
_WEEKDAYS = "月火水木金土日"
# A year in the other calendar written in brackets: 昭和60(1985)年, 2019年(令和元年).
_NOTE = re.compile(r"\(([^()]*)\)")
_NOTED_YEAR = re.compile(rf"^({_NUM}|元)\s*年?$")
_EIGHT_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _number(text: str) -> int:
    return 1 if text == "元" else kanji_to_int(text)


def _split_ymd(text: str) -> tuple[str, str, str] | None:
    for pattern in (_KANJI_DATE, _SEP_DATE):
        found = pattern.match(text)
        if found:
            return found.group(1), found.group(2), found.group(3)
    return None


def parse_date(text: str | date) -> date:
    """Read a date written in any supported notation; ``InvalidDate`` when it cannot.

    A ``date`` is returned as it is.
    """
    if isinstance(text, date):
        return text
    return _parse_text(text)


def _era(text: str) -> tuple[str | None, int | None, str]:
    """The era written at the start of ``text`` (name, year before its 元年), and the rest."""
    era = _ERA_PREFIX.match(text)
    if not era:
        return None, None, text.removeprefix("西暦").strip()
    name = _ERA_LETTERS.get(era.group(1), era.group(1))
    return name, ERAS[name] - 1, text[era.end() :]


_NEEDS_YEAR_JA = "年は西暦4桁か元号付きで書いてください"


def _gregorian_year(raw: str, year: int, era_name: str | None, era_year0: int | None) -> int:
    if era_year0 is not None:
        last = _ERA_LAST_YEAR.get(era_name or "", 99)
        if year < 1 or year > last:
            raise InvalidDate(
                raw,
                f"era year {year} out of range (1-{last})",
                f"{era_name}{year}年はありません（1〜{last}年）",
            )
        return year + era_year0
    if year < 1000:
        raise InvalidDate(raw, "a year needs four digits or an era", _NEEDS_YEAR_JA)
    return year


def _noted_year(raw: str, note: str) -> int:
    """The year of a note in brackets, the other calendar's: (1985), (昭和60年)."""
    era_name, era_year0, rest = _era(note.strip())
    found = _NOTED_YEAR.match(rest)
    if not found:
        raise InvalidDate(raw, f"unreadable note ({note})", f"括弧内（{note}）を読めません")
    try:
        year = _number(found.group(1))
    except ValueError as exc:
        raise InvalidDate(raw, "unreadable numeral", "数字を読めません") from exc
    if found.group(1) == "元" and era_year0 is None:
        raise InvalidDate(raw, "a year needs four digits or an era", _NEEDS_YEAR_JA)
    return _gregorian_year(raw, year, era_name, era_year0)


@lru_cache(maxsize=100_000)
def _parse_text(text: str) -> date:
    raw = text
    cleaned = nfkc(text).strip().upper().replace("生まれ", "").replace("生", "").strip()
    cleaned = _MIDNIGHT.sub("", cleaned)
    weekday = _WEEKDAY.search(cleaned)
    cleaned = cleaned[: weekday.start()] if weekday else cleaned
    cleaned = cleaned.rstrip(".").strip()
    # 昭和60年(1985年)4月1日: the year in the other calendar, which must agree.
    notes = [_noted_year(raw, n) for n in _NOTE.findall(cleaned)]
    cleaned = _NOTE.sub("", cleaned).strip()
    era_name, era_year0, cleaned = _era(cleaned)
    eight = _EIGHT_DIGITS.match(cleaned)
    parts = eight.groups() if eight and era_year0 is None else _split_ymd(cleaned)
    if parts is None:
        raise InvalidDate(raw, "unrecognised notation", "日付の書き方として読めません")
    try:
        year, month, day = (_number(p) for p in parts)
    except ValueError as exc:
        raise InvalidDate(raw, "unreadable numeral", "数字を読めません") from exc
    if parts[0] == "元" and era_year0 is None:
        raise InvalidDate(raw, "a year needs four digits or an era", _NEEDS_YEAR_JA)
    year = _gregorian_year(raw, year, era_name, era_year0)
    if any(noted != year for noted in notes):
        raise InvalidDate(raw, "the two calendars give other years", "和暦と西暦の年が一致しません")
    try:
        read = date(year, month, day)
    except ValueError as exc:
        raise InvalidDate(raw, str(exc), "存在しない日付です") from exc
    if weekday and _WEEKDAYS[read.weekday()] != weekday.group(1):
        raise InvalidDate(
            raw,
            f"{read.isoformat()} is not a {weekday.group(1)}曜日",
            f"{read.isoformat()} は{weekday.group(1)}曜日ではありません",
        )
    return read
