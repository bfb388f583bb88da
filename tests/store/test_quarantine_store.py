"""The database quarantine on both engines: sealed at rest, durable puts, the row lock, import."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.crypto import DataKeyMismatch
from carrierguard.errors import InvalidInput
from carrierguard.mail.quarantine import QuarantineEntry, QuarantineStore
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import mail_quarantine
from carrierguard.store.quarantine import DbQuarantine

KEY = bytes(range(32))
KEY_ENV = {"CARRIERGUARD_DATA_KEY": base64.urlsafe_b64encode(KEY).decode()}
RAW = "Subject: ご注文\r\n\r\n本文 secret-body-token\r\n".encode()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = create_store_engine(db_url)
    migrate(made)
    yield made
    made.dispose()


def put(store: DbQuarantine, raw: bytes = RAW, hour: int = 1) -> QuarantineEntry:
    return store.put(
        raw,
        mail_from="sender@shop.example",
        recipients=("subscriber-7@example.net",),
        header_from="shop.example",
        reasons=("DMARC_FAIL",),
        now=datetime(2026, 1, 1, hour, tzinfo=UTC),
    )


def test_message_and_envelope_are_sealed_at_rest(engine: Engine) -> None:
    """Neither the body nor the addresses are in the row; another key cannot open them."""
    store = DbQuarantine(engine, KEY)
    entry = put(store)
    with engine.connect() as conn:
        row = conn.execute(select(mail_quarantine)).one()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    for secret in (b"secret-body-token", b"subscriber-7", b"sender@shop"):
        assert secret not in stored
    assert store.get(entry.id) == RAW
    other = DbQuarantine(engine, bytes(32))
    with pytest.raises(DataKeyMismatch):
        other.get(entry.id)
    with pytest.raises(DataKeyMismatch):
        other.check_key()
    store.check_key()


def test_a_sealed_message_moved_to_another_entry_does_not_open(engine: Engine) -> None:
    """Each blob is bound to its entry id: swapping rows' messages is detected."""
    store = DbQuarantine(engine, KEY)
    a, b = put(store, b"A"), put(store, b"B")
    with engine.begin() as conn:
        blob = conn.execute(
            select(mail_quarantine.c.message).where(mail_quarantine.c.id == a.id)
        ).scalar_one()
        conn.execute(
            mail_quarantine.update().where(mail_quarantine.c.id == b.id).values(message=blob)
        )
    assert store.get(a.id) == b"A"
    with pytest.raises(DataKeyMismatch):
        store.get(b.id)


def test_messages_are_compressed_at_rest_and_older_blobs_still_open(engine: Engine) -> None:
    """Version 2 blobs hold zlib-compressed mail; version 1 blobs (plain) still open; a
    blob whose version byte is changed does not (the version is bound in)."""
    store = DbQuarantine(engine, KEY)
    text = ("Subject: お知らせ\r\n\r\n" + "ご利用ありがとうございます。\r\n" * 3000).encode()
    entry = put(store, text)
    with engine.connect() as conn:
        blob = conn.execute(
            select(mail_quarantine.c.message).where(mail_quarantine.c.id == entry.id)
        ).scalar_one()
    assert blob[:1] == b"\x02" and len(blob) < len(text) // 10
    assert store.get(entry.id) == text
    old = store.sealer._aead  # a version 1 blob, as rows written before compression hold
    nonce = b"\x00" * 12
    v1 = b"\x01" + nonce + old.encrypt(nonce, b"old mail", b"\x01message\0" + entry.id.encode())
    assert store.sealer.open(entry.id, "message", v1) == b"old mail"
    with pytest.raises(DataKeyMismatch):
        store.sealer.open(entry.id, "message", b"\x01" + blob[1:])


