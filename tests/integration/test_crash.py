"""SIGKILL of the server during a stream of applications loses nothing acknowledged.

Several clients stream applications (each with its own Idempotency-Key) to a real
server; the server's process group is killed with SIGKILL mid-stream and restarted.
Every application answered 201 must come back unchanged, and each holder's lines
must be exactly the lines of its acknowledged decisions (approve -> active, review ->
reserved, refuse -> none). Requests that got no answer are then retried with their
key, as a client would: each is answered once, and the books still balance.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.live import HOLDER, LiveServer, application

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
CLIENTS = 6
HOLDERS = [
    HOLDER | {"name": f"{surname} 一郎", "birth_date": f"19{60 + i}-0{1 + i % 9}-1{i}"}
    for i, surname in enumerate(("高橋", "鈴木", "田中", "伊藤"))
]
SIMS = ("voice", "voice", "data_sms", "data")
ACKS_BEFORE_KILL = 30


@dataclass
class Sent:
    key: str
    body: dict[str, Any]
    answer: dict[str, Any] | None = None


def stream(client: httpx.Client, seed: int, stop: threading.Event, log: list[Sent]) -> None:
    """Send applications until ``stop`` is set or the server goes away."""
    rng = random.Random(seed)
    while not stop.is_set():
        holder = HOLDERS[rng.randrange(len(HOLDERS))]
        sent = Sent(uuid.uuid4().hex, application(holder, *rng.choices(SIMS, k=rng.randint(1, 2))))
        log.append(sent)
        try:
            r = client.post(
                "/v1/applications", json=sent.body, headers={"Idempotency-Key": sent.key}
            )
        except httpx.TransportError:
            return
        if r.status_code != 201:
            return
        sent.answer = r.json()


def lines_by_decision(answers: list[dict[str, Any]]) -> Counter[str]:
    """How many lines each state should have, from the decisions alone."""
    expected: Counter[str] = Counter()
    for a in answers:
        want = {"approve": "active", "review": "reserved", "refuse": None}[a["decision"]]
        assert [ln["state"] for ln in a["lines"]] == [want] * len(a["lines"])
        assert (len(a["lines"]) == 0) == (want is None)
        if want is not None:
            expected[want] += len(a["lines"])
    return expected


def test_sigkill_mid_stream_keeps_every_acknowledged_application(
    db_url: str, tmp_path: Path
) -> None:
    """After SIGKILL and restart, acknowledged applications and their lines are all there."""
    live = LiveServer(db_url, tmp_path / "server", workers=1)
    token = live.create_key("clerk")
    live.start()
    log: list[list[Sent]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    with live.client(token, timeout=30.0) as client:
        threads = [
            threading.Thread(target=stream, args=(client, seed, stop, log[seed]))
            for seed in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 90
        while sum(s.answer is not None for c in log for s in c) < ACKS_BEFORE_KILL:
            assert time.monotonic() < deadline, live.log_text()
            time.sleep(0.01)
        live.kill()  # SIGKILL to the whole process group, mid-stream
        stop.set()
        for t in threads:
            t.join(timeout=60)
    sent = [s for c in log for s in c]
    acked = [s for s in sent if s.answer is not None]
    lost = [s for s in sent if s.answer is None]
    assert len(acked) >= ACKS_BEFORE_KILL and lost, "the kill must land mid-stream"

    live.start()
    try:
        with live.client(token) as client:
            for s in acked:
                again = client.get(f"/v1/applications/{s.answer['application_id']}")  # type: ignore[index]
                assert again.status_code == 200 and again.json() == s.answer
            holder_ids = {s.answer["holder_id"] for s in acked}  # type: ignore[index]
            before = {h: client.get(f"/v1/holders/{h}").json()["lines"] for h in holder_ids}
            for h, held in before.items():
                mine = [s.answer for s in acked if s.answer["holder_id"] == h]  # type: ignore[index]
                acked_ids = {ln["line_id"] for a in mine for ln in a["lines"]}
                extra = [ln for ln in held if ln["line_id"] not in acked_ids]
                assert acked_ids <= {ln["line_id"] for ln in held}
                # Only an application whose answer was cut off by the kill may add lines.
                assert len(extra) <= sum(len(s.body["lines"]) for s in lost)

            # A client retries what went unanswered, with the same key: one answer each.
            for s in lost:
                r = client.post("/v1/applications", json=s.body, headers={"Idempotency-Key": s.key})
                assert r.status_code == 201, r.text
                s.answer = r.json()
            answers = [s.answer for s in sent if s.answer is not None]
            assert len(answers) == len(sent)
            assert len({a["application_id"] for a in answers}) == len(sent)
            for h in {a["holder_id"] for a in answers}:
                held = client.get(f"/v1/holders/{h}").json()["lines"]
                mine = [a for a in answers if a["holder_id"] == h]
                assert Counter(ln["state"] for ln in held) == lines_by_decision(mine)
                assert sorted(ln["line_id"] for ln in held) == sorted(
                    ln["line_id"] for a in mine for ln in a["lines"]
                )
    finally:
        live.stop()
