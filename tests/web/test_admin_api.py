"""Keys and policy through the admin API: admin only, audited, bad policy located."""

from __future__ import annotations

from importlib import resources

from carrierguard.auth import Role
from tests.web.conftest import Api
from tests.web.test_api import BODY

DEFAULT = resources.files("carrierguard.data").joinpath("default_policy.toml").read_text("utf-8")


def test_admin_issues_a_key_that_works_and_revokes_it(api: Api) -> None:
    """A key issued through the API works at once and stops working once revoked."""
    r = api.client.post(
        "/v1/admin/keys", json={"role": "clerk", "name": "shop-7"}, headers=api.headers(Role.ADMIN)
    )
    assert r.status_code == 201
    token, prefix = r.json()["token"], r.json()["prefix"]
    assert (
        api.client.post(
            "/v1/applications", json=BODY, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 201
    )
    assert (
        api.client.post(
            f"/v1/admin/keys/{prefix}/revoke", headers=api.headers(Role.ADMIN)
        ).status_code
        == 204
    )
    api.client.app.state.key_cache = type(api.client.app.state.key_cache)()  # skip the 10 s cache
    assert (
        api.client.get("/v1/holders/1", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_a_reviewer_cannot_change_keys_or_policy(api: Api) -> None:
    """hq_reviewer and clerk keys get 403 on key and policy changes."""
    for role in (Role.HQ_REVIEWER, Role.CLERK, Role.COMPLIANCE):
        h = api.headers(role)
        assert (
            api.client.post(
                "/v1/admin/keys", json={"role": "admin", "name": "x"}, headers=h
            ).status_code
            == 403
        )
        assert (
            api.client.put(
                "/v1/admin/policy", content=DEFAULT, headers=h | {"Content-Type": "text/plain"}
            ).status_code
            == 403
        )


def test_policy_change_takes_effect_and_bad_policy_is_located(api: Api) -> None:
    """A stricter policy applies to the next application; a broken one names line and field."""
    h = api.headers(Role.ADMIN) | {"Content-Type": "text/plain"}
    broken = DEFAULT.replace("cap = 5 ", "cap = -5 ")
    r = api.client.put("/v1/admin/policy", content=broken, headers=h)
    assert r.status_code == 422
    assert "pools.voice.caps.individual.cap" in r.json()["error"]["message_en"]
    strict = DEFAULT.replace("cap = 5 ", "cap = 0 ")
    assert api.client.put("/v1/admin/policy", content=strict, headers=h).status_code == 200
    r = api.client.post("/v1/applications", json=BODY, headers=api.headers(Role.CLERK))
    assert r.json()["decision"] == "review"
