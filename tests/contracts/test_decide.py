"""The pure screening decision against the default policy."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.decide import decide
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    Holding,
    LineRequest,
)
from carrierguard.contracts.policy import load_policy

POLICY = load_policy()
TODAY = date(2026, 11, 28)
LONG_AGO = date(2020, 1, 1)
PERSON = HolderIdentity(kind=HolderKind.INDIVIDUAL, name="高橋 一郎", birth_date=date(1985, 4, 1))
COMPANY = HolderIdentity(
    kind=HolderKind.CORPORATE, name="株式会社テスト", corporate_number="1234567890123"
)


def app(
    *sims: SimType, channel: Channel = Channel.STORE, holder: HolderIdentity = PERSON
) -> Application:
    return Application(
        channel=channel,
        holder=holder,
        lines=tuple(LineRequest(s) for s in sims),
        applied_on=TODAY,
    )


def held(
    n: int, sim: SimType = SimType.VOICE, state: LineState = LineState.ACTIVE
) -> list[Holding]:
    return [Holding(sim, state, LONG_AGO) for _ in range(n)]


def test_first_voice_line_is_approved_with_a_reason() -> None:
    """A new customer's first voice line is approved and says why."""
    d = decide(app(SimType.VOICE), [], POLICY)
    assert d.outcome is Outcome.APPROVE
    assert d.reasons[0].code == "APPROVED_WITHIN_CAP"
    assert d.reasons[0].message_ja and d.reasons[0].message_en


def test_fifth_voice_line_is_approved() -> None:
    """Four held plus one asked reaches the cap of five exactly: approve."""
    assert decide(app(SimType.VOICE), held(4), POLICY).outcome is Outcome.APPROVE


def test_sixth_voice_line_goes_to_review() -> None:
    """The sixth voice-pool line goes to an exception review, citing the industry rule."""
    d = decide(app(SimType.VOICE), held(5), POLICY)
    assert d.outcome is Outcome.REVIEW
    assert d.reasons[0].code == "LINE_CAP_EXCEEDED"
    assert "上限" in d.reasons[0].legal_basis


def test_data_sms_shares_the_voice_pool() -> None:
    """data_sms counts with voice: 5 voice held plus 1 data_sms is over the cap."""
    assert decide(app(SimType.DATA_SMS), held(5), POLICY).outcome is Outcome.REVIEW


def test_data_only_has_its_own_cap_of_ten() -> None:
    """Data-only lines do not count against the voice pool and cap at 10."""
    assert (
        decide(app(SimType.DATA), held(5) + held(9, SimType.DATA), POLICY).outcome
        is Outcome.APPROVE
    )
    assert decide(app(SimType.DATA), held(10, SimType.DATA), POLICY).outcome is Outcome.REVIEW


def test_over_hard_cap_is_refused_under_article_121() -> None:
    """Beyond the hard cap the decision is refuse, citing art. 121 'legitimate reason'."""
    d = decide(app(SimType.VOICE), held(10), POLICY)
    assert d.outcome is Outcome.REFUSE
    assert d.reasons[0].code == "LINE_HARD_CAP_EXCEEDED"
    assert "第121条" in d.reasons[0].legal_basis


def test_terminated_lines_do_not_count() -> None:
    """Terminated lines are not counted toward the cap."""
    d = decide(app(SimType.VOICE), held(9, state=LineState.TERMINATED), POLICY)
    assert d.outcome is Outcome.APPROVE


def test_reserved_lines_count_toward_the_cap() -> None:
    """Lines waiting for a review count, so parallel requests cannot slip under the cap."""
    d = decide(app(SimType.VOICE), held(4) + held(1, state=LineState.RESERVED), POLICY)
    assert d.outcome is Outcome.REVIEW


def test_corporate_data_only_has_no_cap() -> None:
    """A corporation's data-only lines have no cap."""
    d = decide(app(SimType.DATA, holder=COMPANY), held(5000, SimType.DATA), POLICY)
    assert d.outcome is Outcome.APPROVE
    assert d.reasons[0].code == "NO_CAP_FOR_POOL"


def test_three_new_lines_in_thirty_days_go_to_review_with_actual_users() -> None:
    """A burst of three new lines within 30 days needs review and actual-user registration."""
    recent = [Holding(SimType.VOICE, LineState.ACTIVE, TODAY - timedelta(days=10))] * 2
    d = decide(app(SimType.VOICE), recent, POLICY)
    assert d.outcome is Outcome.REVIEW
    assert d.codes == {"BURST_NEW_LINES"}
    assert d.requires_actual_users


def test_old_lines_are_not_a_burst() -> None:
    """Lines opened before the window do not count as new."""
    old = [Holding(SimType.VOICE, LineState.ACTIVE, TODAY - timedelta(days=31))] * 2
    assert decide(app(SimType.VOICE), old, POLICY).outcome is Outcome.APPROVE


def test_agency_over_cap_escalates_to_headquarters() -> None:
    """An agency cannot grant exceptions: the review is escalated to headquarters."""
    d = decide(app(SimType.VOICE, channel=Channel.AGENCY), held(5), POLICY)
    assert d.outcome is Outcome.REVIEW
    assert d.escalate_to_hq
    assert "EXCEPTION_ESCALATED_TO_HQ" in d.codes


sims = st.sampled_from(list(SimType))
states = st.sampled_from(list(LineState))
holdings_st = st.lists(
    st.builds(Holding, sims, states, st.dates(date(2015, 1, 1), TODAY)), max_size=25
)
requests_st = st.lists(sims, min_size=1, max_size=8)
kinds = st.sampled_from([PERSON, COMPANY])
channels = st.sampled_from(list(Channel))


@settings(max_examples=400)
@given(holdings_st, requests_st, kinds, channels)
def test_never_approves_beyond_a_cap(holdings, requested, holder, channel) -> None:  # type: ignore[no-untyped-def]
    """Whatever is held and asked, an approval never leaves any pool above its cap."""
    d = decide(app(*requested, channel=channel, holder=holder), holdings, POLICY)
    if d.outcome is Outcome.APPROVE:
        for u in d.usage:
            assert u.cap is None or u.total <= u.cap
            assert u.hard_cap is None or u.total <= u.hard_cap


@settings(max_examples=400)
@given(holdings_st, holdings_st, requests_st, kinds, channels)
def test_adding_lines_never_softens_a_decision(more, holdings, requested, holder, channel) -> None:  # type: ignore[no-untyped-def]
    """Holding more lines never turns a refusal into an approval, nor a review into one."""
    rank = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.REFUSE: 2}
    application = app(*requested, channel=channel, holder=holder)
    before = decide(application, holdings, POLICY)
    after = decide(application, holdings + more, POLICY)
    assert rank[after.outcome] >= rank[before.outcome]
