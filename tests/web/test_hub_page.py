"""The cross-carrier hub operator's page: each carrier's registry and use, counts only."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from carrierguard.auth import Role
from carrierguard.store import crosscarrier as xc
from carrierguard.web.ui.hub import JST
from tests.web.conftest import Api
from tests.web.test_pages import PASSWORD, login


def sign_in(api: Api, role: Role, name: str) -> None:
    accounts = api.client.app.state.accounts  # type: ignore[attr-defined]
    secret = accounts.create_user(name, role, PASSWORD, datetime.now(UTC)).totp_secret
    assert login(api, name, pyotp.TOTP(secret).now()) == 303


def test_hub_page_shows_each_carrier_and_no_identity(api: Api) -> None:
    engine = api.client.app.state.service.registry.engine  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    xc.publish(engine, "carrier-a", [("a" * 64, xc.Counts(5, 0, 2)), ("b" * 64, xc.Counts(1))], now)
    xc.publish(engine, "carrier-b", [("a" * 64, xc.Counts(3))], now)
    today = datetime.now(JST).date().isoformat()
    assert xc.charge(engine, "carrier-b", today, "queried", 42, None) == 42
    assert api.client.get("/hub", follow_redirects=False).status_code == 303  # sign in first
    sign_in(api, Role.ADMIN, "hubadmin")
    page = api.client.get("/hub")
    assert page.status_code == 200
    assert "他社回線数の照会基盤" in page.text and "<svg" in page.text
    assert 'data-carrier="carrier-a"' in page.text and 'data-queried="42"' in page.text
    row_a = page.text.split('data-carrier="carrier-a"')[1].split("</tr>")[0]
    assert "<td>2</td><td>6</td>" in row_a  # two tokens, six voice lines
    assert "a" * 64 not in page.text  # tokens are not shown either
    assert 'href="/hub"' in page.text  # in the navigation for this role


def test_hub_page_is_refused_to_other_roles(api: Api) -> None:
    sign_in(api, Role.CLERK, "clerk1")
    page = api.client.get("/hub")
    assert page.status_code == 403
    assert 'href="/hub"' not in api.client.get("/cases").text
