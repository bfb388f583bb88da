"""``carrierguard mail recipients``: set strengths, export the awareness-mail list."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.store import audit
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import note_recipients, recipient_strengths


def test_set_then_export_only_those_without_a_choice(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_store_engine(db)
    migrate(engine)
    with engine.begin() as conn:
        note_recipients(
            conn, ["b@example.net", "a@example.net", "c@example.net"], datetime.now(UTC)
        )
    runner = CliRunner()
    done = runner.invoke(
        app, ["mail", "recipients", "set", "<A@Example.net>", "strong", "--db", db]
    )
    assert done.exit_code == 0, done.output
    assert "a@example.net: strong" in done.output
    bad = runner.invoke(app, ["mail", "recipients", "set", "c@example.net", "max", "--db", db])
    assert bad.exit_code != 0
    with engine.connect() as conn:
        assert recipient_strengths(conn, ["a@example.net", "c@example.net"]) == {
            "a@example.net": "strong"
        }
    out = tmp_path / "awareness.csv"
    listed = runner.invoke(app, ["mail", "recipients", "unset", "--db", db, "-o", str(out)])
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["address"] for r in rows] == ["b@example.net", "c@example.net"]
    cleared = runner.invoke(
        app, ["mail", "recipients", "set", "a@example.net", "unset", "--db", db]
    )
    assert cleared.exit_code == 0
    again = runner.invoke(app, ["mail", "recipients", "unset", "--db", db])
    assert again.output.splitlines()[1:] and "a@example.net" in again.output
    assert [e.action for e in audit.entries(engine)].count("recipient.strength") == 2
