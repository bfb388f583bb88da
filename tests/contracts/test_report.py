"""Regulator figures from tallies: pure arithmetic, no database."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carrierguard.contracts.policy import load_policy
from carrierguard.contracts.report import (
    ApplicationTally,
    Figure,
    HoldingTally,
    ReportPeriod,
    application_figures,
    build_report,
    holding_figures,
    to_csv,
    tokyo_month,
    weighted_median,
)
from carrierguard.errors import InvalidInput

POLICY = load_policy()


def tally(**changes: object) -> ApplicationTally:
    base: dict[str, object] = {
        "month": "2026-09",
        "channel": "store",
        "pools": ("voice",),
        "outcome": "approve",
        "state": "approved",
        "primary_code": "APPROVED_WITHIN_CAP",
        "escalated": False,
        "case_state": None,
        "purpose": None,
        "decision_code": None,
        "decide_seconds": None,
        "count": 1,
    }
    return ApplicationTally(**(base | changes))  # type: ignore[arg-type]


def holding(pool: str, kind: str, lines: int, verified: bool, holders: int) -> HoldingTally:
    return HoldingTally(
        pool=pool, kind=kind, lines=lines, verified_actual_users=verified, holders=holders
    )


def as_map(figures: list[Figure]) -> dict[tuple[str, str, str, str, str], int | float]:
    return {f.row()[:5]: f.value for f in figures}


@given(st.dictionaries(st.integers(0, 10**6), st.integers(1, 5), min_size=1, max_size=30))
def test_weighted_median_equals_the_median_of_the_expanded_values(hist: dict[int, int]) -> None:
    """A histogram's median is the median of every value repeated its count times."""
    expanded = [v for v, n in hist.items() for _ in range(n)]
    assert weighted_median(hist) == statistics.median(expanded)


def test_period_bounds_are_tokyo_midnights_in_utc() -> None:
    """September in Tokyo starts at 15:00 UTC on 31 August and ends before 15:00 on 30 Sept."""
    lo, hi = ReportPeriod(start=date(2026, 9, 1), end=date(2026, 9, 30)).utc_bounds()
    assert lo == datetime(2026, 8, 31, 15, tzinfo=UTC)
    assert hi == datetime(2026, 9, 30, 15, tzinfo=UTC)


def test_months_of_a_period_cross_the_year() -> None:
    """A period from November to February lists four months."""
    period = ReportPeriod(start=date(2026, 11, 20), end=date(2027, 2, 1))
    assert period.months() == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_a_period_ending_before_it_starts_or_too_long_is_invalid_input() -> None:
    """Reversed periods and periods over ten years are refused with a message."""
    with pytest.raises(InvalidInput):
        ReportPeriod(start=date(2026, 10, 1), end=date(2026, 9, 1))
    with pytest.raises(InvalidInput):
        ReportPeriod(start=date(2000, 1, 1), end=date(2026, 1, 1))


def test_tokyo_month_of_late_utc_evening_is_the_next_month() -> None:
    """16:30 UTC on 30 September is already October in Tokyo."""
    assert tokyo_month(datetime(2026, 9, 30, 16, 30, tzinfo=UTC)) == "2026-10"


def test_an_application_counts_in_each_pool_it_asked_and_once_in_all() -> None:
    """Voice and data lines in one application: one in voice, one in data, one in all."""
    got = as_map(application_figures([tally(pools=("voice", "data"), count=3)]))
    for pool in ("voice", "data", "all"):
        assert got[("2026-09", pool, "store", "applications", "")] == 3
        assert got[("2026-09", pool, "store", "approvals", "at_screening")] == 3


