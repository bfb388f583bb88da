"""``mail scan`` inputs: files, nested folders, mbox, Maildir, compressed files, bad input.

Every input gets a verdict or a clear error line, one bad input never stops the others,
and the exit status is 1 when some input could not be judged.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from carrierguard.errors import CarrierGuardError
from carrierguard.mail.content import model as model_io
from carrierguard.mail.content import scan as scan_mod
from carrierguard.mail.content.cli import register
from carrierguard.mail.content.scan import iter_messages, scan_paths
from tests.mail.content.conftest import build

KEYS = ["path", "verdict", "phishing_probability", "category", "reasons", "auth"]
HAM = build(
    b"Hello team,\r\n\r\nthe weekly sync moves to Thursday 10:00.\r\n\r\nHanako\r\n",
    subject="Weekly sync moved",
    from_="Hanako <hanako@corp.example.jp>",
)
PHISH = build(
    (
        "<p>【重要】Amazonアカウントを一時停止しました。24時間以内にご確認ください。</p>"
        '<p><a href="http://amazon-co-jp.security-check.top/signin">'
        "https://www.amazon.co.jp/</a></p>"
    ).encode(),
    subject="【Amazon】アカウントの利用を停止しました",
    from_="Amazon <support@security-check.top>",
    ctype="text/html; charset=utf-8",
)


def lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


def mbox(*messages: bytes, crlf: bool = False) -> bytes:
    parts = [
        b"From sender@example.net Mon Sep  2 10:00:00 2024\n" + lf(m) + b"\n" for m in messages
    ]
    out = b"".join(parts)
    return out.replace(b"\n", b"\r\n") if crlf else out


@pytest.fixture(scope="module")
def shipped() -> model_io.PhishingModel:
    return model_io.load()


def run(*paths: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``scan`` as the CLI does: (exit code, JSON lines of stdout, stderr)."""
    app = typer.Typer()
    register(app)
    out = CliRunner().invoke(app, ["scan", *map(str, paths)])
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    for line in lines:
        assert list(line)[:6] == KEYS
        assert (line["verdict"] is None) == ("error" in line)
        if line["verdict"] is not None:
            assert line["verdict"] in ("deliver", "quarantine", "reject")
    return out.exit_code, lines, out.stderr


def labels(*paths: Path) -> list[str]:
    return [label for label, _ in iter_messages(list(paths))]


def test_single_message_file(tmp_path: Path) -> None:
    """One .eml: one line with the DESIGN.md keys, exit 0, nothing on stderr."""
    (tmp_path / "p.eml").write_bytes(PHISH)
    code, lines, err = run(tmp_path / "p.eml")
    assert code == 0 and err == ""
    assert len(lines) == 1
    assert lines[0]["path"] == str(tmp_path / "p.eml")
    assert lines[0]["verdict"] in ("quarantine", "reject")
    assert lines[0]["category"] == "phishing"
    assert isinstance(lines[0]["auth"], dict)


def test_nested_folder_is_walked_in_name_order(tmp_path: Path) -> None:
    """Sub-folders are walked; hidden files and links to folders (loops) are not."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c").mkdir()
    (tmp_path / "a.eml").write_bytes(HAM)
    (tmp_path / "b" / "c" / "d.eml").write_bytes(HAM)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01binary")
    (tmp_path / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert labels(tmp_path) == [f"{tmp_path}/a.eml", f"{tmp_path}/b/c/d.eml"]


def test_mbox_messages_are_numbered_from_one(tmp_path: Path) -> None:
    """The n-th message of an mbox is reported as PATH#n, LF or CRLF alike."""
    (tmp_path / "lf.mbox").write_bytes(mbox(HAM, PHISH, HAM))
    (tmp_path / "crlf.mbox").write_bytes(mbox(HAM, PHISH, crlf=True))
    code, lines, _ = run(tmp_path / "lf.mbox", tmp_path / "crlf.mbox")
    assert code == 0
    assert [x["path"] for x in lines] == [
        f"{tmp_path}/lf.mbox#1",
        f"{tmp_path}/lf.mbox#2",
        f"{tmp_path}/lf.mbox#3",
        f"{tmp_path}/crlf.mbox#1",
        f"{tmp_path}/crlf.mbox#2",
    ]
    verdicts = [x["verdict"] for x in lines]
    assert verdicts[0] == verdicts[2] == verdicts[3] == "deliver"
    assert verdicts[1] != "deliver" and verdicts[4] != "deliver"


