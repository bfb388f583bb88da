"""Engines for the two registries: SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode and every write transaction starts with ``BEGIN IMMEDIATE``, so
two screenings of one holder are serialised by the database lock. PostgreSQL runs at
READ COMMITTED and screening locks the holder's row (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from carrierguard.errors import StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 60_000
READ_ONLY = {"sqlite_begin": "DEFERRED"}


def dialect_insert(bind: Engine | Connection, table: Table) -> Any:
    """``INSERT`` for ``bind``'s dialect, which knows ``ON CONFLICT`` (both engines do)."""
    return (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(table)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_store_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url`` with the pragmas and pool that screening relies on."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql":
        # No pre-ping: it costs a round trip per transaction. A connection the server
        # dropped fails one request with STORE_UNAVAILABLE (clients retry with their
        # Idempotency-Key); pool_recycle keeps connections younger than server timeouts.
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800
        )
    raise StoreUnavailable(
        f"unsupported database URL scheme {parsed.drivername!r}; use sqlite:/// or postgresql://",
        message_ja="対応していないデータベース URL です（sqlite:/// または postgresql:// を指定）。",
    )


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves, so that writers take the lock at the start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def alembic_config(engine_conn: Any) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("carrierguard.store").joinpath("migrations"))
    )
    cfg.attributes["connection"] = engine_conn
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "heads")
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot migrate the database: {exc.__class__.__name__}") from exc


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("holders")
