"""Structured JSON logs (structlog). Secrets and personal data never reach a log line."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_REDACT = ("authorization", "api_key", "token", "secret", "password", "totp", "pii", "name")


#: Whether a key is redacted, remembered per key: log calls use a few keys over and over.
_VERDICTS: dict[str, bool] = {}
_MAX_VERDICTS = 4096


def _redacted(key: str) -> bool:
    verdict = _VERDICTS.get(key)
    if verdict is None:
        lowered = key.lower()
        verdict = key != "event" and any(word in lowered for word in _REDACT)
        if len(_VERDICTS) < _MAX_VERDICTS:
            _VERDICTS[key] = verdict
    return verdict


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in [key for key in event if _redacted(key)]:
        event[key] = "[redacted]"
    return event


def configure_logging(level: str = "info", *, stream: Any = None) -> None:
    """JSON lines on stderr at ``level``."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
