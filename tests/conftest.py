"""Fixtures shared by every test package.

``need(ok, why)`` is how a test says it needs something outside the repository
(PostgreSQL, Postfix, the shared corpora). Locally it skips with the reason; in
CI (``CI`` set) it fails instead, so a missing service can never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


def in_ci() -> bool:
    """True when running under .ci/run."""
    return bool(os.environ.get("CI"))


def need(ok: bool, why: str) -> None:
    """Skip (locally) or fail (in CI) unless ``ok``."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"required in CI: {why}")
    pytest.skip(why)
