"""The awareness mail (M3): recipients without a strength are told once, in Japanese first."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import count_unset, note_recipients, set_recipient_strength
from tests.mail.integration.servers import free_port


class Inbox:
    """Accepts mail for everyone but refused@example.net."""

    def __init__(self) -> None:
        self.mail: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == "refused@example.net":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mail.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_notify_tells_each_undecided_recipient_once(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    db = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_store_engine(db)
    migrate(engine)
    now = datetime.now(UTC)
    people = ["a@example.net", "b@example.net", "refused@example.net", "chose@example.net"]
    with engine.begin() as conn:
        note_recipients(conn, people, now)
        set_recipient_strength(conn, "chose@example.net", "weak", now=now, actor="test")
    args = ["mail", "recipients", "notify", "--db", db, "--relay", f"127.0.0.1:{port}",
            "--sender", "noreply@carrier.example", "--settings-url", "https://carrier.example/f"]  # fmt: skip
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "3 件" in dry.output and box.mail == []
    sent = CliRunner().invoke(app, args)
    assert sent.exit_code == 0, sent.output
    assert "sent 2" in sent.output and "refused 1" in sent.output
    assert sorted(r[0] for r, _ in box.mail) == ["a@example.net", "b@example.net"]
    notice = email.message_from_bytes(box.mail[0][1], policy=default)
    assert notice["Subject"].startswith("【重要】迷惑メールフィルターの強度")
    body = notice.get_content()
    assert body.index("標準") < body.index("standard") and "https://carrier.example/f" in body
    again = CliRunner().invoke(app, args)
    assert "sent 0" in again.output and "refused 1" in again.output  # told once; retry refused
    assert len(box.mail) == 2
    with engine.connect() as conn:
        assert count_unset(conn) == 3 and count_unset(conn, not_notified=True) == 1


def recipients_db(tmp_path: Path, addresses: list[str]) -> Engine:
    """A migrated SQLite store that has seen ``addresses``, none with a strength."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.begin() as conn:
        note_recipients(conn, addresses, datetime.now(UTC))
    return engine


def test_notify_stops_at_the_limit_and_the_next_run_goes_on(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    from carrierguard.mail.awareness import notify
    from carrierguard.mail.release import SmtpRelay

    box, port = inbox
    engine = recipients_db(tmp_path, [f"u{i}@example.net" for i in range(5)])
    relay = SmtpRelay("127.0.0.1", port)
    first = notify(engine, relay, sender="n@carrier.example", settings_url="u", limit=2)
    assert (first.sent, first.refused) == (2, 0)
    assert [r for r, _ in box.mail] == [["u0@example.net"], ["u1@example.net"]]
    rest = notify(engine, relay, sender="n@carrier.example", settings_url="u")
    assert rest.sent == 3 and len(box.mail) == 5


def test_a_signed_awareness_mail_verifies_for_the_senders_domain(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    import dkim

    from carrierguard.errors import InvalidInput
    from carrierguard.mail.awareness import notify
    from carrierguard.mail.release import SmtpRelay
    from carrierguard.mail.signing import DkimSigner, KeyAlgorithm, generate_key

    box, port = inbox
    engine = recipients_db(tmp_path, ["u@example.net"])
    key = generate_key(KeyAlgorithm.ED25519)
    signer = DkimSigner("carrier.example", "notice", key)
    relay = SmtpRelay("127.0.0.1", port)
    with pytest.raises(InvalidInput):  # a sender outside the signing domain is refused
        notify(engine, relay, sender="n@other.example", settings_url="u", signer=signer)
    assert box.mail == []
    done = notify(engine, relay, sender="n@carrier.example", settings_url="u", signer=signer)
    assert done.sent == 1
    raw = box.mail[0][1]
    record = key.dns_record.encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"notice._domainkey.carrier.example." else b""

    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw + b"PS: reply with your password\r\n", dnsfunc=dns)


def test_notify_command_signs_with_dkim_key(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    import dkim

    from carrierguard.mail.signing import KeyAlgorithm, generate_key

    box, port = inbox
    recipients_db(tmp_path, ["u@example.net"])
    key = generate_key(KeyAlgorithm.ED25519)
    (tmp_path / "notice.key").write_bytes(key.private)
    args = ["mail", "recipients", "notify", "--db", f"sqlite:///{tmp_path / 'm.db'}",
            "--relay", f"127.0.0.1:{port}", "--sender", "noreply@carrier.example",
            "--settings-url", "https://carrier.example/f"]  # fmt: skip
    missing = CliRunner().invoke(app, [*args, "--dkim-key", "carrier.example:n:/nonexistent"])
    assert missing.exit_code != 0 and "cannot read the DKIM key" in str(missing.exception)
    done = CliRunner().invoke(
        app, [*args, "--dkim-key", f"carrier.example:notice:{tmp_path / 'notice.key'}"]
    )
    assert done.exit_code == 0, done.output
    ((_, raw),) = box.mail
    record = key.dns_record.encode()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
