"""DMARC aggregate reports (RFC 9990): rows in, validated and gzipped XML out.

Pure: one ``DmarcResultRow`` per evaluated message (the store keeps them), grouped
per policy domain and per identical outcome into ``<record>`` elements with a count.
The XML is checked against the bundled RFC 9990 schema before it may leave.
"""

from __future__ import annotations

import gzip
import ipaddress
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from carrierguard.errors import CarrierGuardError
from carrierguard.mail.auth.check import AuthReport, Envelope
from carrierguard.mail.auth.dkim import DkimSignatureResult

NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
GENERATOR = "CarrierGuard"
# RFC 9990 section 2.1, "DKIM Signatures in Aggregate Reports" (same text in drafts -24
# to -30): a row should carry at most this many DKIM results, the most useful first.
MAX_DKIM_PER_ROW = 100
# human_result is free text for the Domain Owner; RFC 9990 asks that such text stay
# terse (Operational Considerations), and it comes from third-party input.
MAX_HUMAN_RESULT = 200


class ReportInvalid(CarrierGuardError):
    """A report we built does not validate against the RFC 9990 schema (a bug: never sent)."""

    code = "DMARC_REPORT_INVALID"
    default_ja = "DMARC 集約レポートがスキーマに適合しません。"


@dataclass(frozen=True, slots=True)
class DmarcResultRow:
    """One message's DMARC evaluation, as aggregate reports need it."""

    received_at: datetime
    source_ip: str
    header_from: str
    envelope_from: str
    envelope_to: str
    policy_domain: str
    p: str
    sp: str | None
    np: str | None
    adkim: str
    aspf: str
    testing: bool
    fo: str
    rua: tuple[str, ...]
    ruf: tuple[str, ...]
    dmarc_result: str
    disposition: str
    dkim_aligned: bool
    spf_aligned: bool
    override: str
    dkim: tuple[tuple[str, str, str], ...]  # (domain, selector, result)
    spf_domain: str
    spf_scope: str
    spf_result: str
    # Why a check ended in an error, for human_result: one entry per ``dkim`` entry ("" for
    # none), and one for SPF. Only set for temperror/permerror, whose text describes the
    # domain's DNS or signature, never the sender. The store does not keep these yet.
    dkim_detail: tuple[str, ...] = ()
    spf_detail: str = ""

    def outcome_key(self) -> tuple[Any, ...]:
        """What makes two messages the same ``<record>``."""
        return (
            self.source_ip,
            self.report_disposition,
            self.dkim_aligned,
            self.spf_aligned,
            self.override,
            self.header_from,
            self.envelope_from,
            self.envelope_to,
            self.reported_dkim(),
            self.spf_domain,
            self.spf_scope,
            self.spf_result,
            self.spf_detail,
        )

    def reported_dkim(self) -> tuple[tuple[str, str, str, str], ...]:
        """(domain, selector, result, detail) of the signatures the row reports.

        RFC 9990 section 2.1 ("DKIM Signatures in Aggregate Reports") ranks signatures
        for a report: passing and strictly aligned with the From domain, then passing
        and relaxed-aligned, then any other pass, then those that did not pass; and a
        row should hold no more than 100 of them, best first. Strict alignment and
        pass are decided here; ``row_from_report`` already put relaxed-aligned passes
        before other passes (that needs the Organizational Domain), and the stable sort
        keeps that order.
        """
        details = self.dkim_detail if len(self.dkim_detail) == len(self.dkim) else ()
        entries = [
            (domain, selector, result, details[i] if details else "")
            for i, (domain, selector, result) in enumerate(self.dkim)
        ]
        author = self.header_from.lower().rstrip(".")

        def rank(entry: tuple[str, str, str, str]) -> int:
            if entry[2] != "pass":
                return 2
            return 0 if entry[0].lower().rstrip(".") == author else 1

        return tuple(sorted(entries, key=rank)[:MAX_DKIM_PER_ROW])

    @property
    def report_disposition(self) -> str:
        """RFC 9990 ActionDispositionType: "pass" for a pass under an enforcing policy."""
        if self.dmarc_result == "pass" and self.p != "none":
            return "pass"
        return self.disposition


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def _detail(result: str, text: str) -> str:
    """Text for human_result: only for errors, one line, bounded."""
    if result not in ("temperror", "permerror"):
        return ""
    line = " ".join(text.split())
    return line if len(line) <= MAX_HUMAN_RESULT else line[: MAX_HUMAN_RESULT - 1] + "…"


