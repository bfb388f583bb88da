"""Folding of variant and old kanji (異体字・旧字体) to one representative.

Owns the character-level folding shared by names and addresses: our own table of
variants common in surnames and place names, then ja-itaiji for characters outside
JIS X 0208 (the ones a legacy system cannot even store, such as 髙 or 﨑).

ja-itaiji's families are neither symmetric nor transitive (浜's family reaches 頻
through 濵), so we never take their closure: a JIS X 0208 character is only folded
by our table, and a rarer one goes to a JIS X 0208 member of its own family that
lists it back. Must not do I/O beyond reading the package's shipped table once.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from ja_itaiji import Itaiji

# variant -> representative. Reviewed by hand: each pair is written either way on
# koseki, residence cards and hand-filled forms for the same family name.
_OWN_TABLE: dict[str, str] = {
    # 高 / 崎 families
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "碕": "崎",
    "㟢": "崎",
    # 斎藤 / 齋藤 / 齊藤 / 斉藤 are written interchangeably in practice
    "齋": "斎",
    "齊": "斎",
    "斉": "斎",
    "亝": "斎",
    # 渡辺 / 渡邊 / 渡邉
    "邊": "辺",
    "邉": "辺",
    "𨺉": "辺",
    # 浜 / 濱 / 濵
    "濱": "浜",
    "濵": "浜",
    # old forms (旧字体) frequent in surnames and given names
    "澤": "沢",
    "國": "国",
    "圀": "国",
    "櫻": "桜",
    "廣": "広",
    "德": "徳",
    "惠": "恵",
    "榮": "栄",
    "學": "学",
    "藏": "蔵",
    "實": "実",
    "壽": "寿",
    "嶋": "島",
    "嶌": "島",
    "嶹": "島",
    "冨": "富",
    "槇": "槙",
    "萬": "万",
    "眞": "真",
    "關": "関",
    "瀨": "瀬",
    "圓": "円",
    "會": "会",
    "條": "条",
    "靜": "静",
    "龍": "竜",
    "彌": "弥",
    "增": "増",
    "槗": "橋",
    "桒": "桑",
    "舘": "館",
    "曾": "曽",
    "莊": "荘",
    "與": "与",
    "傳": "伝",
    "來": "来",
    "黑": "黒",
    "兒": "児",
    "濟": "済",
    "澁": "渋",
    "讓": "譲",
    "藝": "芸",
    "檜": "桧",
    "栁": "柳",
    "恆": "恒",
    "淺": "浅",
    "團": "団",
    "巖": "巌",
    "戶": "戸",
    "淵": "渕",
    "𠮷": "吉",
    "禮": "礼",
    "壯": "壮",
    "豐": "豊",
    "邨": "村",
    "峯": "峰",
    "埜": "野",
    "籐": "藤",
    "縣": "県",
    "驛": "駅",
    "鷗": "鴎",
    "顯": "顕",
    "晉": "晋",
}


def _in_jis_x_0208(char: str) -> bool:
    """True for characters a Shift_JIS system can store (JIS X 0208)."""
    try:
        char.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """Return the representative of ``char`` (itself when it has none)."""
    own = _OWN_TABLE.get(char)
    if own is not None:
        return own
    if not ("\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0003134f"):
        return char
    if _in_jis_x_0208(char):
        return char
    for member in Itaiji.get_family(char):
        if member == char or not _in_jis_x_0208(member):
            continue
        if char in Itaiji.get_family(member):
            return _OWN_TABLE.get(str(member), str(member))
    return char


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each code point."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def fold_variants(text: str) -> str:
    """Fold every variant kanji of ``text`` to its representative."""
    return text.translate(_FOLD_TABLE)


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width ASCII and half-width kana to their usual forms, ㍼ to 昭和."""
    return unicodedata.normalize("NFKC", text)
