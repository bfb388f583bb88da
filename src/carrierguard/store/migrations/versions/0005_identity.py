"""Candidate keys for identity matching.

Revision ID: 0005_identity
Revises: 0004_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_identity"
down_revision = "0004_events"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "holder_blocks",
        sa.Column("block", sa.String(64), primary_key=True),
        sa.Column("holder_id", ID, sa.ForeignKey("holders.id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("holder_blocks")
