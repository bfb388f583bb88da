"""``mail scan``: verdicts for files, folders and mbox files, one JSON object per message.

The pure part is ``scan_bytes`` (bytes in, ``ScanResult`` out); ``iter_messages`` is the
only place that touches the file system. A message we cannot read, a path that does not
exist, a folder without mail: each yields a result with a clear error instead of a
verdict, and the next input is read all the same; nothing here raises for bad input.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import mailbox
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carrierguard.errors import CarrierGuardError, MailUnreadable, NotFound
from carrierguard.mail.content.brands import Catalogue, default_catalogue
from carrierguard.mail.content.evidence import gather, reasons
from carrierguard.mail.content.extract import MAX_BYTES, read_message
from carrierguard.mail.content.model import PhishingModel, Scores

logger = logging.getLogger(__name__)

_AUTH_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.IGNORECASE)
# A compressed mbox is expanded to a temporary file of at most this size.
MAX_MBOX_BYTES = 8 * 1024**3

Opener = Callable[[Path], gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile]
# Magic bytes of the compressed formats read transparently, and their readers.
_COMPRESSED: tuple[tuple[bytes, Opener], ...] = (
    (b"\x1f\x8b", gzip.GzipFile),
    *((b"BZh%d" % level, bz2.BZ2File) for level in range(1, 10)),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)
# One message to judge: its label and raw bytes, or why there is none.
Item = tuple[str, bytes | CarrierGuardError]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The answer for one message, as ``mail scan`` prints it."""

    path: str
    verdict: str | None
    phishing_probability: float | None
    category: str | None
    reasons: tuple[dict[str, str], ...]
    auth: dict[str, str]
    error: dict[str, object] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN.md (``error`` only when the message was unreadable)."""
        out: dict[str, Any] = {
            "path": self.path,
            "verdict": self.verdict,
            "phishing_probability": self.phishing_probability,
            "category": self.category,
            "reasons": list(self.reasons),
            "auth": self.auth,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def reported_auth(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Results from the topmost Authentication-Results header, as reported by its writer.

    Shown for information only; they are never model features (relays add them).
    """
    for name, value in headers:
        if name.lower() == "authentication-results":
            found = {m.group(1).lower(): m.group(2).lower() for m in _AUTH_RESULT.finditer(value)}
            if found:
                return {"source": "authentication-results", **found}
    return {}


def model_reason(category: str, scores: Scores) -> dict[str, str]:
    """The reason the content model gives for holding a message (scan and milter alike)."""
    return {
        "code": "CONTENT_MODEL_" + category.upper(),
        "message_ja": f"内容の判定: {category} (確率 {scores.phishing:.3f})",
        "message_en": f"content model: {category} (phishing probability {scores.phishing:.3f})",
    }


def scan_bytes(
    path: str,
    data: bytes,
    model: PhishingModel,
    strength: str,
    catalogue: Catalogue | None = None,
) -> ScanResult:
    """Judge one message."""
    catalogue = catalogue or default_catalogue()
    try:
        mail = read_message(data)
    except MailUnreadable as exc:
        return ScanResult(path, None, None, None, (), {}, exc.to_dict())
    ev = gather(mail, catalogue)
    scores = model.score(mail, ev)
    verdict, category = model.verdict(scores, strength)
    why = [
        {"code": r.code, "message_ja": r.message_ja, "message_en": r.message_en}
        for r in reasons(ev, scores.url_scores)
    ]
    if verdict != "deliver":
        why.insert(0, model_reason(category, scores))
    return ScanResult(
        path,
        verdict,
        round(scores.phishing, 6),
        category,
        tuple(why),
        reported_auth(mail.headers),
    )


