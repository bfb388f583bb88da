"""The phishing model: thresholds, verdicts, save and load, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from carrierguard.errors import ModelUnavailable
from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.model import PhishingModel, Scores, threshold_for_rate

THRESHOLDS = {
    "phishing": {"weak": 0.9, "standard": 0.5, "strong": 0.2},
    "spam": {"weak": 0.99, "standard": 0.9, "strong": 0.7},
}


def _model() -> PhishingModel:
    return PhishingModel(None, None, THRESHOLDS, {})


def test_threshold_blocks_at_most_the_allowed_share() -> None:
    """With 1,000 ham and a 1 % budget at most ten are above the threshold."""
    scores = [i / 1000 for i in range(1000)]
    t = threshold_for_rate(scores, 0.01)
    assert sum(s >= t for s in scores) <= 10


def test_budget_below_one_message_is_above_every_ham() -> None:
    """A 0.01 % budget on 100 ham extrapolates beyond the highest ham score."""
    scores = [i / 200 for i in range(100)]
    assert threshold_for_rate(scores, 0.0001) > max(scores)


def test_stricter_strength_has_lower_threshold() -> None:
    """Thresholds fall from weak to strong."""
    scores = [i / 1000 for i in range(1000)]
    weak, standard, strong = (threshold_for_rate(scores, r) for r in (0.0001, 0.001, 0.01))
    assert weak >= standard >= strong


def test_certain_phishing_is_rejected_and_likely_phishing_quarantined() -> None:
    """Above the weak threshold phishing is rejected; between strong and weak quarantined."""
    m = _model()
    assert m.verdict(Scores(0.05, 0.0, 0.95, ()), "standard") == ("reject", "phishing")
    assert m.verdict(Scores(0.4, 0.0, 0.6, ()), "standard") == ("quarantine", "phishing")
    assert m.verdict(Scores(0.7, 0.0, 0.3, ()), "standard")[0] == "deliver"
    assert m.verdict(Scores(0.7, 0.0, 0.3, ()), "strong") == ("quarantine", "phishing")


def test_spam_is_quarantined_never_rejected() -> None:
    """Spam over its threshold is quarantined."""
    assert _model().verdict(Scores(0.05, 0.95, 0.0, ()), "standard") == ("quarantine", "spam")


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    """Loading a file that is not there raises ModelUnavailable."""
    with pytest.raises(ModelUnavailable):
        model_io.load(tmp_path / "none.skops")


def test_shipped_model_is_within_size_limit() -> None:
    """The model shipped in the package exists and is 30 MB or less."""
    path = model_io.default_model_path()
    assert path.is_file()
    assert path.stat().st_size <= 30 * 1024 * 1024
