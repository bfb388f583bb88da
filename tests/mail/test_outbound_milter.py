"""Two real ``milter-submission`` processes sharing Redis, driven over the milter protocol."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mail.integration.servers import free_port, wait_for_port
from tests.mail.milter.mta import connect, message_packets, optneg, read_reply, read_until_final
from tests.mail.test_outbound import redis_prefix  # noqa: F401 (fixture)

THRESHOLD = 50


@pytest.fixture
def milters(tmp_path: Path, redis_prefix: str) -> Iterator[tuple[list[int], str]]:  # noqa: F811
    prefix = redis_prefix
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carrierguard.cli.main",
                "mail",
                "milter-submission",
                "--listen",
                f"inet:127.0.0.1:{port}",
                "--redis",
                "redis://127.0.0.1:6379/0",
                "--redis-prefix",
                prefix,
                "--max-per-minute",
                "1000",
                "--max-new-recipients",
                str(THRESHOLD),
                "--quarantine-dir",
                str(tmp_path / f"q{n}"),
                "--hold-on-phishing",
                "off",
            ],
            stdout=subprocess.DEVNULL,
        )
        for n, port in enumerate(ports)
    ]
    try:
        for port in ports:
            wait_for_port(port)
        yield ports, prefix
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


async def _send(port: int, mail_from: str, rcpt: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(optneg())
    await read_reply(reader)
    raw = f"From: <{mail_from}>\r\nTo: <{rcpt}>\r\nSubject: hi\r\n\r\nhello\r\n".encode()
    packets = [connect("192.0.2.50"), *message_packets(raw, mail_from=mail_from, rcpt=rcpt)]
    for data in packets[:-1]:
        writer.write(data)
        if data[4:5] != b"D":
            await read_reply(reader)
    writer.write(packets[-1])
    replies = await read_until_final(reader)
    writer.close()
    return replies[-1][0]


async def _traffic(ports: list[int], taken: str, others: list[str]) -> list[tuple[str, bytes]]:
    async def one_milter(which: int) -> list[tuple[str, bytes]]:
        out = []
        for i in range(which, 500, 2):
            out.append((taken, await _send(ports[which], taken, f"victim{i}@example.test")))
            if i % 5 == 0:
                sender = others[(i // 5) % len(others)]
                out.append((sender, await _send(ports[which], sender, f"c{i}@example.test")))
        return out

    halves = await asyncio.gather(one_milter(0), one_milter(1))
    return [*halves[0], *halves[1]]


def test_takeover_is_held_across_two_milter_processes(milters: tuple[list[int], str]) -> None:
    """500 mails to new recipients in under a minute over two milters: the first 50 pass,
    the rest are quarantined (discarded from the queue), other accounts pass."""
    ports, _ = milters
    tag = uuid.uuid4().hex[:8]
    taken = f"taken-{tag}@carrier.test"
    others = [f"user{i}-{tag}@carrier.test" for i in range(5)]
    results = asyncio.run(_traffic(ports, taken, others))
    mine = [reply for sender, reply in results if sender == taken]
    assert len(mine) == 500
    assert mine.count(b"c") == THRESHOLD  # continue: delivered
    assert mine.count(b"d") == 500 - THRESHOLD  # discard after quarantine: held
    assert {reply for sender, reply in results if sender != taken} == {b"c"}
