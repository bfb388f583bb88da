"""Outbound abuse control for the submission milter: stop a taken-over account being
used as a relay (踏み台送信).

Owns the per-account limits (messages per minute) and the behaviour rule that holds
an account: a burst of mail to many never-seen recipients. State lives behind
``OutboundStore``: ``MemoryOutboundStore`` for one process, ``RedisOutboundStore`` when
several milter processes share the work. The decision itself (``OutboundLimiter``)
takes the time as an argument; the clock and the notifier are given to it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Protocol, TypeVar

import redis
import structlog

from carrierguard.errors import StoreUnavailable
from carrierguard.mail.message import Message
from carrierguard.mail.verdict import Action, CheckContext, Reason, Stage, Verdict

log = structlog.get_logger("carrierguard.mail.outbound")
_T = TypeVar("_T")
SEEN_TTL = 90 * 86_400  # a recipient unseen for 90 days counts as new again


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Limits per account; windows in seconds."""

    messages_per_window: int = 100
    message_window: int = 60
    new_recipients_per_window: int = 50
    new_recipient_window: int = 600

    def __post_init__(self) -> None:
        if min(self.messages_per_window, self.message_window) < 1:
            raise ValueError("message limit and window must be positive")
        if min(self.new_recipients_per_window, self.new_recipient_window) < 1:
            raise ValueError("new-recipient limit and window must be positive")


class OutboundAction(Enum):
    ACCEPT = "accept"
    TEMPFAIL = "tempfail"  # over the rate: the client may retry later
    HOLD = "hold"  # the account is held: mail is kept for the operator


@dataclass(frozen=True, slots=True)
class Hold:
    """Why and when an account was held."""

    account: str
    reason: str
    at: float
    new_recipients: int = 0


@dataclass(frozen=True, slots=True)
class HeldMail:
    account: str
    message_id: str
    recipients: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class OutboundDecision:
    action: OutboundAction
    code: str = ""
    count: int = 0


class OutboundStore(Protocol):
    """Shared counters and the held lists."""

    def count(self, key: str, window: int, now: float, amount: int = 1) -> int:
        """Add ``amount`` to the fixed window holding ``now``; return the window's total."""
        ...

    def first_seen(self, account: str, recipient: str) -> bool:
        """Remember ``recipient`` for ``account``; True if it was not known."""
        ...

    def hold(self, hold: Hold) -> bool:
        """Hold the account; True if this call did it (False if already held)."""
        ...

    def holding(self, account: str) -> Hold | None: ...

    def release(self, account: str) -> None:
        """Lift the hold and forget the account's new-recipient count (a fresh start)."""
        ...

    def keep(self, mail: HeldMail) -> None: ...

    def held_mail(self) -> list[HeldMail]: ...


