"""DKIM (RFC 6376, RFC 8463) and ARC (RFC 8617) verification through dkimpy and our resolver.

dkimpy does the cryptography; this module asks it one signature at a time, turns
its booleans and exceptions into RFC 8601 result words, and records what DMARC
needs to judge each signature (``d=``, and whether ``l=`` left body unsigned).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import dkim
from dkim.canonicalization import CanonicalizationPolicy

from carrierguard.errors import DnsTemporaryFailure
from carrierguard.mail.dns import Resolver, txt_lookup
from carrierguard.mail.message import Message

_QUIET = logging.getLogger("carrierguard.mail.dkim")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_TAG = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9_]*)\s*=\s*([^;]*)")
MIN_RSA_BITS = 1024


@dataclass(frozen=True, slots=True)
class DkimSignatureResult:
    """The outcome of one DKIM-Signature field, in RFC 8601 words."""

    result: str  # pass | fail | neutral | temperror | permerror
    domain: str
    selector: str
    algorithm: str = ""
    identity: str = ""
    body_length: int | None = None
    body_fully_signed: bool = True
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ArcResult:
    """The ARC chain validation status (``cv``) and who sealed each hop."""

    result: str  # pass | fail | none
    instances: int = 0
    sealers: tuple[str, ...] = ()  # d= of ARC-Seal i=1..N
    reason: str = ""
    last_aar: str = ""  # the ARC-Authentication-Results value of instance N

    @property
    def last_sealer(self) -> str:
        return self.sealers[-1] if self.sealers else ""


def tags(value: str) -> dict[str, str]:
    """Parse a tag-list (DKIM, ARC, DMARC style) into a dict; later tags do not override."""
    found: dict[str, str] = {}
    for part in value.split(";"):
        match = _TAG.match(part)
        if match:
            found.setdefault(match.group(1).lower(), re.sub(r"\s+", "", match.group(2)))
    return found


def verify_dkim(message: Message, resolver: Resolver) -> tuple[DkimSignatureResult, ...]:
    """Verify every DKIM-Signature of ``message``, topmost first."""
    signatures = message.get_all("DKIM-Signature")
    if not signatures:
        return ()
    verifier = dkim.DKIM(message.raw, logger=_QUIET, minkey=MIN_RSA_BITS)
    dnsfunc = txt_lookup(resolver)
    out: list[DkimSignatureResult] = []
    for index, value in enumerate(signatures):
        sig = tags(value)
        length, complete = _body_coverage(message, sig)
        base = DkimSignatureResult(
            "fail",
            domain=sig.get("d", "").lower(),
            selector=sig.get("s", ""),
            algorithm=sig.get("a", ""),
            identity=sig.get("i", ""),
            body_length=length,
            body_fully_signed=complete,
        )
        try:
            ok = verifier.verify(idx=index, dnsfunc=dnsfunc)
        except DnsTemporaryFailure as exc:
            out.append(replace(base, result="temperror", reason=exc.reason))
            continue
        except dkim.DKIMException as exc:
            out.append(replace(base, result="permerror", reason=str(exc)))
            continue
        out.append(replace(base, result="pass" if ok else "fail"))
    return tuple(out)


def _body_coverage(message: Message, sig: dict[str, str]) -> tuple[int | None, bool]:
    """The ``l=`` value and whether it covers the whole canonicalised body."""
    if "l" not in sig:
        return None, True
    try:
        length = int(sig["l"])
        policy = CanonicalizationPolicy.from_c_value(sig.get("c", "simple/simple").encode())
    except (ValueError, dkim.DKIMException):
        return None, False
    body = policy.canonicalize_body(message.body)
    return length, length >= len(body)


def verify_arc(message: Message, resolver: Resolver) -> ArcResult:
    """Validate the ARC chain; a chain whose last seal reported failure is ``fail``."""
    arc_fields = ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")
    if not any(f.name.lower() in (a.lower() for a in arc_fields) for f in message.headers):
        # dkimpy would say the same after parsing the whole message again.
        return ArcResult("none", reason="Message is not ARC signed")
    seals = message.get_all("ARC-Seal")
    sealers: dict[int, str] = {}
    for value in seals:
        seal = tags(value)
        try:
            sealers[int(seal.get("i", "0"))] = seal.get("d", "").lower()
        except ValueError:
            continue
    ordered = tuple(sealers[i] for i in sorted(sealers))
    aars: dict[int, str] = {}
    for value in message.get_all("ARC-Authentication-Results"):
        instance = re.match(r"\s*i\s*=\s*(\d+)\s*;", value)
        if instance:
            aars.setdefault(int(instance.group(1)), value)
    last_aar = aars.get(max(sealers), "") if sealers else ""
    try:
        cv, _results, reason = dkim.arc_verify(
            message.raw, logger=_QUIET, dnsfunc=txt_lookup(resolver), minkey=MIN_RSA_BITS
        )
    except DnsTemporaryFailure as exc:
        return ArcResult("fail", len(ordered), ordered, f"temperror: {exc.reason}")
    except dkim.DKIMException as exc:
        return ArcResult("fail", len(ordered), ordered, str(exc))
    word = cv.decode("ascii") if isinstance(cv, bytes) else "fail"
    return ArcResult(word, len(ordered), ordered, str(reason), last_aar)
