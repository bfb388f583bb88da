"""The asyncio milter over real TCP on 127.0.0.1, driven by a scripted MTA."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from carrierguard.mail.dns import StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from carrierguard.mail.milter.metrics import MilterMetrics
from carrierguard.mail.milter.server import MilterServer, parse_listen
from carrierguard.mail.quarantine import Quarantine, QuarantineStore
from carrierguard.mail.settings import MailSettings
from carrierguard.mail.verdict import CheckContext, Stage, standard_stages
from carrierguard.store.engine import create_store_engine
from carrierguard.store.quarantine import DbQuarantine
from tests.mail.conftest import message
from tests.mail.milter.mta import connect, message_packets, optneg, read_reply, read_until_final
from tests.mail.test_quarantine import KINDS, open_store

SETTINGS = MailSettings(authserv_id="mx.test")


def resolver() -> StaticResolver:
    def txt(name: str, text: str) -> StaticRecord:
        return StaticRecord(name, "TXT", Txt((text.encode(),)))

    return StaticResolver.of(
        [
            txt("bank.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            txt("_dmarc.bank.example", "v=DMARC1; p=reject"),
            txt("shop.example", "v=spf1 ip4:192.0.2.0/24 -all"),
            txt("_dmarc.shop.example", "v=DMARC1; p=quarantine"),
        ]
    )


async def exchange(
    stages: Sequence[Stage],
    store: Quarantine,
    raw: bytes,
    mail_from: str,
    ip: str,
    rcpts: tuple[str, ...] = (),
    metrics: MilterMetrics | None = None,
) -> list[tuple[bytes, bytes]]:
    server = MilterServer(SETTINGS, stages, store, metrics=metrics)
    listener = await server.start("127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(optneg())
        assert (await read_reply(reader))[0] == b"O"
        packets = [connect(ip), *message_packets(raw, mail_from=mail_from, rcpts=rcpts)]
        for data in packets[:-1]:
            writer.write(data)
            if data[4:5] != b"D":
                assert (await read_reply(reader))[0] == b"c"
        writer.write(packets[-1])
        replies = await read_until_final(reader)
        writer.close()
        return replies
    finally:
        listener.close()
        await listener.wait_closed()


def run(
    raw: bytes, mail_from: str, ip: str, tmp: Path, stages: Sequence[Stage] | None = None
) -> tuple[list[tuple[bytes, bytes]], QuarantineStore]:
    store = QuarantineStore(tmp / "q")
    chosen = stages if stages is not None else standard_stages(resolver(), SETTINGS)
    return asyncio.run(exchange(chosen, store, raw, mail_from, ip)), store


def test_aligned_mail_continues_with_authentication_results(tmp_path: Path) -> None:
    """Mail from the bank's network gets A-R and verdict headers and is passed on."""
    replies, _ = run(message("info@bank.example"), "info@bank.example", "192.0.2.5", tmp_path)
    assert replies[-1] == (b"c", b"")
    added = [r[1] for r in replies if r[0] == b"h"]
    assert added[0].startswith(b"Authentication-Results\0 mx.test;\n\tspf=pass")
    assert b"dmarc=pass" in added[0]
    assert added[1] == b"X-CarrierGuard-Verdict\0 deliver\0"


def test_reject_policy_spoof_gets_550_5_7_1(tmp_path: Path) -> None:
    """A spoof of a p=reject domain is refused at SMTP time."""
    replies, _ = run(message("ceo@bank.example"), "ceo@bank.example", "203.0.113.9", tmp_path)
    assert replies[-1][0] == b"y"
    assert replies[-1][1].startswith(b"550 5.7.1 ")


@pytest.mark.parametrize("kind", KINDS)
def test_quarantine_policy_spoof_is_stored_then_discarded(tmp_path: Path, kind: str) -> None:
    """A spoof of a p=quarantine domain lands in the store (directory or database) before the
    MTA forgets it."""
    with open_store(kind, tmp_path) as store:
        replies = asyncio.run(
            exchange(
                standard_stages(resolver(), SETTINGS),
                store,
                message("info@shop.example"),
                "info@shop.example",
                "203.0.113.9",
            )
        )
        checks(replies, store)


def test_a_quarantine_database_that_cannot_take_the_copy_means_tempfail(tmp_path: Path) -> None:
    """When the copy cannot be stored the MTA is told to retry: the message is not lost."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")  # no tables
    store = DbQuarantine(engine, bytes(32))
    replies = asyncio.run(
        exchange(
            standard_stages(resolver(), SETTINGS),
            store,
            message("info@shop.example"),
            "info@shop.example",
            "203.0.113.9",
        )
    )
    assert replies[-1] == (b"t", b"")


def checks(replies: list[tuple[bytes, bytes]], store: Quarantine) -> None:
    assert replies[-1] == (b"d", b"")
    (entry,) = store.list()
    assert (entry.header_from, entry.reasons, entry.queue_id) == (
        "shop.example",
        ("DMARC_FAIL",),
        "4ABCDEF",
    )
    assert b"X-CarrierGuard-Verdict: quarantine" in store.get(entry.id)


def test_internal_error_answers_tempfail(tmp_path: Path) -> None:
    """A crashing stage makes the milter answer tempfail, so the client retries."""

    def broken(message: Message, context: CheckContext) -> CheckContext:
        raise RuntimeError("boom")

    replies, _ = run(message("a@bank.example"), "a@bank.example", "192.0.2.5", tmp_path, [broken])
    assert replies[-1] == (b"t", b"")


def test_forged_authentication_results_with_our_name_are_deleted(tmp_path: Path) -> None:
    """Incoming A-R with our authserv-id (RFC 8601 section 5) and X-CarrierGuard-* go."""
    raw = message(
        "info@bank.example",
        "hi\r\n",
        "Authentication-Results: other.example; dmarc=pass",
        "Authentication-Results: mx.test; dmarc=pass header.from=bank.example",
        "X-CarrierGuard-Verdict: deliver",
    )
    replies, _ = run(raw, "info@bank.example", "192.0.2.5", tmp_path)
    assert (b"m", b"\0\0\0\x02Authentication-Results\0\0") in replies
    assert (b"m", b"\0\0\0\x01X-CarrierGuard-Verdict\0\0") in replies


def test_listen_address_accepts_postfix_notation() -> None:
    """inet:HOST:PORT and [v6]:PORT both parse."""
    assert parse_listen("inet:127.0.0.1:8891") == ("127.0.0.1", 8891)
    assert parse_listen("inet:[::1]:10025") == ("::1", 10025)
