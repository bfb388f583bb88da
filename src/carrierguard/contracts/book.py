"""Rows of a carrier's existing book (the ``carrierguard import`` CSV), validated purely.

Header (UTF-8, one line per row):
``holder_kind,name,name_kana,birth_date,address,postal_code,corporate_number,sim_type,state,activated_on``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

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
_HOLDER_CELLS = 7  # holder_kind .. corporate_number
_KINDS = {k.value: k for k in HolderKind}
_SIMS = {s.value: s for s in SimType}
_STATES = {s.value: s for s in LineState if s is not LineState.RESERVED}
_SIM_VALUES = {v: v for v in _SIMS}
_STATE_VALUES = {v: v for v in _STATES}
_SIM_BYTES = {v.encode(): v for v in _SIMS}
_STATE_BYTES = {v.encode(): v for v in _STATES}


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


#: A row ``BookReader`` accepted: (holder number in the reader, SIM type value, state value,
#: activation date).
BookLine = tuple[int, str, str, date | None]
_HolderCells = tuple[str, ...]


class BookReader:
    """Validates rows exactly like ``parse_book_row``, once per distinct holder.

    A book repeats a holder's cells on each of its lines: a reader validates each
    distinct set of holder cells (and each activation date) once, and numbers the
    distinct holders in order of first appearance (``holders[n]`` is holder ``n``).
    The accepted rows and reasons of rejection are those of ``parse_book_row``. Memory
    grows with the distinct values seen: use one reader per chunk of a file.
    """

    __slots__ = ("_cells", "_lines", "_numbers", "holders")

    def __init__(self) -> None:
        self.holders: list[HolderIdentity] = []
        # raw holder cells -> (reason to reject or None, holder number); the kind is
        # checked before the SIM type and state, every other holder cell after them.
        self._cells: dict[_HolderCells, tuple[str | None, str | None, int]] = {}
        self._numbers: dict[tuple[object, ...], int] = {}
        self._lines: dict[bytes, tuple[str | None, str | None, int]] = {}  # same, as bytes

    def read_line(self, line: bytes, line_no: int) -> BookLine | RejectedRow:
        """``read`` of a UTF-8 CSV line without quotes or line ending: cells split on commas.

        A well-formed row is read from the bytes (the holder's cells are decoded once);
        any other goes through ``read`` for its reason.
        """
        parts = line.rsplit(b",", 3)
        if len(parts) == 4:
            head, sim_b, state_b, activated_b = parts
            holder = self._lines.get(head)
            if holder is None and head.count(b",") == _HOLDER_CELLS - 1:
                holder = self._lines[head] = self._holder_of(tuple(head.decode().split(",")))
            sim = _SIM_BYTES.get(sim_b)
            state = _STATE_BYTES.get(state_b)
            if holder is not None and holder[1] is None and holder[0] is None and sim and state:
                activated = _activated_bytes(activated_b)
                if not isinstance(activated, str):
                    return holder[2], sim, state, activated
        return self.read(line.decode().split(","), line_no)

    def read_lines(
        self, lines: list[bytes], first_line: int
    ) -> tuple[list[tuple[int, int, str, str, date | None]], list[RejectedRow]]:
        """``read_line`` of each non-empty line, numbered from ``first_line``.

        Returns the accepted rows as (line number, *BookLine) and the rejected ones.
        """
        accepted: list[tuple[int, int, str, str, date | None]] = []
        rejected: list[RejectedRow] = []
        memo = self._lines
        line_no = first_line - 1
        for line in lines:
            line_no += 1
            if not line:
                continue
            parts = line.rsplit(b",", 3)
            if len(parts) == 4:  # the same steps as read_line, without a call per row
                head, sim_b, state_b, activated_b = parts
                holder = memo.get(head)
                if holder is None and head.count(b",") == _HOLDER_CELLS - 1:
                    holder = memo[head] = self._holder_of(tuple(head.decode().split(",")))
                sim = _SIM_BYTES.get(sim_b)
                state = _STATE_BYTES.get(state_b)
                if holder is not None and holder[1] is None and holder[0] is None and sim and state:
                    activated = _activated_bytes(activated_b)
                    if not isinstance(activated, str):
                        accepted.append((line_no, holder[2], sim, state, activated))
                        continue
            row = self.read(line.decode().split(","), line_no)
            if isinstance(row, RejectedRow):
                rejected.append(row)
            else:
                accepted.append((line_no, *row))
        return accepted, rejected

    def read(self, cells: list[str], line_no: int) -> BookLine | RejectedRow:
        """Validate one CSV row; a bad row is rejected with its line number and reason."""
        if len(cells) != len(BOOK_HEADER):
            return RejectedRow(line_no, f"expected {len(BOOK_HEADER)} cells, got {len(cells)}")
        kind_error, error, number = self._holder_of(tuple(cells[:_HOLDER_CELLS]))
        if kind_error is not None:
            return RejectedRow(line_no, kind_error)
        sim = _SIM_VALUES.get(cells[7])
        if sim is None:
            sim_s = cells[7].strip()
            sim = _SIM_VALUES.get(sim_s)
            if sim is None:
                return RejectedRow(
                    line_no, f"sim_type must be voice, data_sms or data, got {sim_s!r}"
                )
        state = _STATE_VALUES.get(cells[8])
        if state is None:
            state_s = cells[8].strip()
            state = _STATE_VALUES.get(state_s)
            if state is None:
                return RejectedRow(
                    line_no,
                    f"state must be active, suspended, number_kept or terminated, got {state_s!r}",
                )
        if error is not None:
            return RejectedRow(line_no, error)
        activated = _activated(cells[9])
        if isinstance(activated, str):
            return RejectedRow(line_no, activated)
        return number, sim, state, activated

    def _holder_of(self, raw: _HolderCells) -> tuple[str | None, str | None, int]:
        holder = self._cells.get(raw)
        if holder is None:
            holder = self._cells[raw] = self._holder(raw)
        return holder

    def _holder(self, raw: _HolderCells) -> tuple[str | None, str | None, int]:
        kind_s, name, kana, birth_s, address, postal, corp = [c.strip() for c in raw]
        kind = _KINDS.get(kind_s)
        if kind is None:
            return f"holder_kind must be individual or corporate, got {kind_s!r}", None, -1
        try:
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
        except ValueError as exc:
            return None, str(exc), -1
        # Equal keys <=> equal holders; a tuple of strings hashes faster than the dataclass.
        key = (kind_s, name, holder.birth_date, kana, address, postal, corp)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = len(self.holders)
            self.holders.append(holder)
        return None, None, number


@lru_cache(maxsize=16_384)  # a book's activation dates span a few thousand days
def _activated(cell: str) -> date | str | None:
    """The activation date of a cell, None when empty, or the reason it is refused."""
    text = cell.strip()
    if not text:
        return None
    try:
        return _iso(text, "activated_on")
    except ValueError as exc:
        return str(exc)


@lru_cache(maxsize=16_384)
def _activated_bytes(cell: bytes) -> date | str | None:
    return _activated(cell.decode())
