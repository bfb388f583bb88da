"""The audit trail detects any single UPDATE, DELETE or reorder, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from carrierguard.audit import verify_chain
from carrierguard.cli.main import app
from carrierguard.store import audit
from carrierguard.store.engine import create_store_engine, migrate


def chain(url: str, n: int = 6):  # type: ignore[no-untyped-def]
    engine = create_store_engine(url)
    migrate(engine)
    for i in range(n):
        with engine.begin() as conn:
            audit.append(
                conn,
                actor="key:test",
                action="application.decided",
                subject=f"application:{i + 1}",
                payload={"outcome": "approve", "i": i},
                now=datetime(2026, 11, 28, 1, 2, 3, i, tzinfo=UTC),
            )
    return engine


def verify(engine):  # type: ignore[no-untyped-def]
    return verify_chain(audit.entries(engine), audit.head(engine))


def test_untouched_log_verifies(db_url: str) -> None:
    """An untouched chain verifies with every entry counted."""
    assert verify(chain(db_url)) == (6, None)


def test_update_is_detected_and_named(db_url: str) -> None:
    """Changing one entry's payload is named at that entry."""
    engine = chain(db_url)
    with engine.begin() as conn:
        conn.execute(text('UPDATE audit_log SET payload = \'{"outcome":"refuse"}\' WHERE seq = 3'))
    _, problem = verify(engine)
    assert problem is not None and problem.seq == 3


@pytest.mark.parametrize("victim", [1, 4, 6])
def test_delete_is_detected_and_named(db_url: str, victim: int) -> None:
    """Deleting any entry, the newest included, is named."""
    engine = chain(db_url)
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_log WHERE seq = {victim}"))
    _, problem = verify(engine)
    assert problem is not None and problem.seq == victim


def test_reorder_is_detected_and_named(db_url: str) -> None:
    """Swapping two entries' positions is named at the first of them."""
    engine = chain(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET seq = 1000 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 5"))
        conn.execute(text("UPDATE audit_log SET seq = 5 WHERE seq = 1000"))
    _, problem = verify(engine)
    assert problem is not None and problem.seq == 2


def test_cli_verify_fails_and_names_the_entry(db_url: str) -> None:
    """`carrierguard audit verify` exits 1 and names the changed entry."""
    engine = chain(db_url)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert ok.exit_code == 0, ok.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'key:mallory' WHERE seq = 4"))
    bad = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert bad.exit_code == 1
    assert "entry 4" in bad.output
    export = runner.invoke(app, ["audit", "export", "--db", db_url])
    assert export.output.count("\n") == 6
