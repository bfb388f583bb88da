"""A mail operator releases held mail in a real browser (Debian chromium via Playwright)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller

from carrierguard.mail.quarantine import QuarantineStore
from tests.conftest import REPO, need
from tests.integration.live import COMMAND, LiveServer
from tests.mail.integration.servers import free_port
from tests.web.test_mail_api import HELD, Sink
from tests.web.test_review_browser import CHROMIUM, PASSWORD

ARTIFACTS = REPO / "test-artifacts" / "quarantine"

pytestmark = pytest.mark.integration


def test_operator_reads_labels_and_releases_in_the_browser(tmp_path: Path) -> None:
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (.ci/setup-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sink = Sink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    server = LiveServer(f"sqlite:///{tmp_path / 'mail.db'}", tmp_path / "srv")
    server.env["CARRIERGUARD_QUARANTINE_DIR"] = str(tmp_path / "quarantine")
    server.env["CARRIERGUARD_RELEASE_SMTP"] = f"127.0.0.1:{sink.port}"
    server.env["CARRIERGUARD_FEEDBACK_DIR"] = str(tmp_path / "feedback")
    store = QuarantineStore(tmp_path / "quarantine")
    entry = store.put(
        HELD,
        mail_from="bounce@shop.example",
        recipients=("user@example.net",),
        header_from="shop.example",
        reasons=("CONTENT_MODEL_PHISHING", "BRAND_IMPERSONATION"),
        phishing_probability=0.0137,
    )
    secret = server.create_user("mailop", "mail_operator", PASSWORD)
    try:
        with server, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{server.base_url}/login")
            page.fill("#username", "mailop")
            page.fill("#password", PASSWORD)
            page.fill("#code", pyotp.TOTP(secret).now())
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/quarantine$"))
            page.screenshot(path=str(ARTIFACTS / "01-held.png"), full_page=True)
            page.click(f"a[data-entry='{entry.id}']")
            page.click("text=本文を表示")
            page.wait_for_selector("pre.body")
            assert "ご注文ありがとうございます" in page.inner_text("pre.body")
            page.click("#mark-ham")
            page.wait_for_selector("td[data-feedback='not_phishing']")
            page.click("#release")
            page.wait_for_selector("[data-state='released']")
            page.screenshot(path=str(ARTIFACTS / "02-released.png"), full_page=True)
            browser.close()
    finally:
        controller.stop()
    assert [m[2] for m in sink.received] == [HELD]
    assert (tmp_path / "feedback" / "not_phishing" / f"{entry.id}.eml").read_bytes() == HELD
    audit = subprocess.run(
        [*COMMAND, "audit", "verify", "--db", server.db_url],
        env=server.env,
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
