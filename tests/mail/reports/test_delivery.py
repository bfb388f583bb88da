"""Report delivery: rua URIs, the external-destination check, size limits, SMTP, failure reports."""

from __future__ import annotations

import asyncio
import email
from email import policy

from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.dns import StaticResolver
from carrierguard.mail.message import Message
from carrierguard.mail.reports.delivery import (
    ReportDestination,
    aggregate_message,
    destinations,
    parse_uri,
    send,
)
from carrierguard.mail.reports.failure import FailureReportPolicy, failure_report, requested

ZONE = """$TTL 300
_dmarc.bank.example.                        IN TXT "v=DMARC1; p=reject"
bank.example._report._dmarc.reports.example. IN TXT "v=DMARC1"
"""


def test_mailto_uri_with_size_limit_parses() -> None:
    """``mailto:a@b!10m`` gives the address and 10 MiB; other schemes are ignored."""
    assert parse_uri("mailto:rua@bank.example!10m") == ReportDestination(
        "rua@bank.example", 10 * 1024 * 1024
    )
    assert parse_uri(" mailto:rua@bank.example ") == ReportDestination("rua@bank.example")
    assert parse_uri("https://bank.example/rua") is None
    assert parse_uri("mailto:@bank.example") is None


def test_external_destination_needs_its_confirmation_record() -> None:
    """Another organisation receives reports only if it published the _report record."""
    resolver = StaticResolver.from_zone_text(ZONE)
    uris = (
        "mailto:rua@bank.example",
        "mailto:rua@reports.example",
        "mailto:rua@stranger.example",
    )
    chosen = destinations(uris, "bank.example", resolver, size=1000)
    assert [d.address for d in chosen] == ["rua@bank.example", "rua@reports.example"]


def test_report_larger_than_the_destination_limit_is_not_sent() -> None:
    """A size limit in the URI is respected."""
    resolver = StaticResolver.from_zone_text(ZONE)
    assert destinations(("mailto:rua@bank.example!1k",), "bank.example", resolver, 2048) == []
    assert destinations(("mailto:rua@bank.example",), "bank.example", resolver, 11 << 20) == []


async def _sink(received: list[bytes]) -> tuple[asyncio.Server, int]:
    """A minimal SMTP server that accepts one message."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        data = False
        lines: list[bytes] = []
        while line := await reader.readline():
            if data:
                if line == b".\r\n":
                    data = False
                    received.append(b"".join(lines))
                    writer.write(b"250 ok\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250 sink\r\n")
            elif verb == b"DATA":
                data = True
                writer.write(b"354 go\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_aggregate_report_mail_goes_out_over_smtp() -> None:
    """The report mail, with its gzip attachment and RFC 9990 subject, reaches an SMTP server."""
    received: list[bytes] = []

    async def run() -> None:
        server, port = await _sink(received)
        message = aggregate_message(
            sender="dmarc@mx.example",
            receiver="mx.example",
            policy_domain="bank.example",
            report_id="abc",
            filename="mx.example!bank.example!1!2!abc.xml.gz",
            payload=b"\x1f\x8bfake",
            to=["rua@bank.example"],
        )
        await send(message, hostname="127.0.0.1", port=port)
        server.close()
        await server.wait_closed()

    asyncio.run(run())
    (raw,) = received
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Report Domain: bank.example Submitter: mx.example Report-ID: <abc>"
    (attachment,) = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "application/gzip"
    assert attachment.get_content() == b"\x1f\x8bfake"


def test_failure_report_follows_fo_and_carries_headers_only() -> None:
    """fo=1 asks for a report on any failure; the ARF has the header but not the body."""
    resolver = StaticResolver.from_zone_text(ZONE)
    message = Message.parse(b"From: ceo@bank.example\r\nSubject: secret\r\n\r\nBODY TEXT\r\n")
    envelope = Envelope(ip="203.0.113.9", mail_from="ceo@bank.example")
    report = authenticate(message, envelope, resolver, authserv_id="mx.test")
    assert requested(("1",), report) and requested(("0",), report)
    arf = failure_report(
        FailureReportPolicy(enabled=True, sender="dmarc@mx.test", receiver="mx.test"),
        message,
        envelope,
        report,
        ["ruf@bank.example"],
    ).as_bytes()
    assert b"multipart/report" in arf and b'report-type="feedback-report"' in arf
    assert b"Feedback-Type: auth-failure" in arf and b"Auth-Failure: dmarc" in arf
    assert b"Subject: secret" in arf and b"BODY TEXT" not in arf


def test_failure_reporter_sends_when_asked_and_allowed_and_respects_its_rate() -> None:
    """With ruf and local permission one report goes out; beyond the hourly cap none do."""
    from carrierguard.mail.reports.failure import FailureReporter

    received: list[bytes] = []
    resolver = StaticResolver.from_zone_text(
        '_dmarc.bank.example. 300 IN TXT "v=DMARC1; p=reject; ruf=mailto:ruf@bank.example; fo=1"'
    )
    message = Message.parse(b"From: ceo@bank.example\r\nSubject: s\r\n\r\nbody\r\n")
    envelope = Envelope(ip="203.0.113.9", mail_from="ceo@bank.example")
    report = authenticate(message, envelope, resolver, authserv_id="mx.test")

    async def run() -> list[bool]:
        server, port = await _sink(received)
        reporter = FailureReporter(
            FailureReportPolicy(enabled=True, sender="dmarc@mx.test", receiver="mx.test"),
            resolver,
            smtp_host="127.0.0.1",
            smtp_port=port,
            per_hour=1,
        )
        sent = [reporter.consider(message, envelope, report) for _ in range(2)]
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
        return sent

    assert asyncio.run(run()) == [True, False]
    assert b"Feedback-Type: auth-failure" in received[0]
    off = FailureReporter(FailureReportPolicy(), resolver, smtp_host="127.0.0.1", smtp_port=1)
    assert off.consider(message, envelope, report) is False
