"""MFA for additional lines (MISSION C4): judge the carrier IdP's OpenID Connect ID token.

``check_additional_line_mfa`` is the one call screening needs: None when the application
needs no MFA or its ID token proves it, else a ``Finding`` that refuses with a code the
client can act on (``MFA_REQUIRED``: step up; ``MFA_TOKEN_*``: authenticate again).
MFA is shown by RFC 8176 ``amr`` values (otp, hwk, swk with pin, face, fpt, mfa, ...)
or an ``acr`` the policy accepts; ``pwd`` alone never suffices. Pure: the JWKS document
and ``now`` come in from the caller (``assurance_jwks`` loads the JWKS at the edge).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_jwt import JwtProblem, JwtRejected, verify_jwt
from carrierguard.contracts.assurance_policy import AssurancePolicy, MfaPolicy
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.lines import LineState
from carrierguard.contracts.model import Application, Holding

_CODE_OF = {
    JwtProblem.MALFORMED: "MFA_TOKEN_INVALID",
    JwtProblem.ALGORITHM: "MFA_TOKEN_ALGORITHM",
    JwtProblem.UNKNOWN_KEY: "MFA_TOKEN_SIGNATURE",
    JwtProblem.SIGNATURE: "MFA_TOKEN_SIGNATURE",
    JwtProblem.ISSUER: "MFA_TOKEN_ISSUER",
    JwtProblem.AUDIENCE: "MFA_TOKEN_AUDIENCE",
    JwtProblem.EXPIRED: "MFA_TOKEN_EXPIRED",
    JwtProblem.NOT_YET_VALID: "MFA_TOKEN_INVALID",
    JwtProblem.MISSING_CLAIM: "MFA_TOKEN_INVALID",
}


def _finding(code: str, detail: str, rule: str = "assurance.mfa", **values: object) -> Finding:
    return Finding(code=code, outcome=Outcome.REFUSE, rule=rule, detail=detail, values=values)


def is_additional_line(holdings: Iterable[Holding]) -> bool:
    """The holder already has a line that is not terminated: the new one is additional."""
    return any(h.state is not LineState.TERMINATED for h in holdings)


def mfa_required(
    application: Application, holdings: Iterable[Holding], policy: MfaPolicy | None
) -> bool:
    if policy is None or not policy.required_for_additional_lines:
        return False
    return application.channel in policy.channels and is_additional_line(holdings)


def shows_mfa(claims: Mapping[str, Any], policy: MfaPolicy) -> bool:
    """Whether verified ID-token ``claims`` prove MFA by ``amr`` or an accepted ``acr``."""
    acr = claims.get("acr")
    if isinstance(acr, str) and acr in policy.accepted_acr:
        return True
    amr = claims.get("amr")
    if not isinstance(amr, list):
        return False
    used = {m for m in amr if isinstance(m, str)}
    return any(combo <= used for combo in policy.accepted_amr if combo - {"pwd"})


def check_id_token(
    id_token: str | None,
    jwks: Mapping[str, Any],
    policy: MfaPolicy,
    *,
    now: datetime,
    expected_subject: str | None = None,
) -> Finding | None:
    """Verify ``id_token`` (signature, iss, aud, exp, age) and judge its MFA at ``now``."""
    if not id_token:
        return _finding("MFA_REQUIRED", "no_token", methods="-")
    result = verify_jwt(
        id_token,
        jwks,
        algorithms=policy.algorithms,
        issuer=policy.issuer,
        audience=policy.audience,
        now=now,
        leeway=timedelta(seconds=policy.leeway_seconds),
    )
    if isinstance(result, JwtRejected):
        code = _CODE_OF[result.problem]
        return _finding(code, f"{result.problem.value}: {result.detail}", alg=result.alg or "-")
    claims = result.claims
    if expected_subject is not None and claims.get("sub") != expected_subject:
        return _finding("MFA_TOKEN_SUBJECT", "subject")
    auth_time = claims.get("auth_time", claims.get("iat"))
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        return _finding("MFA_TOKEN_INVALID", "auth_time is not a number")
    age = int(now.timestamp() - auth_time)
    if age > policy.max_age_seconds:
        return _finding(
            "MFA_TOKEN_STALE",
            "max_age",
            "assurance.mfa.max_age_seconds",
            age_seconds=age,
            max_age_seconds=policy.max_age_seconds,
        )
    if not shows_mfa(claims, policy):
        amr = claims.get("amr")
        methods = ", ".join(str(m) for m in amr) if isinstance(amr, list) and amr else "-"
        return _finding(
            "MFA_REQUIRED", "no_mfa_method", "assurance.mfa.accepted_amr", methods=methods
        )
    return None


def check_additional_line_mfa(
    application: Application,
    holdings: Iterable[Holding],
    id_token: str | None,
    jwks: Mapping[str, Any],
    policy: AssurancePolicy,
    *,
    now: datetime,
    expected_subject: str | None = None,
) -> Finding | None:
    """None when no MFA is needed or the token proves it; else the refusing ``Finding``."""
    mfa = policy.mfa
    if mfa is None or not mfa_required(application, holdings, mfa):
        return None
    return check_id_token(id_token, jwks, mfa, now=now, expected_subject=expected_subject)
