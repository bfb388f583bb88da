"""Reason texts of the assurance rules (MFA, KYC evidence and reliance, corporate, resale).

Same shape as ``reasons.CATALOGUE`` so the lead can merge it there
(``CATALOGUE.update(ASSURANCE_CATALOGUE)``). Until then ``Finding.to_reason`` renders a
finding from this table alone. Codes are public API: never rename one.

Every assurance check returns a ``Finding`` (or None when the check passes): the code, the
outcome it calls for, the policy rule that fired, a machine-readable ``detail`` naming the
exact cause, and the values its messages are filled from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.model import Reason
from carrierguard.contracts.reasons import INDUSTRY_CAP_RULE, MOBILE_FRAUD_ACT, ReasonText

MIC_MFA_RULE = (
    "総務省WG報告書（2025年12月）：回線追加時の多要素認証 / "
    "MIC working-group report (Dec. 2025): multi-factor authentication for additional lines"
)
MIC_RELIANCE_RULE = (
    "総務省WG報告書（2025年12月）：他社の本人確認結果への依拠 / "
    "MIC working-group report (Dec. 2025): reliance on another company's identity verification"
)
MIC_CORPORATE_RULE = (
    "総務省WG報告書（2025年12月）：法人契約の在籍確認 / "
    "MIC working-group report (Dec. 2025): employment check of corporate signers"
)
RESALE_RULE = (
    "携帯電話不正利用防止法（無断譲渡の禁止）・総務省WG報告書（2025年12月） / "
    "Act on Prevention of Improper Use of Mobile Phones (unauthorised transfer), "
    "MIC working-group report (Dec. 2025)"
)

_TOKEN_FIX_JA = "多要素認証をやり直してください。"
_TOKEN_FIX_EN = "Please authenticate again with multi-factor authentication."

ASSURANCE_CATALOGUE: dict[str, ReasonText] = {
    "MFA_REQUIRED": ReasonText(
        "回線の追加には生体認証またはワンタイムパスワードによる多要素認証が必要です"
        "（ID・パスワードのみでは不可）。認証方式: {methods}。",
        "Adding a line requires multi-factor authentication (biometrics or a one-time "
        "password); an ID and password alone do not suffice. Methods used: {methods}.",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_EXPIRED": ReasonText(
        "認証トークンの有効期限が切れています。" + _TOKEN_FIX_JA,
        "The authentication token has expired. " + _TOKEN_FIX_EN,
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_STALE": ReasonText(
        "認証から{max_age_seconds}秒を超えています（経過{age_seconds}秒）。" + _TOKEN_FIX_JA,
        "The authentication is older than {max_age_seconds} s ({age_seconds} s). " + _TOKEN_FIX_EN,
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_AUDIENCE": ReasonText(
        "認証トークンは本サービス宛てに発行されたものではありません。",
        "The authentication token was not issued for this service (wrong audience).",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_ISSUER": ReasonText(
        "認証トークンの発行者が設定された認証基盤と一致しません。",
        "The authentication token comes from an issuer other than the configured IdP.",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_SIGNATURE": ReasonText(
        "認証トークンの署名を検証できません。",
        "The authentication token's signature does not verify against the IdP's keys.",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_ALGORITHM": ReasonText(
        "認証トークンの署名方式（{alg}）は認められていません。",
        "The authentication token's signing algorithm ({alg}) is not allowed.",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_SUBJECT": ReasonText(
        "認証トークンは契約者本人のものではありません。",
        "The authentication token belongs to someone other than the holder.",
        MIC_MFA_RULE,
    ),
    "MFA_TOKEN_INVALID": ReasonText(
        "認証トークンが不正です（{detail}）。" + _TOKEN_FIX_JA,
        "The authentication token is malformed ({detail}). " + _TOKEN_FIX_EN,
        MIC_MFA_RULE,
    ),
    "KYC_REQUIRED": ReasonText(
        "{channel_ja}での契約には本人確認が必要です。受け付ける方法: {accepted}"
        "（提示: {method}）。",
        "A contract through {channel_en} requires identity verification; accepted methods: "
        "{accepted} (given: {method}).",
        MOBILE_FRAUD_ACT,
    ),
    "KYC_ASSERTION_UNTRUSTED": ReasonText(
        "他社の本人確認結果に依拠できません: {detail_ja}。",
        "Another company's identity verification cannot be relied on: {detail_en}.",
        MIC_RELIANCE_RULE,
    ),
    "KYC_ASSERTION_STALE": ReasonText(
        "他社の本人確認結果が古すぎます（{detail_ja}、上限{max_age_days}日）。",
        "Another company's identity verification is too old ({detail_en}; "
        "limit {max_age_days} days).",
        MIC_RELIANCE_RULE,
    ),
    "KYC_ASSERTION_MISMATCH": ReasonText(
        "他社で確認された本人情報が申込内容と一致しません（{fields_ja}）。",
        "The identity verified by another company differs from the application ({fields_en}).",
        MIC_RELIANCE_RULE,
    ),
    "KYC_ASSERTION_INVALID": ReasonText(
        "他社の本人確認結果を読み取れません（{detail}）。",
        "Another company's identity verification cannot be read ({detail}).",
        MIC_RELIANCE_RULE,
    ),
    "CORPORATE_NUMBER_INVALID": ReasonText(
        "法人番号 {number} は正しくありません（{detail_ja}）。",
        "Corporate number {number} is not valid ({detail_en}).",
        "法人番号の指定等に関する省令第2条 / MOF ordinance on corporate numbers, art. 2",
    ),
    "EMPLOYMENT_UNVERIFIED": ReasonText(
        "申込者の在籍確認の記録がありません。受け付ける方法: {accepted}。",
        "There is no record of how the signer's employment was verified; accepted: {accepted}.",
        MIC_CORPORATE_RULE,
    ),
    "RESALE_RISK": ReasonText(
        "契約者の回線に不正転売の兆候があります（スコア{score}）: {flags_ja}。",
        "The holder's lines show signs of resale (score {score}): {flags_en}.",
        RESALE_RULE,
    ),
    "CROSS_CARRIER_CAP_EXCEEDED": ReasonText(
        "{pool_ja}の契約数が他社分を含めた上限を超えます（当社保有{held}＋他社{elsewhere}"
        "（{carriers}社）＋申込{requested}、上限{cap}）。利用目的と事情を確認する例外審査が必要です。",
        "{pool_en}: the request exceeds the cap counted across carriers ({held} held here + "
        "{elsewhere} at {carriers} other carrier(s) + {requested} requested, cap {cap}); an "
        "exception review of purpose and circumstances is required.",
        INDUSTRY_CAP_RULE,
    ),
    "CROSS_CARRIER_UNAVAILABLE": ReasonText(
        "他社の契約数を照会できませんでした（{detail}）。方針により審査に回します。",
        "Lines held at other carriers could not be counted ({detail}); the policy sends the "
        "application to review.",
        INDUSTRY_CAP_RULE,
    ),
    "IDENTITY_AMBIGUOUS": ReasonText(
        "同一人物の可能性がある既存の契約者がいます（契約者ID {candidates}、一致度 {score}）。"
        "氏名・生年月日・住所の表記を確認し、同一人物なら保有回線を合算して審査します。",
        "An existing holder may be the same person (holder {candidates}, similarity {score}); "
        "check how name, birth date and address are written and, if it is one person, count "
        "their lines together.",
        INDUSTRY_CAP_RULE,
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A failed assurance check: what it calls for and why, ready to become a ``Reason``."""

    code: str
    outcome: Outcome
    rule: str
    detail: str = ""
    values: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ASSURANCE_CATALOGUE:
            raise ValueError(f"unknown assurance reason code {self.code}")
        if self.outcome is Outcome.APPROVE:
            raise ValueError("a finding never approves")

    def to_reason(self) -> Reason:
        """The bilingual ``Reason`` for this finding (values fill the catalogue texts)."""
        text = ASSURANCE_CATALOGUE[self.code]
        values = {"detail": self.detail, **self.values}
        return Reason(
            code=self.code,
            message_ja=text.ja.format(**values),
            message_en=text.en.format(**values),
            rule=self.rule,
            legal_basis=text.legal_basis,
        )
