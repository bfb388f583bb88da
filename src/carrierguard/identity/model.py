"""Values of identity resolution: a person as written, normalised, and a match result.

Owns the frozen values only; normalisation lives in names, dates and addresses,
decisions in matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from carrierguard.identity.addresses import NormalizedAddress, normalize_address
from carrierguard.identity.dates import parse_date
from carrierguard.identity.names import NormalizedName, normalize_name


@dataclass(frozen=True, slots=True)
class Person:
    """An individual as an application or a legacy record writes them.

    ``birth_date`` is a ``date`` or text in any notation ``parse_date`` reads;
    ``address`` may omit the prefecture.
    """

    name: str
    birth_date: str | date
    address: str
    name_kana: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class NormalizedPerson:
    """A person with every field in its comparable form."""

    name: NormalizedName
    birth_date: date
    address: NormalizedAddress


class Outcome(StrEnum):
    """What matching concludes; ``uncertain`` is what screening sends to review."""

    SAME = "same"
    UNCERTAIN = "uncertain"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Outcome, a score in [0, 1] (higher means more alike) and why, as stable codes."""

    outcome: Outcome
    score: float
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score out of [0, 1]: {self.score}")


@lru_cache(maxsize=65536)
def normalize_person(person: Person) -> NormalizedPerson:
    """Normalise every field; ``InvalidDate`` when the birth date cannot be read."""
    return normalize_person_once(person)


def normalize_person_once(person: Person) -> NormalizedPerson:
    """``normalize_person`` without its cache, for batch jobs that see each record once."""
    return NormalizedPerson(
        name=normalize_name(person.name, person.name_kana),
        birth_date=parse_date(person.birth_date),
        address=normalize_address(person.address, person.postal_code),
    )
