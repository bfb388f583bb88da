"""MFA for additional lines: real RSA/EC-signed ID tokens checked against a JWKS."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_mfa import (
    check_additional_line_mfa,
    check_id_token,
    mfa_required,
)
from carrierguard.contracts.assurance_policy import AssurancePolicy, MfaPolicy
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    Holding,
    LineRequest,
)
from tests.contracts.tokens import (
    MFA_POLICY,
    NOW,
    ec_key,
    hs256_with_public_pem,
    id_claims,
    jwks,
    rsa_key,
    unsigned,
)

POLICY = MFA_POLICY
KEYS = jwks(rsa_key(), ec_key())
PERSON = HolderIdentity(kind=HolderKind.INDIVIDUAL, name="高橋 一郎", birth_date=date(1985, 4, 1))
HELD = [Holding(SimType.VOICE, LineState.ACTIVE, date(2024, 1, 1))]


def code_of(token: str | None, **kwargs: Any) -> str | None:
    finding = check_id_token(token, KEYS, POLICY, now=NOW, **kwargs)
    return None if finding is None else finding.code


def online(channel: Channel = Channel.ONLINE) -> Application:
    return Application(
        channel=channel, holder=PERSON, lines=(LineRequest(SimType.VOICE),), applied_on=NOW.date()
    )


def test_valid_rsa_token_with_otp_passes() -> None:
    """A properly signed RS256 token with pwd+otp proves MFA."""
    assert code_of(rsa_key().sign(id_claims())) is None


def test_valid_ec_token_with_face_passes() -> None:
    """An ES256 token whose amr is face (biometrics) proves MFA."""
    assert code_of(ec_key().sign(id_claims(amr=["face"]))) is None


def test_password_only_token_needs_mfa() -> None:
    """A valid token with amr [pwd] refuses with MFA_REQUIRED, so the client can step up."""
    finding = check_id_token(rsa_key().sign(id_claims(amr=["pwd"])), KEYS, POLICY, now=NOW)
    assert finding is not None
    assert finding.code == "MFA_REQUIRED"
    assert finding.outcome is Outcome.REFUSE
    reason = finding.to_reason()
    assert "pwd" in reason.message_en and "多要素認証" in reason.message_ja


def test_software_key_without_pin_is_not_mfa() -> None:
    """swk alone is one factor; swk with pin is two."""
    assert code_of(rsa_key().sign(id_claims(amr=["swk"]))) == "MFA_REQUIRED"
    assert code_of(rsa_key().sign(id_claims(amr=["swk", "pin"]))) is None


def test_accepted_acr_counts_as_mfa_without_amr() -> None:
    """An acr at the configured level proves MFA even without amr."""
    token = rsa_key().sign(id_claims(amr=None, acr="urn:carrier:loa:mfa"))
    assert code_of(token) is None


def test_missing_token_needs_mfa() -> None:
    """No token at all is MFA_REQUIRED."""
    assert code_of(None) == "MFA_REQUIRED"


def test_expired_token_has_its_own_code() -> None:
    """A token past exp (beyond leeway) refuses with MFA_TOKEN_EXPIRED."""
    t = int(NOW.timestamp())
    assert code_of(rsa_key().sign(id_claims(exp=t - 120))) == "MFA_TOKEN_EXPIRED"


def test_token_within_leeway_of_expiry_passes() -> None:
    """Clock skew within the leeway is tolerated."""
    t = int(NOW.timestamp())
    assert code_of(rsa_key().sign(id_claims(exp=t - 10))) is None


def test_old_authentication_is_stale() -> None:
    """An authentication older than max_age_seconds refuses with MFA_TOKEN_STALE."""
    t = int(NOW.timestamp())
    assert code_of(rsa_key().sign(id_claims(auth_time=t - 3600))) == "MFA_TOKEN_STALE"


def test_wrong_audience_has_its_own_code() -> None:
    """A token issued for another client refuses with MFA_TOKEN_AUDIENCE."""
    assert code_of(rsa_key().sign(id_claims(aud="other-app"))) == "MFA_TOKEN_AUDIENCE"


def test_wrong_issuer_has_its_own_code() -> None:
    """A token naming another issuer refuses with MFA_TOKEN_ISSUER."""
    token = rsa_key().sign(id_claims(iss="https://evil.example"))
    assert code_of(token) == "MFA_TOKEN_ISSUER"


def test_bad_signature_has_its_own_code() -> None:
    """A token whose payload was altered after signing refuses with MFA_TOKEN_SIGNATURE."""
    header, _, sig = rsa_key().sign(id_claims(amr=["pwd"])).split(".")
    forged_body = rsa_key().sign(id_claims()).split(".")[1]
    assert code_of(f"{header}.{forged_body}.{sig}") == "MFA_TOKEN_SIGNATURE"


def test_token_from_unknown_key_fails_signature() -> None:
    """A token signed by a key outside the JWKS (same kid) refuses with MFA_TOKEN_SIGNATURE."""
    stranger = rsa_key("stranger")
    token = stranger.sign(id_claims(), kid=rsa_key().kid)
    assert code_of(token) == "MFA_TOKEN_SIGNATURE"


def test_forged_alg_none_token_is_refused() -> None:
    """An unsigned alg=none token is refused before any key is used."""
    assert code_of(unsigned(id_claims(), rsa_key().kid)) == "MFA_TOKEN_ALGORITHM"


def test_hs256_keyed_with_public_pem_is_refused() -> None:
    """HMAC keyed with the IdP's public key PEM (algorithm confusion) is refused."""
    token = hs256_with_public_pem(id_claims(), rsa_key())
    assert code_of(token) == "MFA_TOKEN_ALGORITHM"


