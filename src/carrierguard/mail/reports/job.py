"""The aggregate-report job: rows of a period -> one validated, gzipped report per policy
domain -> mail to each confirmed ``rua`` destination. The CLI drives it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from carrierguard.errors import CarrierGuardError
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
from carrierguard.mail.reports.delivery import (
    DEFAULT_MAX_REPORT_BYTES,
    aggregate_message,
    destinations,
    send,
    smallest_limit,
    uri_problems,
)

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


# A URI's RFC 7489 "!size" limit is honoured by splitting only down to this size; a
# smaller limit would turn one report into very many mails (that URI is then skipped
# for reports larger than its limit, as RFC 7489 required).
MIN_SPLIT_BYTES = 64 * 1024


class ReportTooLarge(CarrierGuardError):
    """One record alone does not fit the size limit (a limit far below any real report)."""

    code = "DMARC_REPORT_TOO_LARGE"
    default_ja = "DMARC 集約レポートを上限サイズ内に分割できません。"


def build_reports(
    rows: Iterable[DmarcResultRow],
    *,
    org_name: str,
    email: str,
    receiver: str,
    begin: datetime,
    end: datetime,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> list[BuiltReport]:
    """The validated reports per policy domain that asked for them (``rua``).

    A domain's report whose gzipped size exceeds ``max_bytes`` (or the smallest
    ``!size`` of its URIs, not below ``MIN_SPLIT_BYTES``) is split rather than
    dropped: into shorter, non-overlapping periods first (RFC 9990 asks that report
    periods not overlap), and only when one second's rows are still too large, into
    reports of the same period with disjoint records. Each piece has its own
    Report-ID, derived from its period and place, so a re-send keeps its file name.
    """
    out = []
    begin_ts, end_ts = int(begin.timestamp()), int(end.timestamp())
    for domain, group in sorted(by_policy_domain(rows).items()):
        rua = max(group, key=lambda r: r.received_at).rua
        if not rua:
            continue
        limit = max_bytes
        legacy = smallest_limit(rua)
        if legacy is not None:
            limit = min(limit, max(legacy, MIN_SPLIT_BYTES))
        error = uri_problems(rua)
        context = _Context(org_name, email, receiver, domain, error, limit)
        for report in _fit(context, group, begin_ts, end_ts, ""):
            validate(report.xml)
            out.append(replace(report, rua=rua))
    return out


@dataclass(frozen=True, slots=True)
class _Context:
    org_name: str
    email: str
    receiver: str
    domain: str
    error: str
    limit: int


def _build(
    ctx: _Context, rows: list[DmarcResultRow], begin: int, end: int, part: str
) -> BuiltReport:
    """One report for [begin, end); ``part`` tells apart same-period pieces."""
    key = f"{ctx.receiver}|{ctx.domain}|{begin}|{end - 1}" + (f"|{part}" if part else "")
    report_id = hashlib.sha256(key.encode()).hexdigest()[:24]
    meta = ReportMetadata(ctx.org_name, ctx.email, report_id, begin, end - 1, error=ctx.error)
    xml = build_feedback(meta, rows)
    return BuiltReport(
        ctx.domain,
        report_id,
        report_filename(ctx.receiver, meta, ctx.domain),
        xml,
        gzipped(xml),
        (),
        len(rows),
    )


def _fit(
    ctx: _Context, rows: list[DmarcResultRow], begin: int, end: int, part: str
) -> list[BuiltReport]:
    report = _build(ctx, rows, begin, end, part)
    if len(report.payload) <= ctx.limit:
        return [report]
    seconds = {int(r.received_at.timestamp()) for r in rows}
    if len(seconds) > 1:
        middle = (min(seconds) + max(seconds) + 1) // 2
        early = [r for r in rows if int(r.received_at.timestamp()) < middle]
        late = [r for r in rows if int(r.received_at.timestamp()) >= middle]
        return _fit(ctx, early, begin, middle, part) + _fit(ctx, late, middle, end, part)
    keys = sorted({r.outcome_key() for r in rows}, key=str)
    if len(keys) < 2:
        raise ReportTooLarge(
            f"one record of {ctx.domain} exceeds {ctx.limit} bytes",
            message_ja=f"{ctx.domain} のレコード 1 件が {ctx.limit} バイトを超えます",
        )
    first = set(keys[: len(keys) // 2])
    return _fit(ctx, [r for r in rows if r.outcome_key() in first], begin, end, part + "a") + _fit(
        ctx, [r for r in rows if r.outcome_key() not in first], begin, end, part + "b"
    )


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
