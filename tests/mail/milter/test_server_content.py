"""The phishing classifier inside the milter: one verdict per recipient's strength."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from carrierguard.mail.content.evidence import Evidence
from carrierguard.mail.content.extract import MailText
from carrierguard.mail.content.model import Scores, decide
from carrierguard.mail.content.stage import SCORE_HEADER, content_stage
from carrierguard.mail.quarantine import QuarantineStore
from carrierguard.mail.recipients import FixedStrengths
from carrierguard.mail.verdict import Stage, standard_stages
from tests.mail.conftest import message
from tests.mail.milter.test_server import SETTINGS, exchange, resolver

THRESHOLDS = {
    "phishing": {"weak": 0.10, "standard": 0.02, "strong": 0.005},
    "spam": {"weak": 0.95, "standard": 0.80, "strong": 0.50},
}


class FixedScorer:
    """Scores every message the same; verdicts come from the real threshold rule."""

    def __init__(self, phishing: float) -> None:
        self.scores = Scores(ham=1 - phishing, spam=0.0, phishing=phishing, url_scores=())

    def score(self, mail: MailText, ev: Evidence) -> Scores:
        return self.scores

    def verdict(self, scores: Scores, strength: str) -> tuple[str, str]:
        return decide(THRESHOLDS, scores, strength)


def stages(phishing: float, chosen: dict[str, str]) -> list[Stage]:
    out = standard_stages(resolver(), SETTINGS)
    out.insert(-1, content_stage(FixedScorer(phishing), FixedStrengths(chosen)))
    return out


def run(
    tmp: Path, phishing: float, chosen: dict[str, str], rcpts: tuple[str, ...]
) -> tuple[list[tuple[bytes, bytes]], QuarantineStore]:
    store = QuarantineStore(tmp / "q")
    raw = message("info@bank.example", "ご利用確認のお願い\r\n")
    replies = asyncio.run(
        exchange(stages(phishing, chosen), store, raw, "info@bank.example", "192.0.2.5", rcpts)
    )
    return replies, store


def test_strict_recipient_loses_the_copy_and_gets_it_in_quarantine(tmp_path: Path) -> None:
    """P=0.01: held at 強 (strong), delivered at 弱 (weak); one SMTP copy serves both."""
    replies, store = run(
        tmp_path,
        0.01,
        {"a@example.net": "strong", "b@example.net": "weak"},
        ("a@example.net", "b@example.net"),
    )
    assert replies[-1] == (b"c", b"")
    assert (b"-", b"<a@example.net>\0") in replies
    assert not any(r == (b"-", b"<b@example.net>\0") for r in replies)
    (entry,) = store.list()
    assert entry.recipients == ("a@example.net",)
    assert entry.reasons[0] == "CONTENT_MODEL_PHISHING"
    held = store.get(entry.id)
    assert b"X-CarrierGuard-Verdict: quarantine" in held
    assert f"{SCORE_HEADER}: 0.0100".encode() in held
    added = [r[1] for r in replies if r[0] == b"h"]
    assert f"{SCORE_HEADER}\0 0.0100\0".encode() in added


def test_everyone_strict_means_the_whole_message_is_quarantined(tmp_path: Path) -> None:
    """When every recipient holds it, the MTA is told to discard after the copy is stored."""
    replies, store = run(
        tmp_path, 0.03, {}, ("a@example.net", "b@example.net")
    )  # default standard: 0.03 >= 0.02
    assert replies[-1] == (b"d", b"")
    assert not any(r[0] == b"-" for r in replies)
    (entry,) = store.list()
    assert entry.recipients == ("a@example.net", "b@example.net")
    assert entry.phishing_probability == pytest.approx(0.03)


def test_certain_phishing_is_refused_at_smtp_for_all(tmp_path: Path) -> None:
    """Above the weak threshold the message is phishing for everyone: 550 at DATA."""
    replies, store = run(tmp_path, 0.5, {"b@example.net": "weak"}, ("b@example.net",))
    assert replies[-1][0] == b"y"
    assert replies[-1][1].startswith(b"550 5.7.1 ")
    assert b"CONTENT_MODEL_PHISHING" in replies[-1][1]
    assert store.list() == []


def test_ham_is_delivered_to_everyone(tmp_path: Path) -> None:
    replies, store = run(
        tmp_path, 0.001, {"a@example.net": "strong"}, ("a@example.net", "b@example.net")
    )
    assert replies[-1] == (b"c", b"")
    assert not any(r[0] == b"-" for r in replies)
    assert store.list() == []


def test_shipped_model_rejects_the_demo_card_phishing(tmp_path: Path) -> None:
    """The real model as a milter stage: the Japanese card lure is refused, ham passes."""
    from carrierguard.mail.content import model as model_io

    demo = Path(__file__).resolve().parents[3] / "src/carrierguard/data/demo_mail"
    loaded = model_io.load()
    chosen = standard_stages(resolver(), SETTINGS)
    chosen.insert(-1, content_stage(loaded, FixedStrengths()))
    store = QuarantineStore(tmp_path / "q")
    verdicts = {}
    for name in ("01-card-phishing.eml", "04-team-meeting.eml"):
        raw = (demo / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        replies = asyncio.run(exchange(chosen, store, raw, "info@bank.example", "192.0.2.5"))
        verdicts[name] = replies[-1][0]
    assert verdicts == {"01-card-phishing.eml": b"y", "04-team-meeting.eml": b"c"}


def test_held_mail_names_link_domains_first_seen_this_week(tmp_path: Path) -> None:
    """Link domains are remembered; a new one is named among a held message's reasons."""
    from carrierguard.mail.auth.check import Envelope
    from carrierguard.mail.message import Message
    from carrierguard.mail.reputation import DAY, MemoryReputationStore
    from carrierguard.mail.verdict import CheckContext

    now = [1_800_000_000.0]
    seen = MemoryReputationStore()
    stage = content_stage(
        FixedScorer(0.05), FixedStrengths(), link_domains=seen, clock=lambda: now[0]
    )
    raw = message("info@shop.example", "ログイン: https://login.fresh-domain.example/verify\r\n")
    context = CheckContext(Envelope(recipients=("a@example.net",)))

    def codes() -> list[str]:
        return [r.code for r in stage(Message.parse(raw), context).reasons]

    assert "LINK_DOMAIN_NEW" in codes()
    assert seen.get("fresh-domain.example") is not None
    now[0] += 8 * DAY
    assert "LINK_DOMAIN_NEW" not in codes()  # a week later it is no longer new
    assert codes()[0] == "CONTENT_MODEL_PHISHING"  # the verdict is still the model's


