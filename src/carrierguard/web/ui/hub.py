"""``/hub``: the cross-carrier hub operator's page: each carrier's registry and daily use.

Counts only: the hub holds tokens, never names. Signs in like the other pages; roles
admin and compliance (``xc:hub_read``). Charts are inline SVG, no script.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from carrierguard.auth import Permission, allowed
from carrierguard.contracts.report import JST
from carrierguard.errors import PermissionDenied
from carrierguard.store import crosscarrier as xc
from carrierguard.web.ui.pages import _service, _session, _to_login, render
from carrierguard.web.ui.report_charts import Series, grouped_bars, horizontal_bars

router = APIRouter()
DAYS = (1, 7, 30)


def jst(moment: datetime | None) -> str:
    """A stored time in Tokyo time (SQLite gives UTC without its zone)."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


@router.get("/hub", response_class=HTMLResponse)
def hub_page(request: Request, days: int = 7) -> Response:
    """Per carrier: tokens and lines published, last publish, use over the last ``days``."""
    session = _session(request)
    if session is None:
        return _to_login()
    if not allowed(session.user.role, Permission.XC_HUB_READ):
        raise PermissionDenied(
            f"role {session.user.role.value} may not {Permission.XC_HUB_READ.value}",
            message_ja="照会基盤の状況を見る権限がありません (admin, compliance のみ)。",
        )
    days = days if days in DAYS else 7
    today = datetime.now(JST).date()
    since = today - timedelta(days=days - 1)
    rows = xc.activity(_service(request).registry.engine, since.isoformat())
    lines_chart = grouped_bars(
        "lines by carrier",
        [r.carrier for r in rows],
        [
            Series("音声 / voice", [r.counts.voice for r in rows]),
            Series("SMS付データ / data_sms", [r.counts.data_sms for r in rows]),
            Series("データ / data", [r.counts.data for r in rows]),
        ],
    )
    queries_chart = horizontal_bars("queried tokens", [(r.carrier, r.queried) for r in rows])
    limits = getattr(request.app.state, "xc_limits", {})
    return render(
        request,
        "hub.html",
        session,
        rows=rows,
        days=days,
        day_choices=DAYS,
        since=since.isoformat(),
        lines_chart=lines_chart,
        queries_chart=queries_chart,
        limits=limits,
        evaluator=getattr(request.app.state, "xc_evaluator", None) is not None,
        jst=jst,
    )
