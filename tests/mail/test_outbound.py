"""Outbound abuse control: rate limits and holding an account that bursts to new recipients."""

from __future__ import annotations

import json
import multiprocessing
import uuid
from collections.abc import Iterator

import pytest
import redis

from carrierguard.mail.auth.check import Envelope
from carrierguard.mail.message import Message
from carrierguard.mail.outbound import (
    Hold,
    MemoryOutboundStore,
    OutboundAction,
    OutboundLimiter,
    OutboundPolicy,
    RedisOutboundStore,
    classifier_judge,
    outbound_stage,
)
from carrierguard.mail.verdict import Action, CheckContext, decide, run_pipeline
from tests.conftest import need

POLICY = OutboundPolicy(
    messages_per_window=100,
    message_window=60,
    new_recipients_per_window=50,
    new_recipient_window=600,
)
T0 = 1_790_000_000.0
TAKEN = "taken@carrier.test"
OTHERS = [f"user{i}@carrier.test" for i in range(5)]


def test_burst_to_new_recipients_holds_the_account_after_the_threshold() -> None:
    """The 51st never-seen recipient holds the account and notifies once."""
    notified: list[Hold] = []
    limiter = OutboundLimiter(MemoryOutboundStore(), POLICY, notified.append)
    actions = [
        limiter.check(TAKEN, [f"victim{i}@example.test"], T0 + i * 0.1).action for i in range(80)
    ]
    assert actions[:50] == [OutboundAction.ACCEPT] * 50
    assert actions[50:] == [OutboundAction.HOLD] * 30
    assert [h.account for h in notified] == [TAKEN]
    assert len(limiter.store.held_mail()) == 30


def test_known_recipients_do_not_count_as_new() -> None:
    """Mail to the same few correspondents never trips the new-recipient rule."""
    limiter = OutboundLimiter(MemoryOutboundStore(), POLICY)
    rcpts = [f"friend{i}@example.test" for i in range(10)]
    for i in range(90):
        assert limiter.check(TAKEN, [rcpts[i % 10]], T0 + i).action is OutboundAction.ACCEPT


