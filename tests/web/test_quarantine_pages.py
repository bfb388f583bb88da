"""Quarantine pages for mail operators: list, audited body view, release and feedback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp

from carrierguard.auth import Role
from carrierguard.store import audit
from tests.web.conftest import Api
from tests.web.test_mail_api import HELD, Sink, hold, kind, mail_api, quarantine_of, sink  # noqa: F401
from tests.web.test_pages import PASSWORD, login


def sign_in(api: Api, role: Role, name: str) -> str:
    accounts = api.client.app.state.accounts  # type: ignore[attr-defined]
    secret = accounts.create_user(name, role, PASSWORD, datetime.now(UTC)).totp_secret
    assert login(api, name, pyotp.TOTP(secret).now()) == 303
    page = api.client.get("/quarantine")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def test_operator_lists_reads_releases_and_labels(
    mail_api: Api,  # noqa: F811
    sink: Sink,  # noqa: F811
) -> None:
    store, entry_id = hold(mail_api)
    csrf = sign_in(mail_api, Role.MAIL_OPERATOR, "mailop")
    listing = mail_api.client.get("/quarantine")
    assert listing.status_code == 200
    assert f'data-entry="{entry_id}"' in listing.text and "保留中" in listing.text
    item = mail_api.client.get(f"/quarantine/{entry_id}")
    assert "ご注文ありがとうございます" not in item.text  # the body is shown only on request
    engine = mail_api.client.app.state.service.registry.engine  # type: ignore[attr-defined]
    assert "quarantine.read" not in [e.action for e in audit.entries(engine)]
    shown = mail_api.client.get(f"/quarantine/{entry_id}?body=1")
    assert "ご注文ありがとうございます" in shown.text
    assert "quarantine.read" in [e.action for e in audit.entries(engine)]
    forged = mail_api.client.post(f"/quarantine/{entry_id}/release", data={"csrf": "forged"})
    assert forged.status_code == 403 and sink.received == []
    done = mail_api.client.post(f"/quarantine/{entry_id}/release", data={"csrf": csrf})
    assert done.status_code == 200 and "配送しました" in done.text
    assert [m[2] for m in sink.received] == [HELD]
    again = mail_api.client.post(f"/quarantine/{entry_id}/release", data={"csrf": csrf})
    assert again.status_code == 409 and len(sink.received) == 1
    labelled = mail_api.client.post(
        f"/quarantine/{entry_id}/feedback", data={"csrf": csrf, "label": "not_phishing"}
    )
    assert 'data-feedback="not_phishing"' in labelled.text
    assert store.entry(entry_id).feedback == "not_phishing"
    assert store.entry(entry_id).state == "released"


def test_the_list_shows_the_newest_page_and_links_to_older_ones(mail_api: Api) -> None:  # noqa: F811
    """The page lists the newest held mail first; 'older' continues after its last entry."""
    from carrierguard.web.ui.quarantine import PAGE_SIZE

    store = quarantine_of(mail_api)
    ids = [
        store.put(
            HELD,
            mail_from="a@shop.example",
            recipients=("user@example.net",),
            header_from="shop.example",
            reasons=("DMARC_FAIL",),
            now=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        ).id
        for n in range(PAGE_SIZE + 1)
    ]
    sign_in(mail_api, Role.MAIL_OPERATOR, "mailop")
    first = mail_api.client.get("/quarantine").text
    shown = re.findall(r'data-entry="([0-9a-f]+)"', first)
    assert shown == ids[::-1][:PAGE_SIZE]
    older = re.search(r'data-next="([0-9a-f]+)"', first)
    assert older is not None and older.group(1) == ids[1]
    second = mail_api.client.get(f"/quarantine?state=held&after={older.group(1)}").text
    assert re.findall(r'data-entry="([0-9a-f]+)"', second) == [ids[0]]
    assert 'data-next="' not in second


def test_reviewers_cannot_see_held_mail(mail_api: Api) -> None:  # noqa: F811
    _, entry_id = hold(mail_api)
    sign_in(mail_api, Role.HQ_REVIEWER, "rev")
    assert mail_api.client.get("/quarantine").status_code == 403
    assert mail_api.client.get(f"/quarantine/{entry_id}?body=1").status_code == 403
