"""Regulator figures (MISSION C9): pure arithmetic over tallies the store aggregated.

The store groups the registry's rows in the database and hands over small tallies
(``ApplicationTally``, ``HoldingTally``); this module turns them into ``Figure`` rows
by month, pool and channel, and writes them as long-form CSV. No database, no clock.

Definitions (they are also in ``METRICS`` so that every output can show them):
- A month is the Asia/Tokyo calendar month of ``applications.created_at``; the period
  is a range of Tokyo dates, both ends included. Case figures follow their application.
- An application counts in every pool it asked lines of (as recorded at decision time)
  and once in pool ``all``.
- Holder figures (``month`` = ``current``, ``channel`` = ``all``) describe the registry
  now: a holder's counted lines per pool under the active policy.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from carrierguard.contracts.model import HolderKind
from carrierguard.contracts.policy import Policy
from carrierguard.errors import InvalidInput

#: Japan keeps no daylight saving time, so a fixed offset is Asia/Tokyo exactly.
JST = timezone(timedelta(hours=9), "JST")
ALL = "all"
CURRENT = "current"
CSV_COLUMNS = ("month", "pool", "channel", "metric", "breakdown", "value")
#: Figures over more months than this are refused (a mistyped year, not a report).
MAX_MONTHS = 120


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label_ja: str
    label_en: str
    definition_ja: str
    definition_en: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "applications",
        "申込件数",
        "Applications",
        "期間内に受け付けた申込みの件数。",
        "Applications received in the period.",
    ),
    Metric(
        "approvals",
        "承認",
        "Approvals",
        "最終的に承認された申込み。内訳: at_screening（上限内で即時承認）、"
        "exception_granted（例外審査で承認）。",
        "Applications finally approved. Breakdown: at_screening (within the caps), "
        "exception_granted (approved in exception review).",
    ),
    Metric(
        "reviews",
        "例外審査",
        "Exception reviews",
        "上限超過などで例外審査に回った申込み。内訳は案件の現在の状態。",
        "Applications sent to exception review (over a cap, or a burst). "
        "Breakdown: the case's current state.",
    ),
    Metric(
        "review_reasons",
        "例外審査の主な理由",
        "Main reasons for review",
        "例外審査に回った申込みを、審査時の最初の理由コードで分けた件数（例: LINE_CAP_EXCEEDED、"
        "他社分を含む上限超過の CROSS_CARRIER_CAP_EXCEEDED、BURST_NEW_LINES）。",
        "Applications sent to review, by the first reason code of the screening decision "
        "(e.g. LINE_CAP_EXCEEDED, CROSS_CARRIER_CAP_EXCEEDED for the cap counted across "
        "carriers, BURST_NEW_LINES).",
    ),
    Metric(
        "refusals",
        "拒否",
        "Refusals",
        "最終的に拒否された申込み。内訳は理由コード（審査時の拒否は最も重い理由、"
        "本部の拒否はその理由コード）。",
        "Applications finally refused. Breakdown: the reason code (at screening the most "
        "severe reason; after review the headquarters' refusal code).",
    ),
    Metric(
        "exceptions_granted",
        "例外承認",
        "Exceptions granted",
        "承認された例外案件。内訳は利用目的の区分。",
        "Exception cases approved. Breakdown: the purpose category.",
    ),
    Metric(
        "escalations",
        "本部回付",
        "Escalations",
        "代理店から本部に回付された申込み、または案件が本部に回付されたことのある申込み。",
        "Applications escalated to headquarters by the decision (agency) or later by the case.",
    ),
    Metric(
        "cases_decided",
        "判断済み案件",
        "Cases decided",
        "承認または拒否の判断が済んだ例外案件。",
        "Exception cases approved or refused.",
    ),
    Metric(
        "median_hours_to_decide",
        "判断までの時間（中央値・時間）",
        "Median hours to decide",
        "判断済み案件の、案件作成から判断までの時間の中央値（時間）。",
        "Median time from a case's creation to its decision, in hours, over decided cases.",
    ),
    Metric(
        "holders_above_cap",
        "上限超過の契約者",
        "Holders above the cap",
        "現在、区分の計上回線数が契約者種別の上限（cap）を超える契約者数。内訳は契約者種別。",
        "Holders whose counted lines in the pool are now above their kind's cap. "
        "Breakdown: holder kind.",
    ),
    Metric(
        "holders_above_hard_cap",
        "絶対上限超過の契約者",
        "Holders above the hard cap",
        "現在、計上回線数が絶対上限（hard_cap）を超える契約者数（移行データ等）。",
        "Holders whose counted lines are now above the hard cap (e.g. imported books).",
    ),
    Metric(
        "multi_line_holders",
        "複数回線の契約者",
        "Multi-line holders",
        "現在、区分の計上回線を2回線以上持つ契約者数。",
        "Holders who now have 2 or more counted lines in the pool.",
    ),
    Metric(
        "holders_with_verified_actual_users",
        "利用者登録済みの契約者",
        "Holders with verified actual users",
        "本人確認済みの実際の利用者が1名以上登録された契約者数。内訳: multi_line"
        "（2回線以上の契約者のうち）、above_cap（上限超過の契約者のうち）。",
        "Holders with at least one identity-verified actual user registered. Breakdown: "
        "multi_line (of the multi-line holders), above_cap (of the holders above the cap).",
    ),
    Metric(
        "actual_users_share",
        "利用者登録の割合",
        "Share with actual users",
        "上の契約者数を母数（複数回線または上限超過の契約者数）で割った割合（0〜1）。",
        "The holders above divided by their base (multi-line or above-cap holders), 0 to 1.",
    ),
)
METRIC_ORDER = {m.name: i for i, m in enumerate(METRICS)}
#: Shown for every (month, pool, channel) group, zero included.
COUNTED_METRICS = (
    "applications",
    "approvals",
    "reviews",
    "refusals",
    "exceptions_granted",
    "escalations",
    "cases_decided",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPeriod:
    """A range of Tokyo calendar dates, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput(
                f"the period ends ({self.end}) before it starts ({self.start})",
                message_ja=f"期間の終了日（{self.end}）が開始日（{self.start}）より前です。",
            )
        if len(self.months()) > MAX_MONTHS:
            raise InvalidInput(
                f"the period spans more than {MAX_MONTHS} months",
                message_ja=f"期間は{MAX_MONTHS}か月以内にしてください。",
            )

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00 JST, the day after end 00:00 JST) in UTC."""
        lo = datetime.combine(self.start, time(), JST).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(), JST).astimezone(UTC)
        return lo, hi

    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


def tokyo_month(moment: datetime) -> str:
    """The Asia/Tokyo month (YYYY-MM) of an aware ``moment``."""
    return moment.astimezone(JST).strftime("%Y-%m")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationTally:
    """``count`` applications that share every other field (one group of the store's query)."""

    month: str
    channel: str
    pools: tuple[str, ...]
    outcome: str  # approve | review | refuse, at screening
    state: str  # approved | in_review | refused | withdrawn, now
    primary_code: str | None  # the first (most severe) reason of the screening decision
    escalated: bool
    case_state: str | None
    purpose: str | None
    decision_code: str | None
    decide_seconds: int | None  # case created -> decided, for decided cases
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldingTally:
    """``holders`` holders of ``kind`` with ``lines`` counted lines in ``pool``."""

    pool: str
    kind: str
    lines: int
    verified_actual_users: bool
    holders: int


@dataclass(frozen=True, slots=True)
class Figure:
    month: str
    pool: str
    channel: str
    metric: str
    breakdown: str
    value: int | float

    def row(self) -> tuple[str, str, str, str, str, int | float]:
        return (self.month, self.pool, self.channel, self.metric, self.breakdown, self.value)

    def sort_key(self) -> tuple[int, str, int, str, str, int, str]:
        return (
            self.month == CURRENT,
            self.month,
            self.pool == ALL,
            self.pool,
            self.channel,
            METRIC_ORDER.get(self.metric, len(METRICS)),
            self.breakdown,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    period: ReportPeriod
    generated_at: datetime
    policy_source: str
    figures: tuple[Figure, ...]


Key = tuple[str, str, str]


def weighted_median(histogram: Mapping[int, int]) -> float:
    """The median of values given as value -> how many times (mean of the middle two if even)."""
    total = sum(histogram.values())
    if total <= 0:
        raise ValueError("no values")
    wanted = [(total - 1) // 2, total // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return (found[0] + found[1]) / 2


def application_figures(tallies: Iterable[ApplicationTally]) -> list[Figure]:
    """Per month, pool and channel: the application, decision and case figures."""
    counts: Counter[tuple[Key, str, str]] = Counter()
    groups: set[Key] = set()
    durations: defaultdict[Key, Counter[int]] = defaultdict(Counter)
    for t in tallies:
        n = t.count
        for pool in (*t.pools, ALL):
            key = (t.month, pool, t.channel)
            groups.add(key)
            counts[key, "applications", ""] += n
            if t.state == "approved":
                counts[key, "approvals", ""] += n
                how = "at_screening" if t.outcome == "approve" else "exception_granted"
                counts[key, "approvals", how] += n
            if t.outcome == "review":
                counts[key, "reviews", ""] += n
                counts[key, "reviews", t.case_state or "no_case"] += n
                counts[key, "review_reasons", t.primary_code or "UNSPECIFIED"] += n
            if t.state == "refused":
                code = t.primary_code if t.outcome == "refuse" else t.decision_code
                counts[key, "refusals", ""] += n
                counts[key, "refusals", code or "UNSPECIFIED"] += n
            if t.case_state == "approved":
                counts[key, "exceptions_granted", ""] += n
                counts[key, "exceptions_granted", t.purpose or "unspecified"] += n
            if t.escalated:
                counts[key, "escalations", ""] += n
            if t.decide_seconds is not None:
                counts[key, "cases_decided", ""] += n
                durations[key][t.decide_seconds] += n
    out = [
        Figure(*key, metric, "", counts[key, metric, ""])
        for key in groups
        for metric in COUNTED_METRICS
    ]
    out += [
        Figure(*key, metric, breakdown, value)
        for (key, metric, breakdown), value in counts.items()
        if breakdown and value
    ]
    out += [
        Figure(*key, "median_hours_to_decide", "", round(weighted_median(hist) / 3600, 2))
        for key, hist in durations.items()
    ]
    return out


def holding_figures(tallies: Iterable[HoldingTally], policy: Policy) -> list[Figure]:
    """Per pool, now: holders above the caps, multi-line holders, and their actual users."""
    above: Counter[tuple[str, str]] = Counter()
    above_hard: Counter[tuple[str, str]] = Counter()
    base: Counter[tuple[str, str]] = Counter()  # (pool, multi_line | above_cap)
    verified: Counter[tuple[str, str]] = Counter()
    names = {p.name for p in policy.pools}
    for t in tallies:
        if t.pool not in names:
            continue
        cap = policy.pool_named(t.pool).cap_for(HolderKind(t.kind))
        bases = []
        if t.lines >= 2:
            bases.append("multi_line")
        if cap.cap is not None and t.lines > cap.cap:
            above[t.pool, t.kind] += t.holders
            bases.append("above_cap")
        if cap.hard_cap is not None and t.lines > cap.hard_cap:
            above_hard[t.pool, t.kind] += t.holders
        for b in bases:
            base[t.pool, b] += t.holders
            if t.verified_actual_users:
                verified[t.pool, b] += t.holders
    out: list[Figure] = []
    for pool in policy.pools:
        where = (CURRENT, pool.name, ALL)
        for kind in HolderKind:
            cap = pool.cap_for(kind)
            if cap.cap is not None:
                out.append(Figure(*where, "holders_above_cap", kind.value, above[pool.name, kind]))
            if cap.hard_cap is not None:
                out.append(
                    Figure(
                        *where, "holders_above_hard_cap", kind.value, above_hard[pool.name, kind]
                    )
                )
        out.append(Figure(*where, "multi_line_holders", "", base[pool.name, "multi_line"]))
        for b in ("multi_line", "above_cap"):
            out.append(
                Figure(*where, "holders_with_verified_actual_users", b, verified[pool.name, b])
            )
            if base[pool.name, b]:
                share = round(verified[pool.name, b] / base[pool.name, b], 4)
                out.append(Figure(*where, "actual_users_share", b, share))
    return out


def build_report(
    period: ReportPeriod,
    applications: Iterable[ApplicationTally],
    holdings: Iterable[HoldingTally],
    policy: Policy,
    *,
    generated_at: datetime,
) -> Report:
    figures = application_figures(applications) + holding_figures(holdings, policy)
    return Report(
        period=period,
        generated_at=generated_at,
        policy_source=policy.source,
        figures=tuple(sorted(figures, key=Figure.sort_key)),
    )


def format_value(value: int | float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def to_csv(report: Report) -> str:
    """Long form: a header row, then ``month,pool,channel,metric,breakdown,value`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.figures:
        writer.writerow((*f.row()[:-1], format_value(f.value)))
    return buffer.getvalue()


def to_json(report: Report) -> dict[str, object]:
    return {
        "period": {"from": report.period.start.isoformat(), "to": report.period.end.isoformat()},
        "time_zone": "Asia/Tokyo",
        "generated_at": report.generated_at.isoformat(),
        "policy": report.policy_source,
        "columns": list(CSV_COLUMNS),
        "figures": [dict(zip(CSV_COLUMNS, f.row(), strict=True)) for f in report.figures],
        "metrics": [
            {
                "name": m.name,
                "label_ja": m.label_ja,
                "label_en": m.label_en,
                "definition_ja": m.definition_ja,
                "definition_en": m.definition_en,
            }
            for m in METRICS
        ],
    }