def test_unreadable_body_keeps_the_authentication_verdict() -> None:
    """Content that cannot be read is not evidence: the message is judged as if unscored."""
    from carrierguard.mail.auth.check import Envelope
    from carrierguard.mail.message import Message
    from carrierguard.mail.verdict import CheckContext

    stage = content_stage(FixedScorer(0.9), FixedStrengths())
    context = CheckContext(Envelope(recipients=("a@example.net",)))
    after = stage(Message.parse(b"\x00\x01 not a message"), context)
    assert after.reasons == () and after.held_for == ()
    assert ("content", "unreadable") in after.notes
    assert after.phishing_probability is None


def test_metrics_count_actions_reasons_and_held_recipients(tmp_path: Path) -> None:
    """The figures node_exporter reads: verdicts by action and reason, held recipients."""
    from carrierguard.mail.milter.metrics import MilterMetrics

    metrics = MilterMetrics()
    store = QuarantineStore(tmp_path / "q")
    raw = message("info@bank.example", "ご利用確認のお願い\r\n")
    split = stages(0.01, {"a@example.net": "strong", "b@example.net": "weak"})
    rcpts = ("a@example.net", "b@example.net")
    for chosen in (split, stages(0.001, {})):
        asyncio.run(exchange(chosen, store, raw, "info@bank.example", "192.0.2.5", rcpts, metrics))
    target = tmp_path / "carrierguard.prom"
    metrics.write(target)
    text = target.read_text()
    assert 'carrierguard_milter_messages_total{action="deliver"} 2.0' in text
    assert (
        'carrierguard_milter_reasons_total{action="deliver",code="CONTENT_MODEL_PHISHING"} 1.0'
        in text
    )
    assert "carrierguard_milter_held_recipients_total 1.0" in text
    assert "carrierguard_milter_eom_seconds_count 2.0" in text


def test_link_domains_count_from_delivered_mail_too() -> None:
    """A domain first linked by ordinary mail long ago is not new when phishing links it."""
    from carrierguard.mail.auth.check import Envelope
    from carrierguard.mail.message import Message
    from carrierguard.mail.reputation import DAY, MemoryReputationStore
    from carrierguard.mail.verdict import CheckContext

    now = [1_800_000_000.0]
    seen = MemoryReputationStore()
    raw = message("info@shop.example", "https://news.long-known.example/item\r\n")
    context = CheckContext(Envelope(recipients=("a@example.net",)))
    ham = content_stage(
        FixedScorer(0.001), FixedStrengths(), link_domains=seen, clock=lambda: now[0]
    )
    assert ham(Message.parse(raw), context).reasons == ()  # delivered, yet remembered
    now[0] += 30 * DAY
    phish = content_stage(
        FixedScorer(0.05), FixedStrengths(), link_domains=seen, clock=lambda: now[0]
    )
    codes = [r.code for r in phish(Message.parse(raw), context).reasons]
    assert "CONTENT_MODEL_PHISHING" in codes and "LINK_DOMAIN_NEW" not in codes
