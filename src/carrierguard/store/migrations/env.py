"""Alembic environment: runs on the connection that ``store.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from carrierguard.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` call
    raise RuntimeError("run migrations through `carrierguard db upgrade`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