def test_listing_and_figures_never_read_the_message_column(engine: Engine) -> None:
    """list, entry and false_blocks select index columns only."""
    store = DbQuarantine(engine, KEY)
    first = put(store)
    put(store, hour=2)
    statements: list[str] = []

    def record(_c: Connection, _cur: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        store.list(None, limit=50)
        store.list(limit=1, after=first.id, newest_first=True)
        store.entry(first.id)
        store.false_blocks(datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements and not any("mail_quarantine.message" in s for s in statements)


class CrashingQuarantine(DbQuarantine):
    """Fails after the row is written, before the commit (a crash inside ``put``)."""

    def _insert(self, conn: Connection, entry: QuarantineEntry, raw: bytes) -> None:
        super()._insert(conn, entry, raw)
        raise RuntimeError("crash before commit")


def test_a_put_whose_transaction_is_rolled_back_leaves_nothing_listed(engine: Engine) -> None:
    """No entry, reason row or bytes survive a put that did not commit."""
    with pytest.raises(RuntimeError):
        put(CrashingQuarantine(engine, KEY))
    store = DbQuarantine(engine, KEY)
    assert store.list(None) == [] and store.count() == 0
    figures = store.false_blocks(datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert figures.held == 0 and figures.by_reason == ()


def test_a_put_is_committed_when_it_returns(engine: Engine, db_url: str) -> None:
    """Another engine (another process, in effect) sees the entry right after put."""
    entry = put(DbQuarantine(engine, KEY))
    elsewhere = create_store_engine(db_url)
    try:
        assert DbQuarantine(elsewhere, KEY).entry(entry.id) == entry
    finally:
        elsewhere.dispose()


def test_the_lock_holds_off_a_second_holder_on_another_engine(engine: Engine, db_url: str) -> None:
    """A second locker (its own engine, as another process) waits, then reads the entry fresh."""
    first = DbQuarantine(engine, KEY)
    entry = put(first)
    other_engine = create_store_engine(db_url)
    second = DbQuarantine(other_engine, KEY)
    inside = threading.Event()
    seen: list[str] = []

    def later() -> None:
        inside.wait(10)
        with second.locked(entry.id) as fresh:
            seen.append(fresh.state)

    thread = threading.Thread(target=later)
    thread.start()
    try:
        with first.locked(entry.id) as held:
            assert held.state == "held"
            inside.set()
            time.sleep(0.5)  # the second locker is waiting now
            assert seen == []
            first.mark(entry.id, "released", released_at="now", released_by="op")
        thread.join(20)
        assert seen == ["released"]
    finally:
        other_engine.dispose()


def test_what_a_locked_block_marked_is_undone_when_it_fails(engine: Engine) -> None:
    """The block is one transaction: an error (say, the MTA refused) leaves the entry held."""
    store = DbQuarantine(engine, KEY)
    entry = put(store)
    with pytest.raises(RuntimeError), store.locked(entry.id):
        store.mark(entry.id, "released", released_by="op")
        assert store.entry(entry.id).state == "released"  # seen inside the block
        raise RuntimeError("relay refused")
    assert store.entry(entry.id).state == "held"


def test_import_from_a_directory_is_idempotent(tmp_path: Path, db_url: str) -> None:
    """quarantine-import copies ids, states, labels and bytes; a second run adds nothing."""
    source = QuarantineStore(tmp_path / "q")
    held = source.put(
        RAW,
        mail_from="a@shop.example",
        recipients=("u@example.net", "v@example.net"),
        header_from="shop.example",
        reasons=(),
        phishing_probability=0.25,
    )
    released = source.put(
        b"\x00\xff8-bit",
        mail_from="",
        recipients=("w@example.net",),
        header_from="",
        reasons=("X",),
    )
    source.mark(released.id, "released", released_at="2026-01-02T00:00:00+00:00", released_by="op")
    source.record_feedback(released.id, "not_phishing", "op")
    command = ["mail", "quarantine-import", "--from-dir", str(tmp_path / "q"), "--db", db_url]
    first = CliRunner().invoke(app, command, env=KEY_ENV)
    assert first.exit_code == 0, first.output
    assert "imported 2, already there 0" in first.output
    again = CliRunner().invoke(app, command, env=KEY_ENV)
    assert again.exit_code == 0, again.output
    assert "imported 0, already there 2" in again.output
    engine = create_store_engine(db_url)
    try:
        target = DbQuarantine(engine, KEY)
        assert target.list(None) == source.list(None)
        assert target.count() == 2
        for entry in (held, released):
            assert target.get(entry.id) == source.get(entry.id)
    finally:
        engine.dispose()
    listed = CliRunner().invoke(app, ["mail", "quarantine", "--db", db_url], env=KEY_ENV)
    assert listed.exit_code == 0 and held.id in listed.output and released.id not in listed.output


def test_mail_commands_never_make_a_data_key_of_their_own(tmp_path: Path, db_url: str) -> None:
    """Without CARRIERGUARD_DATA_KEY and without the key file, the database quarantine refuses."""
    env = {"CARRIERGUARD_DATA_KEY": "", "CARRIERGUARD_KEY_FILE": str(tmp_path / "none.key")}
    result = CliRunner().invoke(app, ["mail", "quarantine", "--db", db_url], env=env)
    assert isinstance(result.exception, InvalidInput) and "no data key" in str(result.exception)
    assert not (tmp_path / "none.key").exists()
    no_db = CliRunner().invoke(app, ["mail", "milter", "--quarantine-db"], env=KEY_ENV)
    assert isinstance(no_db.exception, InvalidInput) and "give --db" in str(no_db.exception)
