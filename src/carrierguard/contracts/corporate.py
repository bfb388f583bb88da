"""Corporate contracts (MISSION C5): the corporate number (法人番号) and the employment record.

Pure: no registry look-up. The check digit catches typing slips; whether the corporation
exists is for the 国税庁 法人番号公表サイト at the edge, not here.

法人番号 = one check digit followed by the 12-digit base number (基礎番号). By art. 2 of the
MOF ordinance on corporate numbers (平成26年財務省令第70号), with P(n) the n-th digit of
the base number counted from its lowest digit and Q(n) = 1 for odd n, 2 for even n:
``check = 9 - (sum(P(n) * Q(n)) mod 9)``, always 1 to 9.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_policy import EmploymentCheck, EmploymentPolicy
from carrierguard.contracts.assurance_reasons import Finding


def corporate_check_digit(base: str) -> int:
    """The check digit of a 12-digit base number (会社法人等番号 or other 基礎番号)."""
    if len(base) != 12 or not base.isascii() or not base.isdigit():
        raise ValueError("a base number is 12 ASCII digits")
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return 9 - total % 9


def normalize_corporate_number(text: str) -> str:
    """Full-width digits to ASCII; spaces and hyphens, as people write them, removed."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch not in " -\u2010\u2212")


def corporate_number_problem(text: str) -> tuple[str, str] | None:
    """Why ``text`` is not a valid corporate number, in Japanese and English; None if valid."""
    number = normalize_corporate_number(text)
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return "13桁の数字ではありません", "not 13 digits"
    expected = corporate_check_digit(number[1:])
    if int(number[0]) != expected:
        return (
            f"検査用数字が一致しません（正しくは{expected}）",
            f"wrong check digit (expected {expected})",
        )
    return None


def is_valid_corporate_number(text: str) -> bool:
    return corporate_number_problem(text) is None


def check_corporate_number(text: str) -> Finding | None:
    """``CORPORATE_NUMBER_INVALID`` (refuse) when the number fails its check digit."""
    problem = corporate_number_problem(text)
    if problem is None:
        return None
    return Finding(
        code="CORPORATE_NUMBER_INVALID",
        outcome=Outcome.REFUSE,
        rule="holder.corporate_number",
        detail="length" if problem[1] == "not 13 digits" else "check_digit",
        values={"number": text, "detail_ja": problem[0], "detail_en": problem[1]},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmploymentRecord:
    """How the signer's employment at the corporation was verified, by whom, and a reference.

    ``reference``: what the reviewer can trace (the number called, the certificate's id,
    the corporate IdP's subject); ``verified_by``: the staff member or system that checked.
    """

    check: EmploymentCheck
    reference: str
    verified_by: str

    def __post_init__(self) -> None:
        if not self.reference.strip() or not self.verified_by.strip():
            raise ValueError("an employment record names its reference and who verified it")


def check_employment(record: EmploymentRecord | None, policy: EmploymentPolicy) -> Finding | None:
    """``EMPLOYMENT_UNVERIFIED`` (review) when the policy needs a record and none fits."""
    if not policy.required:
        return None
    if record is not None and record.check in policy.accepted:
        return None
    return Finding(
        code="EMPLOYMENT_UNVERIFIED",
        outcome=Outcome.REVIEW,
        rule="assurance.employment.required",
        detail="missing" if record is None else f"not_accepted:{record.check.value}",
        values={"accepted": ", ".join(sorted(c.value for c in policy.accepted))},
    )
