"""DMARC failure reports (RFC 9991) in the ARF format (RFC 5965, RFC 6591).

Sent only when the Domain Owner asks (``ruf`` and ``fo``) *and* local policy
allows: failure reports can carry personal data, so they are off by default and,
when on, carry the header only (RFC 9991 section 4 redaction), never the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from carrierguard.mail.auth.check import AuthReport, Envelope
from carrierguard.mail.message import Message


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
