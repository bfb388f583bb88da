"""``carrierguard xc publish`` with a half-configured hub: a clear error in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from carrierguard.cli.main import app
from carrierguard.crosscarrier.client import HubSettings
from carrierguard.errors import InvalidInput


def test_publish_without_the_hubs_key_is_an_input_error_not_a_traceback(tmp_path: Path) -> None:
    """Test that a missing CARRIERGUARD_XC_* setting is named as a domain error (exit 2 in main)."""
    env = {"CARRIERGUARD_XC_EVALUATOR": "http://hub.example"}
    done = CliRunner().invoke(
        app, ["xc", "publish", "--db", f"sqlite:///{tmp_path / 'c.db'}"], env=env
    )
    assert isinstance(done.exception, InvalidInput), done.exception
    assert "CARRIERGUARD_XC_API_KEY" in done.exception.message
    assert "照会基盤" in done.exception.message_ja


@pytest.mark.parametrize("timeout", ["soon", "0", "-1", "nan"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: str) -> None:
    """Test that CARRIERGUARD_XC_TIMEOUT must be seconds (a zero or NaN would never answer)."""
    env = {
        "CARRIERGUARD_XC_EVALUATOR": "http://hub.example",
        "CARRIERGUARD_XC_API_KEY": "k",
        "CARRIERGUARD_XC_PUBLIC_KEY": "AAAA",
        "CARRIERGUARD_XC_TIMEOUT": timeout,
    }
    with pytest.raises(ValueError, match="CARRIERGUARD_XC_TIMEOUT"):
        HubSettings.from_env(env)
