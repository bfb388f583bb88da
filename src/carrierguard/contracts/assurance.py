"""The assurance rules in one call, and how their findings fold into a screening decision.

``assess_assurance`` runs every assurance check that applies to an application: KYC
evidence for the channel (and the relied assertion when that is the method), MFA for an
additional line, the corporate number and employment record for a corporation, and the
holder's resale assessment. ``with_findings`` folds the findings into the ``Decision`` of
``decide``: the worst outcome wins, approval reasons give way, an agency's review still
escalates to headquarters. Pure: tokens, keys, the resale assessment and ``now`` come in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_kyc import check_kyc_evidence, check_relied_assertion
from carrierguard.contracts.assurance_mfa import check_additional_line_mfa
from carrierguard.contracts.assurance_policy import AssurancePolicy, DataSimUse, KycMethod
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.corporate import (
    EmploymentRecord,
    check_corporate_number,
    check_employment,
)
from carrierguard.contracts.decide import ESCALATED, settle
from carrierguard.contracts.model import Application, Channel, Decision, Holding, Reason
from carrierguard.contracts.resale import ResaleAssessment, resale_finding


@dataclass(frozen=True, slots=True, kw_only=True)
class AssuranceEvidence:
    """What an application brings for the assurance rules (the API edge fills it).

    ``idp_subject``: the holder's subject at the carrier IdP, when the registry knows it.
    ``data_use``: what data-only lines are for (None: unknown, KYC applies).
    """

    id_token: str | None = None
    idp_subject: str | None = None
    relied_assertion: str | None = None
    employment: EmploymentRecord | None = None
    data_use: DataSimUse | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssuranceKeys:
    """JWKS documents loaded at the edge: the carrier IdP's, and each trusted KYC issuer's."""

    idp: Mapping[str, Any] = field(default_factory=dict)
    kyc_issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def assess_assurance(
    application: Application,
    holdings: Iterable[Holding],
    evidence: AssuranceEvidence,
    policy: AssurancePolicy,
    keys: AssuranceKeys,
    *,
    now: datetime,
    resale: ResaleAssessment | None = None,
) -> tuple[Finding, ...]:
    """Every assurance finding for ``application`` at ``now`` (empty: nothing to object)."""
    held = tuple(holdings)
    holder = application.holder
    kyc = check_kyc_evidence(application, policy.kyc, data_use=evidence.data_use)
    found = [kyc]
    if kyc is None and application.kyc_method == KycMethod.RELIED_ASSERTION:
        found.append(
            check_relied_assertion(
                evidence.relied_assertion, holder, policy.reliance, keys.kyc_issuers, now=now
            )
        )
    found.append(
        check_additional_line_mfa(
            application,
            held,
            evidence.id_token,
            keys.idp,
            policy,
            now=now,
            expected_subject=evidence.idp_subject,
        )
    )
    if holder.corporate_number:
        found.append(check_corporate_number(holder.corporate_number))
        found.append(check_employment(evidence.employment, policy.employment))
    if resale is not None:
        found.append(resale_finding(resale))
    return tuple(f for f in found if f is not None)


def with_findings(
    decision: Decision,
    findings: Iterable[Finding],
    *,
    channel: Channel,
    agency_may_approve: bool,
) -> Decision:
    """``decision`` with ``findings`` folded in; the same rules of severity as ``decide``."""
    extra = tuple(findings)
    if not extra:
        return decision
    fired: list[tuple[Outcome, Reason]] = [
        (decision.outcome, r) for r in decision.reasons if r.code != ESCALATED
    ]
    fired += [(f.outcome, f.to_reason()) for f in extra]
    outcome, reasons, escalate = settle(
        fired, channel=channel, agency_may_approve=agency_may_approve
    )
    return Decision(
        outcome=outcome,
        reasons=reasons,
        usage=decision.usage,
        escalate_to_hq=escalate,
        requires_actual_users=decision.requires_actual_users and outcome is Outcome.REVIEW,
    )
