"""Addresses: notation of blocks, variants, prefecture and postal code."""

from __future__ import annotations

import pytest

from carrierguard.identity import normalize_address


@pytest.mark.parametrize(
    "written",
    [
        "東京都千代田区千代田1-1",
        "東京都千代田区千代田一丁目1番",
        "東京都千代田区千代田1丁目1番地",
        "千代田区千代田１－１",
        "東京都 千代田区 千代田 1ー1",
        "東京都千代田区千代田1‐1",
        "東京都千代田区千代田1−1",
    ],
)
def test_notations_of_one_address_give_one_key(written: str) -> None:
    """丁目/番/番地, hyphen look-alikes, full width and a missing prefecture agree."""
    assert normalize_address(written).key == "東京都千代田区千代田1-1"


def test_ga_and_ke_spellings_agree() -> None:
    """霞が関, 霞ヶ関 and 霞ケ関 are one town; kanji block numbers are read."""
    a = normalize_address("東京都千代田区霞が関3丁目2番1号")
    b = normalize_address("東京都千代田区霞ヶ関三丁目二番一号")
    assert a.key == b.key == "東京都千代田区霞ケ関3-2-1"


def test_oaza_and_aza_are_dropped() -> None:
    """大字 and 字 do not change the address; the county may be omitted."""
    a = normalize_address("岩手県岩手郡雫石町大字長山字岩手山26-1")
    b = normalize_address("雫石町長山岩手山26番地1")
    assert a.key == b.key


def test_numerals_in_a_town_name_are_kept() -> None:
    """三軒茶屋 keeps its 三 while 二丁目 becomes 2."""
    a = normalize_address("東京都世田谷区三軒茶屋二丁目11番22号")
    assert a.town == "三軒茶屋"
    assert a.block == (2, 11, 22)


def test_building_and_room_are_split_off() -> None:
    """The building and room do not enter the key; a fourth number is a room."""
    a = normalize_address("東京都世田谷区三軒茶屋二丁目11番22号 三軒茶屋ハイツ 305号室")
    b = normalize_address("東京都世田谷区三軒茶屋2-11-22-305")
    assert a.key == b.key
    assert (a.building, a.room) == ("三軒茶屋ハイツ", "305")
    assert b.room == "305"


def test_sapporo_jo_numbers_belong_to_the_town() -> None:
    """北一条西二丁目 is town 北1条西, block 2-..."""
    a = normalize_address("北海道札幌市中央区北一条西二丁目1番地1号")
    assert (a.town, a.block) == ("北1条西", (2, 1, 1))


def test_postal_code_fills_a_missing_prefecture_and_city() -> None:
    """千代田1-1 with 〒100-0001 is placed in 東京都千代田区."""
    a = normalize_address("千代田1-1", "100-0001")
    assert a.key == "東京都千代田区千代田1-1"
    assert a.postal_consistent is True


def test_postal_code_of_another_prefecture_is_flagged() -> None:
    """A postal code that names another prefecture makes the address inconsistent."""
    a = normalize_address("大阪府大阪市北区梅田1-1", "100-0001")
    assert a.postal_consistent is False


def test_ambiguous_city_without_prefecture_still_compares() -> None:
    """府中市 exists in two prefectures; its locality still equals the full form's."""
    a = normalize_address("府中市宮町1-2")
    b = normalize_address("東京都府中市宮町1-2")
    assert a.locality == b.locality
