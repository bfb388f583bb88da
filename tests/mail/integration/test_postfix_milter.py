"""Postfix from Debian + NSD + our milter on 127.0.0.1: enforcement as the issue states it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from carrierguard.mail.quarantine import QuarantineStore
from tests.conftest import need
from tests.mail.conftest import Signer, message
from tests.mail.integration.servers import (
    NSD,
    POSTFIX,
    Milter,
    Postfix,
    free_port,
    nsd,
    postfix,
    shared_tmpdir,
    txt,
    zone_file,
)

pytestmark = pytest.mark.integration
STRICT, LENIENT = "strict@example.net", "lenient@example.net"
# A mild lure: the shipped model scores it between the strong and the weak thresholds.
MILD_LURE = (
    "Subject: アカウント確認のお願い",
    "お客様のアカウントの確認をお願いいたします。下記よりログインしてください。\r\n",
)


@dataclass
class Stack:
    postfix: Postfix
    milter: Milter
    dns_port: int

    def send(self, raw: bytes, mail_from: str) -> None:
        with smtplib.SMTP("127.0.0.1", self.postfix.smtp_port, "client.example", timeout=60) as s:
            s.sendmail(mail_from, ["user@example.net"], raw)

    def wait_delivered(self, count: int) -> list[bytes]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            mails = self.postfix.delivered()
            if len(mails) >= count:
                return mails
            time.sleep(0.2)
        log = self.postfix.log.read_text() if self.postfix.log.exists() else ""
        raise AssertionError(f"expected {count} delivered messages; maillog:\n{log[-3000:]}")


@pytest.fixture(scope="module")
def stack(rsa_key: tuple[bytes, bytes]) -> Iterator[Stack]:
    """NSD with the test zones, our milter pointed at it, Postfix pointed at the milter."""
    need(POSTFIX.exists() and NSD.exists(), "Postfix and NSD not installed (.ci/setup-mail.sh)")
    need(os.geteuid() == 0, "a private Postfix instance must be started as root")
    key = rsa_key[1].decode()
    zones = {
        "good.example": zone_file(
            "good.example",
            [
                f"@ IN {txt('v=spf1 ip4:127.0.0.1 -all')}",
                f"_dmarc IN {txt('v=DMARC1; p=reject; rua=mailto:rua@good.example')}",
                f"sel._domainkey IN {txt(key)}",
            ],
        ),
        "reject.example": zone_file(
            "reject.example",
            [
                f"@ IN {txt('v=spf1 ip4:192.0.2.1 -all')}",
                f"_dmarc IN {txt('v=DMARC1; p=reject; rua=mailto:rua@reject.example')}",
            ],
        ),
        "quarantine.example": zone_file(
            "quarantine.example",
            [
                f"@ IN {txt('v=spf1 ip4:192.0.2.1 -all')}",
                f"_dmarc IN {txt('v=DMARC1; p=quarantine')}",
            ],
        ),
    }
    with nsd(zones) as dns_port:
        quarantine = shared_tmpdir("cg-quarantine-")
        milter = Milter(
            free_port(),
            quarantine,
            f"sqlite:///{quarantine}/dmarc.db",
            extra=(f"--strength={STRICT}=strong", f"--strength={LENIENT}=weak"),
        )
        milter.start(dns_port)
        try:
            with postfix(milter.port) as server:
                yield Stack(server, milter, dns_port)
        finally:
            milter.stop()
            shutil.rmtree(milter.quarantine, ignore_errors=True)


def test_aligned_pass_is_delivered_with_authentication_results(stack: Stack, sign: Signer) -> None:
    """A DKIM-signed, SPF-passing message from good.example reaches the mailbox, stamped."""
    forged = "Authentication-Results: mx.carrierguard.test; dmarc=pass header.from=x.example"
    body = message("News <news@good.example>", "Aligned.\r\n", forged)
    raw = sign(body, "good.example")
    stack.send(raw, "bounce@good.example")
    (delivered,) = stack.wait_delivered(1)
    assert b"Authentication-Results: mx.carrierguard.test;" in delivered
    assert b"dkim=pass" in delivered and b"dmarc=pass" in delivered
    assert b"X-CarrierGuard-Verdict: deliver" in delivered
    assert b"header.from=x.example" not in delivered  # the forged field was deleted


def test_reject_policy_spoof_gets_5xx_at_smtp(stack: Stack) -> None:
    """A spoof of a p=reject domain is refused with 550 5.7.1 during DATA."""
    with pytest.raises(smtplib.SMTPDataError) as info:
        stack.send(message("ceo@reject.example"), "ceo@reject.example")
    assert info.value.smtp_code == 550
    assert b"5.7.1" in info.value.smtp_error


def test_quarantine_policy_spoof_is_quarantined(stack: Stack) -> None:
    """A spoof of a p=quarantine domain is accepted, held in the store, not delivered."""
    before = len(stack.postfix.delivered())
    stack.send(message("info@quarantine.example", "Held.\r\n"), "info@quarantine.example")
    entries = QuarantineStore(stack.milter.quarantine).list()
    assert [e.header_from for e in entries] == ["quarantine.example"]
    time.sleep(1)
    assert len(stack.postfix.delivered()) == before


def test_stopped_milter_means_tempfail_and_no_mail_lost(stack: Stack, sign: Signer) -> None:
    """With the milter down Postfix answers 4xx (milter_default_action=tempfail); a retry lands."""
    raw = sign(message("news@good.example", "Retry me.\r\n"), "good.example")
    before = len(stack.postfix.delivered())
    stack.milter.stop()
    try:
        with pytest.raises(smtplib.SMTPResponseException) as info:
            stack.send(raw, "bounce@good.example")
        assert 400 <= info.value.smtp_code < 500
        assert len(stack.postfix.delivered()) == before
    finally:
        stack.milter.start(stack.dns_port)
    stack.send(raw, "bounce@good.example")
    assert any(b"Retry me." in m for m in stack.wait_delivered(before + 1))


def test_aggregate_report_of_these_results_validates_and_parsedmarc_agrees(stack: Stack) -> None:
    """The rows the milter stored give RFC 9990 reports with the counts SMTP saw."""
    from datetime import UTC, datetime, timedelta

    from carrierguard.mail.reports.aggregate import validate
    from carrierguard.mail.reports.job import build_reports
    from carrierguard.store.engine import create_store_engine
    from carrierguard.store.mail_schema import dmarc_results_between

    now = datetime.now(UTC)
    with create_store_engine(stack.milter.db_url).connect() as conn:
        reports = build_reports(
            dmarc_results_between(conn, now - timedelta(hours=1), now + timedelta(hours=1)),
            org_name="CarrierGuard CI",
            email="dmarc@mx.carrierguard.test",
            receiver="mx.carrierguard.test",
            begin=now - timedelta(hours=1),
            end=now + timedelta(hours=1),
        )
    counts = {r.policy_domain: r.messages for r in reports}
    # good.example: the aligned pass and the retried message; reject.example: the spoof.
    assert counts == {"good.example": 2, "reject.example": 1}
    for report in reports:
        validate(report.xml)
    need(importlib.util.find_spec("parsedmarc") is not None, "parsedmarc (eval extra) missing")
    import parsedmarc

    for report in reports:
        parsed = parsedmarc.parse_aggregate_report_xml(report.xml.decode(), offline=True)
        assert sum(r["count"] for r in parsed["records"]) == counts[report.policy_domain]


def test_dnspython_resolver_reads_the_real_dns_server(stack: Stack) -> None:
    """Our dnspython resolver, pointed at NSD, answers data, NODATA and NXDOMAIN correctly."""
    from carrierguard.mail.dns import CachingResolver, DnspythonResolver, Rcode

    resolver = CachingResolver(DnspythonResolver(nameservers=["127.0.0.1"], port=stack.dns_port))
    assert resolver.query("_dmarc.reject.example", "TXT").txt()[0].startswith(b"v=DMARC1")
    nodata = resolver.query("reject.example", "MX")
    assert (nodata.rcode, nodata.records) == (Rcode.NOERROR, ())
    assert resolver.query("nope.reject.example", "TXT").rcode is Rcode.NXDOMAIN
    resolver.query("_dmarc.reject.example", "TXT")
    assert resolver.hits == 1


def test_quarantined_message_released_through_the_api_arrives_byte_for_byte(
    stack: Stack, tmp_path: Path
) -> None:
    """Held by the milter, released with POST /v1/mail/.../release, delivered unchanged.

    Postfix re-injects it on its milter-less listener; the mailbox copy is the stored
    message (line ends as the Maildir writes them) under the trace fields delivery adds.
    """
    from carrierguard.auth import Role
    from tests.web.conftest import make_api

    body = (
        ".a line that starts with a dot\r\n"
        + "ご注文の確認: 8-bit UTF-8 本文\r\n"
        + "x" * 900
        + "\r\n..\r\nend\r\n"
    )
    raw = message(
        "info@quarantine.example",
        body,
        "Content-Type: text/plain; charset=utf-8",
        "Date: Sat, 28 Nov 2026 12:00:00 +0900",
        "Message-ID: <release-test@quarantine.example>",
    )
    store = QuarantineStore(stack.milter.quarantine)
    before = {e.id for e in store.list()}
    stack.send(raw, "info@quarantine.example")
    (entry,) = [e for e in store.list() if e.id not in before]
    held = store.get(entry.id)
    assert held.endswith(raw)  # our fields, then the message as sent
    delivered_before = len(stack.postfix.delivered())
    api = make_api(
        f"sqlite:///{tmp_path / 'api.db'}",
        quarantine_dir=stack.milter.quarantine,
        release_smtp=f"127.0.0.1:{stack.postfix.release_port}",
    )
    headers = api.headers(Role.MAIL_OPERATOR)
    r = api.client.post(f"/v1/mail/quarantine/{entry.id}/release", headers=headers)
    assert r.status_code == 200, r.text
    mails = stack.wait_delivered(delivered_before + 1)
    (arrived,) = [m for m in mails if b"a line that starts with a dot" in m]
    assert b"\n" not in held.replace(b"\r\n", b"")  # stored with CRLF line ends only
    expected = held.replace(b"\r\n", b"\n")
    assert arrived.endswith(expected)
    trace = arrived[: -len(expected)].decode()
    names = [line.split(":", 1)[0] for line in trace.splitlines() if not line[:1].isspace()]
    assert set(names) <= {"Return-Path", "X-Original-To", "Delivered-To", "Received"}, trace
    assert store.entry(entry.id).state == "released"


def test_one_copy_two_strengths_postfix_drops_only_the_strict_recipient(stack: Stack) -> None:
    """The classifier in the milter holds a mild lure for 強 and delivers it for 弱.

    Postfix honours our SMFIR_DELRCPT: the strict recipient's copy waits in the
    quarantine (for that recipient only), the lenient one receives the message.
    """
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.brands import default_catalogue
    from carrierguard.mail.content.evidence import gather
    from carrierguard.mail.content.extract import read_message

    subject, body = MILD_LURE
    raw = message("info@good.example", body, "Date: Sat, 28 Nov 2026 12:00:00 +0900")
    raw = raw.replace(b"Subject: test", subject.encode())
    loaded = model_io.load()
    text = read_message(raw)
    scores = loaded.score(text, gather(text, default_catalogue()))
    strict, lenient = loaded.verdict(scores, "strong")[0], loaded.verdict(scores, "weak")[0]
    assert (strict, lenient) == ("quarantine", "deliver"), (
        f"the shipped model scores the mild lure {scores.phishing:.4f}: pick a message "
        "between its strong and weak thresholds"
    )
    store = QuarantineStore(stack.milter.quarantine)
    before_held = {e.id for e in store.list()}
    before = len(stack.postfix.delivered())
    with smtplib.SMTP("127.0.0.1", stack.postfix.smtp_port, "client.example", timeout=60) as s:
        s.sendmail("bounce@good.example", [STRICT, LENIENT], raw)
    mails = stack.wait_delivered(before + 1)
    time.sleep(1)
    arrived = [m for m in stack.postfix.delivered()[before:] if "アカウントの確認".encode() in m]
    assert len(arrived) == 1 and f"Delivered-To: {LENIENT}".encode() in arrived[0], mails[-1]
    (held,) = [e for e in store.list() if e.id not in before_held]
    assert held.recipients == (STRICT,)
    assert held.reasons[0] == "CONTENT_MODEL_PHISHING"


def test_database_quarantine_holds_for_postfix_and_releases_from_it(
    stack: Stack, tmp_path: Path
) -> None:
    """The milter restarted with --quarantine-db: Postfix's message is held, sealed, in the
    database, and the API (CARRIERGUARD_QUARANTINE=db on the same database) releases it."""
    from carrierguard.auth import Role
    from carrierguard.store.engine import create_store_engine
    from carrierguard.store.quarantine import DbQuarantine
    from tests.mail.test_quarantine import KEY, KEY_ENV
    from tests.web.conftest import make_api

    original = stack.milter
    original.stop()
    extra = (*original.extra, "--quarantine-db")
    db_milter = Milter(original.port, original.quarantine, original.db_url, extra=extra)
    saved = {name: os.environ.get(name) for name in KEY_ENV}
    os.environ.update(KEY_ENV)  # the milter process inherits the data key
    try:
        db_milter.start(stack.dns_port)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        in_dir = {e.id for e in QuarantineStore(original.quarantine).list(None)}
        raw = message("info@quarantine.example", "Held in the database.\r\n")
        stack.send(raw, "info@quarantine.example")
        store = DbQuarantine(create_store_engine(original.db_url), KEY)
        (entry,) = store.list()
        held = store.get(entry.id)
        assert entry.header_from == "quarantine.example" and held.endswith(
            b"Held in the database.\r\n"
        )
        assert {e.id for e in QuarantineStore(original.quarantine).list(None)} == in_dir
        before = len(stack.postfix.delivered())
        api = make_api(
            original.db_url,
            quarantine="db",
            release_smtp=f"127.0.0.1:{stack.postfix.release_port}",
        )
        url = f"/v1/mail/quarantine/{entry.id}/release"
        r = api.client.post(url, headers=api.headers(Role.MAIL_OPERATOR))
        assert r.status_code == 200, r.text
        mails = stack.wait_delivered(before + 1)
        assert any(b"Held in the database." in m for m in mails)
        assert store.entry(entry.id).state == "released"
    finally:
        db_milter.stop()
        original.start(stack.dns_port)
