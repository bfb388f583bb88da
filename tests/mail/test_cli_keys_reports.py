"""``carrierguard mail dkim-keygen`` and ``carrierguard mail dmarc-report``."""

from __future__ import annotations

import gzip
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.reports.aggregate import row_from_report, validate
from carrierguard.mail.signing import load_key
from carrierguard.store.engine import create_store_engine, migrate
from carrierguard.store.mail_schema import record_dmarc_result


def test_keygen_prints_a_zone_line_and_writes_a_private_key(tmp_path: Path) -> None:
    """The TXT line parses as a zone file and the key file is private and loadable."""
    key_file = tmp_path / "s1.key"
    result = CliRunner().invoke(
        app,
        [
            "mail",
            "dkim-keygen",
            "--domain",
            "carrier.example",
            "--selector",
            "s1",
            "--algorithm",
            "ed25519",
            "--out",
            str(key_file),
        ],
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("s1._domainkey.carrier.example. 3600 IN TXT")
    zone = StaticResolver.from_zone_text(line)
    published = zone.query("s1._domainkey.carrier.example", "TXT").txt()[0].decode()
    assert published == load_key(key_file.read_bytes()).dns_record
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_dmarc_report_writes_one_gzipped_valid_report_per_domain(tmp_path: Path) -> None:
    """Rows in the database for a period become a .xml.gz file that validates."""
    url = f"sqlite:///{tmp_path / 'cg.db'}"
    migrate(create_store_engine(url))
    resolver = StaticResolver.from_zone_text(
        '_dmarc.bank.example. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:rua@bank.example"'
    )
    envelope = Envelope(ip="203.0.113.4", mail_from="x@bank.example", recipients=("u@e.example",))
    raw = b"From: ceo@bank.example\r\nSubject: x\r\n\r\nhi\r\n"
    report = authenticate(Message.parse(raw), envelope, resolver, authserv_id="mx")
    row = row_from_report(envelope, report, datetime(2026, 11, 2, 3, tzinfo=UTC))
    assert row is not None
    with create_engine(url).begin() as conn:
        for _ in range(3):
            record_dmarc_result(conn, row)
    result = CliRunner().invoke(
        app,
        [
            "mail",
            "dmarc-report",
            "--db",
            url,
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-03",
            "--org-name",
            "Carrier",
            "--email",
            "dmarc@mx.example",
            "--receiver",
            "mx.example",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[0])
    assert (summary["policy_domain"], summary["messages"]) == ("bank.example", 3)
    (written,) = (tmp_path / "out").iterdir()
    validate(gzip.decompress(written.read_bytes()))


def test_milter_refuses_a_listen_address_it_cannot_use() -> None:
    """A malformed --listen is an input error, before anything starts."""
    from carrierguard.errors import InvalidInput

    result = CliRunner().invoke(app, ["mail", "milter", "--listen", "unix:/tmp/x"])
    assert isinstance(result.exception, InvalidInput)


def test_keygen_refuses_an_unknown_algorithm(tmp_path: Path) -> None:
    """Only rsa and ed25519 keys are made, and no file is written otherwise."""
    from carrierguard.errors import InvalidInput

    result = CliRunner().invoke(
        app,
        [
            "mail",
            "dkim-keygen",
            "--domain",
            "a.example",
            "--selector",
            "s",
            "--algorithm",
            "dsa",
            "--out",
            str(tmp_path / "k"),
        ],
    )
    assert isinstance(result.exception, InvalidInput)
    assert not (tmp_path / "k").exists()
