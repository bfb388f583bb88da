"""Authentication-Results header fields (RFC 8601): writing ours, spotting forged ones.

Pure text in, text out. The value is folded one method per line so that Postfix
and mail readers show it legibly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from carrierguard.mail.auth.dkim import ArcResult, DkimSignatureResult
from carrierguard.mail.auth.dmarc import DmarcResult
from carrierguard.mail.auth.spf import SpfResult

_UNSAFE = re.compile(r"[^\x21-\x7e]|[;()\"\\]")


def _value(text: str) -> str:
    """A property value: as-is when it is a token, quoted otherwise."""
    if text and not _UNSAFE.search(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _comment(text: str) -> str:
    cleaned = re.sub(r"[()\\\r\n]", " ", text).strip()
    return f" ({cleaned[:120]})" if cleaned else ""


def spf_clause(spf: SpfResult | None) -> str:
    if spf is None:
        return "spf=none"
    if spf.scope == "helo":
        return f"spf={spf.result} smtp.helo={_value(spf.domain)}"
    return f"spf={spf.result} smtp.mailfrom={_value(spf.sender)}"


def dkim_clauses(signatures: Sequence[DkimSignatureResult]) -> list[str]:
    if not signatures:
        return ["dkim=none"]
    clauses = []
    for sig in signatures:
        note = sig.reason
        if sig.body_length is not None and not sig.body_fully_signed:
            note = f"l={sig.body_length} leaves body unsigned"
        clause = f"dkim={sig.result}{_comment(note)} header.d={_value(sig.domain)}"
        if sig.selector:
            clause += f" header.s={_value(sig.selector)}"
        if sig.algorithm:
            clause += f" header.a={_value(sig.algorithm)}"
        clauses.append(clause)
    return clauses


def arc_clause(arc: ArcResult) -> str:
    if arc.result == "fail":
        return f"arc=fail{_comment(arc.reason)}"
    if arc.sealers:
        return f"arc={arc.result}{_comment(f'i={arc.instances} sealer={arc.last_sealer}')}"
    return f"arc={arc.result}"


def dmarc_clause(dmarc: DmarcResult) -> str:
    notes = [f"p={dmarc.policy}", f"dis={dmarc.disposition}"]
    if dmarc.testing:
        notes.append("t=y")
    if dmarc.override:
        notes.append(f"override={dmarc.override}")
    if dmarc.reason:
        notes.append(dmarc.reason)
    clause = f"dmarc={dmarc.result}{_comment(' '.join(notes))}"
    clause += f" header.from={_value(dmarc.header_from or 'none')}"
    if dmarc.record is not None:
        clause += f" policy.dmarc={dmarc.policy}"
    return clause


def authentication_results(
    authserv_id: str,
    *,
    spf: SpfResult | None,
    dkim: Sequence[DkimSignatureResult],
    arc: ArcResult,
    dmarc: DmarcResult,
    fold: str = " ",
) -> str:
    """The value (without the field name) of our Authentication-Results field.

    ``fold`` goes after each ``;``: a space for one line, ``"\n\t"`` for a milter.
    """
    clauses = [spf_clause(spf), *dkim_clauses(dkim), arc_clause(arc), dmarc_clause(dmarc)]
    return (";" + fold).join([authserv_id, *clauses])


@dataclass(frozen=True, slots=True)
class ResultInfo:
    """One ``method=result`` clause read from someone else's A-R or AAR field."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        return next((v for k, v in self.properties if k == name), "")


def _strip_comments(value: str) -> str:
    """Remove (nested) comments outside quoted strings; raise ValueError if unbalanced."""
    out: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and (quoted or depth):
            i += 2
            continue
        if quoted:
            out.append(c)
            quoted = c != '"'
        elif c == '"' and not depth:
            out.append(c)
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            if not depth:
                raise ValueError("')' without '('")
            depth -= 1
            out.append(" ")
        elif not depth:
            out.append(c)
        i += 1
    if depth or quoted:
        raise ValueError("unclosed comment or quoted string")
    return "".join(out)


def _split_outside_quotes(value: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for c in value:
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def read_results(value: str) -> tuple[str, list[ResultInfo]]:
    """The authserv-id and result clauses of an RFC 8601 value (ARC's ``i=`` prefix allowed).

    Strict on purpose (CVE-2020-12272): comments are removed before anything is
    read, so ``header.d=bank.example(.evil.example`` cannot smuggle a domain in;
    a value that does not parse gives no clauses at all.
    """
    try:
        parts = [p.strip() for p in _split_outside_quotes(_strip_comments(value), ";")]
    except ValueError:
        return "", []
    if parts and re.fullmatch(r"i\s*=\s*\d+", parts[0]):
        parts = parts[1:]
    if not parts or not parts[0]:
        return "", []
    authserv = parts[0].split()[0].lower()
    clauses = []
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        props = []
        for word in words[1:]:
            name, eq, prop = word.partition("=")
            if eq and "." in name:
                props.append((name.lower(), prop.strip('"').lower()))
        clauses.append(ResultInfo(method.lower(), result.lower(), tuple(props)))
    return authserv, clauses


def authserv_id_of(value: str) -> str:
    """The authserv-id of an Authentication-Results value (its first token), lower-cased.

    Falls back to a lenient read so that even a malformed field claiming our name
    is recognised (and deleted by the milter).
    """
    strict = read_results(value)[0]
    if strict:
        return strict
    head = re.sub(r"\([^)]*\)?", " ", value.split(";", 1)[0]).strip()
    return head.split()[0].lower() if head else ""
