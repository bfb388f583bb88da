"""``/v1/mail``: quarantine release (byte for byte), feedback, recipients' strengths, roles.

The quarantine tests run against the directory store and the database quarantine on
SQLite and PostgreSQL (``kind``); the API then uses ``CARRIERGUARD_QUARANTINE=db``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller

from carrierguard.audit import verify_chain
from carrierguard.auth import Role
from carrierguard.mail.quarantine import Quarantine
from carrierguard.mail.reputation import RedisReputationStore
from carrierguard.store import audit
from carrierguard.store.mail_schema import note_recipients, recipient_strengths
from tests.conftest import need
from tests.dbs import fresh_database
from tests.mail.integration.servers import free_port
from tests.web.conftest import Api, make_api

# Bytes a relay could alter: a leading dot, 8-bit text, a long line, a bare header fold.
HELD = (
    b"X-CarrierGuard-Verdict: quarantine\r\n"
    b"From: =?UTF-8?B?5LiJ5LqV5L2P5Y+L?= <info@shop.example>\r\n"
    b"To: user@example.net\r\n"
    b"Subject: order\r\n"
    b"\tfolded\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b".leading dot line\r\n"
    + "ご注文ありがとうございます。\r\n".encode()
    + b"x" * 900
    + b"\r\n..\r\nend\r\n"
)


@dataclass
class Sink:
    """An SMTP server (aiosmtpd) that keeps what it was given."""

    port: int
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[Sink]:
    box = Sink(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@contextmanager
def api_with_quarantine(kind: str, tmp_path: Path, **settings: Any) -> Iterator[Api]:
    """An API whose quarantine is a directory (``dir``) or its own database."""
    if kind == "dir":
        yield make_api(
            f"sqlite:///{tmp_path / 'api.db'}", quarantine_dir=tmp_path / "quarantine", **settings
        )
        return
    with fresh_database(kind, tmp_path) as url:
        yield make_api(url, quarantine="db", **settings)


@pytest.fixture(params=["dir", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mail_api(tmp_path: Path, sink: Sink, kind: str) -> Iterator[Api]:
    with api_with_quarantine(
        kind,
        tmp_path,
        release_smtp=f"127.0.0.1:{sink.port}",
        feedback_dir=tmp_path / "feedback",
        reputation_redis="redis://127.0.0.1:6379/15",
    ) as api:
        yield api


def quarantine_of(api: Api) -> Quarantine:
    store: Quarantine = api.client.app.state.mail.quarantine  # type: ignore[attr-defined]
    return store


def hold(api: Api, domain: str = "shop.example") -> tuple[Quarantine, str]:
    store = quarantine_of(api)
    entry = store.put(
        HELD,
        mail_from=f"bounce@{domain}",
        recipients=("user@example.net", "other@example.net"),
        header_from=domain,
        reasons=("DMARC_FAIL",),
    )
    return store, entry.id


OPERATOR = Role.MAIL_OPERATOR


def test_release_delivers_the_held_bytes_unchanged(mail_api: Api, sink: Sink) -> None:
    store, entry_id = hold(mail_api)
    c = mail_api.client
    listed = c.get("/v1/mail/quarantine", headers=mail_api.headers(OPERATOR)).json()
    assert [e["id"] for e in listed] == [entry_id]
    r = c.post(f"/v1/mail/quarantine/{entry_id}/release", headers=mail_api.headers(OPERATOR))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "released"
    assert r.json()["released_by"] == "key:test-mail_operator"
    ((sender, rcpts, data),) = sink.received
    assert (sender, rcpts) == ("bounce@shop.example", ["user@example.net", "other@example.net"])
    assert data == HELD == store.get(entry_id)
    again = c.post(f"/v1/mail/quarantine/{entry_id}/release", headers=mail_api.headers(OPERATOR))
    assert again.status_code == 409
    assert len(sink.received) == 1


def test_two_operators_releasing_at_once_send_one_copy(mail_api: Api, sink: Sink) -> None:
    store, entry_id = hold(mail_api)
    url = f"/v1/mail/quarantine/{entry_id}/release"
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(
            pool.map(
                lambda _: mail_api.client.post(url, headers=mail_api.headers(OPERATOR)).status_code,
                range(8),
            )
        )
    assert codes == [200] + [409] * 7
    assert len(sink.received) == 1
    assert store.entry(entry_id).state == "released"


def test_mail_server_down_keeps_the_message_held(tmp_path: Path, kind: str) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nobody listens
    with api_with_quarantine(kind, tmp_path, release_smtp=nobody) as api:
        store, entry_id = hold(api)
        url = f"/v1/mail/quarantine/{entry_id}/release"
        r = api.client.post(url, headers=api.headers(OPERATOR))
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "RELEASE_FAILED"
        assert store.entry(entry_id).state == "held"
        assert store.get(entry_id) == HELD


def test_the_list_pages_by_after_in_a_stable_order(mail_api: Api) -> None:
    """limit/after walk every entry once, oldest or newest first; X-Next-After names the
    next page while pages are full."""
    store = quarantine_of(mail_api)
    ids = [
        store.put(
            HELD,
            mail_from="a@shop.example",
            recipients=("user@example.net",),
            header_from="shop.example",
            reasons=("DMARC_FAIL",),
            now=datetime(2026, 1, 1, hour, tzinfo=UTC),
        ).id
        for hour in (5, 1, 3, 3, 2)
    ]
    h = mail_api.headers(OPERATOR)
    for order in ("oldest", "newest"):
        seen: list[dict[str, Any]] = []
        url = f"/v1/mail/quarantine?limit=2&order={order}"
        while url:
            r = mail_api.client.get(url, headers=h)
            assert r.status_code == 200, r.text
            seen += r.json()
            nxt = r.headers.get("X-Next-After")
            assert (nxt is not None) == (len(r.json()) == 2)
            url = f"/v1/mail/quarantine?limit=2&order={order}&after={nxt}" if nxt else ""
        keys = [(e["received_at"], e["id"]) for e in seen]
        assert keys == sorted(keys, reverse=order == "newest") and len(set(keys)) == 5
        assert sorted(e["id"] for e in seen) == sorted(ids)
    bad = mail_api.client.get("/v1/mail/quarantine?after=nope", headers=h)
    assert bad.status_code == 422
    gone = mail_api.client.get(f"/v1/mail/quarantine?after={'0' * 24}", headers=h)
    assert gone.status_code == 422
    spec = mail_api.client.get("/openapi.json").json()
    listed = spec["paths"]["/v1/mail/quarantine"]["get"]
    assert {"limit", "after", "order"} <= {p["name"] for p in listed["parameters"]}
    assert "X-Next-After" in listed["responses"]["200"]["headers"]


def test_only_mail_operators_see_held_mail(mail_api: Api) -> None:
    _, entry_id = hold(mail_api)
    for role in Role:
        if role is OPERATOR:
            continue
        h = mail_api.headers(role)
        assert mail_api.client.get("/v1/mail/quarantine", headers=h).status_code == 403
        url = f"/v1/mail/quarantine/{entry_id}/release"
        assert mail_api.client.post(url, headers=h).status_code == 403
    assert mail_api.client.get("/v1/mail/quarantine").status_code == 401


def test_feedback_feeds_reputation_and_training_and_is_audited(
    mail_api: Api, tmp_path: Path
) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        client.ping()
    except redis.RedisError:
        need(False, "Redis not running on 127.0.0.1:6379")
    domain = f"{secrets.token_hex(6)}.example"
    _, entry_id = hold(mail_api, domain)
    url = f"/v1/mail/quarantine/{entry_id}/feedback"
    h = mail_api.headers(OPERATOR)
    assert mail_api.client.post(url, json={"label": "spam"}, headers=h).status_code == 422
    r = mail_api.client.post(url, json={"label": "not_phishing"}, headers=h)
    assert r.status_code == 200 and r.json()["feedback"] == "not_phishing"
    ham = tmp_path / "feedback" / "not_phishing" / f"{entry_id}.eml"
    assert ham.read_bytes() == HELD
    stats = RedisReputationStore(client).get(domain)
    assert stats is not None and (stats.ham_reports, stats.phishing_reports) == (1, 0)
    # Correcting the label moves the training copy and counts the complaint.
    mail_api.client.post(url, json={"label": "phishing"}, headers=h)
    assert not ham.exists()
    assert (tmp_path / "feedback" / "phishing" / f"{entry_id}.eml").read_bytes() == HELD
    stats = RedisReputationStore(client).get(domain)
    assert stats is not None and stats.phishing_reports == 1
    raw = mail_api.client.get(f"/v1/mail/quarantine/{entry_id}/message", headers=h)
    assert raw.content == HELD and raw.headers["content-type"] == "message/rfc822"
    engine = mail_api.client.app.state.service.registry.engine  # type: ignore[attr-defined]
    actions = [e.action for e in audit.entries(engine)]
    assert actions.count("quarantine.feedback") == 2 and "quarantine.read" in actions
    assert verify_chain(audit.entries(engine), audit.head(engine))[1] is None
    client.delete(f"cg:reputation:{domain}")


def test_recipient_strengths_and_the_awareness_list(mail_api: Api) -> None:
    engine = mail_api.client.app.state.service.registry.engine  # type: ignore[attr-defined]

    with engine.begin() as conn:
        note_recipients(
            conn, ["a@example.net", "b@example.net", "c@example.net"], datetime.now(UTC)
        )
    h = mail_api.headers(Role.SYSTEM)
    r = mail_api.client.put(
        "/v1/mail/recipients/B@Example.net", json={"strength": "strong"}, headers=h
    )
    assert r.status_code == 200 and r.json() == {"address": "b@example.net", "strength": "strong"}
    bad = mail_api.client.put(
        "/v1/mail/recipients/b@example.net", json={"strength": "max"}, headers=h
    )
    assert bad.status_code == 422
    page = mail_api.client.get("/v1/mail/recipients/unset?limit=1", headers=h).json()
    assert [x["address"] for x in page["recipients"]] == ["a@example.net"]
    rest = mail_api.client.get(
        f"/v1/mail/recipients/unset?after={page['next_after']}", headers=h
    ).json()
    assert [x["address"] for x in rest["recipients"]] == ["c@example.net"]
    assert rest["next_after"] is None
    with engine.connect() as conn:
        assert recipient_strengths(conn, ["a@example.net", "b@example.net"]) == {
            "b@example.net": "strong"
        }
    clerk = mail_api.headers(Role.CLERK)
    assert mail_api.client.get("/v1/mail/recipients/unset", headers=clerk).status_code == 403
