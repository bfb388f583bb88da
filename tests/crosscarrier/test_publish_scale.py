"""A full publish walks the whole book page by page: a late page costs what an early one does.

(Adding up every holder's lines before the page, for each page, made a full publish of a
book of tens of millions of holders quadratic.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from carrierguard.config import Settings
from carrierguard.store import crosscarrier as xc
from carrierguard.store.engine import migrate
from carrierguard.web.app import build_service
from tests.dbs import fresh_database

HOLDERS = 200_000
PAGE = 500


@pytest.fixture(params=["sqlite", "postgres"])
def big_book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(request.param, tmp_path) as url:
        engine = build_service(Settings(db_url=url, data_key=bytes(32))).registry.engine
        migrate(engine)
        series = (
            f"generate_series(1, {HOLDERS}) AS g(n)"
            if engine.dialect.name == "postgresql"
            else f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
            f" WHERE n < {HOLDERS}) SELECT n FROM s) AS g"
        )
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                    f" SELECT 'k' || n, 'individual', :pii, '[]', :now FROM {series}"
                ),
                {"pii": b"\x00", "now": "2026-11-28 00:00:00"},
            )
            for sim in ("voice", "data"):
                conn.execute(
                    text(
                        "INSERT INTO lines (holder_id, sim_type, state, created_at, updated_at)"
                        " SELECT id, :sim, 'active', created_at, created_at FROM holders"
                    ),
                    {"sim": sim},
                )
            conn.execute(text("ANALYZE"))
        yield engine
        engine.dispose()


def page_seconds(engine: Engine, after_id: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        page = xc.holders_to_publish(
            engine, ["active"], after_id=after_id, limit=PAGE, changed_since=None
        )
        best = min(best, time.perf_counter() - started)
        assert len(page) == PAGE and page[0].counts == xc.Counts(voice=1, data=1)
    return best


def test_the_last_page_of_a_full_publish_costs_about_what_the_first_does(
    big_book: Engine,
) -> None:
    """Test that reading a page does not add up the lines of every holder before it."""
    first = page_seconds(big_book, 0)
    last = page_seconds(big_book, HOLDERS - PAGE)
    assert last < 3 * first + 0.015, (first, last)
