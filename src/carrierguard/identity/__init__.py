"""Japanese identity resolution: names, kana, dates (和暦), addresses; normalisation and matching.

Public API (kept stable for screening and the CLI):

- ``Person``: a person as written (name, birth date in any notation, address, optional
  reading and postal code).
- ``match(a, b) -> MatchResult``: ``outcome`` same | uncertain | different, a ``score``
  in [0, 1] and ``reasons``. "uncertain" is what screening sends to review.
- ``blocking_keys(person) -> tuple[str, ...]``: keys to find candidates without a scan
  (``dob:YYYY-MM-DD`` and a phonetic key of the name).
- ``normalized_identity_key(name, birth_date) -> str``: the exact key screening indexes a
  holder by: normalised name without spaces, ``|``, ISO birth date.
- ``dedupe(records, progress=None, *, workers=1) -> DedupeReport``: the batch job over an
  iterable of ``(holder_id, Person)``: clusters of one person and uncertain pairs.
- ``normalize_person``, ``parse_date``, ``normalize_name``, ``normalize_address``: the
  normalisation steps, for display and tests.
- ``KEY_VERSION``: the version of the keys above. A registry's stored keys were made by
  some version; when it differs, ``carrierguard identity rekey`` makes them again.
"""

from carrierguard.identity.addresses import NormalizedAddress, normalize_address
from carrierguard.identity.dates import parse_date
from carrierguard.identity.dedupe import Cluster, DedupeReport, UncertainPair, dedupe
from carrierguard.identity.matching import (
    blocking_keys,
    match,
    match_normalized,
    normalized_identity_key,
)
from carrierguard.identity.model import (
    MatchResult,
    NormalizedPerson,
    Outcome,
    Person,
    normalize_person,
)
from carrierguard.identity.names import NormalizedName, normalize_name

#: Bump whenever ``normalized_identity_key`` or ``blocking_keys`` (or the name steps
#: under them) give another answer for some input: keys stored by an older version no
#: longer meet new applicants' keys until ``identity rekey`` rewrites them. Version 2:
#: ヶ/ヵ read as ケ, Latin letters without case, romaji readings (session 3).
KEY_VERSION = 2

__all__ = [
    "KEY_VERSION",
    "Cluster",
    "DedupeReport",
    "MatchResult",
    "NormalizedAddress",
    "NormalizedName",
    "NormalizedPerson",
    "Outcome",
    "Person",
    "UncertainPair",
    "blocking_keys",
    "dedupe",
    "match",
    "match_normalized",
    "normalize_address",
    "normalize_name",
    "normalize_person",
    "normalized_identity_key",
    "parse_date",
]