def test_hs256_is_refused_even_if_the_allow_list_were_careless() -> None:
    """With HS256 wrongly allowed, the JWKS's RSA key still never serves as an HMAC secret."""
    careless = MfaPolicy(**{**_fields(POLICY), "algorithms": frozenset({"RS256", "HS256"})})
    token = hs256_with_public_pem(id_claims(), rsa_key())
    finding = check_id_token(token, KEYS, careless, now=NOW)
    assert finding is not None and finding.code == "MFA_TOKEN_SIGNATURE"


def test_alg_switch_between_key_types_is_refused() -> None:
    """An ES256 token naming the RSA key's kid finds no usable key."""
    token = ec_key().sign(id_claims(), kid=rsa_key().kid)
    assert code_of(token) == "MFA_TOKEN_SIGNATURE"


def test_garbage_is_an_invalid_token() -> None:
    """Text that is not a JWS refuses with MFA_TOKEN_INVALID."""
    assert code_of("not-a-token") == "MFA_TOKEN_INVALID"


def test_token_without_exp_is_invalid() -> None:
    """exp is required."""
    assert code_of(rsa_key().sign(id_claims(exp=None))) == "MFA_TOKEN_INVALID"


def test_token_issued_in_the_future_is_invalid() -> None:
    """An iat beyond the leeway in the future refuses with MFA_TOKEN_INVALID."""
    t = int(NOW.timestamp())
    assert code_of(rsa_key().sign(id_claims(iat=t + 3600))) == "MFA_TOKEN_INVALID"


def test_token_of_another_person_is_refused() -> None:
    """The token's subject must be the holder's IdP subject when the caller knows it."""
    token = rsa_key().sign(id_claims(sub="someone-else"))
    assert code_of(token, expected_subject="holder-42") == "MFA_TOKEN_SUBJECT"
    assert code_of(rsa_key().sign(id_claims()), expected_subject="holder-42") is None


def test_every_failure_code_is_distinct() -> None:
    """Expired, wrong audience, bad signature, pwd-only and alg=none give five codes."""
    t = int(NOW.timestamp())
    header, _, sig = rsa_key().sign(id_claims(amr=["pwd"])).split(".")
    tokens = [
        rsa_key().sign(id_claims(exp=t - 120)),
        rsa_key().sign(id_claims(aud="other-app")),
        f"{header}.{rsa_key().sign(id_claims()).split('.')[1]}.{sig}",
        rsa_key().sign(id_claims(amr=["pwd"])),
        unsigned(id_claims(), "rsa-1"),
    ]
    assert len({code_of(t) for t in tokens}) == 5


def test_first_line_needs_no_mfa() -> None:
    """A new customer with no lines is not adding a line: no MFA check."""
    assert not mfa_required(online(), [], POLICY)


def test_store_channel_needs_no_mfa_by_default() -> None:
    """The clerk checks the person in the store; MFA is for online additions."""
    assert not mfa_required(online(Channel.STORE), HELD, POLICY)


def test_additional_online_line_with_valid_token_passes() -> None:
    """An online additional line with a valid MFA token raises no finding."""
    policy = AssurancePolicy(mfa=POLICY)
    token = ec_key().sign(id_claims(amr=["pwd", "otp"]))
    assert check_additional_line_mfa(online(), HELD, token, KEYS, policy, now=NOW) is None


def test_additional_online_line_with_password_only_is_refused() -> None:
    """An online additional line with a pwd-only token is refused with MFA_REQUIRED."""
    policy = AssurancePolicy(mfa=POLICY)
    token = rsa_key().sign(id_claims(amr=["pwd"]))
    finding = check_additional_line_mfa(online(), HELD, token, KEYS, policy, now=NOW)
    assert finding is not None and finding.code == "MFA_REQUIRED"


def test_terminated_lines_do_not_make_a_line_additional() -> None:
    """A holder whose lines are all terminated is starting over, not adding."""
    gone = [Holding(SimType.VOICE, LineState.TERMINATED, date(2020, 1, 1))]
    assert not mfa_required(online(), gone, POLICY)


@pytest.mark.parametrize("days", [1, 30])
def test_time_is_the_callers_not_the_machines(days: int) -> None:
    """A token valid at NOW is expired when the caller's clock says later."""
    token = rsa_key().sign(id_claims())
    later = NOW + timedelta(days=days)
    finding = check_id_token(token, KEYS, POLICY, now=later)
    assert finding is not None and finding.code == "MFA_TOKEN_EXPIRED"


def _fields(policy: MfaPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in MfaPolicy.__dataclass_fields__}
