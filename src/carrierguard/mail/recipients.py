"""Each recipient's filter strength (弱/標準/強), as the milter asks for it per message.

A recipient chooses weak, standard or strong (M1); a recipient who never chose gets the
operator's default and is listed for an awareness mail (M3). ``StrengthBook`` is the
interface; ``FixedStrengths`` keeps them in memory (tests, single-host setups) and
``StoredStrengths`` reads the ``mail_recipients`` table, shared by every milter and the
API, with a short cache so that a busy milter asks the database once per recipient and
period, not once per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.errors import InvalidInput

log = structlog.get_logger("carrierguard.mail.recipients")

STRENGTHS = ("weak", "standard", "strong")
STRENGTH_LABELS_JA = {"weak": "弱", "standard": "標準", "strong": "強"}
DEFAULT_STRENGTH = "standard"
CACHE_SECONDS = 30.0


def checked_strength(value: str) -> str:
    """``value`` if it names a strength, else a clear error in both languages."""
    if value not in STRENGTHS:
        raise InvalidInput(
            f"strength must be one of {', '.join(STRENGTHS)}: {value!r}",
            message_ja=f"強度は weak (弱) / standard (標準) / strong (強) のいずれかです: {value!r}",
        )
    return value


def normalized_address(address: str) -> str:
    """The form addresses are stored and looked up in: no angle brackets, lower case."""
    return address.strip().strip("<>").strip().lower()


class StrengthBook(Protocol):
    default: str

    def strengths(self, addresses: Iterable[str]) -> dict[str, str]:
        """The strength for each address (the default where none was chosen)."""

    def seen(self, addresses: Iterable[str]) -> None:
        """Note that mail came for these addresses (for the awareness list)."""


class FixedStrengths:
    """Strengths from a mapping; nothing is remembered."""

    def __init__(self, chosen: Mapping[str, str] | None = None, default: str = DEFAULT_STRENGTH):
        self.default = checked_strength(default)
        self.chosen = {
            normalized_address(a): checked_strength(s) for a, s in (chosen or {}).items()
        }

    def strengths(self, addresses: Iterable[str]) -> dict[str, str]:
        return {a: self.chosen.get(normalized_address(a), self.default) for a in addresses}

    def seen(self, addresses: Iterable[str]) -> None:
        return None


class StoredStrengths:
    """Strengths in the ``mail_recipients`` table, cached for ``ttl`` seconds.

    A database outage must not cost mail: lookups then fall back to the default
    strength (logged), and recording seen recipients is skipped until it is back.
    """

    def __init__(
        self,
        engine: Engine,
        default: str = DEFAULT_STRENGTH,
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.default = checked_strength(default)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._noted: set[str] = set()
        self._lock = threading.Lock()

    def strengths(self, addresses: Iterable[str]) -> dict[str, str]:
        from carrierguard.store.mail_schema import recipient_strengths

        wanted = {a: normalized_address(a) for a in addresses}
        now = self.clock()
        with self._lock:
            fresh = {
                n: hit[1]
                for n in wanted.values()
                if (hit := self._cache.get(n)) is not None and hit[0] > now
            }
        missing = sorted(set(wanted.values()) - fresh.keys())
        if missing:
            try:
                with self.engine.connect() as conn:
                    found = recipient_strengths(conn, missing)
            except SQLAlchemyError as exc:
                log.warning("recipient_strengths_unavailable", error=exc.__class__.__name__)
                found = {}
                missing = []  # do not cache an outage
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                for n in missing:
                    self._cache[n] = (now + self.ttl, found.get(n))
                    fresh[n] = found.get(n)
        return {a: fresh.get(n) or self.default for a, n in wanted.items()}

    def seen(self, addresses: Iterable[str]) -> None:
        from carrierguard.store.mail_schema import note_recipients

        new = {normalized_address(a) for a in addresses} - self._noted
        if not new:
            return
        try:
            with self.engine.begin() as conn:
                note_recipients(conn, new, datetime.now(UTC))
        except SQLAlchemyError as exc:
            log.warning("recipients_not_recorded", error=exc.__class__.__name__)
            return
        with self._lock:
            if len(self._noted) > 1_000_000:
                self._noted.clear()
            self._noted |= new
