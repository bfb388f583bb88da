"""DMARC (RFC 9989, "DMARCbis") as pure functions over values.

Owns: the record grammar, the DNS Tree Walk *plan* (which names to ask), policy
discovery and the Organizational Domain from the records found, identifier
alignment, the ``p``/``sp``/``np``/``psd``/``t`` tags, and the resulting
disposition. It must not do I/O: the driver (``auth/check.py``) asks DNS for the
names ``tree_walk(domain)`` lists and hands the answers in as ``DmarcEvidence``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from carrierguard.mail.auth.author import AuthorDomain, AuthorProblem
from carrierguard.mail.auth.dkim import DkimSignatureResult
from carrierguard.mail.auth.spf import SpfResult

POLICIES = ("none", "quarantine", "reject")
MAX_TREE_WALK_QUERIES = 8
_TAG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class DmarcRecordError(ValueError):
    """A TXT record that starts like DMARC but whose tag-list cannot be parsed."""


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed ``v=DMARC1`` record with RFC 9989 defaults filled in."""

    p: str = "none"
    sp: str | None = None
    np: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    psd: str = "u"
    t: bool = False
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: tuple[str, ...] = ("0",)
    p_given: bool = True

    @classmethod
    def parse(cls, text: str) -> DmarcRecord:
        """Parse a record; raise ``DmarcRecordError`` when it is not a usable tag-list.

        Unknown tags are ignored and invalid values fall back to defaults, as the
        RFC asks; a part that is not ``tag=value`` at all makes the record invalid.
        """
        parts = [p.strip() for p in text.split(";")]
        if not parts or re.sub(r"\s+", "", parts[0]) != "v=DMARC1":
            raise DmarcRecordError("record does not start with v=DMARC1")
        values: dict[str, str] = {}
        for part in parts[1:]:
            if not part:
                continue
            name, eq, value = part.partition("=")
            name = name.strip().lower()
            if not eq or not _TAG_NAME.match(name):
                raise DmarcRecordError(f"malformed tag {part!r}")
            values.setdefault(name, value.strip())

        def choice(tag: str, allowed: Sequence[str]) -> str | None:
            value = values.get(tag, "").lower()
            return value if value in allowed else None

        def uris(tag: str) -> tuple[str, ...]:
            return tuple(u.strip() for u in values.get(tag, "").split(",") if u.strip())

        p = choice("p", POLICIES)
        return cls(
            p=p or "none",
            sp=choice("sp", POLICIES),
            np=choice("np", POLICIES),
            adkim=choice("adkim", ("r", "s")) or "r",
            aspf=choice("aspf", ("r", "s")) or "r",
            psd=choice("psd", ("y", "n", "u")) or "u",
            t=choice("t", ("y", "n")) == "y",
            rua=uris("rua"),
            ruf=uris("ruf"),
            fo=tuple(f.strip() for f in values.get("fo", "0").split(":") if f.strip()) or ("0",),
            p_given=p is not None,
        )


class LookupState(Enum):
    FOUND = "found"
    ABSENT = "absent"
    INVALID = "invalid"
    TEMPERROR = "temperror"


@dataclass(frozen=True, slots=True)
class RecordLookup:
    """What ``_dmarc.<domain>`` held: one valid record, none, an invalid one, or a failure."""

    state: LookupState
    record: DmarcRecord | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if (self.state is LookupState.FOUND) != (self.record is not None):
            raise ValueError("a record is given exactly when one was found")


ABSENT = RecordLookup(LookupState.ABSENT)


@dataclass(frozen=True, slots=True)
class DmarcEvidence:
    """The DNS answers DMARC evaluation needs, gathered by the driver."""

    records: Mapping[str, RecordLookup] = field(default_factory=dict)
    author_exists: bool = True

    def lookup(self, domain: str) -> RecordLookup:
        return self.records.get(domain, ABSENT)


@dataclass(frozen=True, slots=True)
class DmarcResult:
    """The DMARC outcome: RFC 8601 result word, the policy asked for, what to do."""

    result: str  # pass | fail | none | temperror | permerror
    policy: str  # the policy that applies to this message: none | quarantine | reject
    disposition: str  # none | quarantine | reject, after testing mode and local overrides
    header_from: str = ""
    policy_domain: str = ""
    org_domain: str = ""
    spf_aligned: bool = False
    dkim_aligned: bool = False
    record: DmarcRecord | None = None
    testing: bool = False
    override: str = ""  # RFC 9990 PolicyOverrideType when local policy changed the disposition
    reason: str = ""


def tree_walk(domain: str) -> list[str]:
    """The domains whose ``_dmarc`` records the DNS Tree Walk asks for, in order (at most 8).

    The first query is the domain itself; a domain of eight or more labels then
    jumps to its rightmost seven labels; each next query drops the leftmost label.
    """
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    count = min(len(labels) - 1, MAX_TREE_WALK_QUERIES - 1)
    while count >= 1:
        names.append(".".join(labels[-count:]))
        count -= 1
    return names


def discover_policy(domain: str, evidence: DmarcEvidence) -> tuple[str, RecordLookup]:
    """The first usable lookup of the walk: where a record (or a failure) was met."""
    for name in tree_walk(domain):
        found = evidence.lookup(name)
        if found.state is not LookupState.ABSENT:
            return name, found
    return "", ABSENT


