"""Birth dates in every common notation."""

from __future__ import annotations

from datetime import date

import pytest

from carrierguard.errors import InvalidDate, InvalidInput
from carrierguard.identity import parse_date

APRIL_1_1985 = date(1985, 4, 1)


@pytest.mark.parametrize(
    "text",
    [
        "1985-04-01",
        "1985/4/1",
        "1985.4.1",
        "19850401",
        "１９８５／０４／０１",
        "1985年4月1日",
        "一九八五年四月一日",
        "昭和60年4月1日",
        "昭和六十年四月一日",
        "昭和60年4月1日生",
        "S60.4.1",
        "s60/4/1",
        "S.60.4.1",
        "㍼60.4.1",
        "昭60.4.1",
    ],
)
def test_every_notation_of_one_birth_date_reads_the_same(text: str) -> None:
    """ISO, slashes, full-width, kanji numerals and 和暦 all give 1985-04-01."""
    assert parse_date(text) == APRIL_1_1985


def test_heisei_abbreviation_with_slashes_is_read() -> None:
    """H2/3/4 is 平成2年3月4日, 1990-03-04."""
    assert parse_date("H2/3/4") == date(1990, 3, 4)


def test_first_year_of_reiwa_is_written_gannen() -> None:
    """令和元年5月1日 and R1.5.1 are 2019-05-01."""
    assert parse_date("令和元年5月1日") == date(2019, 5, 1)
    assert parse_date("R1.5.1") == date(2019, 5, 1)


def test_positional_kanji_year_is_read() -> None:
    """二千二十年 is 2020."""
    assert parse_date("二千二十年十二月三十一日") == date(2020, 12, 31)


def test_a_date_value_passes_through() -> None:
    """A ``date`` is returned unchanged."""
    assert parse_date(APRIL_1_1985) is APRIL_1_1985


@pytest.mark.parametrize(
    "text", ["", "yesterday", "85/4/1", "1985-02-30", "S100.1.1", "元年4月1日"]
)
def test_an_unreadable_date_raises_invalid_date_naming_the_text(text: str) -> None:
    """Nothing is guessed: the error names the text and is an InvalidInput."""
    with pytest.raises(InvalidDate) as caught:
        parse_date(text)
    assert isinstance(caught.value, InvalidInput)
    assert repr(text) in caught.value.message
    assert caught.value.code == "DATE_INVALID"
