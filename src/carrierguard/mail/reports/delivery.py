"""Getting DMARC reports to the Domain Owner: rua/ruf URIs, the external-destination
check (RFC 9990 section 3), size limits, the report message, and SMTP via aiosmtplib.

Size limits: RFC 7489 let a URI end in ``!size`` and forbade sending a larger report
there. RFC 9989's URI grammar has no such suffix (a literal "!" must be percent-encoded)
and RFC 9990's delivery rules name no size limit. Records still carry the suffix, so we
read it as before and keep RFC 7489's rule for those URIs; the job splits reports so
they fit (see ``job.build_reports``) instead of dropping them.

Everything but ``send`` is pure or asks only the resolver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from carrierguard.errors import DnsTemporaryFailure
from carrierguard.mail.auth.check import fetch_dmarc_record
from carrierguard.mail.auth.dmarc import (
    DmarcEvidence,
    RecordLookup,
    organizational_domain,
    tree_walk,
)
from carrierguard.mail.dns import Resolver

DEFAULT_MAX_REPORT_BYTES = 10 * 1024 * 1024
_SIZE = re.compile(r"^(\d+)([kmgt]?)$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True, slots=True)
class ReportDestination:
    """One ``mailto:`` report address and the size limit its owner asked for."""

    address: str
    max_bytes: int | None = None

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


def parse_uri(uri: str) -> ReportDestination | None:
    """``mailto:addr[!size]`` -> destination; None for other schemes or garbage."""
    text = uri.strip()
    if not text.lower().startswith("mailto:"):
        return None
    target, _, size = text[7:].partition("!")
    address = target.split("?", 1)[0].strip()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        return None
    limit = None
    match = _SIZE.match(size.strip()) if size else None
    if match:
        limit = int(match.group(1)) * _UNITS[match.group(2).lower()]
    return ReportDestination(address, limit)


def uri_problems(uris: tuple[str, ...]) -> str:
    """The RFC 9990 ``error`` text for a policy's rua URIs we cannot use ("" when none).

    RFC 9990 names an invalid rua among the DMARC Policy Record errors the element is
    for, and asks for terse text; the schema allows one element, so problems are joined.
    """
    problems = []
    for uri in uris:
        if parse_uri(uri) is not None:
            continue
        shown = uri.strip()
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        if shown.lower().startswith("mailto:"):
            problems.append(f"rua URI {shown!r} ignored: not a mail address")
        else:
            problems.append(f"rua URI {shown!r} ignored: only mailto: is supported")
    return "; ".join(problems)


def smallest_limit(uris: tuple[str, ...]) -> int | None:
    """The smallest RFC 7489 ``!size`` limit among ``uris`` (None when none has one)."""
    limits = [d.max_bytes for u in uris if (d := parse_uri(u)) and d.max_bytes is not None]
    return min(limits) if limits else None


def _org(domain: str, resolver: Resolver) -> str:
    records: dict[str, RecordLookup] = {
        n: fetch_dmarc_record(resolver, n) for n in tree_walk(domain)
    }
    return organizational_domain(domain, DmarcEvidence(records))


def authorised(destination: ReportDestination, policy_domain: str, resolver: Resolver) -> bool:
    """RFC 9990 section 3: a destination outside the policy domain's organisation must
    publish ``<policy-domain>._report._dmarc.<destination-host>`` with ``v=DMARC1``."""
    try:
        if _org(destination.domain, resolver) == _org(policy_domain, resolver):
            return True
        answer = resolver.query(f"{policy_domain}._report._dmarc.{destination.domain}", "TXT")
    except DnsTemporaryFailure:
        return False  # unconfirmed: try again with the next report
    return any(t.replace(b" ", b"").startswith(b"v=DMARC1") for t in answer.txt())


def destinations(
    uris: tuple[str, ...],
    policy_domain: str,
    resolver: Resolver,
    size: int,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> list[ReportDestination]:
    """The confirmed destinations that accept a report of ``size`` bytes.

    ``max_bytes`` is our own ceiling; a destination's ``!size`` suffix can only lower it.
    """
    if size > max_bytes:
        return []
    chosen = []
    for uri in uris:
        destination = parse_uri(uri)
        if destination is None:
            continue
        if destination.max_bytes is not None and size > destination.max_bytes:
            continue
        if authorised(destination, policy_domain, resolver):
            chosen.append(destination)
    return chosen


def aggregate_message(
    *,
    sender: str,
    receiver: str,
    policy_domain: str,
    report_id: str,
    filename: str,
    payload: bytes,
    to: list[str],
    now: datetime | None = None,
) -> EmailMessage:
    """The report mail RFC 9990 section 5 describes, with the gzipped XML attached."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = (
        f"Report Domain: {policy_domain} Submitter: {receiver} Report-ID: <{report_id}>"
    )
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=receiver)
    message.set_content(
        f"DMARC aggregate report for {policy_domain} from {receiver}.\n"
        f"{policy_domain} の DMARC 集約レポートです。\n"
    )
    message.add_attachment(payload, maintype="application", subtype="gzip", filename=filename)
    return message


async def send(message: EmailMessage, *, hostname: str, port: int, timeout: float = 60) -> None:
    """Hand a report to an SMTP relay (normally the local MTA)."""
    import aiosmtplib

    await aiosmtplib.send(message, hostname=hostname, port=port, timeout=timeout)
