"""Identity-verification evidence per channel, and reliance on another company's KYC.

``check_kyc_evidence``: the application's method must be one the policy accepts for its
channel (online: IC chip or JPKI since April 2026), else ``KYC_REQUIRED`` citing
携帯電話不正利用防止法. Data-only lines need it only where the policy's switch for their
use says so (MISSION C8).

``check_relied_assertion``: an OpenID Connect for Identity Assurance ``verified_claims``
JWT is relied on (MISSION C6) only when it is signed by an issuer on the trust list, under
trust framework ``jp_mpiupa``, with allowed evidence, verified no more than N days ago,
and its claims match the applicant; otherwise ``KYC_ASSERTION_UNTRUSTED``, ``_STALE``,
``_MISMATCH`` (or ``_INVALID`` when it cannot be read). Pure: keys and ``now`` come in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_jwt import (
    JwtProblem,
    JwtRejected,
    unverified_claims,
    verify_jwt,
)
from carrierguard.contracts.assurance_policy import (
    IC_OR_JPKI,
    ONLINE_IC_OR_JPKI_FROM,
    TRUST_FRAMEWORK,
    DataSimUse,
    KycMethod,
    KycPolicy,
    ReliancePolicy,
)
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import Application, Channel, HolderIdentity
from carrierguard.identity.addresses import normalize_address
from carrierguard.identity.matching import (
    AddressAgreement,
    NameAgreement,
    compare_addresses,
    compare_names,
)
from carrierguard.identity.names import normalize_name

_CHANNEL_JA = {Channel.STORE: "店頭", Channel.AGENCY: "代理店", Channel.ONLINE: "オンライン"}
_CHANNEL_EN = {Channel.STORE: "a store", Channel.AGENCY: "an agency", Channel.ONLINE: "online"}


def kyc_required(application: Application, policy: KycPolicy, data_use: DataSimUse | None) -> bool:
    """Voice and SMS lines always; data-only lines by the switch for their use (unknown: yes)."""
    if any(line.sim_type is not SimType.DATA for line in application.lines):
        return True
    return data_use is None or policy.data_sim[data_use]


def check_kyc_evidence(
    application: Application, policy: KycPolicy, *, data_use: DataSimUse | None = None
) -> Finding | None:
    """``KYC_REQUIRED`` (refuse) unless the method is accepted for the channel."""
    if not kyc_required(application, policy, data_use):
        return None
    channel = application.channel
    accepted = policy.accepted(channel)
    if channel is Channel.ONLINE and application.applied_on >= ONLINE_IC_OR_JPKI_FROM:
        accepted = accepted & IC_OR_JPKI
    given = application.kyc_method
    try:
        method = KycMethod(given) if given else None
    except ValueError:
        method = None
    if method is not None and method in accepted:
        return None
    return Finding(
        code="KYC_REQUIRED",
        outcome=Outcome.REFUSE,
        rule=f"assurance.kyc.{channel.value}",
        detail="missing" if not given else f"not_accepted:{given}",
        values={
            "channel_ja": _CHANNEL_JA[channel],
            "channel_en": _CHANNEL_EN[channel],
            "accepted": ", ".join(sorted(m.value for m in accepted)) or "-",
            "method": given or "-",
        },
    )


# -- reliance on another company's KYC ---------------------------------------------------------


def _reliance_finding(code: str, detail: str, **values: object) -> Finding:
    return Finding(
        code=code,
        outcome=Outcome.REFUSE,
        rule="assurance.kyc_reliance",
        detail=detail,
        values=values,
    )


def _untrusted(detail: str, ja: str, en: str) -> Finding:
    return _reliance_finding("KYC_ASSERTION_UNTRUSTED", detail, detail_ja=ja, detail_en=en)


def evidence_descriptors(evidence: Mapping[str, Any]) -> frozenset[str]:
    """``type`` and ``type:subtype`` of one evidence element (subtype: the document, record
    or signature type), so a policy can allow ``electronic_signature`` or only
    ``document:jp_drivers_license``."""
    kind = evidence.get("type")
    if not isinstance(kind, str):
        return frozenset()
    sub: object = evidence.get("signature_type")
    for holder in ("document_details", "document", "record"):
        inner = evidence.get(holder)
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            sub = inner["type"]
    return frozenset({kind, f"{kind}:{sub}"} if isinstance(sub, str) else {kind})


def _jp_mpiupa_claims(claims: Mapping[str, Any]) -> Mapping[str, Any] | None:
    raw = claims.get("verified_claims")
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if not isinstance(item, dict):
            continue
        verification = item.get("verification")
        if (
            isinstance(verification, dict)
            and verification.get("trust_framework") == TRUST_FRAMEWORK
        ):
            return item
    return None


def _verified_at(verification: Mapping[str, Any]) -> datetime | None:
    text = verification.get("time")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _claimed_name(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    name = claims.get("name")
    if not isinstance(name, str):
        family, given = claims.get("family_name"), claims.get("given_name")
        name = f"{family} {given}" if isinstance(family, str) and isinstance(given, str) else None
    kana_f, kana_g = claims.get("family_name#ja-Kana-JP"), claims.get("given_name#ja-Kana-JP")
    kana = f"{kana_f} {kana_g}" if isinstance(kana_f, str) and isinstance(kana_g, str) else None
    return name, kana


def _claimed_address(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    address = claims.get("address")
    if not isinstance(address, dict):
        return None, None
    postal = address.get("postal_code")
    postal = postal if isinstance(postal, str) else None
    formatted = address.get("formatted")
    if isinstance(formatted, str):
        return formatted, postal
    parts = [address.get(k) for k in ("region", "locality", "street_address")]
    text = "".join(p for p in parts if isinstance(p, str))
    return (text or None), postal


def mismatched_fields(applicant: HolderIdentity, claims: Mapping[str, Any]) -> list[str]:
    """Fields of the verified ``claims`` that do not match the applicant (empty: all match).

    Name and birth date must agree exactly after normalisation (variant kanji, kana,
    spacing); the address must agree to the block when both sides give one.
    """
    wrong = []
    name, kana = _claimed_name(claims)
    mine = normalize_name(applicant.name, applicant.name_kana)
    if (
        name is None
        or compare_names(mine, normalize_name(name, kana))[0] is not NameAgreement.EXACT
    ):
        wrong.append("name")
    birthdate = claims.get("birthdate")
    try:
        born = date.fromisoformat(birthdate) if isinstance(birthdate, str) else None
    except ValueError:
        born = None
    if born is None or born != applicant.birth_date:
        wrong.append("birth_date")
    address, postal = _claimed_address(claims)
    if address and applicant.address:
        theirs = normalize_address(address, postal)
        agreement, _ = compare_addresses(
            normalize_address(applicant.address, applicant.postal_code), theirs
        )
        if agreement < AddressAgreement.PARTIAL:
            wrong.append("address")
    return wrong


_FIELD_JA = {"name": "氏名", "birth_date": "生年月日", "address": "住所"}


def check_relied_assertion(
    assertion: str | None,
    applicant: HolderIdentity,
    policy: ReliancePolicy | None,
    jwks_by_issuer: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
) -> Finding | None:
    """None when the assertion may be relied on for ``applicant``; else why not."""
    if not assertion:
        return _reliance_finding("KYC_ASSERTION_INVALID", "missing")
    if policy is None:
        return _untrusted("reliance_disabled", "依拠は許可されていません", "reliance is disabled")
    peeked = unverified_claims(assertion)
    if peeked is None:
        return _reliance_finding("KYC_ASSERTION_INVALID", "not a readable JWT")
    issuer = peeked.get("iss")
    trusted = policy.trusted(issuer) if isinstance(issuer, str) else None
    if trusted is None:
        return _untrusted(
            "issuer", f"発行者 {issuer} は信頼リストにありません", f"issuer {issuer} is not trusted"
        )
    result = verify_jwt(
        assertion,
        jwks_by_issuer.get(trusted.issuer, {}),
        algorithms=policy.algorithms,
        issuer=trusted.issuer,
        audience=policy.audience,
        now=now,
        leeway=timedelta(seconds=policy.leeway_seconds),
    )
    if isinstance(result, JwtRejected):
        if result.problem is JwtProblem.EXPIRED:
            return _reliance_finding(
                "KYC_ASSERTION_STALE",
                "token_expired",
                detail_ja="トークンの有効期限切れ",
                detail_en="the assertion token has expired",
                max_age_days=policy.max_age_days,
            )
        if result.problem in (JwtProblem.MALFORMED, JwtProblem.MISSING_CLAIM):
            return _reliance_finding("KYC_ASSERTION_INVALID", result.detail)
        return _untrusted(
            result.problem.value,
            f"署名または宛先を検証できません（{result.problem.value}）",
            f"signature or audience does not verify ({result.problem.value}: {result.detail})",
        )
    verified = _jp_mpiupa_claims(result.claims)
    if verified is None:
        return _untrusted(
            "trust_framework",
            f"トラストフレームワーク {TRUST_FRAMEWORK} による確認ではありません",
            f"not verified under trust framework {TRUST_FRAMEWORK}",
        )
    verification = verified["verification"]
    evidence = verification.get("evidence")
    elements = evidence if isinstance(evidence, list) else []
    kinds = [evidence_descriptors(e) if isinstance(e, dict) else frozenset() for e in elements]
    if not kinds or any(not (k & policy.allowed_evidence) for k in kinds):
        shown = ", ".join(sorted(max(k, key=len) for k in kinds if k)) or "-"
        return _untrusted(
            "evidence", f"許可されない証拠の種類（{shown}）", f"evidence not allowed ({shown})"
        )
    at = _verified_at(verification)
    if at is None:
        return _reliance_finding(
            "KYC_ASSERTION_STALE",
            "no_time",
            detail_ja="確認日時の記載なし",
            detail_en="no verification time",
            max_age_days=policy.max_age_days,
        )
    if at > now + timedelta(seconds=policy.leeway_seconds):
        return _reliance_finding("KYC_ASSERTION_INVALID", "verification time in the future")
    if now - at > timedelta(days=policy.max_age_days):
        return _reliance_finding(
            "KYC_ASSERTION_STALE",
            "max_age",
            detail_ja=f"確認日 {at.date().isoformat()}",
            detail_en=f"verified on {at.date().isoformat()}",
            max_age_days=policy.max_age_days,
        )
    claims = verified.get("claims")
    wrong = mismatched_fields(applicant, claims if isinstance(claims, dict) else {})
    if wrong:
        return _reliance_finding(
            "KYC_ASSERTION_MISMATCH",
            ",".join(wrong),
            fields_ja="・".join(_FIELD_JA[f] for f in wrong),
            fields_en=", ".join(wrong),
        )
    return None
