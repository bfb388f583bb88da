"""The pure screening decision: ``decide(application, holdings, policy) -> Decision``.

No database, network, clock or randomness: the business date comes in on the
application, the holder's lines come in as ``holdings``. Severity only grows with
what the holder holds, so adding lines can never turn a refusal into an approval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.lines import LineState
from carrierguard.contracts.model import (
    Application,
    Channel,
    Decision,
    Holding,
    PoolUsage,
    Reason,
)
from carrierguard.contracts.policy import LineCapPool, Policy
from carrierguard.contracts.reasons import reason

_SEVERITY = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.REFUSE: 2}


def pool_usage(
    application: Application, holdings: Iterable[Holding], policy: Policy
) -> tuple[PoolUsage, ...]:
    """Per pool touched by the application: counted lines held, lines asked for, and caps."""
    held: Counter[str] = Counter()
    for h in holdings:
        if policy.counts(h.state):
            held[policy.pool_of(h.sim_type).name] += 1
    asked: Counter[str] = Counter(policy.pool_of(r.sim_type).name for r in application.lines)
    usage = []
    for pool in policy.pools:
        if asked[pool.name]:
            cap = pool.cap_for(application.holder.kind)
            usage.append(
                PoolUsage(
                    pool=pool.name,
                    held=held[pool.name],
                    requested=asked[pool.name],
                    cap=cap.cap,
                    hard_cap=cap.hard_cap,
                )
            )
    return tuple(usage)


ESCALATED = "EXCEPTION_ESCALATED_TO_HQ"


def settle(
    fired: Iterable[tuple[Outcome, Reason]], *, channel: Channel, agency_may_approve: bool
) -> tuple[Outcome, tuple[Reason, ...], bool]:
    """The worst outcome of the rules that fired, its reasons and whether it escalates.

    Only what stopped an approval is worth stating, the worst first; an agency's review
    goes to headquarters unless the policy lets agencies approve exceptions.
    """
    ranked = list(fired)
    outcome = max((o for o, _ in ranked), key=_SEVERITY.__getitem__)
    if outcome is not Outcome.APPROVE:
        ranked = [f for f in ranked if f[0] is not Outcome.APPROVE]
    ranked.sort(key=lambda f: -_SEVERITY[f[0]])
    reasons = [r for _, r in ranked]
    escalate = outcome is Outcome.REVIEW and channel is Channel.AGENCY and not agency_may_approve
    if escalate:
        reasons.append(reason(ESCALATED, "exceptions.agency_may_approve"))
    return outcome, tuple(reasons), escalate


def _pool_reason(pool: LineCapPool, u: PoolUsage) -> tuple[Outcome, Reason]:
    values = {
        "pool_ja": pool.label_ja,
        "pool_en": pool.label_en,
        "held": u.held,
        "requested": u.requested,
        "cap": u.cap,
        "hard_cap": u.hard_cap,
    }
    rule = f"pools.{pool.name}"
    if u.hard_cap is not None and u.total > u.hard_cap:
        return Outcome.REFUSE, reason("LINE_HARD_CAP_EXCEEDED", f"{rule}.hard_cap", **values)
    if u.cap is not None and u.total > u.cap:
        return Outcome.REVIEW, reason("LINE_CAP_EXCEEDED", f"{rule}.cap", **values)
    if u.cap is None and u.hard_cap is None:
        return Outcome.APPROVE, reason("NO_CAP_FOR_POOL", rule, **values)
    shown = u.cap if u.cap is not None else u.hard_cap
    return Outcome.APPROVE, reason(
        "APPROVED_WITHIN_CAP", f"{rule}.cap", **(values | {"cap": shown})
    )


def _new_lines(application: Application, holdings: Iterable[Holding], window_days: int) -> int:
    since = application.applied_on - timedelta(days=window_days)
    recent = sum(
        1
        for h in holdings
        if h.opened_on is not None and h.opened_on > since and h.state is not LineState.TERMINATED
    )
    return recent + len(application.lines)


def decide(application: Application, holdings: Iterable[Holding], policy: Policy) -> Decision:
    """Approve, review or refuse ``application`` given the holder's ``holdings`` and ``policy``."""
    held = tuple(holdings)
    usage = pool_usage(application, held, policy)
    fired = [_pool_reason(policy.pool_named(u.pool), u) for u in usage]

    requires_actual_users = False
    burst = policy.burst
    if burst is not None and application.holder.kind in burst.holder_kinds:
        new = _new_lines(application, held, burst.window_days)
        if new >= burst.min_new_lines:
            requires_actual_users = burst.requires_actual_users
            fired.append(
                (
                    Outcome.REVIEW,
                    reason(
                        "BURST_NEW_LINES",
                        "burst",
                        new_lines=new,
                        window_days=burst.window_days,
                        min_new_lines=burst.min_new_lines,
                    ),
                )
            )

    outcome, reasons, escalate = settle(
        fired, channel=application.channel, agency_may_approve=policy.agency_may_approve
    )
    return Decision(
        outcome=outcome,
        reasons=reasons,
        usage=usage,
        escalate_to_hq=escalate,
        requires_actual_users=requires_actual_users and outcome is Outcome.REVIEW,
    )
