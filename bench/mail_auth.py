"""Mail authentication throughput and milter latency, with a peer measured in the same run.

1. ``check``: SPF + DKIM + ARC + DMARC (``authenticate``) on N DKIM-signed messages
   (RSA-2048), sequentially on one core, DNS answered from a warm cache. Peer:
   dkimpy's bare ``dkim.verify`` on the same messages (the cryptographic floor).
2. milter: end-of-message latency over TCP on 127.0.0.1 with the full pipeline,
   against the same server running a pipeline that only decides (no checks); the
   difference at p50/p99 is what our checks add to an SMTP transaction.

Run: ``.venv/bin/python bench/mail_auth.py [--messages 10000] [--milter-messages 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

import dkim
import structlog

# The scripted MTA side of the milter protocol is shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.mail.milter.mta import message_packets, packet, z

from carrierguard.mail.auth.check import Envelope, authenticate
from carrierguard.mail.dns import CachingResolver, StaticRecord, StaticResolver, Txt
from carrierguard.mail.message import Message
from carrierguard.mail.milter.server import MilterServer
from carrierguard.mail.quarantine import QuarantineStore
from carrierguard.mail.settings import MailSettings
from carrierguard.mail.signing import KeyAlgorithm, generate_key
from carrierguard.mail.verdict import Stage, decide, standard_stages

DOMAIN = "bench.example"
IP = "192.0.2.10"
UNIQUE = 200


def setup() -> tuple[list[bytes], CachingResolver, bytes]:
    key = generate_key(KeyAlgorithm.RSA)
    record = key.dns_record.encode()
    static = StaticResolver.of(
        [
            StaticRecord(f"sel._domainkey.{DOMAIN}", "TXT", Txt((record[:250], record[250:]))),
            StaticRecord(DOMAIN, "TXT", Txt((b"v=spf1 ip4:192.0.2.0/24 -all",))),
            StaticRecord(f"_dmarc.{DOMAIN}", "TXT", Txt((b"v=DMARC1; p=reject",))),
        ]
    )
    messages = []
    for i in range(UNIQUE):
        body = f"Message {i}.\r\n" + "Lorem ipsum dolor sit amet. " * 40 + "\r\n"
        raw = (
            f"From: News <news@{DOMAIN}>\r\nTo: user@example.net\r\n"
            f"Subject: Bench {i}\r\nMessage-ID: <{i}@{DOMAIN}>\r\n\r\n{body}"
        ).encode()
        sig = dkim.sign(
            raw, b"sel", DOMAIN.encode(), key.private, include_headers=[b"from", b"to", b"subject"]
        )
        messages.append(bytes(sig) + raw)
    resolver = CachingResolver(static)
    return messages, resolver, record


def bench_check(messages: list[bytes], resolver: CachingResolver, record: bytes, n: int) -> None:
    envelope = Envelope(ip=IP, helo=f"mx.{DOMAIN}", mail_from=f"bounce@{DOMAIN}")
    authenticate(Message.parse(messages[0]), envelope, resolver, authserv_id="bench")  # warm
    start = time.perf_counter()
    for i in range(n):
        report = authenticate(
            Message.parse(messages[i % UNIQUE]), envelope, resolver, authserv_id="bench"
        )
        assert report.dmarc.result == "pass"
    ours = time.perf_counter() - start

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return record

    start = time.perf_counter()
    for i in range(n):
        assert dkim.verify(messages[i % UNIQUE], dnsfunc=dnsfunc)
    peer = time.perf_counter() - start
    print(f"check: {n} DKIM-signed messages (RSA-2048), one core, warm DNS cache")
    print(f"  carrierguard authenticate : {n / ours:8.0f} msg/s  ({ours * 1e3 / n:.2f} ms/msg)")
    print(f"  peer dkimpy dkim.verify   : {n / peer:8.0f} msg/s  ({peer * 1e3 / n:.2f} ms/msg)")
    print(f"  ratio ours/peer throughput: {peer / ours:.2f}")
    print(f"  DNS cache hits/misses     : {resolver.hits}/{resolver.misses}")


async def read_reply(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    return await reader.readexactly(length)


async def eom_latencies(stages: Sequence[Stage], messages: list[bytes], n: int) -> list[float]:
    with TemporaryDirectory() as tmp:
        settings = MailSettings(authserv_id="bench")
        server = MilterServer(settings, stages, QuarantineStore(Path(tmp)))
        listener = await server.start("127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(packet(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF)))
        await read_reply(reader)
        connect = z("client") + b"4" + struct.pack("!H", 25) + z(IP)
        writer.write(packet(b"C", connect))
        await read_reply(reader)
        latencies = []
        for i in range(n):
            *envelope_and_content, end = message_packets(
                messages[i % UNIQUE], mail_from=f"bounce@{DOMAIN}"
            )
            for data in envelope_and_content:
                writer.write(data)
                if data[4:5] != b"D":
                    await read_reply(reader)
            start = time.perf_counter()
            writer.write(end)
            while (await read_reply(reader))[:1] not in (b"c", b"a", b"y", b"t", b"d", b"r"):
                pass
            latencies.append(time.perf_counter() - start)
        writer.write(packet(b"Q"))
        await reader.read()  # the server closes after QUIT
        writer.close()
        listener.close()
        await listener.wait_closed()
    return latencies


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1e3


def bench_milter(messages: list[bytes], resolver: CachingResolver, n: int) -> None:
    settings = MailSettings(authserv_id="bench")
    full = asyncio.run(eom_latencies(standard_stages(resolver, settings), messages, n))
    bare = asyncio.run(eom_latencies([decide], messages, n))
    from carrierguard.mail.content import model as model_io
    from carrierguard.mail.content.stage import content_stage
    from carrierguard.mail.recipients import FixedStrengths

    with_content = standard_stages(resolver, settings)
    with_content.insert(-1, content_stage(model_io.load(), FixedStrengths()))
    classified = asyncio.run(eom_latencies(with_content, messages, n))
    print(f"milter: {n} messages over one connection on 127.0.0.1, end-of-message latency")
    print(f"  full pipeline : p50 {p(full, 50):6.2f} ms  p99 {p(full, 99):6.2f} ms")
    print(
        f"  + classifier  : p50 {p(classified, 50):6.2f} ms  p99 {p(classified, 99):6.2f} ms"
        f"  (added to the peer: p99 {p(classified, 99) - p(bare, 99):6.2f} ms)"
    )
    print(f"  peer (decide) : p50 {p(bare, 50):6.2f} ms  p99 {p(bare, 99):6.2f} ms")
    print(
        f"  added by checks: p50 {p(full, 50) - p(bare, 50):6.2f} ms  "
        f"p99 {p(full, 99) - p(bare, 99):6.2f} ms"
    )


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--milter-messages", type=int, default=2_000)
    args = parser.parse_args()
    messages, resolver, record = setup()
    bench_check(messages, resolver, record, args.messages)
    bench_milter(messages, resolver, args.milter_messages)


if __name__ == "__main__":
    main()
