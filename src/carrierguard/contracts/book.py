"""Rows of a carrier's existing book (the ``carrierguard import`` CSV), validated purely.

Header (UTF-8, one line per row):
``holder_kind,name,name_kana,birth_date,address,postal_code,corporate_number,sim_type,state,activated_on``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import HolderIdentity, HolderKind

BOOK_HEADER = (
    "holder_kind",
    "name",
    "name_kana",
    "birth_date",
    "address",
    "postal_code",
    "corporate_number",
    "sim_type",
    "state",
    "activated_on",
)
_CORPORATE_NUMBER = re.compile(r"^[0-9]{13}$")
_POSTAL = re.compile(r"^[0-9]{3}-?[0-9]{4}$")
_KINDS = {k.value: k for k in HolderKind}
_SIMS = {s.value: s for s in SimType}
_STATES = {s.value: s for s in LineState if s is not LineState.RESERVED}


@dataclass(frozen=True, slots=True)
class BookRow:
    line_no: int
    holder: HolderIdentity
    sim_type: SimType
    state: LineState
    activated_on: date | None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line_no: int
    reason: str


def _iso(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field} must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def parse_book_row(cells: list[str], line_no: int) -> BookRow | RejectedRow:
    """Validate one CSV row; a bad row is rejected with its line number and reason."""
    if len(cells) != len(BOOK_HEADER):
        return RejectedRow(line_no, f"expected {len(BOOK_HEADER)} cells, got {len(cells)}")
    kind_s, name, kana, birth_s, address, postal, corp, sim_s, state_s, act_s = (
        c.strip() for c in cells
    )
    try:
        kind = _KINDS.get(kind_s)
        if kind is None:
            raise ValueError(f"holder_kind must be individual or corporate, got {kind_s!r}")
        sim = _SIMS.get(sim_s)
        if sim is None:
            raise ValueError(f"sim_type must be voice, data_sms or data, got {sim_s!r}")
        state = _STATES.get(state_s)
        if state is None:
            raise ValueError(
                f"state must be active, suspended, number_kept or terminated, got {state_s!r}"
            )
        if postal and not _POSTAL.match(postal):
            raise ValueError(f"postal_code must look like 100-0001, got {postal!r}")
        if corp and not _CORPORATE_NUMBER.match(corp):
            raise ValueError(f"corporate_number must be 13 digits, got {corp!r}")
        holder = HolderIdentity(
            kind=kind,
            name=name,
            name_kana=kana or None,
            birth_date=_iso(birth_s, "birth_date") if birth_s else None,
            address=address or None,
            postal_code=postal or None,
            corporate_number=corp or None,
        )
        activated = _iso(act_s, "activated_on") if act_s else None
    except ValueError as exc:
        return RejectedRow(line_no, str(exc))
    return BookRow(line_no, holder, sim, state, activated)
