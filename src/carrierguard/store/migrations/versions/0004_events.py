"""Line events for resale signals.

Revision ID: 0004_events
Revises: 0003_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_events"
down_revision = "0003_policy"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "line_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("holder_id", ID, sa.ForeignKey("holders.id"), nullable=False),
        sa.Column("line_id", ID, sa.ForeignKey("lines.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(16)),
        sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("messages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("holder_contacts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_line_events_holder_id_at", "line_events", ["holder_id", "at"])


def downgrade() -> None:
    op.drop_table("line_events")
