"""Sender posture audit: what a domain publishes for the mail it sends.

Owns the reading of SPF (syntax, the 10-lookup limit, void lookups), DMARC (through
``auth.dmarc``'s record parser and tree walk, and the reports module's external
destination check), DKIM keys at given selectors, MTA-STS, TLS-RPT and BIMI records,
and the summary across domains (the share at quarantine or reject). It only asks the
``Resolver``; rendering (table, CSV, HTML) lives in ``posture_html``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from carrierguard.errors import DnsTemporaryFailure
from carrierguard.mail.auth.check import fetch_dmarc_record
from carrierguard.mail.auth.dmarc import DmarcEvidence, LookupState, discover_policy, tree_walk
from carrierguard.mail.bimi import BimiRecordError, parse_bimi_record
from carrierguard.mail.dns import Answer, Resolver
from carrierguard.mail.reports.delivery import authorised, parse_uri

MAX_SPF_LOOKUPS = 10  # RFC 7208 section 4.6.4
MAX_VOID_LOOKUPS = 2
ENFORCING = ("quarantine", "reject")
_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists")
_TERM = re.compile(r"^([+\-~?]?)([a-z0-9]+)(?::(.*?))?(/\d+)?(//\d+)?$", re.IGNORECASE)
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.\-]*)=(.*)$", re.IGNORECASE)
_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem or remark; ``code`` is stable SCREAMING_SNAKE."""

    code: str
    severity: str  # error | warning | info
    message_ja: str
    message_en: str


@dataclass(frozen=True, slots=True)
class SpfPosture:
    record: str | None
    valid: bool
    lookups: int = 0
    void_lookups: int = 0
    error: str = ""
    all_qualifier: str = ""


