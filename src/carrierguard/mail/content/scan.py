"""``mail scan``: verdicts for files, folders and mbox files, one JSON object per message.

The pure part is ``scan_bytes`` (bytes in, ``ScanResult`` out); ``iter_messages`` is the
only place that touches the file system. A message we cannot read yields a result with a
clear error instead of a verdict; nothing here raises for bad input.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carrierguard.errors import MailUnreadable
from carrierguard.mail.content.brands import Catalogue, default_catalogue
from carrierguard.mail.content.evidence import gather, reasons
from carrierguard.mail.content.extract import read_message
from carrierguard.mail.content.model import PhishingModel, Scores

_AUTH_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.IGNORECASE)


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


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(5)
    return head == b"From "


def iter_messages(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) for every message under ``paths``: files, folders (recursive), mbox.

    An mbox message is labelled ``path#N`` (N from 1).
    """
    for path in paths:
        if path.is_dir():
            yield from iter_messages(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file() and _is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                for n, key in enumerate(box.iterkeys(), start=1):
                    yield f"{path}#{n}", box.get_bytes(key)
            finally:
                box.close()
        elif path.is_file():
            yield str(path), path.read_bytes()
        else:
            yield str(path), b""
