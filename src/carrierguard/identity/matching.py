"""Deciding whether two records are one person: field agreements, a rule table, a score.

Owns comparison of normalised fields and the decision. The rule table is written
for precision first: "same" needs the name and the birth date to agree exactly
after normalisation and the address to agree at least on the municipality; every
weaker combination that a real person could still produce (a typo in the date,
another kanji with the same reading, a married name, a move) is "uncertain", which
screening sends to a person. Pure: no I/O beyond what normalisation reads.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum

from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from carrierguard.identity.addresses import NormalizedAddress
from carrierguard.identity.dates import parse_date
from carrierguard.identity.kana import is_kana
from carrierguard.identity.model import MatchResult, NormalizedPerson, Outcome, Person
from carrierguard.identity.model import normalize_person as _normalize
from carrierguard.identity.names import NormalizedName, normalize_written_name


class NameAgreement(IntEnum):
    """How two names agree, strongest last."""

    DIFFERENT = 0
    UNCOMPARABLE = 1  # one side only in kana, the other only in kanji: nothing to compare
    SIMILAR = 2  # one character apart, readings unknown on a side
    FAMILY_CHANGED = 3  # same given name and reading, other family name (marriage)
    READING = 4  # other kanji with the same reading (an IME slip: 一郎 / 一朗)
    EXACT_READING_CONFLICT = 5  # same written name, readings disagree
    EXACT = 6


class DateAgreement(IntEnum):
    """How two birth dates agree."""

    DIFFERENT = 0
    NEAR = 1  # one digit, day and month swapped, or a day apart
    EXACT = 2


class AddressAgreement(IntEnum):
    """How two addresses agree, strongest last."""

    DIFFERENT = 0
    CITY = 1
    TOWN = 2  # same town, other block numbers
    OTHER_UNIT = 3  # same block, another room or building
    PARTIAL = 4  # same town, one block number list a prefix of the other
    SAME = 5


def compare_names(a: NormalizedName, b: NormalizedName) -> tuple[NameAgreement, float]:
    """Agreement level and similarity in [0, 1] of two normalised names."""
    both_read = bool(a.reading and b.reading)
    readings_agree = both_read and a.phonetic == b.phonetic
    similarity = ratio(a.full, b.full) / 100.0
    if a.full != b.full and (is_kana(a.full) or is_kana(b.full)):
        # A legacy record that kept only the reading: compare readings, nothing else.
        if readings_agree:
            return NameAgreement.READING, 0.9
        if not both_read:
            return NameAgreement.UNCOMPARABLE, 0.5
        return NameAgreement.DIFFERENT, 0.0
    if a.full == b.full:
        if both_read and not readings_agree:
            return NameAgreement.EXACT_READING_CONFLICT, 0.9
        return NameAgreement.EXACT, 1.0
    if readings_agree and Levenshtein.distance(a.full, b.full) <= 2:
        return NameAgreement.READING, max(similarity, 0.9)
    if _family_changed(a, b, both_read):
        return NameAgreement.FAMILY_CHANGED, similarity
    if both_read and not readings_agree:
        return NameAgreement.DIFFERENT, similarity * 0.5
    if Levenshtein.distance(a.full, b.full) <= 1 and min(len(a.full), len(b.full)) >= 3:
        return NameAgreement.SIMILAR, similarity
    return NameAgreement.DIFFERENT, similarity * 0.5


def _family_changed(a: NormalizedName, b: NormalizedName, both_read: bool) -> bool:
    """Same given name (as one side spaced it) under another family name."""
    given = a.given or b.given
    if not given or not (a.full.endswith(given) and b.full.endswith(given)):
        return False
    family_a, family_b = a.full[: -len(given)], b.full[: -len(given)]
    if not family_a or not family_b or family_a == family_b:
        return False
    reading_given = a.reading_given or b.reading_given
    if both_read and reading_given:
        return a.reading.endswith(reading_given) and b.reading.endswith(reading_given)
    return True


def compare_dates(a: date, b: date) -> DateAgreement:
    """Exact, near (a plausible typing slip) or different."""
    if a == b:
        return DateAgreement.EXACT
    if abs((a - b).days) <= 1 or (a.year == b.year and a.month == b.day and a.day == b.month):
        return DateAgreement.NEAR
    if Levenshtein.distance(a.strftime("%Y%m%d"), b.strftime("%Y%m%d")) <= 1:
        return DateAgreement.NEAR
    return DateAgreement.DIFFERENT


def _units_conflict(a: NormalizedAddress, b: NormalizedAddress) -> bool:
    if a.room and b.room:
        return a.room != b.room
    return bool(a.building and b.building and ratio(a.building, b.building) < 80)


def compare_addresses(a: NormalizedAddress, b: NormalizedAddress) -> tuple[AddressAgreement, float]:
    """Agreement level and similarity in [0, 1] of two normalised addresses."""
    if a.prefecture and b.prefecture and a.prefecture != b.prefecture:
        return AddressAgreement.DIFFERENT, 0.0
    if a.locality == b.locality or (
        min(len(a.town), len(b.town)) >= 3 and a.city == b.city and ratio(a.town, b.town) >= 85
    ):
        if a.block == b.block:
            if _units_conflict(a, b):
                return AddressAgreement.OTHER_UNIT, 0.85
            return AddressAgreement.SAME, 1.0
        shorter = min(len(a.block), len(b.block))
        if shorter >= 1 and a.block[:shorter] == b.block[:shorter]:
            return AddressAgreement.PARTIAL, 0.9
        return AddressAgreement.TOWN, 0.7
    if a.city and a.city == b.city:
        return AddressAgreement.CITY, 0.4
    return AddressAgreement.DIFFERENT, ratio(a.key, b.key) / 100.0 * 0.3


def decide(name: NameAgreement, when: DateAgreement, where: AddressAgreement) -> Outcome:
    """The rule table: precision of "same" first, people in review for the rest."""
    near_home = where >= AddressAgreement.PARTIAL
    if when is DateAgreement.DIFFERENT:
        return Outcome.DIFFERENT
    if when is DateAgreement.NEAR:
        if name is NameAgreement.EXACT and near_home:
            return Outcome.UNCERTAIN
        return Outcome.DIFFERENT
    if name is NameAgreement.EXACT:
        return Outcome.SAME if where >= AddressAgreement.CITY else Outcome.UNCERTAIN
    if name in (NameAgreement.EXACT_READING_CONFLICT, NameAgreement.READING):
        return Outcome.UNCERTAIN if near_home else Outcome.DIFFERENT
    if name is NameAgreement.FAMILY_CHANGED:
        return Outcome.UNCERTAIN if where >= AddressAgreement.OTHER_UNIT else Outcome.DIFFERENT
    if name in (NameAgreement.SIMILAR, NameAgreement.UNCOMPARABLE) and near_home:
        return Outcome.UNCERTAIN
    return Outcome.DIFFERENT


def match_normalized(a: NormalizedPerson, b: NormalizedPerson) -> MatchResult:
    """Match two already normalised people (the batch path normalises each record once)."""
    name, name_sim = compare_names(a.name, b.name)
    when = compare_dates(a.birth_date, b.birth_date)
    where, address_sim = compare_addresses(a.address, b.address)
    date_sim = {DateAgreement.EXACT: 1.0, DateAgreement.NEAR: 0.5}.get(when, 0.0)
    score = round(0.45 * name_sim + 0.35 * date_sim + 0.2 * address_sim, 4)
    reasons = (f"NAME_{name.name}", f"BIRTH_DATE_{when.name}", f"ADDRESS_{where.name}")
    return MatchResult(decide(name, when, where), min(1.0, max(0.0, score)), reasons)


def match(a: Person, b: Person) -> MatchResult:
    """Are ``a`` and ``b`` one person? ``InvalidDate`` when a birth date is unreadable."""
    return match_normalized(_normalize(a), _normalize(b))


def blocking_keys(person: Person | NormalizedPerson) -> tuple[str, ...]:
    """Keys under which candidates are looked up: birth date, and the name's phonetic key.

    The phonetic key comes from the reading when one is known, else from the
    written name (a reading is never guessed from kanji).
    """
    norm = person if isinstance(person, NormalizedPerson) else _normalize(person)
    phonetic = f"ph:{norm.name.phonetic}" if norm.name.reading else f"nm:{norm.name.full}"
    return (f"dob:{norm.birth_date.isoformat()}", phonetic)


def normalized_identity_key(name: str, birth_date: str | date) -> str:
    """Exact lookup key of a holder: normalised name without spaces, '|', ISO birth date.

    ``normalized_identity_key("髙橋　一郎", "昭和60年4月1日") == "高橋一郎|1985-04-01"``.
    """
    return f"{normalize_written_name(name)}|{parse_date(birth_date).isoformat()}"
