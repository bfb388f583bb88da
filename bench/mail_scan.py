"""Throughput and accuracy of ``mail scan`` beside rspamd and SpamAssassin, in one run.

Usage:
    .venv/bin/python bench/mail_scan.py [--data ../shared/data/mail] [--limit N] \
        [--nxdomain-dns 10053]
    .venv/bin/python bench/mail_scan.py --compare     # test split, ours vs rspamd vs SA

Throughput: every SpamAssassin corpus message is read into memory first, then the whole
scan path (parse, decode, evidence, model, verdict) is timed in this one process, so the
figure is messages per second on one core. Process start (imports, loading the model) is
timed separately and reported, not counted. rspamd (Debian package, offline DNS, greylisting
off, one normal worker) is timed on an evenly spaced sample of the same messages over its
HTTP API when it listens on 127.0.0.1:11333; its normal worker's CPU time is read from
/proc, so both sides are also given per CPU second, and ours on the same sample.

An rspamd for this bench (as root; its DNS goes to the NXDOMAIN resolver of
``--nxdomain-dns 10053``)::

    D=/tmp/cg-rspamd; mkdir -p $D/local.d $D/override.d $D/run $D/db $D/log
    printf 'dns { nameserver = ["127.0.0.1:10053"]; timeout = 1s; retransmits = 1; }\n' \
        > $D/local.d/options.inc
    printf 'count = 1;\nbind_socket = "127.0.0.1:11333";\n' > $D/override.d/worker-normal.inc
    echo 'enabled = false;' > $D/local.d/greylist.conf
    printf 'type = "file";\nfilename = "%s/log/rspamd.log";\nlevel = "error";\n' $D \
        > $D/override.d/logging.inc
    chown -R _rspamd:_rspamd $D
    rspamd -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf --var=LOCAL_CONFDIR=$D \
        --var=RUNDIR=$D/run --var=DBDIR=$D/db --var=LOGDIR=$D/log -p $D/run/rspamd.pid

``--compare`` scores the real test split (the same messages ``mail eval`` uses) with us at
each strength, rspamd (blocked = any action but "no action") and SpamAssassin through
``spamc`` to a local ``spamd -L`` (blocked = score >= its required score).
"""

from __future__ import annotations

import time

_STARTED = (time.perf_counter(), time.process_time())

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

from carrierguard.mail.content import model as model_io  # noqa: E402
from carrierguard.mail.content import train  # noqa: E402
from carrierguard.mail.content.brands import default_catalogue  # noqa: E402
from carrierguard.mail.content.scan import scan_bytes  # noqa: E402

_IMPORTS = (time.perf_counter() - _STARTED[0], time.process_time() - _STARTED[1])

RSPAMD = "http://127.0.0.1:11333"


def _corpus(data: Path, limit: int | None) -> list[tuple[str, bytes]]:
    files = sorted(p for p in (data / "spamassassin").glob("*/*") if p.is_file())
    if limit:
        files = files[:limit]
    return [(str(p), p.read_bytes()) for p in files]


@dataclass(frozen=True)
class Ours:
    """Our scan path over the corpus: rates, per-message CPU seconds and verdict counts."""

    per_cpu: float  # messages per CPU second (one core)
    wall: float  # messages per wall-clock second
    cpu: list[float]  # CPU seconds of each message, in corpus order
    counts: dict[str, int]
    startup_wall: float  # imports and model load, excluded from the rates
    startup_cpu: float


def ours(messages: list[tuple[str, bytes]], strength: str) -> Ours:
    """Time our scan path message by message (the first message once more as warm-up).

    Per CPU second is the per-core figure even when other jobs share the machine.
    """
    load = (time.perf_counter(), time.process_time())
    model = model_io.load()
    catalogue = default_catalogue()
    startup_wall = _IMPORTS[0] + time.perf_counter() - load[0]
    startup_cpu = _IMPORTS[1] + time.process_time() - load[1]
    counts: dict[str, int] = defaultdict(int)
    scan_bytes("warm-up", messages[0][1], model, strength, catalogue)  # loads the suffix list
    cpu: list[float] = []
    clock = time.process_time
    wall = time.perf_counter()
    before = clock()
    for path, raw in messages:
        counts[scan_bytes(path, raw, model, strength, catalogue).verdict or "error"] += 1
        after = clock()
        cpu.append(after - before)
        before = after
    wall = time.perf_counter() - wall
    n = len(messages)
    return Ours(n / sum(cpu), n / wall, cpu, dict(counts), startup_wall, startup_cpu)


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


def rspamd_worker_cpu() -> float | None:
    """CPU seconds used so far by rspamd's normal worker processes (None when not found)."""
    total, found = 0.0, False
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if not (proc / "cmdline").read_bytes().startswith(b"rspamd: normal process"):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime
        found = True
    return total if found else None


def rspamd_rate(client: httpx.Client, messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    """(messages per wall second, per worker CPU second or 0) through rspamd's HTTP API."""
    cpu = rspamd_worker_cpu()
    started = time.perf_counter()
    for _, raw in messages:
        rspamd_blocks(client, raw)
    wall = len(messages) / (time.perf_counter() - started)
    after = rspamd_worker_cpu()
    used = after - cpu if cpu is not None and after is not None else 0.0
    return wall, (len(messages) / used if used > 0 else 0.0)


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
    us = ours(messages, args.strength)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"messages: {len(messages)} (SpamAssassin public corpus)  load average {load}")
    print(
        f"carrierguard mail scan: {us.per_cpu:.0f} msg/s per CPU second (one core), "
        f"{us.wall:.0f} msg/s wall clock  verdicts: {us.counts}"
    )
    print(
        f"  process start (imports, model load; not counted above): "
        f"{us.startup_wall:.2f} s wall, {us.startup_cpu:.2f} s CPU"
    )
    client = _rspamd_client()
    if client is None:
        print("rspamd: not listening on 127.0.0.1:11333 - skipped")
        return
    step = max(1, len(messages) // max(1, args.peer_limit))
    picked = list(range(0, len(messages), step))[: args.peer_limit]
    sample = [messages[i] for i in picked]
    peer_wall, peer_cpu = rspamd_rate(client, sample)
    ours_cpu = len(picked) / sum(us.cpu[i] for i in picked)
    print(
        f"rspamd 3.4 (one normal worker, HTTP, every {step}th message, {len(sample)}): "
        f"{peer_wall:.0f} msg/s wall clock, "
        + (f"{peer_cpu:.0f} msg/s per worker CPU second" if peer_cpu else "worker CPU unknown")
    )
    print(
        f"  same {len(sample)} messages, ours: {ours_cpu:.0f} msg/s per CPU second"
        + (f"  ours/rspamd per CPU second {ours_cpu / peer_cpu:.2f}" if peer_cpu else "")
        + f"  ours(wall)/rspamd(wall) {us.wall / peer_wall:.2f}"
    )


if __name__ == "__main__":
    main()
