"""The regulator report (C9) on the web: the /reports page and the /v1/reports export.

The page signs in like the review pages (session with TOTP); the export takes an API
key. Both read the figures through ``store.report_queries`` and show them Japanese
first with English beside; charts are inline SVG drawn here, with no script.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from carrierguard.auth import Permission, allowed
from carrierguard.contracts.policy import Policy
from carrierguard.contracts.report import (
    ALL,
    COUNTED_METRICS,
    CURRENT,
    JST,
    METRICS,
    Figure,
    Report,
    ReportPeriod,
    format_value,
    to_csv,
    to_json,
)
from carrierguard.contracts.service import ScreeningService
from carrierguard.errors import InvalidInput, PermissionDenied
from carrierguard.store.report_queries import read_report
from carrierguard.web.deps import Caller, require
from carrierguard.web.ui.accounts import Session
from carrierguard.web.ui.pages import _lang, _session, _to_login, render, templates
from carrierguard.web.ui.report_charts import Series, grouped_bars, horizontal_bars

router = APIRouter()
CHANNELS = {
    "store": ("店舗", "Store"),
    "agency": ("代理店", "Agency"),
    "online": ("オンライン", "Online"),
}
BASE_COLUMNS = (*COUNTED_METRICS, "median_hours_to_decide")
BREAKDOWNS = ("approvals", "reviews", "review_reasons", "refusals", "exceptions_granted")
LABELS = {m.name: (m.label_ja, m.label_en) for m in METRICS}
#: Breakdown values other than reason codes (which stay as their stable codes).
BREAKDOWN_LABELS = {
    "at_screening": ("即時承認", "at screening"),
    "exception_granted": ("例外承認", "exception granted"),
    "submitted": ("受付", "submitted"),
    "awaiting_info": ("追加情報待ち", "awaiting info"),
    "escalated": ("本部回付中", "escalated"),
    "approved": ("承認", "approved"),
    "refused": ("拒否", "refused"),
    "withdrawn": ("取下げ", "withdrawn"),
    "no_case": ("案件なし", "no case"),
    "family": ("家族", "family"),
    "business": ("業務", "business"),
    "iot": ("IoT", "IoT"),
    "other": ("その他", "other"),
    "unspecified": ("未記入", "not given"),
    "individual": ("個人", "individual"),
    "corporate": ("法人", "corporate"),
    "multi_line": ("複数回線", "multi-line"),
    "above_cap": ("上限超過", "above cap"),
}


def label(key: str) -> tuple[str, str]:
    return BREAKDOWN_LABELS.get(key, (key, key))


def both(pair: tuple[str, str]) -> str:
    """Japanese first, English beside: the report reads the same in either page language."""
    return f"{pair[0]} / {pair[1]}"


@dataclass(frozen=True, slots=True)
class Pivot:
    """A table: one row per (month, pool, channel), one column per metric or breakdown."""

    title: tuple[str, str]
    columns: list[str]
    rows: list[tuple[tuple[str, str, str], list[str]]]


def _pivot(figures: list[Figure], metric: str | None, title: tuple[str, str]) -> Pivot:
    cells: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    columns: list[str] = []
    for f in figures:
        if f.month == CURRENT:
            continue
        if metric is None and f.breakdown == "" and f.metric in BASE_COLUMNS:
            column = f.metric
        elif f.metric == metric and f.breakdown:
            column = f.breakdown
        else:
            continue
        if column not in columns:
            columns.append(column)
        cells[(f.month, f.pool, f.channel)][column] = format_value(f.value)
    if metric is None:
        columns = [c for c in BASE_COLUMNS if c in columns]
    else:
        columns.sort()
    rows = [(key, [cells[key].get(c, "0" if metric else "") for c in columns]) for key in cells]
    return Pivot(title, columns, rows)


def _total(figures: list[Figure], metric: str, breakdown: str = "", **where: str) -> float:
    return sum(
        f.value
        for f in figures
        if f.metric == metric
        and f.breakdown == breakdown
        and all(getattr(f, k) == v for k, v in where.items())
    )


def _short(key: str) -> str:
    ja, en = label(key)
    return ja if ja == en else f"{ja} {en}"


def _charts(report: Report, policy: Policy) -> list[tuple[str, Markup]]:
    figs = [f for f in report.figures if f.month != CURRENT]
    snap = [f for f in report.figures if f.month == CURRENT]
    months = report.period.months()
    shown = ("applications", "approvals", "reviews", "refusals")
    charts = [
        (
            both(
                ("月別の申込みと判断（全区分・全チャネル）", "Applications and decisions by month")
            ),
            grouped_bars(
                "月別 / by month",
                months,
                [
                    Series(both(LABELS[m]), [_total(figs, m, month=mo, pool=ALL) for mo in months])
                    for m in shown
                ],
            ),
        ),
        (
            both(("チャネル別（期間合計）", "By channel, over the period")),
            grouped_bars(
                "チャネル別 / by channel",
                [both(v) for v in CHANNELS.values()],
                [
                    Series(
                        both(LABELS[m]), [_total(figs, m, channel=c, pool=ALL) for c in CHANNELS]
                    )
                    for m in (*shown, "escalations")
                ],
            ),
        ),
        (
            both(("回線区分別（期間合計）", "By pool, over the period")),
            grouped_bars(
                "区分別 / by pool",
                [f"{p.label_ja} / {p.label_en}" for p in policy.pools],
                [
                    Series(both(LABELS[m]), [_total(figs, m, pool=p.name) for p in policy.pools])
                    for m in shown
                ],
            ),
        ),
    ]
    for metric, title in (
        ("refusals", ("拒否理由別", "Refusals by reason code")),
        ("exceptions_granted", ("例外承認（利用目的別）", "Exceptions granted by purpose")),
    ):
        kinds = sorted({f.breakdown for f in figs if f.metric == metric and f.breakdown})
        items = [(_short(k), _total(figs, metric, k, pool=ALL)) for k in kinds]
        charts.append((both(title), horizontal_bars(both(title), items)))
    charts.append(
        (
            both(
                ("判断までの時間の中央値（時間・チャネル別）", "Median hours to decide, by channel")
            ),
            grouped_bars(
                "判断時間 / hours to decide",
                months,
                [
                    Series(
                        both(CHANNELS[c]),
                        [
                            _total(figs, "median_hours_to_decide", month=mo, pool=ALL, channel=c)
                            for mo in months
                        ],
                    )
                    for c in CHANNELS
                ],
            ),
        )
    )
    pools = {p.name: p.label_ja for p in policy.pools}
    above = [
        (f"{pools[f.pool]} · {_short(f.breakdown)}", float(f.value))
        for f in snap
        if f.metric == "holders_above_cap"
    ]
    charts.append((both(LABELS["holders_above_cap"]), horizontal_bars("above cap", above)))
    shares = [
        (f"{pools[f.pool]} · {_short(f.breakdown)}", float(f.value) * 100)
        for f in snap
        if f.metric == "actual_users_share"
    ]
    charts.append(
        (
            both(("利用者登録の割合（%）", "Share with verified actual users (%)")),
            horizontal_bars("share", shares, fmt=lambda v: f"{v:.1f}%", top_value=100),
        )
    )
    return charts


def report_context(report: Report, policy: Policy) -> dict[str, Any]:
    figs = list(report.figures)
    return {
        "report": report,
        "both": both,
        "labels": LABELS,
        "label": label,
        "metrics": METRICS,
        "channels": CHANNELS,
        "pools": {p.name: (p.label_ja, p.label_en) for p in policy.pools} | {ALL: ("全体", "All")},
        "charts": _charts(report, policy),
        "main": _pivot(
            figs, None, ("月別・区分別・チャネル別の件数", "Figures by month, pool and channel")
        ),
        "breakdowns": [_pivot(figs, m, LABELS[m]) for m in BREAKDOWNS],
        "snapshot": [f for f in figs if f.month == CURRENT],
        "fmt": format_value,
        "generated": report.generated_at.astimezone(JST).strftime("%Y-%m-%d %H:%M JST"),
    }


def render_report_html(report: Report, policy: Policy, *, standalone: bool) -> str:
    """The report as one self-contained HTML document (for ``carrierguard report``)."""
    template = templates.env.get_template("report.html")
    return template.render(standalone=standalone, lang="ja", **report_context(report, policy))


# -- routes ------------------------------------------------------------------------------
def _period(start: date | None, end: date | None, service: ScreeningService) -> ReportPeriod:
    today = service.clock().astimezone(JST).date()
    end = end or today
    if start is None:  # the twelve months that end with ``end``'s month
        year, month = (
            (end.year, end.month - 11) if end.month == 12 else (end.year - 1, end.month + 1)
        )
        start = date(year, month, 1)
    return ReportPeriod(start=start, end=end)


def _read(request: Request, period: ReportPeriod) -> tuple[Report, Policy]:
    service: ScreeningService = request.app.state.service
    report = read_report(service.registry.engine, period, service.policy, now=datetime.now(UTC))
    return report, service.policy


def _signed_in_report(
    request: Request, start: date | None, end: date | None
) -> tuple[Session, Report, Policy] | Response:
    """The session's report for the period asked (default: the last twelve months)."""
    session = _session(request)
    if session is None:
        return _to_login()
    if not allowed(session.user.role, Permission.REPORTS_READ):
        raise PermissionDenied(f"role {session.user.role.value} may not read reports")
    report, policy = _read(request, _period(start, end, request.app.state.service))
    return session, report, policy


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(
    request: Request,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    error = ""
    try:
        found = _signed_in_report(request, start, end)
    except InvalidInput as exc:  # a reversed or overlong period: say so, show the default
        error = exc.message_ja if _lang(request) == "ja" else exc.message
        found = _signed_in_report(request, None, None)
    if isinstance(found, Response):
        return found
    session, report, policy = found
    return render(
        request,
        "report.html",
        session,
        422 if error else 200,
        standalone=False,
        error=error,
        **report_context(report, policy),
    )


@router.get("/reports/export.csv", include_in_schema=False)
def reports_csv_download(
    request: Request,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    found = _signed_in_report(request, start, end)
    return found if isinstance(found, Response) else _csv_response(found[1])


def _csv_response(report: Report) -> Response:
    name = f"carrierguard-report-{report.period.start}-{report.period.end}.csv"
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/v1/reports",
    tags=["reports"],
    response_class=Response,
    responses={
        200: {
            "description": "month,pool,channel,metric,breakdown,value rows (CSV) or JSON",
            "content": {"text/csv": {}, "application/json": {}},
        }
    },
)
def reports_export(
    request: Request,
    _: Annotated[Caller, Depends(require(Permission.REPORTS_READ))],
    start: Annotated[date, Query(alias="from", description="First Tokyo date, included")],
    end: Annotated[date, Query(alias="to", description="Last Tokyo date, included")],
    fmt: Annotated[str, Query(alias="format", pattern="^(csv|json)$")] = "csv",
) -> Response:
    """規制当局向けの集計 / Regulator figures as long-form CSV or JSON (compliance, hq_reviewer, admin)."""
    report, _policy = _read(request, ReportPeriod(start=start, end=end))
    if fmt == "json":
        return Response(
            json.dumps(to_json(report), ensure_ascii=False),
            media_type="application/json",
        )
    return _csv_response(report)
