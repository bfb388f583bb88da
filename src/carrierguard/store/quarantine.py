"""The quarantine in the database: what every milter host and the API share (``DbQuarantine``).

It satisfies ``mail.quarantine.Quarantine`` like the directory store does. Held mail is the
content of communications (通信の秘密): the message bytes and the envelope (sender and
recipients) are sealed with AES-256-GCM under a key derived by HKDF from the data key
(``config.Settings.resolved_data_key``), each blob bound to its entry id, so a copied
database, dump or backup reveals neither. What listing and the figures need (time, state,
reasons, author domain, labels) stays in clear.

- ``put`` commits before it returns (SQLite: that one commit is synced to disk,
  ``synchronous=FULL``), so the milter answers the MTA only once the copy is durable.
- ``list`` pages by keyset over (received_at, id) and never selects the message column.
- ``locked`` holds the row: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the write
  transaction (``BEGIN IMMEDIATE``) that excludes every other writer. ``get``, ``mark``
  and ``record_feedback`` of that entry inside it run in the same transaction, which
  commits when the block ends.
- ``false_blocks`` counts with SQL aggregates, never loading entries.

SQLAlchemy errors become ``StoreUnavailable`` here. Never log what is sealed.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, Row, case, delete, func, literal, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.crypto import DataKeyMismatch
from carrierguard.errors import NotFound, StoreUnavailable
from carrierguard.mail.false_blocks import NO_REASON, FalseBlockReport, ReasonFigures, report
from carrierguard.mail.quarantine import FEEDBACK, STATES, QuarantineEntry, unknown_cursor
from carrierguard.store.engine import READ_ONLY
from carrierguard.store.mail_schema import mail_quarantine as q
from carrierguard.store.mail_schema import mail_quarantine_reasons as qr

_VERSION = b"\x01"  # AES-256-GCM of the plain bytes (rows written before compression)
_ZLIB = b"\x02"  # the same, of the zlib-compressed bytes: mail is text, often 3-5x smaller
#: Nothing we store opens larger than this: a damaged blob cannot inflate without bound.
_MAX_PLAIN = 64 << 20
_NONCE = 12
_SEAL_INFO = b"carrierguard/quarantine-seal/v1"
PURGE_BATCH = 1000
#: Every column but the message: what a listing reads.
_INDEX_COLUMNS = [c for c in q.c if c.name != "message"]
# The entry a ``locked`` block holds in this context: (store, entry id, its connection).
_HELD: ContextVar[tuple[DbQuarantine, str, Connection] | None] = ContextVar(
    "carrierguard_quarantine_held", default=None
)


class QuarantineSealer:
    """AES-256-GCM for held mail, keyed from the data key, each blob bound to its entry.

    Blob: version byte, 12-byte random nonce, ciphertext and tag; the associated data is
    the version, what the blob holds (``message`` or ``envelope``) and the entry id, so
    a blob moved to another row or column does not open. Version 2 compresses before it
    encrypts (at rest nobody can play with lengths); version 1 blobs still open.
    """

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(
            master_key
        )
        self._aead = AESGCM(key)

    def seal(self, entry_id: str, what: str, plain: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        packed = zlib.compress(plain, 6)
        return _ZLIB + nonce + self._aead.encrypt(nonce, packed, self._bound(_ZLIB, entry_id, what))

    def open(self, entry_id: str, what: str, blob: bytes) -> bytes:
        version = blob[:1]
        if version not in (_VERSION, _ZLIB):
            raise DataKeyMismatch("sealed quarantine data has an unknown format")
        nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            plain = self._aead.decrypt(nonce, body, self._bound(version, entry_id, what))
        except InvalidTag as exc:
            raise DataKeyMismatch(
                "quarantined mail cannot be decrypted with this data key",
                message_ja="隔離メールを復号できません。データ鍵が保存時と異なります。",
            ) from exc
        if version == _VERSION:
            return plain
        inflate = zlib.decompressobj()
        out = inflate.decompress(plain, _MAX_PLAIN)
        if inflate.unconsumed_tail or not inflate.eof:
            raise DataKeyMismatch("sealed quarantine data does not inflate as stored")
        return out

    @staticmethod
    def _bound(version: bytes, entry_id: str, what: str) -> bytes:
        return version + what.encode() + b"\0" + entry_id.encode()


class DbQuarantine:
    """The quarantine in the registry database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, master_key: bytes) -> None:
        self.engine = engine
        self.sealer = QuarantineSealer(master_key)

    # -- writing ---------------------------------------------------------------------------
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
        """Store a message and commit; it is durable when this returns."""
        entry = QuarantineEntry.held(
            raw,
            received_at=_utc_second(now or datetime.now(UTC)).isoformat(),
            mail_from=mail_from,
            recipients=recipients,
            header_from=header_from,
            reasons=reasons,
            queue_id=queue_id,
            phishing_probability=phishing_probability,
        )
        with self._durable() as conn:
            self._insert(conn, entry, raw)
        return entry

    def import_entries(self, items: Iterable[tuple[QuarantineEntry, bytes]]) -> int:
        """Add entries (with their ids, states and labels) in one transaction; entries
        whose id is already here are left alone. Returns how many were added."""
        added = 0
        with self._durable() as conn:
            for entry, raw in items:
                exists = conn.execute(select(q.c.id).where(q.c.id == entry.id)).first()
                if exists is None:
                    self._insert(conn, entry, raw)
                    added += 1
        return added

    def _insert(self, conn: Connection, entry: QuarantineEntry, raw: bytes) -> None:
        envelope = json.dumps(
            {"mail_from": entry.mail_from, "recipients": list(entry.recipients)},
            ensure_ascii=False,
        ).encode()
        conn.execute(
            q.insert().values(
                id=entry.id,
                received_at=_utc_second(datetime.fromisoformat(entry.received_at)),
                state=entry.state,
                header_from=entry.header_from,
                reasons=json.dumps(list(entry.reasons), ensure_ascii=False),
                queue_id=entry.queue_id,
                size=entry.size,
                phishing_probability=entry.phishing_probability,
                feedback=entry.feedback,
                feedback_by=entry.feedback_by,
                released_at=entry.released_at,
                released_by=entry.released_by,
                envelope=self.sealer.seal(entry.id, "envelope", envelope),
                message=self.sealer.seal(entry.id, "message", raw),
            )
        )
        codes = sorted(set(entry.reasons)) or [NO_REASON]
        conn.execute(qr.insert(), [{"entry_id": entry.id, "code": c} for c in codes])

    def mark(
        self, entry_id: str, state: str, *, released_at: str = "", released_by: str = ""
    ) -> QuarantineEntry:
        """Record a release or deletion (the bytes stay until purged)."""
        if state not in STATES:
            raise ValueError(f"unknown quarantine state {state!r}")
        values: dict[str, Any] = {"state": state}
        if released_at:
            values["released_at"] = released_at
        if released_by:
            values["released_by"] = released_by
        return self._update(entry_id, values)

    def record_feedback(self, entry_id: str, label: str, actor: str) -> QuarantineEntry:
        """Record what a person said the message is ("phishing" or "not_phishing")."""
        if label not in FEEDBACK:
            raise ValueError(f"unknown feedback {label!r}")
        return self._update(entry_id, {"feedback": label, "feedback_by": actor})

    def _update(self, entry_id: str, values: dict[str, Any]) -> QuarantineEntry:
        _checked(entry_id)
        with self._tx(write=True) as conn:
            done = conn.execute(update(q).where(q.c.id == entry_id).values(**values))
            if done.rowcount == 0:
                raise _not_found(entry_id)
            return self._read_entry(conn, entry_id)

    def purge(self, before: datetime) -> int:
        """Remove every message received before ``before``, in batches; returns how many."""
        cutoff = _utc_second(before)
        removed = 0
        while True:
            with self._tx(write=True) as conn:
                ids = list(
                    conn.execute(
                        select(q.c.id)
                        .where(q.c.received_at < cutoff)
                        .order_by(q.c.received_at, q.c.id)
                        .limit(PURGE_BATCH)
                    ).scalars()
                )
                if ids:
                    conn.execute(delete(qr).where(qr.c.entry_id.in_(ids)))
                    conn.execute(delete(q).where(q.c.id.in_(ids)))
            removed += len(ids)
            if len(ids) < PURGE_BATCH:
                return removed

    # -- reading ---------------------------------------------------------------------------
    def list(
        self,
        state: str | None = "held",
        *,
        limit: int | None = None,
        after: str | None = None,
        newest_first: bool = False,
    ) -> list[QuarantineEntry]:
        """One page in (received_at, id) order, by index, without the message column."""
        query = select(*_INDEX_COLUMNS)
        if state is not None:
            query = query.where(q.c.state == state)
        key = tuple_(q.c.received_at, q.c.id)
        with self._tx(write=False) as conn:
            if after:
                mark = conn.execute(select(q.c.received_at, q.c.id).where(q.c.id == after)).first()
                if mark is None:
                    raise unknown_cursor(after)
                cursor = tuple_(
                    literal(mark.received_at, q.c.received_at.type), literal(mark.id, q.c.id.type)
                )
                query = query.where(key < cursor if newest_first else key > cursor)
            if newest_first:
                query = query.order_by(q.c.received_at.desc(), q.c.id.desc())
            else:
                query = query.order_by(q.c.received_at, q.c.id)
            if limit is not None:
                query = query.limit(limit)
            return [self._entry(row) for row in conn.execute(query)]

    def entry(self, entry_id: str) -> QuarantineEntry:
        _checked(entry_id)
        with self._tx(write=False) as conn:
            return self._read_entry(conn, entry_id)

    def get(self, entry_id: str) -> bytes:
        """The stored message bytes, opened."""
        _checked(entry_id)
        with self._tx(write=False) as conn:
            blob = conn.execute(select(q.c.message).where(q.c.id == entry_id)).scalar()
        if blob is None:
            raise _not_found(entry_id)
        return self.sealer.open(entry_id, "message", bytes(blob))

    @contextmanager
    def locked(self, entry_id: str) -> Iterator[QuarantineEntry]:
        """Hold one entry against every other process and yield it, read fresh under the lock.

        The block is one transaction: what it marks commits when it ends, and nothing it
        marked survives an exception. Re-entering for the same entry reuses the hold.
        """
        query = select(*_INDEX_COLUMNS).where(q.c.id == _checked(entry_id))
        held = _HELD.get()
        if held is not None and held[0] is self:  # nested: the transaction already held
            yield self._read_entry(held[2], entry_id)
            return
        try:
            with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                row = conn.execute(query).first()
                if row is None:
                    raise _not_found(entry_id)
                token = _HELD.set((self, entry_id, conn))
                try:
                    yield self._entry(row)
                finally:
                    _HELD.reset(token)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"quarantine database error: {exc.__class__.__name__}") from exc

    def false_blocks(self, since: datetime, until: datetime) -> FalseBlockReport:
        """``mail.false_blocks.summarise`` computed by the database: two aggregates."""
        lo, hi = _utc_second(since), _utc_second(until)
        held_in = (q.c.received_at >= lo) & (q.c.received_at < hi)
        false_block = func.coalesce(func.sum(case((q.c.feedback == "not_phishing", 1), else_=0)), 0)
        catch = func.coalesce(func.sum(case((q.c.feedback == "phishing", 1), else_=0)), 0)
        released = func.coalesce(func.sum(case((q.c.state == "released", 1), else_=0)), 0)
        with self._tx(write=False) as conn:
            held, false_blocks, catches, out = conn.execute(
                select(func.count(), false_block, catch, released).where(held_in)
            ).one()
            per_reason = [
                ReasonFigures(code, int(n), int(f), int(c))
                for code, n, f, c in conn.execute(
                    select(qr.c.code, func.count(), false_block, catch)
                    .select_from(qr.join(q, q.c.id == qr.c.entry_id))
                    .where(held_in)
                    .group_by(qr.c.code)
                )
            ]
        return report(
            since, until, int(held), int(false_blocks), int(catches), int(out), per_reason
        )

    def check_key(self) -> None:
        """Open the newest entry's envelope: a wrong data key fails now, not at release."""
        with self._tx(write=False) as conn:
            row = conn.execute(
                select(q.c.id, q.c.envelope)
                .order_by(q.c.received_at.desc(), q.c.id.desc())
                .limit(1)
            ).first()
        if row is not None:
            self.sealer.open(row.id, "envelope", bytes(row.envelope))

    def count(self) -> int:
        with self._tx(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(q)).scalar_one())

    # -- helpers ---------------------------------------------------------------------------
    def _read_entry(self, conn: Connection, entry_id: str) -> QuarantineEntry:
        row = conn.execute(select(*_INDEX_COLUMNS).where(q.c.id == entry_id)).first()
        if row is None:
            raise _not_found(entry_id)
        return self._entry(row)

    def _entry(self, row: Row[Any]) -> QuarantineEntry:
        envelope = json.loads(self.sealer.open(row.id, "envelope", bytes(row.envelope)))
        return QuarantineEntry(
            id=row.id,
            received_at=_utc_second(row.received_at).isoformat(),
            mail_from=envelope["mail_from"],
            recipients=tuple(envelope["recipients"]),
            header_from=row.header_from,
            reasons=tuple(json.loads(row.reasons)),
            queue_id=row.queue_id,
            size=int(row.size),
            state=row.state,
            phishing_probability=row.phishing_probability,
            feedback=row.feedback,
            feedback_by=row.feedback_by,
            released_at=row.released_at,
            released_by=row.released_by,
        )

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        """Inside ``locked`` its transaction (a second one would wait on the first: SQLite has
        one writer), else a new one."""
        held = _HELD.get()
        if held is not None and held[0] is self:
            yield held[2]
            return
        try:
            if write:
                with self.engine.begin() as conn:
                    yield conn
            else:
                with self.engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"quarantine database error: {exc.__class__.__name__}") from exc

    @contextmanager
    def _durable(self) -> Iterator[Connection]:
        """A write transaction whose commit is on disk when it ends (SQLite: synchronous=FULL
        for this commit; PostgreSQL commits durably by default)."""
        held = _HELD.get()
        if held is not None and held[0] is self:
            yield held[2]  # durable when the held transaction commits
            return
        try:
            with self.engine.connect() as conn:
                raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
                if raw is not None:
                    raw.execute("PRAGMA synchronous=FULL")
                try:
                    with conn.begin():
                        yield conn
                finally:
                    if raw is not None:
                        raw.execute("PRAGMA synchronous=NORMAL")  # the engine's setting
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"quarantine database error: {exc.__class__.__name__}") from exc


def _utc_second(moment: datetime) -> datetime:
    """UTC to the second, as the directory store stamps ``received_at`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _checked(entry_id: str) -> str:
    if not entry_id.isalnum():
        raise NotFound(f"bad quarantine id {entry_id!r}", message_ja="隔離 ID が不正です。")
    return entry_id


def _not_found(entry_id: str) -> NotFound:
    return NotFound(
        f"quarantined message {entry_id} not found",
        message_ja=f"隔離メール {entry_id} が見つかりません。",
    )
