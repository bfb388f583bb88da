"""The JSON API as DESIGN.md specifies it."""

from __future__ import annotations

from typing import Any

from carrierguard.auth import Role
from tests.web.conftest import Api

BODY: dict[str, Any] = {
    "channel": "store",
    "holder": {
        "kind": "individual",
        "name": "高橋 一郎",
        "name_kana": "タカハシ イチロウ",
        "birth_date": "1985-04-01",
        "address": "東京都千代田区千代田1-1",
        "postal_code": "100-0001",
    },
    "kyc": {"method": "ic_chip_mynumber"},
    "lines": [{"sim_type": "voice"}],
}


def test_post_application_answers_201_with_decision_and_active_line(api: Api) -> None:
    """An approved application answers 201 with reasons and an active line."""
    r = api.client.post("/v1/applications", json=BODY, headers=api.headers(Role.CLERK))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "approve"
    assert body["reasons"][0]["code"] == "APPROVED_WITHIN_CAP"
    assert {"code", "message_ja", "message_en"} <= set(body["reasons"][0])
    assert body["lines"][0]["state"] == "active"
    again = api.client.get(
        f"/v1/applications/{body['application_id']}", headers=api.headers(Role.CLERK)
    )
    assert again.json() == body
    holder = api.client.get(
        f"/v1/holders/{body['holder_id']}", headers=api.headers(Role.CLERK)
    ).json()
    assert holder == {"holder_id": body["holder_id"], "kind": "individual", "lines": body["lines"]}


def test_refusal_creates_no_line(api: Api) -> None:
    """A refusal over the hard cap creates no line."""
    big = BODY | {"lines": [{"sim_type": "voice"}] * 11}
    r = api.client.post("/v1/applications", json=big, headers=api.headers(Role.CLERK))
    assert r.json()["decision"] == "refuse"
    assert r.json()["lines"] == []


def test_terminate_line(api: Api) -> None:
    """POST /v1/lines/{id}/terminate ends the line."""
    line = api.client.post("/v1/applications", json=BODY, headers=api.headers(Role.CLERK)).json()[
        "lines"
    ][0]
    r = api.client.post(f"/v1/lines/{line['line_id']}/terminate", headers=api.headers(Role.CLERK))
    assert r.status_code == 200 and r.json()["state"] == "terminated"
    r = api.client.post(f"/v1/lines/{line['line_id']}/terminate", headers=api.headers(Role.CLERK))
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATE_TRANSITION"


def test_invalid_input_names_each_bad_field_and_stores_nothing(api: Api) -> None:
    """A bad body answers 422 naming the fields; no holder is created."""
    bad = BODY | {"channel": "fax", "lines": [{"sim_type": "satellite"}]}
    r = api.client.post("/v1/applications", json=bad, headers=api.headers(Role.CLERK))
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert {"channel", "lines.0.sim_type"} <= fields
    assert api.client.get("/v1/holders/1", headers=api.headers(Role.CLERK)).status_code == 404


def test_malformed_json_is_a_clear_422(api: Api) -> None:
    """Malformed JSON answers 422, not 500."""
    r = api.client.post(
        "/v1/applications",
        content=b'{"channel": "store",',
        headers=api.headers(Role.CLERK, **{"Content-Type": "application/json"}),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "INVALID_REQUEST"


def test_control_characters_in_a_name_are_rejected(api: Api) -> None:
    """A NUL byte in the name is invalid input, not a database error."""
    bad = BODY | {"holder": BODY["holder"] | {"name": "高橋\x00一郎"}}
    r = api.client.post("/v1/applications", json=bad, headers=api.headers(Role.CLERK))
    assert r.status_code == 422


def test_every_route_needs_a_key(api: Api) -> None:
    """Without a key every API route answers 401; a wrong key too."""
    for method, path in [
        ("post", "/v1/applications"),
        ("get", "/v1/applications/1"),
        ("get", "/v1/holders/1"),
        ("post", "/v1/lines/1/terminate"),
        ("get", "/metrics"),
    ]:
        assert getattr(api.client, method)(path).status_code == 401, path
    wrong = {"Authorization": "Bearer cg_abc_notakey"}
    assert api.client.get("/v1/holders/1", headers=wrong).status_code == 401


def test_roles_are_enforced(api: Api) -> None:
    """A compliance key cannot submit; an agency key may only submit agency applications."""
    assert (
        api.client.post(
            "/v1/applications", json=BODY, headers=api.headers(Role.COMPLIANCE)
        ).status_code
        == 403
    )
    assert (
        api.client.post(
            "/v1/applications", json=BODY, headers=api.headers(Role.AGENCY_CLERK)
        ).status_code
        == 403
    )
    agency = BODY | {"channel": "agency"}
    assert (
        api.client.post(
            "/v1/applications", json=agency, headers=api.headers(Role.AGENCY_CLERK)
        ).status_code
        == 201
    )
    assert api.client.get("/metrics", headers=api.headers(Role.CLERK)).status_code == 403


def test_idempotency_key_returns_the_first_answer(api: Api) -> None:
    """The same Idempotency-Key returns the same application and creates no second line."""
    h = api.headers(Role.CLERK, **{"Idempotency-Key": "order-42"})
    first = api.client.post("/v1/applications", json=BODY, headers=h)
    second = api.client.post("/v1/applications", json=BODY, headers=h)
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    holder = api.client.get(
        f"/v1/holders/{first.json()['holder_id']}", headers=api.headers(Role.CLERK)
    )
    assert len(holder.json()["lines"]) == 1
    other = api.client.post("/v1/applications", json=BODY | {"channel": "online"}, headers=h)
    assert other.status_code == 409


def test_metrics_count_decisions(api: Api) -> None:
    """/metrics exposes the decision counter to a monitor key."""
    api.client.post("/v1/applications", json=BODY, headers=api.headers(Role.CLERK))
    text = api.client.get("/metrics", headers=api.headers(Role.MONITOR)).text
    assert 'carrierguard_decisions_total{channel="store",outcome="approve"} 1.0' in text


def test_healthz_reports_the_database(api: Api) -> None:
    """/healthz says ok when the database answers."""
    assert api.client.get("/healthz").json() == {"status": "ok", "database": True}


def test_wareki_birth_dates_are_read(api: Api) -> None:
    """昭和60年4月1日 and S60.4.1 are the same holder as 1985-04-01."""
    ids = set()
    for written in ("1985-04-01", "昭和60年4月1日", "S60.4.1"):
        body = BODY | {"holder": BODY["holder"] | {"birth_date": written}}
        r = api.client.post("/v1/applications", json=body, headers=api.headers(Role.CLERK))
        assert r.status_code == 201, r.text
        ids.add(r.json()["holder_id"])
    assert len(ids) == 1
    bad = BODY | {"holder": BODY["holder"] | {"birth_date": "昭和99年13月1日"}}
    r = api.client.post("/v1/applications", json=bad, headers=api.headers(Role.CLERK))
    assert r.status_code == 422