@dataclass(frozen=True, slots=True)
class DmarcPosture:
    state: str  # found | absent | invalid | temperror
    record: str = ""
    found_at: str = ""
    p: str = ""
    sp: str = ""
    np: str = ""
    testing: bool = False
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    unauthorised: tuple[str, ...] = ()
    detail: str = ""

    @property
    def policy(self) -> str:
        """The policy a receiver applies: ``p``; ``none`` for a p-less record with rua
        (RFC 9989 section 4.7); empty when no record applies."""
        if self.state != "found":
            return ""
        return self.p or ("none" if self.rua else "")

    @property
    def enforcing(self) -> bool:
        """At quarantine or reject and not in testing mode (``t=y``)."""
        return self.state == "found" and self.p in ENFORCING and not self.testing


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str
    found: bool
    key_type: str = ""
    bits: int = 0
    revoked: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class TagRecord:
    """MTA-STS, TLS-RPT or BIMI: the record text (empty when absent) and its validity."""

    record: str = ""
    valid: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class DomainPosture:
    domain: str
    spf: SpfPosture
    dmarc: DmarcPosture
    dkim: tuple[DkimKey, ...] = ()
    mta_sts: TagRecord = TagRecord()
    tls_rpt: TagRecord = TagRecord()
    bimi: TagRecord = TagRecord()
    findings: tuple[Finding, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class PostureSummary:
    total: int
    enforcing: int
    by_policy: tuple[tuple[str, int], ...]
    spf_valid: int

    @property
    def enforcing_share(self) -> float:
        return self.enforcing / self.total if self.total else 0.0


def _txt(resolver: Resolver, name: str) -> tuple[Answer | None, list[str], str]:
    try:
        answer = resolver.query(name, "TXT")
    except DnsTemporaryFailure as exc:
        return None, [], exc.reason
    return answer, [t.decode("utf-8", "replace") for t in answer.txt()], ""


def _is_spf(text: str) -> bool:
    low = text.lower()
    return low == "v=spf1" or low.startswith("v=spf1 ")


class _SpfWalk:
    """Counts DNS-querying terms across includes and redirects without a client IP."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.lookups = 0
        self.void = 0
        self.seen: set[str] = set()

    def _count(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_SPF_LOOKUPS:
            raise ValueError(f"more than {MAX_SPF_LOOKUPS} DNS lookups")

    def _void_if_empty(self, name: str, kinds: Sequence[str]) -> None:
        if "%" in name:
            return  # a macro needs the sender to expand; nothing to look up here
        try:
            answers = [self.resolver.query(name, kind) for kind in kinds]
        except DnsTemporaryFailure:
            return
        if all(not a.records for a in answers):
            self.void += 1
            if self.void > MAX_VOID_LOOKUPS:
                raise ValueError(f"more than {MAX_VOID_LOOKUPS} void lookups")

    def record(self, domain: str) -> str | None:
        answer, texts, error = _txt(self.resolver, domain)
        if answer is None:
            raise ValueError(f"temporary DNS failure: {error}")
        found = [t for t in texts if _is_spf(t)]
        if len(found) > 1:
            raise ValueError(f"{len(found)} SPF records at {domain}")
        return found[0] if found else None

    def walk(self, domain: str, text: str) -> str:
        """Check ``text`` (the record at ``domain``); return the ``all`` qualifier met."""
        if domain in self.seen:
            raise ValueError(f"include loop at {domain}")
        self.seen.add(domain)
        redirect = ""
        all_qualifier = ""
        for term in text.split()[1:]:
            modifier = _MODIFIER.match(term)
            if modifier and modifier.group(1).lower() not in _MECHANISMS:
                if modifier.group(1).lower() == "redirect":
                    if redirect:
                        raise ValueError("redirect given twice")
                    redirect = modifier.group(2)
                continue
            match = _TERM.match(term)
            if not match or match.group(2).lower() not in _MECHANISMS:
                raise ValueError(f"unknown term {term!r}")
            qualifier, name, arg = match.group(1) or "+", match.group(2).lower(), match.group(3)
            self._term(domain, name, arg, term)
            if name == "all":
                all_qualifier = qualifier
        if redirect and not all_qualifier:
            self._count()
            target = self.record(redirect)
            if target is None:
                raise ValueError(f"redirect to {redirect} which has no SPF record")
            return self.walk(redirect, target)
        return all_qualifier

    def _term(self, domain: str, name: str, arg: str | None, term: str) -> None:
        if name in ("ip4", "ip6"):
            try:
                address = ipaddress.ip_address(arg or "")
            except ValueError as exc:
                raise ValueError(f"bad address in {term!r}") from exc
            if (address.version == 4) != (name == "ip4"):
                raise ValueError(f"wrong address family in {term!r}")
            return
        if name == "all":
            if arg is not None:
                raise ValueError(f"'all' takes no argument: {term!r}")
            return
        if name in ("include", "exists") and not arg:
            raise ValueError(f"{name} needs a domain: {term!r}")
        self._count()
        target = arg or domain
        if name == "include":
            included = self.record(target) if "%" not in target else ""
            if included is None:
                raise ValueError(f"include:{target} has no SPF record")
            if included:
                self.walk(target, included)
        elif name == "a":
            self._void_if_empty(target, ("A", "AAAA"))
        elif name == "mx":
            self._void_if_empty(target, ("MX",))
        elif name == "exists":
            self._void_if_empty(target, ("A",))


def audit_spf(resolver: Resolver, domain: str) -> SpfPosture:
    """Syntax, lookup count and void lookups of the SPF record at ``domain``."""
    walk = _SpfWalk(resolver)
    try:
        text = walk.record(domain)
    except ValueError as exc:
        return SpfPosture(None, False, error=str(exc))
    if text is None:
        return SpfPosture(None, False, error="no SPF record")
    try:
        qualifier = walk.walk(domain, text)
    except ValueError as exc:
        return SpfPosture(text, False, walk.lookups, walk.void, str(exc))
    return SpfPosture(text, True, walk.lookups, walk.void, "", qualifier)


def audit_dmarc(resolver: Resolver, domain: str) -> DmarcPosture:
    """The policy found by the DNS tree walk, its tags and unauthorised report destinations."""
    records = {name: fetch_dmarc_record(resolver, name) for name in tree_walk(domain)}
    found_at, lookup = discover_policy(domain, DmarcEvidence(records))
    if lookup.state is not LookupState.FOUND or lookup.record is None:
        return DmarcPosture(lookup.state.value, found_at=found_at, detail=lookup.detail)
    _, texts, _ = _txt(resolver, f"_dmarc.{found_at}")
    text = next((t for t in texts if t.replace(" ", "").startswith("v=DMARC1")), "")
    rec = lookup.record
    unauthorised = tuple(
        uri
        for uri in (*rec.rua, *rec.ruf)
        if (dest := parse_uri(uri)) is not None and not authorised(dest, found_at, resolver)
    )
    return DmarcPosture(
        "found",
        text,
        found_at,
        rec.p if rec.p_given else "",
        rec.sp or "",
        rec.np or "",
        rec.t,
        rec.rua,
        rec.ruf,
        unauthorised,
    )


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def audit_dkim(resolver: Resolver, domain: str, selector: str) -> DkimKey:
    """Whether ``selector`` publishes a key for ``domain``, its type and size."""
    answer, texts, error = _txt(resolver, f"{selector}._domainkey.{domain}")
    if answer is None:
        return DkimKey(selector, False, error=error)
    if not texts:
        return DkimKey(selector, False, error="no key record")
    tags = _tags(texts[0])
    kind = tags.get("k", "rsa").lower()
    data = re.sub(r"\s+", "", tags.get("p", ""))
    if not data:
        return DkimKey(selector, True, kind, revoked=True)
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        return DkimKey(selector, True, kind, error="p= is not base64")
    if kind == "ed25519":
        return DkimKey(selector, True, kind, len(raw) * 8)
    try:
        key = load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm):
        return DkimKey(selector, True, kind, error="p= is not a public key")
    if not isinstance(key, rsa.RSAPublicKey):
        return DkimKey(selector, True, kind, error="k=rsa but the key is not RSA")
    return DkimKey(selector, True, kind, key.key_size)


def _tag_record(resolver: Resolver, name: str, version: str, check: str) -> TagRecord:
    _, texts, error = _txt(resolver, name)
    found = [t for t in texts if t.replace(" ", "").startswith(f"v={version}")]
    if not found:
        return TagRecord(error=error)
    if len(found) > 1:
        return TagRecord(found[0], False, "several records")
    tags = _tags(found[0])
    if check == "id" and not _STS_ID.match(tags.get("id", "")):
        return TagRecord(found[0], False, "id= missing or not 1-32 letters and digits")
    if check == "rua":
        uris = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
        if not uris or not all(u.startswith(("mailto:", "https:")) for u in uris):
            return TagRecord(found[0], False, "rua= missing or not mailto:/https:")
    return TagRecord(found[0], True)


def audit_bimi(resolver: Resolver, domain: str, selector: str = "default") -> TagRecord:
    _, texts, error = _txt(resolver, f"{selector}._bimi.{domain}")
    found = [t for t in texts if t.replace(" ", "").lower().startswith("v=bimi1")]
    if not found:
        return TagRecord(error=error)
    try:
        parse_bimi_record(found[0])
    except BimiRecordError as exc:
        return TagRecord(found[0], False, str(exc))
    return TagRecord(found[0], True)


def audit(resolver: Resolver, domain: str, selectors: Iterable[str] = ()) -> DomainPosture:
    """Every check for one domain, with findings in both languages."""
    domain = domain.strip().rstrip(".").lower()
    spf = audit_spf(resolver, domain)
    dmarc = audit_dmarc(resolver, domain)
    dkim = tuple(audit_dkim(resolver, domain, s) for s in selectors)
    posture = DomainPosture(
        domain,
        spf,
        dmarc,
        dkim,
        _tag_record(resolver, f"_mta-sts.{domain}", "STSv1", "id"),
        _tag_record(resolver, f"_smtp._tls.{domain}", "TLSRPTv1", "rua"),
        audit_bimi(resolver, domain),
    )
    return replace(posture, findings=tuple(findings(posture)))


def findings(p: DomainPosture) -> list[Finding]:
    """What an operator should fix, most serious first."""
    out: list[Finding] = []
    if not p.spf.valid:
        out.append(
            Finding(
                "SPF_INVALID",
                "error",
                f"SPF が無効です: {p.spf.error}",
                f"SPF is not valid: {p.spf.error}",
            )
        )
    elif p.spf.all_qualifier == "+":
        out.append(Finding("SPF_PASS_ALL", "error", "SPF が +all です。", "SPF ends in +all."))
    if p.spf.record and re.search(r"(^|\s)[+\-~?]?ptr\b", p.spf.record, re.IGNORECASE):
        out.append(
            Finding(
                "SPF_PTR_USED",
                "warning",
                "SPF の ptr は非推奨です (RFC 7208 5.5)。",
                "SPF ptr is deprecated (RFC 7208 section 5.5).",
            )
        )
    if p.dmarc.state != "found":
        out.append(
            Finding(
                f"DMARC_{p.dmarc.state.upper()}",
                "error",
                f"DMARC レコードがありません、または無効です ({p.dmarc.state})。",
                f"DMARC record {p.dmarc.state}.",
            )
        )
    elif p.dmarc.testing and p.dmarc.p in ENFORCING:
        out.append(
            Finding(
                "DMARC_TESTING_MODE",
                "warning",
                f"DMARC は p={p.dmarc.p} ですが t=y (テストモード) のため一段緩く扱われます。",
                f"DMARC p={p.dmarc.p} with t=y (testing): receivers apply one step less.",
            )
        )
    elif not p.dmarc.enforcing:
        out.append(
            Finding(
                "DMARC_NOT_ENFORCING",
                "warning",
                "DMARC が quarantine/reject ではありません。",
                "DMARC is not at quarantine or reject.",
            )
        )
    for uri in p.dmarc.unauthorised:
        out.append(
            Finding(
                "DMARC_REPORT_DESTINATION_UNAUTHORISED",
                "warning",
                f"外部レポート送付先 {uri} が承認レコードを公開していません。",
                f"External report destination {uri} publishes no authorisation record.",
            )
        )
    for key in p.dkim:
        if not key.found or key.error or key.revoked:
            problem = key.error or ("revoked" if key.revoked else "missing")
            out.append(
                Finding(
                    "DKIM_KEY_UNUSABLE",
                    "error",
                    f"DKIM セレクタ {key.selector}: {problem}",
                    f"DKIM selector {key.selector}: {problem}",
                )
            )
        elif key.key_type == "rsa" and key.bits < 2048:
            out.append(
                Finding(
                    "DKIM_KEY_WEAK",
                    "warning" if key.bits >= 1024 else "error",
                    f"DKIM セレクタ {key.selector} の RSA 鍵は {key.bits} ビットです。",
                    f"DKIM selector {key.selector} has a {key.bits}-bit RSA key.",
                )
            )
    for label, rec in (("MTA-STS", p.mta_sts), ("TLS-RPT", p.tls_rpt), ("BIMI", p.bimi)):
        if rec.record and not rec.valid:
            code = label.replace("-", "_") + "_INVALID"
            out.append(
                Finding(
                    code,
                    "warning",
                    f"{label} レコードが無効です: {rec.error}",
                    f"{label} record invalid: {rec.error}",
                )
            )
    if p.bimi.valid and not p.dmarc.enforcing:
        out.append(
            Finding(
                "BIMI_WITHOUT_ENFORCEMENT",
                "warning",
                "BIMI には DMARC の quarantine/reject が必要です。",
                "BIMI needs DMARC at quarantine or reject.",
            )
        )
    return out


def summarise(postures: Sequence[DomainPosture]) -> PostureSummary:
    """Counts by DMARC policy and the share at enforcement (the report's Nikkei 225 figure)."""
    counts: dict[str, int] = {}
    for p in postures:
        if p.dmarc.state != "found":
            key = p.dmarc.state
        else:
            key = (p.dmarc.policy or "no-p") + ("+t" if p.dmarc.testing else "")
        counts[key] = counts.get(key, 0) + 1
    order = ["reject", "quarantine", "reject+t", "quarantine+t", "none", "no-p"]
    order += ["absent", "invalid", "temperror"]
    order += sorted(k for k in counts if k not in order)
    by_policy = tuple((k, counts[k]) for k in order if k in counts)
    return PostureSummary(
        len(postures),
        sum(1 for p in postures if p.dmarc.enforcing),
        by_policy,
        sum(1 for p in postures if p.spf.valid),
    )
