"""Assurance rules through the API: KYC evidence, corporate signers, resale signals, MFA."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from carrierguard.auth import Role
from carrierguard.store.importer import BookImporter
from tests.contracts.tokens import AUDIENCE, ISSUER, jwks, rsa_key
from tests.integration.live import write_book
from tests.web.conftest import Api
from tests.web.test_api import BODY

DEFAULT = resources.files("carrierguard.data").joinpath("default_policy.toml").read_text("utf-8")
COMPANY = {"kind": "corporate", "name": "国税庁", "corporate_number": "7000012050002"}


def post(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post("/v1/applications", json=body, headers=api.headers(Role.CLERK))
    assert r.status_code == 201, r.text
    return dict(r.json())


def codes(answer: dict[str, Any]) -> set[str]:
    return {r["code"] for r in answer["reasons"]}


def held_lines(api: Api, tmp: Path, n: int) -> None:
    """The BODY holder already holds ``n`` voice lines opened long ago (imported book)."""
    h = BODY["holder"]
    rows = [
        ["individual", h["name"], "", h["birth_date"], "", "", "", "voice", "active", "2020-01-01"]
    ] * n
    service = api.client.app.state.service
    report = BookImporter(service.registry.engine, service.protector).import_file(
        write_book(tmp / "book.csv", rows)
    )
    assert report.imported == n


def test_missing_kyc_is_refused_citing_the_mobile_fraud_act(api: Api) -> None:
    """No identity-verification evidence: refuse with KYC_REQUIRED."""
    answer = post(api, {k: v for k, v in BODY.items() if k != "kyc"})
    assert answer["decision"] == "refuse"
    assert "KYC_REQUIRED" in codes(answer)
    assert "携帯電話不正利用防止法" in answer["reasons"][0]["legal_basis"]


def test_online_needs_ic_chip_or_jpki(api: Api) -> None:
    """Online, a driving-licence IC read is not accepted; a JPKI signature is."""
    bad = post(api, BODY | {"channel": "online", "kyc": {"method": "ic_chip_license"}})
    assert bad["decision"] == "refuse" and "KYC_REQUIRED" in codes(bad)
    good = post(api, BODY | {"channel": "online", "kyc": {"method": "jpki_signature"}})
    assert good["decision"] == "approve"


def test_corporate_signer_needs_an_employment_record(api: Api) -> None:
    """A corporation without employment verification goes to review; with it, approve."""
    base = {
        "channel": "store",
        "holder": COMPANY,
        "kyc": {"method": "jpki_signature"},
        "lines": [{"sim_type": "voice"}],
    }
    assert "EMPLOYMENT_UNVERIFIED" in codes(post(api, base))
    ok = post(
        api,
        base
        | {
            "employment": {
                "check": "call_to_registered_number",
                "reference": "03-3581-4161",
                "verified_by": "staff-12",
            }
        },
    )
    assert ok["decision"] == "approve"


def test_wrong_corporate_check_digit_is_refused(api: Api) -> None:
    """A corporate number with a wrong check digit is refused."""
    base = {
        "channel": "store",
        "holder": COMPANY | {"corporate_number": "8000012050002"},
        "kyc": {"method": "jpki_signature"},
        "lines": [{"sim_type": "data"}],
    }
    answer = post(api, base)
    assert answer["decision"] == "refuse" and "CORPORATE_NUMBER_INVALID" in codes(answer)


def test_lines_moving_to_unknown_devices_send_the_next_application_to_review(
    api: Api, tmp_path: Path
) -> None:
    """Five lines move to five unknown devices within a week: the next application is reviewed."""
    held_lines(api, tmp_path, 4)
    first = post(api, BODY)  # fifth line, approved
    assert first["decision"] == "approve"
    lines = api.client.get(f"/v1/holders/{first['holder_id']}", headers=api.headers(Role.CLERK))
    now = datetime.now(UTC)
    risk: dict[str, Any] = {}
    for i, line in enumerate(lines.json()["lines"]):
        event = {
            "line_id": line["line_id"],
            "kind": "device_change",
            "at": (now - timedelta(days=6 - i)).isoformat(),
            "imei": f"35{i:02d}12345678901",
        }
        r = api.client.post("/v1/events", json=event, headers=api.headers(Role.SYSTEM))
        assert r.status_code == 201, r.text
        risk = r.json()
    assert risk["resale_risk"] and risk["score"] >= 60, risk
    # A data-only line would otherwise be approved (its own pool, under its cap).
    nxt = post(api, BODY | {"lines": [{"sim_type": "data"}]})
    assert nxt["decision"] == "review"
    assert "RESALE_RISK" in codes(nxt)


def test_events_need_an_authorised_role(api: Api) -> None:
    """A compliance key may not record line events."""
    event = {"line_id": 1, "kind": "port_out", "at": datetime.now(UTC).isoformat()}
    assert (
        api.client.post("/v1/events", json=event, headers=api.headers(Role.COMPLIANCE)).status_code
        == 403
    )


def test_additional_online_line_needs_an_mfa_token(api: Api, tmp_path: Path) -> None:
    """With the IdP configured: pwd-only refuses MFA_REQUIRED; an OTP token approves."""
    key = rsa_key()
    keys = tmp_path / "idp-jwks.json"
    keys.write_text(json.dumps(jwks(key)), encoding="utf-8")
    policy = DEFAULT + (
        '\n[assurance.mfa]\nrequired_for_additional_lines = true\nchannels = ["online"]\n'
        f'jwks = "{keys}"\nissuer = "{ISSUER}"\naudience = "{AUDIENCE}"\n'
        'algorithms = ["RS256"]\nmax_age_seconds = 600\n'
    )
    r = api.client.put(
        "/v1/admin/policy",
        content=policy,
        headers=api.headers(Role.ADMIN) | {"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    held_lines(api, tmp_path, 1)
    t = int(time.time())

    def token(amr: list[str]) -> str:
        return key.sign(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": "holder-1",
                "iat": t - 30,
                "auth_time": t - 30,
                "exp": t + 300,
                "amr": amr,
            }
        )

    online = BODY | {"channel": "online", "kyc": {"method": "jpki_signature"}}
    assert "MFA_REQUIRED" in codes(post(api, online))
    pwd = post(api, online | {"mfa": {"id_token": token(["pwd"])}})
    assert pwd["decision"] == "refuse" and "MFA_REQUIRED" in codes(pwd)
    ok = post(api, online | {"mfa": {"id_token": token(["pwd", "otp"])}})
    assert ok["decision"] == "approve", ok
