"""Screening policy: pools of SIM types with caps per holder kind, loaded from TOML.

A bad policy file fails at load time with the file, line and field in the message
(``PolicyError``). The packaged default lives in ``carrierguard/data/default_policy.toml``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from carrierguard.contracts.assurance_policy import AssurancePolicy, parse_assurance
from carrierguard.contracts.lines import LineState, SimType
from carrierguard.contracts.model import HolderKind
from carrierguard.errors import PolicyError

DEFAULT_POLICY_NAME = "default_policy.toml"


@dataclass(frozen=True, slots=True)
class Cap:
    """``cap``: above it an exception review is needed; ``hard_cap``: above it, refuse."""

    cap: int | None
    hard_cap: int | None


NO_CAP = Cap(None, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCapPool:
    name: str
    label_ja: str
    label_en: str
    sim_types: frozenset[SimType]
    caps: Mapping[HolderKind, Cap]

    def cap_for(self, kind: HolderKind) -> Cap:
        return self.caps.get(kind, NO_CAP)


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstRule:
    min_new_lines: int
    window_days: int
    requires_actual_users: bool
    holder_kinds: frozenset[HolderKind]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossCarrierRules:
    """``[cross_carrier]``: caps on a person's lines counted across every carrier (C1).

    ``caps`` maps a pool name to the most lines an individual may hold in it at all
    carriers together; above it the application goes to review. ``on_unavailable``:
    what a screening does when the industry hub cannot answer ("approve" keeps the
    duty to serve and logs it; "review" sends the application to a person).
    """

    caps: Mapping[str, int]
    review_when_unavailable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    version: int
    pools: tuple[LineCapPool, ...]
    counted_states: frozenset[LineState]
    reserved_counts: bool
    burst: BurstRule | None
    agency_may_approve: bool
    source: str
    assurance: AssurancePolicy = field(default_factory=AssurancePolicy)
    cross_carrier: CrossCarrierRules | None = None
    text: str = ""

    @property
    def digest(self) -> str:
        """SHA-256 of the TOML text: identifies the policy in the audit trail."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def pool_named(self, name: str) -> LineCapPool:
        return next(pool for pool in self.pools if pool.name == name)

    def pool_of(self, sim_type: SimType) -> LineCapPool:
        for pool in self.pools:
            if sim_type in pool.sim_types:
                return pool
        raise KeyError(sim_type)  # unreachable: loading checks every SIM type has a pool

    def counts(self, state: LineState) -> bool:
        """Whether a line in ``state`` counts toward a cap."""
        if state is LineState.RESERVED:
            return self.reserved_counts
        return state in self.counted_states


