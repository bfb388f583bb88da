"""The review pages without a browser: TOTP login, CSRF, the case page's identity candidates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp

from carrierguard.auth import Role
from tests.web.conftest import Api
from tests.web.test_api import BODY

PASSWORD = "a long enough password"


def reviewer(api: Api, name: str = "rev1") -> str:
    accounts = api.client.app.state.accounts
    return str(
        accounts.create_user(name, Role.HQ_REVIEWER, PASSWORD, datetime.now(UTC)).totp_secret
    )


def login(api: Api, username: str, code: str) -> int:
    form = api.client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    r = api.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "code": code, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    return r.status_code


def test_login_needs_the_right_totp_code_and_refuses_a_replay(api: Api) -> None:
    """A wrong code fails; the right one signs in; the same code again is refused."""
    secret = reviewer(api)
    assert login(api, "rev1", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111") == 401
    code = pyotp.TOTP(secret).now()
    assert login(api, "rev1", code) == 303
    api.client.cookies.clear()
    assert login(api, "rev1", code) == 401


def test_pages_redirect_to_login_without_a_session(api: Api) -> None:
    """The queue sends an anonymous visitor to the login page."""
    r = api.client.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_decision_without_the_csrf_token_is_refused(api: Api) -> None:
    """A cross-site form post (wrong CSRF token) cannot decide a case."""
    secret = reviewer(api)
    assert login(api, "rev1", pyotp.TOTP(secret).now()) == 303
    r = api.client.post(
        "/cases/1/decision", data={"action": "approve", "comment": "x", "csrf": "forged"}
    )
    assert r.status_code == 403


def test_case_page_names_identity_candidates(api: Api) -> None:
    """An applicant who may be an existing holder shows that holder on the case page."""
    h = api.headers(Role.CLERK)
    first = BODY | {
        "holder": BODY["holder"]
        | {
            "name": "渡辺 健太",
            "name_kana": "ワタナベ ケンタ",
            "address": "大阪府大阪市北区梅田1-1-1",
        }
    }
    a = api.client.post("/v1/applications", json=first, headers=h).json()
    # Same reading, birth date and address, other kanji (渡部/渡辺): maybe the same person.
    second = BODY | {
        "holder": BODY["holder"]
        | {
            "name": "渡部 健太",
            "name_kana": "ワタナベ ケンタ",
            "address": "大阪府大阪市北区梅田1-1-1",
        }
    }
    b = api.client.post("/v1/applications", json=second, headers=h).json()
    assert b["decision"] == "review"
    assert "IDENTITY_AMBIGUOUS" in {r["code"] for r in b["reasons"]}
    secret = reviewer(api)
    assert login(api, "rev1", pyotp.TOTP(secret).now()) == 303
    page = api.client.get(f"/cases/{b['case_id']}")
    assert page.status_code == 200
    assert f"/holders/{a['holder_id']}" in page.text
    assert api.client.get(f"/holders/{a['holder_id']}").status_code == 200
