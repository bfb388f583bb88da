"""The phishing model: thresholds, verdicts, save and load, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from carrierguard.errors import ModelUnavailable
from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.model import Scores, decide, threshold_for_rate

THRESHOLDS = {
    "phishing": {"weak": 0.9, "standard": 0.5, "strong": 0.2},
    "spam": {"weak": 0.99, "standard": 0.9, "strong": 0.7},
}


class _Thresholds:
    def verdict(self, scores: Scores, strength: str) -> tuple[str, str]:
        return decide(THRESHOLDS, scores, strength)


def _model() -> _Thresholds:
    return _Thresholds()


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


def test_fast_row_scoring_matches_the_sparse_matrix_path() -> None:
    """proba_rows (used by scan) gives the same probabilities as the CSR matrix path."""
    import numpy as np

    from carrierguard.mail.content.model import feature_matrix, feature_rows

    shipped = model_io.load()
    n = len(shipped.scorer.weights) - model_io.CHAR_FEATURES - model_io.WORD_FEATURES
    texts = ["【重要】アカウント確認 https://example.top/", "lunch at noon?"]
    structured = [[0.5] * n, [0.0] * n]
    dense = shipped.scorer.proba(feature_matrix(texts, structured))
    rows = shipped.scorer.proba_rows(feature_rows(texts, structured))
    assert np.allclose(dense, rows)


def test_character_hashing_is_stable() -> None:
    """The same text hashes to the same columns (the model format depends on it)."""
    from carrierguard.mail.content.hashing import char_ngram_indices

    a = char_ngram_indices("三井住友カード", 1, 3, 2**18)
    assert list(a) == list(char_ngram_indices("三井住友カード", 1, 3, 2**18))
    assert len(a) == 7 + 6 + 5
