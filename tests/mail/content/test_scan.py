"""``mail scan`` with the shipped model: verdict per message, errors, folders and mbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.cli import register
from carrierguard.mail.content.scan import iter_messages, scan_bytes
from tests.mail.content.conftest import build

PHISH_HTML = (
    "<p>【重要】Amazonアカウントを一時停止しました。24時間以内にご確認ください。</p>"
    '<p><a href="http://amazon-co-jp.security-check.top/signin">https://www.amazon.co.jp/</a></p>'
)
PHISH = build(
    PHISH_HTML.encode(),
    subject="【Amazon】アカウントの利用を停止しました",
    from_="Amazon <support@security-check.top>",
    ctype="text/html; charset=utf-8",
)
JA_NOTICE = build(
    "山田様\n\nいつもお世話になっております。\n来週の打ち合わせは水曜日の14時からでお願いします。\n"
    "議事録は後ほどお送りします。\n".encode(),
    subject="打ち合わせの件",
    from_="Sato <sato@kogyo.example.co.jp>",
)


@pytest.fixture(scope="module")
def shipped() -> model_io.PhishingModel:
    """The model file shipped in the package."""
    return model_io.load()


def test_impersonation_with_lookalike_link_is_blocked(shipped: model_io.PhishingModel) -> None:
    """An Amazon lure pointing to a foreign domain is not delivered at standard."""
    result = scan_bytes("p.eml", PHISH, shipped, "standard")
    assert result.verdict in ("quarantine", "reject")
    assert result.category == "phishing"
    codes = {r["code"] for r in result.reasons}
    assert "BRAND_IMPERSONATION" in codes


def test_japanese_business_mail_is_delivered(shipped: model_io.PhishingModel) -> None:
    """Japanese alone is not evidence: a plain Japanese business mail is delivered."""
    for strength in ("weak", "standard"):
        assert scan_bytes("j.eml", JA_NOTICE, shipped, strength).verdict == "deliver"


def test_unreadable_message_gets_a_clear_error(shipped: model_io.PhishingModel) -> None:
    """Bytes that are not mail give an error object and no verdict."""
    result = scan_bytes("x.eml", b"\x00\x01", shipped, "standard").to_dict()
    assert result["verdict"] is None
    assert result["error"]["code"] == "MAIL_UNREADABLE"


def test_folders_and_mbox_files_are_walked(tmp_path: Path) -> None:
    """A folder yields its files; an mbox yields each message with #N."""
    (tmp_path / "a.eml").write_bytes(JA_NOTICE)
    box = b"From a@b Mon Jan  1 00:00:00 2024\n" + JA_NOTICE.replace(b"\r\n", b"\n")
    (tmp_path / "box.mbox").write_bytes(box + b"\n" + box)
    labels = [label for label, _ in iter_messages([tmp_path])]
    assert labels == [f"{tmp_path}/a.eml", f"{tmp_path}/box.mbox#1", f"{tmp_path}/box.mbox#2"]


def test_scan_command_prints_one_json_line_per_message(tmp_path: Path) -> None:
    """The CLI prints the DESIGN.md fields for each message."""
    import typer

    app = typer.Typer()
    register(app)
    (tmp_path / "p.eml").write_bytes(PHISH)
    (tmp_path / "j.eml").write_bytes(JA_NOTICE)
    out = CliRunner().invoke(app, ["scan", "--strength", "standard", "--json", str(tmp_path)])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines()]
    assert [x["verdict"] != "deliver" for x in lines] == [False, True]
    for x in lines:
        assert {"path", "verdict", "phishing_probability", "category", "reasons", "auth"} <= set(x)
