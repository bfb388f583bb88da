"""SPF (RFC 7208) through pyspf, with every DNS lookup going to our ``Resolver``.

pyspf looks DNS up through its module-level ``DNSLookup`` function. We install one
dispatcher there, once, which reads the resolver of the current check from a
``ContextVar``; so concurrent checks (threads or asyncio tasks) each use their own
resolver and pyspf's record selection, macro expansion and limits stay untouched.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass

import spf

from carrierguard.errors import DnsTemporaryFailure
from carrierguard.mail.dns import Address, Mx, Resolver, Target, Txt

SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
# RFC 7208 section 4.6.4: at most 20 seconds for the whole evaluation.
DEFAULT_QUERY_TIME = 20.0

_current: ContextVar[Resolver | None] = ContextVar("spf_resolver", default=None)
_install_lock = threading.Lock()
_installed = False

PyspfRecord = tuple[tuple[str, str], object]


@dataclass(frozen=True, slots=True)
class SpfResult:
    """The SPF verdict for one identity (``mailfrom`` or ``helo``)."""

    result: str
    scope: str
    domain: str
    sender: str
    explanation: str = ""

    def __post_init__(self) -> None:
        if self.result not in SPF_RESULTS:
            raise ValueError(f"unknown SPF result {self.result!r}")
        if self.scope not in ("mailfrom", "helo"):
            raise ValueError(f"unknown SPF scope {self.scope!r}")


def _lookup(
    name: str, qtype: str, strict: object = True, timeout: object = None
) -> list[PyspfRecord]:
    """pyspf's ``DNSLookup`` contract: ``[((name, type), value), ...]``; TempError on failure."""
    resolver = _current.get()
    if resolver is None:
        raise spf.TempError("DNS: no resolver bound to this SPF check")
    try:
        answer = resolver.query(name, qtype)
    except DnsTemporaryFailure as exc:
        raise spf.TempError(f"DNS {exc.reason}") from exc
    out: list[PyspfRecord] = []
    for record in answer.records:
        value: object
        if isinstance(record, Txt):
            value = list(record.strings)
        elif isinstance(record, Address):
            value = record.address
        elif isinstance(record, Mx):
            value = (record.preference, record.exchange)
        elif isinstance(record, Target):
            value = record.name
        else:  # pragma: no cover - the union is closed
            continue
        out.append(((name, qtype), value))
    return out


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            spf.DNSLookup = _lookup
            _installed = True


def check_spf(
    resolver: Resolver,
    *,
    ip: str,
    mail_from: str,
    helo: str,
    receiver: str = "unknown",
    query_time: float = DEFAULT_QUERY_TIME,
) -> SpfResult:
    """Evaluate SPF for the MAIL FROM identity, or for HELO when the reverse-path is null."""
    _install()
    token = _current.set(resolver)
    try:
        query = spf.query(
            i=ip, s=mail_from, h=helo, receiver=receiver, timeout=query_time, querytime=0
        )
        result, _code, explanation = query.check()
    finally:
        _current.reset(token)
    domain = str(query.o or "")
    return SpfResult(
        result=str(result),
        scope="helo" if query.ident == "helo" else "mailfrom",
        domain=domain.lower(),
        sender=str(query.s),
        explanation=str(explanation or ""),
    )
