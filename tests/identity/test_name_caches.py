"""Cached normalisation gives what the plain steps give, in any order of calls."""

from __future__ import annotations

import jaconv
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.identity import kana, names
from carrierguard.identity.names import NormalizedName, normalize_name, normalize_written_name
from carrierguard.identity.variants import fold_variants, nfkc

PIECES = st.sampled_from(
    [
        "髙",
        "高",
        "橋",
        "齋",
        "藤",
        "一",
        "郎",
        "ｻﾄｳ",
        "さとう",
        "サトウ",
        "ー",
        "ョ",
        "ウ",
        "イ",
        "エ",
        "オ",
        " ",
        "\u3000",
        "・",
        "様",
        "さん",
        "(",
        ".",
        "Ａ",
        "ｶﾞ",
        "ヶ",
        "a",
        "Ta",
    ]
)
TEXT = st.lists(PIECES, max_size=8).map("".join)


def reference(name: str, reading: str | None = None) -> NormalizedName:
    """``normalize_name`` as written before its steps were cached apart."""
    text = names._strip_honorific(names._PUNCT.sub("", nfkc(name)).strip())
    small_ke = str.maketrans("ヶヵ", "ケケ")
    parts = [
        kana.to_katakana(fold_variants(p)).translate(small_ke).upper() for p in names._split(text)
    ]
    family, given = (parts[0], "".join(parts[1:])) if len(parts) >= 2 else (None, None)
    if not reading and kana.is_kana(text):
        reading = text
    reading_parts = []
    for part in names._split(nfkc(reading or "")):
        if any(c.isascii() and c.isalpha() for c in part):
            part = jaconv.alphabet2kata(part.lower())
        if not kana.is_kana(part):  # a reading that is not kana is no reading
            reading_parts = []
            break
        reading_parts.append(kana.to_katakana(part))
    r_family, r_given = (
        (reading_parts[0], "".join(reading_parts[1:])) if len(reading_parts) >= 2 else (None, None)
    )
    return NormalizedName(
        full="".join(parts),
        family=family,
        given=given,
        reading="".join(reading_parts),
        reading_family=r_family,
        reading_given=r_given,
    )


def reference_phonetic(reading: str) -> str:
    """``phonetic_key`` as a loop over the characters, as it was written first."""
    small = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
    archaic = str.maketrans("ヂヅヲヱヰヴ", "ジズオエイブ")
    o_row, e_row = set("オコソトノホモヨロゴゾドボポョ"), set("エケセテネヘメレゲゼデベペ")
    out: list[str] = []
    for char in kana.to_katakana(reading).translate(small).translate(archaic):
        if char == "ー":
            continue
        prev = out[-1] if out else ""
        if char in "ウオ" and prev in o_row:
            continue
        if char == "イ" and prev in e_row:
            continue
        out.append(char)
    return "".join(out)


KANA = st.lists(
    st.sampled_from(list("アイウエオコソトノホヨロゴボポケセテネゲデベーョァヂヲヴ・ さかう")),
    max_size=12,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(reading=KANA)
def test_phonetic_key_is_the_character_loop(reading: str) -> None:
    assert kana.phonetic_key(reading) == reference_phonetic(reading)
    assert kana.phonetic_key.__wrapped__(reading) == reference_phonetic(reading)


def test_phonetic_key_examples() -> None:
    for reading in ("サトウ", "サトー", "さとお", "ｻﾄｳ"):
        assert kana.phonetic_key(reading) == "サト"
    assert kana.phonetic_key("ショウヘイ") == kana.phonetic_key("ショーヘー") == "シヨヘ"


@settings(max_examples=500, deadline=None)
@given(name=TEXT, reading=st.one_of(st.none(), TEXT))
def test_normalize_name_is_the_plain_steps(name: str, reading: str | None) -> None:
    assert normalize_name(name, reading) == reference(name, reading)
    assert normalize_name(name) == reference(name)  # the same name without its reading
    assert normalize_written_name(name) == reference(name).full
    got = normalize_name(name, reading)
    assert got.phonetic == (reference_phonetic(got.reading) if got.reading else "")
