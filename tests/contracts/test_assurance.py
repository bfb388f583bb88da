"""Assurance findings folded into screening decisions: the end-to-end scenarios of issue 7."""

from __future__ import annotations

from datetime import date, timedelta

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance import (
    AssuranceEvidence,
    AssuranceKeys,
    assess_assurance,
    with_findings,
)
from carrierguard.contracts.assurance_policy import AssurancePolicy, EmploymentCheck
from carrierguard.contracts.assurance_reasons import ASSURANCE_CATALOGUE
from carrierguard.contracts.corporate import EmploymentRecord
from carrierguard.contracts.decide import decide
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    Decision,
    HolderIdentity,
    HolderKind,
    Holding,
    LineRequest,
)
from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.reasons import CATALOGUE
from carrierguard.contracts.resale import (
    ActivityKind,
    LineActivity,
    ResaleAssessment,
    ResaleRules,
    assess_resale,
)
from tests.contracts.tokens import MFA_POLICY, NOW, id_claims, jwks, rsa_key

SCREENING = load_policy()
ASSURANCE = AssurancePolicy(mfa=MFA_POLICY)
KEYS = AssuranceKeys(idp=jwks(rsa_key()))
PERSON = HolderIdentity(kind=HolderKind.INDIVIDUAL, name="高橋 一郎", birth_date=date(1985, 4, 1))
ONE_LINE = [Holding(SimType.VOICE, LineState.ACTIVE, date(2024, 1, 1))]


def screen(
    application: Application,
    holdings: list[Holding],
    evidence: AssuranceEvidence,
    resale: ResaleAssessment | None = None,
) -> Decision:
    findings = assess_assurance(
        application, holdings, evidence, ASSURANCE, KEYS, now=NOW, resale=resale
    )
    return with_findings(
        decide(application, holdings, SCREENING),
        findings,
        channel=application.channel,
        agency_may_approve=SCREENING.agency_may_approve,
    )


def application(
    channel: Channel,
    *,
    holder: HolderIdentity = PERSON,
    sim: SimType = SimType.VOICE,
    method: str | None = "ic_chip_mynumber",
) -> Application:
    return Application(
        channel=channel,
        holder=holder,
        lines=(LineRequest(sim),),
        applied_on=NOW.date(),
        kyc_method=method,
    )


def company(number: str) -> HolderIdentity:
    return HolderIdentity(kind=HolderKind.CORPORATE, name="株式会社テスト", corporate_number=number)


def online_voice() -> Application:
    return application(Channel.ONLINE, method="jpki_signature")


def test_additional_line_with_valid_mfa_token_approves() -> None:
    """An online second line with a valid otp-backed ID token is approved."""
    token = rsa_key().sign(id_claims(amr=["pwd", "otp"]))
    d = screen(online_voice(), ONE_LINE, AssuranceEvidence(id_token=token))
    assert d.outcome is Outcome.APPROVE
    assert d.codes == {"APPROVED_WITHIN_CAP"}


def test_additional_line_with_password_only_token_refuses() -> None:
    """The same application with a pwd-only token is refused with MFA_REQUIRED only."""
    token = rsa_key().sign(id_claims(amr=["pwd"]))
    d = screen(online_voice(), ONE_LINE, AssuranceEvidence(id_token=token))
    assert d.outcome is Outcome.REFUSE
    assert d.codes == {"MFA_REQUIRED"}


def test_expired_token_refuses_with_its_code() -> None:
    """An expired token is refused with MFA_TOKEN_EXPIRED."""
    t = int(NOW.timestamp())
    token = rsa_key().sign(id_claims(exp=t - 3600))
    d = screen(online_voice(), ONE_LINE, AssuranceEvidence(id_token=token))
    assert d.outcome is Outcome.REFUSE and "MFA_TOKEN_EXPIRED" in d.codes


