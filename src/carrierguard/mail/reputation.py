"""Sender-domain reputation kept from what we see: first-seen time, volume, how often the
domain's mail passes DMARC, and what users reported (phishing / not phishing).

Owns the counters (``ReputationStore``: in memory, or Redis shared by milter processes),
the pure features and score derived from them (usable by the phishing classifier as
extra features), and a pipeline stage that records each message and leaves the figures
in ``context.notes``. It never changes a verdict by itself: a new domain is not a crime,
and blocking on newness alone would be false blocking (M4).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import redis

from carrierguard.errors import StoreUnavailable
from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.message import Message
from carrierguard.mail.verdict import CheckContext, Stage

DAY = 86_400.0
# Beta prior for the rates: a domain with no history is neither trusted nor distrusted.
PRIOR_PASS, PRIOR_FAIL = 1.0, 1.0
PRIOR_COMPLAINTS, PRIOR_CLEAN = 0.1, 2.0


@dataclass(frozen=True, slots=True)
class DomainStats:
    domain: str
    first_seen: float
    messages: int = 0
    auth_pass: int = 0
    phishing_reports: int = 0
    ham_reports: int = 0


@dataclass(frozen=True, slots=True)
class ReputationFeatures:
    """Numbers a classifier can take as features; all finite."""

    age_days: float
    log_volume: float
    auth_pass_rate: float
    complaint_rate: float
    score: float  # 0 (bad) .. 1 (good)

    def as_dict(self) -> dict[str, float]:
        return {
            "reputation_age_days": self.age_days,
            "reputation_log_volume": self.log_volume,
            "reputation_auth_pass_rate": self.auth_pass_rate,
            "reputation_complaint_rate": self.complaint_rate,
            "reputation_score": self.score,
        }


def features(stats: DomainStats | None, now: float) -> ReputationFeatures:
    """Pure: smoothed rates and a score from the counters (None: never seen)."""
    if stats is None:
        stats = DomainStats("", now)
    age = max(0.0, (now - stats.first_seen) / DAY)
    passes = (stats.auth_pass + PRIOR_PASS) / (stats.messages + PRIOR_PASS + PRIOR_FAIL)
    reports = stats.phishing_reports + stats.ham_reports
    complaints = (stats.phishing_reports + PRIOR_COMPLAINTS) / (
        reports + PRIOR_COMPLAINTS + PRIOR_CLEAN
    )
    # Age and volume earn trust slowly (logarithmically); failures and complaints cost it.
    seasoning = min(1.0, math.log1p(age) / math.log1p(90)) * 0.5 + 0.5
    score = passes * (1.0 - complaints) * seasoning
    return ReputationFeatures(
        round(age, 3),
        round(math.log10(1 + stats.messages), 4),
        round(passes, 4),
        round(complaints, 4),
        round(score, 4),
    )


class ReputationStore(Protocol):
    def observe(self, domain: str, now: float, auth_pass: bool) -> DomainStats:
        """Count one message from ``domain``; return the counters including it."""
        ...

    def feedback(self, domain: str, now: float, phishing: bool) -> None:
        """A user's report: phishing (complaint) or not phishing (a rescue)."""
        ...

    def get(self, domain: str) -> DomainStats | None: ...


class MemoryReputationStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, DomainStats] = {}

    def _update(self, domain: str, now: float, **add: int) -> DomainStats:
        with self._lock:
            old = self._stats.get(domain) or DomainStats(domain, now)
            new = replace(old, **{k: getattr(old, k) + v for k, v in add.items()})
            self._stats[domain] = new
            return new

    def observe(self, domain: str, now: float, auth_pass: bool) -> DomainStats:
        return self._update(domain.lower(), now, messages=1, auth_pass=int(auth_pass))

    def feedback(self, domain: str, now: float, phishing: bool) -> None:
        field = "phishing_reports" if phishing else "ham_reports"
        self._update(domain.lower(), now, **{field: 1})

    def get(self, domain: str) -> DomainStats | None:
        with self._lock:
            return self._stats.get(domain.lower())


class RedisReputationStore:
    """One hash per domain; HSETNX keeps the first-seen time, HINCRBY the counters."""

    def __init__(self, client: redis.Redis[bytes], prefix: str = "cg:reputation:") -> None:
        self._r = client
        self._p = prefix

    def _write(self, domain: str, now: float, **add: int) -> None:
        key = f"{self._p}{domain.lower()}"
        try:
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(key, "first_seen", repr(now))
            for name, amount in add.items():
                pipe.hincrby(key, name, amount)
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"redis: {exc}", message_ja=f"Redis に接続できません: {exc}"
            ) from exc

    def observe(self, domain: str, now: float, auth_pass: bool) -> DomainStats:
        self._write(domain, now, messages=1, auth_pass=int(auth_pass))
        stats = self.get(domain)
        assert stats is not None
        return stats

    def feedback(self, domain: str, now: float, phishing: bool) -> None:
        self._write(domain, now, **{"phishing_reports" if phishing else "ham_reports": 1})

    def get(self, domain: str) -> DomainStats | None:
        try:
            raw = self._r.hgetall(f"{self._p}{domain.lower()}")
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"redis: {exc}", message_ja=f"Redis に接続できません: {exc}"
            ) from exc
        if not raw:
            return None
        values = {k.decode(): v.decode() for k, v in raw.items()}
        counts = {
            name: int(values.get(name, "0"))
            for name in ("messages", "auth_pass", "phishing_reports", "ham_reports")
        }
        return DomainStats(domain.lower(), float(values["first_seen"]), **counts)


def reputation_stage(store: ReputationStore, clock: Callable[[], float] = time.time) -> Stage:
    """Record the author domain and its DMARC outcome; leave the features in ``notes``.

    Place it after the authentication stages. The features describe the domain *before*
    this message, so a burst cannot vouch for itself.
    """

    def remember(message: Message, context: CheckContext) -> CheckContext:
        auth = context.auth
        if auth is None or not isinstance(auth.author, AuthorDomain):
            return context
        domain = auth.author.domain
        now = clock()
        before = features(store.get(domain), now)
        store.observe(domain, now, auth.dmarc.result == "pass")
        notes = tuple((k, f"{v:g}") for k, v in before.as_dict().items())
        return replace(context, notes=(*context.notes, *notes))

    return remember
