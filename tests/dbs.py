"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database on 127.0.0.1:5432.

PostgreSQL tests ``need`` the server: locally they skip when it is down, in CI they fail.
Override the server with ``CARRIERGUARD_TEST_PG`` (a URL to an admin database).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.conftest import need

PG_ADMIN = os.environ.get("CARRIERGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A URL to a new, empty PostgreSQL database that is dropped afterwards."""
    need(pg_available(), f"PostgreSQL is not reachable at {PG_ADMIN}")
    name = f"cg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """A URL to a new empty database of ``kind`` ('sqlite' or 'postgres')."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'registry.db'}"
    else:
        with fresh_postgres() as url:
            yield url