def _label(path: Path) -> str:
    """``path`` as text; bytes that are not UTF-8 in a file name are shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _unreadable(label: str, exc: BaseException) -> MailUnreadable:
    why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return MailUnreadable(f"cannot read {label}: {why}", message_ja=f"読み取れません: {why}")


def _too_large(size: int) -> MailUnreadable:
    return MailUnreadable(
        f"message of {size} bytes exceeds {MAX_BYTES}",
        message_ja=f"メールが大きすぎます ({size} バイト)。",
    )


def _is_maildir(folder: Path) -> bool:
    return (folder / "cur").is_dir() and (folder / "new").is_dir()


def _real_dir(path: Path) -> bool:
    """A folder that is not a symbolic link (links to folders are not followed: no loops)."""
    return path.is_dir() and not path.is_symlink()


def _walk(folder: Path) -> Iterator[Item]:
    """Messages in ``folder`` and below, in name order.

    Hidden files are skipped. A Maildir (``cur`` and ``new`` inside) gives the files of
    ``cur`` and ``new`` only: ``tmp`` holds deliveries still being written and the files
    beside ``cur`` are the IMAP server's bookkeeping. Maildir++ folders (``.Sent``...) are
    hidden folders that are Maildirs themselves, and are walked.
    """
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        yield _label(folder), _unreadable(_label(folder), exc)
        return
    maildir = _is_maildir(folder)
    if maildir:
        for sub in ("cur", "new"):
            try:
                found = sorted((folder / sub).iterdir())
            except OSError as exc:
                yield _label(folder / sub), _unreadable(_label(folder / sub), exc)
                continue
            for entry in found:
                if not entry.name.startswith(".") and entry.is_file():
                    yield from _file(entry)
    for entry in entries:
        if maildir and entry.name in ("cur", "new", "tmp"):
            continue
        if _real_dir(entry):
            if not entry.name.startswith(".") or _is_maildir(entry):
                yield from _walk(entry)
        elif not maildir and not entry.name.startswith(".") and entry.is_file():
            yield from _file(entry)


def _mbox(path: Path, label: str) -> Iterator[Item]:
    """Each message of an mbox file as ``label#N`` (N from 1)."""
    box = mailbox.mbox(path, create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            with box.get_file(key) as fh:
                data = fh.read(MAX_BYTES + 1)
            yield f"{label}#{n}", (_too_large(len(data)) if len(data) > MAX_BYTES else data)
    finally:
        box.close()


def _decompressed(path: Path, label: str, opener: Opener) -> Iterator[Item]:
    """A compressed message or mbox: a message is read into memory, an mbox into a
    temporary file (at most ``MAX_MBOX_BYTES``)."""
    with opener(path) as fh:
        head = fh.read(5)
        if head != b"From ":
            data = head + fh.read(MAX_BYTES + 1 - len(head))
            yield label, (_too_large(len(data)) if len(data) > MAX_BYTES else data)
            return
        with tempfile.TemporaryDirectory(prefix="carrierguard-scan-") as tmp:
            target = Path(tmp) / "mbox"
            with target.open("wb") as out:
                out.write(head)
                copied = len(head)
                while chunk := fh.read(1 << 20):
                    copied += len(chunk)
                    if copied > MAX_MBOX_BYTES:
                        yield (
                            label,
                            MailUnreadable(
                                f"{label}: decompressed mbox exceeds {MAX_MBOX_BYTES} bytes",
                                message_ja=f"展開後の mbox が大きすぎます ({MAX_MBOX_BYTES} バイト超)。",
                            ),
                        )
                        return
                    out.write(chunk)
            yield from _mbox(target, label)


def _file(path: Path) -> Iterator[Item]:
    """One file: a message, an mbox, or either of them compressed (gzip, bzip2, xz)."""
    label = _label(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
        opener = next((o for magic, o in _COMPRESSED if head.startswith(magic)), None)
        if opener is not None:
            yield from _decompressed(path, label, opener)
        elif head.startswith(b"From "):
            yield from _mbox(path, label)
        elif (size := path.stat().st_size) > MAX_BYTES:
            yield label, _too_large(size)
        else:
            yield label, path.read_bytes()
    except (OSError, EOFError, zlib.error, lzma.LZMAError, mailbox.Error) as exc:
        yield label, _unreadable(label, exc)


def iter_messages(paths: list[Path]) -> Iterator[Item]:
    """(label, raw bytes or the error) for every message under ``paths``.

    Files, folders (recursive, Maildir-aware), mbox files, and any of these files
    compressed with gzip, bzip2 or xz. An mbox message is labelled ``path#N`` (N from 1).
    A path that does not exist, is not a file or folder, or is a folder holding no
    message gives one error item; a file that cannot be read gives its own.
    """
    for path in paths:
        label = _label(path)
        if path.is_dir():
            found = False
            for item in _walk(path):
                found = True
                yield item
            if not found:
                yield (
                    label,
                    NotFound(
                        f"no messages under {label}", message_ja=f"{label} にメールがありません。"
                    ),
                )
        elif path.is_file():
            yield from _file(path)
        elif path.exists():
            yield (
                label,
                MailUnreadable(
                    f"{label} is neither a file nor a folder",
                    message_ja=f"{label} はファイルでもフォルダでもありません。",
                ),
            )
        else:
            yield (
                label,
                NotFound(
                    f"no such file or folder: {label}",
                    message_ja=f"ファイルまたはフォルダがありません: {label}",
                ),
            )


def error_result(label: str, error: CarrierGuardError) -> ScanResult:
    """The line for an input that gave no message to judge."""
    return ScanResult(label, None, None, None, (), {}, error.to_dict())


def scan_paths(
    paths: list[Path], model: PhishingModel, strength: str, catalogue: Catalogue | None = None
) -> Iterator[ScanResult]:
    """``scan_bytes`` for every message under ``paths``; one bad input never stops the rest."""
    catalogue = catalogue or default_catalogue()
    for label, item in iter_messages(paths):
        if isinstance(item, CarrierGuardError):
            yield error_result(label, item)
            continue
        try:
            result = scan_bytes(label, item, model, strength, catalogue)
        except Exception as exc:  # a fault on one message must not stop the others
            logger.error("scan failed", extra={"path": label}, exc_info=exc)
            result = error_result(
                label,
                CarrierGuardError(
                    f"internal error while judging {label}: {type(exc).__name__}",
                    message_ja=f"判定中に内部エラーが発生しました ({type(exc).__name__})。",
                ),
            )
        yield result
