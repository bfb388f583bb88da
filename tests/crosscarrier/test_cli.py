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


def test_a_hub_that_drips_its_answer_is_given_up_at_the_deadline() -> None:
    """httpx times each read; a hub sending a byte at a time must not hold a screening."""
    import socket
    import threading
    import time

    from carrierguard.contracts.cross_carrier import Unanswered
    from carrierguard.crosscarrier.client import HubClient, HubSettings

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        body = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b" " * 100
        for byte in body:
            if stop.is_set():
                break
            conn.sendall(bytes([byte]))
            time.sleep(0.1)  # each read is quick; the whole answer takes 14 s
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    client = HubClient(HubSettings(url, url, "k", b"\0" * 32, timeout=0.5))
    started = time.monotonic()
    heard = client.lookup("individual|x|2000-01-01")
    waited = time.monotonic() - started
    stop.set()
    listener.close()
    assert isinstance(heard, Unanswered) and "1 s" in heard.why
    assert waited < 2.0
