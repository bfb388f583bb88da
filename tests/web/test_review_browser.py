"""A reviewer works the queue in a real browser: TOTP login, approve one case, refuse another."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.conftest import REPO, need
from tests.integration.live import COMMAND, LiveServer, application, write_book

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "review"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.integration


def holder(name: str, birth: str) -> dict[str, str]:
    return {"kind": "individual", "name": name, "birth_date": birth}


def over_cap_case(server: LiveServer, clerk: str, who: dict[str, str]) -> dict[str, Any]:
    """A review (6th voice line) with its purpose, pledge and one verified actual user."""
    with server.client(clerk) as http:
        app = http.post("/v1/applications", json=application(who, "voice")).json()
        assert app["decision"] == "review" and app["case_id"], app
        info = {
            "purpose": {"category": "family", "text": "子どもの通学用"},
            "pledge": {"signed": True, "signed_by": who["name"]},
            "actual_users": [
                {
                    "name": "高橋 花子",
                    "birth_date": "2012-05-05",
                    "relationship": "child",
                    "verification_method": "ic_chip_mynumber",
                    "verified": True,
                }
            ],
        }
        r = http.post(f"/v1/cases/{app['case_id']}/info", json=info)
        assert r.status_code == 200, r.text
    return app


def test_reviewer_approves_and_refuses_in_the_browser(tmp_path: Path) -> None:
    """Login with TOTP; approving activates the line; refusing records the reason code."""
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (.ci/setup-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = LiveServer(f"sqlite:///{tmp_path / 'review.db'}", tmp_path / "srv")
    people = [holder("高橋 一郎", "1985-04-01"), holder("佐藤 次郎", "1979-09-09")]
    rows = [
        ["individual", p["name"], "", p["birth_date"], "", "", "", "voice", "active", "2020-01-01"]
        for p in people
        for _ in range(5)
    ]
    assert server.import_book(write_book(tmp_path / "book.csv", rows)).returncode == 0
    secret = server.create_user("reviewer1", "hq_reviewer", PASSWORD)
    clerk = server.create_key("clerk")
    with server:
        first = over_cap_case(server, clerk, people[0])
        second = over_cap_case(server, clerk, people[1])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{server.base_url}/login")
            page.fill("#username", "reviewer1")
            page.fill("#password", PASSWORD)
            page.fill("#code", pyotp.TOTP(secret).now())
            page.screenshot(path=str(ARTIFACTS / "01-login.png"))
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/cases$"))
            page.screenshot(path=str(ARTIFACTS / "02-queue.png"), full_page=True)

            page.click(f"a[data-case='{first['case_id']}']")
            page.fill("#comment", "家族利用を確認、利用者の本人確認済み")
            page.screenshot(path=str(ARTIFACTS / "03-case.png"), full_page=True)
            page.click("#approve")
            page.wait_for_selector("#case-state")
            assert page.get_attribute("#case-state", "data-state") == "approved"
            assert page.inner_text("#case-state") == "承認"
            page.screenshot(path=str(ARTIFACTS / "04-approved.png"), full_page=True)

            page.goto(f"{server.base_url}/cases/{second['case_id']}")
            page.fill("#comment", "転売の疑いがあるため")
            page.select_option("#reason_code", "RESALE_SUSPECTED")
            page.click("#refuse")
            page.wait_for_selector("#case-state")
            assert page.get_attribute("#case-state", "data-state") == "refused"
            page.screenshot(path=str(ARTIFACTS / "05-refused.png"), full_page=True)
            browser.close()
        with server.client(clerk) as http:
            approved = http.get(f"/v1/applications/{first['application_id']}").json()
            refused = http.get(f"/v1/applications/{second['application_id']}").json()
            case2 = http.get(f"/v1/cases/{second['case_id']}").json()
    assert approved["state"] == "approved"
    assert [ln["state"] for ln in approved["lines"]] == ["active"]
    assert refused["state"] == "refused"
    assert [ln["state"] for ln in refused["lines"]] == ["terminated"]
    assert case2["decision_code"] == "RESALE_SUSPECTED"
    audit = subprocess.run(
        [*COMMAND, "audit", "verify", "--db", server.db_url],
        env=server.env,
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
