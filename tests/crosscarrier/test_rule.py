"""The cross-carrier cap as a pure rule, and its policy section."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.cross_carrier import Elsewhere, Unanswered, cross_carrier_findings
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import (
    Application,
    Channel,
    HolderIdentity,
    HolderKind,
    Holding,
    LineRequest,
)
from carrierguard.contracts.policy import Policy, parse_policy
from carrierguard.errors import PolicyError

DEFAULT = resources.files("carrierguard.data").joinpath("default_policy.toml").read_text("utf-8")
XC = '\n[cross_carrier]\ncaps = { voice = 5 }\non_unavailable = "{when}"\n'


def policy(when: str = "approve") -> Policy:
    return parse_policy(DEFAULT + XC.replace("{when}", when), source="test")


def application(*sims: SimType, kind: HolderKind = HolderKind.INDIVIDUAL) -> Application:
    holder = (
        HolderIdentity(kind=kind, name="高橋 一郎", birth_date=date(1985, 4, 1))
        if kind is HolderKind.INDIVIDUAL
        else HolderIdentity(kind=kind, name="株式会社テスト", corporate_number="1234567890123")
    )
    return Application(
        channel=Channel.STORE,
        holder=holder,
        lines=tuple(LineRequest(s) for s in sims),
        applied_on=date(2026, 11, 28),
    )


def held(
    n: int, sim: SimType = SimType.VOICE, state: LineState = LineState.ACTIVE
) -> list[Holding]:
    return [Holding(sim, state) for _ in range(n)]


def test_lines_elsewhere_count_with_ours_and_the_request() -> None:
    heard = Elsewhere({SimType.VOICE: 3, SimType.DATA_SMS: 1, SimType.DATA: 7}, carriers=2)
    (finding,) = cross_carrier_findings(application(SimType.VOICE), held(1), heard, policy())
    assert finding.code == "CROSS_CARRIER_CAP_EXCEEDED" and finding.outcome is Outcome.REVIEW
    # voice and data_sms share the default voice pool: 1 here + 4 elsewhere + 1 asked > 5
    assert finding.values["held"] == 1 and finding.values["elsewhere"] == 4
    reason = finding.to_reason()
    assert "他社" in reason.message_ja and "2 other carrier" in reason.message_en


def test_at_the_cap_is_no_finding_and_uncounted_states_do_not_count() -> None:
    heard = Elsewhere({SimType.VOICE: 3}, carriers=1)
    assert cross_carrier_findings(application(SimType.VOICE), held(1), heard, policy()) == ()
    terminated = held(4, state=LineState.TERMINATED)
    assert cross_carrier_findings(application(SimType.VOICE), terminated, heard, policy()) == ()


def test_only_pools_asked_for_and_only_individuals() -> None:
    heard = Elsewhere({SimType.VOICE: 9}, carriers=3)
    assert cross_carrier_findings(application(SimType.DATA), [], heard, policy()) == ()
    corp = application(SimType.VOICE, kind=HolderKind.CORPORATE)
    assert cross_carrier_findings(corp, [], heard, policy()) == ()


def test_an_unanswered_hub_follows_the_policy() -> None:
    down = Unanswered("timeout")
    assert cross_carrier_findings(application(SimType.VOICE), [], down, policy("approve")) == ()
    (finding,) = cross_carrier_findings(application(SimType.VOICE), [], down, policy("review"))
    assert (
        finding.code == "CROSS_CARRIER_UNAVAILABLE" and "timeout" in finding.to_reason().message_en
    )


def test_without_the_section_nothing_changes() -> None:
    plain = parse_policy(DEFAULT, source="test")
    assert plain.cross_carrier is None
    heard = Elsewhere({SimType.VOICE: 50}, carriers=9)
    assert cross_carrier_findings(application(SimType.VOICE), [], heard, plain) == ()


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("[cross_carrier]\ncaps = { fax = 5 }\n", "cross_carrier.caps.fax"),
        ("[cross_carrier]\ncaps = {}\n", "cross_carrier.caps"),
        ("[cross_carrier]\ncaps = { voice = -1 }\n", "cross_carrier.caps.voice"),
        (
            '[cross_carrier]\ncaps = { voice = 5 }\non_unavailable = "refuse"\n',
            "cross_carrier.on_unavailable",
        ),
        ("[cross_carrier]\ncap = 5\n", "cross_carrier.cap"),
    ],
)
def test_a_bad_section_names_its_field(section: str, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(DEFAULT + "\n" + section, source="test")
    assert field in str(caught.value)