def _dkim_in_report_order(
    signatures: Sequence[DkimSignatureResult], author: str, org_domain: str
) -> list[DkimSignatureResult]:
    """RFC 9990 section 2.1 order: strict-aligned pass, relaxed-aligned pass, other pass, rest.

    Relaxed alignment is "at or below the author's Organizational Domain", the domain
    DMARC evaluation found; the stable sort keeps verification order within a rank.
    """
    author = author.lower().rstrip(".")
    org = org_domain.lower().rstrip(".")

    def rank(sig: DkimSignatureResult) -> int:
        domain = sig.domain.lower().rstrip(".")
        if sig.result != "pass":
            return 3
        if domain == author:
            return 0
        if org and (domain == org or domain.endswith("." + org)):
            return 1
        return 2

    return sorted(signatures, key=rank)


def row_from_report(envelope: Envelope, report: AuthReport, now: datetime) -> DmarcResultRow | None:
    """The row to store for a message, or None when no DMARC policy applied (nothing to report)."""
    dmarc = report.dmarc
    record = dmarc.record
    if record is None or not envelope.ip or dmarc.result not in ("pass", "fail"):
        return None
    spf = report.spf
    signatures = _dkim_in_report_order(report.dkim, dmarc.header_from, dmarc.org_domain)
    return DmarcResultRow(
        received_at=now,
        source_ip=envelope.ip,
        header_from=dmarc.header_from,
        envelope_from=spf.domain if spf else _domain(envelope.mail_from),
        envelope_to=_domain(envelope.recipients[0]) if envelope.recipients else "",
        policy_domain=dmarc.policy_domain,
        p=record.p,
        sp=record.sp,
        np=record.np,
        adkim=record.adkim,
        aspf=record.aspf,
        testing=record.t,
        fo=":".join(record.fo),
        rua=record.rua,
        ruf=record.ruf,
        dmarc_result=dmarc.result,
        disposition=dmarc.disposition,
        dkim_aligned=dmarc.dkim_aligned,
        spf_aligned=dmarc.spf_aligned,
        override=dmarc.override or ("policy_test_mode" if dmarc.testing else ""),
        dkim=tuple((s.domain, s.selector, s.result) for s in signatures),
        spf_domain=spf.domain if spf else "",
        # RFC 9990 knows one SPF scope, "mfrom": with a null reverse-path the MAIL FROM
        # identity is postmaster@<HELO> (RFC 7208 section 2.4), which is what was checked.
        spf_scope="mfrom" if spf else "",
        spf_result=spf.result if spf else "none",
        dkim_detail=tuple(_detail(s.result, s.reason) for s in signatures),
        # Only the error texts of the SPF library: for fail/softfail/neutral its
        # explanation is the domain's exp= text, macro-expanded with the sender's address.
        spf_detail=_detail(spf.result, spf.explanation) if spf else "",
    )


@dataclass(frozen=True, slots=True)
class ReportMetadata:
    """Who reports, for which period, under which id."""

    org_name: str
    email: str
    report_id: str
    begin: int
    end: int
    extra_contact_info: str = ""
    error: str = ""  # RFC 9990 report_metadata/error: problems with the DMARC Policy Record


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    if text is not None:
        element.text = text
    return element


