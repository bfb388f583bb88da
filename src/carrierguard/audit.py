"""The tamper-evident audit trail: entries hashed in a chain, and its verification (pure).

Each entry's hash covers its sequence number, time, actor, action, subject, payload and
the previous entry's hash. Changing, removing or reordering any entry breaks the chain
at that entry, and ``verify_chain`` names the first entry that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: str  # canonical JSON
    prev_hash: str
    hash: str


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )


def entry_hash(
    *, seq: int, at: datetime, actor: str, action: str, subject: str, payload: str, prev_hash: str
) -> str:
    material = "\x1f".join(
        [str(seq), _timestamp(at), actor, action, subject, payload, prev_hash]
    ).encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def _timestamp(at: datetime) -> str:
    # SQLite hands datetimes back without a zone; the chain hashes UTC wall time only.
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


def verify_chain(
    entries: Iterable[AuditEntry], head: tuple[int, str] | None = None
) -> tuple[int, ChainProblem | None]:
    """(entries checked, first problem or None), reading entries in ``seq`` order.

    ``head`` is the (seq, hash) the store recorded for the newest entry; with it, the
    removal of the newest entries is detected too.
    """
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    for e in entries:
        if e.seq != expected_seq:
            kind = "missing" if e.seq > expected_seq else "out of order"
            return checked, ChainProblem(
                expected_seq if e.seq > expected_seq else e.seq,
                f"sequence {kind}: expected {expected_seq}, found {e.seq}",
            )
        if e.prev_hash != prev_hash:
            return checked, ChainProblem(
                e.seq, "does not follow the previous entry (removed or reordered entries)"
            )
        recomputed = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            payload=e.payload,
            prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            return checked, ChainProblem(e.seq, "content was changed after it was written")
        prev_hash = e.hash
        expected_seq += 1
        checked += 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq >= expected_seq:
            return checked, ChainProblem(expected_seq, "missing: the chain ends before its head")
        if head_seq == checked and head_hash != prev_hash:
            return checked, ChainProblem(head_seq, "does not match the recorded head")
    return checked, None
