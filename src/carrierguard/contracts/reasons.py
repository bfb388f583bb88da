"""The catalogue of reason codes: stable codes, bilingual messages and their legal basis.

Codes are part of the public API (clients branch on them); never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass

from carrierguard.contracts.model import Reason

ART_121 = (
    "電気通信事業法第121条「正当な理由」 / "
    "Telecommunications Business Act art. 121, 'legitimate reason' for refusing service"
)
INDUSTRY_CAP_RULE = (
    "業界ルール（上限契約台数）・総務省WG報告書（2025年12月） / "
    "industry rule on per-person line caps, MIC working-group report (Dec. 2025)"
)
MOBILE_FRAUD_ACT = "携帯電話不正利用防止法 / Act on Prevention of Improper Use of Mobile Phones"


@dataclass(frozen=True, slots=True)
class ReasonText:
    ja: str
    en: str
    legal_basis: str = ""


CATALOGUE: dict[str, ReasonText] = {
    "APPROVED_WITHIN_CAP": ReasonText(
        "{pool_ja}の契約数は上限内です（保有{held}＋申込{requested}、上限{cap}）。",
        "{pool_en}: within the cap ({held} held + {requested} requested, cap {cap}).",
    ),
    "NO_CAP_FOR_POOL": ReasonText(
        "{pool_ja}には契約数の上限がありません（保有{held}＋申込{requested}）。",
        "{pool_en}: no cap applies ({held} held + {requested} requested).",
    ),
    "LINE_CAP_EXCEEDED": ReasonText(
        "{pool_ja}の契約数が上限を超えます（保有{held}＋申込{requested}、上限{cap}）。"
        "利用目的と事情を確認する例外審査が必要です。",
        "{pool_en}: the request exceeds the cap ({held} held + {requested} requested, cap {cap}); "
        "an exception review of purpose and circumstances is required.",
        INDUSTRY_CAP_RULE,
    ),
    "LINE_HARD_CAP_EXCEEDED": ReasonText(
        "{pool_ja}の契約数が例外でも認められない上限を超えます（保有{held}＋申込{requested}、"
        "絶対上限{hard_cap}）。契約をお断りします。",
        "{pool_en}: the request exceeds the hard cap that no exception may pass "
        "({held} held + {requested} requested, hard cap {hard_cap}); the contract is refused.",
        ART_121,
    ),
    "BURST_NEW_LINES": ReasonText(
        "{window_days}日以内の新規契約が{new_lines}回線になります（基準{min_new_lines}回線）。"
        "審査と実際の利用者の登録が必要です。",
        "{new_lines} new lines within {window_days} days (threshold {min_new_lines}); "
        "review and registration of the actual users are required.",
        INDUSTRY_CAP_RULE,
    ),
    "EXCEPTION_ESCALATED_TO_HQ": ReasonText(
        "代理店では例外を承認できないため、本部審査に回付します。",
        "A sales agency may not grant exceptions; the case is escalated to headquarters.",
        INDUSTRY_CAP_RULE,
    ),
}


def reason(code: str, rule: str, **values: object) -> Reason:
    """Build the ``Reason`` for ``code`` with its messages filled from ``values``."""
    text = CATALOGUE[code]
    return Reason(
        code=code,
        message_ja=text.ja.format(**values),
        message_en=text.en.format(**values),
        rule=rule,
        legal_basis=text.legal_basis,
    )
