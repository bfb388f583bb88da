"""The [assurance] policy section: a full example parses, each mistake is located."""

from __future__ import annotations

import tomllib

import pytest

from carrierguard.contracts.assurance_policy import (
    AssurancePolicy,
    DataSimUse,
    EmploymentCheck,
    KycMethod,
    parse_assurance,
)
from carrierguard.contracts.model import Channel
from carrierguard.contracts.policy import _Reader
from carrierguard.errors import PolicyError

EXAMPLE = """\
version = 1

[assurance.mfa]
required_for_additional_lines = true
channels = ["online"]
jwks = "https://idp.carrier.example/.well-known/jwks.json"
issuer = "https://idp.carrier.example"
audience = "carrierguard"
algorithms = ["RS256", "ES256"]
max_age_seconds = 600
leeway_seconds = 30
accepted_amr = ["otp", "hwk", "swk+pin", "face", "fpt", "iris", "mfa"]
accepted_acr = ["urn:carrier:loa:mfa"]

[assurance.kyc]
store = ["ic_chip_mynumber", "ic_chip_license", "jpki_signature"]
agency = ["ic_chip_mynumber", "ic_chip_license", "jpki_signature"]
online = ["jpki_signature", "relied_assertion"]

[assurance.data_sim_kyc]
consumer = true
iot = false
inbound_prepaid = true

[assurance.kyc_reliance]
audience = "carrierguard"
allowed_evidence = ["electronic_signature", "document:jp_drivers_license"]
max_age_days = 365
algorithms = ["ES256"]

  [[assurance.kyc_reliance.issuers]]
  issuer = "https://kyc.other-carrier.example"
  jwks = "keys/other-carrier.json"

[assurance.employment]
required = true
accepted = ["call_to_registered_number", "employment_certificate", "corporate_idp"]

[assurance.resale]
window_days = 7
review_score = 60
"""


def parse(text: str) -> AssurancePolicy:
    raw = tomllib.loads(text)
    locate = _Reader(raw, text, "policy.toml").locate
    return parse_assurance(raw.get("assurance", {}), locate, "policy.toml")


def error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    return caught.value


def test_full_example_parses() -> None:
    """The proposed section reads into values."""
    policy = parse(EXAMPLE)
    assert policy.mfa is not None
    assert policy.mfa.channels == {Channel.ONLINE}
    assert frozenset({"swk", "pin"}) in policy.mfa.accepted_amr
    assert policy.kyc.accepted(Channel.ONLINE) == {
        KycMethod.JPKI_SIGNATURE,
        KycMethod.RELIED_ASSERTION,
    }
    assert policy.kyc.data_sim[DataSimUse.IOT] is False
    assert policy.reliance is not None
    assert policy.reliance.trusted("https://kyc.other-carrier.example") is not None
    assert policy.reliance.max_age_days == 365
    assert policy.employment.accepted == frozenset(EmploymentCheck)
    assert policy.resale.window_days == 7


def test_missing_section_takes_defaults() -> None:
    """No [assurance] at all: no MFA IdP, no reliance, default KYC and employment rules."""
    policy = parse("version = 1\n")
    assert policy.mfa is None and policy.reliance is None
    assert policy.employment.required


def test_alg_none_is_refused_with_its_line() -> None:
    """algorithms = ["none"] fails naming file, line and field."""
    err = error(EXAMPLE.replace('algorithms = ["RS256", "ES256"]', 'algorithms = ["none"]'))
    assert err.field == "assurance.mfa.algorithms"
    assert err.line == 9
    assert "policy.toml:9" in str(err)


def test_hmac_algorithms_are_refused() -> None:
    """HS256 is refused: a public key is no secret."""
    err = error(EXAMPLE.replace('algorithms = ["ES256"]', 'algorithms = ["HS256"]'))
    assert err.field == "assurance.kyc_reliance.algorithms"
    assert "public key" in err.reason


def test_password_alone_cannot_be_configured_as_mfa() -> None:
    """accepted_amr = ["pwd"] is refused."""
    err = error(EXAMPLE.replace('accepted_amr = ["otp"', 'accepted_amr = ["pwd", "otp"'))
    assert err.field == "assurance.mfa.accepted_amr"


def test_online_image_upload_is_refused() -> None:
    """Online contracts need IC chip or JPKI: id_image_upload online is refused."""
    err = error(
        EXAMPLE.replace(
            'online = ["jpki_signature", "relied_assertion"]',
            'online = ["jpki_signature", "id_image_upload"]',
        )
    )
    assert err.field == "assurance.kyc.online"
    assert "2026-04-01" in err.reason
    assert err.line == 18


def test_unknown_kyc_method_is_refused() -> None:
    """A misspelt method names the allowed ones."""
    err = error(EXAMPLE.replace('store = ["ic_chip_mynumber"', 'store = ["ic_chip_mynumbr"'))
    assert err.field == "assurance.kyc.store"
    assert "ic_chip_mynumber" in err.reason


def test_unknown_field_is_refused() -> None:
    """A field the section does not know is an error, not silently ignored."""
    err = error(EXAMPLE.replace("leeway_seconds = 30", "leeway_secs = 30"))
    assert err.field == "assurance.mfa.leeway_secs"


def test_mfa_needs_issuer_and_jwks() -> None:
    """An [assurance.mfa] table without jwks is refused."""
    err = error(EXAMPLE.replace('jwks = "https://idp.carrier.example/.well-known/jwks.json"\n', ""))
    assert err.field == "assurance.mfa.jwks"


def test_reliance_needs_a_trusted_issuer() -> None:
    """[assurance.kyc_reliance] without issuers is refused."""
    text = EXAMPLE.split("  [[assurance.kyc_reliance.issuers]]")[0]
    err = error(text)
    assert err.field == "assurance.kyc_reliance.issuers"


def test_bad_resale_rule_is_refused() -> None:
    """A review score above 100 is refused by the resale rules."""
    err = error(EXAMPLE.replace("review_score = 60", "review_score = 160"))
    assert err.field == "assurance.resale"
    assert "review_score" in err.reason


def test_assurance_that_is_not_a_table_is_refused() -> None:
    """assurance = 1 is refused at its line."""
    err = error("version = 1\nassurance = 1\n")
    assert err.field == "assurance" and err.line == 2