def organizational_domain(domain: str, evidence: DmarcEvidence) -> str:
    """RFC 9989 Organizational Domain of ``domain`` from the records on its walk.

    From the longest name to the shortest: ``psd=n`` marks the Organizational
    Domain; ``psd=y`` (other than at the start) puts it one label below; otherwise
    the record with the fewest labels wins. With no record, the domain itself.
    """
    start = domain.lower().rstrip(".")
    labels = start.split(".")
    found: list[tuple[str, DmarcRecord]] = []
    for name in tree_walk(start):
        lookup = evidence.lookup(name)
        if lookup.record is not None:
            found.append((name, lookup.record))
    for name, record in found:
        if record.psd == "n":
            return name
        if record.psd == "y" and name != start:
            depth = name.count(".") + 2
            return ".".join(labels[-depth:])
    if found:
        return found[-1][0]
    return start


def aligned(identifier: str, author: str, mode: str, evidence: DmarcEvidence) -> bool:
    """Strict: the same domain; relaxed: the same Organizational Domain."""
    identifier = identifier.lower().rstrip(".")
    if not identifier:
        return False
    if identifier == author:
        return True
    if mode == "s":
        return False
    return organizational_domain(identifier, evidence) == organizational_domain(author, evidence)


def evaluate(
    author: AuthorDomain | AuthorProblem,
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    evidence: DmarcEvidence,
    *,
    malformed_from_disposition: str = "reject",
) -> DmarcResult:
    """Evaluate DMARC for one message; pure."""
    if isinstance(author, AuthorProblem):
        # No single author domain: any policy we picked could be the wrong one, and
        # every known bypass lives here, so local policy decides (reject by default).
        return DmarcResult(
            "permerror",
            policy="none",
            disposition=malformed_from_disposition,
            reason=author.code,
        )
    domain = author.domain
    found_at, lookup = discover_policy(domain, evidence)
    if lookup.state is LookupState.TEMPERROR:
        return DmarcResult("temperror", "none", "none", domain, found_at, reason=lookup.detail)
    if lookup.state is LookupState.INVALID:
        return DmarcResult("permerror", "none", "none", domain, found_at, reason=lookup.detail)
    record = lookup.record
    if record is None:
        return DmarcResult("none", "none", "none", domain, reason="NO_POLICY")
    if not record.p_given and not record.rua:
        # A record without a valid p= is only honoured (as p=none) for its reports;
        # with no rua either, DMARC is not applied to the message.
        return DmarcResult("none", "none", "none", domain, found_at, reason="NO_VALID_P_TAG")
    org = organizational_domain(domain, evidence)
    spf_ok = (
        spf is not None
        and spf.result == "pass"
        and aligned(spf.domain, domain, record.aspf, evidence)
    )
    dkim_ok = any(
        sig.result == "pass"
        and sig.body_fully_signed  # an l= signature leaves room for appended content
        and aligned(sig.domain, domain, record.adkim, evidence)
        for sig in dkim
    )
    policy = applicable_policy(record, found_at == domain, evidence.author_exists)
    passed = spf_ok or dkim_ok
    if not passed and _temporary(domain, record, spf, dkim, evidence):
        # A check that could have aligned failed only for a DNS hiccup: judging now
        # would reject legitimate mail (false blocking), so DMARC says temperror.
        return DmarcResult(
            "temperror",
            policy=policy,
            disposition="none",
            header_from=domain,
            policy_domain=found_at,
            org_domain=org,
            record=record,
            testing=record.t,
            reason="AUTH_TEMPERROR",
        )
    disposition = "none" if passed else testing_mode(policy, record.t)
    return DmarcResult(
        "pass" if passed else "fail",
        policy=policy,
        disposition=disposition,
        header_from=domain,
        policy_domain=found_at,
        org_domain=org,
        spf_aligned=spf_ok,
        dkim_aligned=dkim_ok,
        record=record,
        testing=record.t,
    )


def _temporary(
    domain: str,
    record: DmarcRecord,
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    evidence: DmarcEvidence,
) -> bool:
    spf_temp = (
        spf is not None
        and spf.result == "temperror"
        and aligned(spf.domain, domain, record.aspf, evidence)
    )
    dkim_temp = any(
        sig.result == "temperror" and aligned(sig.domain, domain, record.adkim, evidence)
        for sig in dkim
    )
    return spf_temp or dkim_temp


def applicable_policy(record: DmarcRecord, at_author: bool, author_exists: bool) -> str:
    """``p`` at the author domain; else ``np`` for a non-existent one, else ``sp``, else ``p``."""
    if at_author:
        return record.p
    if not author_exists and record.np is not None:
        return record.np
    return record.sp if record.sp is not None else record.p


def testing_mode(policy: str, testing: bool) -> str:
    """``t=y`` asks receivers to apply the next less strict policy."""
    if not testing:
        return policy
    return {"reject": "quarantine", "quarantine": "none"}.get(policy, "none")


def override(result: DmarcResult, disposition: str, kind: str, reason: str) -> DmarcResult:
    """Local policy replaces the disposition and says why (RFC 9990 PolicyOverrideType)."""
    return replace(result, disposition=disposition, override=kind, reason=reason)