def test_missing_kyc_refuses_even_within_cap() -> None:
    """No identity verification refuses with KYC_REQUIRED, the cap reason dropped."""
    app = application(Channel.STORE, method=None)
    d = screen(app, [], AssuranceEvidence())
    assert d.outcome is Outcome.REFUSE
    assert d.codes == {"KYC_REQUIRED"}


def test_holder_whose_five_lines_moved_to_unknown_devices_goes_to_review() -> None:
    """Scenario: 5 lines move to 5 unknown devices in a week; the next application is reviewed."""
    start = NOW - timedelta(days=60)
    held = [Holding(SimType.VOICE, LineState.ACTIVE, start.date()) for _ in range(5)]
    events = [
        LineActivity(
            line_id=f"L{i}", kind=ActivityKind.ACTIVATION, at=start, imei="353456789012345"
        )
        for i in range(5)
    ] + [
        LineActivity(
            line_id=f"L{i}",
            kind=ActivityKind.DEVICE_CHANGE,
            at=NOW - timedelta(days=10, hours=-24 * i),
            imei=f"35987600{i:06d}0",
        )
        for i in range(5)
    ]
    assessment = assess_resale(events, ResaleRules())
    app = application(Channel.STORE, sim=SimType.DATA)
    assert decide(app, held, SCREENING).outcome is Outcome.APPROVE
    d = screen(app, held, AssuranceEvidence(), resale=assessment)
    assert d.outcome is Outcome.REVIEW
    assert d.codes == {"RESALE_RISK"}
    assert "5回線" in d.reasons[0].message_ja


def test_agency_review_from_a_finding_escalates_to_headquarters() -> None:
    """A corporate application at an agency without an employment record goes to HQ review."""
    holder = company("7000012050002")
    app = application(Channel.AGENCY, holder=holder)
    d = screen(app, [], AssuranceEvidence())
    assert d.outcome is Outcome.REVIEW
    assert d.codes == {"EMPLOYMENT_UNVERIFIED", "EXCEPTION_ESCALATED_TO_HQ"}
    assert d.escalate_to_hq
    record = EmploymentRecord(
        check=EmploymentCheck.CALL_TO_REGISTERED_NUMBER,
        reference="03-3581-4161",
        verified_by="agency-clerk-3",
    )
    assert screen(app, [], AssuranceEvidence(employment=record)).outcome is Outcome.APPROVE


def test_corporate_number_with_wrong_check_digit_refuses() -> None:
    """A corporate number failing its check digit refuses with CORPORATE_NUMBER_INVALID."""
    holder = company("8000012050002")
    app = application(Channel.STORE, holder=holder)
    d = screen(app, [], AssuranceEvidence())
    assert d.outcome is Outcome.REFUSE
    assert "CORPORATE_NUMBER_INVALID" in d.codes
    assert "EMPLOYMENT_UNVERIFIED" in d.codes  # the review reason still shows, after the refusal
    assert d.reasons[0].code == "CORPORATE_NUMBER_INVALID"
    assert not d.escalate_to_hq


def test_refusal_drops_an_escalation_the_screening_had_set() -> None:
    """An agency's over-cap review that a finding turns into a refusal no longer escalates."""
    held = [Holding(SimType.VOICE, LineState.ACTIVE, date(2024, 1, 1)) for _ in range(5)]
    app = application(Channel.AGENCY, method=None)
    assert decide(app, held, SCREENING).escalate_to_hq
    d = screen(app, held, AssuranceEvidence())
    assert d.outcome is Outcome.REFUSE
    assert not d.escalate_to_hq
    assert "EXCEPTION_ESCALATED_TO_HQ" not in d.codes
    assert [r.code for r in d.reasons] == ["KYC_REQUIRED", "LINE_CAP_EXCEEDED"]


def test_assurance_catalogue_merges_into_the_reason_catalogue() -> None:
    """No code clashes with the core catalogue; every text is bilingual with a legal basis."""
    assert not set(ASSURANCE_CATALOGUE) & set(CATALOGUE)
    for code, text in ASSURANCE_CATALOGUE.items():
        assert code.isupper() and text.ja and text.en and text.legal_basis, code
