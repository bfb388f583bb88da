"""Throughput and accuracy of ``mail scan`` beside rspamd and SpamAssassin, in one run.

Usage:
    .venv/bin/python bench/mail_scan.py [--data ../shared/data/mail] [--limit N]
    .venv/bin/python bench/mail_scan.py --compare     # test split, ours vs rspamd vs SA

Throughput: every SpamAssassin corpus message is read into memory first, then the whole
scan path (parse, decode, evidence, model, verdict) is timed in this one process, so the
figure is messages per second on one core. rspamd (Debian package, offline DNS, greylisting
off, one normal worker) is timed on the same messages over its HTTP API when it listens on
127.0.0.1:11333.

``--compare`` scores the real test split (the same messages ``mail eval`` uses) with us at
each strength, rspamd (blocked = any action but "no action") and SpamAssassin through
``spamc`` to a local ``spamd -L`` (blocked = score >= its required score).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx

from carrierguard.mail.content import model as model_io
from carrierguard.mail.content import train
from carrierguard.mail.content.brands import default_catalogue
from carrierguard.mail.content.scan import scan_bytes

RSPAMD = "http://127.0.0.1:11333"


def _corpus(data: Path, limit: int | None) -> list[tuple[str, bytes]]:
    files = sorted(p for p in (data / "spamassassin").glob("*/*") if p.is_file())
    if limit:
        files = files[:limit]
    return [(str(p), p.read_bytes()) for p in files]


def ours(messages: list[tuple[str, bytes]], strength: str) -> tuple[float, float, dict[str, int]]:
    """(msg/s per CPU second, msg/s wall clock, verdict counts) of our scan path.

    Per CPU second is the per-core figure even when other jobs share the machine.
    """
    model = model_io.load()
    catalogue = default_catalogue()
    counts: dict[str, int] = defaultdict(int)
    scan_bytes("warm-up", messages[0][1], model, strength, catalogue)  # loads the suffix list
    wall, cpu = time.perf_counter(), time.process_time()
    for path, raw in messages:
        counts[scan_bytes(path, raw, model, strength, catalogue).verdict or "error"] += 1
    n = len(messages)
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall), dict(counts)


def nxdomain_dns(port: int) -> None:
    """Answer every DNS query NXDOMAIN on 127.0.0.1:``port`` (offline DNS for the peers)."""
    import socket
    import threading

    import dns.flags
    import dns.message
    import dns.rcode

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))

    def serve() -> None:
        while True:
            data, addr = sock.recvfrom(4096)
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), addr)

    threading.Thread(target=serve, daemon=True).start()


def _rspamd_client() -> httpx.Client | None:
    client = httpx.Client(base_url=RSPAMD, timeout=30)
    try:
        client.get("/ping")
    except httpx.HTTPError:
        return None
    return client


def rspamd_blocks(client: httpx.Client, raw: bytes) -> bool:
    """True when rspamd would act on the message (add header, rewrite subject, reject)."""
    action = client.post("/checkv2", content=raw).json().get("action", "no action")
    return action not in ("no action", "greylist")


def rspamd_rate(client: httpx.Client, messages: list[tuple[str, bytes]]) -> float:
    """Messages per second through rspamd's HTTP API, one request at a time."""
    started = time.perf_counter()
    for _, raw in messages:
        rspamd_blocks(client, raw)
    return len(messages) / (time.perf_counter() - started)


def spamassassin_blocks(raw: bytes) -> bool | None:
    """True when spamd scores the message as spam; None when spamc/spamd is unavailable."""
    spamc = shutil.which("spamc")
    if spamc is None:
        return None
    done = subprocess.run([spamc, "-c", "-x"], input=raw, capture_output=True, timeout=120)
    out = done.stdout.decode().strip()
    if "/" not in out:
        return None
    score, required = (float(x) for x in out.split("/", 1))
    return score >= required


def compare(data: Path) -> None:
    """Recall / false-block table on the real test split: us, rspamd, SpamAssassin."""
    model = model_io.load()
    catalogue = default_catalogue()
    examples, _ = train.prepare(data)
    test = [e for e in examples if e.split == "test" and not e.corpus.startswith("synthetic")]
    client = _rspamd_client()
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in test:
        raw = Path(e.source).read_bytes()
        row = table[(e.corpus, e.label)]
        row["n"] += 1
        for strength in model_io.STRENGTHS:
            verdict = scan_bytes(e.source, raw, model, strength, catalogue).verdict
            row[strength] += verdict in ("quarantine", "reject")
        if client is not None:
            row["rspamd"] += rspamd_blocks(client, raw)
        sa = spamassassin_blocks(raw)
        if sa is not None:
            row["spamassassin"] += sa
            row["sa_n"] += 1
    cols = (*model_io.STRENGTHS, "rspamd", "spamassassin")
    print("| corpus | label | n | measure | ours " + " | ours ".join(model_io.STRENGTHS)
          + " | rspamd | SpamAssassin |")  # fmt: skip
    print("|---" * (4 + len(cols)) + "|")
    for (corpus, label), row in sorted(table.items()):
        n = row["n"]
        measure = "false-block rate" if label == "ham" else "recall"
        cells = []
        for c in cols:
            k = row[c]
            cells.append(f"{k / n:.4f} ({k}/{n})" if (c != "spamassassin" or row["sa_n"]) else "-")
        print(f"| {corpus} | {label} | {n} | {measure} | " + " | ".join(cells) + " |")


def main() -> None:
    """Print throughput (ours and rspamd's) or, with --compare, the accuracy table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mail"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--strength", default="standard")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--peer-limit", type=int, default=1000)
    parser.add_argument(
        "--nxdomain-dns", type=int, default=None, help="serve NXDOMAIN on this UDP port"
    )
    args = parser.parse_args()
    if args.nxdomain_dns:
        nxdomain_dns(args.nxdomain_dns)
    if args.compare:
        compare(args.data)
        return
    messages = _corpus(args.data, args.limit)
    if not messages:
        raise SystemExit(f"no SpamAssassin messages under {args.data}")
    rate, wall, counts = ours(messages, args.strength)
    print(f"messages: {len(messages)} (SpamAssassin public corpus)")
    print(
        f"carrierguard mail scan: {rate:.0f} msg/s per CPU second (one core), "
        f"{wall:.0f} msg/s wall clock  verdicts: {counts}"
    )
    client = _rspamd_client()
    if client is None:
        print("rspamd: not listening on 127.0.0.1:11333 - skipped")
    else:
        sample = messages[: args.peer_limit]
        peer = rspamd_rate(client, sample)
        print(
            f"rspamd 3.4 (one normal worker, HTTP, first {len(sample)} messages): "
            f"{peer:.0f} msg/s wall clock  ours(wall)/rspamd {wall / peer:.2f}"
        )


if __name__ == "__main__":
    main()