def test_rate_limit_refuses_for_now_and_recovers_next_window() -> None:
    """Over 100 mails a minute is a temporary refusal, lifted in the next minute."""
    limiter = OutboundLimiter(MemoryOutboundStore(), POLICY)
    start = 60 * (T0 // 60)
    results = [limiter.check(TAKEN, ["friend@example.test"], start + i * 0.1) for i in range(101)]
    assert results[-1].action is OutboundAction.TEMPFAIL
    assert results[-2].action is OutboundAction.ACCEPT
    assert limiter.check(TAKEN, ["friend@example.test"], start + 61).action is OutboundAction.ACCEPT


def test_released_account_can_send_again() -> None:
    """The operator's release lifts the hold."""
    store = MemoryOutboundStore()
    limiter = OutboundLimiter(store, OutboundPolicy(new_recipients_per_window=1))
    limiter.check(TAKEN, ["a@x.test", "b@x.test"], T0)
    assert store.holding(TAKEN) is not None
    store.release(TAKEN)
    assert limiter.check(TAKEN, ["a@x.test"], T0 + 1).action is OutboundAction.ACCEPT


def _context(sender: str, rcpt: str) -> CheckContext:
    return CheckContext(Envelope("192.0.2.1", "client", sender, (rcpt,)))


MESSAGE = Message.parse(b"From: x@carrier.test\r\nMessage-ID: <1@x>\r\n\r\nhi\r\n")


def test_stage_quarantines_held_mail_and_tempfails_over_rate() -> None:
    """In the pipeline a hold quarantines, an over-rate message gets 451 4.7.1."""
    clock = iter(float(T0 + i) for i in range(1000))
    limiter = OutboundLimiter(MemoryOutboundStore(), OutboundPolicy(new_recipients_per_window=1))
    stages = [outbound_stage(limiter, lambda: next(clock)), decide]
    first = run_pipeline(stages, MESSAGE, _context(TAKEN, "a@x.test"))
    assert first.verdict is not None and first.verdict.action is Action.DELIVER
    held = run_pipeline(stages, MESSAGE, _context(TAKEN, "b@x.test"))
    assert held.verdict is not None and held.verdict.action is Action.QUARANTINE
    rate = OutboundLimiter(MemoryOutboundStore(), OutboundPolicy(messages_per_window=1))
    stages = [outbound_stage(rate, lambda: T0), decide]
    run_pipeline(stages, MESSAGE, _context(TAKEN, "a@x.test"))
    over = run_pipeline(stages, MESSAGE, _context(TAKEN, "a@x.test"))
    assert over.verdict is not None and (over.verdict.smtp_code, over.verdict.smtp_status) == (
        451,
        "4.7.1",
    )


# --- two processes sharing Redis --------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client: redis.Redis[bytes] = redis.Redis(host="127.0.0.1", port=6379)
    try:
        client.ping()
        up = True
    except redis.RedisError:
        up = False
    need(up, "Redis on 127.0.0.1:6379")
    prefix = f"cg:test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def _milter_process(prefix: str, mails: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """One milter process: its own Redis connection and limiter."""
    store = RedisOutboundStore(redis.Redis(host="127.0.0.1", port=6379), prefix)
    limiter = OutboundLimiter(store, POLICY, lambda hold: None)
    return [
        (i, sender, limiter.check(sender, [rcpt], T0 + i * 0.1).action.value)
        for i, sender, rcpt in mails
    ]


def test_takeover_burst_across_two_processes_sharing_redis(redis_prefix: str) -> None:
    """500 mails in a minute to new recipients from one account, split over two processes:
    exactly the threshold gets through, the rest is held, and other accounts are untouched."""
    mails: list[tuple[int, str, str]] = []
    for i in range(500):
        mails.append((i, TAKEN, f"victim{i}@example.test"))
        if i % 5 == 0:
            other = OTHERS[(i // 5) % len(OTHERS)]
            mails.append((i, other, f"contact{i}@example.test"))
    halves = [mails[0::2], mails[1::2]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = [
            r
            for part in pool.starmap(_milter_process, [(redis_prefix, h) for h in halves])
            for r in part
        ]
    taken = [action for _, sender, action in results if sender == TAKEN]
    assert len(taken) == 500
    assert taken.count("accept") == POLICY.new_recipients_per_window
    assert taken.count("hold") == 500 - POLICY.new_recipients_per_window
    others = [action for _, sender, action in results if sender != TAKEN]
    assert len(others) == 100 and set(others) == {"accept"}
    store = RedisOutboundStore(redis.Redis(host="127.0.0.1", port=6379), redis_prefix)
    hold = store.holding(TAKEN)
    assert hold is not None and hold.reason == "NEW_RECIPIENT_BURST"
    assert all(store.holding(o) is None for o in OTHERS)
    assert len(store.held_mail()) == 450
    store.release(TAKEN)
    limiter = OutboundLimiter(store, POLICY)
    assert limiter.check(TAKEN, ["new@example.test"], T0 + 60).action is OutboundAction.ACCEPT


PHISH = (
    "From: a@carrier.test\r\nTo: b@example.test\r\nSubject: 【重要】アカウント停止のお知らせ\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "お客様のアカウントは一時停止されました。以下のURLから本人確認を行ってください。 "
    "http://amaz0n-co-jp.verify-login.xyz/signin 24時間以内に手続きがない場合、"
    "アカウントは削除されます。\r\n"
).encode()


def test_outbound_phishing_holds_the_account_and_its_next_mail() -> None:
    """Mail the classifier calls phishing is quarantined and the account held."""
    notified: list[Hold] = []
    limiter = OutboundLimiter(MemoryOutboundStore(), POLICY, notified.append)
    stages = [outbound_stage(limiter, lambda: T0, lambda m: b"amaz0n" in m.raw), decide]
    phish = run_pipeline(stages, Message.parse(PHISH), _context(TAKEN, "b@example.test"))
    assert phish.verdict is not None and phish.verdict.action is Action.QUARANTINE
    assert [h.reason for h in notified] == ["PHISHING"]
    after = run_pipeline(stages, MESSAGE, _context(TAKEN, "b@example.test"))
    assert after.verdict is not None and after.verdict.action is Action.QUARANTINE


def test_shipped_classifier_tells_outbound_phishing_from_ordinary_mail() -> None:
    """The content model, as the submission milter uses it, flags the phishing sample only."""
    judge = classifier_judge("weak")
    assert judge(Message.parse(PHISH))
    lunch = b"From: a@carrier.test\r\nSubject: lunch\r\n\r\nShall we have lunch at noon?\r\n"
    assert not judge(Message.parse(lunch))


def test_operator_lists_held_mail_and_releases_the_account(redis_prefix: str) -> None:
    """``mail outbound-held`` lists held mail with the reason and ``--release`` lifts the hold."""
    from typer.testing import CliRunner

    from carrierguard.cli.main import app

    store = RedisOutboundStore(redis.Redis(host="127.0.0.1", port=6379), redis_prefix)
    limiter = OutboundLimiter(store, OutboundPolicy(new_recipients_per_window=1), lambda h: None)
    limiter.check(TAKEN, ["a@x.test", "b@x.test"], T0, "<m1@carrier.test>")
    args = ["mail", "outbound-held", "--redis", "redis://127.0.0.1:6379/0"]
    args += ["--redis-prefix", redis_prefix]
    listed = CliRunner().invoke(app, args)
    assert listed.exit_code == 0, listed.output
    row = json.loads(listed.output.splitlines()[0])
    assert (row["account"], row["reason"], row["held"]) == (TAKEN, "NEW_RECIPIENT_BURST", True)
    released = CliRunner().invoke(app, [*args, "--release", TAKEN])
    assert json.loads(released.output.splitlines()[0]) == {"released": TAKEN}
    assert store.holding(TAKEN) is None