def test_refusals_break_down_by_screening_reason_or_hq_code() -> None:
    """Screening refusals use the first reason; refused cases use the reviewer's code."""
    got = as_map(
        application_figures(
            [
                tally(outcome="refuse", state="refused", primary_code="LINE_HARD_CAP_EXCEEDED"),
                tally(
                    outcome="review",
                    state="refused",
                    primary_code="LINE_CAP_EXCEEDED",
                    case_state="refused",
                    decision_code="RESALE_SUSPECTED",
                    decide_seconds=3600,
                    count=2,
                ),
            ]
        )
    )
    key = ("2026-09", "all", "store")
    assert got[(*key, "refusals", "")] == 3
    assert got[(*key, "refusals", "LINE_HARD_CAP_EXCEEDED")] == 1
    assert got[(*key, "refusals", "RESALE_SUSPECTED")] == 2
    assert (*key, "refusals", "LINE_CAP_EXCEEDED") not in got
    assert got[(*key, "reviews", "refused")] == 2
    assert got[(*key, "cases_decided", "")] == 2
    assert got[(*key, "median_hours_to_decide", "")] == 1.0


def test_granted_exceptions_count_by_purpose_and_as_approvals() -> None:
    """An approved case is an exception granted for its purpose and an approval."""
    granted = tally(
        outcome="review",
        state="approved",
        case_state="approved",
        purpose="family",
        escalated=True,
        decide_seconds=7200,
    )
    got = as_map(application_figures([granted, tally(decide_seconds=None)]))
    key = ("2026-09", "voice", "store")
    assert got[(*key, "exceptions_granted", "family")] == 1
    assert got[(*key, "approvals", "exception_granted")] == 1
    assert got[(*key, "approvals", "")] == 2
    assert got[(*key, "escalations", "")] == 1
    assert got[(*key, "median_hours_to_decide", "")] == 2.0


def test_every_group_shows_its_zero_counts_but_no_median_without_decisions() -> None:
    """Base metrics appear as 0; the median appears only where a case was decided."""
    got = as_map(application_figures([tally()]))
    assert got[("2026-09", "voice", "store", "refusals", "")] == 0
    assert ("2026-09", "voice", "store", "median_hours_to_decide", "") not in got


def test_holders_above_each_cap_follow_the_policy_for_their_kind() -> None:
    """Six voice lines are above an individual's cap, not a corporation's; 11 is above hard."""
    got = as_map(
        holding_figures(
            [
                holding("voice", "individual", 6, True, 2),
                holding("voice", "individual", 11, False, 1),
                holding("voice", "corporate", 6, False, 4),
                holding("data", "corporate", 500, False, 1),
                holding("voice", "individual", 1, True, 9),
            ],
            POLICY,
        )
    )
    where = ("current", "voice", "all")
    assert got[(*where, "holders_above_cap", "individual")] == 3
    assert got[(*where, "holders_above_cap", "corporate")] == 0
    assert got[(*where, "holders_above_hard_cap", "individual")] == 1
    assert got[(*where, "multi_line_holders", "")] == 7
    assert got[(*where, "holders_with_verified_actual_users", "above_cap")] == 2
    assert got[(*where, "actual_users_share", "above_cap")] == round(2 / 3, 4)
    assert got[(*where, "actual_users_share", "multi_line")] == round(2 / 7, 4)
    # Corporate data lines have no cap in the default policy: no row claims one.
    assert ("current", "data", "all", "holders_above_cap", "corporate") not in got


def test_csv_is_long_form_with_a_header_and_plain_numbers() -> None:
    """A header row, then month,pool,channel,metric,breakdown,value; 14.0 prints as 14."""
    decided = tally(outcome="review", case_state="approved", decide_seconds=50400)
    report = build_report(
        ReportPeriod(start=date(2026, 9, 1), end=date(2026, 9, 30)),
        [decided],
        [],
        POLICY,
        generated_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    lines = to_csv(report).splitlines()
    assert lines[0] == "month,pool,channel,metric,breakdown,value"
    assert "2026-09,voice,store,median_hours_to_decide,,14" in lines
    assert lines[-1].startswith("current,")  # holder figures come last
    months = Counter(line.split(",")[0] for line in lines[1:])
    assert set(months) == {"2026-09", "current"}
