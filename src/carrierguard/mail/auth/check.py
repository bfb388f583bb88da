"""Run every authentication check on one message: the driver around the pure DMARC core.

Owns the order of the checks and the DNS questions DMARC needs (the tree walks for
the author domain and for each authenticated identifier). It returns one frozen
``AuthReport``; deciding what to do with the message belongs to ``mail/verdict.py``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from carrierguard.errors import DnsTemporaryFailure, InvalidInput
from carrierguard.mail.auth.author import AuthorDomain, AuthorProblem, author_domain
from carrierguard.mail.auth.dkim import (
    ArcResult,
    DkimSignatureResult,
    verify_arc,
    verify_dkim,
)
from carrierguard.mail.auth.dmarc import (
    ABSENT,
    DmarcEvidence,
    DmarcRecord,
    DmarcRecordError,
    DmarcResult,
    LookupState,
    RecordLookup,
    evaluate,
    tree_walk,
)
from carrierguard.mail.auth.results import authentication_results
from carrierguard.mail.auth.spf import SpfResult, check_spf
from carrierguard.mail.dns import Rcode, Resolver
from carrierguard.mail.message import Message


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the SMTP session told us; ``ip`` None means "not known" (offline checks)."""

    ip: str | None = None
    helo: str = ""
    mail_from: str = ""
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthReport:
    """Every authentication result for one message and the header field that records them."""

    author: AuthorDomain | AuthorProblem
    spf: SpfResult | None
    dkim: tuple[DkimSignatureResult, ...]
    arc: ArcResult
    dmarc: DmarcResult
    authentication_results: str

    @property
    def dkim_summary(self) -> str:
        """One word for all signatures: pass if any passed, else the first one's result."""
        if not self.dkim:
            return "none"
        if any(s.result == "pass" for s in self.dkim):
            return "pass"
        return self.dkim[0].result


def client_ip(text: str) -> str | None:
    """``text`` as a plain IP address, or None when it is none.

    Takes what MTAs write for a client: ``192.0.2.5``, ``[192.0.2.5]``,
    ``IPv6:2001:db8::1``, ``fe80::1%eth0`` (the zone is dropped).
    """
    value = text.strip().removeprefix("[").removesuffix("]")
    if value[:5].lower() == "ipv6:":
        value = value[5:]
    value = value.partition("%")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def checked_ip(text: str) -> str:
    """``client_ip`` for input a person typed (``mail check --ip``): a clear error if bad."""
    ip = client_ip(text)
    if ip is None:
        raise InvalidInput(
            f"--ip {text!r} is not an IPv4 or IPv6 address",
            message_ja=f"--ip {text!r} は IPv4/IPv6 アドレスではありません",
        )
    return ip


def _spf(resolver: Resolver, envelope: Envelope) -> SpfResult | None:
    """SPF for the envelope; an address that is no IP is a permanent error, not a crash."""
    if not envelope.ip:
        return None
    ip = client_ip(envelope.ip)
    if ip is None:
        helo_only = not envelope.mail_from.strip("<> ")
        return SpfResult(
            result="permerror",
            scope="helo" if helo_only else "mailfrom",
            domain=(envelope.helo if helo_only else envelope.mail_from.rpartition("@")[2])
            .strip("<> ")
            .lower(),
            sender=envelope.mail_from,
            explanation=f"client address {envelope.ip!r} is not an IP address",
        )
    return check_spf(resolver, ip=ip, mail_from=envelope.mail_from, helo=envelope.helo)


def fetch_dmarc_record(resolver: Resolver, domain: str) -> RecordLookup:
    """Look up ``_dmarc.<domain>`` and classify what came back."""
    try:
        answer = resolver.query(f"_dmarc.{domain}", "TXT")
    except DnsTemporaryFailure as exc:
        return RecordLookup(LookupState.TEMPERROR, detail=exc.reason)
    texts = [t.decode("utf-8", "replace") for t in answer.txt()]
    candidates = [t for t in texts if t.replace(" ", "").startswith("v=DMARC1")]
    if not candidates:
        return ABSENT
    if len(candidates) > 1:
        return RecordLookup(LookupState.INVALID, detail="several DMARC records")
    try:
        return RecordLookup(LookupState.FOUND, DmarcRecord.parse(candidates[0]))
    except DmarcRecordError as exc:
        return RecordLookup(LookupState.INVALID, detail=str(exc))


