"""Evaluation on the shared corpora (slow; skips locally without ../shared/data/mail)."""

from __future__ import annotations

import pytest

from carrierguard.mail.content import model as model_io
from carrierguard.mail.content import train
from tests.conftest import SHARED_DATA, need

MAIL = SHARED_DATA / "mail"


@pytest.mark.slow
def test_shipped_model_meets_the_done_targets_on_the_test_split() -> None:
    """Standard: ja phishing recall >= 0.97, ham false blocks <= 0.1 %, none on ja-ham."""
    need((MAIL / "ja-phishing" / "labels.csv").is_file(), "shared mail corpora not present")
    model = model_io.load()
    examples, _ = train.prepare(MAIL)
    rows = train.evaluate(model, examples, "test")
    phish = [r for r in rows if r.corpus == "ja-phishing"]
    ham = [r for r in rows if r.label == "ham"]
    recall = sum(r.blocked["standard"] for r in phish) / sum(r.n for r in phish)
    false_blocks = sum(r.blocked["standard"] for r in ham) / sum(r.n for r in ham)
    assert recall >= 0.97
    assert false_blocks <= 0.001
    (ja_all,) = train.evaluate(model, examples, "all", corpus="ja-ham")
    assert ja_all.n == 77
    assert ja_all.blocked["standard"] == 0


@pytest.mark.slow
def test_every_corpus_message_gets_a_verdict() -> None:
    """No message of the corpora is unreadable."""
    need((MAIL / "ja-phishing" / "labels.csv").is_file(), "shared mail corpora not present")
    _, unreadable = train.prepare(MAIL)
    assert unreadable == 0
