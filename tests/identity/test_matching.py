"""Matching: one person however written; relatives and namesakes kept apart."""

from __future__ import annotations

from carrierguard.identity import (
    Outcome,
    Person,
    blocking_keys,
    match,
    normalized_identity_key,
)

HOLDER = Person("髙橋 一郎", "昭和60年4月1日", "東京都千代田区千代田1-1", "タカハシ イチロウ")


def test_the_issue_example_is_one_person() -> None:
    """髙橋/昭和60年/1-1 and 高橋/1985-04-01/一丁目1番 are the same person."""
    applicant = Person("高橋 一郎", "1985-04-01", "東京都千代田区千代田一丁目1番")
    result = match(HOLDER, applicant)
    assert result.outcome is Outcome.SAME
    assert result.score >= 0.95


def test_a_reading_in_another_script_still_matches() -> None:
    """A half-width katakana reading and a missing prefecture do not matter."""
    other = Person("高橋一郎", "S60.4.1", "千代田区千代田１－１", "ﾀｶﾊｼ ｲﾁﾛｰ", "100-0001")
    assert match(HOLDER, other).outcome is Outcome.SAME


def test_a_sibling_at_the_same_address_is_different() -> None:
    """Same family name and address, other given name and birth date: different."""
    sister = Person("高橋 花子", "1988-07-07", "東京都千代田区千代田1-1", "タカハシ ハナコ")
    assert match(HOLDER, sister).outcome is Outcome.DIFFERENT


def test_a_twin_with_another_reading_is_different() -> None:
    """Same birth date and address, a given name one kanji apart with another reading."""
    twin = Person("高橋 一朗", "1985-04-01", "東京都千代田区千代田1-1", "タカハシ カズアキ")
    assert match(HOLDER, twin).outcome is Outcome.DIFFERENT


def test_another_kanji_with_the_same_reading_goes_to_review() -> None:
    """一郎 / 一朗 read イチロウ both: an IME slip or a different person, so uncertain."""
    slip = Person("高橋 一朗", "1985-04-01", "東京都千代田区千代田1-1", "タカハシ イチロウ")
    assert match(HOLDER, slip).outcome is Outcome.UNCERTAIN


def test_a_namesake_born_a_day_later_in_another_town_is_different() -> None:
    """One name, birth dates a day apart, other addresses: different."""
    namesake = Person("高橋 一郎", "1985-04-02", "東京都千代田区神田神保町2-3")
    assert match(HOLDER, namesake).outcome is Outcome.DIFFERENT


def test_a_date_typo_at_the_same_address_goes_to_review() -> None:
    """Same name and address, birth date one digit apart: uncertain, not same."""
    typo = Person("高橋 一郎", "1985-04-11", "東京都千代田区千代田1-1")
    assert match(HOLDER, typo).outcome is Outcome.UNCERTAIN


def test_same_name_and_date_after_a_move_goes_to_review() -> None:
    """A move to another prefecture leaves the pair uncertain."""
    moved = Person("高橋 一郎", "1985-04-01", "大阪府大阪市北区梅田1-1")
    assert match(HOLDER, moved).outcome is Outcome.UNCERTAIN


def test_a_married_name_at_the_same_address_goes_to_review() -> None:
    """Same given name, date and address, other family name: uncertain."""
    a = Person("佐藤 花子", "1990-01-02", "東京都千代田区千代田1-1", "サトウ ハナコ")
    b = Person("鈴木 花子", "1990-01-02", "東京都千代田区千代田1-1", "スズキ ハナコ")
    assert match(a, b).outcome is Outcome.UNCERTAIN


def test_other_rooms_of_one_building_break_the_tie_only() -> None:
    """Same person in another room of the same building is still the same."""
    a = Person("高橋 一郎", "1985-04-01", "東京都千代田区千代田1-1 ハイツ101")
    b = Person("高橋 一郎", "1985-04-01", "東京都千代田区千代田1-1 ハイツ202")
    result = match(a, b)
    assert result.outcome is Outcome.SAME
    assert "ADDRESS_OTHER_UNIT" in result.reasons


def test_blocking_keys_hold_birth_date_and_phonetic_key() -> None:
    """The keys are the ISO birth date and the phonetic key of the reading."""
    assert blocking_keys(HOLDER) == ("dob:1985-04-01", "ph:タカハシイチロ")


def test_identity_key_is_name_without_spaces_and_iso_date() -> None:
    """The exact key folds variants and reads 和暦."""
    assert normalized_identity_key("髙橋　一郎", "昭和60年4月1日") == "高橋一郎|1985-04-01"
    assert normalized_identity_key("高橋 一郎", "1985-04-01") == "高橋一郎|1985-04-01"


def test_public_api_is_listed() -> None:
    """__all__ names the functions screening relies on."""
    import carrierguard.identity as identity

    public = (
        "match",
        "blocking_keys",
        "normalized_identity_key",
        "Person",
        "MatchResult",
        "dedupe",
    )
    for name in public:
        assert name in identity.__all__
