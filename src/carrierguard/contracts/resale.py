"""Pure scoring of SIM-resale signals (不正転売) from a holder's line events (MISSION C7).

``assess_resale(events, rules)`` reads what happened to the holder's lines (activations,
device changes with IMEI, SIM swaps, port-outs, usage summaries) and returns a score with
the risk flags that make it up, each explained in Japanese and English. It stores nothing
and reads no clock: the events carry their own times. ``resale_finding`` turns a risky
assessment into the ``RESALE_RISK`` review of the holder's next application.

Signals:
- lines moving to devices never seen with the holder, many within one window;
- port-out soon after activation (lines bought to be passed on);
- lines that, by their usage summaries, never contact each other or the holder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_reasons import Finding

_IMEI = re.compile(r"^\d{14,16}$")


class ActivityKind(StrEnum):
    ACTIVATION = "activation"
    DEVICE_CHANGE = "device_change"
    SIM_SWAP = "sim_swap"
    PORT_OUT = "port_out"
    USAGE_SUMMARY = "usage_summary"


def device_key(imei: str) -> str:
    """IMEI (15 digits) and IMEISV (16) of one handset share their first 14 digits."""
    return imei[:14]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineActivity:
    """One recorded event on one of the holder's lines.

    ``imei``: the handset the line is in after an activation, device change or SIM swap.
    Usage summaries count ``calls`` and ``messages`` over a period and ``holder_contacts``:
    how many of them reached the holder's registered number or the holder's other lines.
    """

    line_id: str
    kind: ActivityKind
    at: datetime
    imei: str | None = None
    calls: int = 0
    messages: int = 0
    holder_contacts: int = 0

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        if self.imei is not None and not _IMEI.match(self.imei):
            raise ValueError("imei must be 14 to 16 digits")
        if self.kind is ActivityKind.DEVICE_CHANGE and self.imei is None:
            raise ValueError("a device change names the new device's imei")
        if min(self.calls, self.messages, self.holder_contacts) < 0:
            raise ValueError("usage counts are never negative")
        if self.holder_contacts > self.calls + self.messages:
            raise ValueError("holder_contacts cannot exceed calls + messages")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResaleRules:
    """Weights and thresholds; every field is a whole number so the policy can set it."""

    window_days: int = 7
    min_unknown_device_lines: int = 3
    points_per_unknown_device_line: int = 15
    early_port_out_days: int = 30
    min_early_port_outs: int = 1
    points_per_early_port_out: int = 25
    min_isolated_lines: int = 2
    points_per_isolated_line: int = 10
    review_score: int = 60

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must not be negative")
        for name in (
            "window_days",
            "min_unknown_device_lines",
            "min_early_port_outs",
            "min_isolated_lines",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more")
        if not 1 <= self.review_score <= 100:
            raise ValueError("review_score must be between 1 and 100")


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskFlag:
    """One signal that fired: its stable code, its points, the lines behind it, and why."""

    code: str
    points: int
    lines: tuple[str, ...]
    message_ja: str
    message_en: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResaleAssessment:
    score: int
    flags: tuple[RiskFlag, ...]
    resale_risk: bool

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.flags)


def _unknown_device_lines(
    events: list[LineActivity], rules: ResaleRules, known: frozenset[str]
) -> set[str]:
    """The most lines that moved to never-seen devices within one window."""
    seen = set(known)
    moves: list[tuple[datetime, str]] = []
    for e in events:
        if e.imei is None:
            continue
        key = device_key(e.imei)
        if e.kind in (ActivityKind.DEVICE_CHANGE, ActivityKind.SIM_SWAP) and key not in seen:
            moves.append((e.at, e.line_id))
        seen.add(key)
    window = timedelta(days=rules.window_days)
    best: set[str] = set()
    start = 0
    for end, (at, _) in enumerate(moves):
        while moves[start][0] < at - window:
            start += 1
        lines = {line for _, line in moves[start : end + 1]}
        if len(lines) > len(best):
            best = lines
    return best


def _early_port_out_lines(
    events: list[LineActivity], rules: ResaleRules, known: frozenset[str]
) -> set[str]:
    activated: dict[str, datetime] = {}
    early: set[str] = set()
    limit = timedelta(days=rules.early_port_out_days)
    for e in events:
        if e.kind is ActivityKind.ACTIVATION:
            activated.setdefault(e.line_id, e.at)
        elif e.kind is ActivityKind.PORT_OUT:
            since = activated.get(e.line_id)
            if since is not None and e.at - since <= limit:
                early.add(e.line_id)
    return early


def _isolated_lines(
    events: list[LineActivity], rules: ResaleRules, known: frozenset[str]
) -> set[str]:
    traffic: dict[str, int] = {}
    contacts: dict[str, int] = {}
    for e in events:
        if e.kind is ActivityKind.USAGE_SUMMARY:
            traffic[e.line_id] = traffic.get(e.line_id, 0) + e.calls + e.messages
            contacts[e.line_id] = contacts.get(e.line_id, 0) + e.holder_contacts
    return {line for line, used in traffic.items() if used > 0 and contacts[line] == 0}


@dataclass(frozen=True, slots=True)
class _Signal:
    code: str
    lines: Callable[[list[LineActivity], ResaleRules, frozenset[str]], set[str]]
    minimum: str  # the ResaleRules field: fewest lines for the flag
    points: str  # the ResaleRules field: points per line
    ja: str
    en: str


#: The signals, in the order their flags are shown. Texts take ``n`` and the rules' fields.
_SIGNALS = (
    _Signal(
        "UNKNOWN_DEVICE_MOVES",
        _unknown_device_lines,
        "min_unknown_device_lines",
        "points_per_unknown_device_line",
        "{n}回線が{window_days}日以内に契約者と結び付きのない端末へ移りました",
        "{n} lines moved within {window_days} days to devices never seen with the holder",
    ),
    _Signal(
        "EARLY_PORT_OUT",
        _early_port_out_lines,
        "min_early_port_outs",
        "points_per_early_port_out",
        "{n}回線が開通から{early_port_out_days}日以内に他社へ転出しました",
        "{n} lines ported out within {early_port_out_days} days of activation",
    ),
    _Signal(
        "ISOLATED_LINES",
        _isolated_lines,
        "min_isolated_lines",
        "points_per_isolated_line",
        "{n}回線が契約者本人とも他の回線とも通信していません",
        "{n} lines never contact the holder or each other",
    ),
)


def assess_resale(
    events: Iterable[LineActivity], rules: ResaleRules, known_imeis: Iterable[str] = ()
) -> ResaleAssessment:
    """Score (0-100) the holder's ``events``; ``known_imeis``: devices registered to them
    (moving a line to one of those is no signal)."""
    ordered = sorted(events, key=lambda e: e.at)
    known = frozenset(device_key(imei) for imei in known_imeis)
    values = {f.name: getattr(rules, f.name) for f in fields(rules)}
    flags = []
    for signal in _SIGNALS:
        lines = signal.lines(ordered, rules, known)
        n = len(lines)
        if n and n >= values[signal.minimum]:
            flags.append(
                RiskFlag(
                    code=signal.code,
                    points=n * values[signal.points],
                    lines=tuple(sorted(lines)),
                    message_ja=signal.ja.format(n=n, **values),
                    message_en=signal.en.format(n=n, **values),
                )
            )
    score = min(100, sum(f.points for f in flags))
    return ResaleAssessment(
        score=score, flags=tuple(flags), resale_risk=score >= rules.review_score
    )


def resale_finding(assessment: ResaleAssessment) -> Finding | None:
    """``RESALE_RISK`` (review) when the assessment is risky; None otherwise."""
    if not assessment.resale_risk:
        return None
    return Finding(
        code="RESALE_RISK",
        outcome=Outcome.REVIEW,
        rule="assurance.resale.review_score",
        detail=",".join(f.code for f in assessment.flags),
        values={
            "score": assessment.score,
            "flags_ja": "、".join(f.message_ja for f in assessment.flags),
            "flags_en": "; ".join(f.message_en for f in assessment.flags),
        },
    )