def build_feedback(meta: ReportMetadata, rows: Sequence[DmarcResultRow]) -> bytes:
    """The RFC 9990 XML for one policy domain's rows (all rows must share it)."""
    if not rows:
        raise ValueError("an aggregate report needs at least one row")
    domains = {r.policy_domain for r in rows}
    if len(domains) != 1:
        raise ValueError(f"rows for several policy domains: {sorted(domains)}")
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(f"{{{NAMESPACE}}}feedback")
    _sub(root, "version", "1.0")
    metadata = _sub(root, "report_metadata")
    _sub(metadata, "org_name", meta.org_name)
    _sub(metadata, "email", meta.email)
    if meta.extra_contact_info:
        _sub(metadata, "extra_contact_info", meta.extra_contact_info)
    _sub(metadata, "report_id", meta.report_id)
    date_range = _sub(metadata, "date_range")
    _sub(date_range, "begin", str(meta.begin))
    _sub(date_range, "end", str(meta.end))
    if meta.error:
        _sub(metadata, "error", meta.error)
    _sub(metadata, "generator", GENERATOR)

    # policy_published and identifiers are xs:all in RFC 9990; we write them in the order of
    # the RFC's tables all the same.
    latest = max(rows, key=lambda r: r.received_at)
    policy = _sub(root, "policy_published")
    _sub(policy, "domain", latest.policy_domain)
    _sub(policy, "discovery_method", "treewalk")
    _sub(policy, "p", latest.p)
    if latest.sp:
        _sub(policy, "sp", latest.sp)
    if latest.np:
        _sub(policy, "np", latest.np)
    _sub(policy, "fo", latest.fo or "0")
    _sub(policy, "adkim", latest.adkim)
    _sub(policy, "aspf", latest.aspf)
    _sub(policy, "testing", "y" if latest.testing else "n")

    counts = Counter(r.outcome_key() for r in rows)
    first: dict[tuple[Any, ...], DmarcResultRow] = {}
    for row in rows:
        first.setdefault(row.outcome_key(), row)
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        _record(root, first[key], count)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _record(root: ET.Element, row: DmarcResultRow, count: int) -> None:
    record = _sub(root, "record")
    xml_row = _sub(record, "row")
    _sub(xml_row, "source_ip", row.source_ip)
    _sub(xml_row, "count", str(count))
    evaluated = _sub(xml_row, "policy_evaluated")
    _sub(evaluated, "disposition", row.report_disposition)
    _sub(evaluated, "dkim", "pass" if row.dkim_aligned else "fail")
    _sub(evaluated, "spf", "pass" if row.spf_aligned else "fail")
    if row.override:
        reason = _sub(evaluated, "reason")
        _sub(reason, "type", row.override)
    identifiers = _sub(record, "identifiers")
    _sub(identifiers, "header_from", row.header_from)
    if row.envelope_from:
        _sub(identifiers, "envelope_from", row.envelope_from)
    if row.envelope_to:
        _sub(identifiers, "envelope_to", row.envelope_to)
    auth = _sub(record, "auth_results")
    for domain, selector, result, detail in row.reported_dkim():
        dkim = _sub(auth, "dkim")
        _sub(dkim, "domain", domain)
        _sub(dkim, "selector", selector)
        _sub(dkim, "result", result)
        if detail:
            _sub(dkim, "human_result", detail)
    if row.spf_domain:
        spf = _sub(auth, "spf")
        _sub(spf, "domain", row.spf_domain)
        _sub(spf, "scope", "mfrom")  # the only SPFDomainScope of RFC 9990 (older rows: "helo")
        _sub(spf, "result", row.spf_result)
        if row.spf_detail:
            _sub(spf, "human_result", row.spf_detail)


_SCHEMA: Any = None


def schema() -> Any:
    """The bundled RFC 9990 schema (loaded once)."""
    global _SCHEMA
    if _SCHEMA is None:
        import xmlschema

        source = resources.files("carrierguard.mail.reports").joinpath("rfc9990.xsd")
        _SCHEMA = xmlschema.XMLSchema(source.read_text(encoding="utf-8"))
    return _SCHEMA


def validate(xml: bytes) -> None:
    """Raise ``ReportInvalid`` unless ``xml`` conforms to RFC 9990.

    The Appendix A schema first, then what the RFC's prose requires and the schema leaves
    open: ``version`` is 1.0 when present, and every ``source_ip`` is an IPv4 or IPv6
    address (RFC 3986 section 3.2.2 IPv4address / IPv6address).
    """
    text = xml.decode("utf-8")
    errors = list(schema().iter_errors(text))
    if errors:
        raise ReportInvalid(f"aggregate report invalid: {errors[0].reason}")
    root = ET.fromstring(xml)
    version = root.find(f"{{{NAMESPACE}}}version")
    if version is not None and Decimal((version.text or "").strip()) != Decimal("1.0"):
        raise ReportInvalid(f"aggregate report invalid: version {version.text!r} is not 1.0")
    for source_ip in root.iterfind(
        f"{{{NAMESPACE}}}record/{{{NAMESPACE}}}row/{{{NAMESPACE}}}source_ip"
    ):
        value = (source_ip.text or "").strip()
        try:
            if "%" in value:  # a zone index is no part of RFC 3986's IPv6address
                raise ValueError(value)
            ipaddress.ip_address(value)
        except ValueError:
            raise ReportInvalid(
                f"aggregate report invalid: source_ip {value!r} is not an IP address"
            ) from None


def report_filename(receiver: str, meta: ReportMetadata, policy_domain: str) -> str:
    """RFC 9990 file name: receiver!policy-domain!begin!end!unique-id.xml.gz."""
    return f"{receiver}!{policy_domain}!{meta.begin}!{meta.end}!{meta.report_id}.xml.gz"


def gzipped(xml: bytes) -> bytes:
    return gzip.compress(xml, mtime=0)


def by_policy_domain(rows: Iterable[DmarcResultRow]) -> dict[str, list[DmarcResultRow]]:
    grouped: dict[str, list[DmarcResultRow]] = {}
    for row in rows:
        grouped.setdefault(row.policy_domain, []).append(row)
    return grouped
