"""Request bodies over the ceiling are refused with 413 before any route reads them."""

from __future__ import annotations

from collections.abc import Iterator

from carrierguard.auth import Role
from tests.web.conftest import Api
from tests.web.test_api import BODY


def test_a_declared_body_over_the_ceiling_is_refused(api: Api) -> None:
    huge = b"{" + b" " * (5 << 20) + b"}"
    r = api.client.post(
        "/v1/applications",
        content=huge,
        headers={**api.headers(Role.CLERK), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "大きすぎます" in r.json()["error"]["message_ja"]


def test_a_chunked_body_is_counted_as_it_arrives(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"channel": "store", "pad": "'
        for _ in range(80):
            yield b"x" * (64 << 10)
        yield b'"}'

    r = api.client.post(
        "/v1/applications",
        content=chunks(),
        headers={**api.headers(Role.CLERK), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_ordinary_requests_pass(api: Api) -> None:
    r = api.client.post("/v1/applications", json=BODY, headers=api.headers(Role.CLERK))
    assert r.status_code == 201, r.text


def test_a_small_chunked_body_reaches_the_route_whole(api: Api) -> None:
    import json

    text = json.dumps(BODY).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(text), 7):
            yield text[i : i + 7]

    r = api.client.post(
        "/v1/applications",
        content=chunks(),
        headers={**api.headers(Role.CLERK), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
