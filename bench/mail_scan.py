"""Throughput of ``mail scan`` on the SpamAssassin public corpus, beside rspamd when present.

Usage: ``.venv/bin/python bench/mail_scan.py [--data ../shared/data/mail] [--limit N]``

Reads every message into memory first, then times the whole scan path (parse, decode,
evidence, model, verdict) in this one process, so the figure is messages per second on
one core. If ``rspamc`` talks to a running rspamd, the same messages go through it in
the same run and its rate is printed beside ours (rspamd is multi-process: its figure is
for the whole daemon, not one core).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from carrierguard.mail.content import model as model_io
from carrierguard.mail.content.brands import default_catalogue
from carrierguard.mail.content.scan import scan_bytes


def _messages(data: Path, limit: int | None) -> list[tuple[str, bytes]]:
    files = sorted(p for p in (data / "spamassassin").glob("*/*") if p.is_file())
    files = [p for p in files if p.suffix not in (".md", ".csv") and "LICENSE" not in p.name]
    if limit:
        files = files[:limit]
    return [(str(p), p.read_bytes()) for p in files]


def ours(messages: list[tuple[str, bytes]], strength: str) -> tuple[float, dict[str, int]]:
    """Messages per second of our scan path, and the verdict counts."""
    model = model_io.load()
    catalogue = default_catalogue()
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for path, raw in messages:
        verdict = scan_bytes(path, raw, model, strength, catalogue).verdict or "error"
        counts[verdict] = counts.get(verdict, 0) + 1
    return len(messages) / (time.perf_counter() - started), counts


def rspamd(messages: list[tuple[str, bytes]]) -> float | None:
    """Messages per second through ``rspamc`` (None when rspamd is not running)."""
    rspamc = shutil.which("rspamc")
    if rspamc is None:
        return None
    if subprocess.run([rspamc, "stat"], capture_output=True, timeout=10).returncode != 0:
        return None
    started = time.perf_counter()
    for _, raw in messages:
        subprocess.run([rspamc, "--json"], input=raw, capture_output=True, timeout=60)
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    """Print our throughput and, when available, rspamd's."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mail"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--strength", default="standard")
    args = parser.parse_args()
    messages = _messages(args.data, args.limit)
    if not messages:
        raise SystemExit(f"no SpamAssassin messages under {args.data}")
    rate, counts = ours(messages, args.strength)
    print(f"messages: {len(messages)} (SpamAssassin public corpus)")
    print(f"carrierguard mail scan: {rate:.0f} msg/s on one core  verdicts: {counts}")
    peer = rspamd(messages)
    if peer is None:
        print("rspamd: not running (apt install rspamd; offline DNS) - skipped")
    else:
        print(f"rspamd (rspamc, one message per call): {peer:.0f} msg/s  ratio {rate / peer:.2f}")


if __name__ == "__main__":
    main()
