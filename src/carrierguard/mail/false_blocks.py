"""False blocking (誤遮断, M4) as people reported it: held mail later labelled "not phishing".

Pure: quarantine entries in, figures out (the database quarantine counts the same
figures with one SQL aggregate and builds the report with ``report``). A held message counts as a confirmed false
block when an operator labelled it ``not_phishing``; one labelled ``phishing`` is a
confirmed catch; the rest are unreviewed. The confirmed rate is a lower bound of the true
one (unreviewed mail may hide more), the rate among reviewed messages an estimate of it;
both are given per reason code, so that the rule that blocks wrongly can be found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the quarantine module imports this one
    from carrierguard.mail.quarantine import QuarantineEntry

NO_REASON = "NONE"  # the code a held message without reasons is counted under


@dataclass(frozen=True, slots=True)
class ReasonFigures:
    code: str
    held: int
    false_blocks: int
    catches: int

    @property
    def reviewed(self) -> int:
        return self.false_blocks + self.catches

    @property
    def rate_among_reviewed(self) -> float | None:
        return self.false_blocks / self.reviewed if self.reviewed else None


@dataclass(frozen=True, slots=True)
class FalseBlockReport:
    since: datetime
    until: datetime
    held: int = 0
    false_blocks: int = 0
    catches: int = 0
    released: int = 0
    by_reason: tuple[ReasonFigures, ...] = field(default=())

    @property
    def reviewed(self) -> int:
        return self.false_blocks + self.catches

    @property
    def confirmed_rate(self) -> float | None:
        """Confirmed false blocks over all held mail: a lower bound."""
        return self.false_blocks / self.held if self.held else None

    @property
    def rate_among_reviewed(self) -> float | None:
        return self.false_blocks / self.reviewed if self.reviewed else None


def summarise(
    entries: Iterable[QuarantineEntry], since: datetime, until: datetime
) -> FalseBlockReport:
    """Figures for the messages held in [since, until)."""
    lo, hi = since.isoformat(timespec="seconds"), until.isoformat(timespec="seconds")
    held = false_blocks = catches = released = 0
    per_held: Counter[str] = Counter()
    per_false: Counter[str] = Counter()
    per_catch: Counter[str] = Counter()
    for entry in entries:
        if not lo <= entry.received_at < hi:
            continue
        held += 1
        released += entry.state == "released"
        codes = set(entry.reasons) or {NO_REASON}
        per_held.update(codes)
        if entry.feedback == "not_phishing":
            false_blocks += 1
            per_false.update(codes)
        elif entry.feedback == "phishing":
            catches += 1
            per_catch.update(codes)
    per_reason = [
        ReasonFigures(code, n, per_false[code], per_catch[code]) for code, n in per_held.items()
    ]
    return report(since, until, held, false_blocks, catches, released, per_reason)


def report(
    since: datetime,
    until: datetime,
    held: int,
    false_blocks: int,
    catches: int,
    released: int,
    per_reason: Iterable[ReasonFigures],
) -> FalseBlockReport:
    """The report from counted figures, reasons most held first (then by code)."""
    reasons = tuple(sorted(per_reason, key=lambda r: (-r.held, r.code)))
    return FalseBlockReport(since, until, held, false_blocks, catches, released, reasons)