def test_maildir_reads_cur_and_new_only(tmp_path: Path) -> None:
    """tmp (deliveries in progress) and the IMAP server's files are skipped; Maildir++
    sub-folders (.Sent) are read."""
    box = tmp_path / "Maildir"
    for folder in (box, box / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    (box / "new" / "1.M1.host").write_bytes(HAM)
    (box / "cur" / "2.M2.host:2,S").write_bytes(HAM)
    (box / "tmp" / "3.M3.host").write_bytes(b"From: half-written")
    (box / "dovecot-uidlist").write_bytes(b"3 V1 N4\n")
    (box / "dovecot.index").write_bytes(b"\x00\x01\x02")
    (box / ".Sent" / "cur" / "4.M4.host:2,S").write_bytes(HAM)
    assert labels(box) == [
        f"{box}/cur/2.M2.host:2,S",
        f"{box}/new/1.M1.host",
        f"{box}/.Sent/cur/4.M4.host:2,S",
    ]
    code, lines, _ = run(box)
    assert code == 0 and [x["verdict"] for x in lines] == ["deliver"] * 3


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compressed_message_and_mbox(tmp_path: Path, suffix: str, compress: Any) -> None:
    """gzip, bzip2 and xz files are read like the file they hold."""
    (tmp_path / f"p.eml{suffix}").write_bytes(compress(PHISH))
    (tmp_path / f"box.mbox{suffix}").write_bytes(compress(mbox(HAM, PHISH)))
    code, lines, _ = run(tmp_path / f"p.eml{suffix}", tmp_path / f"box.mbox{suffix}")
    assert code == 0
    assert [(x["path"].rpartition("/")[2], x["verdict"] == "deliver") for x in lines] == [
        (f"p.eml{suffix}", False),
        (f"box.mbox{suffix}#1", True),
        (f"box.mbox{suffix}#2", False),
    ]


def test_bad_inputs_get_error_lines_and_the_rest_is_judged(tmp_path: Path) -> None:
    """Missing path, empty file, binary, truncated gzip, folder without mail, a FIFO:
    each gets its own error line and a count on stderr, the good file between them its
    verdict; exit 0 since something was judged (1 only when nothing could be)."""
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "bin.dat").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "cut.eml.gz").write_bytes(gzip.compress(HAM)[:40])
    (tmp_path / "good.eml").write_bytes(HAM)
    (tmp_path / "nomail" / "sub").mkdir(parents=True)
    os.mkfifo(tmp_path / "fifo")
    order = ["missing.eml", "empty.eml", "bin.dat", "cut.eml.gz", "good.eml", "nomail", "fifo"]
    code, lines, err = run(*(tmp_path / name for name in order))
    assert code == 0 and "6 of 7 inputs could not be judged" in err
    assert [x["path"] for x in lines] == [str(tmp_path / name) for name in order]
    codes = [x.get("error", {}).get("code") for x in lines]
    assert codes == [
        "NOT_FOUND",
        "MAIL_UNREADABLE",
        "MAIL_UNREADABLE",
        "MAIL_UNREADABLE",
        None,
        "NOT_FOUND",
        "MAIL_UNREADABLE",
    ]
    assert lines[4]["verdict"] == "deliver"
    messages = [x["error"]["message_en"] for x in lines if "error" in x]
    assert "no such file or folder" in messages[0]
    assert "empty" in messages[1]
    assert "not a mail message" in messages[2]
    assert "end-of-stream" in messages[3]
    assert "no messages under" in messages[4]
    assert "neither a file nor a folder" in messages[5]
    assert all(x["error"]["message_ja"] for x in lines if "error" in x)
    assert "6 of 7 inputs could not be judged" in err


