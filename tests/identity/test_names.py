"""Names: variant kanji, kana forms, spaces and honorifics."""

from __future__ import annotations

import pytest

from carrierguard.identity import normalize_name
from carrierguard.identity.kana import phonetic_key
from carrierguard.identity.names import normalize_written_name
from carrierguard.identity.variants import fold_variants


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("髙橋", "高橋"),
        ("齋藤", "斎藤"),
        ("齊藤", "斎藤"),
        ("斉藤", "斎藤"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("山﨑", "山崎"),
        ("濵田", "浜田"),
        ("濱田", "浜田"),
        ("澤田", "沢田"),
        ("國分", "国分"),
        ("𠮷田", "吉田"),
    ],
)
def test_surname_variants_fold_to_one_form(variant: str, plain: str) -> None:
    """Old and variant kanji of common surnames compare equal."""
    assert fold_variants(variant) == fold_variants(plain)


def test_folding_does_not_chain_through_unrelated_characters() -> None:
    """頻 is reachable from 濵 in ja-itaiji, yet it is not folded to 浜."""
    assert fold_variants("頻") == "頻"


def test_spaces_and_honorifics_are_removed() -> None:
    """Full-width spaces and 様 disappear from the written name."""
    assert normalize_written_name("髙橋　一郎 様") == "高橋一郎"
    assert normalize_written_name("高橋一郎さん") == "高橋一郎"


def test_family_and_given_names_are_kept_when_spaced() -> None:
    """A space tells the family name from the given name."""
    name = normalize_name("高橋 一郎", "たかはし いちろう")
    assert (name.family, name.given) == ("高橋", "一郎")
    assert (name.reading_family, name.reading_given) == ("タカハシ", "イチロウ")


@pytest.mark.parametrize(
    "reading", ["タカハシ イチロウ", "たかはしいちろう", "ﾀｶﾊｼ ｲﾁﾛｳ", "タカハシ　イチロー"]
)
def test_kana_forms_of_one_reading_share_a_phonetic_key(reading: str) -> None:
    """Hiragana, half-width katakana and long-vowel marks give one key."""
    assert phonetic_key(reading) == phonetic_key("タカハシイチロウ")


def test_small_kana_do_not_split_a_phonetic_key() -> None:
    """キョウコ and キヨコ share a key (small kana are often typed large)."""
    assert phonetic_key("キョウコ") == phonetic_key("キヨコ")


def test_a_name_written_in_kana_is_its_own_reading() -> None:
    """A legacy record holding only katakana still has a reading."""
    name = normalize_name("ﾀｶﾊｼ ｲﾁﾛｳ")
    assert name.reading == "タカハシイチロウ"
    assert name.full == "タカハシイチロウ"
