"""The asyncio milter server: a thin loop around ``MilterConnection`` and the verdict pipeline.

One task per MTA connection reads bytes, feeds the sans-IO protocol object and
writes its replies. At end of message the pipeline runs in a worker thread (DNS
lookups block) under a time limit. Any failure there answers ``tempfail`` (or
``accept``, if so configured): the client retries and no mail is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from carrierguard.errors import CarrierGuardError, MilterProtocolError
from carrierguard.mail.auth.author import AuthorDomain
from carrierguard.mail.message import Message
from carrierguard.mail.milter.metrics import MilterMetrics
from carrierguard.mail.milter.protocol import (
    SMFIF_DELRCPT,
    SMFIP_HDR_LEADSPC,
    Abort,
    Accept,
    AddHeader,
    ChangeHeader,
    Continue,
    DeleteRecipient,
    Discard,
    EndOfMessage,
    Event,
    MilterConnection,
    Negotiate,
    Quit,
    Reply,
    ReplyCode,
    TempFail,
    needs_reply,
)
from carrierguard.mail.milter.session import MilterSession, crlf
from carrierguard.mail.quarantine import Quarantine
from carrierguard.mail.settings import MailSettings
from carrierguard.mail.verdict import VERDICT_HEADER, Action, CheckContext, Stage, run_pipeline

QUARANTINE_VALUE = Action.QUARANTINE.value

log = structlog.get_logger("carrierguard.mail.milter")

ResultSink = Callable[[MilterSession, CheckContext], None]


def parse_listen(spec: str) -> tuple[str, int]:
    """``inet:HOST:PORT`` (Postfix notation) or ``HOST:PORT`` -> (host, port)."""
    text = spec.removeprefix("inet:")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address must be inet:HOST:PORT, got {spec!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class MilterServer:
    """Serves the milter protocol for Postfix ``smtpd_milters``."""

    def __init__(
        self,
        settings: MailSettings,
        stages: Sequence[Stage],
        quarantine: Quarantine,
        *,
        on_result: ResultSink | None = None,
        metrics: MilterMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.stages = list(stages)
        self.quarantine = quarantine
        self.on_result = on_result
        self.metrics = metrics

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = MilterConnection()
        session = MilterSession()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                replies: list[Reply] = []
                closing = False
                for event in connection.receive(data):
                    if isinstance(event, Quit):
                        closing = not event.keep_connection
                        session = MilterSession()
                        continue
                    replies.extend(await self.respond(event, session, connection))
                if replies:
                    writer.write(b"".join(connection.send(r) for r in replies))
                    await writer.drain()
                if closing:
                    break
        except MilterProtocolError as exc:
            # Closing makes Postfix apply milter_default_action (tempfail): nothing is lost.
            log.warning("milter_protocol_error", error=str(exc))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def respond(
        self, event: Event, session: MilterSession, connection: MilterConnection
    ) -> list[Reply]:
        if isinstance(event, Negotiate):
            reply = connection.negotiate_reply()
            session.leading_space = bool(reply.protocol & SMFIP_HDR_LEADSPC)
            session.can_delete_recipients = bool(reply.actions & SMFIF_DELRCPT)
            return [reply]
        if isinstance(event, Abort):
            session.reset_message()
            return []
        session.apply(event)
        if isinstance(event, EndOfMessage):
            return await self.end_of_message(session)
        return [Continue()] if needs_reply(event) else []

    async def end_of_message(self, session: MilterSession) -> list[Reply]:
        started = time.perf_counter()
        try:
            replies = await asyncio.wait_for(
                asyncio.to_thread(self.judge, session), timeout=self.settings.check_timeout
            )
        except Exception as exc:  # every failure must end in a safe SMTP answer
            if self.metrics is not None:
                self.metrics.errors.inc()
            log.error(
                "milter_check_failed",
                queue_id=session.queue_id,
                error=repr(exc),
                action=self.settings.on_error,
            )
            replies = [TempFail()] if self.settings.on_error == "tempfail" else [Accept()]
        if self.metrics is not None:
            self.metrics.eom_seconds.observe(time.perf_counter() - started)
        session.reset_message()
        return replies

    def judge(self, session: MilterSession) -> list[Reply]:
        """Run the pipeline for the message in ``session`` and translate its verdict."""
        raw = session.raw_message()
        message = Message.parse(raw)
        context = run_pipeline(self.stages, message, CheckContext(session.envelope()))
        verdict = context.verdict
        if verdict is None:
            raise CarrierGuardError("the pipeline ended without a verdict")
        if self.on_result is not None:
            try:
                self.on_result(session, context)
            except Exception as exc:  # reporting must never cost a message
                log.error("milter_result_sink_failed", queue_id=session.queue_id, error=repr(exc))
        log.info(
            "milter_verdict",
            queue_id=session.queue_id,
            action=verdict.action.value,
            reasons=[r.code for r in verdict.reasons],
            dmarc=context.auth.dmarc.result if context.auth else None,
        )
        edits: list[Reply] = [
            ChangeHeader(index, name, "")
            for name, index in session.forged_fields(self.settings.authserv_id)
        ]
        # With SMFIP_HDR_LEADSPC the MTA writes "Name:" + value verbatim.
        lead = " " if session.leading_space else ""
        edits.extend(
            AddHeader(name, lead + value.replace("\r\n", "\n"))
            for name, value in context.add_headers
        )
        replies, held = self._act(raw, session, context, edits)
        if self.metrics is not None:
            self.metrics.judged(verdict.action.value, (r.code for r in verdict.reasons), held)
        return replies

    def _act(
        self, raw: bytes, session: MilterSession, context: CheckContext, edits: list[Reply]
    ) -> tuple[list[Reply], int]:
        """The replies for the verdict, and how many recipients lost their copy to the hold."""
        verdict = context.verdict
        assert verdict is not None
        if verdict.action is Action.REJECT:
            return [ReplyCode(verdict.smtp_code, verdict.smtp_status, verdict.smtp_text)], 0
        if verdict.action is Action.QUARANTINE:
            self._hold(raw, session, context, tuple(session.recipients))
            # Only now, with the copy durable, may the MTA forget the message.
            return [Discard()], len(session.recipients)
        held = [r for r in session.recipients if r in context.held_for]
        if held and not session.can_delete_recipients:
            log.warning("milter_cannot_hold_for_some", queue_id=session.queue_id, held=len(held))
            held = []
        if held and len(held) < len(session.recipients):
            # Stricter recipients lose this copy; theirs waits in the quarantine.
            self._hold(raw, session, context, tuple(held))
            edits.extend(DeleteRecipient(r) for r in held)
            return [*edits, Continue()], len(held)
        return [*edits, Continue()], 0

    def _hold(
        self, raw: bytes, session: MilterSession, context: CheckContext, recipients: tuple[str, ...]
    ) -> None:
        """Put a durable copy, stamped with our fields, in the quarantine for ``recipients``."""
        verdict = context.verdict
        assert verdict is not None
        stamped = b"".join(
            crlf(f"{name}: {QUARANTINE_VALUE if name == VERDICT_HEADER else value}\r\n".encode())
            for name, value in context.add_headers
        )
        author = context.auth.author if context.auth else None
        self.quarantine.put(
            stamped + raw,
            mail_from=session.mail_from,
            recipients=recipients,
            header_from=author.domain if isinstance(author, AuthorDomain) else "",
            reasons=tuple(r.code for r in verdict.reasons),
            queue_id=session.queue_id,
            phishing_probability=context.phishing_probability,
        )


async def serve_forever(
    server: MilterServer,
    host: str,
    port: int,
    *,
    metrics_file: Path | None = None,
    metrics_every: float = 15.0,
) -> None:
    listener = await server.start(host, port)
    log.info("milter_listening", host=host, port=port)
    writer = None
    if metrics_file is not None and server.metrics is not None:
        writer = asyncio.create_task(_write_metrics(server.metrics, metrics_file, metrics_every))
    try:
        async with listener:
            await listener.serve_forever()
    finally:
        if writer is not None:
            writer.cancel()


async def _write_metrics(metrics: MilterMetrics, path: Path, every: float) -> None:
    """Refresh the metrics file every ``every`` seconds; a failed write is logged, not fatal."""
    while True:
        try:
            await asyncio.to_thread(metrics.write, path)
        except OSError as exc:
            log.warning("milter_metrics_not_written", path=str(path), error=str(exc))
        await asyncio.sleep(every)
