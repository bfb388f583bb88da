"""Lure patterns: the pressure a phishing mail puts on its reader, in Japanese and English.

Four families (account lock, payment failure, urgent deadline, prize) plus a request to
log in or re-enter details. Each is a list of regular expressions matched against the
compacted text (NFKC, lower-case, no spaces). A lure alone is weak evidence: real notices
also say "please log in"; the model weighs lures together with links and brands.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from carrierguard.mail.content.normalize import compact_for_matching

_FAMILIES: dict[str, tuple[str, ...]] = {
    "ACCOUNT_LOCK": (
        r"(アカウント|口座|カード|ご利用|サービス|id)(を|が|の)?(一時)?(停止|凍結|ロック|制限|利用停止|無効)",
        r"(利用|取引|お取引)(を|が)?(一時的に)?(制限|停止|保留)",
        r"不正(な)?(ログイン|アクセス|利用)",
        r"第三者(による|が|によって)",
        r"退会(手続|処理|扱い)",
        r"(account|card)(has been|was|is|will be)(suspended|locked|limited|disabled|closed)",
        r"unusual(sign-?in|activity|login)",
        r"verifyyour(account|identity|information)",
    ),
    "PAYMENT_FAILURE": (
        r"(お支払い|支払い|決済|引き落とし|引落)(方法)?(が|に|を)?(できませんでした|失敗|未完了|確認できません|承認されません|エラー|不備)",
        r"(未払い|未納|滞納|延滞|料金未払)",
        r"(カード|クレジット)(情報|番号)?(の)?(更新|再登録|有効期限)",
        r"(payment|billing)(failed|declined|problem|issue|information)",
        r"updateyour(payment|billing|card)",
    ),
    "URGENT_DEADLINE": (
        r"(至急|早急|直ちに|ただちに|緊急|大至急|本日中|24時間以内|48時間以内|\d+日以内|期限内)",
        r"(期限|期日)(まで|を過ぎ|切れ)",
        r"(ご対応|ご確認|手続き)(が|を)?(ない|いただけない)場合",
        r"(within24hours|within48hours|immediately|urgent|actionrequired|finalnotice|expires?today)",
    ),
    "PRIZE": (
        r"(当選|当たり|プレゼント|賞金|ポイント(を)?(付与|進呈|還元)|キャッシュバック|特典)",
        r"(給付金|還付金|返金)(の|を)?(お知らせ|手続|受け取)",
        r"(youhavewon|winner|congratulations|claimyour(prize|reward|gift)|freegift|lottery)",
    ),
    "CREDENTIAL_REQUEST": (
        r"(ログイン|サインイン)(して|の上|後|いただき|ください|はこちら)",
        r"(本人確認|お客様情報|会員情報|登録情報|個人情報)(の)?(確認|更新|再登録|入力)",
        r"(パスワード|暗証番号|セキュリティコード)(を)?(入力|確認|変更)",
        r"(clickhere|log ?in|sign ?in)(to|and)(verify|confirm|update|restore)",
        r"confirmyour(account|identity|password|details)",
    ),
}
_COMPILED = {k: tuple(re.compile(p.replace(" ", "")) for p in v) for k, v in _FAMILIES.items()}
LURE_FAMILIES: tuple[str, ...] = tuple(_FAMILIES)

try:  # the stdlib's own regex parser, to know which patterns need non-ASCII text
    _parser: Any = importlib.import_module("re._parser")
    _constants: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover
    _parser = _constants = None


def _needs_non_ascii(items: Any) -> bool:
    """True when every match of this parsed sequence contains a non-ASCII character.

    Sound but incomplete: anything it does not recognise counts as "may be all ASCII".
    """
    return any(_item_needs_non_ascii(op, av) for op, av in items)


def _item_needs_non_ascii(op: Any, av: Any) -> bool:
    c = _constants
    if op is c.LITERAL:
        return bool(av > 0x7F)
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return not add_flags & re.IGNORECASE and _needs_non_ascii(sub)
    if op is c.BRANCH:
        return all(_needs_non_ascii(branch) for branch in av[1])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, _high, sub = av
        return bool(low >= 1) and _needs_non_ascii(sub)
    if op is c.IN:
        return all((o is c.LITERAL and a > 0x7F) or (o is c.RANGE and a[0] > 0x7F) for o, a in av)
    return False


def _ascii_possible(pattern: re.Pattern[str]) -> bool:
    """False only when ``pattern`` provably cannot match text made of ASCII alone."""
    if _parser is None or pattern.flags & re.IGNORECASE:
        return True
    try:
        return not _needs_non_ascii(_parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # pragma: no cover - a future re whose parser looks different
        return True


# Per family, the patterns that can match ASCII-only text: the rest are skipped for it.
_ASCII = {k: tuple(p for p in v if _ascii_possible(p)) for k, v in _COMPILED.items()}


@dataclass(frozen=True, slots=True)
class LureHit:
    """One lure family found, with the first matching phrase."""

    family: str
    phrase: str


def find_lures(text: str) -> tuple[LureHit, ...]:
    """Every lure family present in ``text`` (normalised text, any language)."""
    compact = compact_for_matching(text)
    table = _ASCII if compact.isascii() else _COMPILED
    hits = []
    for family, patterns in table.items():
        for pattern in patterns:
            m = pattern.search(compact)
            if m:
                hits.append(LureHit(family, m.group(0)[:40]))
                break
    return tuple(hits)
