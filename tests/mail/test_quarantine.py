"""The filesystem quarantine: durable writes, an index, states."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from carrierguard.errors import NotFound
from carrierguard.mail.quarantine import QuarantineStore


def put(store: QuarantineStore, raw: bytes = b"Subject: x\r\n\r\nbody\r\n", hour: int = 1) -> str:
    entry = store.put(
        raw,
        mail_from="a@shop.example",
        recipients=("u@example.net",),
        header_from="shop.example",
        reasons=("DMARC_FAIL",),
        now=datetime(2026, 1, 1, hour, tzinfo=UTC),
    )
    return entry.id


def test_stored_message_comes_back_byte_for_byte(tmp_path: Path) -> None:
    """What was put is what get returns, and the index lists it."""
    store = QuarantineStore(tmp_path)
    entry_id = put(store, b"\x1b$B\x00raw\r\n")
    assert store.get(entry_id) == b"\x1b$B\x00raw\r\n"
    assert [e.id for e in store.list()] == [entry_id]
    assert store.entry(entry_id).size == 9


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    """Atomic writes leave exactly the message and its index entry."""
    entry_id = put(QuarantineStore(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{entry_id}.eml", f"{entry_id}.json"]


def test_list_is_oldest_first_and_filters_by_state(tmp_path: Path) -> None:
    """Released messages leave the held list but stay listable."""
    store = QuarantineStore(tmp_path)
    late, early = put(store, hour=5), put(store, hour=2)
    assert [e.id for e in store.list()] == [early, late]
    store.mark(early, "released")
    assert [e.id for e in store.list()] == [late]
    assert [e.state for e in store.list(state=None)] == ["released", "held"]


def test_unknown_or_malicious_id_is_not_found(tmp_path: Path) -> None:
    """Ids are checked before touching the filesystem."""
    store = QuarantineStore(tmp_path)
    for bad in ("nope", "../etc/passwd"):
        with pytest.raises(NotFound):
            store.get(bad)


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
