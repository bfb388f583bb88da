"""The hub operator looks at each carrier's registry and use in a real browser."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest

from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.web.ui.hub import JST
from tests.conftest import REPO, need
from tests.integration.live import LiveServer
from tests.web.test_review_browser import CHROMIUM, PASSWORD

ARTIFACTS = REPO / "test-artifacts" / "hub"

pytestmark = pytest.mark.integration


def test_hub_operator_sees_carriers_and_charts(tmp_path: Path) -> None:
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (.ci/setup-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = LiveServer(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "srv")
    server.env["CARRIERGUARD_XC_EVALUATOR_SEED"] = base64.b64encode(bytes(32)).decode()
    engine = create_store_engine(server.db_url)
    migrate(engine)
    now = datetime.now(UTC)
    day = datetime.now(JST).date().isoformat()
    for carrier, tokens, voice, queried in (("docomo-test", 40, 3, 900), ("mvno-test", 12, 2, 150)):
        rows = [(f"{carrier[0]}{i:063x}", xc.Counts(voice, 1, 2)) for i in range(tokens)]
        xc.publish(engine, carrier, rows, now)
        xc.charge(engine, carrier, day, "queried", queried, None)
    engine.dispose()
    secret = server.create_user("hubadmin", "admin", PASSWORD)
    with server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server.base_url}/login")
        page.fill("#username", "hubadmin")
        page.fill("#password", PASSWORD)
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.click("a[href='/hub']")
        page.wait_for_selector("#carriers")
        assert page.inner_text("tr[data-carrier='docomo-test'] td[data-queried]") == "900"
        assert page.locator("[data-evaluator='on']").count() == 1
        assert page.locator("svg").count() == 2
        page.screenshot(path=str(ARTIFACTS / "01-hub.png"), full_page=True)
        browser.close()
