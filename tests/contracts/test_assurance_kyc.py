"""Identity-verification evidence per channel, and reliance on another company's KYC."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_kyc import (
    check_kyc_evidence,
    check_relied_assertion,
    evidence_descriptors,
)
from carrierguard.contracts.assurance_policy import (
    DEFAULT_KYC,
    DataSimUse,
    KycMethod,
    KycPolicy,
    ReliancePolicy,
    TrustedIssuer,
)
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    LineRequest,
)
from tests.contracts.tokens import NOW, ec_key, rsa_key

OTHER_CARRIER = "https://kyc.other-carrier.example"
PERSON = HolderIdentity(
    kind=HolderKind.INDIVIDUAL,
    name="高橋 一郎",
    name_kana="タカハシ イチロウ",
    birth_date=date(1985, 4, 1),
    address="東京都千代田区千代田1-1",
    postal_code="100-0001",
)
RELIANCE = ReliancePolicy(
    issuers=(TrustedIssuer(OTHER_CARRIER, "other.json"),),
    audience="carrierguard",
    allowed_evidence=frozenset({"electronic_signature", "document:jp_drivers_license"}),
    max_age_days=365,
    algorithms=frozenset({"RS256", "ES256"}),
    leeway_seconds=30,
)
KEYS = {OTHER_CARRIER: {"keys": [ec_key("other-1").jwk]}}


def application(
    method: str | None,
    channel: Channel = Channel.ONLINE,
    sims: tuple[SimType, ...] = (SimType.VOICE,),
    applied_on: date = date(2026, 11, 28),
) -> Application:
    return Application(
        channel=channel,
        holder=PERSON,
        lines=tuple(LineRequest(s) for s in sims),
        applied_on=applied_on,
        kyc_method=method,
    )


def kyc_code(app: Application, policy: KycPolicy = DEFAULT_KYC, **kw: Any) -> str | None:
    finding = check_kyc_evidence(app, policy, **kw)
    return None if finding is None else finding.code


def test_jpki_signature_is_accepted_online() -> None:
    """Online, a JPKI signature is accepted evidence."""
    assert kyc_code(application("jpki_signature")) is None


def test_missing_evidence_is_refused_citing_the_act() -> None:
    """No method at all refuses with KYC_REQUIRED citing 携帯電話不正利用防止法."""
    finding = check_kyc_evidence(application(None), DEFAULT_KYC)
    assert finding is not None
    assert finding.code == "KYC_REQUIRED"
    assert finding.outcome is Outcome.REFUSE
    reason = finding.to_reason()
    assert "携帯電話不正利用防止法" in reason.legal_basis
    assert "jpki_signature" in reason.message_en and "オンライン" in reason.message_ja


def test_method_the_channel_does_not_accept_is_refused() -> None:
    """The default policy does not take licence-chip reading online."""
    assert kyc_code(application("ic_chip_license")) == "KYC_REQUIRED"
    assert kyc_code(application("ic_chip_license", Channel.STORE)) is None


def test_unknown_method_is_refused() -> None:
    """A method outside the list is never accepted."""
    assert kyc_code(application("selfie_video")) == "KYC_REQUIRED"


def test_online_image_upload_refused_since_april_2026_even_if_configured() -> None:
    """A hand-built policy allowing ID-image upload online is overruled from 2026-04-01."""
    lax = KycPolicy(
        methods={Channel.ONLINE: frozenset({KycMethod.ID_IMAGE_UPLOAD})},
        data_sim=DEFAULT_KYC.data_sim,
    )
    assert kyc_code(application("id_image_upload", applied_on=date(2026, 3, 31)), lax) is None
    assert kyc_code(application("id_image_upload", applied_on=date(2026, 4, 1)), lax) == (
        "KYC_REQUIRED"
    )


def test_data_sim_kyc_follows_the_switch_for_its_use() -> None:
    """Data-only lines need KYC for consumers and inbound prepaid, not for IoT by default."""
    data_only = application(None, sims=(SimType.DATA,))
    assert kyc_code(data_only, data_use=DataSimUse.IOT) is None
    assert kyc_code(data_only, data_use=DataSimUse.CONSUMER) == "KYC_REQUIRED"
    assert kyc_code(data_only, data_use=DataSimUse.INBOUND_PREPAID) == "KYC_REQUIRED"


def test_data_sim_of_unknown_use_needs_kyc() -> None:
    """When the use is not stated, the safe side applies."""
    assert kyc_code(application(None, sims=(SimType.DATA,))) == "KYC_REQUIRED"


def test_voice_line_always_needs_kyc_whatever_the_data_switch() -> None:
    """A voice line next to IoT data lines still needs KYC."""
    mixed = application(None, sims=(SimType.DATA, SimType.VOICE))
    assert kyc_code(mixed, data_use=DataSimUse.IOT) == "KYC_REQUIRED"


# -- relied assertions -------------------------------------------------------------------------


def verified_claims(**overrides: Any) -> dict[str, Any]:
    verification: dict[str, Any] = {
        "trust_framework": "jp_mpiupa",
        "time": (NOW - timedelta(days=30)).isoformat(),
        "evidence": [{"type": "electronic_signature", "signature_type": "jp_jpki"}],
    }
    claims: dict[str, Any] = {
        "family_name": "高橋",
        "given_name": "一郎",
        "family_name#ja-Kana-JP": "タカハシ",
        "given_name#ja-Kana-JP": "イチロウ",
        "birthdate": "1985-04-01",
        "address": {"formatted": "東京都千代田区千代田1番1号", "postal_code": "1000001"},
    }
    for key, value in overrides.items():
        target = claims if key in claims or key == "name" else verification
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return {"verification": verification, "claims": claims}


def assertion(signer: Any = None, iss: str = OTHER_CARRIER, **overrides: Any) -> str:
    t = int(NOW.timestamp())
    payload = {
        "iss": iss,
        "aud": "carrierguard",
        "sub": "abc",
        "iat": t - 60,
        "exp": t + 600,
        "verified_claims": verified_claims(**overrides),
    }
    return (signer or ec_key("other-1")).sign(payload)


def relied(token: str | None, holder: HolderIdentity = PERSON) -> str | None:
    finding = check_relied_assertion(token, holder, RELIANCE, KEYS, now=NOW)
    return None if finding is None else finding.code


def test_trusted_assertion_passes() -> None:
    """A jp_mpiupa assertion from a trusted issuer, recent, allowed evidence, same person."""
    assert relied(assertion()) is None


def test_assertion_of_a_drivers_licence_document_is_allowed_by_subtype() -> None:
    """The policy allows documents only of type jp_drivers_license."""
    licence = [{"type": "document", "document_details": {"type": "jp_drivers_license"}}]
    assert relied(assertion(evidence=licence)) is None


def test_untrusted_issuer_is_refused() -> None:
    """An issuer outside the trust list gives KYC_ASSERTION_UNTRUSTED."""
    finding = check_relied_assertion(
        assertion(iss="https://kyc.unknown.example"), PERSON, RELIANCE, KEYS, now=NOW
    )
    assert finding is not None
    assert finding.code == "KYC_ASSERTION_UNTRUSTED"
    assert finding.detail == "issuer"
    assert "信頼リスト" in finding.to_reason().message_ja


def test_assertion_signed_by_another_key_is_untrusted() -> None:
    """The trusted issuer's name signed by a stranger's key is not trusted."""
    forged = assertion(signer=rsa_key("forger"))
    assert relied(forged) == "KYC_ASSERTION_UNTRUSTED"


def test_other_trust_framework_is_untrusted() -> None:
    """An AML-framework verification (jp_aml) is not jp_mpiupa."""
    assert relied(assertion(trust_framework="jp_aml")) == "KYC_ASSERTION_UNTRUSTED"


def test_disallowed_evidence_is_untrusted() -> None:
    """An uploaded ID image (document of another type) is not allowed evidence."""
    upload = [{"type": "document", "document_details": {"type": "residence_card"}}]
    finding = check_relied_assertion(assertion(evidence=upload), PERSON, RELIANCE, KEYS, now=NOW)
    assert finding is not None and finding.detail == "evidence"


def test_any_disallowed_evidence_element_is_untrusted() -> None:
    """All evidence elements must be allowed, not just one."""
    mixed = [
        {"type": "electronic_signature", "signature_type": "jp_jpki"},
        {"type": "vouch"},
    ]
    assert relied(assertion(evidence=mixed)) == "KYC_ASSERTION_UNTRUSTED"


def test_stale_verification_is_refused() -> None:
    """A verification older than max_age_days gives KYC_ASSERTION_STALE."""
    old = (NOW - timedelta(days=400)).isoformat()
    finding = check_relied_assertion(assertion(time=old), PERSON, RELIANCE, KEYS, now=NOW)
    assert finding is not None
    assert finding.code == "KYC_ASSERTION_STALE"
    assert "365" in finding.to_reason().message_en


def test_verification_without_time_is_stale() -> None:
    """Without a verification time its age cannot be proven."""
    assert relied(assertion(time=None)) == "KYC_ASSERTION_STALE"


def test_mismatched_birth_date_is_refused() -> None:
    """Verified claims for another birth date give KYC_ASSERTION_MISMATCH."""
    finding = check_relied_assertion(
        assertion(birthdate="1986-04-01"), PERSON, RELIANCE, KEYS, now=NOW
    )
    assert finding is not None
    assert finding.code == "KYC_ASSERTION_MISMATCH"
    assert finding.detail == "birth_date"
    assert "生年月日" in finding.to_reason().message_ja


def test_mismatched_name_is_refused() -> None:
    """Verified claims for another person give KYC_ASSERTION_MISMATCH naming the name."""
    finding = check_relied_assertion(
        assertion(given_name="次郎", **{"given_name#ja-Kana-JP": "ジロウ"}),
        PERSON,
        RELIANCE,
        KEYS,
        now=NOW,
    )
    assert finding is not None and finding.detail == "name"


def test_other_address_is_a_mismatch() -> None:
    """An address in another town is a mismatch."""
    elsewhere = {"formatted": "大阪府大阪市北区梅田1-1"}
    assert relied(assertion(address=elsewhere)) == "KYC_ASSERTION_MISMATCH"


def test_variant_kanji_and_spacing_still_match() -> None:
    """髙橋 (variant kanji) written without a space is the same name."""
    assert relied(assertion(name="髙橋一郎", family_name=None, given_name=None)) is None


def test_untrusted_stale_and_mismatch_are_distinct_codes() -> None:
    """The three refusals are told apart."""
    codes = {
        relied(assertion(iss="https://kyc.unknown.example")),
        relied(assertion(time=(NOW - timedelta(days=400)).isoformat())),
        relied(assertion(birthdate="1986-04-01")),
    }
    assert codes == {"KYC_ASSERTION_UNTRUSTED", "KYC_ASSERTION_STALE", "KYC_ASSERTION_MISMATCH"}


def test_expired_assertion_token_is_stale() -> None:
    """An assertion token past exp is stale."""
    t = int(NOW.timestamp())
    token = ec_key("other-1").sign(
        {
            "iss": OTHER_CARRIER,
            "aud": "carrierguard",
            "iat": t - 7200,
            "exp": t - 3600,
            "verified_claims": verified_claims(),
        }
    )
    assert relied(token) == "KYC_ASSERTION_STALE"


def test_missing_or_garbled_assertion_is_invalid() -> None:
    """No assertion, or text that is not a JWT, is KYC_ASSERTION_INVALID."""
    assert relied(None) == "KYC_ASSERTION_INVALID"
    assert relied("garbage") == "KYC_ASSERTION_INVALID"


def test_reliance_switched_off_is_untrusted() -> None:
    """Without a [assurance.kyc_reliance] table no assertion is relied on."""
    finding = check_relied_assertion(assertion(), PERSON, None, KEYS, now=NOW)
    assert finding is not None and finding.detail == "reliance_disabled"


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ({"type": "electronic_signature", "signature_type": "jp_jpki"}, "electronic_signature"),
        ({"type": "document", "document": {"type": "idcard"}}, "document:idcard"),
        (
            {"type": "electronic_record", "record": {"type": "population_register"}},
            "electronic_record",
        ),
    ],
)
def test_evidence_descriptors_name_type_and_subtype(
    evidence: dict[str, Any], expected: str
) -> None:
    """Each evidence element is described by its type and its type:subtype."""
    assert expected in evidence_descriptors(evidence)
