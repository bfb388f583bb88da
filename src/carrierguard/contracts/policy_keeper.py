"""Which screening policy is in force, shared by every process through the registry.

The first use records the policy the process started with (an explicit ``--policy``
file always wins; otherwise the newest recorded version is adopted, or the packaged
default is recorded). ``activate`` records a new version (audited). Every process
notices a newer version within ``CHECK_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import Connection, select

from carrierguard.contracts.policy import Policy, parse_policy
from carrierguard.store import audit
from carrierguard.store.registry import Registry
from carrierguard.store.schema import policy_versions

CHECK_SECONDS = 5.0
log = structlog.get_logger("carrierguard.policy")


class PolicyKeeper:
    def __init__(
        self,
        registry: Registry,
        initial: Policy,
        *,
        explicit: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self.registry = registry
        self._policy = initial
        self._explicit = explicit
        self._clock = clock
        self._version: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> Policy:
        if self._version is not None and time.monotonic() - self._checked < CHECK_SECONDS:
            return self._policy
        with self._lock:
            if self._version is None:
                self._adopt_or_record()
            elif time.monotonic() - self._checked >= CHECK_SECONDS:
                self._refresh()
            return self._policy

    def current_if_fresh(self) -> Policy | None:
        """The policy in force when no look at the registry is due, without waiting for
        anything (an event loop may call it); None when ``current`` would read the registry."""
        if self._version is not None and time.monotonic() - self._checked < CHECK_SECONDS:
            return self._policy
        return None

    def _latest(self, conn: Connection) -> tuple[int, str, str, str] | None:
        row = conn.execute(
            select(
                policy_versions.c.id,
                policy_versions.c.digest,
                policy_versions.c.toml,
                policy_versions.c.source,
            )
            .order_by(policy_versions.c.id.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else (int(row.id), row.digest, row.toml, row.source)

    def _adopt_or_record(self) -> None:
        with self.registry.write() as tx:
            latest = self._latest(tx.conn)
            if latest is not None and (not self._explicit or latest[1] == self._policy.digest):
                self._version = latest[0]
                self._policy = parse_policy(latest[2], source=latest[3])
            else:
                self._version = self._record(tx.conn, self._policy, "startup", "policy.loaded")
        self._checked = time.monotonic()

    def _refresh(self) -> None:
        with self.registry.read() as tx:
            latest = self._latest(tx.conn)
        if latest is not None and latest[0] != self._version:
            self._policy = parse_policy(latest[2], source=latest[3])
            self._version = latest[0]
            log.info("policy.reloaded", version=latest[0], digest=latest[1])
        self._checked = time.monotonic()

    def _record(self, conn: Connection, policy: Policy, actor: str, action: str) -> int:
        now = self._clock()
        version = int(
            conn.execute(
                policy_versions.insert()
                .values(
                    digest=policy.digest,
                    source=policy.source[:400],
                    toml=policy.text,
                    created_by=actor,
                    created_at=now,
                )
                .returning(policy_versions.c.id)
            ).scalar_one()
        )
        audit.append(
            conn,
            actor=actor,
            action=action,
            subject=f"policy:{version}",
            payload={"digest": policy.digest, "source": policy.source},
            now=now,
        )
        return version

    def activate(self, text: str, *, actor: str, source: str) -> Policy:
        """Validate ``text`` (PolicyError names file, line and field) and put it in force."""
        policy = parse_policy(text, source=source)
        with self._lock, self.registry.write() as tx:
            self._version = self._record(tx.conn, policy, actor, "policy.changed")
            self._policy = policy
            self._checked = time.monotonic()
        return policy
