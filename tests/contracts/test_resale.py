"""SIM-resale signals: pure scoring of a holder's line events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.resale import (
    ActivityKind,
    LineActivity,
    ResaleRules,
    assess_resale,
    resale_finding,
)

RULES = ResaleRules()
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
HOLDER_PHONE = "353456789012345"


def imei(n: int) -> str:
    return f"35987600{n:06d}0"  # TAC, serial, check digit


def activated(line: str, at: datetime = T0, device: str = HOLDER_PHONE) -> LineActivity:
    return LineActivity(line_id=line, kind=ActivityKind.ACTIVATION, at=at, imei=device)


def moved(line: str, at: datetime, device: str) -> LineActivity:
    return LineActivity(line_id=line, kind=ActivityKind.DEVICE_CHANGE, at=at, imei=device)


def five_lines() -> list[LineActivity]:
    return [activated(f"L{i}") for i in range(5)]


def test_five_lines_to_five_unknown_devices_in_a_week_is_resale_risk() -> None:
    """The scenario: 5 lines move to 5 never-seen devices within a week -> RESALE_RISK."""
    events = five_lines() + [
        moved(f"L{i}", T0 + timedelta(days=20, hours=30 * i), imei(i)) for i in range(5)
    ]
    assessment = assess_resale(events, RULES)
    assert assessment.resale_risk
    assert assessment.codes == {"UNKNOWN_DEVICE_MOVES"}
    assert assessment.flags[0].lines == ("L0", "L1", "L2", "L3", "L4")
    finding = resale_finding(assessment)
    assert finding is not None
    assert finding.code == "RESALE_RISK"
    assert finding.outcome is Outcome.REVIEW
    reason = finding.to_reason()
    assert "5回線" in reason.message_ja and "5 lines" in reason.message_en


def test_the_same_moves_spread_over_months_are_no_risk() -> None:
    """Five device changes a month apart are ordinary upgrades."""
    events = five_lines() + [
        moved(f"L{i}", T0 + timedelta(days=30 * (i + 1)), imei(i)) for i in range(5)
    ]
    assessment = assess_resale(events, RULES)
    assert not assessment.resale_risk
    assert assessment.flags == ()
    assert resale_finding(assessment) is None


def test_moving_lines_to_a_known_device_is_no_signal() -> None:
    """Devices registered to the holder are not unknown."""
    devices = [imei(i) for i in range(5)]
    events = five_lines() + [moved(f"L{i}", T0 + timedelta(days=1), devices[i]) for i in range(5)]
    assert assess_resale(events, RULES, known_imeis=devices).score == 0


def test_device_seen_earlier_with_the_holder_is_known() -> None:
    """A handset that carried one of the holder's lines before is not a stranger."""
    events = [
        activated("L0", device=imei(1)),
        activated("L1", device=imei(2)),
        activated("L2", device=imei(3)),
        moved("L0", T0 + timedelta(days=2), imei(2)),
        moved("L1", T0 + timedelta(days=2), imei(3)),
        moved("L2", T0 + timedelta(days=2), imei(1)),
    ]
    assert assess_resale(events, RULES).score == 0


def test_imeisv_and_imei_of_one_handset_are_the_same_device() -> None:
    """The 16-digit IMEISV names the same handset as its 15-digit IMEI."""
    events = [activated("L0", device="353456789012345"), moved("L0", T0, "3534567890123401")]
    assert assess_resale(events, RULES).score == 0


def test_three_family_phones_score_below_review() -> None:
    """Three lines to three new phones in a week flags, but alone stays below review."""
    events = five_lines()[:3] + [moved(f"L{i}", T0 + timedelta(days=3), imei(i)) for i in range(3)]
    assessment = assess_resale(events, RULES)
    assert assessment.codes == {"UNKNOWN_DEVICE_MOVES"}
    assert assessment.score == 45
    assert not assessment.resale_risk


def test_port_out_soon_after_activation_flags() -> None:
    """Lines ported out within 30 days of activation raise EARLY_PORT_OUT."""
    events = [activated("L0"), activated("L1")] + [
        LineActivity(line_id=line, kind=ActivityKind.PORT_OUT, at=T0 + timedelta(days=10))
        for line in ("L0", "L1")
    ]
    assessment = assess_resale(events, RULES)
    assert assessment.codes == {"EARLY_PORT_OUT"}
    assert assessment.score == 50
    assert "転出" in assessment.flags[0].message_ja


def test_port_out_after_a_year_is_no_signal() -> None:
    """Leaving for another carrier after a year is ordinary."""
    events = [
        activated("L0"),
        LineActivity(line_id="L0", kind=ActivityKind.PORT_OUT, at=T0 + timedelta(days=365)),
    ]
    assert assess_resale(events, RULES).score == 0


def usage(line: str, calls: int, holder_contacts: int) -> LineActivity:
    return LineActivity(
        line_id=line,
        kind=ActivityKind.USAGE_SUMMARY,
        at=T0 + timedelta(days=30),
        calls=calls,
        holder_contacts=holder_contacts,
    )


def test_lines_that_never_contact_the_holder_flag() -> None:
    """Busy lines that never reach the holder or each other raise ISOLATED_LINES."""
    events = [usage("L0", 40, 0), usage("L1", 25, 0), usage("L2", 30, 12)]
    assessment = assess_resale(events, RULES)
    assert assessment.codes == {"ISOLATED_LINES"}
    assert assessment.flags[0].lines == ("L0", "L1")


def test_family_lines_calling_each_other_are_not_isolated() -> None:
    """Lines that call the holder are family use, not resale."""
    events = [usage("L0", 40, 10), usage("L1", 25, 3)]
    assert assess_resale(events, RULES).score == 0


def test_signals_add_up_to_review() -> None:
    """Early port-out plus isolated lines together pass the review score."""
    events = [
        activated("L0"),
        LineActivity(line_id="L0", kind=ActivityKind.PORT_OUT, at=T0 + timedelta(days=5)),
        usage("L1", 10, 0),
        usage("L2", 10, 0),
        usage("L3", 10, 0),
    ]
    assessment = assess_resale(events, RULES)
    assert assessment.score == 25 + 30
    assert not assessment.resale_risk
    stricter = ResaleRules(review_score=50)
    assert assess_resale(events, stricter).resale_risk


def test_score_is_capped_at_100() -> None:
    """Ten lines to ten strangers score 100, not 150."""
    events = [activated(f"L{i}") for i in range(10)] + [
        moved(f"L{i}", T0 + timedelta(days=1), imei(i)) for i in range(10)
    ]
    assert assess_resale(events, RULES).score == 100


def test_event_order_does_not_matter() -> None:
    """Events are scored by their times, not the order they arrive in."""
    events = five_lines() + [
        moved(f"L{i}", T0 + timedelta(days=1, hours=i), imei(i)) for i in range(5)
    ]
    assert assess_resale(list(reversed(events)), RULES) == assess_resale(events, RULES)


def test_a_device_change_must_name_the_device() -> None:
    """A device change without an IMEI cannot exist."""
    with pytest.raises(ValueError):
        LineActivity(line_id="L0", kind=ActivityKind.DEVICE_CHANGE, at=T0)


def test_event_times_must_be_aware() -> None:
    """Naive times are refused (the service stores UTC)."""
    with pytest.raises(ValueError):
        LineActivity(line_id="L0", kind=ActivityKind.ACTIVATION, at=datetime(2026, 1, 1))


def test_rules_refuse_a_zero_window() -> None:
    """A window of zero days is a configuration error."""
    with pytest.raises(ValueError):
        ResaleRules(window_days=0)
