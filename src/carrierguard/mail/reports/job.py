"""The aggregate-report job: rows of a period -> one validated, gzipped report per policy
domain -> mail to each confirmed ``rua`` destination. The CLI drives it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog

from carrierguard.mail.dns import Resolver
from carrierguard.mail.reports.aggregate import (
    DmarcResultRow,
    ReportMetadata,
    build_feedback,
    by_policy_domain,
    gzipped,
    report_filename,
    validate,
)
from carrierguard.mail.reports.delivery import aggregate_message, destinations, send

log = structlog.get_logger("carrierguard.mail.reports")


@dataclass(frozen=True, slots=True)
class BuiltReport:
    policy_domain: str
    report_id: str
    filename: str
    xml: bytes
    payload: bytes
    rua: tuple[str, ...]
    messages: int


def build_reports(
    rows: Iterable[DmarcResultRow],
    *,
    org_name: str,
    email: str,
    receiver: str,
    begin: datetime,
    end: datetime,
) -> list[BuiltReport]:
    """One report per policy domain that asked for reports (``rua``), validated."""
    out = []
    begin_ts, end_ts = int(begin.timestamp()), int(end.timestamp()) - 1
    for domain, group in sorted(by_policy_domain(rows).items()):
        rua = max(group, key=lambda r: r.received_at).rua
        if not rua:
            continue
        digest = hashlib.sha256(f"{receiver}|{domain}|{begin_ts}|{end_ts}".encode()).hexdigest()
        meta = ReportMetadata(org_name, email, digest[:24], begin_ts, end_ts)
        xml = build_feedback(meta, group)
        validate(xml)
        out.append(
            BuiltReport(
                domain,
                meta.report_id,
                report_filename(receiver, meta, domain),
                xml,
                gzipped(xml),
                rua,
                len(group),
            )
        )
    return out


async def deliver(
    reports: Iterable[BuiltReport],
    resolver: Resolver,
    *,
    sender: str,
    receiver: str,
    smtp_host: str,
    smtp_port: int,
) -> int:
    """Mail each report to its confirmed destinations; returns the number of mails sent."""
    sent = 0
    for report in reports:
        targets = destinations(report.rua, report.policy_domain, resolver, len(report.payload))
        if not targets:
            log.info("dmarc_report_no_destination", domain=report.policy_domain)
            continue
        message = aggregate_message(
            sender=sender,
            receiver=receiver,
            policy_domain=report.policy_domain,
            report_id=report.report_id,
            filename=report.filename,
            payload=report.payload,
            to=[t.address for t in targets],
        )
        await send(message, hostname=smtp_host, port=smtp_port)
        sent += 1
        log.info("dmarc_report_sent", domain=report.policy_domain, to=len(targets))
    return sent
