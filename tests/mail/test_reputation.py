"""Sender-domain reputation: counters, smoothed features, Redis sharing and the stage."""

from __future__ import annotations

import redis

from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.auth.check import AuthReport, Envelope
from carrierguard.mail.auth.dkim import ArcResult
from carrierguard.mail.auth.dmarc import DmarcResult
from carrierguard.mail.message import Message
from carrierguard.mail.reputation import (
    DAY,
    DomainStats,
    MemoryReputationStore,
    RedisReputationStore,
    features,
    reputation_stage,
)
from carrierguard.mail.verdict import CheckContext
from tests.mail.test_outbound import redis_prefix  # noqa: F401 (fixture)

T0 = 1_790_000_000.0


def test_unknown_domain_gets_a_neutral_middling_score() -> None:
    """No history: half pass rate, no age, a score well below an established domain's."""
    fresh = features(None, T0)
    assert fresh.age_days == 0 and fresh.auth_pass_rate == 0.5
    old = features(DomainStats("bank.test", T0 - 400 * DAY, 10_000, 9_990, 0, 5), T0)
    assert old.score > 0.9 > 0.3 > fresh.score


def test_complaints_and_failures_lower_the_score() -> None:
    """User phishing reports and DMARC failures both cost reputation."""
    base = DomainStats("x.test", T0 - 100 * DAY, 1000, 1000, 0, 0)
    clean = features(base, T0).score
    reported = features(DomainStats("x.test", T0 - 100 * DAY, 1000, 1000, 30, 0), T0).score
    failing = features(DomainStats("x.test", T0 - 100 * DAY, 1000, 100, 0, 0), T0).score
    assert clean > reported and clean > failing


def test_memory_store_keeps_first_seen_and_counts() -> None:
    """First-seen is the first observation; volume and passes accumulate."""
    store = MemoryReputationStore()
    store.observe("Shop.test", T0, True)
    store.observe("shop.test", T0 + 50, False)
    store.feedback("shop.test", T0 + 60, phishing=True)
    assert store.get("shop.test") == DomainStats("shop.test", T0, 2, 1, 1, 0)


def test_two_redis_stores_share_one_history(redis_prefix: str) -> None:  # noqa: F811
    """Two milter processes see the same first-seen time and counts."""
    prefix = redis_prefix
    a = RedisReputationStore(redis.Redis(host="127.0.0.1", port=6379), prefix)
    b = RedisReputationStore(redis.Redis(host="127.0.0.1", port=6379), prefix)
    a.observe("shop.test", T0, True)
    b.observe("shop.test", T0 + 10, True)
    b.feedback("shop.test", T0 + 20, phishing=False)
    assert a.get("shop.test") == DomainStats("shop.test", T0, 2, 2, 0, 1)
    assert a.get("never.test") is None


def test_stage_notes_the_features_from_before_this_message() -> None:
    """The stage records the message and notes the domain's reputation before it."""
    store = MemoryReputationStore()
    dmarc = DmarcResult("pass", "reject", "none", "shop.test")
    auth = AuthReport(
        AuthorDomain("shop.test", "a@shop.test"), None, (), ArcResult("none"), dmarc, ""
    )
    stage = reputation_stage(store, lambda: T0)
    message = Message.parse(b"From: a@shop.test\r\n\r\nhi\r\n")
    out = stage(message, CheckContext(Envelope(), auth=auth))
    notes = dict(out.notes)
    assert notes["reputation_log_volume"] == "0"
    assert store.get("shop.test") == DomainStats("shop.test", T0, 1, 1)
