"""The awareness mail (M3): tell recipients who never chose a filter strength, recommend 標準.

``awareness_message`` builds the message (Japanese first, English after, UTF-8, a
Message-ID and Date of its own); ``notify`` sends it to every recipient without a
strength who was not told yet, one SMTP transaction per recipient so that one refused
address costs nothing to the others, and records each success at once: a run stopped
half-way resumes where it stopped and never mails anyone twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
import structlog
from sqlalchemy import Engine

from carrierguard.errors import InvalidInput
from carrierguard.mail.release import SmtpRelay
from carrierguard.mail.signing import DkimSigner
from carrierguard.store.mail_schema import mark_notified, unset_pages

log = structlog.get_logger("carrierguard.mail.awareness")

SUBJECT = (
    "【重要】迷惑メールフィルターの強度を設定してください / Please choose your filter strength"
)
BATCH = 500


def awareness_message(address: str, sender: str, settings_url: str, now: datetime) -> bytes:
    """The awareness mail for one recipient."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = SUBJECT
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        f"""お客様

フィッシングメール・迷惑メールのフィルター強度がまだ設定されていません。
現在は「標準」で判定しています。強度は次の3段階から選べます。

  弱   : 確実に危険なメールだけを止めます。正しいメールが止まることはほとんどありません。
  標準 : おすすめです。多くのフィッシングメールを止め、誤って止まるメールはごくわずかです。
  強   : 疑わしいメールも隔離します。正しいメールが隔離されることが増えます。

隔離されたメールは、お問い合わせいただければ配送できます。
設定はこちらから: {settings_url}

当社がメールでパスワードやカード番号を尋ねることはありません。

---
Your phishing and spam filter strength has not been chosen yet; mail is judged at
"standard". You can choose weak (stops only certain threats), standard (recommended)
or strong (also holds suspicious mail; more legitimate mail may be held).
Held mail can be released on request. Choose here: {settings_url}
We never ask for passwords or card numbers by mail.
""",
        charset="utf-8",
        cte="base64",
    )
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


@dataclass(frozen=True, slots=True)
class NotifyResult:
    sent: int
    refused: int
    pending: int  # dry run: how many would be sent


def notify(
    engine: Engine,
    relay: SmtpRelay,
    *,
    sender: str,
    settings_url: str,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    signer: DkimSigner | None = None,
) -> NotifyResult:
    """Send the awareness mail to recipients without a strength who were not told yet.

    One SMTP connection per batch, one transaction per recipient. A connection
    failure (the relay is down) raises after recording what was sent. With ``signer``
    each mail is DKIM-signed for the sender's domain, so that recipients' DMARC checks
    pass even when the relay does not sign: a carrier asking people to trust its mail
    must not send mail that looks spoofed.
    """
    if signer is not None and sender.rpartition("@")[2].lower() != signer.domain:
        raise InvalidInput(
            f"the sender {sender} is not in the signing domain {signer.domain}",
            message_ja=f"送信者 {sender} は署名ドメイン {signer.domain} と一致しません。",
        )
    sent = refused = pending = 0
    for page in unset_pages(engine, size=BATCH, not_notified=True):
        addresses = [a for a, _ in page]
        if limit is not None:
            addresses = addresses[: limit - sent - refused - pending]
        if not addresses:
            break
        if dry_run:
            pending += len(addresses)
            continue
        ok, bad = asyncio.run(
            _send_batch(engine, relay, sender, settings_url, addresses, clock, progress, signer)
        )
        sent, refused = sent + ok, refused + bad
    return NotifyResult(sent, refused, pending)


async def _send_batch(
    engine: Engine,
    relay: SmtpRelay,
    sender: str,
    settings_url: str,
    addresses: list[str],
    clock: Callable[[], datetime],
    progress: Callable[[int], None] | None,
    signer: DkimSigner | None,
) -> tuple[int, int]:
    sent = refused = 0
    smtp = aiosmtplib.SMTP(
        hostname=relay.host, port=relay.port, timeout=relay.timeout, start_tls=False
    )
    await smtp.connect()
    try:
        for address in addresses:
            now = clock()
            data = awareness_message(address, sender, settings_url, now)
            if signer is not None:
                name, value = signer.signature(data)
                data = f"{name}: {value}\r\n".encode("ascii") + data
            try:
                rejected, _ = await smtp.sendmail(sender, [address], data)
                accepted = not rejected
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
                accepted = False
                await smtp.rset()
            if not accepted:
                refused += 1
                log.warning("awareness_refused", recipient_domain=address.rpartition("@")[2])
            else:
                with engine.begin() as conn:
                    mark_notified(conn, [address], now)
                sent += 1
            if progress is not None:
                progress(1)
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await smtp.quit()
    return sent, refused
