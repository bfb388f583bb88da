"""Corporate contracts: the 法人番号 check digit and the employment-verification record."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_policy import (
    DEFAULT_EMPLOYMENT,
    EmploymentCheck,
    EmploymentPolicy,
)
from carrierguard.contracts.corporate import (
    EmploymentRecord,
    check_corporate_number,
    check_employment,
    corporate_check_digit,
    is_valid_corporate_number,
)

#: Corporate numbers as published on the 国税庁 法人番号公表サイト.
PUBLISHED = {
    "国税庁": "7000012050002",
    "国会": "1000011000005",
    "株式会社FoundingBase": "4011001098993",
    "トヨタ自動車株式会社": "1180301018771",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_corporate_numbers_pass(name: str) -> None:
    """Real published corporate numbers pass the check digit."""
    assert is_valid_corporate_number(PUBLISHED[name])
    assert check_corporate_number(PUBLISHED[name]) is None


def test_worked_example_of_the_ordinance() -> None:
    """The usual worked example: base 123456789012 has check digit 7."""
    assert corporate_check_digit("123456789012") == 7


@pytest.mark.parametrize("wrong", ["8000012050002", "2000011000005", "6000012050002"])
def test_wrong_check_digit_fails(wrong: str) -> None:
    """Changing the check digit of a real number makes it invalid, with the expected digit."""
    finding = check_corporate_number(wrong)
    assert finding is not None
    assert finding.code == "CORPORATE_NUMBER_INVALID"
    assert finding.detail == "check_digit"
    assert finding.outcome is Outcome.REFUSE
    assert "expected" in finding.to_reason().message_en


def test_typo_in_base_number_is_caught() -> None:
    """A single mistyped digit in the base number fails the check."""
    assert not is_valid_corporate_number("7000012050003")


@pytest.mark.parametrize("text", ["700001205000", "70000120500021", "700001205000A", ""])
def test_not_thirteen_digits_fails(text: str) -> None:
    """Too short, too long or non-digit input is invalid."""
    finding = check_corporate_number(text)
    assert finding is not None and finding.detail == "length"


def test_full_width_digits_and_hyphens_are_read() -> None:
    """Numbers written with full-width digits or hyphens are normalised first."""
    assert is_valid_corporate_number("７００００１２０５０００２")
    assert is_valid_corporate_number("7-0000-1205-0002")


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_every_base_number_gets_a_digit_from_1_to_9(base: str) -> None:
    """The check digit is always 1 to 9, and base plus digit validates."""
    digit = corporate_check_digit(base)
    assert 1 <= digit <= 9
    assert is_valid_corporate_number(f"{digit}{base}")


def test_missing_employment_record_goes_to_review() -> None:
    """Without a record of how employment was verified, the application goes to review."""
    finding = check_employment(None, DEFAULT_EMPLOYMENT)
    assert finding is not None
    assert finding.code == "EMPLOYMENT_UNVERIFIED"
    assert finding.outcome is Outcome.REVIEW
    assert "在籍確認" in finding.to_reason().message_ja


@pytest.mark.parametrize("check", list(EmploymentCheck))
def test_each_accepted_employment_record_passes(check: EmploymentCheck) -> None:
    """A call to the registered number, a certificate or the corporate IdP all count."""
    record = EmploymentRecord(check=check, reference="03-1234-5678", verified_by="clerk-7")
    assert check_employment(record, DEFAULT_EMPLOYMENT) is None


def test_record_of_a_kind_the_policy_does_not_accept_goes_to_review() -> None:
    """A policy may accept only the corporate IdP; a certificate then is not enough."""
    policy = EmploymentPolicy(required=True, accepted=frozenset({EmploymentCheck.CORPORATE_IDP}))
    record = EmploymentRecord(
        check=EmploymentCheck.EMPLOYMENT_CERTIFICATE, reference="cert-1", verified_by="clerk"
    )
    finding = check_employment(record, policy)
    assert finding is not None and finding.detail == "not_accepted:employment_certificate"


def test_policy_may_switch_the_employment_check_off() -> None:
    """With required = false, no record is needed."""
    policy = EmploymentPolicy(required=False, accepted=frozenset(EmploymentCheck))
    assert check_employment(None, policy) is None


def test_an_employment_record_names_its_reference() -> None:
    """A record without a traceable reference cannot exist."""
    with pytest.raises(ValueError):
        EmploymentRecord(check=EmploymentCheck.CORPORATE_IDP, reference=" ", verified_by="x")
