"""The cross-carrier cap (C1): lines held at other carriers count with ours. Pure.

The service asks the industry hub before the screening's transaction and passes what it
heard as ``Elsewhere`` (or None when the hub could not answer); this module turns that,
the holder's lines here and the application into a finding, like the assurance rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.decide import pool_usage
from carrierguard.contracts.lines import SimType
from carrierguard.contracts.model import Application, HolderKind, Holding
from carrierguard.contracts.policy import Policy


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """What the hub said: lines the person holds at other carriers, by SIM type."""

    lines: Mapping[SimType, int] = field(default_factory=dict)
    carriers: int = 0


@dataclass(frozen=True, slots=True)
class Unanswered:
    """The hub could not be asked or did not answer; ``why`` is for the reason text."""

    why: str


class CrossCarrierLookup(Protocol):
    """The hub, as screening sees it: never raises, answers ``Unanswered`` instead."""

    def lookup(self, identity: str) -> Elsewhere | Unanswered: ...


def applies(application: Application, policy: Policy) -> bool:
    """Whether the policy asks for a cross-carrier count for this application."""
    return policy.cross_carrier is not None and application.holder.kind is HolderKind.INDIVIDUAL


def cross_carrier_findings(
    application: Application,
    holdings: Iterable[Holding],
    heard: Elsewhere | Unanswered | None,
    policy: Policy,
) -> tuple[Finding, ...]:
    """Review findings for each pool where lines here + elsewhere + requested pass its
    cross-carrier cap (or for an unanswered hub, when the policy says so)."""
    rules = policy.cross_carrier
    if rules is None or heard is None or not applies(application, policy):
        return ()
    if isinstance(heard, Unanswered):
        if not rules.review_when_unavailable:
            return ()
        return (
            Finding(
                code="CROSS_CARRIER_UNAVAILABLE",
                outcome=Outcome.REVIEW,
                rule="cross_carrier.on_unavailable",
                detail=heard.why,
            ),
        )
    found: list[Finding] = []
    for u in pool_usage(application, holdings, policy):  # the pools the application asks of
        cap = rules.caps.get(u.pool)
        if cap is None:
            continue
        pool = policy.pool_named(u.pool)
        elsewhere = sum(heard.lines.get(sim, 0) for sim in pool.sim_types)
        total = u.held + elsewhere + u.requested
        if total > cap:
            found.append(
                Finding(
                    code="CROSS_CARRIER_CAP_EXCEEDED",
                    outcome=Outcome.REVIEW,
                    rule=f"cross_carrier.caps.{u.pool}",
                    detail=f"{total}>{cap}",
                    values={
                        "pool_ja": pool.label_ja,
                        "pool_en": pool.label_en,
                        "held": u.held,
                        "elsewhere": elsewhere,
                        "carriers": heard.carriers,
                        "requested": u.requested,
                        "cap": cap,
                    },
                )
            )
    return tuple(found)
