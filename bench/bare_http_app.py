"""The bare screening transaction behind the same HTTP stack (uvicorn + FastAPI + Pydantic).

A peer for ``bench/screening.py``: what the web framework and the database cost together
with none of CarrierGuard's work (no identity keys, policy, decision, audit or sealing).
Run by the bench as ``uvicorn bare_http_app:create --factory``; the database URL comes
from ``CG_BARE_DB``. Each worker keeps a small pool of psycopg connections.
"""

from __future__ import annotations

import base64
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import psycopg
from fastapi import FastAPI
from pydantic import BaseModel

COUNTED = ("active", "suspended", "number_kept", "reserved")  # line states the cap counts


class BareIn(BaseModel):
    identity_key: str
    kind: str
    pii: str  # base64
    sim_type: str


class BareOut(BaseModel):
    decision: str
    holder_id: int
    lines_before: int


def bare_transaction(
    conn: psycopg.Connection[tuple[object, ...]],
    identity_key: str,
    kind: str,
    pii: bytes,
    sim_type: str,
) -> tuple[int, int]:
    """The bare work of a screening, in one transaction: lock the holder (creating it if
    new), count its lines, insert one. Returns (holder id, lines counted before)."""
    now = datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT id FROM holders WHERE identity_key = %s FOR UPDATE", (identity_key,))
        row = cur.fetchone()
        if row is None:
            cur.execute(
                "INSERT INTO holders (identity_key, kind, pii, risk_flags, created_at)"
                " VALUES (%s, %s, %s, '[]', %s) RETURNING id",
                (identity_key, kind, pii, now),
            )
            row = cur.fetchone()
        assert row is not None
        cur.execute(
            "SELECT count(*) FROM lines WHERE holder_id = %s AND state = ANY(%s)",
            (row[0], list(COUNTED)),
        )
        counted = cur.fetchone()
        assert counted is not None
        cur.execute(
            "INSERT INTO lines (holder_id, sim_type, state, opened_on, created_at,"
            " updated_at) VALUES (%s, %s, 'active', %s, %s, %s)",
            (row[0], sim_type, date.today(), now, now),
        )
    return int(str(row[0])), int(str(counted[0]))


def create() -> FastAPI:
    url = os.environ["CG_BARE_DB"]
    idle: queue.LifoQueue[psycopg.Connection[tuple[object, ...]]] = queue.LifoQueue()

    @contextmanager
    def connection() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        try:
            conn = idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(url)
        try:
            yield conn
        finally:
            idle.put(conn)

    app = FastAPI()

    @app.post("/bare", status_code=201, response_model=BareOut)
    def bare(body: BareIn) -> BareOut:
        with connection() as conn:
            holder_id, counted = bare_transaction(
                conn, body.identity_key, body.kind, base64.b64decode(body.pii), body.sim_type
            )
        return BareOut(decision="bare", holder_id=holder_id, lines_before=counted)

    return app