def test_twenty_megabyte_message_is_judged(tmp_path: Path) -> None:
    """A 20 MB message (under the 32 MB limit) gets a verdict."""
    body = b"Please find the minutes below.\r\n" + (b"x" * 76 + b"\r\n") * (20 * 1024 * 1024 // 78)
    raw = build(body, subject="Minutes", from_="Hanako <hanako@corp.example.jp>")
    assert len(raw) > 20_000_000
    (tmp_path / "big.eml").write_bytes(raw)
    code, lines, _ = run(tmp_path / "big.eml")
    assert code == 0 and lines[0]["verdict"] == "deliver"


def test_too_large_file_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit, a file is refused from its size; an mbox message on its own."""
    monkeypatch.setattr(scan_mod, "MAX_BYTES", 2000)
    (tmp_path / "big.eml").write_bytes(HAM + b"y" * 3000)
    (tmp_path / "box.mbox").write_bytes(mbox(HAM, HAM + b"y" * 3000, HAM))

    def no_read(self: Path) -> bytes:
        raise AssertionError(f"read {self}")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    items = list(iter_messages([tmp_path / "big.eml", tmp_path / "box.mbox"]))
    assert [label.rpartition("/")[2] for label, _ in items] == [
        "big.eml",
        "box.mbox#1",
        "box.mbox#2",
        "box.mbox#3",
    ]
    kinds = [type(item).__name__ for _, item in items]
    assert kinds == ["MailUnreadable", "bytes", "MailUnreadable", "bytes"]
    assert "exceeds 2000" in str(items[0][1])


def test_crlf_lf_and_nul_bytes_give_verdicts(
    tmp_path: Path, shipped: model_io.PhishingModel
) -> None:
    """Line endings do not change the verdict or the score; NUL bytes do not stop a scan."""
    (tmp_path / "crlf.eml").write_bytes(PHISH)
    (tmp_path / "lf.eml").write_bytes(lf(PHISH))
    (tmp_path / "nul.eml").write_bytes(
        HAM.replace(b"Subject:", b"X-Odd: a\x00b\r\nSubject:").replace(b"team,", b"te\x00am,")
    )
    results = list(scan_paths([tmp_path], shipped, "standard"))
    by_name = {r.path.rpartition("/")[2]: r for r in results}
    assert by_name["crlf.eml"].verdict == by_name["lf.eml"].verdict != "deliver"
    assert by_name["crlf.eml"].phishing_probability == pytest.approx(
        by_name["lf.eml"].phishing_probability, abs=1e-6
    )
    assert by_name["nul.eml"].verdict == "deliver"


def test_file_name_that_is_not_utf8_is_printable(tmp_path: Path) -> None:
    """A name with a byte that is not UTF-8 is shown escaped, and the line is valid JSON."""
    name = os.fsdecode(b"caf\xe9.eml")
    (tmp_path / name).write_bytes(HAM)
    code, lines, _ = run(tmp_path)
    assert code == 0
    assert lines[0]["path"] == f"{tmp_path}/caf\\xe9.eml"


def test_unreadable_file_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error (here: permission) on one file is that file's error line."""
    (tmp_path / "a.eml").write_bytes(HAM)
    (tmp_path / "b.eml").write_bytes(HAM)
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.name == "a.eml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, lines, _ = run(tmp_path)
    assert code == 0
    assert lines[0]["error"]["code"] == "MAIL_UNREADABLE"
    assert "Permission denied" in lines[0]["error"]["message_en"]
    assert lines[1]["verdict"] == "deliver"


def test_fault_on_one_message_is_reported_and_the_next_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: model_io.PhishingModel
) -> None:
    """An unexpected exception while judging one message becomes an INTERNAL_ERROR line."""
    (tmp_path / "box.mbox").write_bytes(mbox(HAM, PHISH, HAM))
    real = scan_mod.gather

    def flaky(mail: Any, catalogue: Any) -> Any:
        if "Amazon" in mail.subject:
            raise RuntimeError("boom")
        return real(mail, catalogue)

    monkeypatch.setattr(scan_mod, "gather", flaky)
    results = [r.to_dict() for r in scan_paths([tmp_path / "box.mbox"], shipped, "standard")]
    assert [r["verdict"] for r in results] == ["deliver", None, "deliver"]
    assert results[1]["error"]["code"] == CarrierGuardError.code
    assert "RuntimeError" in results[1]["error"]["message_en"]


def test_exit_status_is_1_when_nothing_could_be_judged(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a mail\n")
    code, lines, err = run(tmp_path / "missing.eml", tmp_path / "notes.txt")
    assert code == 1 and "2 of 2 inputs could not be judged" in err
    assert [x["verdict"] for x in lines] == [None, None]
