"""The evaluation generator and the issue's targets on a small fresh seed (slow)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from tests.conftest import REPO, need

pytestmark = pytest.mark.slow


def _bench() -> tuple[Any, Any]:
    need(importlib.util.find_spec("gimei") is not None, "gimei (eval extra) is not installed")
    sys.path.insert(0, str(REPO / "bench"))
    import identity_eval
    import identity_gen

    return identity_gen, identity_eval


def test_generator_is_deterministic_for_a_seed() -> None:
    """Two runs of one seed give the same pairs."""
    gen, _ = _bench()
    assert gen.generate(11, 200) == gen.generate(11, 200)


def test_targets_hold_on_a_seed_never_used_in_development() -> None:
    """precision(same) >= 0.999, true same-or-uncertain >= 0.99, uncertain <= 5 %."""
    gen, ev = _bench()
    pairs = gen.generate(31337, 4000)
    outcomes, seconds = ev.run_ours(pairs)
    scores = ev.score("ours", pairs, outcomes, seconds)
    assert scores.precision_same >= 0.999
    assert scores.same_or_uncertain >= 0.99
    assert scores.uncertain_share <= 0.05
