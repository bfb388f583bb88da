"""Log redaction: secrets and personal data never reach a log line, whatever the call."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from carrierguard import logs
from carrierguard.logs import _redact, configure_logging


def test_keys_naming_secrets_or_people_are_redacted_case_insensitively() -> None:
    event = {
        "event": "login",
        "Authorization": "Bearer abc",
        "api_key_prefix": "cg_1",
        "id_token": "eyJ",
        "client_secret": "s",
        "PASSWORD": "p",
        "totp_code": "123456",
        "pii": b"sealed",
        "holder_name": "高橋 一郎",
        "application_id": 7,
        "outcome": "approve",
    }
    assert _redact(None, "info", event) == {
        "event": "login",
        "Authorization": "[redacted]",
        "api_key_prefix": "[redacted]",
        "id_token": "[redacted]",
        "client_secret": "[redacted]",
        "PASSWORD": "[redacted]",
        "totp_code": "[redacted]",
        "pii": "[redacted]",
        "holder_name": "[redacted]",
        "application_id": 7,
        "outcome": "approve",
    }


def test_the_event_itself_is_kept_even_when_it_names_a_secret() -> None:
    assert _redact(None, "info", {"event": "token.refreshed"}) == {"event": "token.refreshed"}


def test_the_same_key_is_judged_the_same_on_every_call() -> None:
    for _ in range(3):
        assert _redact(None, "info", {"event": "e", "name": "x", "codes": ["A"]}) == {
            "event": "e",
            "name": "[redacted]",
            "codes": ["A"],
        }


def test_keys_beyond_the_remembered_ones_are_still_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_VERDICTS", {})
    monkeypatch.setattr(logs, "_MAX_VERDICTS", 2)
    event = {f"field_{i}": i for i in range(5)} | {"user_password": "p", "other_name": "n"}
    assert _redact(None, "info", dict(event)) == {f"field_{i}": i for i in range(5)} | {
        "user_password": "[redacted]",
        "other_name": "[redacted]",
    }
    assert len(logs._VERDICTS) == 2


def test_a_log_line_is_json_without_the_secret() -> None:
    stream = io.StringIO()
    before = structlog.get_config()
    configure_logging("info", stream=stream)
    try:
        structlog.get_logger("t").info("key.used", api_key="cg_secret_value", holder_id=3)
    finally:
        structlog.configure(**before)
    line = json.loads(stream.getvalue())
    assert line["api_key"] == "[redacted]"
    assert line["holder_id"] == 3
    assert "cg_secret_value" not in stream.getvalue()
