"""The JWKS edge: keys from a file or from a URL (a local HTTP server in the test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from carrierguard.contracts.assurance import AssuranceEvidence, AssuranceKeys
from carrierguard.contracts.assurance_jwks import AssuranceKeyring, JwksSource, needs_key_refresh
from carrierguard.contracts.assurance_mfa import check_id_token
from carrierguard.contracts.assurance_policy import (
    AssurancePolicy,
    MfaPolicy,
    ReliancePolicy,
    TrustedIssuer,
)
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


def _policy(idp_url: str, issuer_jwks: str) -> AssurancePolicy:
    return AssurancePolicy(
        mfa=mfa_with_jwks(idp_url),
        reliance=ReliancePolicy(
            issuers=(TrustedIssuer(OTHER, issuer_jwks),),
            audience=None,
            allowed_evidence=frozenset({"electronic_signature"}),
            max_age_days=365,
            algorithms=frozenset({"ES256"}),
            leeway_seconds=30,
        ),
    )


def mfa_with_jwks(url: str) -> MfaPolicy:
    return MfaPolicy(
        **{**{n: getattr(POLICY, n) for n in MfaPolicy.__dataclass_fields__}, "jwks": url}
    )


OTHER = "https://kyc.other.example"


def test_keyring_loads_only_what_the_application_needs(server: _Server, tmp_path: Path) -> None:
    """No token, no fetch; an assertion loads only its own issuer's keys (relative file)."""
    (tmp_path / "other.json").write_text(json.dumps(jwks(ec_key("o-1"))), encoding="utf-8")
    ring = AssuranceKeyring(_policy(server.url, "other.json"), base=tmp_path)
    assert ring.keys_for(AssuranceEvidence()) == AssuranceKeys()
    assert server.hits == 0
    t = int(NOW.timestamp())
    assertion = ec_key("o-1").sign({"iss": OTHER, "iat": t, "exp": t + 60})
    keys = ring.keys_for(AssuranceEvidence(relied_assertion=assertion))
    assert set(keys.kyc_issuers) == {OTHER} and keys.idp == {}
    stranger = ec_key("o-1").sign({"iss": "https://nobody.example", "iat": t, "exp": t + 60})
    assert ring.keys_for(AssuranceEvidence(relied_assertion=stranger)).kyc_issuers == {}


def test_rotated_idp_key_is_picked_up_after_one_refresh(server: _Server) -> None:
    """A token signed with a new key fails as unknown key, then passes after refresh."""
    ring = AssuranceKeyring(_policy(server.url, "unused.json"))
    evidence = AssuranceEvidence(id_token=ec_key().sign(id_claims()))
    assert ring.keys_for(evidence).idp == jwks(rsa_key())
    server.document = jwks(rsa_key(), ec_key())
    stale = check_id_token(evidence.id_token, ring.keys_for(evidence).idp, POLICY, now=NOW)
    assert stale is not None and needs_key_refresh([stale])
    fresh = ring.keys_for(evidence, refresh=True)
    assert check_id_token(evidence.id_token, fresh.idp, POLICY, now=NOW) is None
