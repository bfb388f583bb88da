"""Settings objects with named defaults.

This is the only module that reads the environment. Everything else receives a
``Settings`` value (or one of its parts) explicitly.

Environment variables:
    CARRIERGUARD_DB         database URL (default ``sqlite:///./carrierguard.db``)
    CARRIERGUARD_POLICY     policy TOML file (default: the packaged policy)
    CARRIERGUARD_DATA_KEY   base64 32-byte key protecting personal data at rest
    CARRIERGUARD_KEY_FILE   where the data key is kept when the variable is unset
                            (default ``./carrierguard.key``, created with mode 0600)
    CARRIERGUARD_LOG_LEVEL  debug | info | warning | error (default info)
    CARRIERGUARD_QUARANTINE        where held mail is kept: ``dir`` (default: the directory
                                   below) or ``db`` (the ``mail_quarantine`` table of the
                                   registry database, shared by every milter host; messages
                                   sealed with the data key; ``serve --quarantine-db``)
    CARRIERGUARD_QUARANTINE_DIR    the milter's quarantine, shared with the API
                                   (default ``./quarantine``)
    CARRIERGUARD_RELEASE_SMTP      HOST:PORT where released mail is handed to the MTA
                                   (default ``127.0.0.1:10026``, an smtpd without milters)
    CARRIERGUARD_FEEDBACK_DIR      labelled copies of reported mail for the next training
                                   (default ``./mail-feedback``)
    CARRIERGUARD_REPUTATION_REDIS  Redis URL of the domain reputation the milters share
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DB_URL = "sqlite:///./carrierguard.db"
DEFAULT_KEY_FILE = "./carrierguard.key"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_QUARANTINE_DIR = "./quarantine"
QUARANTINE_KINDS = ("dir", "db")
DEFAULT_RELEASE_SMTP = "127.0.0.1:10026"
DEFAULT_FEEDBACK_DIR = "./mail-feedback"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a CarrierGuard process needs to know about its surroundings."""

    db_url: str = DEFAULT_DB_URL
    policy_path: Path | None = None
    data_key: bytes = field(default=b"", repr=False)
    key_file: Path = Path(DEFAULT_KEY_FILE)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_level: str = "info"
    quarantine: str = "dir"  # one of QUARANTINE_KINDS
    quarantine_dir: Path = Path(DEFAULT_QUARANTINE_DIR)
    release_smtp: str = DEFAULT_RELEASE_SMTP
    feedback_dir: Path = Path(DEFAULT_FEEDBACK_DIR)
    reputation_redis: str | None = None

    def __post_init__(self) -> None:
        if self.quarantine not in QUARANTINE_KINDS:
            raise ValueError(f"CARRIERGUARD_QUARANTINE must be dir or db, got {self.quarantine!r}")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from the environment; non-None ``overrides`` win."""
        env = os.environ
        base = cls(
            db_url=env.get("CARRIERGUARD_DB", DEFAULT_DB_URL),
            policy_path=Path(env["CARRIERGUARD_POLICY"])
            if env.get("CARRIERGUARD_POLICY")
            else None,
            data_key=_decode_key(env["CARRIERGUARD_DATA_KEY"])
            if env.get("CARRIERGUARD_DATA_KEY")
            else b"",
            key_file=Path(env.get("CARRIERGUARD_KEY_FILE", DEFAULT_KEY_FILE)),
            log_level=env.get("CARRIERGUARD_LOG_LEVEL", "info"),
            quarantine=env.get("CARRIERGUARD_QUARANTINE", "dir").strip().lower() or "dir",
            quarantine_dir=Path(env.get("CARRIERGUARD_QUARANTINE_DIR", DEFAULT_QUARANTINE_DIR)),
            release_smtp=env.get("CARRIERGUARD_RELEASE_SMTP", DEFAULT_RELEASE_SMTP),
            feedback_dir=Path(env.get("CARRIERGUARD_FEEDBACK_DIR", DEFAULT_FEEDBACK_DIR)),
            reputation_redis=env.get("CARRIERGUARD_REPUTATION_REDIS") or None,
        )
        chosen = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **chosen)  # type: ignore[arg-type]

    def resolved_data_key(self) -> bytes:
        """The 32-byte data key: given explicitly, or read from (or created in) ``key_file``."""
        if self.data_key:
            return self.data_key
        return load_or_create_key_file(self.key_file)


def _decode_key(text: str) -> bytes:
    key = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    if len(key) != 32:
        raise ValueError("CARRIERGUARD_DATA_KEY must be 32 bytes, base64-encoded")
    return key


def load_or_create_key_file(path: Path) -> bytes:
    """Read the data key file, creating it with a fresh random key (mode 0600) if absent."""
    if path.exists():
        return _decode_key(path.read_text(encoding="ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.urlsafe_b64encode(key).decode("ascii"))
    return key
