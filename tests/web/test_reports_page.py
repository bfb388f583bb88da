"""The regulator report on the web: /v1/reports with a key, /reports with a session."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pyotp
from fastapi.testclient import TestClient

from carrierguard.auth import Role
from carrierguard.contracts.report import JST
from tests.web.conftest import Api
from tests.web.test_api import BODY

PASSWORD = "correct horse battery staple"


def period() -> str:
    today = datetime.now(UTC).astimezone(JST).date()
    return f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"


def month() -> str:
    return datetime.now(UTC).astimezone(JST).strftime("%Y-%m")


def some_applications(api: Api) -> None:
    """Two store approvals and one agency burst, which is escalated to headquarters."""
    for name in ("高橋 一郎", "佐藤 花子"):
        holder = BODY["holder"] | {"name": name}
        r = api.client.post(
            "/v1/applications", json=BODY | {"holder": holder}, headers=api.headers(Role.CLERK)
        )
        assert r.json()["decision"] == "approve"
    burst = BODY | {"channel": "agency", "lines": [{"sim_type": "data"}] * 3}
    r = api.client.post("/v1/applications", json=burst, headers=api.headers(Role.AGENCY_CLERK))
    assert r.json()["decision"] == "review"


def figures(body: str) -> dict[tuple[str, ...], str]:
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["month", "pool", "channel", "metric", "breakdown", "value"]
    return {tuple(r[:5]): r[5] for r in rows[1:]}


def sign_in(api: Api, role: Role, username: str) -> TestClient:
    """A web user of ``role`` signed in with password and TOTP; the client keeps the cookie."""
    accounts = api.client.app.state.accounts  # type: ignore[attr-defined]
    secret = accounts.create_user(username, role, PASSWORD, datetime.now(UTC)).totp_secret
    client = api.client
    client.cookies.clear()
    client.get("/login")
    csrf = client.cookies.get("cg_login_csrf")
    code = pyotp.TOTP(secret).now()
    form = {"username": username, "password": PASSWORD, "code": code, "csrf": csrf}
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def test_compliance_key_gets_the_csv_with_each_figure(api: Api) -> None:
    """CSV by month, pool and channel: store 2 approvals, agency 1 review and 1 escalation."""
    some_applications(api)
    r = api.client.get(f"/v1/reports?{period()}", headers=api.headers(Role.COMPLIANCE))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    got = figures(r.text)
    m = month()
    assert got[(m, "all", "store", "applications", "")] == "2"
    assert got[(m, "voice", "store", "approvals", "at_screening")] == "2"
    assert got[(m, "data", "agency", "reviews", "escalated")] == "1"
    assert got[(m, "all", "agency", "escalations", "")] == "1"
    assert got[("current", "voice", "all", "multi_line_holders", "")] == "0"


def test_json_holds_the_same_figures_and_their_definitions(api: Api) -> None:
    """format=json carries the CSV's rows and a definition of every metric."""
    some_applications(api)
    headers = api.headers(Role.HQ_REVIEWER)
    as_csv = figures(api.client.get(f"/v1/reports?{period()}", headers=headers).text)
    body = api.client.get(f"/v1/reports?{period()}&format=json", headers=headers).json()
    as_json = {
        (f["month"], f["pool"], f["channel"], f["metric"], f["breakdown"]): float(f["value"])
        for f in body["figures"]
    }
    assert as_json == {key: float(value) for key, value in as_csv.items()}
    assert body["time_zone"] == "Asia/Tokyo"
    assert all(m["definition_ja"] and m["definition_en"] for m in body["metrics"])


def test_only_reporting_roles_may_read_the_report(api: Api) -> None:
    """No key: 401; clerk and agency keys: 403; compliance, reviewer and admin: 200."""
    url = f"/v1/reports?{period()}"
    assert api.client.get(url).status_code == 401
    for role in (Role.CLERK, Role.AGENCY_CLERK, Role.MONITOR):
        assert api.client.get(url, headers=api.headers(role)).status_code == 403, role
    for role in (Role.COMPLIANCE, Role.HQ_REVIEWER, Role.ADMIN):
        assert api.client.get(url, headers=api.headers(role)).status_code == 200, role


def test_a_reversed_period_or_unknown_format_is_a_422(api: Api) -> None:
    """The period must not end before it starts; the format is csv or json."""
    headers = api.headers(Role.COMPLIANCE)
    r = api.client.get("/v1/reports?from=2026-10-01&to=2026-09-01", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    r = api.client.get(f"/v1/reports?{period()}&format=xml", headers=headers)
    assert r.status_code == 422


def test_reports_page_sends_a_visitor_to_the_login(api: Api) -> None:
    """Without a session the page redirects to /login."""
    r = api.client.get("/reports", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_compliance_officer_sees_svg_charts_and_tables(api: Api) -> None:
    """Signed in, the page shows inline SVG charts, the tables and a CSV download."""
    some_applications(api)
    client = sign_in(api, Role.COMPLIANCE, "kansa")
    r = client.get(f"/reports?{period()}")
    assert r.status_code == 200, r.text
    page = r.text
    assert page.count("<svg") >= 6 and "<table" in page
    assert "申込件数" in page and "Applications" in page and "例外審査" in page
    download = client.get(f"/reports/export.csv?{period()}")
    assert download.status_code == 200
    assert figures(download.text)[(month(), "all", "store", "applications", "")] == "2"


def test_default_page_covers_the_last_twelve_months(api: Api) -> None:
    """Without dates the page shows the twelve months up to today (Tokyo)."""
    client = sign_in(api, Role.HQ_REVIEWER, "honbu")
    page = client.get("/reports").text
    today = datetime.now(UTC).astimezone(JST).date()
    assert f"– {today}" in page


def test_a_clerk_session_cannot_open_the_reports(api: Api) -> None:
    """A store clerk signed in to the pages gets 403 on /reports."""
    client = sign_in(api, Role.CLERK, "tenpo")
    assert client.get("/reports").status_code == 403


def test_a_reversed_period_on_the_page_is_explained_not_a_crash(api: Api) -> None:
    """The page answers 422 with the reason and still shows the default period."""
    client = sign_in(api, Role.COMPLIANCE, "kansa")
    r = client.get("/reports?from=2026-10-01&to=2026-09-01")
    assert r.status_code == 422
    assert "より前です" in r.text and "<svg" in r.text
