"""Exception cases through the API: supply, escalate, decide, roles."""

from __future__ import annotations

from typing import Any

from carrierguard.auth import Role
from tests.web.conftest import Api
from tests.web.test_api import BODY


def over_cap(api: Api, channel: str = "store") -> dict[str, Any]:
    """A holder at the cap asks for one more line: a review with a case."""
    role = Role.AGENCY_CLERK if channel == "agency" else Role.CLERK
    five = BODY | {"lines": [{"sim_type": "voice"}] * 2, "channel": channel}
    for _ in range(2):  # 4 lines; then a 5th and 6th from a separate call
        api.client.post("/v1/applications", json=five, headers=api.headers(role))
    r = api.client.post(
        "/v1/applications", json=BODY | {"channel": channel}, headers=api.headers(role)
    )
    body = r.json()
    assert body["decision"] == "review" and body["case_id"], body
    return body


INFO = {
    "purpose": {"category": "family", "text": "家族用"},
    "pledge": {"signed": True, "signed_by": "高橋 一郎"},
    "actual_users": [
        {
            "name": "高橋 花子",
            "birth_date": "2010-01-01",
            "relationship": "child",
            "verification_method": "ic_chip_mynumber",
            "verified": True,
        }
    ],
}


def test_review_opens_a_case_and_approval_activates_the_lines(api: Api) -> None:
    """Supply purpose, pledge and a verified user; HQ approval activates the reserved line."""
    app = over_cap(api)
    case_id = app["case_id"]
    assert (
        api.client.post(
            f"/v1/cases/{case_id}/info", json=INFO, headers=api.headers(Role.CLERK)
        ).status_code
        == 200
    )
    r = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"action": "approve", "comment": "確認済み"},
        headers=api.headers(Role.HQ_REVIEWER),
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    got = api.client.get(
        f"/v1/applications/{app['application_id']}", headers=api.headers(Role.CLERK)
    )
    assert got.json()["state"] == "approved"
    assert {ln["state"] for ln in got.json()["lines"]} == {"active"}


def test_approval_without_pledge_is_refused_with_the_blockers(api: Api) -> None:
    """A case without purpose or pledge cannot be approved (409 naming what is missing)."""
    case_id = over_cap(api)["case_id"]
    r = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"action": "approve", "comment": "ok"},
        headers=api.headers(Role.HQ_REVIEWER),
    )
    assert r.status_code == 409
    assert "誓約" in r.json()["error"]["message_ja"]


def test_refusal_needs_a_reason_code_and_lapses_the_lines(api: Api) -> None:
    """Refusal requires a known reason code; the reserved lines are terminated."""
    app = over_cap(api)
    case_id = app["case_id"]
    bad = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"action": "refuse", "comment": "x"},
        headers=api.headers(Role.HQ_REVIEWER),
    )
    assert bad.status_code == 422
    r = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"action": "refuse", "comment": "目的不明", "reason_code": "PURPOSE_NOT_ESTABLISHED"},
        headers=api.headers(Role.HQ_REVIEWER),
    )
    assert r.json()["state"] == "refused" and r.json()["decision_code"] == "PURPOSE_NOT_ESTABLISHED"
    got = api.client.get(
        f"/v1/applications/{app['application_id']}", headers=api.headers(Role.CLERK)
    )
    assert {ln["state"] for ln in got.json()["lines"]} == {"terminated"}


def test_agency_cases_start_escalated(api: Api) -> None:
    """An agency's over-cap case is escalated to headquarters from the start."""
    app = over_cap(api, channel="agency")
    case = api.client.get(
        f"/v1/cases/{app['case_id']}", headers=api.headers(Role.HQ_REVIEWER)
    ).json()
    assert case["state"] == "escalated"


def test_a_clerk_cannot_approve(api: Api) -> None:
    """A clerk key gets 403 on the decision route."""
    case_id = over_cap(api)["case_id"]
    r = api.client.post(
        f"/v1/cases/{case_id}/decision",
        json={"action": "approve", "comment": "x"},
        headers=api.headers(Role.CLERK),
    )
    assert r.status_code == 403


def test_a_decided_case_cannot_be_decided_again(api: Api) -> None:
    """Deciding twice is an invalid transition (409)."""
    case_id = over_cap(api)["case_id"]
    api.client.post(f"/v1/cases/{case_id}/info", json=INFO, headers=api.headers(Role.CLERK))
    ok = {"action": "approve", "comment": "ok"}
    assert (
        api.client.post(
            f"/v1/cases/{case_id}/decision", json=ok, headers=api.headers(Role.HQ_REVIEWER)
        ).status_code
        == 200
    )
    again = api.client.post(
        f"/v1/cases/{case_id}/decision", json=ok, headers=api.headers(Role.HQ_REVIEWER)
    )
    assert again.status_code == 409
