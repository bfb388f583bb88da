"""The JWKS edge: keys from a file or from a URL (a local HTTP server in the test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from carrierguard.contracts.assurance_jwks import JwksSource
from carrierguard.contracts.assurance_mfa import check_id_token
from carrierguard.errors import KeySetUnavailable
from tests.contracts.tokens import MFA_POLICY as POLICY
from tests.contracts.tokens import NOW, ec_key, id_claims, jwks, rsa_key


class _Server:
    """Serves ``document`` at /jwks.json and counts the requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = jwks(rsa_key())
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                body = json.dumps(server.document).encode()
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_keys_from_a_file_verify_a_token(tmp_path: Path) -> None:
    """A JWKS file next to the policy verifies a real token."""
    (tmp_path / "idp.json").write_text(json.dumps(jwks(rsa_key())), encoding="utf-8")
    source = JwksSource("idp.json", base=tmp_path)
    token = rsa_key().sign(id_claims())
    assert check_id_token(token, source.document(), POLICY, now=NOW) is None


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    """A JWKS file that is not there raises KeySetUnavailable naming it."""
    with pytest.raises(KeySetUnavailable) as caught:
        JwksSource(str(tmp_path / "nope.json")).document()
    assert "nope.json" in str(caught.value)
    assert caught.value.status == 503


def test_file_that_is_not_a_jwks_is_unavailable(tmp_path: Path) -> None:
    """JSON without a keys list is not a JWKS."""
    (tmp_path / "bad.json").write_text('{"kty": "RSA"}', encoding="utf-8")
    with pytest.raises(KeySetUnavailable):
        JwksSource(str(tmp_path / "bad.json")).document()


def test_keys_from_a_url_verify_a_token(server: _Server) -> None:
    """Keys fetched over HTTP with PyJWKClient verify a real token."""
    source = JwksSource(server.url)
    token = rsa_key().sign(id_claims())
    assert check_id_token(token, source.document(), POLICY, now=NOW) is None


def test_url_keys_are_cached_until_refresh(server: _Server) -> None:
    """A second read within the lifespan does not fetch; refresh fetches the rotated keys."""
    source = JwksSource(server.url)
    source.document()
    source.document()
    assert server.hits == 1
    server.document = jwks(ec_key())
    token = ec_key().sign(id_claims())
    stale = check_id_token(token, source.document(), POLICY, now=NOW)
    assert stale is not None and stale.code == "MFA_TOKEN_SIGNATURE"
    assert check_id_token(token, source.document(refresh=True), POLICY, now=NOW) is None
    assert server.hits == 2


def test_unreachable_url_is_unavailable() -> None:
    """A JWKS URL nobody answers raises KeySetUnavailable."""
    with pytest.raises(KeySetUnavailable):
        JwksSource("http://127.0.0.1:9/jwks.json", timeout=1.0).document()


def test_plain_http_to_a_remote_host_is_refused() -> None:
    """IdP keys must come over https (plain http only for loopback)."""
    with pytest.raises(KeySetUnavailable):
        JwksSource("http://idp.example/jwks.json")
