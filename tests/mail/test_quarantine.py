"""The quarantine: durable writes, an index, states, pages.

The behaviour tests run on every store: the directory, and the database on SQLite and
PostgreSQL (``store``). Tests of the directory's own files stay directory-only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carrierguard.errors import InvalidInput, NotFound
from carrierguard.mail.quarantine import Quarantine, QuarantineStore
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.quarantine import DbQuarantine
from tests.dbs import fresh_database

KEY = bytes(range(32))  # the data key tests.web.conftest.make_api gives the API
KEY_ENV = {"CARRIERGUARD_DATA_KEY": base64.urlsafe_b64encode(KEY).decode()}
KINDS = ["dir", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def open_store(kind: str, tmp: Path) -> Iterator[Quarantine]:
    """A fresh quarantine: a directory, or the database quarantine on a fresh database."""
    if kind == "dir":
        yield QuarantineStore(tmp / "q")
        return
    with fresh_database(kind, tmp) as url:
        engine = create_store_engine(url)
        migrate(engine)
        try:
            yield DbQuarantine(engine, KEY)
        finally:
            engine.dispose()


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Quarantine]:
    with open_store(request.param, tmp_path) as opened:
        yield opened


def put(store: Quarantine, raw: bytes = b"Subject: x\r\n\r\nbody\r\n", hour: int = 1) -> str:
    entry = store.put(
        raw,
        mail_from="a@shop.example",
        recipients=("u@example.net",),
        header_from="shop.example",
        reasons=("DMARC_FAIL",),
        now=datetime(2026, 1, 1, hour, tzinfo=UTC),
    )
    return entry.id


def test_stored_message_comes_back_byte_for_byte(store: Quarantine) -> None:
    """What was put is what get returns, and the index lists it."""
    entry_id = put(store, b"\x1b$B\x00raw\r\n")
    assert store.get(entry_id) == b"\x1b$B\x00raw\r\n"
    assert [e.id for e in store.list()] == [entry_id]
    assert store.entry(entry_id).size == 9


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    """Atomic writes leave exactly the message and its index entry."""
    entry_id = put(QuarantineStore(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{entry_id}.eml", f"{entry_id}.json"]


def test_list_is_oldest_first_and_filters_by_state(store: Quarantine) -> None:
    """Released messages leave the held list but stay listable."""
    late, early = put(store, hour=5), put(store, hour=2)
    assert [e.id for e in store.list()] == [early, late]
    store.mark(early, "released")
    assert [e.id for e in store.list()] == [late]
    assert [e.state for e in store.list(state=None)] == ["released", "held"]


def test_unknown_or_malicious_id_is_not_found(store: Quarantine) -> None:
    """Ids are checked before touching the filesystem or the database."""
    for bad in ("nope", "../etc/passwd", "f" * 24):
        with pytest.raises(NotFound):
            store.get(bad)
        with pytest.raises(NotFound):
            store.mark(bad, "released")
        with pytest.raises(NotFound), store.locked(bad):
            pass


def test_pages_follow_each_other_in_a_stable_order(store: Quarantine) -> None:
    """Keyset pages: oldest or newest first, ties broken by id, no entry twice or missed."""
    ids = [put(store, hour=h) for h in (3, 1, 2, 2, 5, 4, 2)]
    every = store.list()
    assert [e.received_at for e in every] == sorted(e.received_at for e in every)
    pages, after = [], None
    while True:
        page = store.list(limit=3, after=after)
        pages.append([e.id for e in page])
        if len(page) < 3:
            break
        after = page[-1].id
    assert [i for p in pages for i in p] == [e.id for e in every] and sorted(ids) == sorted(
        e.id for e in every
    )
    newest = store.list(limit=2, newest_first=True)
    assert [e.id for e in newest] == [e.id for e in every[::-1][:2]]
    rest = store.list(after=newest[-1].id, newest_first=True)
    assert [e.id for e in newest + rest] == [e.id for e in every[::-1]]
    # A released entry leaves the held list; a page after it still continues from it.
    store.mark(every[2].id, "released")
    assert [e.id for e in store.list(after=every[2].id)] == [e.id for e in every[3:]]
    with pytest.raises(InvalidInput):
        store.list(after="0" * 24)


def test_feedback_and_release_are_kept_on_the_entry(store: Quarantine) -> None:
    """Labels and the release stamp come back from entry and list."""
    entry_id = put(store)
    with store.locked(entry_id) as held:
        assert held.state == "held"
        store.mark(entry_id, "released", released_at="2026-01-02T00:00:00+00:00", released_by="op")
    store.record_feedback(entry_id, "not_phishing", "op2")
    (entry,) = store.list(None)
    assert (entry.state, entry.released_by, entry.feedback, entry.feedback_by) == (
        "released",
        "op",
        "not_phishing",
        "op2",
    )
    assert entry == store.entry(entry_id)
    with pytest.raises(ValueError):
        store.record_feedback(entry_id, "spam", "op")


def test_purge_keeps_what_is_within_retention(store: Quarantine) -> None:
    """Entries received before the cutoff go, with their bytes; later ones stay readable."""
    old = [put(store, hour=1), put(store, hour=2)]
    kept = put(store, b"Subject: kept\r\n\r\n", hour=3)
    assert store.purge(datetime(2026, 1, 1, 3, tzinfo=UTC)) == 2
    assert [e.id for e in store.list(None)] == [kept]
    assert store.get(kept) == b"Subject: kept\r\n\r\n"
    for gone in old:
        with pytest.raises(NotFound):
            store.get(gone)
    assert store.purge(datetime(2026, 1, 1, 3, tzinfo=UTC)) == 0


def test_cli_lists_held_messages_as_json_lines(tmp_path: Path) -> None:
    """``carrierguard mail quarantine`` prints one JSON object per held message."""
    import json

    from typer.testing import CliRunner

    from carrierguard.cli.main import app

    entry_id = put(QuarantineStore(tmp_path))
    result = CliRunner().invoke(app, ["mail", "quarantine", "--quarantine-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert json.loads(line)["id"] == entry_id


def test_purge_removes_what_is_past_retention_and_nothing_else(tmp_path: Path) -> None:
    """Entries received before the cutoff go (bytes, index, lock); later ones stay."""
    import os

    from typer.testing import CliRunner

    from carrierguard.cli.main import app

    store = QuarantineStore(tmp_path)
    old = [put(store, hour=1), put(store, hour=2)]
    with store.locked(old[0]):
        pass  # leaves a lock file behind, as release does
    fresh = store.put(
        b"Subject: new\r\n\r\nbody\r\n",
        mail_from="a@shop.example",
        recipients=("u@example.net",),
        header_from="shop.example",
        reasons=("DMARC_FAIL",),
    ).id
    orphan = tmp_path / ("f" * 24 + ".eml")  # bytes whose index entry a crash lost
    orphan.write_bytes(b"x")
    os.utime(orphan, (0, 0))
    result = CliRunner().invoke(
        app,
        ["mail", "quarantine-purge", "--older-than-days", "30", "--quarantine-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "2 件削除" in result.output
    assert [e.id for e in store.list(None)] == [fresh]
    assert store.get(fresh) == b"Subject: new\r\n\r\nbody\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{fresh}.eml", f"{fresh}.json"])
