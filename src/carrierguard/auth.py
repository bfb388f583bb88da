"""API keys and roles: who may call what.

An API key reads ``cg_<prefix>_<secret>``. Only the SHA-256 of the secret is stored
(the secret has 256 bits of entropy, so a slow hash adds nothing); the prefix finds
the row. ``PERMISSIONS`` is the one table of which role may do what.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from carrierguard.errors import AuthenticationFailed

KEY_SCHEME = "cg"


class Role(StrEnum):
    CLERK = "clerk"  # carrier store or online shop
    AGENCY_CLERK = "agency_clerk"  # sales agency: may only submit agency applications
    HQ_REVIEWER = "hq_reviewer"  # headquarters exception review
    COMPLIANCE = "compliance"  # regulator figures
    ADMIN = "admin"  # keys and policy
    MONITOR = "monitor"  # Prometheus scraping only
    SYSTEM = "system"  # the carrier's network systems: line events, customer settings
    MAIL_OPERATOR = "mail_operator"  # mail operations: quarantine, release, feedback
    CARRIER_PEER = "carrier_peer"  # another carrier, at the cross-carrier hub (tokens only)


class Permission(StrEnum):
    APPLICATIONS_CREATE = "applications:create"
    APPLICATIONS_READ = "applications:read"
    HOLDERS_READ = "holders:read"
    LINES_TERMINATE = "lines:terminate"
    METRICS_READ = "metrics:read"
    KEYS_MANAGE = "keys:manage"
    CASES_READ = "cases:read"
    CASES_SUPPLY = "cases:supply"  # purpose, pledge, actual users; escalate; withdraw
    CASES_DECIDE = "cases:decide"  # request info, approve, refuse
    REPORTS_READ = "reports:read"
    AUDIT_READ = "audit:read"
    POLICY_CHANGE = "policy:change"
    EVENTS_RECORD = "events:record"
    # Held mail is the content of communications (通信の秘密): only mail operators see it.
    QUARANTINE_READ = "quarantine:read"
    QUARANTINE_RELEASE = "quarantine:release"  # release and feedback
    RECIPIENTS_MANAGE = "recipients:manage"  # filter strength per recipient, awareness list
    MAIL_FIGURES_READ = "mail_figures:read"  # false-block figures (counts only, no content)
    XC_EVALUATE = "xc:evaluate"  # the hub's VOPRF evaluation of blinded identity keys
    XC_REGISTRY = "xc:registry"  # publish and query line counts per token
    XC_HUB_READ = "xc:hub_read"  # the hub operator's view of each carrier's registry and use


_R = Role
PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.APPLICATIONS_CREATE: frozenset({_R.CLERK, _R.AGENCY_CLERK}),
    Permission.APPLICATIONS_READ: frozenset(
        {_R.CLERK, _R.AGENCY_CLERK, _R.HQ_REVIEWER, _R.COMPLIANCE, _R.ADMIN}
    ),
    Permission.HOLDERS_READ: frozenset({_R.CLERK, _R.HQ_REVIEWER, _R.COMPLIANCE, _R.ADMIN}),
    Permission.LINES_TERMINATE: frozenset({_R.CLERK, _R.ADMIN}),
    Permission.METRICS_READ: frozenset({_R.MONITOR, _R.ADMIN}),
    Permission.KEYS_MANAGE: frozenset({_R.ADMIN}),
    Permission.CASES_READ: frozenset(
        {_R.CLERK, _R.AGENCY_CLERK, _R.HQ_REVIEWER, _R.COMPLIANCE, _R.ADMIN}
    ),
    Permission.CASES_SUPPLY: frozenset({_R.CLERK, _R.AGENCY_CLERK}),
    Permission.CASES_DECIDE: frozenset({_R.HQ_REVIEWER}),
    Permission.REPORTS_READ: frozenset({_R.COMPLIANCE, _R.HQ_REVIEWER, _R.ADMIN}),
    Permission.AUDIT_READ: frozenset({_R.COMPLIANCE, _R.ADMIN}),
    Permission.POLICY_CHANGE: frozenset({_R.ADMIN}),
    Permission.EVENTS_RECORD: frozenset({_R.CLERK, _R.SYSTEM}),
    Permission.QUARANTINE_READ: frozenset({_R.MAIL_OPERATOR}),
    Permission.QUARANTINE_RELEASE: frozenset({_R.MAIL_OPERATOR}),
    Permission.RECIPIENTS_MANAGE: frozenset({_R.MAIL_OPERATOR, _R.SYSTEM}),
    Permission.MAIL_FIGURES_READ: frozenset({_R.MAIL_OPERATOR, _R.COMPLIANCE, _R.ADMIN}),
    Permission.XC_EVALUATE: frozenset({_R.CARRIER_PEER}),
    Permission.XC_REGISTRY: frozenset({_R.CARRIER_PEER}),
    Permission.XC_HUB_READ: frozenset({_R.ADMIN, _R.COMPLIANCE}),
}


def allowed(role: Role, permission: Permission) -> bool:
    return role in PERMISSIONS[permission]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as issued: ``token`` is shown once, only ``secret_hash`` is stored."""

    prefix: str
    token: str
    secret_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_key() -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(prefix, f"{KEY_SCHEME}_{prefix}_{secret}", hash_secret(secret))


def split_token(token: str) -> tuple[str, str]:
    """(prefix, secret) of a presented token; raise if it is not one of ours."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        raise AuthenticationFailed("malformed API key")
    if not parts[2].isascii():
        raise AuthenticationFailed("malformed API key")
    return parts[1], parts[2]


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
