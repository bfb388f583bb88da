"""Who the applicant is in the registry: the exact key, candidate keys, and the verdict.

The exact key folds variant kanji, kana and spacing (``identity.normalized_identity_key``),
so 髙橋 一郎 and 高橋　一郎 born 1985-04-01 are one holder outright. Candidate keys (birth
date with the name's phonetic key, and with the written name) find holders written another
way; ``identity.match`` then says same, uncertain or different. Pure: the caller supplies
the candidates' decrypted fields.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from carrierguard.contracts.applications import Outcome
from carrierguard.contracts.assurance_reasons import Finding
from carrierguard.contracts.model import HolderIdentity, HolderKind
from carrierguard.errors import CarrierGuardError
from carrierguard.identity import Outcome as MatchOutcome
from carrierguard.identity import Person, match, normalize_name, normalized_identity_key


def identity_string(holder: HolderIdentity) -> str:
    """The string whose blind index finds the holder in the registry."""
    if holder.kind is HolderKind.CORPORATE:
        return f"corporate|{holder.corporate_number}"
    assert holder.birth_date is not None  # guaranteed by HolderIdentity
    try:
        return f"individual|{normalized_identity_key(holder.name, holder.birth_date)}"
    except (CarrierGuardError, ValueError):
        # A name the normaliser cannot read still gets a stable (plain NFKC) key.
        plain = "".join(unicodedata.normalize("NFKC", holder.name).split())
        return f"individual|{plain}|{holder.birth_date.isoformat()}"


def as_person(fields: Mapping[str, str | None]) -> Person:
    return Person(
        name=fields.get("name") or "",
        birth_date=fields.get("birth_date") or "",
        address=fields.get("address") or "",
        name_kana=fields.get("name_kana") or None,
        postal_code=fields.get("postal_code") or None,
    )


def as_holder(kind: HolderKind, fields: Mapping[str, str | None]) -> HolderIdentity:
    """A stored holder's identity from its unsealed fields (``service.sealed_fields``)."""
    birth = fields.get("birth_date")
    return HolderIdentity(
        kind=kind,
        name=fields.get("name") or "",
        birth_date=date.fromisoformat(birth) if birth else None,
        name_kana=fields.get("name_kana") or None,
        address=fields.get("address") or None,
        postal_code=fields.get("postal_code") or None,
        corporate_number=fields.get("corporate_number") or None,
    )


def candidate_strings(holder: HolderIdentity) -> tuple[str, ...]:
    """Keys that candidates share with the applicant: birth date plus phonetic or written name.

    Only the name is normalised (cheap and cached), so the importer can afford it per holder.
    """
    if holder.kind is not HolderKind.INDIVIDUAL or holder.birth_date is None:
        return ()
    try:
        name = normalize_name(holder.name, holder.name_kana)
    except (CarrierGuardError, ValueError):
        return ()
    dob = f"dob:{holder.birth_date.isoformat()}"
    keys = {f"{dob}|nm:{name.full}"}
    if name.reading:
        keys.add(f"{dob}|ph:{name.phonetic}")
    return tuple(sorted(keys))


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    """``same``: the holder the applicant is; ``uncertain``: candidates for review."""

    same: int | None
    uncertain: tuple[tuple[int, float], ...]

    def finding(self) -> Finding | None:
        if not self.uncertain:
            return None
        best = max(self.uncertain, key=lambda c: c[1])
        return Finding(
            code="IDENTITY_AMBIGUOUS",
            outcome=Outcome.REVIEW,
            rule="identity.match",
            detail=",".join(str(h) for h, _ in self.uncertain),
            values={
                "candidates": " ".join(f"#{h}" for h, _ in self.uncertain),
                "score": f"{best[1]:.2f}",
            },
        )


def resolve(
    holder: HolderIdentity, candidates: Iterable[tuple[int, Mapping[str, str | None]]]
) -> IdentityVerdict:
    """Compare the applicant with each candidate holder's recorded fields."""
    applicant = Person(
        name=holder.name,
        birth_date=holder.birth_date or "",
        address=holder.address or "",
        name_kana=holder.name_kana,
        postal_code=holder.postal_code,
    )
    same: list[tuple[int, float]] = []
    uncertain: list[tuple[int, float]] = []
    for holder_id, fields in candidates:
        try:
            result = match(applicant, as_person(fields))
        except (CarrierGuardError, ValueError):
            continue
        if result.outcome is MatchOutcome.SAME:
            same.append((holder_id, result.score))
        elif result.outcome is MatchOutcome.UNCERTAIN:
            uncertain.append((holder_id, result.score))
    if len(same) == 1:
        return IdentityVerdict(same[0][0], tuple(uncertain))
    # Several "same" holders means the registry itself holds duplicates: let a person decide.
    return IdentityVerdict(None, tuple(same + uncertain))