class MemoryOutboundStore:
    """One process: dictionaries under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}
        self._seen: dict[str, set[str]] = {}
        self._holds: dict[str, Hold] = {}
        self._mail: list[HeldMail] = []

    def count(self, key: str, window: int, now: float, amount: int = 1) -> int:
        slot = (key, int(now // window))
        with self._lock:
            self._counts[slot] = self._counts.get(slot, 0) + amount
            for old in [k for k in self._counts if k[0] == key and k[1] < slot[1]]:
                del self._counts[old]
            return self._counts[slot]

    def first_seen(self, account: str, recipient: str) -> bool:
        with self._lock:
            seen = self._seen.setdefault(account, set())
            if recipient in seen:
                return False
            seen.add(recipient)
            return True

    def hold(self, hold: Hold) -> bool:
        with self._lock:
            if hold.account in self._holds:
                return False
            self._holds[hold.account] = hold
            return True

    def holding(self, account: str) -> Hold | None:
        with self._lock:
            return self._holds.get(account)

    def release(self, account: str) -> None:
        with self._lock:
            self._holds.pop(account, None)
            for key in [k for k in self._counts if k[0] == f"new:{account}"]:
                del self._counts[key]

    def keep(self, mail: HeldMail) -> None:
        with self._lock:
            self._mail.append(mail)

    def held_mail(self) -> list[HeldMail]:
        with self._lock:
            return list(self._mail)


class RedisOutboundStore:
    """Several milter processes: counters with INCR/EXPIRE, seen sets, holds as keys."""

    def __init__(self, client: redis.Redis[bytes], prefix: str = "cg:outbound:") -> None:
        self._r = client
        self._p = prefix

    def _call(self, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"redis: {exc}", message_ja=f"Redis に接続できません: {exc}"
            ) from exc

    def count(self, key: str, window: int, now: float, amount: int = 1) -> int:
        name = f"{self._p}n:{key}:{int(now // window)}"

        def run() -> int:
            pipe = self._r.pipeline(transaction=True)
            pipe.incrby(name, amount)
            pipe.expire(name, window * 2)
            total, _ = pipe.execute()
            return int(total)

        return self._call(run)

    def first_seen(self, account: str, recipient: str) -> bool:
        name = f"{self._p}seen:{account}"

        def run() -> bool:
            pipe = self._r.pipeline(transaction=True)
            pipe.sadd(name, recipient)
            pipe.expire(name, SEEN_TTL)
            added, _ = pipe.execute()
            return bool(added)

        return self._call(run)

    def hold(self, hold: Hold) -> bool:
        value = json.dumps(asdict(hold))
        return self._call(
            lambda: bool(self._r.set(f"{self._p}hold:{hold.account}", value, nx=True))
        )

    def holding(self, account: str) -> Hold | None:
        raw = self._call(lambda: self._r.get(f"{self._p}hold:{account}"))
        if raw is None:
            return None
        return Hold(**json.loads(raw))

    def release(self, account: str) -> None:
        def run() -> None:
            self._r.delete(f"{self._p}hold:{account}")
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", f"{self._p}n:new:{account}:")
            for key in self._r.scan_iter(match=pattern + "*"):
                self._r.delete(key)

        self._call(run)

    def keep(self, mail: HeldMail) -> None:
        value = json.dumps(asdict(mail))
        self._call(lambda: self._r.rpush(f"{self._p}held-mail", value))

    def held_mail(self) -> list[HeldMail]:
        raw = self._call(lambda: self._r.lrange(f"{self._p}held-mail", 0, -1))
        out = []
        for item in raw:
            data = json.loads(item)
            out.append(HeldMail(**{**data, "recipients": tuple(data["recipients"])}))
        return out


def log_hold(hold: Hold) -> None:
    """The default operator notification: one structured log line."""
    log.warning(
        "outbound_account_held",
        account=hold.account,
        reason=hold.reason,
        new_recipients=hold.new_recipients,
        message_ja=f"送信アカウント {hold.account} を保留しました ({hold.reason})。",
    )


class OutboundLimiter:
    """The per-message decision for one authenticated account."""

    def __init__(
        self,
        store: OutboundStore,
        policy: OutboundPolicy | None = None,
        notify: Callable[[Hold], None] = log_hold,
    ) -> None:
        self.store = store
        self.policy = policy or OutboundPolicy()
        self.notify = notify

    def hold(
        self, account: str, reason: str, recipients: Sequence[str], now: float, message_id: str = ""
    ) -> OutboundDecision:
        """Hold ``account`` for ``reason`` (e.g. outbound phishing) and keep this mail."""
        account = account.lower()
        if self.store.hold(Hold(account, reason, now)):
            self.notify(Hold(account, reason, now))
        rcpts = tuple(r.lower() for r in recipients)
        self.store.keep(HeldMail(account, message_id, rcpts, now))
        return OutboundDecision(OutboundAction.HOLD, f"OUTBOUND_{reason}")

    def check(
        self, account: str, recipients: Sequence[str], now: float, message_id: str = ""
    ) -> OutboundDecision:
        account = account.lower()
        rcpts = tuple(r.lower() for r in recipients)
        if self.store.holding(account) is not None:
            self.store.keep(HeldMail(account, message_id, rcpts, now))
            return OutboundDecision(OutboundAction.HOLD, "OUTBOUND_ACCOUNT_HELD")
        policy = self.policy
        new = sum(1 for r in rcpts if self.store.first_seen(account, r))
        fresh = self.store.count(f"new:{account}", policy.new_recipient_window, now, new)
        if fresh > policy.new_recipients_per_window:
            hold = Hold(account, "NEW_RECIPIENT_BURST", now, fresh)
            if self.store.hold(hold):
                self.notify(hold)
            self.store.keep(HeldMail(account, message_id, rcpts, now))
            return OutboundDecision(OutboundAction.HOLD, "OUTBOUND_NEW_RECIPIENT_BURST", fresh)
        sent = self.store.count(f"msg:{account}", policy.message_window, now)
        if sent > policy.messages_per_window:
            return OutboundDecision(OutboundAction.TEMPFAIL, "OUTBOUND_RATE_LIMIT", sent)
        return OutboundDecision(OutboundAction.ACCEPT, count=sent)


PhishingJudge = Callable[[Message], bool]


def outbound_stage(
    limiter: OutboundLimiter,
    clock: Callable[[], float] = time.time,
    is_phishing: PhishingJudge | None = None,
) -> Stage:
    """Submission mode: the envelope sender is the account (Postfix enforces
    ``smtpd_sender_login_maps``); a held account's mail is quarantined, over-rate mail
    is refused for now. Outbound mail the classifier judges phishing holds the account:
    a real account sending phishing has been taken over (M5)."""

    def limit(message: Message, context: CheckContext) -> CheckContext:
        envelope = context.envelope
        if not envelope.mail_from:
            return context
        message_id = message.get("Message-ID") or ""
        now = clock()
        decision = limiter.check(envelope.mail_from, envelope.recipients, now, message_id)
        if decision.action is OutboundAction.ACCEPT and is_phishing and is_phishing(message):
            decision = limiter.hold(
                envelope.mail_from, "PHISHING", envelope.recipients, now, message_id
            )
        if decision.action is OutboundAction.ACCEPT:
            return context
        if decision.action is OutboundAction.HOLD:
            reason = Reason(
                decision.code,
                "このアカウントは不正送信の疑いで保留中です。運用者が確認します。",
                "This account is held for suspected abuse; an operator will review it.",
                Action.QUARANTINE,
            )
            return context.with_reason(reason)
        reason = Reason(
            decision.code,
            "送信数が上限を超えました。しばらくしてから再送してください。",
            "Sending rate exceeded; try again later.",
            Action.REJECT,
        )
        # Over the rate the client is told to retry (4xx): the pipeline ends here.
        verdict = Verdict(Action.REJECT, (reason,), 451, "4.7.1", "Sending rate exceeded")
        return replace(context.with_reason(reason), verdict=verdict, final=True)

    return limit


def submission_stages(
    limiter: OutboundLimiter,
    clock: Callable[[], float] = time.time,
    is_phishing: PhishingJudge | None = None,
) -> list[Stage]:
    """The submission milter's pipeline: the outbound limits, then the verdict."""
    from carrierguard.mail.verdict import decide

    return [outbound_stage(limiter, clock, is_phishing), decide]


def build_store(redis_url: str | None, prefix: str = "cg:outbound:") -> OutboundStore:
    """Redis when a URL is given (several milter processes), else this process's memory."""
    if not redis_url:
        return MemoryOutboundStore()
    return RedisOutboundStore(redis.Redis.from_url(redis_url), prefix)


def classifier_judge(strength: str = "weak") -> PhishingJudge:
    """The phishing classifier as a judge; ``weak`` holds only on the most certain phishing,
    since holding an account stops a customer's mail."""
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.scan import scan_bytes

    model = model_io.load()

    def judge(message: Message) -> bool:
        result = scan_bytes("", message.raw, model, strength)
        return result.category == "phishing" and result.verdict not in (None, "deliver")

    return judge