def load_policy(path: str | Path | None = None) -> Policy:
    """Load ``path``, or the packaged default when ``path`` is None."""
    if path is None:
        text = resources.files("carrierguard.data").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")
        return parse_policy(text, source=f"<packaged {DEFAULT_POLICY_NAME}>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), None, "(file)", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(str(p), None, "(file)", "not UTF-8 text") from exc
    return parse_policy(text, source=str(p))


def parse_policy(text: str, *, source: str) -> Policy:
    """Parse and validate policy TOML ``text``; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _decode_error_line(str(exc))
        raise PolicyError(source, line, "(syntax)", f"invalid TOML: {exc}") from exc
    return replace(_Reader(raw, text, source).policy(), text=text)


def _decode_error_line(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


class _Reader:
    """Walks the parsed TOML, checking each field and locating it in the text for errors."""

    def __init__(self, raw: dict[str, Any], text: str, source: str) -> None:
        self.raw = raw
        self.lines = text.splitlines()
        self.source = source

    # -- error helpers -------------------------------------------------------------
    def fail(self, dotted: str, reason: str) -> PolicyError:
        return PolicyError(self.source, self.locate(dotted), dotted, reason)

    def locate(self, dotted: str) -> int | None:
        """Line number of ``dotted`` (a.b.c): the key line after its table header, if found."""
        parts = dotted.split(".")
        start = 0
        for depth in range(len(parts) - 1, 0, -1):
            header = re.compile(r"^\s*\[+\s*" + re.escape(".".join(parts[:depth])) + r"\s*\]+")
            hit = next((i for i, ln in enumerate(self.lines) if header.match(ln)), None)
            if hit is not None:
                start = hit
                break
        key = re.compile(r"^\s*" + re.escape(parts[-1]) + r"\s*=")
        table = re.compile(r"^\s*\[+\s*" + re.escape(dotted) + r"\s*\]+")
        for i in range(start, len(self.lines)):
            if key.match(self.lines[i]) or table.match(self.lines[i]):
                return i + 1
        return start + 1 if start else None

    def only_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                dotted = f"{where}.{key}" if where else key
                raise self.fail(dotted, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def int_field(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool = True
    ) -> int | None:
        dotted = f"{where}.{key}" if where else key
        if key not in table:
            if required:
                raise self.fail(dotted, "missing")
            return None
        value = table[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(dotted, f"must be a whole number >= 0, got {value!r}")
        return value

    def bool_field(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(
                f"{where}.{key}" if where else key, f"must be true or false, got {value!r}"
            )
        return value

    def str_field(self, table: Mapping[str, Any], key: str, where: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"must be a string, got {value!r}")
        return value

    def table(self, parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{where}.{key}" if where else key, "must be a table")
        return value

    # -- the policy ------------------------------------------------------------------
    def policy(self) -> Policy:
        raw = self.raw
        self.only_keys(
            raw,
            {
                "version",
                "counted_states",
                "reserved_counts",
                "pools",
                "burst",
                "exceptions",
                "assurance",
                "cross_carrier",
            },
            "",
        )
        version = self.int_field(raw, "version", "")
        if version != 1:
            raise self.fail("version", f"unsupported policy version {version}; this build reads 1")
        counted = raw.get("counted_states", ["active", "suspended", "number_kept"])
        if not isinstance(counted, list):
            raise self.fail("counted_states", "must be a list of line states")
        states: set[LineState] = set()
        for item in counted:
            try:
                states.add(LineState(item))
            except ValueError:
                allowed = ", ".join(s.value for s in LineState if s is not LineState.RESERVED)
                raise self.fail(
                    "counted_states", f"unknown line state {item!r} ({allowed})"
                ) from None
        if LineState.RESERVED in states:
            raise self.fail("counted_states", "use reserved_counts for reserved lines")
        return Policy(
            version=version,
            pools=self.pools(),
            counted_states=frozenset(states),
            reserved_counts=self.bool_field(raw, "reserved_counts", "", True),
            burst=self.burst(),
            agency_may_approve=self.bool_field(
                self.exceptions(), "agency_may_approve", "exceptions", False
            ),
            source=self.source,
            assurance=parse_assurance(raw.get("assurance", {}), self.locate, self.source),
            cross_carrier=self.cross_carrier(),
        )

    def cross_carrier(self) -> CrossCarrierRules | None:
        table = self.table(self.raw, "cross_carrier", "")
        if not table:
            return None
        self.only_keys(table, {"caps", "on_unavailable"}, "cross_carrier")
        caps_raw = self.table(table, "caps", "cross_carrier")
        pools_raw = self.table(self.raw, "pools", "")
        caps: dict[str, int] = {}
        for name in caps_raw:
            if name not in pools_raw:
                raise self.fail(
                    f"cross_carrier.caps.{name}",
                    f"no pool named {name!r} (pools: {', '.join(pools_raw)})",
                )
            cap = self.int_field(caps_raw, name, "cross_carrier.caps")
            assert cap is not None
            caps[name] = cap
        if not caps:
            raise self.fail("cross_carrier.caps", "name at least one pool and its cap")
        when = self.str_field(table, "on_unavailable", "cross_carrier", "approve")
        if when not in ("approve", "review"):
            raise self.fail(
                "cross_carrier.on_unavailable", f"must be approve or review, got {when!r}"
            )
        return CrossCarrierRules(caps=caps, review_when_unavailable=when == "review")

    def exceptions(self) -> Mapping[str, Any]:
        table = self.table(self.raw, "exceptions", "")
        self.only_keys(table, {"agency_may_approve"}, "exceptions")
        return table

    def pools(self) -> tuple[LineCapPool, ...]:
        pools_raw = self.table(self.raw, "pools", "")
        if not pools_raw:
            raise self.fail("pools", "at least one pool is needed")
        seen: dict[SimType, str] = {}
        pools = []
        for name, body in pools_raw.items():
            where = f"pools.{name}"
            if not isinstance(body, dict):
                raise self.fail(where, "must be a table")
            self.only_keys(body, {"label_ja", "label_en", "sim_types", "caps"}, where)
            sim_types = body.get("sim_types")
            if not isinstance(sim_types, list) or not sim_types:
                raise self.fail(f"{where}.sim_types", "must be a non-empty list of SIM types")
            members: set[SimType] = set()
            for item in sim_types:
                try:
                    sim = SimType(item)
                except ValueError:
                    allowed = ", ".join(s.value for s in SimType)
                    raise self.fail(
                        f"{where}.sim_types", f"unknown SIM type {item!r} ({allowed})"
                    ) from None
                if sim in seen:
                    raise self.fail(
                        f"{where}.sim_types", f"{sim.value} is already in pool {seen[sim]}"
                    )
                seen[sim] = name
                members.add(sim)
            pools.append(
                LineCapPool(
                    name=name,
                    label_ja=self.str_field(body, "label_ja", where, name),
                    label_en=self.str_field(body, "label_en", where, name),
                    sim_types=frozenset(members),
                    caps=self.caps(body, where),
                )
            )
        missing = [s.value for s in SimType if s not in seen]
        if missing:
            raise self.fail("pools", f"no pool holds SIM type(s) {', '.join(missing)}")
        return tuple(pools)

    def caps(self, body: Mapping[str, Any], where: str) -> dict[HolderKind, Cap]:
        caps_raw = self.table(body, "caps", where)
        caps: dict[HolderKind, Cap] = {}
        for kind_name, cap_body in caps_raw.items():
            cwhere = f"{where}.caps.{kind_name}"
            try:
                kind = HolderKind(kind_name)
            except ValueError:
                raise self.fail(cwhere, "holder kind must be individual or corporate") from None
            if not isinstance(cap_body, dict):
                raise self.fail(cwhere, "must be a table with cap and hard_cap")
            self.only_keys(cap_body, {"cap", "hard_cap"}, cwhere)
            cap = self.int_field(cap_body, "cap", cwhere, required=False)
            hard = self.int_field(cap_body, "hard_cap", cwhere, required=False)
            if cap is not None and hard is not None and hard < cap:
                raise self.fail(f"{cwhere}.hard_cap", f"hard_cap {hard} is below cap {cap}")
            caps[kind] = Cap(cap, hard)
        return caps

    def burst(self) -> BurstRule | None:
        table = self.table(self.raw, "burst", "")
        if not table:
            return None
        self.only_keys(
            table,
            {"min_new_lines", "window_days", "requires_actual_users", "holder_kinds"},
            "burst",
        )
        kinds_raw = table.get("holder_kinds", ["individual"])
        if not isinstance(kinds_raw, list):
            raise self.fail("burst.holder_kinds", "must be a list of holder kinds")
        try:
            kinds = frozenset(HolderKind(k) for k in kinds_raw)
        except ValueError:
            raise self.fail(
                "burst.holder_kinds", "holder kinds are individual, corporate"
            ) from None
        min_new = self.int_field(table, "min_new_lines", "burst")
        window = self.int_field(table, "window_days", "burst")
        assert min_new is not None and window is not None
        if min_new < 1:
            raise self.fail("burst.min_new_lines", "must be 1 or more")
        if window < 1:
            raise self.fail("burst.window_days", "must be 1 or more")
        return BurstRule(
            min_new_lines=min_new,
            window_days=window,
            requires_actual_users=self.bool_field(table, "requires_actual_users", "burst", True),
            holder_kinds=kinds,
        )
