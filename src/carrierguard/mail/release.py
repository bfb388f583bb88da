"""Release of quarantined mail and people's feedback on it (M4: false blocks are undone).

``release`` hands the held bytes, unchanged, to the MTA's re-injection listener by
SMTP (aiosmtplib): a Postfix ``smtpd`` on a local port without our milter, so the
message is not judged twice. The entry is locked while it is sent, and marked
released only after the MTA accepted it: two operators releasing at once send one
copy, and a crash between the two leaves it held (a second release may then deliver
a duplicate, never lose it). The lock is taken, and the message sent, in a worker
thread: a second release of the same entry waits there, never on the event loop that
the first one needs in order to finish.

``record_feedback`` keeps what a person said the message is: on the entry, in the
domain reputation (when one is configured), and as a labelled copy under
``feedback_dir/phishing`` or ``feedback_dir/not_phishing`` that ``mail train
--feedback DIR`` reads for the next model.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import structlog

from carrierguard.errors import Conflict, InvalidInput, ReleaseFailed
from carrierguard.mail.quarantine import LABELS, Quarantine, QuarantineEntry, write_atomically
from carrierguard.mail.reputation import ReputationStore

log = structlog.get_logger("carrierguard.mail.release")

DEFAULT_RELEASE_PORT = 10026


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    """Where released mail is handed over (the MTA's re-injection listener)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_RELEASE_PORT
    timeout: float = 30.0

    @classmethod
    def parse(cls, spec: str) -> SmtpRelay:
        """``HOST:PORT`` (``[v6]:PORT`` for IPv6)."""
        host, sep, port = spec.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise InvalidInput(
                f"release relay must be HOST:PORT, got {spec!r}",
                message_ja=f"リリース先は HOST:PORT の形で指定してください: {spec!r}",
            )
        return cls(host.strip("[]"), int(port))


async def release(
    store: Quarantine, entry_id: str, relay: SmtpRelay, *, actor: str
) -> QuarantineEntry:
    """Deliver one held message to its recipients, byte for byte, and mark it released."""
    return await asyncio.to_thread(_release_locked, store, entry_id, relay, actor)


def _release_locked(
    store: Quarantine, entry_id: str, relay: SmtpRelay, actor: str
) -> QuarantineEntry:
    with store.locked(entry_id) as entry:
        if entry.state != "held":
            raise Conflict(
                f"quarantined message {entry_id} is {entry.state}, not held",
                message_ja=f"隔離メール {entry_id} は保留中ではありません ({entry.state})。",
            )
        raw = store.get(entry_id)
        try:
            refused, _ = asyncio.run(
                aiosmtplib.send(
                    raw,
                    sender=entry.mail_from,
                    recipients=list(entry.recipients),
                    hostname=relay.host,
                    port=relay.port,
                    timeout=relay.timeout,
                    start_tls=False,
                    use_tls=False,
                )
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.error("release_failed", entry=entry_id, error=exc.__class__.__name__)
            raise ReleaseFailed(
                f"the mail server refused or could not be reached: {exc.__class__.__name__}",
                message_ja="メールサーバーに引き渡せませんでした。隔離は保持されています。",
            ) from exc
        if refused:
            log.warning("release_partly_refused", entry=entry_id, refused=len(refused))
        now = datetime.now(UTC).isoformat(timespec="seconds")  # as ``put`` stamps received_at
        updated = store.mark(entry_id, "released", released_at=now, released_by=actor)
    log.info("quarantine_released", entry=entry_id, actor=actor, size=entry.size)
    return updated


def record_feedback(
    store: Quarantine,
    entry_id: str,
    label: str,
    *,
    actor: str,
    feedback_dir: Path,
    reputation: ReputationStore | None = None,
) -> QuarantineEntry:
    """Keep a person's verdict on a quarantined message for reputation and training."""
    if label not in LABELS:
        raise InvalidInput(
            f"label must be one of {', '.join(LABELS)}: {label!r}",
            message_ja="label は phishing (フィッシング) か not_phishing (フィッシングではない) です。",
        )
    with store.locked(entry_id) as entry:
        target = feedback_dir / label / f"{entry_id}.eml"
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for other in LABELS:  # a corrected label replaces the earlier one
            if other != label:
                (feedback_dir / other / f"{entry_id}.eml").unlink(missing_ok=True)
        write_atomically(target, store.get(entry_id))
        if reputation is not None and entry.header_from and entry.feedback != label:
            reputation.feedback(entry.header_from, time.time(), phishing=label == "phishing")
        updated = store.record_feedback(entry_id, label, actor)
    log.info("quarantine_feedback", entry=entry_id, label=label, actor=actor)
    return updated
