"""People who sign in to the pages: password (argon2) plus TOTP, and server-side sessions.

A TOTP code is accepted once: the last accepted time step is stored, so a replayed code
fails. Session tokens are random; only their SHA-256 is stored. Each session carries
its own CSRF token for forms.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from carrierguard.auth import Role
from carrierguard.crypto import DataProtector
from carrierguard.errors import AuthenticationFailed, Conflict, InvalidInput
from carrierguard.store import audit
from carrierguard.store.registry import Registry
from carrierguard.store.schema import web_sessions, web_users

SESSION_HOURS = 8
MIN_PASSWORD = 12
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class WebUser:
    user_id: int
    username: str
    role: Role

    @property
    def actor(self) -> str:
        return f"user:{self.username}"


@dataclass(frozen=True, slots=True)
class Session:
    user: WebUser
    csrf: str


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    totp_secret: str

    def provisioning_uri(self) -> str:
        return pyotp.TOTP(self.totp_secret).provisioning_uri(
            name=self.username, issuer_name="CarrierGuard"
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Accounts:
    def __init__(self, registry: Registry, protector: DataProtector) -> None:
        self.registry = registry
        self.protector = protector

    def create_user(
        self, username: str, role: Role, password: str, now: datetime, *, actor: str = "cli"
    ) -> NewUser:
        if not (1 <= len(username) <= 64) or not username.isascii() or not username.isprintable():
            raise InvalidInput("username must be 1 to 64 printable ASCII characters")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                f"the password needs at least {MIN_PASSWORD} characters",
                message_ja=f"パスワードは{MIN_PASSWORD}文字以上にしてください。",
            )
        secret = pyotp.random_base32()
        try:
            with self.registry.write() as tx:
                tx.conn.execute(
                    web_users.insert().values(
                        username=username,
                        role=role.value,
                        password_hash=_hasher.hash(password),
                        totp_secret=self.protector.seal({"text": secret}),
                        created_at=now,
                    )
                )
                audit.append(
                    tx.conn,
                    actor=actor,
                    action="user.created",
                    subject=f"user:{username}",
                    payload={"role": role.value},
                    now=now,
                )
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists") from exc
        return NewUser(username, secret)

    def login(self, username: str, password: str, code: str, now: datetime) -> tuple[str, Session]:
        """Check password and TOTP; return a new session token and the session."""
        failure = AuthenticationFailed(
            "wrong username, password or one-time code",
            message_ja="ユーザー名・パスワード・ワンタイムコードのいずれかが正しくありません。",
        )
        with self.registry.write() as tx:
            row = tx.conn.execute(
                select(web_users).where(web_users.c.username == username)
            ).one_or_none()
            if row is None or row.disabled_at is not None:
                _hasher.hash(password)  # same cost either way: do not reveal which usernames exist
                raise failure
            try:
                _hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                raise failure from None
            totp = pyotp.TOTP(self.protector.open(row.totp_secret)["text"])
            step = self._accepted_step(totp, code, now)
            if step is None or step <= row.totp_last_step:
                raise failure
            tx.conn.execute(
                update(web_users).where(web_users.c.id == row.id).values(totp_last_step=step)
            )
            token = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(24)
            tx.conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
            tx.conn.execute(
                web_sessions.insert().values(
                    token_hash=_digest(token),
                    user_id=row.id,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                )
            )
            audit.append(
                tx.conn,
                actor=f"user:{username}",
                action="user.login",
                subject=f"user:{username}",
                payload={},
                now=now,
            )
        return token, Session(WebUser(row.id, row.username, Role(row.role)), csrf)

    @staticmethod
    def _accepted_step(totp: pyotp.TOTP, code: str, now: datetime) -> int | None:
        code = code.strip()
        if not (code.isdigit() and len(code) == 6):
            return None
        step_now = int(now.timestamp()) // totp.interval
        for step in (step_now, step_now - 1):  # allow one step of clock drift
            if secrets.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def session(self, token: str, now: datetime) -> Session | None:
        with self.registry.read() as tx:
            row = tx.conn.execute(
                select(
                    web_sessions.c.csrf,
                    web_sessions.c.expires_at,
                    web_users.c.id,
                    web_users.c.username,
                    web_users.c.role,
                    web_users.c.disabled_at,
                )
                .join(web_users, web_users.c.id == web_sessions.c.user_id)
                .where(web_sessions.c.token_hash == _digest(token))
            ).one_or_none()
        if row is None or row.disabled_at is not None:
            return None
        if row.expires_at.replace(tzinfo=None) < now.replace(tzinfo=None):
            return None
        return Session(WebUser(row.id, row.username, Role(row.role)), row.csrf)

    def logout(self, token: str) -> None:
        with self.registry.write() as tx:
            tx.conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))
