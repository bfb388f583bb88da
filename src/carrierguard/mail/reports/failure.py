"""DMARC failure reports (RFC 9991) in the ARF format (RFC 5965, RFC 6591).

Sent only when the Domain Owner asks (``ruf`` and ``fo``) *and* local policy
allows: failure reports can carry personal data, so they are off by default and,
when on, carry the header only (RFC 9991 section 4 redaction), never the body.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import structlog

from carrierguard.mail.auth.check import AuthReport, Envelope
from carrierguard.mail.dns import Resolver
from carrierguard.mail.message import Message
from carrierguard.mail.reports.delivery import destinations, send

log = structlog.get_logger("carrierguard.mail.reports")


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureReportPolicy:
    """Local policy for failure reports; disabled unless an operator turns it on."""

    enabled: bool = False
    sender: str = ""
    receiver: str = ""


def requested(fo: tuple[str, ...], report: AuthReport) -> bool:
    """Whether the ``fo`` options ask for a report about this message (RFC 9991 / 9989).

    0: all mechanisms failed to give an aligned pass; 1: any failed; d: DKIM failed;
    s: SPF failed.
    """
    dmarc = report.dmarc
    if dmarc.result != "fail":
        return False
    spf_failed = report.spf is None or report.spf.result != "pass"
    dkim_failed = not any(s.result == "pass" for s in report.dkim)
    for option in fo or ("0",):
        if option == "0" and not (dmarc.spf_aligned or dmarc.dkim_aligned):
            return True
        if option == "1" and not (dmarc.spf_aligned and dmarc.dkim_aligned):
            return True
        if option == "d" and dkim_failed:
            return True
        if option == "s" and spf_failed:
            return True
    return False


def failure_report(
    policy: FailureReportPolicy,
    message: Message,
    envelope: Envelope,
    report: AuthReport,
    to: list[str],
    now: datetime | None = None,
) -> EmailMessage:
    """An ARF ``auth-failure`` report about one message (headers only)."""
    when = now or datetime.now(UTC)
    dmarc = report.dmarc
    alignment = [
        name for name, ok in (("dkim", dmarc.dkim_aligned), ("spf", dmarc.spf_aligned)) if ok
    ]
    fields = [
        ("Feedback-Type", "auth-failure"),
        ("User-Agent", "CarrierGuard/0.1"),
        ("Version", "1"),
        ("Original-Envelope-Id", ""),
        ("Original-Mail-From", f"<{envelope.mail_from}>"),
        ("Arrival-Date", format_datetime(when)),
        ("Source-IP", envelope.ip or ""),
        ("Reported-Domain", dmarc.header_from),
        ("Authentication-Results", report.authentication_results),
        ("Auth-Failure", "dmarc"),
        ("Identity-Alignment", ",".join(alignment) or "none"),
        (
            "Delivery-Result",
            {"reject": "reject", "quarantine": "spam"}.get(dmarc.disposition, "delivered"),
        ),
    ]
    feedback = "".join(f"{name}: {value}\r\n" for name, value in fields if value)
    headers = b"".join(f.raw for f in message.headers)

    out = EmailMessage()
    out["From"] = policy.sender
    out["To"] = ", ".join(to)
    out["Subject"] = f"DMARC Failure Report for {dmarc.header_from}"
    out["Date"] = format_datetime(when)
    out["Message-ID"] = make_msgid(domain=policy.receiver or None)
    out.set_content(
        f"A message claiming to be from {dmarc.header_from} failed DMARC.\n"
        f"{dmarc.header_from} を名乗るメールが DMARC 認証に失敗しました。\n"
    )
    # ARF parsers read these parts as plain text: no base64.
    out.add_attachment(
        feedback.encode("utf-8"),
        maintype="message",
        subtype="feedback-report",
        cte="7bit" if feedback.isascii() else "8bit",
        disposition="inline",
    )
    out.add_attachment(
        headers,
        maintype="text",
        subtype="rfc822-headers",
        cte="7bit" if headers.isascii() else "8bit",
        disposition="inline",
    )
    out.set_type("multipart/report")
    out.set_param("report-type", "feedback-report")
    return out


class FailureReporter:
    """Sends failure reports in the background, at most ``per_hour`` per reported domain.

    Called from the milter's worker thread; the SMTP hand-off happens on a separate
    single-thread executor so that no message waits for a report.
    """

    def __init__(
        self,
        policy: FailureReportPolicy,
        resolver: Resolver,
        *,
        smtp_host: str,
        smtp_port: int,
        per_hour: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.per_hour = per_hour
        self._clock = clock
        self._sent: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dmarc-ruf")

    def consider(self, message: Message, envelope: Envelope, report: AuthReport) -> bool:
        """Queue a report if the owner asked (ruf, fo), local policy allows and the rate permits."""
        record = report.dmarc.record
        if not self.policy.enabled or record is None or not record.ruf:
            return False
        if not requested(record.fo, report):
            return False
        domain = report.dmarc.policy_domain
        if not self._admit(domain):
            return False
        arf = failure_report(self.policy, message, envelope, report, ["placeholder@invalid"])
        targets = destinations(record.ruf, domain, self.resolver, len(arf.as_bytes()))
        if not targets:
            return False
        arf.replace_header("To", ", ".join(t.address for t in targets))
        self._pool.submit(self._send, arf)
        return True

    def _admit(self, domain: str) -> bool:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._sent.get(domain, []) if now - t < 3600]
            if len(recent) >= self.per_hour:
                self._sent[domain] = recent
                return False
            self._sent[domain] = [*recent, now]
            return True

    def _send(self, message: EmailMessage) -> None:
        try:
            asyncio.run(send(message, hostname=self.smtp_host, port=self.smtp_port))
        except Exception as exc:  # a lost failure report is logged, never retried into a loop
            log.warning("dmarc_failure_report_not_sent", error=repr(exc))
