"""The API's field checks read and refuse exactly what the general readers do."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.errors import CarrierGuardError
from carrierguard.identity import parse_date
from carrierguard.web.api.schemas import _any_notation, _printable


def reference_printable(value: str) -> str:
    """The check character by character, as it was written first."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            raise ValueError("contains a control or unassigned character")
    return value


def outcome(check: object, value: str) -> object:
    try:
        return check(value)  # type: ignore[operator]
    except (ValueError, CarrierGuardError) as exc:
        return type(exc)


@pytest.mark.parametrize(
    "text",
    ["高橋 一郎", "髙橋\u3000一郎", "ｶﾀｶﾅ", "a\u00a0b", "a\u200bb", "\u2028", "𠮷", "", "x\x7f"],
)
def test_printable_agrees_on_awkward_text(text: str) -> None:
    assert outcome(_printable, text) == outcome(reference_printable, text)


@settings(max_examples=400)
@given(st.text())
def test_printable_agrees_on_any_text(text: str) -> None:
    assert outcome(_printable, text) == outcome(reference_printable, text)


def reads(value: str) -> object:
    try:
        return parse_date(value)
    except (CarrierGuardError, ValueError):
        return "refused"


def api_reads(value: str) -> object:
    try:
        return _any_notation(value)
    except ValueError as exc:
        assert str(exc).startswith("unreadable date")
        return "refused"


@pytest.mark.parametrize(
    "text",
    [
        "1985-04-01",
        "2000-02-29",
        "1900-02-29",
        "1985-02-30",
        "1985-13-01",
        "1985-00-10",
        "0999-01-01",
        "1000-01-01",
        "9999-12-31",
        "1985-4-01",
        " 1985-04-01",
        "１９８５-04-01",
        "1985-04-01 ",
        "19850401",
        "昭和60年4月1日",
    ],
)
def test_iso_dates_read_as_parse_date_reads_them(text: str) -> None:
    assert api_reads(text) == reads(text)


@settings(max_examples=400)
@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"))
def test_any_iso_shaped_text_reads_as_parse_date_reads_it(text: str) -> None:
    assert api_reads(text) == reads(text)


@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_iso_date_reads_back(day: date) -> None:
    assert _any_notation(day.isoformat()) == day == parse_date(day.isoformat())