def gather_evidence(
    resolver: Resolver,
    author: AuthorDomain,
    spf: SpfResult | None,
    dkim: tuple[DkimSignatureResult, ...],
) -> DmarcEvidence:
    """Walk the tree for the author domain and each identifier that could align."""
    domains = [author.domain]
    if spf is not None and spf.result == "pass" and spf.domain:
        domains.append(spf.domain)
    domains.extend(s.domain for s in dkim if s.result == "pass" and s.domain)
    records: dict[str, RecordLookup] = {}
    for domain in domains:
        for name in tree_walk(domain):
            if name not in records:
                records[name] = fetch_dmarc_record(resolver, name)
    try:
        exists = resolver.query(author.domain, "A").rcode is not Rcode.NXDOMAIN
    except DnsTemporaryFailure:
        exists = True  # unknown: never apply np on a guess
    return DmarcEvidence(records, author_exists=exists)


def authenticate(
    message: Message,
    envelope: Envelope,
    resolver: Resolver,
    *,
    authserv_id: str,
    malformed_from_disposition: str = "reject",
) -> AuthReport:
    """SPF, DKIM, ARC, then DMARC over their results; never raises for DNS trouble."""
    spf = _spf(resolver, envelope)
    dkim = verify_dkim(message, resolver)
    arc = verify_arc(message, resolver)
    author = author_domain(message)
    evidence = (
        gather_evidence(resolver, author, spf, dkim)
        if isinstance(author, AuthorDomain)
        else DmarcEvidence()
    )
    dmarc = evaluate(
        author, spf, dkim, evidence, malformed_from_disposition=malformed_from_disposition
    )
    header = authentication_results(authserv_id, spf=spf, dkim=dkim, arc=arc, dmarc=dmarc)
    return AuthReport(author, spf, dkim, arc, dmarc, header)


def report_to_dict(report: AuthReport) -> dict[str, object]:
    """The JSON shape of ``carrierguard mail check`` (and the ``auth`` part of ``scan``)."""
    dmarc = report.dmarc
    author = report.author
    return {
        "spf": report.spf.result if report.spf is not None else "none",
        "dkim": report.dkim_summary,
        "arc": report.arc.result,
        "dmarc": {
            "result": dmarc.result,
            "policy": dmarc.policy,
            "disposition": dmarc.disposition,
            "header_from": dmarc.header_from,
            "policy_domain": dmarc.policy_domain,
            "org_domain": dmarc.org_domain,
            "spf_aligned": dmarc.spf_aligned,
            "dkim_aligned": dmarc.dkim_aligned,
            "testing": dmarc.testing,
            "override": dmarc.override,
            "reason": dmarc.reason,
        },
        "authentication_results": report.authentication_results,
        "details": {
            "author": (
                {"problem": author.code, "detail": author.detail}
                if isinstance(author, AuthorProblem)
                else {
                    "domain": author.domain,
                    "unicode_domain": author.unicode_domain,
                    "confusable": author.confusable,
                }
            ),
            "spf": (
                None
                if report.spf is None
                else {
                    "result": report.spf.result,
                    "scope": report.spf.scope,
                    "domain": report.spf.domain,
                    "explanation": report.spf.explanation,
                }
            ),
            "dkim": [
                {
                    "result": s.result,
                    "domain": s.domain,
                    "selector": s.selector,
                    "algorithm": s.algorithm,
                    "body_length": s.body_length,
                    "body_fully_signed": s.body_fully_signed,
                    "reason": s.reason,
                }
                for s in report.dkim
            ],
            "arc": {
                "result": report.arc.result,
                "instances": report.arc.instances,
                "sealers": list(report.arc.sealers),
                "reason": report.arc.reason,
            },
        },
    }
