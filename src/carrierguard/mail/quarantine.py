"""The quarantine: where held messages wait, and the interface every quarantine offers.

``Quarantine`` is the interface (a ``typing.Protocol``) that the milter, release,
feedback, the API, the pages and the CLI type against. Two stores satisfy it: the
directory below (``QuarantineStore``, one host) and the database
(``carrierguard.store.quarantine.DbQuarantine``, shared by every milter and the API,
messages sealed at rest).

The directory store keeps what it holds so that none is ever half-there.

Each message is two files named by a random id: ``<id>.eml`` (the message with
our headers) and ``<id>.json`` (its metadata, the index entry). Both are written
to a temporary file, fsynced, renamed into place and the directory fsynced, the
metadata last: a message is listed only once its bytes are durable. The milter
only answers "discard" to the MTA after ``put`` returned, so a crash in between
leaves the MTA to retry. Release and feedback (the phishing issue) build on
``list``/``get``/``mark``/``record_feedback`` (``mail.release``).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from carrierguard.errors import InvalidInput, NotFound
from carrierguard.mail.false_blocks import FalseBlockReport, summarise

STATES = ("held", "released", "deleted")
LABELS = ("phishing", "not_phishing")  # what a person may say of a held message
FEEDBACK = ("", *LABELS)


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """The index entry of one held message."""

    id: str
    received_at: str
    mail_from: str
    recipients: tuple[str, ...]
    header_from: str
    reasons: tuple[str, ...]
    queue_id: str = ""
    size: int = 0
    state: str = "held"
    phishing_probability: float | None = None
    feedback: str = ""  # "", "phishing" or "not_phishing"
    feedback_by: str = ""
    released_at: str = ""
    released_by: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown quarantine state {self.state!r}")
        if self.feedback not in FEEDBACK:
            raise ValueError(f"unknown feedback {self.feedback!r}")

    @classmethod
    def held(
        cls,
        raw: bytes,
        *,
        received_at: str,
        mail_from: str,
        recipients: tuple[str, ...],
        header_from: str,
        reasons: tuple[str, ...],
        queue_id: str = "",
        phishing_probability: float | None = None,
    ) -> QuarantineEntry:
        """The entry of a message just held: a new random id, held, no feedback yet."""
        return cls(
            id=secrets.token_hex(12),
            received_at=received_at,
            mail_from=mail_from,
            recipients=recipients,
            header_from=header_from,
            reasons=reasons,
            queue_id=queue_id,
            size=len(raw),
            phishing_probability=phishing_probability,
        )


class Quarantine(Protocol):
    """What a quarantine offers; ``QuarantineStore`` and ``DbQuarantine`` both satisfy it.

    ``put`` returns only once the message is durable (the milter answers the MTA after
    it). ``list`` pages by keyset: ``after`` is the id of the last entry of the previous
    page, the order is (received_at, id), oldest first unless ``newest_first``; it never
    reads message bodies. ``locked`` excludes a second holder of the same entry across
    processes; ``get``/``mark``/``record_feedback`` on that entry may be called inside it.
    """

    def put(
        self,
        raw: bytes,
        *,
        mail_from: str,
        recipients: tuple[str, ...],
        header_from: str,
        reasons: tuple[str, ...],
        queue_id: str = "",
        now: datetime | None = None,
        phishing_probability: float | None = None,
    ) -> QuarantineEntry: ...

    def list(
        self,
        state: str | None = "held",
        *,
        limit: int | None = None,
        after: str | None = None,
        newest_first: bool = False,
    ) -> list[QuarantineEntry]: ...

    def entry(self, entry_id: str) -> QuarantineEntry: ...

    def get(self, entry_id: str) -> bytes: ...

    def mark(
        self, entry_id: str, state: str, *, released_at: str = "", released_by: str = ""
    ) -> QuarantineEntry: ...

    def locked(self, entry_id: str) -> AbstractContextManager[QuarantineEntry]: ...

    def record_feedback(self, entry_id: str, label: str, actor: str) -> QuarantineEntry: ...

    def purge(self, before: datetime) -> int: ...

    def false_blocks(self, since: datetime, until: datetime) -> FalseBlockReport:
        """False-block figures (``mail.false_blocks``) for messages held in [since, until)."""
        ...


def unknown_cursor(entry_id: str) -> InvalidInput:
    """The error for an ``after`` that names no entry (purged, or never there)."""
    return InvalidInput(
        f"after: no quarantined message {entry_id!r} to continue from",
        message_ja=f"after に指定した隔離メール {entry_id!r} がありません。",
    )


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class QuarantineStore:
    """A filesystem quarantine rooted at ``directory`` (created with mode 0700)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(
        self,
        raw: bytes,
        *,
        mail_from: str,
        recipients: tuple[str, ...],
        header_from: str,
        reasons: tuple[str, ...],
        queue_id: str = "",
        now: datetime | None = None,
        phishing_probability: float | None = None,
    ) -> QuarantineEntry:
        """Store a message durably and return its index entry."""
        entry = QuarantineEntry.held(
            raw,
            received_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
            mail_from=mail_from,
            recipients=recipients,
            header_from=header_from,
            reasons=reasons,
            queue_id=queue_id,
            phishing_probability=phishing_probability,
        )
        write_atomically(self.directory / f"{entry.id}.eml", raw)
        self._write_entry(entry)
        return entry

    def _write_entry(self, entry: QuarantineEntry) -> None:
        body = json.dumps(asdict(entry), ensure_ascii=False, sort_keys=True).encode()
        write_atomically(self.directory / f"{entry.id}.json", body)

    def list(
        self,
        state: str | None = "held",
        *,
        limit: int | None = None,
        after: str | None = None,
        newest_first: bool = False,
    ) -> list[QuarantineEntry]:
        """Index entries in (received_at, id) order; ``state=None`` lists every state.

        A page of ``limit`` entries after the entry ``after`` (see ``Quarantine``); this
        store still reads every index file to find it.
        """
        entries = []
        for path in self.directory.glob("*.json"):
            if path.name.startswith(".tmp-"):
                continue
            entry = self._load(path)
            if state is None or entry.state == state:
                entries.append(entry)
        entries.sort(key=lambda e: (e.received_at, e.id), reverse=newest_first)
        if after:
            try:
                mark = self.entry(after)
            except NotFound as exc:
                raise unknown_cursor(after) from exc
            key = (mark.received_at, mark.id)
            entries = [
                e
                for e in entries
                if ((e.received_at, e.id) < key) == newest_first and e.id != after
            ]
        return entries if limit is None else entries[:limit]

    def entry(self, entry_id: str) -> QuarantineEntry:
        path = self.directory / f"{self._checked(entry_id)}.json"
        if not path.exists():
            raise NotFound(
                f"quarantined message {entry_id} not found",
                message_ja=f"隔離メール {entry_id} が見つかりません。",
            )
        return self._load(path)

    def get(self, entry_id: str) -> bytes:
        """The stored message bytes."""
        self.entry(entry_id)
        return (self.directory / f"{entry_id}.eml").read_bytes()

    def mark(
        self, entry_id: str, state: str, *, released_at: str = "", released_by: str = ""
    ) -> QuarantineEntry:
        """Record a release or deletion (the bytes stay until purged)."""
        old = self.entry(entry_id)
        updated = replace(
            old,
            state=state,
            released_at=released_at or old.released_at,
            released_by=released_by or old.released_by,
        )
        self._write_entry(updated)
        return updated

    @contextmanager
    def locked(self, entry_id: str) -> Iterator[QuarantineEntry]:
        """Hold an exclusive lock on one entry (across processes) and yield it, read fresh.

        Release takes it so that two operators releasing at once send one copy.
        """
        self.entry(entry_id)
        fd = os.open(self.directory / f".{entry_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.entry(entry_id)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def record_feedback(self, entry_id: str, label: str, actor: str) -> QuarantineEntry:
        """Record what a person said the message is ("phishing" or "not_phishing")."""
        updated = replace(self.entry(entry_id), feedback=label, feedback_by=actor)
        self._write_entry(updated)
        return updated

    def purge(self, before: datetime) -> int:
        """Remove every message received before ``before`` (retention); returns how many.

        The index entry goes first, so a message is never listed without its bytes; a
        crash in between leaves only unlisted bytes, which the next purge removes.
        """
        removed = 0
        cutoff = before.isoformat(timespec="seconds")
        for entry in self.list(None):
            if entry.received_at >= cutoff:
                continue
            with self.locked(entry.id):
                (self.directory / f"{entry.id}.json").unlink(missing_ok=True)
                (self.directory / f"{entry.id}.eml").unlink(missing_ok=True)
            (self.directory / f".{entry.id}.lock").unlink(missing_ok=True)
            removed += 1
        for orphan in self.directory.glob("*.eml"):
            listed = (self.directory / f"{orphan.stem}.json").exists()
            if not listed and orphan.stat().st_mtime < before.timestamp():
                orphan.unlink(missing_ok=True)
        return removed

    def false_blocks(self, since: datetime, until: datetime) -> FalseBlockReport:
        """Figures over every index entry (this store has no index by date)."""
        return summarise(self.list(None), since, until)

    @staticmethod
    def _checked(entry_id: str) -> str:
        if not entry_id.isalnum():
            raise NotFound(f"bad quarantine id {entry_id!r}", message_ja="隔離 ID が不正です。")
        return entry_id

    @staticmethod
    def _load(path: Path) -> QuarantineEntry:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["recipients"] = tuple(data.get("recipients", ()))
        data["reasons"] = tuple(data.get("reasons", ()))
        return QuarantineEntry(**data)
