"""The key check as FastAPI sees it: one Bearer scheme in OpenAPI, and each way a key fails."""

from __future__ import annotations

from datetime import UTC, datetime

from carrierguard.auth import Role, split_token
from tests.web.conftest import Api

BODY = {
    "channel": "store",
    "holder": {
        "kind": "individual",
        "name": "高橋 一郎",
        "birth_date": "1985-04-01",
        "address": "東京都千代田区千代田1-1",
    },
    "kyc": {"method": "ic_chip_mynumber"},
    "lines": [{"sim_type": "voice"}],
}


def test_openapi_has_one_bearer_scheme_and_keyed_routes_require_it(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "API key from `carrierguard keys create`",
        }
    }
    paths = spec["paths"]
    for path, method in [
        ("/v1/applications", "post"),
        ("/v1/applications/{application_id}", "get"),
        ("/v1/holders/{holder_id}", "get"),
        ("/v1/lines/{line_id}/terminate", "post"),
        ("/metrics", "get"),
    ]:
        assert paths[path][method]["security"] == [{"HTTPBearer": []}], path
    assert "security" not in paths["/healthz"]["get"]
    # The check adds no parameter of its own to the operation.
    post = paths["/v1/applications"]["post"]
    assert [p["name"] for p in post.get("parameters", [])] == ["Idempotency-Key"]


def test_a_key_is_read_from_any_case_of_bearer_and_nothing_else(api: Api) -> None:
    token = api.keys[Role.CLERK]
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = api.client.post(
            "/v1/applications", json=BODY, headers={"Authorization": f"{scheme} {token}"}
        )
        assert r.status_code == 201, scheme
    for header in (f"Basic {token}", token, "Bearer", "Bearer ", ""):
        r = api.client.post("/v1/applications", json=BODY, headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_the_role_is_checked_after_the_key(api: Api) -> None:
    """A wrong key is 401 whatever the route; a good key of the wrong role is 403."""
    r = api.client.post("/v1/admin/keys/x/revoke", headers={"Authorization": "Bearer cg_x_nokey"})
    assert r.status_code == 401
    r = api.client.post("/v1/admin/keys/x/revoke", headers=api.headers(Role.CLERK))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "ROLE_FORBIDDEN"
    assert "clerk" in r.json()["error"]["message_en"]


def test_a_revoked_key_fails_once_the_cache_forgets_it(api: Api) -> None:
    token = api.keys[Role.CLERK]
    assert api.client.get("/v1/holders/1", headers=api.headers(Role.CLERK)).status_code == 404
    prefix, _ = split_token(token)
    app = api.client.app
    with app.state.service.registry.write() as tx:  # type: ignore[attr-defined]
        assert tx.revoke_api_key(prefix, datetime.now(UTC))
    # Still cached for a few seconds, as before.
    assert api.client.get("/v1/holders/1", headers=api.headers(Role.CLERK)).status_code == 404
    app.state.key_cache._seen.clear()  # type: ignore[attr-defined]
    r = api.client.get("/v1/holders/1", headers=api.headers(Role.CLERK))
    assert r.status_code == 401
