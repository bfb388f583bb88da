"""``carrierguard mail check``: the JSON DESIGN.md promises, from a zone file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from carrierguard.cli.main import app

ZONE = """$TTL 300
bank.example.        IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.bank.example. IN TXT "v=DMARC1; p=reject"
"""


def test_check_prints_the_designed_json(tmp_path: Path) -> None:
    """The output has spf, dkim, arc, dmarc{result,policy,disposition} and the A-R value."""
    (tmp_path / "zone").write_text(ZONE)
    (tmp_path / "m.eml").write_bytes(b"From: ceo@bank.example\r\nSubject: x\r\n\r\nhi\r\n")
    result = CliRunner().invoke(
        app,
        [
            "mail",
            "check",
            str(tmp_path / "m.eml"),
            "--ip",
            "203.0.113.5",
            "--helo",
            "x.example",
            "--mail-from",
            "ceo@bank.example",
            "--dns-zone",
            str(tmp_path / "zone"),
            "--authserv-id",
            "mx.test",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["spf"], out["dkim"], out["arc"]) == ("fail", "none", "none")
    assert {k: out["dmarc"][k] for k in ("result", "policy", "disposition")} == {
        "result": "fail",
        "policy": "reject",
        "disposition": "reject",
    }
    assert out["authentication_results"].startswith("mx.test; spf=fail")


def test_check_without_ip_skips_spf(tmp_path: Path) -> None:
    """Without --ip there is no SPF identity to check, so spf is none."""
    (tmp_path / "zone").write_text(ZONE)
    (tmp_path / "m.eml").write_bytes(b"From: ceo@bank.example\r\n\r\nhi\r\n")
    result = CliRunner().invoke(
        app, ["mail", "check", str(tmp_path / "m.eml"), "--dns-zone", str(tmp_path / "zone")]
    )
    assert json.loads(result.output)["spf"] == "none"
