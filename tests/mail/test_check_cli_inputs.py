"""``carrierguard mail check`` on awkward input: the DESIGN.md keys in every case, or a
clear error (exit 2 through ``main``) when the input itself cannot be used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.errors import InvalidInput
from carrierguard.mail.auth.check import (
    Envelope,
    authenticate,
    checked_ip,
    client_ip,
    report_to_dict,
)
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message

ZONE = """$TTL 300
bank.example.        IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
bank.example.        IN A 192.0.2.1
_dmarc.bank.example. IN TXT "v=DMARC1; p=reject"
"""
DESIGN_KEYS = {"spf", "dkim", "arc", "dmarc", "authentication_results"}
DMARC_KEYS = {"result", "policy", "disposition"}
OK = b"From: ceo@bank.example\r\nSubject: x\r\n\r\nhi\r\n"


def invoke(tmp_path: Path, raw: bytes, *args: str, zone: str = ZONE) -> Any:
    (tmp_path / "zone").write_text(zone)
    (tmp_path / "m.eml").write_bytes(raw)
    argv = ["mail", "check", str(tmp_path / "m.eml"), "--dns-zone", str(tmp_path / "zone")]
    return CliRunner().invoke(app, [*argv, *args])


def checked(tmp_path: Path, raw: bytes, *args: str) -> dict[str, Any]:
    """Run ``mail check`` and assert the DESIGN.md shape; return the JSON."""
    result = invoke(tmp_path, raw, *args)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    assert set(out) >= DESIGN_KEYS
    assert set(out["dmarc"]) >= DMARC_KEYS
    for key in ("spf", "dkim", "arc", "authentication_results"):
        assert isinstance(out[key], str) and out[key]
    assert all(isinstance(out["dmarc"][k], str) for k in DMARC_KEYS)
    return out


def test_aligned_spf_passes_and_no_signature_is_dkim_none(tmp_path: Path) -> None:
    """No DKIM-Signature at all: dkim "none", arc "none", DMARC passes on aligned SPF."""
    out = checked(tmp_path, OK, "--ip", "192.0.2.5", "--mail-from", "ceo@bank.example")
    assert (out["spf"], out["dkim"], out["arc"]) == ("pass", "none", "none")
    assert out["dmarc"] == out["dmarc"] | {"result": "pass", "policy": "reject"}
    assert out["dmarc"]["disposition"] == "none"


def test_without_ip_spf_is_none_and_dmarc_fails(tmp_path: Path) -> None:
    """Nothing authenticated: DMARC fails and p=reject is applied."""
    out = checked(tmp_path, OK)
    assert out["spf"] == "none"
    assert {k: out["dmarc"][k] for k in DMARC_KEYS} == {
        "result": "fail",
        "policy": "reject",
        "disposition": "reject",
    }


def test_broken_signature_is_dkim_fail(tmp_path: Path) -> None:
    """A signature whose key is not published fails; the keys stay."""
    raw = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=bank.example; s=sel; h=from; "
        b"bh=AAAA; b=BBBB\r\n" + OK
    )
    out = checked(tmp_path, raw)
    assert out["dkim"] in ("fail", "permerror", "neutral")
    assert out["dkim"] != "pass"


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: no author\r\n\r\nhi\r\n",
        b"From: a@bank.example\r\nFrom: b@other.example\r\n\r\nhi\r\n",
        b"From: not an address\r\n\r\nhi\r\n",
        b"From: undisclosed:;\r\n\r\nhi\r\n",
    ],
    ids=["no-from", "two-froms", "no-address", "empty-group"],
)
def test_message_without_one_usable_from_is_a_dmarc_permerror(tmp_path: Path, raw: bytes) -> None:
    """No single author address: DMARC permerror (RFC 7489 6.6.1), all keys present."""
    out = checked(tmp_path, raw, "--ip", "192.0.2.5")
    assert out["dmarc"]["result"] == "permerror"
    assert out["dmarc"]["disposition"] == "reject"  # malformed_from default
    assert "dmarc=permerror" in out["authentication_results"]


def test_line_endings_and_nul_bytes(tmp_path: Path) -> None:
    """LF-only files give the CRLF answer; NUL bytes do not break the check."""
    crlf = checked(tmp_path, OK, "--ip", "192.0.2.5", "--mail-from", "ceo@bank.example")
    lf = checked(
        tmp_path, OK.replace(b"\r\n", b"\n"), "--ip", "192.0.2.5", "--mail-from", "a@bank.example"
    )
    assert (crlf["spf"], crlf["dmarc"]["result"]) == (lf["spf"], lf["dmarc"]["result"])
    nul = checked(tmp_path, b"From: ceo@bank.example\r\nSubject: a\x00b\r\n\r\nh\x00i\r\n")
    assert nul["dmarc"]["result"] == "fail"


@pytest.mark.parametrize("ip", ["[192.0.2.5]", "IPv6:::ffff:192.0.2.5", " 192.0.2.5 "])
def test_client_address_as_mtas_write_it(tmp_path: Path, ip: str) -> None:
    """Brackets, the IPv6: prefix and spaces are accepted around the address."""
    assert client_ip(ip) in ("192.0.2.5", "::ffff:c000:205")
    out = checked(tmp_path, OK, "--ip", ip, "--mail-from", "ceo@bank.example")
    assert out["spf"] == "pass"


def test_ip_that_is_no_address_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    """pyspf raised on a bad client address. A typed --ip is now refused with a clear
    error; an MTA's bad address (the milter's path) gives SPF permerror and says why."""
    result = invoke(tmp_path, OK, "--ip", "not-an-ip", "--mail-from", "ceo@bank.example")
    assert isinstance(result.exception, InvalidInput)
    assert "not an IPv4 or IPv6 address" in result.exception.message
    with pytest.raises(InvalidInput, match="not an IPv4 or IPv6 address"):
        checked_ip("not-an-ip")
    assert checked_ip("fe80::1%eth0") == "fe80::1"
    report = authenticate(
        Message.parse(OK),
        Envelope(ip="not-an-ip", helo="", mail_from="ceo@bank.example"),
        StaticResolver.from_zone_text(ZONE),
        authserv_id="mx.test",
    )
    spf = report_to_dict(report)
    assert spf["spf"] == "permerror"
    assert "not an IP address" in spf["details"]["spf"]["explanation"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"", "is empty"), (b"  \r\n", "is empty"), (b"\x89PNG\r\n\x1a\n\x00\x00", "not a mail")],
)
def test_empty_or_non_mail_file_is_a_clear_error(tmp_path: Path, raw: bytes, message: str) -> None:
    result = invoke(tmp_path, raw, "--ip", "192.0.2.5")
    assert isinstance(result.exception, InvalidInput)
    assert message in result.exception.message


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("this is not a zone (((\n", "invalid zone file"),
        ('bank.example. IN TXT "unterminated\n', "invalid zone file"),
    ],
)
def test_malformed_zone_file_is_a_clear_error(tmp_path: Path, zone: str, message: str) -> None:
    """A zone file dnspython cannot read is InvalidInput naming the line."""
    result = invoke(tmp_path, OK, zone=zone)
    assert isinstance(result.exception, InvalidInput)
    assert message in result.exception.message
    assert result.exception.message_ja
    assert result.stdout == ""


def test_missing_zone_file_and_missing_message_are_clear_errors(tmp_path: Path) -> None:
    """Paths that do not exist are named in the error."""
    (tmp_path / "m.eml").write_bytes(OK)
    args = ["mail", "check", str(tmp_path / "m.eml"), "--dns-zone", str(tmp_path / "nozone")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InvalidInput)
    assert "zone file not found" in result.exception.message
    (tmp_path / "zone").write_text(ZONE)
    args = ["mail", "check", str(tmp_path / "no.eml"), "--dns-zone", str(tmp_path / "zone")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InvalidInput)
    assert "cannot read" in result.exception.message


def test_zone_file_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    """A binary zone file should be InvalidInput like any other unreadable zone file."""
    (tmp_path / "zone").write_bytes(b"\xd5\xff\x00binary")
    (tmp_path / "m.eml").write_bytes(OK)
    args = ["mail", "check", str(tmp_path / "m.eml"), "--dns-zone", str(tmp_path / "zone")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InvalidInput)


def test_clear_error_and_exit_status_two_from_the_command(tmp_path: Path) -> None:
    """Through the real entry point: no traceback, ``error [CODE]`` on stderr, exit 2."""
    (tmp_path / "zone").write_text("this is not a zone (((\n")
    (tmp_path / "m.eml").write_bytes(OK)
    code = "from carrierguard.cli.main import main; main()"
    argv = ["mail", "check", str(tmp_path / "m.eml"), "--dns-zone", str(tmp_path / "zone")]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "error [INVALID_REQUEST]" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
